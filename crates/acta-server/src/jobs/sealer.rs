//! Seals finished days of instances that stopped receiving events.

use acta_store::Store;

use crate::clock::Clock;

/// An instance that stops receiving events keeps its last day open; this seals finished days every hour so
/// they are compressed and final (retention, archives and integrity work on sealed segments).
pub(crate) async fn run(store: std::sync::Weak<Store>, clock: Clock) {
    let mut hourly = tokio::time::interval(std::time::Duration::from_secs(3600));
    loop {
        hourly.tick().await;
        // Only a weak hold: a stopped server's store must close and release its data directory.
        let Some(log) = store.upgrade().map(|store| store.log().clone()) else {
            return;
        };
        let today = acta_store::Day::from_ns(clock.now());
        match tokio::task::spawn_blocking(move || log.seal_before(today)).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::error!(%error, "sealing finished days failed; will retry"),
            Err(error) => tracing::error!(%error, "sealing task failed"),
        }
    }
}
