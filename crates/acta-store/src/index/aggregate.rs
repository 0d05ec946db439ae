//! Aggregations: how many events match per time bucket, and how they split over the values of a field.
//!
//! Counts are the search's counts by construction: each partition's query is the one `search` and `count` run
//! (the same translation, the same time range), and an inexact translation has every candidate checked by the
//! reference evaluator on the event read from the log, exactly as `count` does. A bucket count is therefore
//! what `count` answers over the bucket's range.
//!
//! The values of a field are `acta_query::field_values`' values, compared as text (`FieldValue::text`: a number
//! is its JSON text, so the number `200` and the string `"200"` are one value, as they are to `field:===200`).
//! An event counts once for each distinct value it has (an array `["a","a","b"]` counts once for `a` and once
//! for `b`); an event without the field counts in no value, but in its bucket and in `missing`. So for a field
//! every event has exactly once, the top values plus `other` sum to the bucket count.
//!
//! Where the values come from, fastest first:
//! 1. the columns of the common fields (`schema::COLUMNS`), read per matching document;
//! 2. for any other path, the `equals_cs` terms of the path (`path SEP value`), whose posting lists are
//!    intersected with the matching documents: built from the same flattening as the query terms, they hold
//!    exactly `field_values`' texts;
//! 3. the event itself, read from the log: for candidates of inexact queries (read anyway to verify them), for
//!    values the index holds truncated (longer than `MAX_TERM_VALUE`), and for paths the index cannot name
//!    (a segment that is empty or holds one of the index's separator characters).
//!
//! `_account`, `_instance` and `_region` are the instance's own: every event of an instance has its value.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use acta_query::{Compiled, EventView, Field, PreparedEvent, Query, field_values};
use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::{Cardinality, Column, StrColumn};
use tantivy::query::{EnableScoring, Weight};
use tantivy::schema::IndexRecordOption;
use tantivy::{DocId, DocSet, Score, SegmentOrdinal, SegmentReader, TERMINATED};

use super::collect::InstanceColumn;
use super::schema::{DERIVED, SEP, TRUNCATED, field_path, held_truncated};
use super::scope::Scopes;
use super::{EventIndex, IndexError, IndexOptions, Inner, InstanceScope, Partition, PartitionQuery, tantivy_error};

/// What to aggregate: a query over some instances and an eventTime range (`from` inclusive, `to` exclusive).
pub struct Aggregation<'a> {
    /// Where to look.
    pub scopes: &'a [InstanceScope],
    /// What to match.
    pub query: &'a Query,
    /// eventTime lower bound, inclusive, unix ns.
    pub from: Option<i64>,
    /// eventTime upper bound, exclusive, unix ns.
    pub to: Option<i64>,
    /// When to give up.
    pub deadline: Option<Instant>,
}

/// Counts per time bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Histogram {
    /// Matching events per bucket.
    pub counts: Vec<u64>,
    /// The split over a field's values, when one was asked for.
    pub breakdown: Option<Breakdown>,
}

/// How a histogram's events split over the values of a field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Breakdown {
    /// The most frequent values over the whole range, most frequent first (ties by value).
    pub top: Vec<Series>,
    /// Per bucket, the events counted for values outside `top` (an event with two such values counts twice).
    pub other: Vec<u64>,
    /// Per bucket, the events without any value of the field.
    pub missing: Vec<u64>,
    /// How many distinct values the matching events have.
    pub distinct: u64,
}

/// One value of a field and its counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Series {
    /// The value's text.
    pub value: String,
    /// Events with this value over the whole range.
    pub total: u64,
    /// Events with this value per bucket.
    pub counts: Vec<u64>,
}

/// The top values of a field among the matching events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Terms {
    /// Matching events.
    pub total: u64,
    /// The most frequent values and how many events have each, most frequent first (ties by value).
    pub values: Vec<(String, u64)>,
    /// Events counted for the other values (an event with two such values counts twice).
    pub other: u64,
    /// Matching events without any value of the field.
    pub missing: u64,
    /// How many distinct values the matching events have.
    pub distinct: u64,
}

impl EventIndex {
    /// Counts matching events per bucket. `boundaries` are the instants, strictly increasing and inside
    /// `(from, to)`, where one bucket ends and the next begins: bucket `i` runs from `boundaries[i - 1]` (or
    /// `from`) to `boundaries[i]` (or `to`), so there are `boundaries.len() + 1` buckets. With `by`, the
    /// events are also split over the field's `top` most frequent values (see the module documentation).
    pub fn histogram(
        &self,
        on: &Aggregation<'_>,
        boundaries: &[i64],
        by: Option<&Field>,
        top: usize,
    ) -> Result<Histogram, IndexError> {
        let scopes = Scopes::new(on.scopes);
        let mut run = Run::new(&self.inner, on, boundaries, by);
        for (partition, present) in self.inner.partitions_for(&scopes, on.from, on.to, None) {
            run.partition(&scopes, &present, &partition)?;
        }
        Ok(run.finish(top))
    }

