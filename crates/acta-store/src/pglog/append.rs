//! Appending a batch: one transaction under the instance's head row lock.

use std::fmt::Write as _;

use sqlx::PgConnection;

use crate::Stored;
use crate::index::{Duplicates, IdCheck};
use crate::log::{Appended, Day, Envelope, NewRecord, payload_len, validate_instance};

use super::{PgLog, PgLogError, day_number, ids, seq_of};

impl PgLog {
    /// Appends `records` to the instance's log in order, as one transaction: they get the seqs after the
    /// instance's last one and one arrival time, no earlier than the instance's last (a node whose clock is
    /// behind another's does not take time back). When this returns `Ok`, PostgreSQL has committed them; on any
    /// error none is stored and the head is unchanged.
    pub async fn append(&self, instance: &str, records: Vec<NewRecord>) -> Result<Vec<Appended>, PgLogError> {
        let appended = self.append_batch(instance, records, None).await?;
        Ok(appended.into_iter().flatten().map(|(appended, _)| appended).collect())
    }

    /// Appends the events of `account` it does not hold yet (in any instance, taken by any node; see
    /// [`Duplicates`]), as [`PgLog::append`] does: one [`Stored`] per record, in order, once committed.
    pub async fn append_new(
        &self,
        account: &str,
        instance: &str,
        records: Vec<NewRecord>,
        duplicates: Duplicates,
    ) -> Result<Vec<Stored>, PgLogError> {
        let ids: Vec<String> = records.iter().map(|record| record.event_id.clone()).collect();
        let mut attempts = 0;
        let appended = loop {
            attempts += 1;
            match self.append_batch(instance, records.clone(), Some((account, duplicates))).await {
                // Two batches waiting on each other's ids: PostgreSQL ended one; nothing of it is stored.
                Err(PgLogError::Database(sqlx::Error::Database(error)))
                    if attempts < 3 && error.code().is_some_and(|code| code == "40P01") => {}
                other => break other?,
            }
        };
        Ok(ids
            .into_iter()
            .zip(appended)
            .map(|(id, appended)| match appended {
                Some((appended, check)) => Stored::New {
                    id,
                    seq: appended.seq,
                    received_ns: appended.received_ns,
                    id_reused: check == IdCheck::Reused,
                },
                None => Stored::Duplicate { id },
            })
            .collect())
    }

