//! The days written to object storage, and dropping their partitions once they are.

use std::collections::BTreeMap;

use sqlx::Row;

use super::{PARTITIONS_LOCK, PgLog, PgLogError, day_number, partition_name};
use crate::Day;

/// A day written to object storage, as PostgreSQL lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedDay {
    /// The day.
    pub day: Day,
    /// SHA-256 of its manifest, lowercase hex: the manifest read back must match it.
    pub manifest_sha256: String,
    /// Each instance's last seq of the day.
    pub last_seqs: BTreeMap<String, u64>,
}

impl PgLog {
    /// The days written to object storage, oldest first.
    pub async fn sealed_days(&self) -> Result<Vec<SealedDay>, PgLogError> {
        let rows = sqlx::query("SELECT day, manifest_sha256, last_seqs FROM log_sealed_days ORDER BY day")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                let number: i32 = row.try_get("day")?;
                let last_seqs: String = row.try_get("last_seqs")?;
                let last_seqs = serde_json::from_str(&last_seqs)
                    .map_err(|error| PgLogError::Inconsistent(format!("last_seqs of sealed day {number}: {error}")))?;
                Ok(SealedDay {
                    day: Day::from_ns(i64::from(number) * super::NANOS_PER_DAY),
                    manifest_sha256: row.try_get("manifest_sha256")?,
                    last_seqs,
                })
            })
            .collect()
    }

    /// The days that have a partition of `log_records`.
    pub async fn partition_days(&self) -> Result<std::collections::BTreeSet<Day>, PgLogError> {
        let names: Vec<String> = sqlx::query_scalar(
            "SELECT child.relname::text FROM pg_inherits
             JOIN pg_class child ON child.oid = pg_inherits.inhrelid
             JOIN pg_class parent ON parent.oid = pg_inherits.inhparent
             WHERE parent.relname = 'log_records'",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(names
            .iter()
            .filter_map(|name| name.strip_prefix("log_records_"))
            .filter_map(|date| date.replace('_', "-").parse::<Day>().ok())
            .collect())
    }

    /// Lists a day as written to object storage (a day written twice keeps its first listing: both manifests
    /// describe the same records).
    pub async fn record_sealed_day(&self, listed: &SealedDay, written_ns: i64) -> Result<(), PgLogError> {
        let last_seqs = serde_json::to_string(&listed.last_seqs).unwrap_or_default();
        sqlx::query(
            "INSERT INTO log_sealed_days (day, manifest_sha256, last_seqs, node, written_ns) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (day) DO NOTHING",
        )
        .bind(day_number(listed.day.start_ns()))
        .bind(&listed.manifest_sha256)
        .bind(last_seqs)
        .bind(&self.options.node)
        .bind(written_ns)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Detaches and drops the partition of a day listed as written to object storage; `false` when it had none.
    /// A day not listed is refused: its records would exist nowhere else.
    pub async fn drop_sealed_day(&self, day: Day) -> Result<bool, PgLogError> {
        let number = day_number(day.start_ns());
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(PARTITIONS_LOCK).execute(&mut *tx).await?;
        let listed: Option<i32> = sqlx::query_scalar("SELECT day FROM log_sealed_days WHERE day = $1")
            .bind(number)
            .fetch_optional(&mut *tx)
            .await?;
        if listed.is_none() {
            return Err(PgLogError::Inconsistent(format!("{day} is not in object storage; its partition stays")));
        }
        let name = partition_name(number);
        let exists: Option<String> =
            sqlx::query_scalar("SELECT to_regclass($1)::text").bind(&name).fetch_one(&mut *tx).await?;
        if exists.is_none() {
            return Ok(false);
        }
        // `name` is made of digits and underscores from an integer: nothing here comes from a client.
        sqlx::query(&format!("ALTER TABLE log_records DETACH PARTITION {name}")).execute(&mut *tx).await?;
        sqlx::query(&format!("DROP TABLE {name}")).execute(&mut *tx).await?;
        tx.commit().await?;
        self.forget_day(number);
        Ok(true)
    }
}
