//! Matches in forward order (oldest eventTime first, ties by arrival, instance, sequence): a resource's
//! history and a principal's first sighting read from the start of a range, where `search` reads from its end.
//!
//! The same partitions, translation and verification as `search`, so the events are the search's events; only
//! the order and the side the cursor bounds differ.

use std::collections::BinaryHeap;
use std::sync::Arc;
use std::time::Instant;

use acta_query::Compiled;
use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::Column;
use tantivy::{DocId, Score, SegmentOrdinal, SegmentReader};

use super::collect::{InstanceColumn, LocalKey};
use super::scope::Scopes;
use super::{EventIndex, Hit, IndexError, PartitionQuery, Search, SortKey, local_bound, tantivy_error, verify};

impl EventIndex {
    /// Events matching a search, oldest first. `after` is a key of this order: only events after it, that is
    /// strictly greater in [`SortKey`] order, are returned.
    pub fn search_oldest_first(&self, search: &Search<'_>) -> Result<Vec<Hit>, IndexError> {
        let scopes = Scopes::new(search.scopes);
        let compiled = Compiled::new(search.query);
        let above = search.after.map(|after| local_bound(after, &scopes));
        // A partition whose events all precede the cursor has nothing to give: the cursor's time raises `from`
        // for choosing partitions (each partition's query keeps the requested range).
        let from = match (search.from, search.after) {
            (Some(from), Some(after)) => Some(from.max(after.time)),
            (None, Some(after)) => Some(after.time),
            (from, None) => from,
        };
        let mut candidates: Vec<(SortKey, bool, usize)> = Vec::new();
        let mut any_inexact = false;
        for (partition, present) in self.inner.partitions_for(&scopes, from, search.to, None) {
            let PartitionQuery { searcher, query, exact } =
                self.inner.partition_query(&scopes, &present, &partition, search.query, search.from, search.to);
            let limit = exact.then_some(search.limit);
            any_inexact |= !exact;
            let collector = OldestCollector { instances: scopes.instances().clone(), limit, above };
            let keys = searcher.search(&query, &collector).map_err(|source| tantivy_error(&partition.name, source))?;
            candidates.extend(keys.into_iter().map(|(time, received, position, seq)| {
                let position = position as usize;
                let instance = scopes.get(position).instance.clone();
                (SortKey { time, received, instance, seq }, exact, position)
            }));
        }
        candidates.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let mut hits = Vec::with_capacity(search.limit.min(candidates.len()));
        for (examined, (key, exact, position)) in (0u64..).zip(candidates) {
            if hits.len() >= search.limit {
                break;
            }
            if any_inexact && search.deadline.is_some_and(|deadline| Instant::now() > deadline) {
                return Err(IndexError::Deadline { examined });
            }
            let record = self.inner.read_record(&key.instance, key.seq)?;
            if !exact && !verify(&compiled, scopes.get(position), &record) {
                continue;
            }
            hits.push(Hit { key, record });
        }
        Ok(hits)
    }
}

/// Collects the `limit` smallest keys strictly above `above` (all of them without a limit).
struct OldestCollector {
    instances: Arc<[String]>,
    limit: Option<usize>,
    above: Option<LocalKey>,
}

struct OldestSegmentCollector {
    limit: Option<usize>,
    above: Option<LocalKey>,
    instance: InstanceColumn,
    time: Column<i64>,
    received: Column<i64>,
    seq: Column<u64>,
    /// The smallest keys so far, the largest of them on top.
    heap: BinaryHeap<LocalKey>,
    all: Vec<LocalKey>,
}

impl Collector for OldestCollector {
    type Fruit = Vec<LocalKey>;
    type Child = OldestSegmentCollector;

    fn for_segment(&self, _ordinal: SegmentOrdinal, reader: &SegmentReader) -> tantivy::Result<Self::Child> {
        let fast = reader.fast_fields();
        Ok(OldestSegmentCollector {
            limit: self.limit,
            above: self.above,
            instance: InstanceColumn::open(reader, self.instances.clone())?,
            time: fast.i64("time")?,
            received: fast.i64("received")?,
            seq: fast.u64("seq")?,
            heap: BinaryHeap::new(),
            all: Vec::new(),
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<Vec<LocalKey>>) -> tantivy::Result<Vec<LocalKey>> {
        let mut merged: Vec<LocalKey> = fruits.into_iter().flatten().collect();
        merged.sort_unstable();
        if let Some(limit) = self.limit {
            merged.truncate(limit);
        }
        Ok(merged)
    }
}

impl SegmentCollector for OldestSegmentCollector {
    type Fruit = Vec<LocalKey>;

    fn collect(&mut self, doc: DocId, _score: Score) {
        let Some(time) = self.time.first(doc) else {
            return;
        };
        // Once the heap is full, a match newer than all it holds is ruled out by its eventTime alone.
        if let (Some(limit), Some(largest)) = (self.limit, self.heap.peek())
            && self.heap.len() >= limit
            && time > largest.0
        {
            return;
        }
        if self.above.is_some_and(|above| time < above.0) {
            return;
        }
        let (Some(received), Some(seq)) = (self.received.first(doc), self.seq.first(doc)) else {
            return;
        };
        let Some(scope) = self.instance.scope_of(doc) else {
            return;
        };
        let key = (time, received, scope, seq);
        if self.above.is_some_and(|above| key <= above) {
            return;
        }
        match self.limit {
            None => self.all.push(key),
            Some(limit) => {
                if self.heap.len() < limit {
                    self.heap.push(key);
                } else if self.heap.peek().is_some_and(|largest| key < *largest) {
                    self.heap.pop();
                    self.heap.push(key);
                }
            }
        }
    }

    fn harvest(self) -> Vec<LocalKey> {
        let mut keys = self.all;
        keys.extend(self.heap);
        keys
    }
}
