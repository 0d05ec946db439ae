//! Sending one notification on one channel. The shapes of channels are checked by [`validate`] when an alert
//! is saved; sending trusts them only as far as it must (a hand-edited row fails as a delivery error).
//!
//! - `{"type":"email","to":["a@example.com"]}`: through the operator's SMTP relay.
//! - `{"type":"webhook","url":"https://...","method":"POST","headers":{...},"body":<template>,"secret":"..."}`:
//!   the body is the template filled (see `render::fill_template`), or every variable when absent; with a
//!   secret, `X-Acta-Signature: sha256=<hex HMAC-SHA256(secret, body)>` signs the exact bytes sent.
//! - `{"type":"slack","url":"https://hooks.slack.com/..."}`: `{"text": ...}`.
//! - `{"type":"pagerduty","routing_key":"...","severity":"error","url":"..."}`: Events API v2 `trigger`, to
//!   PagerDuty's endpoint unless `url` says otherwise.
//!
//! Every HTTP request goes through `ssrf::check` and carries `X-Acta-Delivery: <delivery id>`, the same on
//! every retry, so that a receiver can drop the duplicate a crash between sending and recording can cause.

use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use super::{AlertSettings, render, ssrf};

/// PagerDuty's Events API v2 endpoint.
pub(crate) const PAGERDUTY_URL: &str = "https://events.pagerduty.com/v2/enqueue";

/// Why an attempt failed, and whether trying again may help.
#[derive(Debug, Clone)]
pub(crate) struct SendError {
    pub(crate) detail: String,
    pub(crate) retryable: bool,
}

impl SendError {
    fn retry(detail: impl Into<String>) -> SendError {
        SendError { detail: detail.into(), retryable: true }
    }

    fn fatal(detail: impl Into<String>) -> SendError {
        SendError { detail: detail.into(), retryable: false }
    }
}

/// Checks a channel definition, returning it normalized (type lowercased, defaults filled).
pub(crate) fn validate(channel: &Value) -> Result<Value, String> {
    let Some(object) = channel.as_object() else {
        return Err("each channel must be an object with a type".to_string());
    };
    let kind = object.get("type").and_then(Value::as_str).unwrap_or("").to_ascii_lowercase();
    let url = |required: bool| -> Result<Option<String>, String> {
        match object.get("url") {
            Some(Value::String(text)) => {
                let parsed = url::Url::parse(text).map_err(|error| format!("{kind} url {text:?}: {error}"))?;
                if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
                    return Err(format!("{kind} url {text:?} must be http or https with a host"));
                }
                Ok(Some(text.clone()))
            }
            None | Some(Value::Null) if !required => Ok(None),
            _ => Err(format!("a {kind} channel needs a url")),
        }
    };
    match kind.as_str() {
        "email" => {
            let to: Vec<String> = match object.get("to") {
                Some(Value::String(one)) => vec![one.clone()],
                Some(Value::Array(many)) => many.iter().filter_map(Value::as_str).map(str::to_string).collect(),
                _ => Vec::new(),
            };
            if to.is_empty() {
                return Err("an email channel needs recipients: \"to\": [\"someone@example.com\"]".to_string());
            }
            for address in &to {
                address
                    .parse::<lettre::Address>()
                    .map_err(|error| format!("email recipient {address:?} is not an address: {error}"))?;
            }
            Ok(json!({"type": "email", "to": to}))
        }
        "webhook" => {
            let url = url(true)?;
            let method = object.get("method").and_then(Value::as_str).unwrap_or("POST").to_ascii_uppercase();
            if !matches!(method.as_str(), "POST" | "PUT" | "PATCH") {
                return Err(format!("webhook method {method:?} must be POST, PUT or PATCH"));
            }
            let headers = match object.get("headers") {
                None | Some(Value::Null) => json!({}),
                Some(Value::Object(headers)) => {
                    for (name, value) in headers {
                        let valid_name = reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_ok();
                        let valid_value =
                            value.as_str().is_some_and(|v| reqwest::header::HeaderValue::from_str(v).is_ok());
                        if !valid_name || !valid_value {
                            return Err(format!("webhook header {name:?} must be a valid name with a text value"));
                        }
                    }
                    Value::Object(headers.clone())
                }
                Some(_) => return Err("webhook headers must be an object of texts".to_string()),
            };
            let secret = match object.get("secret") {
                None | Some(Value::Null) => Value::Null,
                Some(Value::String(secret)) if !secret.is_empty() => json!(secret),
                Some(_) => return Err("a webhook secret must be a non-empty text".to_string()),
            };
            let body = object.get("body").cloned().unwrap_or(Value::Null);
            Ok(json!({"type": "webhook", "url": url, "method": method, "headers": headers, "body": body,
                      "secret": secret}))
        }
        "slack" => Ok(json!({"type": "slack", "url": url(true)?})),
        "pagerduty" => {
            let routing_key = object.get("routing_key").and_then(Value::as_str).unwrap_or("");
            if routing_key.is_empty() {
                return Err("a pagerduty channel needs a routing_key".to_string());
            }
            let severity = object.get("severity").and_then(Value::as_str).unwrap_or("error");
            if !matches!(severity, "critical" | "error" | "warning" | "info") {
                return Err(format!("pagerduty severity {severity:?} must be critical, error, warning or info"));
            }
            Ok(json!({"type": "pagerduty", "routing_key": routing_key, "severity": severity, "url": url(false)?}))
        }
        "" => Err("each channel needs a type: email, webhook, slack or pagerduty".to_string()),
        other => Err(format!("channel type {other:?} must be email, webhook, slack or pagerduty")),
    }
}

