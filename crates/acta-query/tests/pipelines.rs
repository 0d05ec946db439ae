//! Pipes: the parser (stages, columns in errors) and the reference runner, held to `matches`: a group's count is
//! the count of the query with the group's conditions, a bucket's count is the count of the query over the
//! bucket's time.

use acta_query::{
    CmpOp, EventView, Field, FieldCond, PipeError, PipeLimits, Query, Runner, Table, event_time, matches, parse,
    parse_pipeline, run,
};
use proptest::prelude::*;
use serde_json::{Value, json};

const QUERIES: &[&str] = &["", "failure", "outcome:success", "-action:*", "count:>=200", "tags:a OR outcome:failure"];
const FIELDS: &[&str] = &["action", "outcome", "tags", "count", "_region", "missing"];

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        3 => prop::sample::select(vec!["a", "b", "A", "failure", "success", "200", "x y"]).prop_map(Value::from),
        1 => prop::sample::select(vec![200i64, 404, -1]).prop_map(Value::from),
        1 => Just(json!(1.5)),
        1 => any::<bool>().prop_map(Value::Bool),
        1 => Just(Value::Null),
    ]
}

/// Fields that are scalars, arrays of scalars, or missing (an object would exist without a value, and `-f:*`
/// would not say its group), and an eventTime over three days, sometimes absent.
fn event() -> impl Strategy<Value = Value> {
    let maybe = |strategy: BoxedStrategy<Value>| prop::option::weighted(0.75, strategy);
    (
        maybe(scalar().boxed()),
        maybe(scalar().boxed()),
        maybe(prop::collection::vec(scalar(), 0..3).prop_map(Value::Array).boxed()),
        maybe(scalar().boxed()),
        prop::option::weighted(0.9, 0i64..3 * 86_400),
    )
        .prop_map(|(action, outcome, tags, count, seconds)| {
            let mut event = serde_json::Map::new();
            for (key, value) in [("action", action), ("outcome", outcome), ("tags", tags), ("count", count)] {
                if let Some(value) = value {
                    event.insert(key.to_string(), value);
                }
            }
            if let Some(seconds) = seconds {
                event.insert(
                    "eventTime".into(),
                    json!(acta_cadf::format_time((1_795_000_000 + seconds) * 1_000_000_000)),
                );
            }
            Value::Object(event)
        })
}

fn view<'a>(raw: &'a str, event: &'a Value) -> EventView<'a> {
    EventView {
        raw,
        event,
        account: "acct-1",
        instance: "inst-1",
        region: "us-south",
        received: "2026-11-20T10:00:01Z",
    }
}

