//! The reference runner of pipelines: events in, a table out. The index feeds it the events of the query (or,
//! on its fast paths, the counts it computed itself) and must give exactly what [`run`] gives.
//!
//! Semantics (also in `docs/query.md`):
//! - Group keys are `field_values`' texts (`FieldValue::text`): the number `200` and the string `"200"` are one
//!   group. An event counts once in each distinct value it has; with two `by` fields, once in each pair. An
//!   event without a value of a `by` field is in that field's `null` group (for `top` and `rare`, in none).
//! - `stats` rows are ordered by their keys (see [`compare_cells`]); `top` by count, most first, ties by value;
//!   `rare` by count, fewest first, ties by value; `timechart` by bucket, then value.
//! - `timechart` puts an event in the bucket `floor(t / span) * span` of its time `t`: its `eventTime`, or its
//!   arrival when it has none (what search orders by). Only (bucket, value) pairs with events are rows.
//! - Event rows (no aggregation) come in the order they were given (search's order: newest first); a cell is
//!   `null` without a value, the value with one, an array of them with several.
//! - `where` keeps a row whose cell is, or holds in an array, a number (or a string that reads as one) that
//!   compares so; `sort` is stable, numbers (and strings that read as numbers) first by value, then other
//!   strings by their bytes, then booleans, `null` last in either direction.

use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};

use serde_json::Value;

use crate::ast::Field;
use crate::event::{EventView, FieldValue, field_values, parse_number};
use crate::matches;
use crate::pipeline::{Aggregate, Aggregation, Pipeline, RowStage, field_named};

/// What a pipeline may hold, so that one request cannot take the server's memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PipeLimits {
    /// Most groups (rows of `stats`, values of `top` and `rare`, (bucket, value) pairs of `timechart`).
    pub max_groups: usize,
    /// Most event rows answered; more are cut and the table says `truncated`.
    pub max_rows: usize,
    /// Most events a pipeline of event rows with `sort` may hold to sort them.
    pub max_sorted_events: usize,
    /// Most events the index reads from the log for a pipeline its fast paths do not answer.
    pub max_scanned: usize,
}

impl Default for PipeLimits {
    fn default() -> Self {
        PipeLimits { max_groups: 100_000, max_rows: 1000, max_sorted_events: 100_000, max_scanned: 1_000_000 }
    }
}

/// A limit of [`PipeLimits`] that was reached: the pipeline is refused rather than answered in part.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PipeError {
    /// Too many groups.
    #[error(
        "the pipeline makes more than {0} groups; narrow the query or the time range, or group by a field with fewer values"
    )]
    TooManyGroups(usize),
    /// Too many events to sort.
    #[error("more than {0} events to sort; narrow the query or the time range, or aggregate them first")]
    TooManySorted(usize),
    /// Too many events to read.
    #[error(
        "more than {0} events match; narrow the query or the time range, or use an aggregation the index answers alone (stats count by one field, top, rare, timechart)"
    )]
    TooManyEvents(usize),
}

/// The kind of a column's cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    /// Texts (group keys), or `null`.
    String,
    /// Numbers, or `null` (`min` and `max` of a group without numbers).
    Number,
    /// RFC 3339 instants (`_time` of `timechart`).
    Time,
    /// Whatever the events hold (event rows).
    Any,
}

impl ColumnType {
    /// The name the API uses.
    pub fn name(self) -> &'static str {
        match self {
            ColumnType::String => "string",
            ColumnType::Number => "number",
            ColumnType::Time => "time",
            ColumnType::Any => "any",
        }
    }
}

/// One column of a table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// Its name: a field (`action`), an aggregate (`count`, `max(x)`), or `_time`.
    pub name: String,
    /// Its kind.
    pub kind: ColumnType,
}

/// The answer of a pipeline.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// The columns, in order.
    pub columns: Vec<Column>,
    /// The rows, one cell per column.
    pub rows: Vec<Vec<Value>>,
    /// Event rows were cut at [`PipeLimits::max_rows`].
    pub truncated: bool,
}

