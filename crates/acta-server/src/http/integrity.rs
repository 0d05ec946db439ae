//! The integrity endpoints: signed checkpoints, inclusion proofs, and the verifier keys.
//!
//! - `GET /v1/integrity/keys`: the key that signs now and every key that signed here.
//! - `GET /v1/integrity/checkpoints?instance=&day=`: the checkpoints of the account's segments
//!   (every one of a day, or the latest of each segment).
//! - `GET /v1/events/{id}/proof`: the event's inclusion proof in the latest checkpoint of its
//!   segment, with the record bytes that were hashed, so a client checks it with SHA-256 and
//!   Ed25519 alone.
//! - `GET /v1/events/export?format=bundle`: the account's log segments with their checkpoint files
//!   as a tar (`acta_store::integrity::bundle`), which `acta verify` checks offline.

use std::sync::Arc;

use acta_store::integrity::files::to_hex;
use acta_store::{Day, Integrity, IntegrityError, StoreError};
use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::access::auth::Principal;
use crate::access::scope::{account_of, instances_in_scope};
use crate::error::{ApiError, QueryParams};
use crate::http::input::AccountParam;
use crate::state::AppState;

fn integrity(state: &AppState) -> Result<Arc<Integrity>, ApiError> {
    state.store.integrity().cloned().ok_or_else(|| {
        ApiError::new(StatusCode::NOT_FOUND, "integrity_disabled", "this server does not sign checkpoints")
    })
}

impl From<IntegrityError> for ApiError {
    fn from(error: IntegrityError) -> ApiError {
        match error {
            IntegrityError::Mismatch { .. } | IntegrityError::Halted { .. } => {
                // Not a server hiccup: the log no longer holds what was signed. Said plainly, and logged.
                tracing::error!(%error, "integrity failure while building a proof");
                ApiError::new(StatusCode::CONFLICT, "integrity_failure", error.to_string())
            }
            IntegrityError::Cluster(reason) => {
                // A cluster node that cannot read or publish the cluster's checkpoints now (PostgreSQL down, the
                // signer's lease moving): the checkpoint comes once it can.
                not_checkpointed(format!(
                    "this node cannot reach the cluster's checkpoints now ({reason}); retry in a moment"
                ))
            }
            other => ApiError::from(StoreError::Integrity(other)),
        }
    }
}

/// The proof asked for needs a checkpoint that does not exist yet, or that this node cannot reach now: the client
/// retries in a second.
fn not_checkpointed(message: String) -> ApiError {
    let mut error = ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "not_checkpointed", message);
    error.retry_after = Some(1);
    error
}

/// `GET /v1/integrity/keys`.
pub(crate) async fn keys(State(state): State<AppState>, principal: Principal) -> Result<Json<Value>, ApiError> {
    principal.require("reader")?;
    let integrity = integrity(&state)?;
    let current = integrity.verifier_key();
    let keys: Vec<Value> = integrity
        .key_history()
        .iter()
        .map(|key| {
            json!({
                "key": key.to_text(),
                "name": key.name(),
                "key_id": format!("{:08x}", key.key_id()),
                "current": *key == current,
            })
        })
        .collect();
    Ok(Json(json!({"current": current.to_text(), "keys": keys})))
}

/// Checkpoint listing parameters.
#[derive(Debug, Deserialize)]
pub(crate) struct CheckpointParams {
    instance: Option<String>,
    day: Option<String>,
    account: Option<String>,
}

/// `GET /v1/integrity/checkpoints`.
pub(crate) async fn checkpoints(
    State(state): State<AppState>,
    principal: Principal,
    QueryParams(params): QueryParams<CheckpointParams>,
) -> Result<Json<Value>, ApiError> {
    principal.require("reader")?;
    let integrity = integrity(&state)?;
    // `day=` names no day: refused rather than read as "every day", as the document says (a date).
    let day = match params.day.as_deref() {
        Some(day) => Some(day.parse::<Day>().map_err(|error| ApiError::bad_request("invalid_day", error.to_string()))?),
        None => None,
    };
    let account = account_of(&principal, params.account.as_deref())?;
    let instances = instances_in_scope(&state.store, &principal, &account, params.instance.as_deref()).await?;
    let ids: Vec<String> = instances.into_iter().map(|instance| instance.id).collect();
    let found = tokio::task::spawn_blocking(move || -> Result<Vec<_>, IntegrityError> {
        let mut found = Vec::new();
        for instance in &ids {
            found.extend(integrity.checkpoints(instance, day)?);
        }
        Ok(found)
    })
    .await
    .map_err(ApiError::internal)??;
    let checkpoints: Vec<Value> = found
        .into_iter()
        .map(|checkpoint| {
            json!({
                "instance": checkpoint.instance,
                "day": checkpoint.day,
                "tree_size": checkpoint.size,
                "root": to_hex(&checkpoint.root),
                "final": checkpoint.is_final,
                "note": checkpoint.note,
            })
        })
        .collect();
    Ok(Json(json!({ "checkpoints": checkpoints })))
}

