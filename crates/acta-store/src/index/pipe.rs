//! Pipelines (`query | stats count by f`) over the index, with the answer of `acta_query::run` over the
//! events of the query: the same [`Runner`] builds the table, fed either counts the aggregations already give
//! exactly (the fast paths) or the matching events themselves, read from the log in result order.
//!
//! Fast paths:
//! - `stats count` (alone, by at most one field), `top`, `rare`: [`EventIndex::terms`] with every value, its
//!   `missing` the `null` group;
//! - `timechart span=S count [by f]` over a range with both ends: [`EventIndex::histogram`] with a boundary at
//!   each multiple of the span inside the range, its `missing` per bucket the `null` value.
//!
//! Everything else reads each matching event (an inexact query's candidates checked by the reference
//! evaluator first, as search does), bounded by the deadline and by [`PipeLimits::max_scanned`]: reaching a
//! limit is an error that names it, never a table of part of the events.

use std::time::Instant;

use acta_query::{Aggregate, Compiled, Field, PipeError, PipeLimits, Pipeline, PreparedEvent, Runner, Table};

use super::collect::{NewestFirst, SortedCollector};
use super::scope::Scopes;
use super::{Aggregation, EventIndex, IndexError, InstanceScope, PartitionQuery, tantivy_error};

/// Most buckets a timechart's fast path asks the histogram for; a finer one reads the events.
const MAX_FAST_BUCKETS: i64 = 100_000;

/// A pipeline's aggregation as one of the index's own.
enum Fast {
    /// The count of every value of a field (`null`: events without one, when the rows show them).
    Terms { field: Field, with_missing: bool },
    /// `stats count` without `by`.
    Count,
    /// Counts per bucket, split over a field's values.
    Timechart { span_ns: i64, by: Option<Field> },
}

fn fast_path(pipeline: &Pipeline) -> Option<Fast> {
    match pipeline.aggregation.as_ref()? {
        acta_query::Aggregation::Stats { aggregates, by } if aggregates.iter().all(|a| *a == Aggregate::Count) => {
            match by.as_slice() {
                [] => Some(Fast::Count),
                [field] => Some(Fast::Terms { field: field.clone(), with_missing: true }),
                _ => None,
            }
        }
        acta_query::Aggregation::Top { field, .. } => Some(Fast::Terms { field: field.clone(), with_missing: false }),
        acta_query::Aggregation::Timechart { span_ns, by, .. } => {
            Some(Fast::Timechart { span_ns: *span_ns, by: by.clone() })
        }
        acta_query::Aggregation::Stats { .. } => None,
    }
}

impl EventIndex {
    /// Runs a pipeline over the events of `on` (its query is `pipeline.query`; the caller passes both).
    pub fn pipe(&self, on: &Aggregation<'_>, pipeline: &Pipeline, limits: PipeLimits) -> Result<Table, IndexError> {
        let mut runner = Runner::new(pipeline, limits);
        match fast_path(pipeline) {
            Some(Fast::Count) => {
                let count = self.count(on.scopes, on.query, on.from, on.to, on.deadline)?;
                runner.add_group(Vec::new(), count)?;
            }
            Some(Fast::Terms { field, with_missing }) => {
                let terms = self.terms(on, &field, usize::MAX)?;
                if usize::try_from(terms.distinct).unwrap_or(usize::MAX) > limits.max_groups {
                    return Err(PipeError::TooManyGroups(limits.max_groups).into());
                }
                for (value, count) in terms.values {
                    runner.add_group(vec![Some(value)], count)?;
                }
                if with_missing && terms.missing > 0 {
                    runner.add_group(vec![None], terms.missing)?;
                }
            }
            Some(Fast::Timechart { span_ns, by }) if self.fast_range(on, span_ns).is_some() => {
                let (from, to, starts) = self.fast_range(on, span_ns).unwrap_or_default();
                let bounded = Aggregation { from: Some(from), to: Some(to), ..*on };
                let histogram = self.histogram(&bounded, &starts[1..], by.as_ref(), usize::MAX)?;
                match histogram.breakdown {
                    None => runner.add_series(&starts, None, &histogram.counts)?,
                    Some(breakdown) => {
                        for series in breakdown.top {
                            runner.add_series(&starts, Some(series.value), &series.counts)?;
                        }
                        runner.add_series(&starts, None, &breakdown.missing)?;
                    }
                }
            }
            _ => self.scan(on, &mut runner, limits)?,
        }
        Ok(runner.finish())
    }