fn with_views<T>(events: &[Value], f: impl FnOnce(Vec<EventView<'_>>) -> T) -> T {
    let raws: Vec<String> = events.iter().map(Value::to_string).collect();
    f(raws.iter().zip(events).map(|(raw, event)| view(raw, event)).collect())
}

fn count(events: &[Value], query: &Query) -> u64 {
    with_views(events, |views| views.iter().filter(|view| matches(query, view)).count() as u64)
}

/// The condition a group's key puts on its field: the exact text, or no value at all.
fn group_condition(field: &Field, key: &Value) -> Query {
    match key {
        Value::String(text) => {
            Query::Field(field.clone(), FieldCond::Equals { value: text.clone(), case_sensitive: true })
        }
        _ => Query::Not(Box::new(Query::Field(field.clone(), FieldCond::Exists))),
    }
}

fn and(parts: Vec<Query>) -> Query {
    Query::And(parts)
}

fn table(text: &str, events: &[Value]) -> Result<Table, PipeError> {
    let pipeline = parse_pipeline(text).unwrap_or_else(|error| panic!("{text:?}: {error}"));
    with_views(events, |views| run(&pipeline, views, PipeLimits::default()))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn a_stats_groups_count_is_the_count_of_its_query(
        q in prop::sample::select(QUERIES),
        by in prop::sample::subsequence(FIELDS, 1..=2),
        events in prop::collection::vec(event(), 0..30),
    ) {
        let text = format!("{q} | stats count by {}", by.join(", "));
        let answer = table(&text, &events).map_err(|error| TestCaseError::fail(error.to_string()))?;
        let query = parse(q).map_err(|error| TestCaseError::fail(error.message))?;
        let fields: Vec<Field> = by.iter().map(|name| Field::from_name(name)).collect();
        for row in &answer.rows {
            let mut parts = vec![query.clone()];
            parts.extend(fields.iter().zip(row).map(|(field, key)| group_condition(field, key)));
            prop_assert_eq!(row[by.len()].as_u64(), Some(count(&events, &and(parts))), "{} row {:?}", text, row);
        }
        // No event is left out: each is in at least one group of a field.
        let matching = count(&events, &query);
        if fields.len() == 1 {
            let groups: u64 = answer.rows.iter().filter_map(|row| row[1].as_u64()).sum();
            prop_assert!(groups >= matching, "every event is in at least one group");
        }
    }

    #[test]
    fn a_timechart_buckets_count_is_the_count_of_its_query_over_its_time(
        q in prop::sample::select(QUERIES),
        by in prop::option::of(prop::sample::select(FIELDS)),
        span in prop::sample::select(vec![("1h", 3_600i64), ("6h", 21_600), ("1d", 86_400)]),
        events in prop::collection::vec(event(), 0..30),
    ) {
        let text = match by {
            Some(field) => format!("{q} | timechart span={} count by {field}", span.0),
            None => format!("{q} | timechart span={} count", span.0),
        };
        let answer = table(&text, &events).map_err(|error| TestCaseError::fail(error.to_string()))?;
        let query = parse(q).map_err(|error| TestCaseError::fail(error.message))?;
        let span_ns = span.1 * 1_000_000_000;
        let mut total = 0;
        for row in &answer.rows {
            let start = row[0].as_str().and_then(|text| acta_cadf::parse_time(text).ok()).unwrap_or(i64::MIN);
            prop_assert_eq!(start.rem_euclid(span_ns), 0, "buckets are aligned to the span");
            let condition = by.map(|name| group_condition(&Field::from_name(name), &row[1]));
            let expected = with_views(&events, |views| {
                views
                    .iter()
                    .filter(|view| matches(&query, view))
                    .filter(|view| condition.as_ref().is_none_or(|condition| matches(condition, view)))
                    .filter(|view| event_time(view).is_some_and(|time| time >= start && time < start + span_ns))
                    .count() as u64
            });
            let counted = row.last().and_then(Value::as_u64);
            prop_assert_eq!(counted, Some(expected), "{} row {:?}", text, row);
            total += expected;
        }
        if by.is_none() {
            prop_assert_eq!(total, count(&events, &query), "every matching event is in a bucket");
        }
    }

    #[test]
    fn top_and_rare_are_the_values_with_most_and_fewest_events(
        q in prop::sample::select(QUERIES),
        field in prop::sample::select(FIELDS),
        n in 1usize..5,
        events in prop::collection::vec(event(), 0..30),
    ) {
        let query = parse(q).map_err(|error| TestCaseError::fail(error.message))?;
        let field_ast = Field::from_name(field);
        // Every value's count, by the definition: the query with field:===value.
        let mut values: Vec<(String, u64)> = with_views(&events, |views| {
            let mut texts: Vec<String> = views
                .iter()
                .filter(|view| matches(&query, view))
                .flat_map(|view| acta_query::field_values(view, &field_ast).iter().map(|v| v.text().into_owned()).collect::<Vec<_>>())
                .collect();
            texts.sort();
            texts.dedup();
            texts
        })
        .into_iter()
        .map(|text| {
            let condition = group_condition(&field_ast, &Value::String(text.clone()));
            let counted = count(&events, &and(vec![query.clone(), condition]));
            (text, counted)
        })
        .collect();
        values.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let top = table(&format!("{q} | top {n} {field}"), &events).map_err(|error| TestCaseError::fail(error.to_string()))?;
        let expected: Vec<Vec<Value>> = values.iter().take(n).map(|(text, count)| vec![json!(text), json!(count)]).collect();
        prop_assert_eq!(&top.rows, &expected);
        values.sort_by(|a, b| a.1.cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
        let rare = table(&format!("{q} | rare {n} {field}"), &events).map_err(|error| TestCaseError::fail(error.to_string()))?;
        let expected: Vec<Vec<Value>> = values.iter().take(n).map(|(text, count)| vec![json!(text), json!(count)]).collect();
        prop_assert_eq!(&rare.rows, &expected);
    }
}

fn events_of(values: &[Value]) -> Vec<Value> {
    values.to_vec()
}

fn sample() -> Vec<Value> {
    events_of(&[
        json!({"action": "kms.secrets.create", "outcome": "success", "count": 5, "eventTime": "2026-11-20T10:10:00Z"}),
        json!({"action": "kms.secrets.delete", "outcome": "failure", "count": "12", "eventTime": "2026-11-20T10:50:00Z"}),
        json!({"action": "kms.secrets.create", "outcome": "failure", "count": 7, "eventTime": "2026-11-20T11:05:00Z"}),
        json!({"action": "iam.login", "count": true, "eventTime": "2026-11-20T11:30:00Z"}),
    ])
}

#[test]
fn stats_rows_are_ordered_by_key_with_the_missing_group_last_as_null() {
    let answer = table("| stats count, count_distinct(action), min(count), max(count) by outcome", &sample());
    let answer = answer.unwrap_or_else(|error| panic!("{error}"));
    let names: Vec<&str> = answer.columns.iter().map(|column| column.name.as_str()).collect();
    assert_eq!(names, ["outcome", "count", "count_distinct(action)", "min(count)", "max(count)"]);
    assert_eq!(
        answer.rows,
        vec![
            vec![json!("failure"), json!(2), json!(2), json!(7), json!(12)],
            vec![json!("success"), json!(1), json!(1), json!(5), json!(5)],
            vec![Value::Null, json!(1), json!(1), Value::Null, Value::Null],
        ]
    );
    assert!(!answer.truncated);
}

#[test]
fn stats_without_by_is_one_row_even_without_events() {
    let answer = table("nothing-matches-this | stats count", &sample()).unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(answer.rows, vec![vec![json!(0)]]);
}

#[test]
fn row_stages_sort_cut_filter_and_pick_columns() {
    let answer = table(
        "| stats count by action | where count >= 1 | sort -count, action | head 2 | fields count, action",
        &sample(),
    )
    .unwrap_or_else(|error| panic!("{error}"));
    let names: Vec<&str> = answer.columns.iter().map(|column| column.name.as_str()).collect();
    assert_eq!(names, ["count", "action"]);
    assert_eq!(answer.rows, vec![vec![json!(2), json!("kms.secrets.create")], vec![json!(1), json!("iam.login")]]);
}

#[test]
fn timechart_rows_are_bucket_value_count_in_time_order() {
    let answer = table("| timechart span=1h count by outcome", &sample()).unwrap_or_else(|error| panic!("{error}"));
    let names: Vec<&str> = answer.columns.iter().map(|column| column.name.as_str()).collect();
    assert_eq!(names, ["_time", "outcome", "count"]);
    assert_eq!(answer.columns[0].kind.name(), "time");
    let starts: Vec<String> = answer
        .rows
        .iter()
        .map(|row| {
            row[0]
                .as_str()
                .and_then(|text| acta_cadf::parse_time(text).ok())
                .map(acta_cadf::format_time)
                .unwrap_or_default()
        })
        .collect();
    let ten = acta_cadf::format_time(acta_cadf::parse_time("2026-11-20T10:00:00Z").unwrap_or_default());
    let eleven = acta_cadf::format_time(acta_cadf::parse_time("2026-11-20T11:00:00Z").unwrap_or_default());
    assert_eq!(starts, [ten.clone(), ten, eleven.clone(), eleven]);
    let rest: Vec<Vec<Value>> = answer.rows.iter().map(|row| row[1..].to_vec()).collect();
    assert_eq!(
        rest,
        vec![
            vec![json!("failure"), json!(1)],
            vec![json!("success"), json!(1)],
            vec![json!("failure"), json!(1)],
            vec![Value::Null, json!(1)]
        ]
    );
}

#[test]
fn event_rows_show_the_chosen_fields_in_the_given_order() {
    let answer = table("kms | fields action, count | sort -count", &sample()).unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(
        answer.rows,
        vec![
            vec![json!("kms.secrets.delete"), json!("12")],
            vec![json!("kms.secrets.create"), json!(7)],
            vec![json!("kms.secrets.create"), json!(5)],
        ]
    );
}

#[test]
fn event_rows_beyond_the_answered_rows_are_cut_and_said_to_be() {
    let pipeline = parse_pipeline("| fields action").unwrap_or_else(|error| panic!("{error}"));
    let events = sample();
    let limits = PipeLimits { max_rows: 2, ..PipeLimits::default() };
    let answer = with_views(&events, |views| run(&pipeline, views, limits)).unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(answer.rows.len(), 2);
    assert!(answer.truncated);
}

#[test]
fn too_many_groups_is_an_error_not_a_cut() {
    let pipeline = parse_pipeline("| stats count by action").unwrap_or_else(|error| panic!("{error}"));
    let events = sample();
    let limits = PipeLimits { max_groups: 2, ..PipeLimits::default() };
    let answer = with_views(&events, |views| run(&pipeline, views, limits));
    assert_eq!(answer, Err(PipeError::TooManyGroups(2)));
    assert!(PipeError::TooManyGroups(2).to_string().contains("more than 2 groups"));
}

#[test]
fn a_timechart_with_more_buckets_of_values_than_groups_allowed_is_an_error() {
    let pipeline = parse_pipeline("| timechart span=1h count by action").unwrap_or_else(|error| panic!("{error}"));
    let limits = PipeLimits { max_groups: 1, ..PipeLimits::default() };
    let answer = with_views(&sample(), |views| run(&pipeline, views, limits));
    assert_eq!(answer, Err(PipeError::TooManyGroups(1)));
    // The index's counts, added a series at a time, meet the same limit: a bucket of a value is a group.
    let hours = [0, 3_600_000_000_000];
    let mut runner = Runner::new(&pipeline, limits);
    assert_eq!(runner.add_series(&hours, Some("a".into()), &[3, 0]), Ok(()));
    assert_eq!(runner.add_series(&hours, Some("a".into()), &[1, 0]), Ok(()), "the same group again");
    assert_eq!(runner.add_series(&hours, Some("b".into()), &[0, 2]), Err(PipeError::TooManyGroups(1)));
}

#[test]
fn a_where_before_the_aggregation_is_part_of_the_query() {
    let pipeline = parse_pipeline("kms | where count > 6 | stats count").unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(pipeline.query, parse("kms count:>6").unwrap_or(Query::All));
    let ne = parse_pipeline("| where count != 5 | stats count").unwrap_or_else(|error| panic!("{error}"));
    let field = Field::from_name("count");
    assert_eq!(
        ne.query,
        Query::Or(vec![
            Query::Field(field.clone(), FieldCond::Compare(CmpOp::Lt, 5.0)),
            Query::Field(field, FieldCond::Compare(CmpOp::Gt, 5.0)),
        ])
    );
    assert!(parse_pipeline("a || b").is_ok_and(|pipeline| pipeline.is_plain()));
}

/// The error of a text: (column, message).
fn refused(text: &str) -> (usize, String) {
    match parse_pipeline(text) {
        Ok(pipeline) => panic!("{text:?} parsed as {pipeline:?}"),
        Err(error) => (error.column, error.message),
    }
}

#[test]
fn errors_name_the_column_of_the_problem() {
    assert_eq!(refused("a | frobnicate").0, 5);
    assert!(refused("a | frobnicate").1.starts_with("unknown stage 'frobnicate'"));
    assert_eq!(refused("a |").0, 4);
    assert_eq!(
        refused("a | stats count by action | timechart span=1h count"),
        (29, "'timechart' cannot come after 'stats': a pipeline aggregates once".to_string())
    );
    assert_eq!(refused("a | head 5 | stats count").0, 14);
    assert_eq!(
        refused("| stats count by action | sort -nope"),
        (33, "no column 'nope' here: the columns are action, count".to_string())
    );
    assert_eq!(refused("| stats avg(x)").0, 9);
    assert_eq!(refused("| timechart span=1w count").0, 18);
    assert_eq!(refused("| timechart count").0, 13);
    assert_eq!(refused("| where count > abc").0, 17);
    assert_eq!(refused("| head 5 6").0, 10);
    assert_eq!(refused("action:( | head").0, 10);
}

#[test]
fn names_resolve_as_in_queries() {
    let pipeline = parse_pipeline("| stats count by level | sort level").unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(pipeline.rows, vec![acta_query::RowStage::Sort(vec![("severity".to_string(), false)])]);
}

#[test]
fn a_query_with_stages_is_refused_where_only_a_query_is_taken_at_its_pipe() {
    let error = acta_query::parse("kms | stats count by action").expect_err("stages are not a query");
    assert_eq!(error.column, 5);
    assert_eq!(error.message, acta_query::PIPES_NOT_HERE);
    // `|` inside a word, or before something that is no stage, stays what it was: a character of a word.
    assert!(acta_query::parse("a|b").is_ok());
    assert!(acta_query::parse("kms x|stats").is_ok());
}
