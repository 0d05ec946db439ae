//! What a field is in an event. Both evaluators, the index builder and board breakdowns go through
//! [`field_values`] and [`field_exists`], so "the values of a field" has one definition.

use std::borrow::Cow;

use serde_json::Value;

use crate::ast::Field;

/// An event as the evaluators see it: the stored JSON text, its parsed form, and where Acta stored it.
#[derive(Debug, Clone, Copy)]
pub struct EventView<'a> {
    /// The stored JSON text of the event, keys included. Free text matches against its tokens.
    pub raw: &'a str,
    /// The parsed event; field paths descend into it.
    pub event: &'a Value,
    /// `_account`: the account the event is stored in.
    pub account: &'a str,
    /// `_instance`: the instance the event is stored in.
    pub instance: &'a str,
    /// `_region`: the region of that instance.
    pub region: &'a str,
    /// `_received`: when Acta accepted the event, RFC 3339 text.
    pub received: &'a str,
}

/// One scalar value of a field in an event.
///
/// Only scalar leaves are values: objects and `null` never match a value condition (objects do make a field
/// exist, see [`field_exists`]). Arrays are transparent: each element, recursively, is a value of the field.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue<'a> {
    /// A JSON string, borrowed from the event unless it came out of a stringified JSON value.
    Str(Cow<'a, str>),
    /// A JSON number: its value as `f64` (what comparisons use) and its JSON text as serde_json prints it
    /// (`200`, `1.5`), which is what text conditions see.
    Num(f64, String),
    /// A JSON boolean; text conditions see `true` or `false`.
    Bool(bool),
}

impl FieldValue<'_> {
    /// The text that token, equality and prefix conditions compare against.
    pub fn text(&self) -> Cow<'_, str> {
        match self {
            FieldValue::Str(text) => Cow::Borrowed(text.as_ref()),
            FieldValue::Num(_, text) => Cow::Borrowed(text.as_str()),
            FieldValue::Bool(true) => Cow::Borrowed("true"),
            FieldValue::Bool(false) => Cow::Borrowed("false"),
        }
    }

    /// The number a comparison sees: a JSON number, or a string that Rust's `f64` parser accepts and that is
    /// finite (`"200"`, `"1e3"`; not `"NaN"`, `"inf"`, `" 200"`). Booleans are not numbers.
    pub fn number(&self) -> Option<f64> {
        match self {
            FieldValue::Num(number, _) => Some(*number),
            FieldValue::Str(text) => parse_number(text),
            FieldValue::Bool(_) => None,
        }
    }
}

/// The number rule shared by values and by query text (`field:>=400`): finite `f64` only, because NaN and
/// infinities would make comparisons surprising and cannot be written back as query text.
pub(crate) fn parse_number(text: &str) -> Option<f64> {
    text.parse::<f64>().ok().filter(|number| number.is_finite())
}

/// The scalar values `field` has in `event`, in document order.
///
/// A path is split at dots; each step takes an object member. Arrays met on the way, or at the end, are
/// descended into element by element. A string met while path segments remain is parsed as JSON if it holds an
/// object or array (IBM sends `requestData` and `responseData` stringified), and descent continues inside it.
/// `_platform` is the part of a string `action` before its first dot; `_account`, `_instance`, `_region` and
/// `_received` are the view's own fields.
pub fn field_values<'a>(event: &EventView<'a>, field: &Field) -> Vec<FieldValue<'a>> {
    match field {
        Field::Path(segments) => {
            let mut nodes = Vec::new();
            resolve(event.event, segments, &mut nodes);
            nodes.into_iter().filter_map(Node::into_value).collect()
        }
        Field::Platform => platform(event).into_iter().collect(),
        Field::Account => vec![FieldValue::Str(Cow::Borrowed(event.account))],
        Field::Instance => vec![FieldValue::Str(Cow::Borrowed(event.instance))],
        Field::Region => vec![FieldValue::Str(Cow::Borrowed(event.region))],
        Field::Received => vec![FieldValue::Str(Cow::Borrowed(event.received))],
    }
}