    /// The one transaction of a batch; with an account, only the records it does not hold are stored (`None`
    /// for the others).
    async fn append_batch(
        &self,
        instance: &str,
        records: Vec<NewRecord>,
        check: Option<(&str, Duplicates)>,
    ) -> Result<Vec<Option<(Appended, IdCheck)>>, PgLogError> {
        validate_instance(instance)?;
        if records.is_empty() {
            return Ok(Vec::new());
        }
        let now = (self.options.clock)();
        // The partition of today is made before the head is locked, in a transaction of its own; a batch that
        // must go to a later day (another node's clock ahead) makes it in its own transaction below, holding no
        // lock on `log_records` yet (so no cycle with another batch) and not waiting for a second connection.
        self.ensure_day(day_number(now)).await?;
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO log_heads (instance, last_seq, last_received_ns) VALUES ($1, 0, $2) ON CONFLICT DO NOTHING",
        )
        .bind(instance)
        .bind(i64::MIN)
        .execute(&mut *tx)
        .await?;
        let (last_seq, last_received): (i64, i64) =
            sqlx::query_as("SELECT last_seq, last_received_ns FROM log_heads WHERE instance = $1 FOR UPDATE")
                .bind(instance)
                .fetch_one(&mut *tx)
                .await?;
        let received_ns = now.max(last_received);
        let day = day_number(received_ns);
        let checks = match check {
            Some((account, duplicates)) => ids::check(&mut tx, account, instance, day, &records, duplicates).await?,
            None => vec![IdCheck::New; records.len()],
        };
        if checks.iter().all(|check| *check == IdCheck::Duplicate) {
            tx.commit().await?;
            return Ok(vec![None; records.len()]);
        }
        let new_day = !self.known_day(day);
        if new_day {
            create_partition(&mut tx, day).await?;
        }
        let first = seq_of(last_seq)? + 1;
        let mut rows = String::new();
        let mut appended = Vec::with_capacity(records.len());
        let mut seqs = first..;
        for (record, check) in records.iter().zip(checks) {
            if check == IdCheck::Duplicate {
                appended.push(None);
                continue;
            }
            let seq = seqs.next().unwrap_or(u64::MAX);
            let envelope = Envelope {
                seq,
                received_ns,
                stream: &self.options.node,
                account: &record.account,
                instance,
                event_id: &record.event_id,
            };
            // The embedded log's limits on a record, so that every record reads back as a payload.
            payload_len(&envelope, record.event.len())?;
            copy_row(&mut rows, &envelope, day, &record.event);
            appended.push(Some((Appended { seq, received_ns, day: Day::from_ns(received_ns) }, check)));
        }
        let mut copy = tx
            .copy_in_raw(
                "COPY log_records (instance, seq, day, received_ns, stream, account, event_id, event) \
                 FROM STDIN WITH (FORMAT csv)",
            )
            .await?;
        copy.send(rows.into_bytes()).await?;
        copy.finish().await?;
        let last = seqs.next().unwrap_or(u64::MAX) - 1;
        sqlx::query("UPDATE log_heads SET last_seq = $2, last_received_ns = $3 WHERE instance = $1")
            .bind(instance)
            .bind(i64::try_from(last).map_err(|_| PgLogError::Inconsistent(format!("seq {last} past BIGINT")))?)
            .bind(received_ns)
            .execute(&mut *tx)
            .await?;
        // Delivered to followers on every node if, and only if, the batch commits.
        sqlx::query("SELECT pg_notify($1, $2)").bind(super::follow::CHANNEL).bind(instance).execute(&mut *tx).await?;
        tx.commit().await?;
        if new_day {
            self.remember_day(day);
        }
        Ok(appended)
    }

    /// Makes the partition of `day` if no node has made it, in a transaction of its own.
    async fn ensure_day(&self, day: i32) -> Result<(), PgLogError> {
        if self.known_day(day) {
            return Ok(());
        }
        let mut tx = self.pool.begin().await?;
        create_partition(&mut tx, day).await?;
        tx.commit().await?;
        self.remember_day(day);
        Ok(())
    }
}

/// Creates the partition of `day` unless it exists, under an advisory lock that makes nodes take turns (creating
/// a partition locks the whole table until the transaction ends).
async fn create_partition(connection: &mut PgConnection, day: i32) -> Result<(), PgLogError> {
    sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(super::PARTITIONS_LOCK).execute(&mut *connection).await?;
    let name = super::partition_name(day);
    // `day` is an integer and `name` is made of digits and underscores: nothing here comes from a client.
    sqlx::query(&format!(
        "CREATE TABLE IF NOT EXISTS {name} PARTITION OF log_records FOR VALUES FROM ({day}) TO ({})",
        i64::from(day) + 1
    ))
    .execute(&mut *connection)
    .await?;
    Ok(())
}

/// One record as a CSV row of `COPY ... (FORMAT csv)`: texts quoted, the event as bytea's hex form.
fn copy_row(rows: &mut String, envelope: &Envelope<'_>, day: i32, event: &[u8]) {
    let _ = write!(rows, "{},{},{},{},", quoted(envelope.instance), envelope.seq, day, envelope.received_ns);
    let _ =
        write!(rows, "{},{},{},\"\\x", quoted(envelope.stream), quoted(envelope.account), quoted(envelope.event_id));
    for byte in event {
        let _ = write!(rows, "{byte:02x}");
    }
    rows.push_str("\"\n");
}

/// A text as a quoted CSV field (a quote inside is doubled; commas and line ends are then plain).
fn quoted(text: &str) -> String {
    format!("\"{}\"", text.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A field with quotes, commas and a line end stays one field.
    #[test]
    fn a_copy_row_quotes_texts_and_writes_the_event_as_hex() {
        let envelope = Envelope {
            seq: 7,
            received_ns: 42,
            stream: "node-a",
            account: "acme",
            instance: "us-south",
            event_id: "id, \"quoted\"\nnext",
        };
        let mut rows = String::new();
        copy_row(&mut rows, &envelope, 3, b"{\"a\":1}");
        assert_eq!(
            rows,
            "\"us-south\",7,3,42,\"node-a\",\"acme\",\"id, \"\"quoted\"\"\nnext\",\"\\x7b2261223a317d\"\n"
        );
    }
}