/// Runs a pipeline over events: those `matches` the query are fed to a [`Runner`].
pub fn run<'a>(
    pipeline: &Pipeline,
    events: impl IntoIterator<Item = EventView<'a>>,
    limits: PipeLimits,
) -> Result<Table, PipeError> {
    let mut runner = Runner::new(pipeline, limits);
    for event in events {
        if matches(&pipeline.query, &event) && !runner.push(&event)? {
            break;
        }
    }
    Ok(runner.finish())
}

/// A group's accumulators.
#[derive(Default)]
struct Group {
    count: u64,
    distinct: Vec<HashSet<String>>,
    min: Vec<Option<f64>>,
    max: Vec<Option<f64>>,
}

enum State {
    /// Event rows: the cells of every needed field, and how many rows are enough.
    Events {
        fields: Vec<Field>,
        rows: Vec<Vec<Value>>,
        enough: Option<usize>,
    },
    Groups(HashMap<Vec<Option<String>>, Group>),
    /// Timechart: per value (`None`: without one, or no `by`), its count per bucket start; and how many
    /// (bucket, value) pairs there are, the groups [`PipeLimits::max_groups`] bounds.
    Buckets {
        series: HashMap<Option<String>, HashMap<i64, u64>>,
        pairs: usize,
    },
}

/// A pipeline under way: events (or counts) in, [`Runner::finish`] out.
pub struct Runner {
    pipeline: Pipeline,
    limits: PipeLimits,
    state: State,
    truncated: bool,
}

impl Runner {
    /// A runner with nothing counted yet.
    pub fn new(pipeline: &Pipeline, limits: PipeLimits) -> Runner {
        let state = match &pipeline.aggregation {
            None => {
                let names = event_fields(pipeline);
                let fields = names.iter().filter_map(|name| field_named(name, 1).ok()).collect();
                // Without a sort before it, the first head's rows are the answer (any where after it only
                // drops some of them); without a sort at all, one row more than answered shows there are more.
                let first_head = pipeline.rows.iter().position(|stage| matches!(stage, RowStage::Head(_)));
                let sorted_before =
                    |end: usize| pipeline.rows[..end].iter().any(|stage| matches!(stage, RowStage::Sort(_)));
                let enough = match first_head {
                    Some(at) if !sorted_before(at) => match pipeline.rows[at] {
                        RowStage::Head(n) => Some(n),
                        _ => None,
                    },
                    _ if sorted_before(pipeline.rows.len()) => None,
                    _ => Some(limits.max_rows + 1),
                };
                State::Events { fields, rows: Vec::new(), enough }
            }
            Some(Aggregation::Timechart { .. }) => State::Buckets { series: HashMap::new(), pairs: 0 },
            Some(_) => State::Groups(HashMap::new()),
        };
        Runner { pipeline: pipeline.clone(), limits, state, truncated: false }
    }

