//! The hourly counts insights are computed from (migration `0007_insight_counts.sql`), in the metadata database.
//!
//! As in [`crate::meta`], every call takes the account id into its `WHERE` clause. The counts are derived from
//! the index by the insights job; this module only keeps them, so a baseline reads a few rows rather than days
//! of events.

use sqlx::Row;

use crate::meta::{Meta, MetaError};

/// Rows per `INSERT`: five parameters each, well under SQLite's 32,766 and PostgreSQL's 65,535 parameters per
/// statement.
const INSERTED_PER_STATEMENT: usize = 1_000;

/// The events of one hour with one key of one dimension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HourCount {
    /// `action`, `action_failures` or `principal`.
    pub dimension: String,
    /// The action or the principal.
    pub key: String,
    /// Unix hours (eventTime, UTC): the hour from `hour * 3600` s.
    pub hour: i64,
    /// Events.
    pub count: i64,
}

/// What one counting run of an account found, to keep.
#[derive(Debug, Clone)]
pub struct CountedHours<'a> {
    /// The account.
    pub account: &'a str,
    /// The hours counted, `[from, to)`: their rows are replaced by `counts` (a key absent from `counts` had no
    /// event in them).
    pub hours: (i64, i64),
    /// The counts, every one inside `hours`.
    pub counts: &'a [HourCount],
    /// Hours before this one are final: later runs do not count them again.
    pub final_before: i64,
    /// Whether every hour a baseline reads was counted (the hour counted last is then noted as the account's
    /// last full count).
    pub full: bool,
    /// Rows of hours before this one are no longer needed by any baseline and are removed.
    pub forget_before: i64,
}

impl Meta {
    /// For `account`: the hour before which hours are counted and final, and the hour of its last full count;
    /// `None` when it was never counted.
    pub async fn insight_progress(&self, account: &str) -> Result<Option<(i64, i64)>, MetaError> {
        let row = sqlx::query("SELECT final_before_hour, full_count_hour FROM insight_progress WHERE account_id = $1")
            .bind(account)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.map(|row| (row.get("final_before_hour"), row.get("full_count_hour"))))
    }

    /// Replaces the counts of the hours counted, moves the account's final mark and forgets old rows, in one
    /// transaction: a crash leaves the hours as they were, counted again by the next run.
    pub async fn record_insight_counts(&self, counted: &CountedHours<'_>) -> Result<(), MetaError> {
        let mut tx = self.write_transaction().await?;
        sqlx::query("DELETE FROM insight_counts WHERE account_id = $1 AND ((hour >= $2 AND hour < $3) OR hour < $4)")
            .bind(counted.account)
            .bind(counted.hours.0)
            .bind(counted.hours.1)
            .bind(counted.forget_before)
            .execute(&mut *tx)
            .await?;
        let kept: Vec<&HourCount> =
            counted.counts.iter().filter(|row| row.count > 0 && row.hour >= counted.forget_before).collect();
        // Many rows per statement: a full count stores keys x hours rows, and one statement each paid a round
        // trip to sqlx's SQLite thread apiece (most of a full count's CPU, docs/benchmarks.md).
        for chunk in kept.chunks(INSERTED_PER_STATEMENT) {
            // Numbered placeholders written here: `QueryBuilder` writes `?` for the `Any` driver, which PostgreSQL
            // does not read.
            let rows: Vec<String> = (0..chunk.len())
                .map(|row| {
                    let first = row * 5 + 1;
                    format!("(${}, ${}, ${}, ${}, ${})", first, first + 1, first + 2, first + 3, first + 4)
                })
                .collect();
            let sql = format!(
                "INSERT INTO insight_counts (account_id, dimension, key, hour, count) VALUES {}",
                rows.join(", ")
            );
            let mut insert = sqlx::query(&sql);
            for row in chunk {
                insert =
                    insert.bind(counted.account).bind(&row.dimension).bind(&row.key).bind(row.hour).bind(row.count);
            }
            insert.execute(&mut *tx).await?;
        }
        let full_count = counted.full.then_some(counted.hours.1 - 1);
        sqlx::query(
            "INSERT INTO insight_progress (account_id, final_before_hour, full_count_hour) VALUES ($1, $2, COALESCE($3, 0))
             ON CONFLICT (account_id) DO UPDATE SET
                 final_before_hour = CASE WHEN insight_progress.final_before_hour > excluded.final_before_hour
                     THEN insight_progress.final_before_hour ELSE excluded.final_before_hour END,
                 full_count_hour = COALESCE($4, insight_progress.full_count_hour)",
        )
        .bind(counted.account)
        .bind(counted.final_before)
        .bind(full_count)
        .bind(full_count)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The account's counts in the given hours (a key without a row there had no event).
    pub async fn insight_counts(&self, account: &str, hours: &[i64]) -> Result<Vec<HourCount>, MetaError> {
        if hours.is_empty() {
            return Ok(Vec::new());
        }
        let places: Vec<String> = (2..hours.len() + 2).map(|place| format!("${place}")).collect();
        let places = places.join(", ");
        let sql = format!(
            "SELECT dimension, key, hour, count FROM insight_counts WHERE account_id = $1 AND hour IN ({places})
             ORDER BY hour, dimension, key"
        );
        let mut query = sqlx::query(&sql).bind(account);
        for hour in hours {
            query = query.bind(hour);
        }
        let rows = query.fetch_all(self.pool()).await?;
        Ok(rows
            .iter()
            .map(|row| HourCount {
                dimension: row.get("dimension"),
                key: row.get("key"),
                hour: row.get("hour"),
                count: row.get("count"),
            })
            .collect())
    }
}