    /// Feeds the runner every matching event, in result order (newest eventTime first).
    fn scan(&self, on: &Aggregation<'_>, runner: &mut Runner, limits: PipeLimits) -> Result<(), IndexError> {
        let scopes = Scopes::new(on.scopes);
        let compiled = Compiled::new(on.query);
        let past_deadline = || on.deadline.is_some_and(|deadline| Instant::now() > deadline);
        let mut keys = Vec::new();
        for (partition, present) in self.inner.partitions_for(&scopes, on.from, on.to, None) {
            if past_deadline() {
                return Err(IndexError::Deadline { examined: 0 });
            }
            let PartitionQuery { searcher, query, exact, .. } =
                self.inner.partition_query(&scopes, &present, &partition, on.query, on.from, on.to);
            let collector = SortedCollector::<NewestFirst>::new(scopes.instances().clone(), None, None);
            let found = searcher.search(&query, &collector).map_err(|source| tantivy_error(&partition.name, source))?;
            keys.extend(found.into_iter().map(|key| (key, exact)));
            if keys.len() > limits.max_scanned {
                return Err(PipeError::TooManyEvents(limits.max_scanned).into());
            }
        }
        keys.sort_unstable_by_key(|key| std::cmp::Reverse(key.0));
        for (examined, ((_, _, position, seq), exact)) in (0u64..).zip(keys) {
            if past_deadline() {
                return Err(IndexError::Deadline { examined });
            }
            let scope = scopes.get(position as usize);
            let record = self.inner.read_record(&scope.instance, seq)?;
            let pushed = crate::ingest::publish::with_record_view(scope, &record, |view| {
                if !exact && !compiled.matches(&PreparedEvent::new(*view)) {
                    return Ok(true);
                }
                runner.push(view)
            });
            match pushed {
                Some(Ok(true)) | None => {}
                Some(Ok(false)) => break,
                Some(Err(error)) => return Err(error.into()),
            }
        }
        Ok(())
    }
}

impl EventIndex {
    /// The range a timechart's histogram covers, and the starts of its buckets, aligned to the span: the first
    /// is the start of the bucket holding `from`, the others are the histogram's boundaries. An open end is
    /// the scopes' earliest or latest eventTime now indexed, which changes no count of this snapshot. `None`
    /// with no events or too many buckets.
    fn fast_range(&self, on: &Aggregation<'_>, span_ns: i64) -> Option<(i64, i64, Vec<i64>)> {
        let (from, to) = match (on.from, on.to) {
            (Some(from), Some(to)) => (from, to),
            _ => {
                let (min, max) = self.time_bounds(on.scopes)?;
                (on.from.unwrap_or(min), on.to.unwrap_or(max.saturating_add(1)))
            }
        };
        buckets(from, to, span_ns).map(|starts| (from, to, starts))
    }

    /// The earliest and latest eventTime of the instances' events now indexed (`None` without any), from the
    /// partitions' catalogs: no document is read.
    pub fn time_bounds(&self, instances: &[InstanceScope]) -> Option<(i64, i64)> {
        let scopes = Scopes::new(instances);
        let mut bounds: Option<(i64, i64)> = None;
        for (partition, present) in self.inner.partitions_for(&scopes, None, None, None) {
            let info = super::lock(&partition.info);
            for position in present {
                let Some(info) = info.get(&scopes.get(position).instance) else {
                    continue;
                };
                if let (Some(min), Some(max)) = (info.time_min, info.time_max) {
                    bounds = Some(bounds.map_or((min, max), |(low, high)| (low.min(min), high.max(max))));
                }
            }
        }
        bounds
    }
}

impl EventIndex {
    /// How many events of the instances are indexed now, from the partitions' catalogs: no document is read.
    /// The insights job compares it between runs to notice events that arrived late.
    pub fn indexed_events(&self, instances: &[InstanceScope]) -> u64 {
        let scopes = Scopes::new(instances);
        let mut total = 0;
        for (partition, present) in self.inner.partitions_for(&scopes, None, None, None) {
            let info = super::lock(&partition.info);
            total += present
                .into_iter()
                .filter_map(|position| info.get(&scopes.get(position).instance))
                .map(|info| info.events)
                .sum::<u64>();
        }
        total
    }
}

fn buckets(from: i64, to: i64, span_ns: i64) -> Option<Vec<i64>> {
    if to <= from || (to - from) / span_ns > MAX_FAST_BUCKETS {
        return None;
    }
    let first = from.div_euclid(span_ns) * span_ns;
    let mut starts = vec![first];
    let mut next = first + span_ns;
    while next < to {
        starts.push(next);
        next += span_ns;
    }
    Some(starts)
}