    /// Adds an event that matches the pipeline's query. `Ok(false)`: no later event can change the answer.
    pub fn push(&mut self, event: &EventView<'_>) -> Result<bool, PipeError> {
        let limits = self.limits;
        match (&mut self.state, &self.pipeline.aggregation) {
            (State::Events { fields, rows, enough }, _) => {
                if enough.is_none() && rows.len() >= limits.max_sorted_events {
                    return Err(PipeError::TooManySorted(limits.max_sorted_events));
                }
                rows.push(fields.iter().map(|field| cell(&field_values(event, field))).collect());
                Ok(enough.is_none_or(|enough| rows.len() < enough))
            }
            (State::Groups(groups), Some(Aggregation::Stats { aggregates, by })) => {
                let keys = product(by.iter().map(|field| distinct_texts(event, field)).collect());
                for key in keys {
                    let new = !groups.contains_key(&key);
                    if new && groups.len() >= limits.max_groups {
                        return Err(PipeError::TooManyGroups(limits.max_groups));
                    }
                    let group = groups.entry(key).or_insert_with(|| Group {
                        count: 0,
                        distinct: vec![HashSet::new(); aggregates.len()],
                        min: vec![None; aggregates.len()],
                        max: vec![None; aggregates.len()],
                    });
                    group.count += 1;
                    for (i, aggregate) in aggregates.iter().enumerate() {
                        match aggregate {
                            Aggregate::Count => {}
                            Aggregate::CountDistinct(field) => {
                                for value in field_values(event, field) {
                                    group.distinct[i].insert(value.text().into_owned());
                                }
                            }
                            Aggregate::Min(field) | Aggregate::Max(field) => {
                                for number in field_values(event, field).iter().filter_map(FieldValue::number) {
                                    let min = group.min[i].map_or(number, |min| min.min(number));
                                    let max = group.max[i].map_or(number, |max| max.max(number));
                                    group.min[i] = Some(min);
                                    group.max[i] = Some(max);
                                }
                            }
                        }
                    }
                }
                Ok(true)
            }
            (State::Groups(groups), Some(Aggregation::Top { field, .. })) => {
                for text in distinct_texts(event, field).into_iter().flatten() {
                    let key = vec![Some(text)];
                    if !groups.contains_key(&key) && groups.len() >= limits.max_groups {
                        return Err(PipeError::TooManyGroups(limits.max_groups));
                    }
                    groups.entry(key).or_default().count += 1;
                }
                Ok(true)
            }
            (State::Buckets { series, pairs }, Some(Aggregation::Timechart { span_ns, by, .. })) => {
                let Some(time) = event_time(event) else {
                    return Ok(true);
                };
                let bucket = time.div_euclid(*span_ns).saturating_mul(*span_ns);
                let values = match by {
                    Some(field) => distinct_texts(event, field),
                    None => vec![None],
                };
                for value in values {
                    add_to_bucket(series.entry(value).or_default(), pairs, limits.max_groups, bucket, 1)?;
                }
                Ok(true)
            }
            _ => Ok(true),
        }
    }

    /// Adds `count` events to a group of `stats` (one key per `by` field, `None` for the `null` group) or to a
    /// value of `top`/`rare`: what the index's fast path counted. Only for a `stats` of `count` alone.
    pub fn add_group(&mut self, key: Vec<Option<String>>, count: u64) -> Result<(), PipeError> {
        if let State::Groups(groups) = &mut self.state {
            if !groups.contains_key(&key) && groups.len() >= self.limits.max_groups {
                return Err(PipeError::TooManyGroups(self.limits.max_groups));
            }
            groups.entry(key).or_default().count += count;
        }
        Ok(())
    }

    /// Adds a value's counts to `timechart`'s buckets: `counts[i]` events in the bucket starting at `starts[i]`
    /// (unix ns); `value` is `None` for events without one, or without `by`. The fast path's counts, a whole
    /// series at once: a week of hours by a few hundred actions is tens of thousands of (bucket, value) pairs.
    pub fn add_series(&mut self, starts: &[i64], value: Option<String>, counts: &[u64]) -> Result<(), PipeError> {
        let State::Buckets { series, pairs } = &mut self.state else {
            return Ok(());
        };
        let mut nonzero = starts.iter().zip(counts).filter(|(_, count)| **count > 0).peekable();
        if nonzero.peek().is_none() {
            return Ok(());
        }
        let buckets = series.entry(value).or_default();
        for (start, count) in nonzero {
            add_to_bucket(buckets, pairs, self.limits.max_groups, *start, *count)?;
        }
        Ok(())
    }

