//! Elasticsearch (or OpenSearch, or another Acta) destinations: a batch is one `POST <url>/_bulk` whose actions
//! `create` each event, as received, in the route's index under the id `<instance>-<seq>`. The id is stable, so a
//! batch sent again (after a timeout whose request did arrive) creates nothing twice: a `409` for an event
//! counts as delivered. Any other error of an item sends the batch again later.

use base64::Engine;
use serde_json::{Map, Value, json};

use super::destination::{
    ForwardSettings, Invalid, Outgoing, SendError, only_members, post_ndjson, required_text, text,
};

const MEMBERS: [&str; 5] = ["url", "index", "username", "password", "api_key"];

pub(crate) fn validate(object: &Map<String, Value>) -> Result<Value, Invalid> {
    only_members(object, &MEMBERS)?;
    let url = required_text(object, "url")?;
    let parsed = reqwest::Url::parse(url).map_err(|error| Invalid(format!("destination.url {url:?}: {error}")))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() {
        return Err(Invalid(format!("destination.url {url:?} is not an http or https URL with a host")));
    }
    let index = text(object, "index")?.unwrap_or("acta-events");
    // Elasticsearch's rules for index names.
    let index_ok = !index.is_empty()
        && index.len() <= 255
        && !index.starts_with(['-', '_', '+'])
        && index != "."
        && index != ".."
        && index.chars().all(|c| !c.is_ascii_uppercase() && !"\\/*?\"<>| ,#:".contains(c));
    if !index_ok {
        return Err(Invalid(format!(
            "destination.index {index:?} is not a valid index name (lower case, no \\/*?\"<>| ,#:)"
        )));
    }
    let user = text(object, "username")?;
    let password = text(object, "password")?;
    if user.is_some() != password.is_some() {
        return Err(Invalid("destination.username and destination.password go together".to_string()));
    }
    if user.is_some() && text(object, "api_key")?.is_some() {
        return Err(Invalid("give destination.api_key or a username and password, not both".to_string()));
    }
    let mut valid = object.clone();
    valid.insert("index".to_string(), Value::from(index));
    Ok(Value::Object(valid))
}

pub(crate) struct Sender {
    url: String,
    index: String,
    authorization: Option<String>,
    allow: Vec<ipnet::IpNet>,
    timeout: std::time::Duration,
}

impl Sender {
    pub(crate) fn new(object: &Map<String, Value>, settings: &ForwardSettings, allow: &[ipnet::IpNet]) -> Sender {
        let text = |name: &str| object.get(name).and_then(Value::as_str);
        let authorization = match (text("api_key"), text("username"), text("password")) {
            (Some(key), _, _) => Some(format!("ApiKey {key}")),
            (None, Some(user), Some(password)) => Some(format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
            )),
            _ => None,
        };
        Sender {
            url: format!("{}/_bulk", text("url").unwrap_or_default().trim_end_matches('/')),
            index: text("index").unwrap_or("acta-events").to_string(),
            authorization,
            allow: allow.to_vec(),
            timeout: settings.send_timeout,
        }
    }

    pub(crate) async fn send(&mut self, batch: &[Outgoing]) -> Result<(), SendError> {
        if batch.is_empty() {
            return Ok(());
        }
        let mut body = String::with_capacity(batch.iter().map(|event| event.event.len() + 120).sum());
        for event in batch {
            let action = json!({"create": {"_index": self.index, "_id": format!("{}-{}", event.instance, event.seq)}});
            body.push_str(&action.to_string());
            body.push('\n');
            body.push_str(&event.event);
            body.push('\n');
        }
        let headers = self.authorization.iter().map(|value| ("Authorization", value.clone())).collect();
        let text = post_ndjson(&self.url, &self.allow, self.timeout, headers, body).await?;
        let answer: Value = serde_json::from_str(&text)
            .map_err(|error| SendError(format!("{} answered with no bulk answer: {error}", self.url)))?;
        first_failure(&answer).map_or(Ok(()), |failure| Err(SendError(format!("{}: {failure}", self.url))))
    }
}

/// The first item of a bulk answer that did not store its event, other than one the destination already holds.
fn first_failure(answer: &Value) -> Option<String> {
    let items = answer["items"].as_array()?;
    items.iter().find_map(|item| {
        let result = item.as_object()?.values().next()?;
        let status = result["status"].as_u64().unwrap_or(0);
        if (200..300).contains(&status) || status == 409 {
            return None;
        }
        Some(format!("item {} answered {status}: {}", result["_id"].as_str().unwrap_or("?"), result["error"]))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_the_destination_already_holds_is_delivered() {
        let answer = json!({"errors": true, "items": [{"create": {"_id": "i-1", "status": 201}}, {"create": {"_id": "i-2", "status": 409}}]});
        assert_eq!(first_failure(&answer), None);
    }

    #[test]
    fn any_other_item_error_is_a_failure() {
        let answer = json!({"errors": true, "items": [{"create": {"_id": "i-3", "status": 429, "error": "busy"}}]});
        assert_eq!(first_failure(&answer), Some("item i-3 answered 429: \"busy\"".to_string()));
    }
}
