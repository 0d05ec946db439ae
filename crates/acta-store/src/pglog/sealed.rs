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
    /// The prefix of its objects as now written; empty once retention removed every instance of it.
    pub objects: String,
    /// SHA-256 of its manifest, lowercase hex: the manifest read back must match it.
    pub manifest_sha256: String,
    /// Where each instance whose files are in object storage ends the day.
    pub last_seqs: BTreeMap<String, DayEnd>,
    /// Where each instance that retention removed from the day ended it.
    pub retired: BTreeMap<String, DayEnd>,
}

/// Where an instance's records of a day end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DayEnd {
    /// The last seq of the day.
    pub last_seq: u64,
    /// Its arrival time.
    pub last_received_ns: i64,
}

impl PgLog {
    /// The days written to object storage, oldest first.
    pub async fn sealed_days(&self) -> Result<Vec<SealedDay>, PgLogError> {
        let rows =
            sqlx::query("SELECT day, objects, manifest_sha256, last_seqs, retired FROM log_sealed_days ORDER BY day")
                .fetch_all(&self.pool)
                .await?;
        rows.iter()
            .map(|row| {
                let number: i32 = row.try_get("day")?;
                let ends = |column: &str| -> Result<BTreeMap<String, DayEnd>, PgLogError> {
                    let text: String = row.try_get(column)?;
                    serde_json::from_str(&text)
                        .map_err(|error| PgLogError::Inconsistent(format!("{column} of sealed day {number}: {error}")))
                };
                Ok(SealedDay {
                    day: Day::from_ns(i64::from(number) * super::NANOS_PER_DAY),
                    objects: row.try_get("objects")?,
                    manifest_sha256: row.try_get("manifest_sha256")?,
                    last_seqs: ends("last_seqs")?,
                    retired: ends("retired")?,
                })
            })
            .collect()
    }

    /// The instances with records of a day in `log_records`.
    pub async fn day_instances(&self, day: Day) -> Result<std::collections::BTreeSet<String>, PgLogError> {
        let instances: Vec<String> = sqlx::query_scalar("SELECT DISTINCT instance FROM log_records WHERE day = $1")
            .bind(day_number(day.start_ns()))
            .fetch_all(&self.pool)
            .await?;
        Ok(instances.into_iter().collect())
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

    /// Lists a day as written to object storage: a new listing when `replacing` is `None` (a day already listed
    /// keeps its listing: both writes describe the same records), else in place of the write `replacing` if the
    /// day is still listed with it (retention wrote it again). Returns whether the listing is now `listed`.
    pub async fn list_sealed_day(
        &self,
        listed: &SealedDay,
        replacing: Option<&str>,
        written_ns: i64,
    ) -> Result<bool, PgLogError> {
        let done = sqlx::query(
            "INSERT INTO log_sealed_days (day, objects, manifest_sha256, last_seqs, retired, node, written_ns)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (day) DO UPDATE SET objects = excluded.objects, manifest_sha256 = excluded.manifest_sha256,
                 last_seqs = excluded.last_seqs, retired = excluded.retired, node = excluded.node,
                 written_ns = excluded.written_ns
             WHERE log_sealed_days.objects = $8",
        )
        .bind(day_number(listed.day.start_ns()))
        .bind(&listed.objects)
        .bind(&listed.manifest_sha256)
        .bind(serde_json::to_string(&listed.last_seqs).unwrap_or_default())
        .bind(serde_json::to_string(&listed.retired).unwrap_or_default())
        .bind(&self.options.node)
        .bind(written_ns)
        .bind(replacing)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
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
