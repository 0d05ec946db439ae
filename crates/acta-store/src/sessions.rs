//! The web console's sessions in the metadata database (migration `console_sessions`), so every node of a
//! cluster knows a session made on any of them and a sign-out on one ends it on all; in the embedded mode they
//! survive a restart. The server makes the cookie's token and keeps here only its SHA-256: what is written is
//! no bearer credential (`acta-server`'s `access::session` is the rest of the story: cookie, CSRF, the cap).
//!
//! A session ends [`IDLE_NS`] after it was last seen or [`ABSOLUTE_NS`] after it was made, whichever comes
//! first. So that a busy console does not write a row on every request, the time it was last seen is written
//! only once it is [`TOUCH_AFTER_NS`] old: the idle expiry is that coarse (a session may end up to
//! [`TOUCH_AFTER_NS`] before [`IDLE_NS`] of true idleness). An expired session is deleted when it is presented,
//! and those never presented again are swept, at most [`SWEEP_BATCH`] at a time, by each sign-in.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::meta::{Meta, MetaError};

/// A session ends after this long without a request (to [`TOUCH_AFTER_NS`]).
pub const IDLE_NS: i64 = 2 * 3_600 * 1_000_000_000;
/// A session ends this long after sign-in, however busy.
pub const ABSOLUTE_NS: i64 = 12 * 3_600 * 1_000_000_000;
/// A session's last-seen time is written only when it is at least this old (one write a minute per busy
/// session, rather than one per request).
pub const TOUCH_AFTER_NS: i64 = 60 * 1_000_000_000;
/// At most this many expired sessions are deleted by one sign-in: bounded work, and more than one sign-in adds.
pub const SWEEP_BATCH: i64 = 1_000;

/// A console session as stored.
#[derive(Clone, PartialEq, Eq)]
pub struct ConsoleSession {
    /// SHA-256 of the cookie's token, hex: the key of the row. The token itself is never stored.
    pub token_hash: String,
    /// The API key the session was opened with (read again on every request by the server).
    pub key_id: String,
    /// The token the page must send on state-changing requests.
    pub csrf: String,
    /// Sign-in, unix ns.
    pub created_ns: i64,
    /// The last request as written (to [`TOUCH_AFTER_NS`]), unix ns.
    pub last_seen_ns: i64,
}

impl std::fmt::Debug for ConsoleSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The token hash and the CSRF token are credentials: never in logs.
        f.debug_struct("ConsoleSession")
            .field("key_id", &self.key_id)
            .field("created_ns", &self.created_ns)
            .field("last_seen_ns", &self.last_seen_ns)
            .finish_non_exhaustive()
    }
}

impl ConsoleSession {
    /// When the session ends if not used again, unix ns.
    pub fn expires_ns(&self) -> i64 {
        self.last_seen_ns.saturating_add(IDLE_NS).min(self.created_ns.saturating_add(ABSOLUTE_NS))
    }

    /// Whether the session is live at `now_ns`.
    pub fn is_live(&self, now_ns: i64) -> bool {
        self.expires_ns() > now_ns
    }
}

const SESSION_COLUMNS: &str = "SELECT token_hash, key_id, csrf, created_ns, last_seen_ns FROM console_sessions";

/// The conditions of an expired session and of a live one at `now` (`$1` = now − [`IDLE_NS`], `$2` = now −
/// [`ABSOLUTE_NS`]), the SQL twins of [`ConsoleSession::is_live`].
const EXPIRED: &str = "(last_seen_ns <= $1 OR created_ns <= $2)";
const LIVE: &str = "last_seen_ns > $1 AND created_ns > $2";

impl Meta {
    /// Stores a new session unless `max_live` sessions are live at its creation time (then `false`, and nothing is
    /// stored). Sweeps expired sessions first, at most [`SWEEP_BATCH`].
    ///
    /// On SQLite the sweep, the count and the insert are one write transaction, so the cap is exact; on
    /// PostgreSQL nodes signing in at the same moment may each count below the cap and pass it by as many (it
    /// bounds a runaway script's rows, not a quota).
    pub async fn create_console_session(&self, session: &ConsoleSession, max_live: i64) -> Result<bool, MetaError> {
        let now = session.created_ns;
        let (idle_before, absolute_before) = (now.saturating_sub(IDLE_NS), now.saturating_sub(ABSOLUTE_NS));
        let mut tx = self.write_transaction().await?;
        sqlx::query(&format!(
            "DELETE FROM console_sessions WHERE token_hash IN \
             (SELECT token_hash FROM console_sessions WHERE {EXPIRED} LIMIT $3)"
        ))
        .bind(idle_before)
        .bind(absolute_before)
        .bind(SWEEP_BATCH)
        .execute(&mut *tx)
        .await?;
        let live: i64 = sqlx::query(&format!("SELECT COUNT(*) AS n FROM console_sessions WHERE {LIVE}"))
            .bind(idle_before)
            .bind(absolute_before)
            .fetch_one(&mut *tx)
            .await?
            .try_get("n")?;
        if live >= max_live {
            // The sweep stays done.
            tx.commit().await?;
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO console_sessions (token_hash, key_id, csrf, created_ns, last_seen_ns)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&session.token_hash)
        .bind(&session.key_id)
        .bind(&session.csrf)
        .bind(session.created_ns)
        .bind(session.last_seen_ns)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// The live session of a token hash at `now_ns`, marked seen (written only when its last-seen time is
    /// [`TOUCH_AFTER_NS`] old); `None` when there is none, deleting it when it has expired.
    pub async fn resume_console_session(
        &self,
        token_hash: &str,
        now_ns: i64,
    ) -> Result<Option<ConsoleSession>, MetaError> {
        let row = sqlx::query(&format!("{SESSION_COLUMNS} WHERE token_hash = $1"))
            .bind(token_hash)
            .fetch_optional(self.pool())
            .await?;
        let Some(mut session) = row.as_ref().map(session_from_row).transpose()? else {
            return Ok(None);
        };
        if !session.is_live(now_ns) {
            self.end_console_session(token_hash).await?;
            return Ok(None);
        }
        if now_ns.saturating_sub(session.last_seen_ns) >= TOUCH_AFTER_NS {
            // Never backwards: another node, its clock ahead, may have written a later time meanwhile.
            sqlx::query("UPDATE console_sessions SET last_seen_ns = $1 WHERE token_hash = $2 AND last_seen_ns < $3")
                .bind(now_ns)
                .bind(token_hash)
                .bind(now_ns)
                .execute(self.pool())
                .await?;
            session.last_seen_ns = now_ns;
        }
        Ok(Some(session))
    }

    /// Ends a session (nothing when there is none).
    pub async fn end_console_session(&self, token_hash: &str) -> Result<(), MetaError> {
        sqlx::query("DELETE FROM console_sessions WHERE token_hash = $1").bind(token_hash).execute(self.pool()).await?;
        Ok(())
    }

    /// How many sessions are stored, live or expired and not swept yet.
    pub async fn console_sessions_held(&self) -> Result<i64, MetaError> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM console_sessions").fetch_one(self.pool()).await?;
        Ok(row.try_get("n")?)
    }
}

fn session_from_row(row: &AnyRow) -> Result<ConsoleSession, MetaError> {
    Ok(ConsoleSession {
        token_hash: row.try_get("token_hash")?,
        key_id: row.try_get("key_id")?,
        csrf: row.try_get("csrf")?,
        created_ns: row.try_get("created_ns")?,
        last_seen_ns: row.try_get("last_seen_ns")?,
    })
}
