//! Views, alerts, firings, the notification outbox and delivery attempts, in the metadata database.
//!
//! As in [`crate::meta`], every call that reads or changes an account's objects takes the account id into its
//! `WHERE` clause. The engine's calls (all alerts, due outbox rows) are the exception: they serve every account
//! and never answer a request.
//!
//! Two invariants live in the schema rather than in the callers:
//! - a firing and its outbox rows are written in one transaction ([`Meta::record_firing`]), so a crash leaves
//!   either both or neither: a firing is never without its notifications;
//! - `UNIQUE (alert_id, window_start_ns)` on firings: a window fires at most once, whatever replays or restarts
//!   happen (test firings have no window and are not limited).

use serde::Serialize;
use serde_json::Value;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::meta::{Meta, MetaError, flag, is_set, unique_violation};

/// A saved search.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct View {
    /// Id.
    pub id: String,
    /// Owning account.
    pub account: String,
    /// Name, unique in the account.
    pub name: String,
    /// Query text (it parsed when saved).
    pub query: String,
    /// Category, for grouping in lists.
    pub category: Option<String>,
    /// Time range start as given (`24h`, RFC 3339...).
    pub from: Option<String>,
    /// Time range end as given.
    pub to: Option<String>,
    /// Creation time.
    pub created_at: String,
    /// Last change.
    pub updated_at: String,
}

/// An alert attached to a view.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    /// Id.
    pub id: String,
    /// Owning account.
    pub account: String,
    /// The view whose query it watches.
    pub view: String,
    /// Name (defaults to the view's).
    pub name: String,
    /// `presence` or `absence`.
    pub kind: String,
    /// N: at least N (presence), fewer than N (absence).
    pub threshold: i64,
    /// Window length in seconds.
    pub window_secs: i64,
    /// Presence: fire when the Nth event of a window arrives.
    pub immediate: bool,
    /// Check at the end of each window.
    pub at_end: bool,
    /// Channel definitions (JSON array).
    pub channels: Value,
    /// IANA time zone for times in notifications.
    pub timezone: String,
    /// No notification is sent before this time (firings are still recorded, as muted).
    pub muted_until: Option<String>,
    /// Windows start at `anchor_ns + k * window`.
    pub anchor_ns: i64,
    /// End of the last window whose checks ran (every alert): at start, the engine evaluates the windows that
    /// ended after it.
    pub evaluated_until_ns: i64,
    /// Creation time.
    pub created_at: String,
    /// Last change.
    pub updated_at: String,
}

/// A firing to record with its notifications.
#[derive(Debug, Clone)]
pub struct NewFiring {
    /// Id.
    pub id: String,
    /// The alert.
    pub alert: String,
    /// Its account.
    pub account: String,
    /// `immediate`, `at_end`, `absence` or `test`.
    pub reason: String,
    /// The window, `None` for a test.
    pub window: Option<(i64, i64)>,
    /// Matching events counted in the window.
    pub count: i64,
    /// Muted firings are recorded without notifications.
    pub muted: bool,
    /// When.
    pub fired_at: String,
    /// What the notifications say (view, query, count, window, first matches, time zone), as JSON.
    pub message: Value,
    /// `(outbox id, channel)` for each notification to send.
    pub deliveries: Vec<(String, Value)>,
    /// When the first attempt is due, unix ns.
    pub due_ns: i64,
}

/// A recorded firing.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Firing {
    /// Id.
    pub id: String,
    /// The alert.
    pub alert: String,
    /// `immediate`, `at_end`, `absence` or `test`.
    pub reason: String,
    /// Window start, unix ns.
    pub window_start_ns: Option<i64>,
    /// Window end, unix ns.
    pub window_end_ns: Option<i64>,
    /// Matching events in the window.
    pub count: i64,
    /// Whether it was muted (nothing sent).
    pub muted: bool,
    /// When.
    pub fired_at: String,
    /// What the notifications say.
    pub message: Value,
}

/// One notification of a firing, on one channel.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Delivery {
    /// Id (also the idempotency key receivers see).
    pub id: String,
    /// The firing.
    pub firing: String,
    /// The alert.
    pub alert: String,
    /// The account.
    pub account: String,
    /// Position of the channel in the alert's list.
    pub channel_index: i64,
    /// The channel as it was when the alert fired.
    #[serde(skip)]
    pub channel: Value,
    /// `pending`, `delivered`, `failed` (gave up) or `cancelled` (alert deleted).
    pub state: String,
    /// Attempts made.
    pub attempts: i64,
    /// When the next attempt is due, unix ns.
    pub next_attempt_ns: i64,
    /// The last failure.
    pub last_error: Option<String>,
    /// Creation time.
    pub created_at: String,
    /// When it was delivered.
    pub delivered_at: Option<String>,
}