    /// The table: the aggregation's rows (or the events'), then the row stages, then the shown columns.
    pub fn finish(self) -> Table {
        let Runner { pipeline, limits, state, mut truncated } = self;
        let (names, kinds, mut rows): (Vec<String>, Vec<ColumnType>, Vec<Vec<Value>>) =
            match (state, &pipeline.aggregation) {
                (State::Events { fields, rows, .. }, _) => {
                    let names: Vec<String> = fields.iter().map(Field::to_string).collect();
                    (names, vec![ColumnType::Any; fields.len()], rows)
                }
                (State::Groups(groups), Some(aggregation @ Aggregation::Stats { aggregates, by })) => {
                    let mut groups: Vec<(Vec<Option<String>>, Group)> = groups.into_iter().collect();
                    // An aggregation without `by` has its one row even when no event matched.
                    if by.is_empty() && groups.is_empty() {
                        groups.push((Vec::new(), Group::default()));
                    }
                    let mut rows: Vec<Vec<Value>> = groups
                        .into_iter()
                        .map(|(key, group)| {
                            let mut row: Vec<Value> =
                                key.into_iter().map(|text| text.map_or(Value::Null, Value::String)).collect();
                            for (i, aggregate) in aggregates.iter().enumerate() {
                                row.push(match aggregate {
                                    Aggregate::Count => Value::from(group.count),
                                    Aggregate::CountDistinct(_) => {
                                        Value::from(group.distinct.get(i).map_or(0, HashSet::len))
                                    }
                                    Aggregate::Min(_) => number_cell(group.min.get(i).copied().flatten()),
                                    Aggregate::Max(_) => number_cell(group.max.get(i).copied().flatten()),
                                });
                            }
                            row
                        })
                        .collect();
                    rows.sort_by(|a, b| compare_rows(&a[..by.len()], &b[..by.len()]));
                    let kinds = by
                        .iter()
                        .map(|_| ColumnType::String)
                        .chain(aggregates.iter().map(|_| ColumnType::Number))
                        .collect();
                    (crate::pipeline::column_names(aggregation), kinds, rows)
                }
                (State::Groups(groups), Some(aggregation @ Aggregation::Top { n, rare, .. })) => {
                    let mut values: Vec<(String, u64)> = groups
                        .into_iter()
                        .filter_map(|(mut key, group)| key.pop().flatten().map(|text| (text, group.count)))
                        .collect();
                    values.sort_by(|a, b| {
                        let by_count = if *rare { a.1.cmp(&b.1) } else { b.1.cmp(&a.1) };
                        by_count.then_with(|| a.0.cmp(&b.0))
                    });
                    values.truncate(*n);
                    let rows =
                        values.into_iter().map(|(text, count)| vec![Value::String(text), Value::from(count)]).collect();
                    (crate::pipeline::column_names(aggregation), vec![ColumnType::String, ColumnType::Number], rows)
                }
                (State::Buckets { series, pairs }, Some(aggregation @ Aggregation::Timechart { by, .. })) => {
                    // Values in key order; then every (bucket, value) pair ordered by bucket and the value's
                    // rank, which compares integers where sorting the pairs themselves compared texts.
                    let mut series: Vec<(Option<String>, HashMap<i64, u64>)> = series.into_iter().collect();
                    series.sort_unstable_by(|a, b| compare_keys(a.0.as_deref(), b.0.as_deref()));
                    let mut cells: Vec<(i64, usize, u64)> = Vec::with_capacity(pairs);
                    for (rank, (_, buckets)) in series.iter().enumerate() {
                        cells.extend(buckets.iter().map(|(bucket, count)| (*bucket, rank, *count)));
                    }
                    cells.sort_unstable();
                    // A bucket's rows are consecutive: its time is formatted once, not once per value.
                    let mut time: Option<(i64, Value)> = None;
                    let rows = cells
                        .into_iter()
                        .map(|(bucket, rank, count)| {
                            let cell = match &time {
                                Some((at, cell)) if *at == bucket => cell.clone(),
                                _ => {
                                    let cell = Value::String(acta_cadf::format_time(bucket));
                                    time = Some((bucket, cell.clone()));
                                    cell
                                }
                            };
                            let mut row = Vec::with_capacity(3);
                            row.push(cell);
                            if by.is_some() {
                                row.push(series[rank].0.clone().map_or(Value::Null, Value::String));
                            }
                            row.push(Value::from(count));
                            row
                        })
                        .collect();
                    let kinds = std::iter::once(ColumnType::Time)
                        .chain(by.iter().map(|_| ColumnType::String))
                        .chain([ColumnType::Number])
                        .collect();
                    (crate::pipeline::column_names(aggregation), kinds, rows)
                }
                _ => (Vec::new(), Vec::new(), Vec::new()),
            };
        // Columns are positions: a `by` field may share its name with an aggregate (`count`); stages name the
        // last column of a name, the aggregate's.
        let at = |name: &str| names.iter().rposition(|known| known == name);
        let mut shown: Vec<usize> = match &pipeline.aggregation {
            None => DEFAULT_EVENT_COLUMNS.iter().filter_map(|name| at(name)).collect(),
            Some(_) => (0..names.len()).collect(),
        };
        for stage in &pipeline.rows {
            match stage {
                RowStage::Fields(wanted) => shown = wanted.iter().filter_map(|name| at(name)).collect(),
                RowStage::Head(n) => rows.truncate(*n),
                RowStage::Sort(keys) => {
                    let positions: Vec<(usize, bool)> =
                        keys.iter().filter_map(|(name, descending)| at(name).map(|at| (at, *descending))).collect();
                    rows.sort_by(|a, b| {
                        positions
                            .iter()
                            .map(|(at, descending)| compare_sort(&a[*at], &b[*at], *descending))
                            .find(|order| order.is_ne())
                            .unwrap_or(Ordering::Equal)
                    });
                }
                RowStage::Where(name, comparison, bound) => {
                    let Some(at) = at(name) else {
                        rows.clear();
                        continue;
                    };
                    rows.retain(|row| numbers(&row[at]).iter().any(|number| comparison.holds(*number, *bound)));
                }
            }
        }
        if pipeline.aggregation.is_none() && rows.len() > limits.max_rows {
            rows.truncate(limits.max_rows);
            truncated = true;
        }
        let columns = shown
            .iter()
            .map(|at| Column { name: names[*at].clone(), kind: kinds.get(*at).copied().unwrap_or(ColumnType::Any) })
            .collect();
        // Aggregations show every column in order: their rows are the table's as they are.
        let identity = shown.len() == names.len() && shown.iter().enumerate().all(|(i, at)| i == *at);
        let rows = if identity {
            rows
        } else {
            rows.into_iter().map(|row| shown.iter().map(|at| row[*at].clone()).collect()).collect()
        };
        Table { columns, rows, truncated }
    }
}

