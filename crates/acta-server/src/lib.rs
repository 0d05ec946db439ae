//! Acta's HTTP server over `acta-store`: the API, the web console, and the background jobs.
//!
//! The layering rule (ARCHITECTURE.md; `tests/architecture.rs` checks it):
//! - [`http`]: the handlers, one module per resource, and the router. Only handlers take [`AppState`]; they
//!   parse a request, ask [`access`] who may do it, call the store, and answer. They never touch files.
//! - [`access`]: authentication (keys, console sessions), the account scope of a request, and the audit
//!   events of key and object actions.
//! - [`jobs`]: background work (retention, archiving, the alert engine, notification delivery, sealing
//!   finished days). A job takes what it uses (the store, its settings), never `AppState` or a handler.
//! - [`notify`]: sending one notification (email, webhook, Slack, PagerDuty) and the alerting settings.
//! - [`server`]: start-up and shutdown; [`state`], [`error`], [`clock`], [`timespec`], [`buckets`],
//!   [`metrics`]: what the others share.
//!
//! Writes go through `Store::accept`, the store's one write path; every read is scoped to the account of the
//! authenticated key.

pub mod access;
pub mod buckets;
pub mod clock;
pub mod error;
pub mod forward;
pub mod http;
pub mod jobs;
pub mod metrics;
pub mod notify;
pub mod server;
pub mod state;
pub mod timespec;

pub use access::auth;
pub use acta_store::DEFAULT_ACCOUNT;
pub use clock::{Clock, now_ns};
pub use forward::ForwardSettings;
pub use http::{openapi, router};
pub use jobs::insights::InsightRun;
pub use jobs::retention::{RetentionSettings, RunReport};
pub use notify::{AlertSettings, parse_allowlist};
pub use server::{Running, ServerConfig, StartError, start};
pub use state::{AppState, DEFAULT_MIN_FREE_BYTES, Limits};