/// How long saving an alert waits for the DNS answer of a channel's host; without an answer by then the URL is
/// saved, and the send-time check decides.
const SAVE_RESOLVE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

/// Why a channel's URL is refused when its alert is saved: the index of the channel, the message, and the rule
/// (the kind of address).
#[derive(Debug)]
pub(crate) struct TargetRefusal {
    pub(crate) index: usize,
    pub(crate) message: String,
    pub(crate) rule: &'static str,
}

/// Applies the SSRF rule to the URLs of validated channels when an alert is saved, as archive endpoints are: a
/// URL whose host is, or resolves to, a loopback, private, link-local or otherwise internal address is refused
/// unless the operator's allowlist covers it. A host that does not resolve (now, or within
/// [`SAVE_RESOLVE_TIMEOUT`]) is saved: DNS may answer later, and the same rule is applied again at every send,
/// where a name that has come to resolve to an internal address is refused too.
pub(crate) async fn check_targets(channels: &Value, allow: &[ipnet::IpNet]) -> Result<(), TargetRefusal> {
    for (index, channel) in channels.as_array().into_iter().flatten().enumerate() {
        let Some(url) = channel.get("url").and_then(Value::as_str) else { continue };
        let kind = channel.get("type").and_then(Value::as_str).unwrap_or("channel");
        match tokio::time::timeout(SAVE_RESOLVE_TIMEOUT, ssrf::check(url, allow)).await {
            Ok(Err(ssrf::Refusal::Forbidden { host, address, kind: rule })) => {
                return Err(TargetRefusal {
                    index,
                    rule,
                    message: format!(
                        "channels[{index}]: {kind} url host {host} is {address}, a {rule} address; alerts reach \
                         such addresses only when the operator allows them (acta serve --webhook-allow, \
                         ACTA_WEBHOOK_ALLOW)"
                    ),
                });
            }
            Ok(Err(ssrf::Refusal::BadUrl(message))) => {
                return Err(TargetRefusal { index, rule: "url", message: format!("channels[{index}]: {message}") });
            }
            Ok(Err(ssrf::Refusal::Unresolved { .. })) | Ok(Ok(_)) | Err(_) => {}
        }
    }
    Ok(())
}

/// A channel as shown by the API: secrets are replaced by whether they are set.
pub(crate) fn redact(channel: &Value) -> Value {
    let mut shown = channel.clone();
    for pointer in secret_pointers(channel) {
        if let Some(value) = shown.pointer_mut(&pointer)
            && !value.is_null()
        {
            *value = json!(REDACTED);
        }
    }
    shown
}

