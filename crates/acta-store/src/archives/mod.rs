//! Archive configurations of instances and the segments confirmed in them (migration `0005_archives.sql`),
//! and the archive format ([`layout`]).
//!
//! Like every account-owned read, the configuration is read with its account id; the background worker alone
//! lists all of them.

pub mod layout;

use sqlx::Row;

use crate::meta::{Meta, MetaError, flag, is_set};

/// An instance's archive as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveRow {
    /// The instance.
    pub instance: String,
    /// Its account.
    pub account: String,
    /// The configuration JSON, secrets included.
    pub config: String,
    /// When it was last set.
    pub updated_at: String,
    /// Whether the last attempt failed (a failure streak is under way).
    pub failing: bool,
    /// The last failure, if any.
    pub last_error: Option<String>,
}

/// A segment whose archive copy was confirmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchivedSegment {
    /// Arrival day, `YYYY-MM-DD`.
    pub day: String,
    /// Bytes written for it (all files).
    pub bytes: i64,
    /// SHA-256 of its MANIFEST.json.
    pub manifest_sha256: String,
    /// When it was confirmed.
    pub confirmed_at: String,
}

const COLUMNS: &str = "SELECT instance_id, account_id, config, updated_at, failing, last_error FROM instance_archives";

fn row_to_archive(row: &sqlx::any::AnyRow) -> ArchiveRow {
    ArchiveRow {
        instance: row.get("instance_id"),
        account: row.get("account_id"),
        config: row.get("config"),
        updated_at: row.get("updated_at"),
        failing: is_set(row, "failing"),
        last_error: row.get("last_error"),
    }
}

impl Meta {
    /// Sets (or replaces) an instance's archive; a new configuration starts without a failure streak.
    pub async fn set_archive(&self, account: &str, instance: &str, config: &str, now: &str) -> Result<(), MetaError> {
        sqlx::query(
            "INSERT INTO instance_archives (instance_id, account_id, config, updated_at, failing, last_error)
             VALUES ($1, $2, $3, $4, 0, NULL)
             ON CONFLICT (instance_id) DO UPDATE SET config = excluded.config, updated_at = excluded.updated_at,
                 failing = 0, last_error = NULL
             WHERE instance_archives.account_id = excluded.account_id",
        )
        .bind(instance)
        .bind(account)
        .bind(config)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// An instance's archive.
    pub async fn archive(&self, account: &str, instance: &str) -> Result<Option<ArchiveRow>, MetaError> {
        let row = sqlx::query(&format!("{COLUMNS} WHERE account_id = $1 AND instance_id = $2"))
            .bind(account)
            .bind(instance)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.as_ref().map(row_to_archive))
    }

    /// Removes an instance's archive configuration (what was archived stays where it is).
    pub async fn delete_archive(&self, account: &str, instance: &str) -> Result<bool, MetaError> {
        let done = sqlx::query("DELETE FROM instance_archives WHERE account_id = $1 AND instance_id = $2")
            .bind(account)
            .bind(instance)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Every archive (the archive worker).
    pub async fn all_archives(&self) -> Result<Vec<ArchiveRow>, MetaError> {
        let rows = sqlx::query(&format!("{COLUMNS} ORDER BY account_id, instance_id")).fetch_all(self.pool()).await?;
        Ok(rows.iter().map(row_to_archive).collect())
    }

    /// Records the outcome of an attempt; returns whether `failing` changed (a streak started or ended).
    pub async fn set_archive_failing(
        &self,
        account: &str,
        instance: &str,
        error: Option<&str>,
    ) -> Result<bool, MetaError> {
        let failing = error.is_some();
        let changed = sqlx::query(
            "UPDATE instance_archives SET failing = $1, last_error = $2 WHERE account_id = $3 AND instance_id = $4
                 AND failing <> $5",
        )
        .bind(flag(failing))
        .bind(error)
        .bind(account)
        .bind(instance)
        .bind(flag(failing))
        .execute(self.pool())
        .await?
        .rows_affected()
            > 0;
        if !changed && failing {
            sqlx::query("UPDATE instance_archives SET last_error = $1 WHERE account_id = $2 AND instance_id = $3")
                .bind(error)
                .bind(account)
                .bind(instance)
                .execute(self.pool())
                .await?;
        }
        Ok(changed)
    }

    /// Records a segment confirmed in a destination.
    pub async fn record_archived(
        &self,
        instance: &str,
        destination: &str,
        segment: &ArchivedSegment,
    ) -> Result<(), MetaError> {
        sqlx::query(
            "INSERT INTO archived_segments (instance_id, day, destination, bytes, manifest_sha256, confirmed_at)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (instance_id, day, destination) DO UPDATE SET bytes = excluded.bytes,
                 manifest_sha256 = excluded.manifest_sha256, confirmed_at = excluded.confirmed_at",
        )
        .bind(instance)
        .bind(&segment.day)
        .bind(destination)
        .bind(segment.bytes)
        .bind(&segment.manifest_sha256)
        .bind(&segment.confirmed_at)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The segments of an instance confirmed in a destination, by day.
    pub async fn archived_segments(
        &self,
        instance: &str,
        destination: &str,
    ) -> Result<Vec<ArchivedSegment>, MetaError> {
        let rows = sqlx::query(
            "SELECT day, bytes, manifest_sha256, confirmed_at FROM archived_segments
             WHERE instance_id = $1 AND destination = $2 ORDER BY day",
        )
        .bind(instance)
        .bind(destination)
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .iter()
            .map(|row| ArchivedSegment {
                day: row.get("day"),
                bytes: row.get("bytes"),
                manifest_sha256: row.get("manifest_sha256"),
                confirmed_at: row.get("confirmed_at"),
            })
            .collect())
    }
}
