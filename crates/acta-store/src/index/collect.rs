//! Collecting matches in an order (newest eventTime first, ties by arrival, instance, sequence, or the reverse)
//! after a cursor, and telling which in-scope instance a document belongs to.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::marker::PhantomData;
use std::sync::Arc;

use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::{Column, StrColumn};
use tantivy::{DocId, Score, SegmentOrdinal, SegmentReader};

/// The order key of an event among the scopes of one read: (eventTime, arrival time, position of its instance
/// in the sorted scopes, sequence). The position orders like the instance id, so this orders like
/// [`super::SortKey`].
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
        let ord = self.column_ord(doc);
        self.scope_of_ord(ord)
    }

    /// The term ordinal of the document's instance.
    pub(crate) fn column_ord(&self, doc: DocId) -> Option<u64> {
        self.column.as_ref()?.term_ords(doc).next()
    }

    /// The term ordinals of a block of documents' instances (`output` as long as `docs`), for
    /// [`InstanceColumn::scope_of_ord`]: one read of the column per block rather than per document.
    pub(crate) fn ords(&self, docs: &[DocId], output: &mut [Option<u64>]) {
        output.fill(None);
        if let Some(column) = &self.column {
            column.ords().first_vals(docs, output);
        }
    }

    /// [`InstanceColumn::scope_of`], from the document's term ordinal.
    pub(crate) fn scope_of_ord(&mut self, ord: Option<u64>) -> Option<u32> {
        let column = self.column.as_ref()?;
        let ord = ord?;
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

/// The order in which a search wants its matches.
pub(crate) trait Order: Send + Sync + 'static {
    /// A key's rank in this order: higher ranks come first.
    type Rank: Ord + Copy + Send + Sync + 'static;
    fn rank(key: LocalKey) -> Self::Rank;
    fn key(rank: Self::Rank) -> LocalKey;
    /// The highest rank a key with this eventTime can have.
    fn best_at(time: i64) -> Self::Rank;
    /// The lowest rank a key with this eventTime can have.
    fn worst_at(time: i64) -> Self::Rank;
    /// How two events compare in this order (`Less`: `a` comes first).
    fn first(a: &super::SortKey, b: &super::SortKey) -> Ordering;
    /// The eventTime range of the partitions worth reading for a page after `after`, and the cursor the
    /// partition choice may use itself (it rules out partitions wholly newer than it).
    fn partition_window(from: Option<i64>, after: Option<&super::SortKey>) -> (Option<i64>, Option<&super::SortKey>);
}

/// Newest eventTime first: the search's order.
pub(crate) struct NewestFirst;

/// Oldest eventTime first: a resource's history, a principal's first sighting.
pub(crate) struct OldestFirst;

impl Order for NewestFirst {
    type Rank = LocalKey;
    fn rank(key: LocalKey) -> LocalKey {
        key
    }
    fn key(rank: LocalKey) -> LocalKey {
        rank
    }
    fn best_at(time: i64) -> LocalKey {
        (time, i64::MAX, u32::MAX, u64::MAX)
    }
    fn worst_at(time: i64) -> LocalKey {
        (time, i64::MIN, 0, 0)
    }
    fn first(a: &super::SortKey, b: &super::SortKey) -> Ordering {
        b.cmp(a)
    }
    fn partition_window(from: Option<i64>, after: Option<&super::SortKey>) -> (Option<i64>, Option<&super::SortKey>) {
        (from, after)
    }
}

