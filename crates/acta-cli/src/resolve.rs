//! Names or ids wherever the CLI names an object: `acta views show "User API key deletions"` and
//! `acta keys lock demo-key` mean what they say, as the 16-hex ids do.

use anyhow::anyhow;
use serde_json::Value;

use crate::client::Client;

/// The kinds of objects the CLI names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    View,
    Alert,
    Board,
    Route,
    Key,
    Instance,
    Account,
}

impl Kind {
    /// The list endpoint and the member of its answer that holds the list.
    fn list(self) -> (&'static str, &'static str) {
        match self {
            Kind::View => ("/v1/views", "views"),
            Kind::Alert => ("/v1/alerts", "alerts"),
            Kind::Board => ("/v1/boards", "boards"),
            Kind::Route => ("/v1/routes", "routes"),
            Kind::Key => ("/v1/keys", "keys"),
            Kind::Instance => ("/v1/instances", "instances"),
            Kind::Account => ("/v1/accounts", "accounts"),
        }
    }

    fn noun(self) -> &'static str {
        match self {
            Kind::View => "view",
            Kind::Alert => "alert",
            Kind::Board => "board",
            Kind::Route => "route",
            Kind::Key => "key",
            Kind::Instance => "instance",
            Kind::Account => "account",
        }
    }
}

/// Whether the text has the shape of the ids the server gives out (16 lowercase hex digits): those are taken as
/// ids without a look-up, so scripts that pass ids cost no extra request.
fn is_generated_id(text: &str) -> bool {
    text.len() == 16 && text.bytes().all(|byte| byte.is_ascii_digit() || (b'a'..=b'f').contains(&byte))
}

impl Client {
    /// The id of the object `given` names: a 16-hex id as it is, else the object whose id or name is exactly
    /// `given`. Several of that name is an error listing them with their ids; none is an error too.
    pub(crate) async fn resolve(&self, kind: Kind, given: &str) -> anyhow::Result<String> {
        if is_generated_id(given) {
            return Ok(given.to_string());
        }
        let (path, member) = kind.list();
        // A key that may not list (a reader listing keys, an account's key listing accounts) can still name by
        // id: the server then answers for the id itself.
        let Ok(answer) = self.json(self.get(path)).await else {
            return Ok(given.to_string());
        };
        pick(kind, given, answer[member].as_array().map_or(&[][..], Vec::as_slice))
    }

    /// [`Client::resolve`] of an optional name.
    pub(crate) async fn resolve_opt(&self, kind: Kind, given: Option<String>) -> anyhow::Result<Option<String>> {
        match given {
            Some(given) => Ok(Some(self.resolve(kind, &given).await?)),
            None => Ok(None),
        }
    }
}

/// The id among `objects` that `given` names.
fn pick(kind: Kind, given: &str, objects: &[Value]) -> anyhow::Result<String> {
    let id = |object: &Value| object["id"].as_str().unwrap_or_default().to_string();
    if objects.iter().any(|object| object["id"] == given) {
        return Ok(given.to_string());
    }
    let named: Vec<&Value> = objects.iter().filter(|object| object["name"] == given).collect();
    match named.as_slice() {
        [one] => Ok(id(one)),
        [] => {
            let noun = kind.noun();
            let mut names: Vec<String> =
                objects.iter().filter_map(|object| object["name"].as_str()).map(|name| format!("{name:?}")).collect();
            names.sort();
            names.dedup();
            let known = if names.is_empty() {
                format!("there is no {noun}")
            } else if names.len() <= 12 {
                format!("{noun}s: {}", names.join(", "))
            } else {
                format!("{} {noun}s; `acta {noun}s list` shows them", names.len())
            };
            Err(anyhow!("no {noun} has the name or id {given:?} ({known})"))
        }
        several => {
            let candidates: Vec<String> = several
                .iter()
                .map(|object| match object["category"].as_str() {
                    Some(category) => format!("{} (category {category})", id(object)),
                    None => id(object),
                })
                .collect();
            Err(anyhow!(
                "{} {}s are named {given:?}; give one of their ids: {}",
                several.len(),
                kind.noun(),
                candidates.join(", ")
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_name_resolves_to_its_objects_id() {
        let views = [json!({"id": "aaaa", "name": "User API key events"}), json!({"id": "bbbb", "name": "Deletions"})];
        assert_eq!(pick(Kind::View, "Deletions", &views).ok().as_deref(), Some("bbbb"));
        assert_eq!(pick(Kind::View, "aaaa", &views).ok().as_deref(), Some("aaaa"));
    }

    #[test]
    fn an_ambiguous_name_lists_the_candidates_with_their_ids() {
        let boards = [
            json!({"id": "one", "name": "API keys", "category": "IAM"}),
            json!({"id": "two", "name": "API keys", "category": "Ops"}),
        ];
        let error = pick(Kind::Board, "API keys", &boards).err().map(|error| error.to_string());
        assert_eq!(
            error.as_deref(),
            Some("2 boards are named \"API keys\"; give one of their ids: one (category IAM), two (category Ops)")
        );
    }

    #[test]
    fn an_unknown_name_says_which_names_there_are() {
        let keys = [json!({"id": "k1", "name": "officer"}), json!({"id": "k2", "name": "auditor"})];
        let error = pick(Kind::Key, "demo-key", &keys).err().map(|error| error.to_string());
        assert_eq!(error.as_deref(), Some("no key has the name or id \"demo-key\" (keys: \"auditor\", \"officer\")"));
    }

    #[test]
    fn sixteen_hex_digits_are_an_id() {
        assert!(is_generated_id("0123456789abcdef"));
        assert!(!is_generated_id("demo-key"));
        assert!(!is_generated_id("0123456789ABCDEF"));
    }
}
