//! `GET /healthz`: whether this server stores and searches, which storage faults are on now, and what
//! heals by itself versus what needs the operator.
//!
//! Open (no key), as load balancers and supervisors call it. It says nothing about accounts or events.
//! `200` while the server can serve (a full device is `degraded`: reads work and writes resume by
//! themselves); `503` once the log has failed, which only a restart recovers from.

use acta_store::StorageHealth;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::state::AppState;

/// `GET /healthz`.
pub(crate) async fn health(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let health = state.store.health();
    let status = status(&health);
    let code = if status == "failed" { StatusCode::SERVICE_UNAVAILABLE } else { StatusCode::OK };
    (code, Json(body(&health, status)))
}

fn status(health: &StorageHealth) -> &'static str {
    if health.log_failed {
        "failed"
    } else if health.short_of_space() || health.index_fault.is_some() {
        "degraded"
    } else {
        "ok"
    }
}

fn body(health: &StorageHealth, status: &str) -> Value {
    let mut problems = Vec::new();
    if health.log_failed {
        problems.push(json!({
            "part": "log",
            "state": "failed",
            "message": "a write or sync of the event log failed in a way whose effect on disk is unknown (an fsync error may mean the kernel dropped data): no event is accepted",
            "action": "find the cause in the server log, fix the device, and restart acta serve: recovery keeps every acknowledged event and cuts what was never acknowledged",
        }));
    }
    if let Some(since) = health.log_no_space_since_ns {
        problems.push(json!({
            "part": "log",
            "state": "no_space",
            "since": acta_cadf::format_time(since),
            "message": "the device holding the data directory is full: batches are refused with 507",
            "action": "free space on the device; batches are accepted again at once, with no restart",
        }));
    }
    if health.below_reserve() {
        problems.push(json!({
            "part": "disk",
            "state": "below_reserve",
            "message": format!(
                "fewer bytes are free than the {} kept in reserve (--min-free-space): client batches are refused with 507",
                health.min_free_bytes
            ),
            "action": "free space or shorten retention; batches are accepted again once the free space is above the reserve",
        }));
    }
    if let Some(error) = &health.index_fault {
        problems.push(json!({
            "part": "index",
            "state": "failing",
            "message": format!("indexing fails ({error}): what was searchable stays searchable, newer events wait in the log"),
            "action": "none if the cause clears by itself (a full device): indexing is retried from the log; otherwise fix the cause named here",
        }));
    }
    json!({
        "status": status,
        "disk": {"free_bytes": health.free_bytes, "min_free_bytes": health.min_free_bytes},
        "problems": problems,
    })
}