    /// The `top` most frequent values of `field` among the matching events.
    pub fn terms(&self, on: &Aggregation<'_>, field: &Field, top: usize) -> Result<Terms, IndexError> {
        let histogram = self.histogram(on, &[], Some(field), top)?;
        let total = histogram.counts.first().copied().unwrap_or(0);
        let Some(breakdown) = histogram.breakdown else {
            return Ok(Terms { total, values: Vec::new(), other: 0, missing: total, distinct: 0 });
        };
        let first = |counts: &[u64]| counts.first().copied().unwrap_or(0);
        Ok(Terms {
            total,
            values: breakdown.top.into_iter().map(|series| (series.value, series.total)).collect(),
            other: first(&breakdown.other),
            missing: first(&breakdown.missing),
            distinct: breakdown.distinct,
        })
    }
}

/// The field a breakdown is by, and where its values are found.
struct By {
    field: Field,
    /// Where the values come from in a partition's documents.
    source: Source,
}

#[derive(Clone)]
enum Source {
    /// `_account`, `_instance`, `_region`: one value per instance.
    Instance,
    /// A column of `schema::COLUMNS` (tantivy field name), with the `equals_cs` path for partitions without it.
    Column(&'static str, String),
    /// The `equals_cs` terms under this path.
    Terms(String),
    /// Only the events themselves know.
    Log,
}

impl By {
    fn new(field: &Field) -> By {
        let source = match field_path(field) {
            None => Source::Instance,
            Some(_) if !indexable(field) => Source::Log,
            Some(path) => match super::schema::COLUMNS.iter().find(|(name, _)| Field::from_name(name) == *field) {
                Some((_, column)) => Source::Column(column, path),
                None => Source::Terms(path),
            },
        };
        By { field: field.clone(), source }
    }
}

/// Whether the index holds the field's values under its path: documents drop keys that are empty or hold a
/// separator character (see `schema::flatten`), while the evaluator can still reach such keys.
fn indexable(field: &Field) -> bool {
    match field {
        Field::Path(segments) => {
            segments.iter().all(|segment| !segment.is_empty() && !segment.contains([SEP, DERIVED, TRUNCATED]))
        }
        _ => true,
    }
}

/// Counts of one value: a total, and (bucket, count) runs in the order documents were met. Documents of a
/// partition are mostly in time order, so the runs stay short; a value with one event costs one run, which
/// keeps high-cardinality fields (ids) affordable where a dense row of buckets per value would not be.
/// Values a segment counted densely (few values: a timechart by action) keep a dense row instead, added up
/// across segments cell by cell: as runs, a week's hours made each segment's merge a few thousand pushes.
#[derive(Default)]
struct ValueCounts {
    total: u64,
    runs: Vec<(usize, u64)>,
    /// Empty, or a count per bucket (on top of `runs`).
    dense: Vec<u64>,
}

impl ValueCounts {
    fn add(&mut self, bucket: usize, count: u64) {
        self.total += count;
        self.push_run(bucket, count);
    }

    fn push_run(&mut self, bucket: usize, count: u64) {
        match self.runs.last_mut() {
            Some((last, n)) if *last == bucket => *n += count,
            _ => self.runs.push((bucket, count)),
        }
    }

    fn merge(&mut self, other: ValueCounts) {
        self.total += other.total;
        for (bucket, count) in other.runs {
            self.push_run(bucket, count);
        }
        if self.dense.is_empty() {
            self.dense = other.dense;
        } else {
            for (cell, count) in self.dense.iter_mut().zip(other.dense) {
                *cell += count;
            }
        }
    }

    /// Each bucket's count, runs and dense row together.
    fn per_bucket(&self) -> impl Iterator<Item = (usize, u64)> + '_ {
        self.runs.iter().copied().chain(self.dense.iter().copied().enumerate().filter(|(_, count)| *count > 0))
    }
}

/// A matching document of a segment.
#[derive(Clone, Copy)]
struct Matched {
    doc: DocId,
    bucket: usize,
    /// The position of its instance among the scopes.
    scope: u32,
    seq: u64,
}

/// One aggregation under way.
struct Run<'a> {
    inner: &'a Inner,
    on: &'a Aggregation<'a>,
    compiled: Compiled,
    buckets: Buckets,
    by: Option<By>,
    counts: Vec<u64>,
    /// Per bucket, events with at least one value of the field.
    with_value: Vec<u64>,
    values: HashMap<String, ValueCounts>,
    /// Candidates read from the log, for the deadline's report.
    examined: u64,
}

