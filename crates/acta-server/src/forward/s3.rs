//! S3 destinations: each batch is one NDJSON object per instance and arrival day,
//! `<prefix>/<instance>/<YYYY-MM-DD>/<first seq>-<last seq>.ndjson` (seqs zero-padded to 20 digits, so names sort
//! in log order), lines as for webhooks ([`Outgoing::envelope`]). A batch counts once the store answered its `PUT`.
//! A batch sent again after a failure may be cut at other seqs: its events then appear in two objects, with the
//! same instance, seq and id.
//!
//! The store is described, checked and opened as an instance's S3 archive is (`jobs::archive::ArchiveConfig`):
//! the same members, the same rule for the endpoint's addresses (`--archive-endpoint-allow`: a storage host is
//! allowed as archives' are, not as webhooks' receivers are).

use std::sync::Arc;

use object_store::ObjectStore;
use serde_json::{Map, Value};

use super::destination::{Invalid, Outgoing, SendError, day_runs, only_members};
use crate::jobs::archive::ArchiveConfig;

const MEMBERS: [&str; 7] =
    ["endpoint", "bucket", "prefix", "region", "access_key_id", "secret_access_key", "allow_http"];

/// The archive configuration a destination describes.
fn config(object: &Map<String, Value>) -> Result<ArchiveConfig, Invalid> {
    let mut fields: Map<String, Value> =
        object.iter().filter(|(name, _)| name.as_str() != "type").map(|(k, v)| (k.clone(), v.clone())).collect();
    fields.insert("kind".to_string(), Value::from("s3"));
    serde_json::from_value(Value::Object(fields)).map_err(|error| Invalid(format!("destination: {error}")))
}

pub(crate) fn validate(object: &Map<String, Value>) -> Result<Value, Invalid> {
    only_members(object, &MEMBERS)?;
    config(object)?.check(&[]).map_err(|error| Invalid(format!("destination: {error}")))?;
    Ok(Value::Object(object.clone()))
}

pub(crate) struct Sender {
    config: Option<ArchiveConfig>,
    allow: Vec<ipnet::IpNet>,
    store: Option<Arc<dyn ObjectStore>>,
}

impl Sender {
    pub(crate) fn new(object: &Map<String, Value>, allow: &[ipnet::IpNet]) -> Sender {
        Sender { config: config(object).ok(), allow: allow.to_vec(), store: None }
    }

    pub(crate) fn reset(&mut self) {
        self.store = None;
    }

    pub(crate) async fn send(&mut self, batch: &[Outgoing]) -> Result<(), SendError> {
        if batch.is_empty() {
            return Ok(());
        }
        let Some(config) = &self.config else {
            return Err(SendError("the destination is not a valid S3 store".to_string()));
        };
        let store = match &self.store {
            Some(store) => store.clone(),
            None => {
                let store = config.open(&self.allow).await.map_err(|error| SendError(error.to_string()))?;
                self.store = Some(store.clone());
                store
            }
        };
        for run in day_runs(batch) {
            let (first, last) = (run.first_seq, run.last_seq);
            let name = format!("{}/{}/{first:020}-{last:020}.ndjson", run.instance, run.day);
            let name = object_store::path::Path::from(name);
            if let Err(error) = store.put(&name, run.lines.into_bytes().into()).await {
                self.store = None;
                return Err(SendError(format!("{}: {name}: {error}", config.destination())));
            }
        }
        Ok(())
    }
}
