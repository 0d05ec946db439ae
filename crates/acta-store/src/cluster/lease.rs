//! Leases: which node of a cluster does what one node at a time must do.
//!
//! - The jobs' lease: the jobs that must run once (the alert engine and notification delivery, insights,
//!   forwarding, writing sealed days).
//! - The signer's lease: signing checkpoints (`signing.rs`).
//! - An instance's archive lease: copying its sealed days to the archive its manager set (the server's
//!   retention job). One per instance, taken for one pass and given back, so any node's retention (the periodic
//!   one, or a manager's explicit run) archives, but never two nodes the same instance at once.
//!
//! Each is a PostgreSQL session advisory lock held on a connection of its own: PostgreSQL releases it when the
//! holder's session ends, however the node died (SIGKILL, a lost network), so another node takes it at its next
//! try with nothing to hand over; what the holder did is recorded where the next holder resumes from (the alert
//! engine recounts open windows from the log, delivery retries the outbox, forwarding goes on from its cursors,
//! the signer's checkpoints are published before they are written).

use std::time::Duration;

use sqlx::{Connection, PgConnection};

use crate::pglog::{PgLog, PgLogError};

/// The advisory locks' keys (any fixed numbers no other part of Acta uses).
const JOBS_LOCK: i64 = 0x4163_7461_4a6f_6273; // "ActaJobs"
const SIGNER_LOCK: i64 = 0x4163_7461_5369_676e; // "ActaSign"
/// The archive leases' class: the first of a two-key lock whose second is the instance's (PostgreSQL keeps
/// two-key locks apart from the one-key locks above).
const ARCHIVE_LOCKS: i32 = 0x4172_6368; // "Arch"

/// How often the holder checks that its session (hence the lock) is still there.
const CHECK: Duration = Duration::from_secs(1);

/// A lease, while this node holds it.
pub struct Lease {
    connection: PgConnection,
    key: LockKey,
}

/// An advisory lock's key, in either of PostgreSQL's two key spaces.
#[derive(Clone, Copy)]
enum LockKey {
    One(i64),
    Two(i32, i32),
}

/// The jobs' lease.
pub type JobsLease = Lease;

impl PgLog {
    /// Takes the jobs' lease if no other node holds it: `None` when one does.
    pub async fn try_jobs_lease(&self) -> Result<Option<Lease>, PgLogError> {
        self.try_lease(LockKey::One(JOBS_LOCK)).await
    }

    /// Takes the signer's lease if no other node holds it: `None` when one does.
    pub(crate) async fn try_signer_lease(&self) -> Result<Option<Lease>, PgLogError> {
        self.try_lease(LockKey::One(SIGNER_LOCK)).await
    }

    /// Takes the lease of archiving `instance` if no other node holds it: `None` when one does.
    pub(crate) async fn try_archive_lease(&self, instance: &str) -> Result<Option<Lease>, PgLogError> {
        self.try_lease(LockKey::Two(ARCHIVE_LOCKS, instance_key(instance))).await
    }

    async fn try_lease(&self, key: LockKey) -> Result<Option<Lease>, PgLogError> {
        // A connection of its own, out of the pool: the lock lives as long as this session.
        let mut connection = self.pool().acquire().await?.detach();
        let taken: bool = match key {
            LockKey::One(key) => sqlx::query_scalar("SELECT pg_try_advisory_lock($1)").bind(key),
            LockKey::Two(class, key) => sqlx::query_scalar("SELECT pg_try_advisory_lock($1, $2)").bind(class).bind(key),
        }
        .fetch_one(&mut connection)
        .await?;
        if !taken {
            let _ = connection.close().await;
            return Ok(None);
        }
        Ok(Some(Lease { connection, key }))
    }
}

impl Lease {
    /// Returns when the lease is lost: the session holding it ended (PostgreSQL restarted, the connection broke).
    pub async fn lost(&mut self) {
        loop {
            tokio::time::sleep(CHECK).await;
            let alive = tokio::time::timeout(CHECK * 5, self.connection.ping()).await;
            if !matches!(alive, Ok(Ok(()))) {
                return;
            }
        }
    }

    /// Gives the lease back (a node stopping cleanly), so another node takes it at once.
    pub async fn release(mut self) {
        let unlock = match self.key {
            LockKey::One(key) => sqlx::query("SELECT pg_advisory_unlock($1)").bind(key),
            LockKey::Two(class, key) => sqlx::query("SELECT pg_advisory_unlock($1, $2)").bind(class).bind(key),
        };
        let _ = unlock.execute(&mut self.connection).await;
        let _ = self.connection.close().await;
    }
}

/// An instance's lock key: the first four bytes of its id's SHA-256. Two instances may share one; then their
/// archive passes do not overlap, and one waits for the next pass, which costs nothing but that wait.
fn instance_key(instance: &str) -> i32 {
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(instance.as_bytes());
    i32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]])
}