impl<'a> Run<'a> {
    fn new(inner: &'a Inner, on: &'a Aggregation<'a>, boundaries: &[i64], by: Option<&Field>) -> Run<'a> {
        let buckets = boundaries.len() + 1;
        Run {
            inner,
            on,
            compiled: Compiled::new(on.query),
            buckets: Buckets::new(boundaries),
            by: by.map(By::new),
            counts: vec![0; buckets],
            with_value: vec![0; buckets],
            values: HashMap::new(),
            examined: 0,
        }
    }

    fn check_deadline(&self) -> Result<(), IndexError> {
        if self.on.deadline.is_some_and(|deadline| Instant::now() > deadline) {
            return Err(IndexError::Deadline { examined: self.examined });
        }
        Ok(())
    }

    fn partition(&mut self, scopes: &Scopes, present: &[usize], partition: &Partition) -> Result<(), IndexError> {
        self.check_deadline()?;
        let PartitionQuery { searcher, query, exact, unrestricted } =
            self.inner.partition_query(scopes, present, partition, self.on.query, self.on.from, self.on.to);
        // An exact query by a column's field is counted while collecting: one pass, no list of the matches.
        let counted_column = match self.by.as_ref().map(|by| &by.source) {
            Some(Source::Column(column, _)) if exact && searcher.schema().get_field(column).is_ok() => Some(*column),
            _ => None,
        };
        let keep_docs = !exact || (self.by.is_some() && counted_column.is_none());
        let collector = BucketCollector {
            buckets: self.buckets.clone(),
            keep_docs,
            instances: scopes.instances().clone(),
            column: counted_column,
            range: None,
        };
        let segments = if exact {
            let mut present: Vec<&str> =
                present.iter().map(|position| scopes.get(*position).instance.as_str()).collect();
            present.sort_unstable();
            let range = (self.on.from.is_some() || self.on.to.is_some())
                .then(|| (self.on.from.unwrap_or(i64::MIN), self.on.to));
            search_segments(
                &self.inner.options,
                &searcher,
                query.as_ref(),
                unrestricted.as_ref(),
                &collector,
                &present,
                range,
            )
        } else {
            searcher.search(&query, &collector)
        }
        .map_err(|source| tantivy_error(&partition.name, source))?;
        for segment in segments {
            if !exact {
                self.verified(scopes, &segment.docs)?;
                continue;
            }
            for (total, count) in self.counts.iter_mut().zip(&segment.counts) {
                *total += count;
            }
            let Some((field, source)) = self.by.as_ref().map(|by| (by.field.clone(), by.source.clone())) else {
                continue;
            };
            let reader = searcher.segment_reader(segment.ordinal);
            let mut docs = segment.docs;
            if !docs.is_sorted_by_key(|matched| matched.doc) {
                docs.sort_unstable_by_key(|matched| matched.doc);
            }
            let from_log = match &source {
                Source::Instance => {
                    for matched in &docs {
                        let value = instance_value(&field, scopes.get(matched.scope as usize));
                        self.values.entry(value.to_string()).or_default().add(matched.bucket, 1);
                        self.with_value[matched.bucket] += 1;
                    }
                    Vec::new()
                }
                Source::Log => docs,
                // Counted by the collector; `docs` are the matches with a truncated value. A segment without
                // the column has no value to count.
                Source::Column(..) if counted_column.is_some() => {
                    if let Some(values) = segment.values {
                        let values = values.map_err(|source| io_error(&partition.name, source))?;
                        for (total, count) in self.with_value.iter_mut().zip(&values.with_value) {
                            *total += count;
                        }
                        for (text, counts) in values.values {
                            self.add_value(text, counts);
                        }
                    }
                    docs
                }
                // Not reached while partitions are rebuilt on a schema change; kept so that a partition without
                // the column still answers, from the terms.
                Source::Column(_, path) | Source::Terms(path) => {
                    self.count_terms(reader, path, &docs, &partition.name)?
                }
            };
            // Documents sent here by the index have their other values counted already, and count as having
            // a value; only their truncated values are read from the event.
            let only_truncated = !matches!(source, Source::Log);
            for matched in from_log {
                self.examined += 1;
                self.check_deadline()?;
                let scope = scopes.get(matched.scope as usize);
                let record = self.inner.read_record(&scope.instance, matched.seq)?;
                let texts =
                    crate::ingest::publish::with_record_view(scope, &record, |view| distinct_texts(view, &field))
                        .unwrap_or_default();
                let mut any = false;
                for text in texts.into_iter().filter(|text| !only_truncated || held_truncated(text)) {
                    any = true;
                    self.values.entry(text).or_default().add(matched.bucket, 1);
                }
                if any && !only_truncated {
                    self.with_value[matched.bucket] += 1;
                }
            }
        }
        Ok(())
    }

    /// Candidates of an inexact query: each is read, checked by the reference evaluator, and, when it
    /// matches, counted with the values it has.
    fn verified(&mut self, scopes: &Scopes, docs: &[Matched]) -> Result<(), IndexError> {
        for matched in docs {
            self.check_deadline()?;
            self.examined += 1;
            let scope = scopes.get(matched.scope as usize);
            let record = self.inner.read_record(&scope.instance, matched.seq)?;
            let compiled = &self.compiled;
            let field = self.by.as_ref().map(|by| &by.field);
            let verdict = crate::ingest::publish::with_record_view(scope, &record, |view| {
                compiled.matches(&PreparedEvent::new(*view)).then(|| field.map(|field| distinct_texts(view, field)))
            });
            let Some(Some(texts)) = verdict else {
                continue;
            };
            self.counts[matched.bucket] += 1;
            let Some(texts) = texts else {
                continue;
            };
            if !texts.is_empty() {
                self.with_value[matched.bucket] += 1;
            }
            for text in texts {
                self.values.entry(text).or_default().add(matched.bucket, 1);
            }
        }
        Ok(())
    }

    /// Values from the `equals_cs` terms of `path`: each term's posting list intersected with the matching
    /// documents. Returns the documents with a truncated value.
    fn count_terms(
        &mut self,
        reader: &SegmentReader,
        path: &str,
        docs: &[Matched],
        partition: &str,
    ) -> Result<Vec<Matched>, IndexError> {
        let inverted =
            reader.inverted_index(self.inner.fields.equals_cs).map_err(|source| tantivy_error(partition, source))?;
        let prefix = format!("{path}{SEP}");
        // Every term of the path, and nothing else: paths hold no SEP, so `path SEP` is followed by the value.
        let upper = format!("{path}{}", char::from_u32(u32::from(SEP) + 1).unwrap_or(SEP));
        let mut stream = inverted
            .terms()
            .range()
            .ge(prefix.as_bytes())
            .lt(upper.as_bytes())
            .into_stream()
            .map_err(|source| io_error(partition, source))?;
        let mut has_value = vec![false; docs.len()];
        let mut to_log = vec![false; docs.len()];
        while stream.advance() {
            let Some(value) = stream.key().get(prefix.len()..).and_then(|bytes| std::str::from_utf8(bytes).ok()) else {
                continue;
            };
            let truncated = held_truncated(value);
            let mut postings = inverted
                .read_postings_from_terminfo(stream.value(), IndexRecordOption::Basic)
                .map_err(|source| io_error(partition, source))?;
            let mut counts = ValueCounts::default();
            // Leapfrog intersection: cheap both for values on few documents (skip through the matches) and
            // for selective queries (skip through the postings).
            let mut i = 0;
            let mut doc = postings.doc();
            while doc != TERMINATED && i < docs.len() {
                let wanted = docs[i].doc;
                if wanted < doc {
                    i += docs[i..].partition_point(|matched| matched.doc < doc);
                } else if wanted > doc {
                    doc = postings.seek(wanted);
                } else {
                    has_value[i] = true;
                    if truncated {
                        to_log[i] = true;
                    } else {
                        counts.add(docs[i].bucket, 1);
                    }
                    i += 1;
                    doc = postings.advance();
                }
            }
            if counts.total > 0 {
                self.add_value(value.to_string(), counts);
            }
        }
        for (matched, _) in docs.iter().zip(&has_value).filter(|(_, has)| **has) {
            self.with_value[matched.bucket] += 1;
        }
        Ok(docs.iter().zip(to_log).filter(|(_, to_log)| *to_log).map(|(matched, _)| *matched).collect())
    }

    fn add_value(&mut self, value: String, counts: ValueCounts) {
        match self.values.get_mut(&value) {
            Some(existing) => existing.merge(counts),
            None => {
                self.values.insert(value, counts);
            }
        }
    }

    fn finish(self, top: usize) -> Histogram {
        let buckets = self.counts.len();
        let Some(_) = self.by else {
            return Histogram { counts: self.counts, breakdown: None };
        };
        let mut occurrences = vec![0u64; buckets];
        let mut values: Vec<(String, ValueCounts)> = self.values.into_iter().collect();
        for (_, counts) in &values {
            for (bucket, count) in counts.per_bucket() {
                occurrences[bucket] += count;
            }
        }
        values.sort_unstable_by(|a, b| b.1.total.cmp(&a.1.total).then_with(|| a.0.cmp(&b.0)));
        let distinct = values.len() as u64;
        values.truncate(top);
        let mut other = occurrences;
        let top: Vec<Series> = values
            .into_iter()
            .map(|(value, counts)| {
                let mut per_bucket = vec![0u64; buckets];
                for (bucket, count) in counts.per_bucket() {
                    per_bucket[bucket] += count;
                    other[bucket] = other[bucket].saturating_sub(count);
                }
                Series { value, total: counts.total, counts: per_bucket }
            })
            .collect();
        let missing =
            self.counts.iter().zip(&self.with_value).map(|(count, with)| count.saturating_sub(*with)).collect();
        Histogram { counts: self.counts, breakdown: Some(Breakdown { top, other, missing, distinct }) }
    }
}

/// The value every event of an instance has for `_account`, `_instance` or `_region`.
fn instance_value<'s>(field: &Field, scope: &'s InstanceScope) -> &'s str {
    match field {
        Field::Account => &scope.account,
        Field::Instance => &scope.instance,
        _ => &scope.region,
    }
}

