//! `acta events query '<query> | <stages>'`: the table of `GET /v1/events/query`, aligned for people, or as CSV
//! or the server's JSON. A query without stages is answered with events, printed as `acta events search` does.

use serde_json::Value;

use crate::output;

/// The table as aligned text: a header of the column names, then one line per row. Times are shown in the
/// chosen zone, as everywhere in the CLI; `null` is an empty cell.
pub(crate) fn render(answer: &Value) -> String {
    let (names, kinds) = columns(answer);
    let headers: Vec<String> = names
        .iter()
        .zip(&kinds)
        .map(|(name, kind)| if kind == "time" { format!("{name} ({})", output::zone_label()) } else { name.clone() })
        .collect();
    let rows: Vec<Vec<String>> = rows(answer)
        .iter()
        .map(|row| {
            row.iter()
                .zip(&kinds)
                .map(|(cell, kind)| clean(&if kind == "time" { time_cell(cell) } else { text(cell) }))
                .collect()
        })
        .collect();
    let numeric: Vec<bool> = kinds.iter().map(|kind| kind == "number").collect();
    let mut out = output::table(&headers, &rows, &numeric);
    if answer["truncated"] == true {
        out.push_str(&format!("showing the first {} rows; narrow the query or add | head\n", rows.len()));
    }
    out
}

/// The table as CSV (RFC 4180), times as the server gives them.
pub(crate) fn csv(answer: &Value) -> String {
    let (names, _) = columns(answer);
    let mut out = String::new();
    let mut line = |cells: Vec<String>| {
        out.push_str(&cells.iter().map(|cell| csv_cell(cell)).collect::<Vec<_>>().join(","));
        out.push('\n');
    };
    line(names);
    for row in rows(answer) {
        line(row.iter().map(text).collect());
    }
    out
}

/// Events (a query without stages) as a table of the columns event rows show by default.
pub(crate) fn events_table(events: &[Value]) -> Value {
    let names = acta_query::DEFAULT_EVENT_COLUMNS;
    let columns: Vec<Value> = names.iter().map(|name| serde_json::json!({"name": name, "type": "any"})).collect();
    let rows: Vec<Value> = events
        .iter()
        .map(|event| {
            let cells = names.iter().map(|name| {
                name.split('.').try_fold(event, |value, key| value.get(key)).cloned().unwrap_or(Value::Null)
            });
            Value::Array(cells.collect())
        })
        .collect();
    serde_json::json!({"columns": columns, "rows": rows, "truncated": false})
}

fn columns(answer: &Value) -> (Vec<String>, Vec<String>) {
    let columns = answer["columns"].as_array().cloned().unwrap_or_default();
    let field = |column: &Value, key: &str| column[key].as_str().unwrap_or_default().to_string();
    (
        columns.iter().map(|column| field(column, "name")).collect(),
        columns.iter().map(|column| field(column, "type")).collect(),
    )
}

fn rows(answer: &Value) -> Vec<Vec<Value>> {
    answer["rows"]
        .as_array()
        .map(|rows| rows.iter().map(|row| row.as_array().cloned().unwrap_or_default()).collect())
        .unwrap_or_default()
}

/// A cell as text: strings as they are, `null` empty, anything else as JSON.
fn text(cell: &Value) -> String {
    match cell {
        Value::String(text) => text.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn time_cell(cell: &Value) -> String {
    cell.as_str().map(output::time).unwrap_or_default()
}

/// Control characters in event values must not drive the terminal.
fn clean(text: &str) -> String {
    text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect()
}

/// RFC 4180 quoting; a leading formula character is prefixed with `'` so spreadsheets show, not run, it.
fn csv_cell(text: &str) -> String {
    let guarded = if text.starts_with(['=', '+', '-', '@']) { format!("'{text}") } else { text.to_string() };
    if guarded.contains([',', '"', '\n', '\r']) { format!("\"{}\"", guarded.replace('"', "\"\"")) } else { guarded }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn numbers_align_right_and_text_left() {
        let answer = json!({"columns": [{"name": "outcome", "type": "string"}, {"name": "count", "type": "number"}],
                            "rows": [["failure", 12], [null, 3]], "truncated": false});
        assert_eq!(render(&answer), "outcome  count\nfailure     12\n             3\n");
    }

    #[test]
    fn csv_quotes_and_guards_formulas() {
        let answer =
            json!({"columns": [{"name": "a", "type": "string"}], "rows": [["x,y"], ["=1+1"]], "truncated": false});
        assert_eq!(csv(&answer), "a\n\"x,y\"\n'=1+1\n");
    }
}