/// What stands in for a secret in what the API shows.
pub(crate) const REDACTED: &str = "********";

/// The JSON pointers of a channel's members that are credentials: the webhook's signing secret and every header
/// value (they carry `Authorization`), PagerDuty's routing key, and a Slack incoming-webhook URL (the URL is the
/// credential). Readers may read alerts; they must not learn these.
pub(crate) fn secret_pointers(channel: &Value) -> Vec<String> {
    let mut pointers = vec!["/secret".to_string(), "/routing_key".to_string()];
    if channel["type"].as_str() == Some("slack") {
        pointers.push("/url".to_string());
    }
    if let Some(headers) = channel["headers"].as_object() {
        // JSON pointer escaping (RFC 6901) of the header name.
        pointers.extend(headers.keys().map(|name| format!("/headers/{}", name.replace('~', "~0").replace('/', "~1"))));
    }
    pointers
}

/// Sends the notification of `message` on `channel`. `Ok` carries the receiver's answer for the history.
pub(crate) async fn send(
    settings: &AlertSettings,
    channel: &Value,
    message: &Value,
    delivery_id: &str,
) -> Result<String, SendError> {
    match channel["type"].as_str().unwrap_or("") {
        "email" => send_email(settings, channel, message).await,
        "webhook" => {
            let body = match &channel["body"] {
                Value::Null => render::default_webhook_body(message),
                template => render::fill_template(template, message),
            };
            let bytes = body.to_string().into_bytes();
            let mut headers: Vec<(String, String)> = channel["headers"]
                .as_object()
                .map(|headers| {
                    headers.iter().filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string()))).collect()
                })
                .unwrap_or_default();
            if let Some(secret) = channel["secret"].as_str() {
                headers.push(("X-Acta-Signature".to_string(), format!("sha256={}", sign(secret, &bytes))));
            }
            let method = channel["method"].as_str().unwrap_or("POST");
            post(settings, method, channel["url"].as_str().unwrap_or(""), headers, bytes, delivery_id).await
        }
        "slack" => {
            let bytes = json!({"text": render::chat_text(message)}).to_string().into_bytes();
            post(settings, "POST", channel["url"].as_str().unwrap_or(""), Vec::new(), bytes, delivery_id).await
        }
        "pagerduty" => {
            let body = json!({
                "routing_key": channel["routing_key"],
                "event_action": "trigger",
                // One incident per firing, whichever of its retries arrives.
                "dedup_key": message["firing"],
                "payload": {
                    "summary": render::summary(message).chars().take(1024).collect::<String>(),
                    "severity": channel["severity"].as_str().unwrap_or("error"),
                    "source": "acta",
                    "custom_details": {
                        "view": message["view"]["name"], "query": message["view"]["query"],
                        "count": message["count"], "window": message["window"]["length"],
                        "window_start": message["window"]["start"].as_i64().map(acta_cadf::format_time),
                        "window_end": message["window"]["end"].as_i64().map(acta_cadf::format_time),
                        "late": render::is_late(message), "evaluated_at": message["evaluated_at"],
                        "late_windows": render::late_summary(message),
                    },
                },
            });
            let url = channel["url"].as_str().unwrap_or(PAGERDUTY_URL);
            post(settings, "POST", url, Vec::new(), body.to_string().into_bytes(), delivery_id).await
        }
        other => Err(SendError::fatal(format!("unknown channel type {other:?}"))),
    }
}

/// Hex HMAC-SHA256 of the body with the secret.
pub(crate) fn sign(secret: &str, body: &[u8]) -> String {
    // HMAC accepts keys of any length; the error arm cannot happen but is not worth a panic.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return String::new();
    };
    mac.update(body);
    mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