/// The distinct texts of the field's values in an event.
fn distinct_texts(view: &EventView<'_>, field: &Field) -> Vec<String> {
    let mut texts: Vec<String> = field_values(view, field).iter().map(|value| value.text().into_owned()).collect();
    texts.sort_unstable();
    texts.dedup();
    texts
}

fn io_error(partition: &str, source: std::io::Error) -> IndexError {
    tantivy_error(partition, tantivy::TantivyError::from(source))
}

/// Collects each segment's matches. A segment whose documents all belong to the present instances
/// (`scope::owned`) is searched with the translated query alone, its time range checked by the collector on
/// the eventTime it reads anyway: on a partition of few tenants, the restricted query's intersection of the
/// instance's postings, the time range and the query cost more than the counting itself. Any other segment is
/// searched with the restricted query.
///
/// A partition with many documents has its segments collected on several threads (`IndexOptions`'
/// `aggregation_threads` and `parallel_from_documents`). Fruits come back in segment order, as one thread
/// gives them.
fn search_segments(
    options: &IndexOptions,
    searcher: &tantivy::Searcher,
    restricted: &dyn tantivy::query::Query,
    unrestricted: &dyn tantivy::query::Query,
    collector: &BucketCollector,
    present: &[&str],
    range: Option<(i64, Option<i64>)>,
) -> tantivy::Result<Vec<SegmentMatches>> {
    let scoring = EnableScoring::disabled_from_searcher(searcher);
    let restricted = restricted.weight(scoring)?;
    let mut unrestricted_weight: Option<Box<dyn Weight>> = None;
    let checking_time = BucketCollector { range, ..collector.clone() };
    let mut work: Vec<SegmentWork<'_>> = Vec::new();
    for (ordinal, reader) in (0u32..).zip(searcher.segment_readers()) {
        // The collector's check sees one eventTime per document, where the range query would accept any.
        let single_time = reader.fast_fields().i64("time")?.get_cardinality() != Cardinality::Multivalued;
        let owned = single_time && super::scope::owned(reader, present)?;
        if owned && unrestricted_weight.is_none() {
            unrestricted_weight = Some(unrestricted.weight(scoring)?);
        }
        work.push((ordinal, reader, owned));
    }
    let collect = |(ordinal, reader, owned): SegmentWork<'_>| match (owned, &unrestricted_weight) {
        (true, Some(weight)) => checking_time.collect_segment(weight.as_ref(), ordinal, reader),
        _ => collector.collect_segment(restricted.as_ref(), ordinal, reader),
    };
    let documents: u64 = work.iter().map(|(_, reader, _)| u64::from(reader.max_doc())).sum();
    let threads =
        if documents < options.parallel_from_documents { 1 } else { options.aggregation_threads.min(work.len()) };
    if threads <= 1 {
        let fruits = work.into_iter().map(collect).collect::<tantivy::Result<Vec<_>>>()?;
        return collector.merge_fruits(fruits);
    }
    // Largest segments first, each to the thread with the fewest documents so far.
    work.sort_unstable_by_key(|(_, reader, _)| std::cmp::Reverse(reader.max_doc()));
    let mut shares: Vec<(u64, Vec<SegmentWork<'_>>)> = vec![(0, Vec::new()); threads];
    for segment in work {
        if let Some(lightest) = shares.iter_mut().min_by_key(|(documents, _)| *documents) {
            lightest.0 += u64::from(segment.1.max_doc());
            lightest.1.push(segment);
        }
    }
    let mut collected: Vec<(SegmentOrdinal, Vec<SegmentMatches>)> = Vec::new();
    std::thread::scope(|scope| -> tantivy::Result<()> {
        let mut shares = shares.into_iter().map(|(_, segments)| segments);
        let own = shares.next().unwrap_or_default();
        let spawned: Vec<_> = shares
            .map(|segments| {
                scope.spawn(|| {
                    segments
                        .into_iter()
                        .map(|segment| Ok((segment.0, collect(segment)?)))
                        .collect::<tantivy::Result<Vec<_>>>()
                })
            })
            .collect();
        for segment in own {
            collected.push((segment.0, collect(segment)?));
        }
        for handle in spawned {
            let fruits = handle
                .join()
                .map_err(|_| tantivy::TantivyError::InternalError("a thread collecting segments panicked".into()))??;
            collected.extend(fruits);
        }
        Ok(())
    })?;
    collected.sort_unstable_by_key(|(ordinal, _)| *ordinal);
    collector.merge_fruits(collected.into_iter().map(|(_, fruit)| fruit).collect())
}