/// Whether `field` exists in `event` and is not null (`field:*`): the path reaches an object or a scalar
/// (arrays count through their elements, so `[]` and `[null]` do not exist). Derived fields of the view always
/// exist; `_platform` exists when `action` is a string.
pub fn field_exists(event: &EventView<'_>, field: &Field) -> bool {
    match field {
        Field::Path(segments) => {
            let mut nodes = Vec::new();
            resolve(event.event, segments, &mut nodes);
            nodes.iter().any(|node| !node.value().is_null())
        }
        Field::Platform => platform(event).is_some(),
        Field::Account | Field::Instance | Field::Region | Field::Received => true,
    }
}

/// Values and existence in one resolution, for the compiled evaluator's cache.
pub(crate) fn resolve_field<'a>(event: &EventView<'a>, field: &Field) -> (Vec<FieldValue<'a>>, bool) {
    match field {
        Field::Path(segments) => {
            let mut nodes = Vec::new();
            resolve(event.event, segments, &mut nodes);
            let exists = nodes.iter().any(|node| !node.value().is_null());
            (nodes.into_iter().filter_map(Node::into_value).collect(), exists)
        }
        _ => (field_values(event, field), field_exists(event, field)),
    }
}

fn platform<'a>(event: &EventView<'a>) -> Option<FieldValue<'a>> {
    let action = event.event.get("action")?.as_str()?;
    let service = action.split('.').next().unwrap_or(action);
    Some(FieldValue::Str(Cow::Borrowed(service)))
}

/// A value reached by a path: borrowed from the event, or owned when it came out of a stringified JSON value.
enum Node<'a> {
    Borrowed(&'a Value),
    Owned(Value),
}

impl<'a> Node<'a> {
    fn value(&self) -> &Value {
        match self {
            Node::Borrowed(value) => value,
            Node::Owned(value) => value,
        }
    }

    fn into_owned(self) -> Value {
        match self {
            Node::Borrowed(value) => value.clone(),
            Node::Owned(value) => value,
        }
    }

    fn into_value(self) -> Option<FieldValue<'a>> {
        match self {
            Node::Borrowed(Value::String(text)) => Some(FieldValue::Str(Cow::Borrowed(text))),
            Node::Owned(Value::String(text)) => Some(FieldValue::Str(Cow::Owned(text))),
            node => scalar(node.value()),
        }
    }
}

fn scalar(value: &Value) -> Option<FieldValue<'static>> {
    match value {
        Value::Number(number) => Some(FieldValue::Num(number.as_f64().unwrap_or(f64::NAN), number.to_string())),
        Value::Bool(flag) => Some(FieldValue::Bool(*flag)),
        Value::String(text) => Some(FieldValue::Str(Cow::Owned(text.clone()))),
        Value::Null | Value::Object(_) | Value::Array(_) => None,
    }
}

fn resolve<'a>(value: &'a Value, segments: &[String], out: &mut Vec<Node<'a>>) {
    if let Value::Array(items) = value {
        for item in items {
            resolve(item, segments, out);
        }
        return;
    }
    let Some((first, rest)) = segments.split_first() else {
        out.push(Node::Borrowed(value));
        return;
    };
    match value {
        Value::Object(members) => {
            if let Some(member) = members.get(first.as_str()) {
                resolve(member, rest, out);
            }
        }
        Value::String(text) => {
            if let Some(embedded) = embedded_json(text) {
                let mut inner = Vec::new();
                resolve(&embedded, segments, &mut inner);
                out.extend(inner.into_iter().map(|node| Node::Owned(node.into_owned())));
            }
        }
        _ => {}
    }
}

/// A string holding a JSON object or array. The first-char test keeps ordinary strings from being parsed.
fn embedded_json(text: &str) -> Option<Value> {
    let trimmed = text.trim_start();
    if !(trimmed.starts_with('{') || trimmed.starts_with('[')) {
        return None;
    }
    serde_json::from_str::<Value>(text).ok().filter(|value| value.is_object() || value.is_array())
}
