//! Reading an instance's records back, in seq order, as the embedded log's records.

use sqlx::Row;

use crate::log::{Envelope, Record, encode_payload};

use super::{PgLog, PgLogError, seq_of};

impl PgLog {
    /// The records of an instance with `after < seq <= through`, in seq order, each with the payload (envelope
    /// and event bytes) the embedded log would hold: the integrity leaves are the same.
    pub async fn records(&self, instance: &str, after: u64, through: u64) -> Result<Vec<Record>, PgLogError> {
        let bound = |seq: u64| i64::try_from(seq).unwrap_or(i64::MAX);
        let rows = sqlx::query(
            "SELECT seq, received_ns, stream, account, event_id, event FROM log_records
             WHERE instance = $1 AND seq > $2 AND seq <= $3 ORDER BY seq",
        )
        .bind(instance)
        .bind(bound(after))
        .bind(bound(through))
        .fetch_all(&self.pool)
        .await?;
        let mut records = Vec::with_capacity(rows.len());
        for row in rows {
            let seq = seq_of(row.try_get("seq")?)?;
            let (stream, account, event_id): (String, String, String) =
                (row.try_get("stream")?, row.try_get("account")?, row.try_get("event_id")?);
            let event: Vec<u8> = row.try_get("event")?;
            let received_ns: i64 = row.try_get("received_ns")?;
            let envelope =
                Envelope { seq, received_ns, stream: &stream, account: &account, instance, event_id: &event_id };
            let payload = encode_payload(&envelope, &event)?;
            records.push(Record {
                seq,
                received_ns,
                stream,
                account,
                instance: instance.to_owned(),
                event_id,
                event,
                payload,
            });
        }
        Ok(records)
    }
}