/// Adds `count` events to a timechart's bucket of one value, refusing a new (bucket, value) pair past the
/// groups' limit.
fn add_to_bucket(
    buckets: &mut HashMap<i64, u64>,
    pairs: &mut usize,
    max_groups: usize,
    bucket: i64,
    count: u64,
) -> Result<(), PipeError> {
    match buckets.entry(bucket) {
        std::collections::hash_map::Entry::Occupied(mut entry) => *entry.get_mut() += count,
        std::collections::hash_map::Entry::Vacant(_) if *pairs >= max_groups => {
            return Err(PipeError::TooManyGroups(max_groups));
        }
        std::collections::hash_map::Entry::Vacant(entry) => {
            entry.insert(count);
            *pairs += 1;
        }
    }
    Ok(())
}

/// The columns of event rows without `fields`.
pub const DEFAULT_EVENT_COLUMNS: [&str; 5] = ["eventTime", "action", "outcome", "initiator.name", "target.name"];

/// The fields event rows need: the shown ones and those the row stages name.
fn event_fields(pipeline: &Pipeline) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    let mut add = |name: &str| {
        if !names.iter().any(|known| known == name) {
            names.push(name.to_string());
        }
    };
    if !pipeline.rows.iter().any(|stage| matches!(stage, RowStage::Fields(_))) {
        DEFAULT_EVENT_COLUMNS.iter().for_each(|name| add(name));
    }
    for stage in &pipeline.rows {
        match stage {
            RowStage::Fields(wanted) => wanted.iter().for_each(|name| add(name)),
            RowStage::Sort(keys) => keys.iter().for_each(|(name, _)| add(name)),
            RowStage::Where(name, ..) => add(name),
            RowStage::Head(_) => {}
        }
    }
    names
}

/// The time an event is bucketed by: its `eventTime`, or its arrival when it has none (what the index sorts by).
pub fn event_time(event: &EventView<'_>) -> Option<i64> {
    event
        .event
        .get("eventTime")
        .and_then(Value::as_str)
        .and_then(|text| acta_cadf::parse_time(text).ok())
        .or_else(|| acta_cadf::parse_time(event.received).ok())
}