impl Order for OldestFirst {
    type Rank = Reverse<LocalKey>;
    fn rank(key: LocalKey) -> Reverse<LocalKey> {
        Reverse(key)
    }
    fn key(rank: Reverse<LocalKey>) -> LocalKey {
        rank.0
    }
    fn best_at(time: i64) -> Reverse<LocalKey> {
        Reverse(NewestFirst::worst_at(time))
    }
    fn worst_at(time: i64) -> Reverse<LocalKey> {
        Reverse(NewestFirst::best_at(time))
    }
    fn first(a: &super::SortKey, b: &super::SortKey) -> Ordering {
        a.cmp(b)
    }
    /// A partition whose events all precede the cursor has nothing to give: the cursor's time raises `from`.
    fn partition_window(from: Option<i64>, after: Option<&super::SortKey>) -> (Option<i64>, Option<&super::SortKey>) {
        let from = match (from, after) {
            (Some(from), Some(after)) => Some(from.max(after.time)),
            (None, Some(after)) => Some(after.time),
            (from, None) => from,
        };
        (from, None)
    }
}

/// Collects the `limit` first keys in order `O` strictly after `after` (all of them without a limit).
pub(crate) struct SortedCollector<O: Order> {
    instances: Arc<[String]>,
    limit: Option<usize>,
    /// The cursor's rank: only keys ranked below it are collected.
    after: Option<O::Rank>,
    order: PhantomData<O>,
}

impl<O: Order> SortedCollector<O> {
    pub(crate) fn new(instances: Arc<[String]>, limit: Option<usize>, after: Option<LocalKey>) -> Self {
        SortedCollector { instances, limit, after: after.map(O::rank), order: PhantomData }
    }
}

pub(crate) struct SortedSegmentCollector<O: Order> {
    limit: Option<usize>,
    after: Option<O::Rank>,
    instance: InstanceColumn,
    time: Column<i64>,
    received: Column<i64>,
    seq: Column<u64>,
    /// The highest ranks so far, the lowest of them on top.
    heap: BinaryHeap<Reverse<O::Rank>>,
    all: Vec<LocalKey>,
}

impl<O: Order> Collector for SortedCollector<O> {
    type Fruit = Vec<LocalKey>;
    type Child = SortedSegmentCollector<O>;

    fn for_segment(&self, _ordinal: SegmentOrdinal, reader: &SegmentReader) -> tantivy::Result<Self::Child> {
        let fast = reader.fast_fields();
        Ok(SortedSegmentCollector {
            limit: self.limit,
            after: self.after,
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
        merged.sort_unstable_by_key(|key| Reverse(O::rank(*key)));
        if let Some(limit) = self.limit {
            merged.truncate(limit);
        }
        Ok(merged)
    }
}

impl<O: Order> SegmentCollector for SortedSegmentCollector<O> {
    type Fruit = Vec<LocalKey>;

    fn collect(&mut self, doc: DocId, _score: Score) {
        let Some(time) = self.time.first(doc) else {
            return;
        };
        // Once the heap is full, most matches of a large result rank below all it holds: their eventTime alone
        // rules them out, without reading the other columns.
        if let (Some(limit), Some(Reverse(lowest))) = (self.limit, self.heap.peek())
            && self.heap.len() >= limit
            && O::best_at(time) < *lowest
        {
            return;
        }
        if self.after.is_some_and(|after| O::worst_at(time) >= after) {
            return;
        }
        let (Some(received), Some(seq)) = (self.received.first(doc), self.seq.first(doc)) else {
            return;
        };
        let Some(scope) = self.instance.scope_of(doc) else {
            return;
        };
        let key = (time, received, scope, seq);
        let rank = O::rank(key);
        if self.after.is_some_and(|after| rank >= after) {
            return;
        }
        match self.limit {
            None => self.all.push(key),
            Some(limit) => {
                if self.heap.len() < limit {
                    self.heap.push(Reverse(rank));
                } else if self.heap.peek().is_some_and(|lowest| rank > lowest.0) {
                    self.heap.pop();
                    self.heap.push(Reverse(rank));
                }
            }
        }
    }

    fn harvest(self) -> Vec<LocalKey> {
        let mut keys = self.all;
        keys.extend(self.heap.into_iter().map(|Reverse(rank)| O::key(rank)));
        keys
    }
}
