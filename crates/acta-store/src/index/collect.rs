//! Collecting matches in result order (newest eventTime first, ties by arrival, instance, sequence) after a
//! cursor, and telling which in-scope instance a document belongs to.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Arc;

use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::{Column, StrColumn};
use tantivy::{DocId, Score, SegmentOrdinal, SegmentReader};

/// The order key of an event among the scopes of one read: (eventTime, arrival time, position of its instance
/// in the sorted scopes, sequence). The position orders like the instance id, so this orders like
/// [`super::SortKey`]. Larger comes first.
pub(crate) type LocalKey = (i64, i64, u32, u64);

/// Which in-scope instance each document of a segment belongs to, read from the `instance` column and
/// resolved once per distinct instance of the segment.
pub(crate) struct InstanceColumn {
    column: Option<StrColumn>,
    instances: Arc<[String]>,
    /// Per term ordinal of the column: not looked up yet, not in scope, or the position in `instances`.
    by_ord: Vec<u32>,
    text: String,
}

const UNRESOLVED: u32 = u32::MAX;
const OUT_OF_SCOPE: u32 = u32::MAX - 1;

impl InstanceColumn {
    pub(crate) fn open(reader: &SegmentReader, instances: Arc<[String]>) -> tantivy::Result<InstanceColumn> {
        let column = reader.fast_fields().str("instance")?;
        let terms = column.as_ref().map_or(0, |column| column.num_terms());
        Ok(InstanceColumn { column, instances, by_ord: vec![UNRESOLVED; terms], text: String::new() })
    }

    /// The position of the document's instance among the scopes, `None` when it is not in scope (never for
    /// a document a restricted query matched).
    pub(crate) fn scope_of(&mut self, doc: DocId) -> Option<u32> {
        let column = self.column.as_ref()?;
        let ord = column.term_ords(doc).next()?;
        let slot = self.by_ord.get_mut(usize::try_from(ord).ok()?)?;
        if *slot == UNRESOLVED {
            self.text.clear();
            let found = column.ord_to_str(ord, &mut self.text).unwrap_or(false);
            *slot = match self.instances.binary_search_by(|probe| probe.as_str().cmp(&self.text)) {
                Ok(position) if found => u32::try_from(position).unwrap_or(OUT_OF_SCOPE),
                _ => OUT_OF_SCOPE,
            };
        }
        (*slot != OUT_OF_SCOPE).then_some(*slot)
    }
}

/// Collects the `limit` largest keys strictly below `below` (all of them without a limit).
pub(crate) struct SortedCollector {
    pub(crate) instances: Arc<[String]>,
    pub(crate) limit: Option<usize>,
    pub(crate) below: Option<LocalKey>,
}

pub(crate) struct SortedSegmentCollector {
    limit: Option<usize>,
    below: Option<LocalKey>,
    instance: InstanceColumn,
    time: Column<i64>,
    received: Column<i64>,
    seq: Column<u64>,
    heap: BinaryHeap<Reverse<LocalKey>>,
    all: Vec<LocalKey>,
}

impl Collector for SortedCollector {
    type Fruit = Vec<LocalKey>;
    type Child = SortedSegmentCollector;

    fn for_segment(&self, _ordinal: SegmentOrdinal, reader: &SegmentReader) -> tantivy::Result<Self::Child> {
        let fast = reader.fast_fields();
        Ok(SortedSegmentCollector {
            limit: self.limit,
            below: self.below,
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
        merged.sort_unstable_by(|a, b| b.cmp(a));
        if let Some(limit) = self.limit {
            merged.truncate(limit);
        }
        Ok(merged)
    }
}

impl SegmentCollector for SortedSegmentCollector {
    type Fruit = Vec<LocalKey>;

    fn collect(&mut self, doc: DocId, _score: Score) {
        let Some(time) = self.time.first(doc) else {
            return;
        };
        // Once the heap is full, most matches of a large result are older than all it holds: their eventTime
        // alone rules them out, without reading the other columns.
        if let (Some(limit), Some(smallest)) = (self.limit, self.heap.peek())
            && self.heap.len() >= limit
            && time < smallest.0.0
        {
            return;
        }
        if self.below.is_some_and(|below| time > below.0) {
            return;
        }
        let (Some(received), Some(seq)) = (self.received.first(doc), self.seq.first(doc)) else {
            return;
        };
        let Some(scope) = self.instance.scope_of(doc) else {
            return;
        };
        let key = (time, received, scope, seq);
        if self.below.is_some_and(|below| key >= below) {
            return;
        }
        match self.limit {
            None => self.all.push(key),
            Some(limit) => {
                if self.heap.len() < limit {
                    self.heap.push(Reverse(key));
                } else if self.heap.peek().is_some_and(|smallest| key > smallest.0) {
                    self.heap.pop();
                    self.heap.push(Reverse(key));
                }
            }
        }
    }

    fn harvest(self) -> Vec<LocalKey> {
        let mut keys = self.all;
        keys.extend(self.heap.into_iter().map(|Reverse(key)| key));
        keys
    }
}
