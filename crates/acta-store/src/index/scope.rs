//! Tenant isolation. Partitions are shared by every instance of every account, so the only thing that keeps one
//! account's query away from another's events is [`restrict`]: every read of the index (search, count,
//! aggregations, duplicate detection) builds its tantivy query through it, and every document carries the
//! instance it belongs to. Whatever the user's query says (`_account:other`, a top-level `OR`, a negation, a
//! wildcard field), it is evaluated inside `instance ∈ scopes`, never beside it. The one exception is a
//! segment [`owned`] finds wholly the scopes' own: the aggregations read it with the query alone, as every
//! document the restriction would keep is all of its documents.

use std::sync::Arc;

use tantivy::columnar::Cardinality;
use tantivy::query::{AllQuery, BooleanQuery, EmptyQuery, Occur, Query as TantivyQuery, TermQuery, TermSetQuery};
use tantivy::schema::IndexRecordOption;
use tantivy::{SegmentReader, Term};

use super::InstanceScope;
use super::schema::Fields;

/// The instances a read may reach, sorted by instance id and without repeats, so that a scope's position
/// orders like its instance id (the collectors compare positions where result order compares ids).
#[derive(Clone)]
pub(crate) struct Scopes {
    scopes: Arc<[InstanceScope]>,
    instances: Arc<[String]>,
}

impl Scopes {
    pub(crate) fn new(scopes: &[InstanceScope]) -> Scopes {
        let mut sorted = scopes.to_vec();
        sorted.sort_by(|a, b| a.instance.cmp(&b.instance));
        sorted.dedup_by(|a, b| a.instance == b.instance);
        let instances: Arc<[String]> = sorted.iter().map(|scope| scope.instance.clone()).collect();
        Scopes { scopes: sorted.into(), instances }
    }

    /// Scopes known only by their instance ids (duplicate detection needs no account or region).
    pub(crate) fn of_instances(instances: &[String]) -> Scopes {
        let scopes: Vec<InstanceScope> = instances
            .iter()
            .map(|instance| InstanceScope { instance: instance.clone(), account: String::new(), region: String::new() })
            .collect();
        Scopes::new(&scopes)
    }

    pub(crate) fn get(&self, position: usize) -> &InstanceScope {
        &self.scopes[position]
    }

    /// The sorted instance ids, shared with the collectors.
    pub(crate) fn instances(&self) -> &Arc<[String]> {
        &self.instances
    }

    /// `Ok(position)` of an instance in scope, else `Err(position it would take)`.
    pub(crate) fn position(&self, instance: &str) -> Result<usize, usize> {
        self.instances.binary_search_by(|probe| probe.as_str().cmp(instance))
    }
}

/// `query`, restricted to the documents of `instances`: the one way into a partition.
pub(crate) fn restrict<'i>(
    fields: &Fields,
    instances: impl IntoIterator<Item = &'i str>,
    query: Box<dyn TantivyQuery>,
) -> Box<dyn TantivyQuery> {
    let scope = instance_set(fields, instances);
    Box::new(BooleanQuery::new(vec![(Occur::Must, scope), (Occur::Must, query)]))
}

/// The documents of these instances (none for an empty list).
pub(crate) fn instance_set<'i>(fields: &Fields, instances: impl IntoIterator<Item = &'i str>) -> Box<dyn TantivyQuery> {
    let mut terms: Vec<Term> =
        instances.into_iter().map(|instance| Term::from_field_text(fields.instance, instance)).collect();
    match terms.len() {
        0 => Box::new(EmptyQuery),
        1 => Box::new(TermQuery::new(terms.remove(0), IndexRecordOption::Basic)),
        _ => Box::new(TermSetQuery::new(terms)),
    }
}

/// A condition that holds for whole instances (`_account`, `_instance`, `_region`), as a query: the documents
/// of the in-scope instances for which it holds.
pub(crate) fn instances_where(
    fields: &Fields,
    present: &[&InstanceScope],
    holds: impl Fn(&InstanceScope) -> bool,
) -> Box<dyn TantivyQuery> {
    let matching: Vec<&str> =
        present.iter().filter(|scope| holds(scope)).map(|scope| scope.instance.as_str()).collect();
    if matching.len() == present.len() {
        // Every document a restricted query can reach belongs to one of them.
        return Box::new(AllQuery);
    }
    instance_set(fields, matching)
}

/// Whether every document of a segment belongs to one of `present` (sorted instance ids), so that reading it
/// without [`restrict`] reaches no other instance's events. Exact, never approximate: the segment's `instance`
/// column must give every document a value (cardinality full), and each term of its dictionary must be one of
/// `present`. A dictionary may still hold the instance of documents since deleted, which can only answer no.
pub(crate) fn owned(reader: &SegmentReader, present: &[&str]) -> tantivy::Result<bool> {
    let Some(column) = reader.fast_fields().str("instance")? else {
        return Ok(false);
    };
    // Distinct terms: more of them than instances present means one is not.
    if column.ords().get_cardinality() != Cardinality::Full || column.num_terms() > present.len() {
        return Ok(false);
    }
    let mut terms = column.dictionary().stream()?;
    while terms.advance() {
        let Ok(instance) = std::str::from_utf8(terms.key()) else {
            return Ok(false);
        };
        if present.binary_search(&instance).is_err() {
            return Ok(false);
        }
    }
    Ok(true)
}
