//! The cluster's checkpoints: the latest signed checkpoint of each segment (instance, day), as the signing node
//! published it. Every node writes the same lines to its own checkpoint files (`cluster/signing.rs`).

use sqlx::Row;

use super::{PgLog, PgLogError, day_number, seq_of};
use crate::Day;

/// A segment's latest checkpoint, as published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishedCheckpoint {
    /// The instance.
    pub instance: String,
    /// The segment's day.
    pub day: Day,
    /// The tree size.
    pub size: u64,
    /// Whether the segment is closed.
    pub is_final: bool,
    /// The note's origin: every checkpoint of a segment has the first one's.
    pub origin: String,
    /// The link leaf's target, hex: every checkpoint of a segment has the first one's.
    pub link: String,
    /// The `.notes` line, without its newline.
    pub line: String,
}

/// What became of a checkpoint offered for publication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Publication {
    /// It is the segment's latest checkpoint now (or was already).
    Published,
    /// The segment's published history does not go on with it: what is published instead.
    Refused(String),
}

impl PgLog {
    /// Publishes a segment's checkpoint, if it extends the one published: same origin and link, a larger tree or
    /// the final checkpoint of the same tree (or the same line again). Publications are serialized by the version
    /// row's lock, so versions commit in their order.
    pub async fn publish_checkpoint(&self, checkpoint: &PublishedCheckpoint) -> Result<Publication, PgLogError> {
        let size = i64::try_from(checkpoint.size)
            .map_err(|_| PgLogError::Inconsistent(format!("a tree of size {} is past BIGINT", checkpoint.size)))?;
        let day = day_number(checkpoint.day.start_ns());
        let mut tx = self.pool.begin().await?;
        let version: i64 =
            sqlx::query_scalar("UPDATE log_checkpoint_versions SET version = version + 1 RETURNING version")
                .fetch_one(&mut *tx)
                .await?;
        let current = sqlx::query(
            "SELECT size, is_final, origin, link, line FROM log_checkpoints WHERE instance = $1 AND day = $2",
        )
        .bind(&checkpoint.instance)
        .bind(day)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(row) = current {
            let published = seq_of(row.try_get("size")?)?;
            let line: String = row.try_get("line")?;
            if line == checkpoint.line {
                return Ok(Publication::Published);
            }
            let origin: String = row.try_get("origin")?;
            let link: String = row.try_get("link")?;
            let is_final: bool = row.try_get("is_final")?;
            let refusal = if origin != checkpoint.origin {
                Some(format!("the segment's checkpoints have the origin {origin}"))
            } else if link != checkpoint.link {
                Some(format!("the segment's checkpoints link to {link}"))
            } else if is_final {
                Some(format!("the segment is closed at size {published}"))
            } else if published > checkpoint.size || (published == checkpoint.size && !checkpoint.is_final) {
                // The same size again only as the final checkpoint: the segment closed with no record after it.
                Some(format!("a checkpoint of size {published} is published"))
            } else {
                None
            };
            if let Some(refusal) = refusal {
                return Ok(Publication::Refused(refusal));
            }
        }
        sqlx::query(
            "INSERT INTO log_checkpoints (instance, day, size, is_final, origin, link, line, version) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (instance, day) DO UPDATE SET size = EXCLUDED.size, is_final = EXCLUDED.is_final, \
             line = EXCLUDED.line, version = EXCLUDED.version",
        )
        .bind(&checkpoint.instance)
        .bind(day)
        .bind(size)
        .bind(checkpoint.is_final)
        .bind(&checkpoint.origin)
        .bind(&checkpoint.link)
        .bind(&checkpoint.line)
        .bind(version)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Publication::Published)
    }

    /// The segments whose published checkpoint changed after `version`, and the version to read after next time.
    pub async fn checkpoints_after(&self, version: i64) -> Result<(Vec<PublishedCheckpoint>, i64), PgLogError> {
        let rows = sqlx::query(
            "SELECT instance, day, size, is_final, origin, link, line, version FROM log_checkpoints \
             WHERE version > $1 ORDER BY version",
        )
        .bind(version)
        .fetch_all(&self.pool)
        .await?;
        let mut last = version;
        let mut changed = Vec::with_capacity(rows.len());
        for row in rows {
            let number: i32 = row.try_get("day")?;
            last = last.max(row.try_get("version")?);
            changed.push(PublishedCheckpoint {
                instance: row.try_get("instance")?,
                day: Day::from_ns(i64::from(number) * super::NANOS_PER_DAY),
                size: seq_of(row.try_get("size")?)?,
                is_final: row.try_get("is_final")?,
                origin: row.try_get("origin")?,
                link: row.try_get("link")?,
                line: row.try_get("line")?,
            });
        }
        Ok((changed, last))
    }
}
