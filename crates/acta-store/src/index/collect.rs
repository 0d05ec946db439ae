//! Collecting matches in result order (newest eventTime first, ties by arrival) after a cursor.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::Column;
use tantivy::{DocId, Score, SegmentOrdinal, SegmentReader};

/// The order key of an event within one partition: (eventTime, arrival time, sequence). Larger comes first.
pub(crate) type LocalKey = (i64, i64, u64);

/// Collects the `limit` largest keys strictly below `below` (all of them without a limit).
pub(crate) struct SortedCollector {
    pub(crate) limit: Option<usize>,
    pub(crate) below: Option<LocalKey>,
}

pub(crate) struct SortedSegmentCollector {
    limit: Option<usize>,
    below: Option<LocalKey>,
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
        let (Some(time), Some(received), Some(seq)) =
            (self.time.first(doc), self.received.first(doc), self.seq.first(doc))
        else {
            return;
        };
        let key = (time, received, seq);
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