async fn post(
    settings: &AlertSettings,
    method: &str,
    url: &str,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    delivery_id: &str,
) -> Result<String, SendError> {
    let target = ssrf::check(url, &settings.webhook_allow).await.map_err(|refusal| match refusal {
        ssrf::Refusal::Unresolved { .. } => SendError::retry(refusal.to_string()),
        other => SendError::fatal(other.to_string()),
    })?;
    let client = ssrf::client(&target, settings.send_timeout).map_err(SendError::retry)?;
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap_or(reqwest::Method::POST);
    let mut request = client
        .request(method, target.url.clone())
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header("X-Acta-Delivery", delivery_id)
        .body(body);
    for (name, value) in headers {
        request = request.header(name, value);
    }
    let response = request.send().await.map_err(|error| SendError::retry(format!("{url}: {error}")))?;
    let status = response.status();
    let text: String = response.text().await.unwrap_or_default().chars().take(200).collect();
    if status.is_success() {
        return Ok(format!("HTTP {}", status.as_u16()));
    }
    let detail = format!("HTTP {} {}", status.as_u16(), text.trim());
    // The receiver's fault or overload may pass; a refusal of the request itself will not.
    if status.is_server_error() || status.as_u16() == 429 || status.as_u16() == 408 {
        Err(SendError::retry(detail))
    } else {
        Err(SendError::fatal(detail))
    }
}

async fn send_email(settings: &AlertSettings, channel: &Value, message: &Value) -> Result<String, SendError> {
    use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

    let Some(smtp_url) = &settings.smtp_url else {
        return Err(SendError::fatal("no SMTP relay is configured (--smtp-url or ACTA_SMTP_URL)"));
    };
    let (subject, body) = render::email(message);
    let from = settings
        .smtp_from
        .parse::<lettre::message::Mailbox>()
        .map_err(|error| SendError::fatal(format!("ACTA_SMTP_FROM {:?}: {error}", settings.smtp_from)))?;
    let mut builder = lettre::Message::builder().from(from).subject(subject);
    for to in channel["to"].as_array().map_or(&[][..], Vec::as_slice).iter().filter_map(Value::as_str) {
        let mailbox =
            to.parse::<lettre::message::Mailbox>().map_err(|error| SendError::fatal(format!("{to:?}: {error}")))?;
        builder = builder.to(mailbox);
    }
    let email = builder
        .header(lettre::message::header::ContentType::TEXT_PLAIN)
        .body(body)
        .map_err(|error| SendError::fatal(format!("building the email: {error}")))?;
    let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(smtp_url)
        .map_err(|error| SendError::fatal(format!("ACTA_SMTP_URL: {error}")))?
        .timeout(Some(settings.send_timeout))
        .build();
    let response = transport.send(email).await.map_err(|error| {
        // A permanent SMTP refusal (5xx) will not change on retry; anything else may.
        if error.is_permanent() {
            SendError::fatal(format!("SMTP: {error}"))
        } else {
            SendError::retry(format!("SMTP: {error}"))
        }
    })?;
    Ok(format!("SMTP {} {}", response.code(), response.message().collect::<Vec<_>>().join(" ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_hmac_sha256_of_the_body() {
        // RFC 4231 test case 2.
        assert_eq!(
            sign("Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn channels_are_validated_and_normalized() {
        assert!(validate(&json!({"type": "email", "to": ["ops@example.com"]})).is_ok());
        assert!(validate(&json!({"type": "email", "to": ["not an address"]})).is_err());
        assert!(validate(&json!({"type": "webhook", "url": "ftp://example.com"})).is_err());
        assert!(validate(&json!({"type": "webhook", "url": "https://example.com", "method": "GET"})).is_err());
        assert!(validate(&json!({"type": "pagerduty"})).is_err());
        assert!(validate(&json!({"type": "sms"})).is_err());
        let webhook = validate(&json!({"type": "WEBHOOK", "url": "https://example.com/h"})).unwrap_or_default();
        assert_eq!(webhook["method"], "POST");
    }

    #[test]
    fn secrets_are_not_shown() {
        let shown = redact(&json!({"type": "webhook", "url": "https://e.com", "secret": "s3cret"}));
        assert!(!shown.to_string().contains("s3cret"));
    }
}