/// A segment to collect: its ordinal, its reader, and whether it is searched without the restriction.
type SegmentWork<'s> = (SegmentOrdinal, &'s SegmentReader, bool);

/// Which bucket an eventTime falls in.
#[derive(Clone)]
struct Buckets {
    boundaries: Arc<[i64]>,
    /// The first boundary and the step, when the boundaries are evenly spaced (a timechart's): the bucket is
    /// then a division away rather than a binary search per document.
    even: Option<(i64, i64)>,
}

impl Buckets {
    fn new(boundaries: &[i64]) -> Buckets {
        let even = match boundaries {
            [first, second, ..] => {
                let step = second.saturating_sub(*first);
                let even = step > 0 && boundaries.windows(2).all(|pair| pair[1].checked_sub(pair[0]) == Some(step));
                even.then_some((*first, step))
            }
            _ => None,
        };
        Buckets { boundaries: Arc::from(boundaries), even }
    }

    fn len(&self) -> usize {
        self.boundaries.len() + 1
    }

    /// Bucket `i` runs from `boundaries[i - 1]` (inclusive) to `boundaries[i]` (exclusive).
    fn of(&self, time: i64) -> usize {
        if let Some((first, step)) = self.even {
            if time < first {
                return 0;
            }
            // `time - first` is at least 0; saturating keeps a sum past i64::MAX in the last bucket.
            let steps = time.saturating_sub(first) / step;
            return usize::try_from(steps)
                .map_or(self.boundaries.len(), |steps| steps.saturating_add(1).min(self.boundaries.len()));
        }
        self.boundaries.partition_point(|boundary| *boundary <= time)
    }
}