/// One delivery attempt.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Attempt {
    /// The delivery.
    pub delivery: String,
    /// 1 for the first attempt.
    pub attempt: i64,
    /// When.
    pub at: String,
    /// Whether it was delivered.
    pub ok: bool,
    /// The answer (`HTTP 200`, `250 OK`) or the error.
    pub detail: String,
}

/// The outcome of one attempt, to record.
#[derive(Debug, Clone)]
pub struct AttemptOutcome {
    /// Whether the notification was accepted by the receiver.
    pub ok: bool,
    /// What happened.
    pub detail: String,
    /// When.
    pub at: String,
    /// Retry at this time (unix ns); `None` with `ok == false` means give up.
    pub retry_at_ns: Option<i64>,
}

const VIEW_COLUMNS: &str =
    "SELECT id, account_id, name, query, category, from_spec, to_spec, created_at, updated_at FROM views";
const ALERT_COLUMNS: &str = "SELECT id, account_id, view_id, name, kind, threshold, window_secs, immediate, at_end, \
                             channels, timezone, muted_until, anchor_ns, evaluated_until_ns, created_at, updated_at \
                             FROM alerts";
const FIRING_COLUMNS: &str = "SELECT id, alert_id, reason, window_start_ns, window_end_ns, count, muted, fired_at, \
                              message FROM alert_firings";
const DELIVERY_COLUMNS: &str = "SELECT id, firing_id, alert_id, account_id, channel_index, channel, state, attempts, \
                                next_attempt_ns, last_error, created_at, delivered_at FROM alert_outbox";

impl Meta {
    /// Creates a view; a name taken in the account is a conflict.
    pub async fn create_view(&self, view: &View) -> Result<(), MetaError> {
        sqlx::query(
            "INSERT INTO views (id, account_id, name, query, category, from_spec, to_spec, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&view.id)
        .bind(&view.account)
        .bind(&view.name)
        .bind(&view.query)
        .bind(&view.category)
        .bind(&view.from)
        .bind(&view.to)
        .bind(&view.created_at)
        .bind(&view.updated_at)
        .execute(self.pool())
        .await
        .map_err(|error| unique_violation(error, &format!("a view named {:?} exists in the account", view.name)))?;
        Ok(())
    }

    /// The views of an account, in one category when given, by category and name.
    pub async fn views(&self, account: &str, category: Option<&str>) -> Result<Vec<View>, MetaError> {
        let rows = sqlx::query(&format!(
            "{VIEW_COLUMNS} WHERE account_id = $1 AND ($2 IS NULL OR category = $3) ORDER BY category NULLS FIRST, name"
        ))
        .bind(account)
        .bind(category)
        .bind(category)
        .fetch_all(self.pool())
        .await?;
        Ok(rows.iter().map(view_from_row).collect())
    }

    /// One view of an account.
    pub async fn view(&self, account: &str, id: &str) -> Result<Option<View>, MetaError> {
        self.owned_row(VIEW_COLUMNS, account, id, view_from_row).await
    }

    /// Replaces a view's name, query, category and range.
    pub async fn update_view(&self, view: &View) -> Result<(), MetaError> {
        sqlx::query(
            "UPDATE views SET name = $1, query = $2, category = $3, from_spec = $4, to_spec = $5, updated_at = $6
             WHERE account_id = $7 AND id = $8",
        )
        .bind(&view.name)
        .bind(&view.query)
        .bind(&view.category)
        .bind(&view.from)
        .bind(&view.to)
        .bind(&view.updated_at)
        .bind(&view.account)
        .bind(&view.id)
        .execute(self.pool())
        .await
        .map_err(|error| unique_violation(error, &format!("a view named {:?} exists in the account", view.name)))?;
        Ok(())
    }

    /// Deletes a view; a view with alerts attached is a conflict (delete them first).
    pub async fn delete_view(&self, account: &str, id: &str) -> Result<(), MetaError> {
        let mut tx = self.write_transaction().await?;
        let attached: i64 = sqlx::query("SELECT COUNT(*) AS n FROM alerts WHERE account_id = $1 AND view_id = $2")
            .bind(account)
            .bind(id)
            .fetch_one(&mut *tx)
            .await?
            .try_get("n")?;
        if attached > 0 {
            return Err(MetaError::Conflict(format!(
                "{attached} alert(s) are attached to this view; delete them first"
            )));
        }
        sqlx::query("DELETE FROM views WHERE account_id = $1 AND id = $2")
            .bind(account)
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(|error| match &error {
                // On PostgreSQL an alert attached by another transaction after the count above (SQLite's
                // `BEGIN IMMEDIATE` leaves none) is refused by the foreign key: the same conflict.
                sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
                    MetaError::Conflict("an alert is attached to this view; delete it first".to_string())
                }
                _ => MetaError::Database(error),
            })?;
        tx.commit().await?;
        Ok(())
    }

