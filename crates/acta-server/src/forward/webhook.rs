//! Webhook destinations: a batch is one `POST` of NDJSON (one envelope per line, [`Outgoing::envelope`]), signed
//! as alert webhooks are: `X-Acta-Signature: sha256=<hex HMAC-SHA256(secret, body)>`. Any 2xx answer delivers
//! the batch; anything else, or no answer, sends it again later. The URL passes the SSRF rule at every send
//! (the host is resolved and checked, and the connection pinned to the checked addresses).

use serde_json::{Map, Value};

use super::destination::{
    ForwardSettings, Invalid, Outgoing, SendError, only_members, post_ndjson, required_text, text,
};

const MEMBERS: [&str; 2] = ["url", "secret"];

/// The shortest signing secret accepted: a short one is guessable.
const MIN_SECRET_CHARS: usize = 16;

pub(crate) fn validate(object: &Map<String, Value>) -> Result<Value, Invalid> {
    only_members(object, &MEMBERS)?;
    let url = required_text(object, "url")?;
    let parsed = reqwest::Url::parse(url).map_err(|error| Invalid(format!("destination.url {url:?}: {error}")))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() {
        return Err(Invalid(format!("destination.url {url:?} is not an http or https URL with a host")));
    }
    if let Some(secret) = text(object, "secret")?
        && secret.chars().count() < MIN_SECRET_CHARS
    {
        return Err(Invalid(format!("destination.secret must have at least {MIN_SECRET_CHARS} characters")));
    }
    Ok(Value::Object(object.clone()))
}

pub(crate) struct Sender {
    url: String,
    secret: Option<String>,
    allow: Vec<ipnet::IpNet>,
    timeout: std::time::Duration,
}

impl Sender {
    pub(crate) fn new(object: &Map<String, Value>, settings: &ForwardSettings, allow: &[ipnet::IpNet]) -> Sender {
        Sender {
            url: object.get("url").and_then(Value::as_str).unwrap_or_default().to_string(),
            secret: object.get("secret").and_then(Value::as_str).map(str::to_string),
            allow: allow.to_vec(),
            timeout: settings.send_timeout,
        }
    }

    pub(crate) async fn send(&mut self, batch: &[Outgoing]) -> Result<(), SendError> {
        if batch.is_empty() {
            return Ok(());
        }
        let mut body = String::with_capacity(batch.iter().map(|event| event.event.len() + 200).sum());
        for event in batch {
            body.push_str(&event.envelope());
            body.push('\n');
        }
        let mut headers = vec![("X-Acta-Events", batch.len().to_string())];
        if let Some(secret) = &self.secret {
            headers.push((
                "X-Acta-Signature",
                format!("sha256={}", crate::notify::channels::sign(secret, body.as_bytes())),
            ));
        }
        post_ndjson(&self.url, &self.allow, self.timeout, headers, body).await.map(|_| ())
    }
}