/// Counts matching documents per bucket, and keeps them when their values or their verification are needed.
#[derive(Clone)]
struct BucketCollector {
    buckets: Buckets,
    keep_docs: bool,
    instances: Arc<[String]>,
    /// The column whose values are counted per bucket while collecting.
    column: Option<&'static str>,
    /// The eventTime range (`from` inclusive, `to` exclusive) the collector checks itself, for a segment
    /// searched without it.
    range: Option<(i64, Option<i64>)>,
}

/// What one segment matched.
struct SegmentMatches {
    ordinal: SegmentOrdinal,
    counts: Vec<u64>,
    /// The matches kept: all of them with `keep_docs`, else those with a value the column holds truncated.
    docs: Vec<Matched>,
    /// The column's values counted, when it was asked for and the segment has it.
    values: Option<std::io::Result<ColumnValues>>,
}

struct BucketSegmentCollector {
    buckets: Buckets,
    keep_docs: bool,
    range: Option<(i64, Option<i64>)>,
    instance: InstanceColumn,
    time: Column<i64>,
    seq: Column<u64>,
    counter: Option<ColumnCounter>,
    matches: SegmentMatches,
}

impl Collector for BucketCollector {
    type Fruit = Vec<SegmentMatches>;
    type Child = BucketSegmentCollector;