    /// The categories of an account's views with how many views each has (views without one are not listed).
    pub async fn view_categories(&self, account: &str) -> Result<Vec<(String, i64)>, MetaError> {
        let rows = sqlx::query(
            "SELECT category, COUNT(*) AS n FROM views WHERE account_id = $1 AND category IS NOT NULL
             GROUP BY category ORDER BY category",
        )
        .bind(account)
        .fetch_all(self.pool())
        .await?;
        Ok(rows.iter().map(|row| (row.get("category"), row.get("n"))).collect())
    }

    /// Creates an alert.
    pub async fn create_alert(&self, alert: &Alert) -> Result<(), MetaError> {
        sqlx::query(
            "INSERT INTO alerts (id, account_id, view_id, name, kind, threshold, window_secs, immediate, at_end,
                                 channels, timezone, muted_until, anchor_ns, evaluated_until_ns, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
        )
        .bind(&alert.id)
        .bind(&alert.account)
        .bind(&alert.view)
        .bind(&alert.name)
        .bind(&alert.kind)
        .bind(alert.threshold)
        .bind(alert.window_secs)
        .bind(flag(alert.immediate))
        .bind(flag(alert.at_end))
        .bind(alert.channels.to_string())
        .bind(&alert.timezone)
        .bind(&alert.muted_until)
        .bind(alert.anchor_ns)
        .bind(alert.evaluated_until_ns)
        .bind(&alert.created_at)
        .bind(&alert.updated_at)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The alerts of an account.
    pub async fn alerts(&self, account: &str) -> Result<Vec<Alert>, MetaError> {
        let rows = sqlx::query(&format!("{ALERT_COLUMNS} WHERE account_id = $1 ORDER BY created_at, id"))
            .bind(account)
            .fetch_all(self.pool())
            .await?;
        Ok(rows.iter().map(alert_from_row).collect())
    }

    /// One alert of an account.
    pub async fn alert(&self, account: &str, id: &str) -> Result<Option<Alert>, MetaError> {
        self.owned_row(ALERT_COLUMNS, account, id, alert_from_row).await
    }

    /// Every alert of every account with its view's name and query (the engine, at start and on change).
    pub async fn all_alerts_with_views(&self) -> Result<Vec<(Alert, View)>, MetaError> {
        let rows = sqlx::query(&format!("{ALERT_COLUMNS} ORDER BY account_id, id")).fetch_all(self.pool()).await?;
        let views = sqlx::query(&format!("{VIEW_COLUMNS} WHERE id IN (SELECT view_id FROM alerts)"))
            .fetch_all(self.pool())
            .await?;
        // By id: with thousands of alerts a linear search per alert made every reload quadratic.
        let views: std::collections::HashMap<String, View> =
            views.iter().map(view_from_row).map(|view| (view.id.clone(), view)).collect();
        Ok(rows
            .iter()
            .map(alert_from_row)
            .filter_map(|alert| {
                let view = views.get(&alert.view).filter(|view| view.account == alert.account)?;
                Some((alert, view.clone()))
            })
            .collect())
    }

    /// Replaces an alert's definition (everything but id, account and creation time).
    pub async fn update_alert(&self, alert: &Alert) -> Result<(), MetaError> {
        sqlx::query(
            "UPDATE alerts SET view_id = $1, name = $2, kind = $3, threshold = $4, window_secs = $5, immediate = $6,
                    at_end = $7, channels = $8, timezone = $9, muted_until = $10, anchor_ns = $11, evaluated_until_ns = $12,
                    updated_at = $13
             WHERE account_id = $14 AND id = $15",
        )
        .bind(&alert.view)
        .bind(&alert.name)
        .bind(&alert.kind)
        .bind(alert.threshold)
        .bind(alert.window_secs)
        .bind(flag(alert.immediate))
        .bind(flag(alert.at_end))
        .bind(alert.channels.to_string())
        .bind(&alert.timezone)
        .bind(&alert.muted_until)
        .bind(alert.anchor_ns)
        .bind(alert.evaluated_until_ns)
        .bind(&alert.updated_at)
        .bind(&alert.account)
        .bind(&alert.id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Deletes an alert; its history stays, its pending notifications are cancelled.
    pub async fn delete_alert(&self, account: &str, id: &str) -> Result<(), MetaError> {
        let mut tx = self.write_transaction().await?;
        sqlx::query("DELETE FROM alerts WHERE account_id = $1 AND id = $2")
            .bind(account)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "UPDATE alert_outbox SET state = 'cancelled' WHERE account_id = $1 AND alert_id = $2 AND state = 'pending'",
        )
        .bind(account)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Records that the checks of alerts ran up to their `until_ns`, `(alert, until_ns)`, in one transaction.
    pub async fn set_alerts_evaluated(&self, marks: &[(String, i64)]) -> Result<(), MetaError> {
        self.record_firings(&[], marks).await.map(drop)
    }

    /// Records a firing and its outbox rows in one transaction. Returns `false`, writing nothing, when the
    /// alert already fired for that window. An end-of-window firing also moves `evaluated_until_ns`.
    pub async fn record_firing(&self, firing: &NewFiring) -> Result<bool, MetaError> {
        let recorded = self.record_firings(std::slice::from_ref(firing), &[]).await?;
        Ok(recorded.first().copied().unwrap_or(false))
    }

    /// Records firings, in order, each with its outbox rows (skipped when its alert already fired for that
    /// window; an end-of-window firing moves its alert's `evaluated_until_ns`), then moves the marks
    /// `(alert, until_ns)`, all in one transaction: one commit for what several alerts did at once. Returns,
    /// per firing, whether it was recorded.
    pub async fn record_firings(&self, firings: &[NewFiring], marks: &[(String, i64)]) -> Result<Vec<bool>, MetaError> {
        let mut tx = self.write_transaction().await?;
        let mut recorded = Vec::with_capacity(firings.len());
        for firing in firings {
            let inserted = insert_firing(&mut tx, firing).await?;
            if let (true, Some((_, end)), "at_end" | "absence") = (inserted, firing.window, firing.reason.as_str()) {
                move_mark(&mut tx, &firing.alert, end).await?;
            }
            recorded.push(inserted);
        }
        for (alert, until_ns) in marks {
            move_mark(&mut tx, alert, *until_ns).await?;
        }
        tx.commit().await?;
        Ok(recorded)
    }

    /// The window starts in `[from_ns, to_ns]` for which the alert already has a firing.
    pub async fn fired_windows(&self, alert: &str, from_ns: i64, to_ns: i64) -> Result<Vec<i64>, MetaError> {
        let rows = sqlx::query(
            "SELECT window_start_ns FROM alert_firings
             WHERE alert_id = $1 AND window_start_ns >= $2 AND window_start_ns <= $3 ORDER BY window_start_ns",
        )
        .bind(alert)
        .bind(from_ns)
        .bind(to_ns)
        .fetch_all(self.pool())
        .await?;
        Ok(rows.iter().map(|row| row.get("window_start_ns")).collect())
    }

    /// Records the firings of windows evaluated late (after a downtime) and moves the alert's
    /// `evaluated_until_ns` to `evaluated_until_ns`, all in one transaction: a crash leaves the windows
    /// unevaluated, to be evaluated again at the next start, or evaluated with their firings. A window that
    /// already fired is skipped (`UNIQUE (alert_id, window_start_ns)`). Returns how many firings were recorded.
    pub async fn record_late_firings(
        &self,
        alert: &str,
        firings: &[NewFiring],
        evaluated_until_ns: i64,
    ) -> Result<usize, MetaError> {
        let recorded = self.record_firings(firings, &[(alert.to_string(), evaluated_until_ns)]).await?;
        Ok(recorded.into_iter().filter(|recorded| *recorded).count())
    }

    /// Pending deliveries due at `now_ns`, oldest first, with their firing's message.
    pub async fn due_deliveries(&self, now_ns: i64, limit: i64) -> Result<Vec<(Delivery, Value)>, MetaError> {
        let rows = sqlx::query(&format!(
            "{DELIVERY_COLUMNS} WHERE state = 'pending' AND next_attempt_ns <= $1 ORDER BY next_attempt_ns, id LIMIT $2"
        ))
        .bind(now_ns)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        let mut due = Vec::with_capacity(rows.len());
        for row in &rows {
            let delivery = delivery_from_row(row);
            let message: Option<String> = sqlx::query("SELECT message FROM alert_firings WHERE id = $1")
                .bind(&delivery.firing)
                .fetch_optional(self.pool())
                .await?
                .map(|row| row.get("message"));
            let message = message.and_then(|text| serde_json::from_str(&text).ok()).unwrap_or(Value::Null);
            due.push((delivery, message));
        }
        Ok(due)
    }

    /// When the next pending delivery is due, unix ns.
    pub async fn next_delivery_due(&self) -> Result<Option<i64>, MetaError> {
        let row = sqlx::query("SELECT MIN(next_attempt_ns) AS due FROM alert_outbox WHERE state = 'pending'")
            .fetch_one(self.pool())
            .await?;
        Ok(row.try_get::<Option<i64>, _>("due")?)
    }

    /// Records an attempt and moves the delivery on (delivered, retry later, or failed for good), in one
    /// transaction, so the history and the outbox never disagree.
    pub async fn record_attempt(&self, delivery: &Delivery, outcome: &AttemptOutcome) -> Result<(), MetaError> {
        let attempt = delivery.attempts + 1;
        let mut tx = self.write_transaction().await?;
        sqlx::query(
            "INSERT INTO alert_attempts (outbox_id, alert_id, account_id, attempt, at, ok, detail)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&delivery.id)
        .bind(&delivery.alert)
        .bind(&delivery.account)
        .bind(attempt)
        .bind(&outcome.at)
        .bind(flag(outcome.ok))
        .bind(&outcome.detail)
        .execute(&mut *tx)
        .await?;
        let (state, next, error, delivered_at) = match (outcome.ok, outcome.retry_at_ns) {
            (true, _) => ("delivered", delivery.next_attempt_ns, None, Some(&outcome.at)),
            (false, Some(retry)) => ("pending", retry, Some(&outcome.detail), None),
            (false, None) => ("failed", delivery.next_attempt_ns, Some(&outcome.detail), None),
        };
        sqlx::query(
            "UPDATE alert_outbox SET state = $1, attempts = $2, next_attempt_ns = $3, last_error = $4, delivered_at = $5
             WHERE id = $6 AND state = 'pending'",
        )
        .bind(state)
        .bind(attempt)
        .bind(next)
        .bind(error)
        .bind(delivered_at)
        .bind(&delivery.id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The history of an alert of an account, newest firing first: each firing with its deliveries and their
    /// attempts.
    pub async fn alert_history(
        &self,
        account: &str,
        alert: &str,
        limit: i64,
    ) -> Result<Vec<(Firing, Vec<(Delivery, Vec<Attempt>)>)>, MetaError> {
        let firings = sqlx::query(&format!(
            "{FIRING_COLUMNS} WHERE account_id = $1 AND alert_id = $2 ORDER BY fired_at DESC, id DESC LIMIT $3"
        ))
        .bind(account)
        .bind(alert)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        let mut history = Vec::with_capacity(firings.len());
        for row in &firings {
            let firing = firing_from_row(row);
            let deliveries = sqlx::query(&format!(
                "{DELIVERY_COLUMNS} WHERE account_id = $1 AND firing_id = $2 ORDER BY channel_index"
            ))
            .bind(account)
            .bind(&firing.id)
            .fetch_all(self.pool())
            .await?;
            let mut with_attempts = Vec::with_capacity(deliveries.len());
            for row in &deliveries {
                let delivery = delivery_from_row(row);
                let attempts = sqlx::query(
                    "SELECT outbox_id, attempt, at, ok, detail FROM alert_attempts
                     WHERE account_id = $1 AND outbox_id = $2 ORDER BY attempt",
                )
                .bind(account)
                .bind(&delivery.id)
                .fetch_all(self.pool())
                .await?;
                let attempts = attempts
                    .iter()
                    .map(|row| Attempt {
                        delivery: row.get("outbox_id"),
                        attempt: row.get("attempt"),
                        at: row.get("at"),
                        ok: is_set(row, "ok"),
                        detail: row.get("detail"),
                    })
                    .collect();
                with_attempts.push((delivery, attempts));
            }
            history.push((firing, with_attempts));
        }
        Ok(history)
    }
}

/// Inserts a firing and its outbox rows; `false`, inserting nothing, when its window already fired.
/// Moves an alert's `evaluated_until_ns` forward (never back).
async fn move_mark(tx: &mut sqlx::AnyConnection, alert: &str, until_ns: i64) -> Result<(), MetaError> {
    // `CASE`, not `MAX(a, b)`: SQLite's two-argument MAX is PostgreSQL's GREATEST, and neither has the other's.
    sqlx::query(
        "UPDATE alerts SET evaluated_until_ns = CASE WHEN evaluated_until_ns > $1 THEN evaluated_until_ns ELSE $1 END
         WHERE id = $2",
    )
    .bind(until_ns)
    .bind(alert)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

async fn insert_firing(tx: &mut sqlx::AnyConnection, firing: &NewFiring) -> Result<bool, MetaError> {
    let inserted = sqlx::query(
        "INSERT INTO alert_firings
             (id, alert_id, account_id, reason, window_start_ns, window_end_ns, count, muted, fired_at, message)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         ON CONFLICT DO NOTHING",
    )
    .bind(&firing.id)
    .bind(&firing.alert)
    .bind(&firing.account)
    .bind(&firing.reason)
    .bind(firing.window.map(|window| window.0))
    .bind(firing.window.map(|window| window.1))
    .bind(firing.count)
    .bind(flag(firing.muted))
    .bind(&firing.fired_at)
    .bind(firing.message.to_string())
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if inserted == 0 {
        return Ok(false);
    }
    for (index, (id, channel)) in firing.deliveries.iter().enumerate() {
        sqlx::query(
            "INSERT INTO alert_outbox (id, firing_id, alert_id, account_id, channel_index, channel, state,
                                       attempts, next_attempt_ns, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, 'pending', 0, $7, $8)",
        )
        .bind(id)
        .bind(&firing.id)
        .bind(&firing.alert)
        .bind(&firing.account)
        .bind(i64::try_from(index).unwrap_or(i64::MAX))
        .bind(channel.to_string())
        .bind(firing.due_ns)
        .bind(&firing.fired_at)
        .execute(&mut *tx)
        .await?;
    }
    Ok(true)
}

fn view_from_row(row: &AnyRow) -> View {
    View {
        id: row.get("id"),
        account: row.get("account_id"),
        name: row.get("name"),
        query: row.get("query"),
        category: row.get("category"),
        from: row.get("from_spec"),
        to: row.get("to_spec"),
        created_at: row.get("created_at"),
        updated_at: row.get("updated_at"),
    }
}

fn alert_from_row(row: &AnyRow) -> Alert {
    let channels: String = row.get("channels");
    Alert {
        id: row.get("id"),
        account: row.get("account_id"),
        view: row.get("view_id"),
        name: row.get("name"),
        kind: row.get("kind"),
        threshold: row.get("threshold"),
        window_secs: row.get("window_secs"),
        immediate: is_set(row, "immediate"),
        at_end: is_set(row, "at_end"),
        channels: serde_json::from_str(&channels).unwrap_or(Value::Array(Vec::new())),
        timezone: row.get("timezone"),
        muted_until: row.get("muted_until"),
        anchor_ns: row.get("anchor_ns"),
        evaluated_until_ns: row.get("evaluated_until_ns"),
        created_at: row.get("created_at"),
        updated_at: row.get("updated_at"),
    }
}

fn firing_from_row(row: &AnyRow) -> Firing {
    let message: String = row.get("message");
    Firing {
        id: row.get("id"),
        alert: row.get("alert_id"),
        reason: row.get("reason"),
        window_start_ns: row.get("window_start_ns"),
        window_end_ns: row.get("window_end_ns"),
        count: row.get("count"),
        muted: is_set(row, "muted"),
        fired_at: row.get("fired_at"),
        message: serde_json::from_str(&message).unwrap_or(Value::Null),
    }
}

fn delivery_from_row(row: &AnyRow) -> Delivery {
    let channel: String = row.get("channel");
    Delivery {
        id: row.get("id"),
        firing: row.get("firing_id"),
        alert: row.get("alert_id"),
        account: row.get("account_id"),
        channel_index: row.get("channel_index"),
        channel: serde_json::from_str(&channel).unwrap_or(Value::Null),
        state: row.get("state"),
        attempts: row.get("attempts"),
        next_attempt_ns: row.get("next_attempt_ns"),
        last_error: row.get("last_error"),
        created_at: row.get("created_at"),
        delivered_at: row.get("delivered_at"),
    }
}