/// The distinct texts of a field's values in an event, sorted; `[None]` without any.
fn distinct_texts(event: &EventView<'_>, field: &Field) -> Vec<Option<String>> {
    let mut texts: Vec<String> = field_values(event, field).iter().map(|value| value.text().into_owned()).collect();
    texts.sort_unstable();
    texts.dedup();
    if texts.is_empty() { vec![None] } else { texts.into_iter().map(Some).collect() }
}

/// Every combination of one key per field.
fn product(per_field: Vec<Vec<Option<String>>>) -> Vec<Vec<Option<String>>> {
    let mut keys: Vec<Vec<Option<String>>> = vec![Vec::new()];
    for values in per_field {
        keys = keys
            .into_iter()
            .flat_map(|key| {
                values.iter().map(move |value| {
                    let mut key = key.clone();
                    key.push(value.clone());
                    key
                })
            })
            .collect();
    }
    keys
}

/// An event row's cell: `null`, the one value, or an array of the values.
fn cell(values: &[FieldValue<'_>]) -> Value {
    let json = |value: &FieldValue<'_>| match value {
        FieldValue::Str(text) => Value::String(text.to_string()),
        FieldValue::Num(_, text) => serde_json::from_str(text).unwrap_or(Value::Null),
        FieldValue::Bool(flag) => Value::Bool(*flag),
    };
    match values {
        [] => Value::Null,
        [one] => json(one),
        many => Value::Array(many.iter().map(json).collect()),
    }
}

/// A number as JSON: whole numbers without a fraction.
fn number_cell(number: Option<f64>) -> Value {
    match number {
        None => Value::Null,
        Some(number) if number.fract() == 0.0 && number.abs() < 9.0e15 => Value::from(number as i64),
        Some(number) => serde_json::Number::from_f64(number).map_or(Value::Null, Value::Number),
    }
}

/// The numbers a cell holds, by the query language's rule (a string that reads as a number is one).
fn numbers(cell: &Value) -> Vec<f64> {
    match cell {
        Value::Number(number) => number.as_f64().into_iter().collect(),
        Value::String(text) => parse_number(text).into_iter().collect(),
        Value::Array(items) => items.iter().flat_map(numbers).collect(),
        _ => Vec::new(),
    }
}

/// Group keys: texts in byte order, `null` last.
fn compare_keys(a: Option<&str>, b: Option<&str>) -> Ordering {
    match (a, b) {
        (Some(a), Some(b)) => a.cmp(b),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

fn compare_rows(a: &[Value], b: &[Value]) -> Ordering {
    a.iter()
        .zip(b)
        .map(|(a, b)| compare_keys(a.as_str(), b.as_str()))
        .find(|order| order.is_ne())
        .unwrap_or(Ordering::Equal)
}

/// The order of `sort`: `null` last either way; otherwise [`compare_cells`], reversed when descending.
fn compare_sort(a: &Value, b: &Value, descending: bool) -> Ordering {
    match (a.is_null(), b.is_null()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        (false, false) => {
            let order = compare_cells(a, b);
            if descending { order.reverse() } else { order }
        }
    }
}

/// The order of cells: numbers (and strings that read as numbers) by value, then other strings by their bytes,
/// then booleans (false first); an array is ordered by its first element.
pub fn compare_cells(a: &Value, b: &Value) -> Ordering {
    fn rank(value: &Value) -> (u8, f64, &str, bool) {
        match value {
            Value::Array(items) => items.first().map_or((4, 0.0, "", false), rank),
            Value::Number(number) => (0, number.as_f64().unwrap_or(0.0), "", false),
            Value::String(text) => match parse_number(text) {
                Some(number) => (0, number, "", false),
                None => (1, 0.0, text.as_str(), false),
            },
            Value::Bool(flag) => (2, 0.0, "", *flag),
            _ => (4, 0.0, "", false),
        }
    }
    let (a, b) = (rank(a), rank(b));
    a.0.cmp(&b.0).then_with(|| a.1.total_cmp(&b.1)).then_with(|| a.2.cmp(b.2)).then_with(|| a.3.cmp(&b.3))
}