    fn for_segment(&self, ordinal: SegmentOrdinal, reader: &SegmentReader) -> tantivy::Result<Self::Child> {
        let fast = reader.fast_fields();
        let buckets = self.buckets.len();
        let counter = match self.column {
            Some(column) => fast.str(column)?.map(|column| ColumnCounter::new(column, buckets)),
            None => None,
        };
        Ok(BucketSegmentCollector {
            buckets: self.buckets.clone(),
            keep_docs: self.keep_docs,
            range: self.range,
            instance: InstanceColumn::open(reader, self.instances.clone())?,
            time: fast.i64("time")?,
            seq: fast.u64("seq")?,
            counter,
            matches: SegmentMatches { ordinal, counts: vec![0; buckets], docs: Vec::new(), values: None },
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<Vec<SegmentMatches>>) -> tantivy::Result<Vec<SegmentMatches>> {
        Ok(fruits.into_iter().flatten().collect())
    }
}

impl SegmentCollector for BucketSegmentCollector {
    type Fruit = Vec<SegmentMatches>;

    fn collect(&mut self, doc: DocId, _score: Score) {
        let instance = self.instance.column_ord(doc);
        let value = self.counter.as_ref().and_then(|counter| counter.single_ord(doc));
        self.take(doc, self.time.first(doc), instance, value);
    }

    /// A block of matches (a segment without deletes): each column is read once per block.
    fn collect_block(&mut self, docs: &[DocId]) {
        let mut times = [None; BLOCK];
        let mut instances = [None; BLOCK];
        let mut values = [None; BLOCK];
        for chunk in docs.chunks(BLOCK) {
            let n = chunk.len();
            times[..n].fill(None);
            self.time.first_vals(chunk, &mut times[..n]);
            self.instance.ords(chunk, &mut instances[..n]);
            if let Some(counter) = &self.counter {
                counter.single_ords(chunk, &mut values[..n]);
            }
            for (i, doc) in chunk.iter().enumerate() {
                self.take(*doc, times[i], instances[i], values[i]);
            }
        }
    }

    fn harvest(mut self) -> Vec<SegmentMatches> {
        self.matches.values = self.counter.map(ColumnCounter::finish);
        vec![self.matches]
    }
}

/// Documents read per block of column values.
const BLOCK: usize = 64;

impl BucketSegmentCollector {
    /// Counts a match, given its eventTime, the term ordinal of its instance, and the term ordinal of its
    /// value when the counted column has at most one per document.
    fn take(&mut self, doc: DocId, time: Option<i64>, instance: Option<u64>, value: Option<u64>) {
        if let Some((from, to)) = self.range {
            // The range query this check stands for matches no document without a time.
            let Some(time) = time else {
                return;
            };
            if time < from || to.is_some_and(|to| time >= to) {
                return;
            }
        }
        // Every document has a time (the query's time range even requires it); the minimum would only put a
        // document without one in the first bucket, not lose it.
        let bucket = self.buckets.of(time.unwrap_or(i64::MIN));
        // A restricted query matches only documents of in-scope instances, and a segment searched without the
        // restriction holds no others: this never skips, and costs a lookup in a short table.
        let Some(scope) = self.instance.scope_of_ord(instance) else {
            return;
        };
        self.matches.counts[bucket] += 1;
        let truncated = match self.counter.as_mut() {
            Some(counter) if counter.single => counter.add_ord(value, bucket),
            Some(counter) => counter.add(doc, bucket),
            None => false,
        };
        if self.keep_docs || truncated {
            let seq = self.seq.first(doc).unwrap_or(0);
            self.matches.docs.push(Matched { doc, bucket, scope, seq });
        }
    }
}

/// A segment's values of a column, with their counts per bucket.
struct ColumnValues {
    /// Per bucket, the matches with at least one value (truncated ones included).
    with_value: Vec<u64>,
    values: Vec<(String, ValueCounts)>,
}

/// Counts a segment's column values per bucket as documents are collected, by term ordinal: each distinct
/// value's text is looked up once per segment, not once per document.
struct ColumnCounter {
    column: StrColumn,
    /// At most one value per document: its ordinal is read with the block's other columns.
    single: bool,
    buckets: usize,
    counts: OrdCounts,
    /// Per term ordinal, whether its text is a truncated stand-in: unknown (0), no (1), yes (2).
    truncated: Vec<u8>,
    /// Every term's text, read in one pass over a small dictionary; empty for a large one, whose texts are
    /// read for the ordinals met.
    texts: Vec<String>,
    with_value: Vec<u64>,
    ords: Vec<u64>,
    text: String,
    /// The first failure to read a value's text: collecting cannot fail, so it is reported at the end.
    error: Option<std::io::Error>,
}

enum OrdCounts {
    /// A row of buckets per ordinal (`ord * buckets + bucket`): few values or few buckets, a timechart by
    /// action's case, where documents out of time order would break runs into one per document.
    Dense(Vec<u64>),
    /// Runs per ordinal: many values (ids), each on few documents, where dense rows would not fit.
    Runs(Vec<ValueCounts>),
}

/// Cells (values x buckets) up to which a segment's counts are dense: 8 MiB.
const DENSE_CELLS: usize = 1 << 20;

/// Terms up to which a segment's column dictionary is read whole when its counter starts: one sequential
/// pass, where looking up each ordinal decodes its block from the start (a segment's few dozen actions cost
/// more in lookups than in counting). A larger dictionary (ids) is read only for the ordinals met.
const EAGER_TERMS: usize = 4_096;

impl ColumnCounter {
    fn new(column: StrColumn, buckets: usize) -> ColumnCounter {
        let terms = column.num_terms();
        let counts = if terms.saturating_mul(buckets) <= DENSE_CELLS {
            OrdCounts::Dense(vec![0; terms * buckets])
        } else {
            let mut runs = Vec::new();
            runs.resize_with(terms, ValueCounts::default);
            OrdCounts::Runs(runs)
        };
        let mut truncated = vec![0; terms];
        let mut texts = Vec::new();
        let mut error = None;
        if terms <= EAGER_TERMS {
            match all_texts(&column, terms) {
                Ok(all) => {
                    for (state, text) in truncated.iter_mut().zip(&all) {
                        *state = if held_truncated(text) { 2 } else { 1 };
                    }
                    texts = all;
                }
                Err(failure) => error = Some(failure),
            }
        }
        ColumnCounter {
            single: column.ords().get_cardinality() != Cardinality::Multivalued,
            column,
            buckets,
            counts,
            truncated,
            texts,
            with_value: vec![0; buckets],
            ords: Vec::new(),
            text: String::new(),
            error,
        }
    }

    /// The document's value's ordinal, for a column with at most one value per document.
    fn single_ord(&self, doc: DocId) -> Option<u64> {
        if !self.single {
            return None;
        }
        self.column.ords().first(doc)
    }

    /// [`ColumnCounter::single_ord`] for a block of documents (`output` as long as `docs`).
    fn single_ords(&self, docs: &[DocId], output: &mut [Option<u64>]) {
        output.fill(None);
        if self.single {
            self.column.ords().first_vals(docs, output);
        }
    }

    /// Counts the document's distinct values in its bucket; true when one of them is held truncated (the
    /// caller completes it from the log).
    fn add(&mut self, doc: DocId, bucket: usize) -> bool {
        let mut ords = std::mem::take(&mut self.ords);
        ords.clear();
        ords.extend(self.column.term_ords(doc));
        if ords.len() > 1 {
            ords.sort_unstable();
            ords.dedup();
        }
        if !ords.is_empty() {
            self.with_value[bucket] += 1;
        }
        let mut to_log = false;
        for &ord in &ords {
            to_log |= self.count(ord, bucket);
        }
        self.ords = ords;
        to_log
    }

    /// [`ColumnCounter::add`] for a column with at most one value per document, given its ordinal.
    fn add_ord(&mut self, ord: Option<u64>, bucket: usize) -> bool {
        let Some(ord) = ord else {
            return false;
        };
        self.with_value[bucket] += 1;
        self.count(ord, bucket)
    }

    /// Counts one value in a bucket; true when it is held truncated (not counted: the log has it).
    fn count(&mut self, ord: u64, bucket: usize) -> bool {
        let Ok(index) = usize::try_from(ord) else {
            return false;
        };
        let Some(state) = self.truncated.get_mut(index) else {
            return false;
        };
        if *state == 0 {
            self.text.clear();
            match self.column.ord_to_str(ord, &mut self.text) {
                Ok(_) => *state = if held_truncated(&self.text) { 2 } else { 1 },
                Err(error) => {
                    self.error.get_or_insert(error);
                    return false;
                }
            }
        }
        if *state == 2 {
            return true;
        }
        match &mut self.counts {
            OrdCounts::Dense(cells) => {
                if let Some(cell) = cells.get_mut(index * self.buckets + bucket) {
                    *cell += 1;
                }
            }
            OrdCounts::Runs(per_ord) => {
                if let Some(counts) = per_ord.get_mut(index) {
                    counts.add(bucket, 1);
                }
            }
        }
        false
    }

    fn finish(self) -> std::io::Result<ColumnValues> {
        if let Some(error) = self.error {
            return Err(error);
        }
        let counted: Vec<(u64, ValueCounts)> = match self.counts {
            OrdCounts::Dense(cells) => (0u64..)
                .zip(cells.chunks(self.buckets.max(1)))
                .filter_map(|(ord, row)| {
                    let total = row.iter().sum();
                    (total > 0).then(|| (ord, ValueCounts { total, runs: Vec::new(), dense: row.to_vec() }))
                })
                .collect(),
            OrdCounts::Runs(per_ord) => (0u64..).zip(per_ord).filter(|(_, counts)| counts.total > 0).collect(),
        };
        let mut texts = self.texts;
        if texts.is_empty() && !counted.is_empty() {
            // The ordinals met, in order: one pass over the blocks that hold them.
            let mut read = Vec::with_capacity(counted.len());
            let all =
                self.column.dictionary().sorted_ords_to_term_cb(counted.iter().map(|(ord, _)| *ord), |bytes| {
                    read.push(String::from_utf8_lossy(bytes).into_owned());
                    Ok(())
                })?;
            if !all {
                return Err(std::io::Error::other("a column's value has no term in its dictionary"));
            }
            let mut by_ord = vec![String::new(); self.truncated.len()];
            for ((ord, _), text) in counted.iter().zip(read) {
                if let Some(slot) = usize::try_from(*ord).ok().and_then(|ord| by_ord.get_mut(ord)) {
                    *slot = text;
                }
            }
            texts = by_ord;
        }
        let mut values = Vec::with_capacity(counted.len());
        for (ord, counts) in counted {
            let Some(text) = usize::try_from(ord).ok().and_then(|ord| texts.get_mut(ord)) else {
                continue;
            };
            values.push((std::mem::take(text), counts));
        }
        Ok(ColumnValues { with_value: self.with_value, values })
    }
}

/// Every term of a column's dictionary, in ordinal order.
fn all_texts(column: &StrColumn, terms: usize) -> std::io::Result<Vec<String>> {
    let mut texts = Vec::with_capacity(terms);
    let mut stream = column.dictionary().stream()?;
    while stream.advance() {
        texts.push(String::from_utf8_lossy(stream.key()).into_owned());
    }
    if texts.len() != terms {
        return Err(std::io::Error::other("a column's dictionary holds fewer terms than it says"));
    }
    Ok(texts)
}

#[cfg(test)]
mod tests {
    use super::Buckets;

    /// The division for evenly spaced boundaries gives the bucket the binary search gives.
    #[test]
    fn even_boundaries_find_the_bucket_a_search_finds() {
        let cases: [&[i64]; 5] = [&[0, 10, 20, 30], &[-25, -15, -5], &[7, 8], &[i64::MIN, 0], &[0, i64::MAX]];
        for boundaries in cases {
            let buckets = Buckets::new(boundaries);
            let mut times = vec![i64::MIN, i64::MIN + 1, i64::MAX, i64::MAX - 1, -1, 0, 1];
            for boundary in boundaries {
                times.extend([boundary.saturating_sub(1), *boundary, boundary.saturating_add(1)]);
            }
            times.extend(-40..40);
            for time in times {
                let searched = boundaries.partition_point(|boundary| *boundary <= time);
                assert_eq!(buckets.of(time), searched, "{boundaries:?} at {time}");
            }
        }
        assert!(Buckets::new(&[0, 10, 25]).even.is_none());
        assert!(Buckets::new(&[0, 10, 20]).even.is_some());
    }
}