/// `GET /v1/events/{id}/proof`.
pub(crate) async fn proof(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    QueryParams(params): QueryParams<AccountParam>,
) -> Result<Json<Value>, ApiError> {
    principal.require("reader")?;
    let integrity = integrity(&state)?;
    let account = account_of(&principal, params.account.as_deref())?;
    let instances = instances_in_scope(&state.store, &principal, &account, None).await?;
    let ids: Vec<String> = instances.iter().map(|instance| instance.id.clone()).collect();
    let index = state.store.index().clone();
    let record = tokio::task::spawn_blocking(move || index.find_id(&account, &ids, &id))
        .await
        .map_err(ApiError::internal)??
        .ok_or_else(|| ApiError::not_found("event"))?;
    let (instance, seq) = (record.instance.clone(), record.seq);
    let proof = tokio::task::spawn_blocking(move || -> Result<_, IntegrityError> {
        if let Some(proof) = integrity.proof(&instance, seq)? {
            return Ok(Some(proof));
        }
        // Accepted less than a checkpoint interval ago: sign now rather than make the client wait.
        integrity.sync_instance(&instance)?;
        integrity.proof(&instance, seq)
    })
    .await
    .map_err(ApiError::internal)??;
    let Some(proof) = proof else {
        return Err(not_checkpointed("no checkpoint covers this event yet; retry in a moment".to_owned()));
    };
    let hashes: Vec<String> = proof.proof.iter().map(|hash| to_hex(hash)).collect();
    Ok(Json(json!({
        "instance": proof.instance,
        "day": proof.day,
        "seq": proof.seq,
        "leaf_index": proof.leaf_index,
        "tree_size": proof.tree_size,
        "leaf_hash": to_hex(&proof.leaf_hash),
        "proof": hashes,
        "checkpoint": proof.note,
        "record": base64::engine::general_purpose::STANDARD.encode(&proof.payload),
    })))
}

/// `GET /v1/events/export?format=bundle` (routed from the export handler).
pub(crate) async fn bundle(
    state: &AppState,
    principal: &Principal,
    account: Option<&str>,
    instance: Option<&str>,
) -> Result<Response, ApiError> {
    principal.require("reader")?;
    let integrity = integrity(state)?;
    let account = account_of(principal, account)?;
    let instances = instances_in_scope(&state.store, principal, &account, instance).await?;
    let ids: Vec<String> = instances.into_iter().map(|instance| instance.id).collect();
    let (sender, receiver) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(8);
    tokio::task::spawn_blocking(move || {
        let mut out = ChannelWriter { sender: sender.clone(), buffer: Vec::with_capacity(CHUNK) };
        if let Err(error) = integrity.write_bundle(&ids, &mut out) {
            // The answer has started: cutting the stream is the only way left to say it failed.
            tracing::error!(%error, "writing an export bundle failed");
            let _ = sender.blocking_send(Err(error));
        }
    });
    let body = Body::from_stream(tokio_stream::wrappers::ReceiverStream::new(receiver));
    let headers = [
        (header::CONTENT_TYPE, "application/x-tar"),
        (header::CONTENT_DISPOSITION, "attachment; filename=\"acta-bundle.tar\""),
    ];
    Ok((headers, body).into_response())
}

const CHUNK: usize = 256 << 10;

/// A blocking writer feeding a streamed answer in chunks.
struct ChannelWriter {
    sender: tokio::sync::mpsc::Sender<Result<Bytes, std::io::Error>>,
    buffer: Vec<u8>,
}

impl ChannelWriter {
    fn send(&mut self) -> std::io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(&mut self.buffer, Vec::with_capacity(CHUNK)));
        self.sender
            .blocking_send(Ok(chunk))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the client went away"))
    }
}

impl std::io::Write for ChannelWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.buffer.extend_from_slice(bytes);
        if self.buffer.len() >= CHUNK {
            self.send()?;
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.send()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_node_that_cannot_reach_the_clusters_checkpoints_answers_retry_in_a_moment() {
        let api = ApiError::from(IntegrityError::Cluster("PostgreSQL: connection refused".to_owned()));

        assert_eq!(
            (api.status, api.code, api.retry_after),
            (StatusCode::SERVICE_UNAVAILABLE, "not_checkpointed", Some(1))
        );
        assert!(api.message.contains("connection refused"), "{}", api.message);
    }
}
