//! Cluster mode with object storage, on the node holding the jobs' lease: writes the days its copy closed to
//! object storage, then drops them from PostgreSQL ([`acta_store::Store::write_sealed_days`]).

use std::sync::Arc;

use acta_store::Store;

/// How often closed days are looked for. A day waits for its index and final checkpoints; a failed write
/// (object storage unreachable) is tried again at the next round, and PostgreSQL keeps the day until then.
const ROUND: std::time::Duration = std::time::Duration::from_secs(60);

pub(crate) async fn run(store: Arc<Store>, mut stopping: tokio::sync::watch::Receiver<bool>) {
    let mut rounds = tokio::time::interval(ROUND);
    loop {
        tokio::select! {
            () = super::stopped(&mut stopping) => return,
            _ = rounds.tick() => {}
        }
        if let Err(error) = store.write_sealed_days().await {
            tracing::error!(%error, "writing sealed days to object storage failed; will retry");
        }
    }
}
