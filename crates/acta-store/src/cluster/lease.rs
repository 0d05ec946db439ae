//! The jobs' lease: which node of a cluster runs the jobs that must run once (the alert engine and notification
//! delivery, retention and archives, insights, forwarding).
//!
//! A PostgreSQL session advisory lock held on a connection of its own: PostgreSQL releases it when the holder's
//! session ends, however the node died (SIGKILL, a lost network), so another node takes it at its next try with
//! nothing to hand over; the jobs were made to resume from what they recorded (the alert engine recounts open
//! windows from the log, delivery retries the outbox, forwarding goes on from its cursors).

use std::time::Duration;

use sqlx::{Connection, PgConnection};

use crate::pglog::{PgLog, PgLogError};

/// The advisory lock's key (any fixed number no other part of Acta uses).
const JOBS_LOCK: i64 = 0x4163_7461_4a6f_6273; // "ActaJobs"

/// How often the holder checks that its session (hence the lock) is still there.
const CHECK: Duration = Duration::from_secs(1);

/// The lease, while this node holds it.
pub struct JobsLease {
    connection: PgConnection,
}

impl PgLog {
    /// Takes the jobs' lease if no other node holds it: `None` when one does.
    pub async fn try_jobs_lease(&self) -> Result<Option<JobsLease>, PgLogError> {
        // A connection of its own, out of the pool: the lock lives as long as this session.
        let mut connection = self.pool().acquire().await?.detach();
        let taken: bool =
            sqlx::query_scalar("SELECT pg_try_advisory_lock($1)").bind(JOBS_LOCK).fetch_one(&mut connection).await?;
        if !taken {
            let _ = connection.close().await;
            return Ok(None);
        }
        Ok(Some(JobsLease { connection }))
    }
}

impl JobsLease {
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
        let _ = sqlx::query("SELECT pg_advisory_unlock($1)").bind(JOBS_LOCK).execute(&mut self.connection).await;
        let _ = self.connection.close().await;
    }
}
