//! Background work. A job takes what it uses (the store, its settings, the alerting handle), never the
//! handlers' `AppState`, and reaches files only through the store.
//!
//! - [`retention`]: archive sealed segments, then delete what each instance's plan no longer keeps.
//! - [`archive`]: the copy of one sealed day into an archive, read back before it counts.
//! - [`alert_engine`]: counts matching events per alert window and fires.
//! - [`alert_writer`]: records the engine's firings and marks, off its path, several in one commit.
//! - [`delivery`]: sends the notifications of the durable outbox, with retries.
//! - [`sealer`]: seals finished days of quiet instances.
//! - [`sealed_days`]: in a cluster with object storage, writes closed days there and drops them from PostgreSQL.
//! - [`forward`]: sends each route's events to its destination after the route's durable cursor.
//! - [`insights`]: counts each account's activity per hour and writes the unusual hours as insight events.

pub mod alert_engine;
pub mod alert_writer;
pub mod archive;
pub mod delivery;
pub mod forward;
pub mod insights;
pub mod retention;
pub mod sealed_days;
pub mod sealer;

/// Resolves when the server stops. The watch guard is dropped inside, so callers' futures stay `Send`.
pub(crate) async fn stopped(stopping: &mut tokio::sync::watch::Receiver<bool>) {
    let _ = stopping.wait_for(|stopping| *stopping).await;
}
