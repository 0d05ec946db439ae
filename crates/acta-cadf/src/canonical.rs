//! The canonical form of an event's JSON: what decides whether two events sent with the same `id` are one event
//! sent twice (a duplicate) or two events (keystonemiddleware's request and its outcome share their id).
//!
//! Members are sorted by name (byte order) at every level and nothing separates the tokens; strings and numbers
//! are written as serde_json writes them. So the same JSON sent with its members in another order, other spacing
//! or other string escapes has one canonical form, and any change of a value gives another.

use serde_json::Value;

/// The canonical bytes of a JSON value.
pub fn canonical_json(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    write(&mut out, value);
    out
}

fn write(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Object(members) => {
            let mut names: Vec<&String> = members.keys().collect();
            names.sort_unstable();
            out.push(b'{');
            for (position, name) in names.into_iter().enumerate() {
                if position > 0 {
                    out.push(b',');
                }
                write_scalar(out, &Value::String(name.clone()));
                out.push(b':');
                if let Some(member) = members.get(name) {
                    write(out, member);
                }
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (position, item) in items.iter().enumerate() {
                if position > 0 {
                    out.push(b',');
                }
                write(out, item);
            }
            out.push(b']');
        }
        scalar => write_scalar(out, scalar),
    }
}

/// Writing a scalar into memory cannot fail; serde_json's errors are for I/O and non-string map keys.
fn write_scalar(out: &mut Vec<u8>, scalar: &Value) {
    if let Ok(text) = serde_json::to_string(scalar) {
        out.extend_from_slice(text.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::canonical_json;
    use serde_json::Value;

    fn canonical(text: &str) -> String {
        let value: Value = serde_json::from_str(text).expect("test JSON");
        String::from_utf8(canonical_json(&value)).expect("UTF-8")
    }

    #[test]
    fn member_order_spacing_and_escapes_do_not_change_the_canonical_form() {
        let a = canonical(r#"{"id": "x", "outcome": "success", "target": {"name": "k\u0065y", "id": "1"}}"#);
        let b = canonical(r#"{"target":{"id":"1","name":"key"},"outcome":"success","id":"x"}"#);
        assert_eq!(a, b);
        assert_eq!(a, r#"{"id":"x","outcome":"success","target":{"id":"1","name":"key"}}"#);
    }

    #[test]
    fn a_changed_value_changes_the_canonical_form() {
        assert_ne!(
            canonical(r#"{"id": "x", "outcome": "pending"}"#),
            canonical(r#"{"id": "x", "outcome": "success"}"#)
        );
        assert_ne!(canonical(r#"{"a": [1, 2]}"#), canonical(r#"{"a": [2, 1]}"#));
    }
}
