//! Routes in the metadata database: where an account's events are forwarded, and how far each route has
//! delivered each instance's log (its durable cursor).
//!
//! As in [`crate::meta`], every call that reads an account's route takes the account id into its `WHERE` clause;
//! the forwarding job, which serves every account, lists them all with [`Meta::all_routes`]. A route and its
//! starting cursors are written in one transaction, so a route never exists without knowing where it starts.

use std::collections::HashMap;

use serde_json::Value;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::meta::{Meta, MetaError, flag, is_set, unique_violation};

/// A route.
#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    /// Id.
    pub id: String,
    /// Owning account.
    pub account: String,
    /// Name, unique in the account.
    pub name: String,
    /// Only events matching this query are sent; every event when absent.
    pub query: Option<String>,
    /// Where events go (a JSON object the server validates, secrets included).
    pub destination: Value,
    /// A disabled route keeps its cursors and sends nothing.
    pub enabled: bool,
    /// Creation time.
    pub created_at: String,
    /// Last change.
    pub updated_at: String,
}

const ROUTE_COLUMNS: &str =
    "SELECT id, account_id, name, query, destination, enabled, created_at, updated_at FROM routes";

impl Meta {
    /// Creates a route with its starting cursor for each of `cursors`' instances; a name taken in the account is
    /// a conflict.
    pub async fn create_route(&self, route: &Route, cursors: &[(String, u64)]) -> Result<(), MetaError> {
        let mut tx = self.write_transaction().await?;
        sqlx::query(
            "INSERT INTO routes (id, account_id, name, query, destination, enabled, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&route.id)
        .bind(&route.account)
        .bind(&route.name)
        .bind(&route.query)
        .bind(route.destination.to_string())
        .bind(flag(route.enabled))
        .bind(&route.created_at)
        .bind(&route.updated_at)
        .execute(&mut *tx)
        .await
        .map_err(|error| unique_violation(error, &name_taken(&route.name)))?;
        for (instance, seq) in cursors {
            sqlx::query("INSERT INTO route_cursors (route_id, instance_id, delivered_seq) VALUES ($1, $2, $3)")
                .bind(&route.id)
                .bind(instance)
                .bind(seq_value(*seq))
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The routes of an account, by name.
    pub async fn routes(&self, account: &str) -> Result<Vec<Route>, MetaError> {
        let rows = sqlx::query(&format!("{ROUTE_COLUMNS} WHERE account_id = $1 ORDER BY name, id"))
            .bind(account)
            .fetch_all(self.pool())
            .await?;
        Ok(rows.iter().map(route_from_row).collect())
    }

    /// Every route of every account (the forwarding job's list).
    pub async fn all_routes(&self) -> Result<Vec<Route>, MetaError> {
        let rows =
            sqlx::query(&format!("{ROUTE_COLUMNS} ORDER BY account_id, name, id")).fetch_all(self.pool()).await?;
        Ok(rows.iter().map(route_from_row).collect())
    }

    /// One route of an account.
    pub async fn route(&self, account: &str, id: &str) -> Result<Option<Route>, MetaError> {
        self.owned_row(ROUTE_COLUMNS, account, id, route_from_row).await
    }

    /// Replaces a route's name, query, destination and whether it is enabled (its cursors stay).
    pub async fn update_route(&self, route: &Route) -> Result<(), MetaError> {
        sqlx::query(
            "UPDATE routes SET name = $1, query = $2, destination = $3, enabled = $4, updated_at = $5
             WHERE account_id = $6 AND id = $7",
        )
        .bind(&route.name)
        .bind(&route.query)
        .bind(route.destination.to_string())
        .bind(flag(route.enabled))
        .bind(&route.updated_at)
        .bind(&route.account)
        .bind(&route.id)
        .execute(self.pool())
        .await
        .map_err(|error| unique_violation(error, &name_taken(&route.name)))?;
        Ok(())
    }

    /// Deletes a route and its cursors; false when the account has no such route.
    pub async fn delete_route(&self, account: &str, id: &str) -> Result<bool, MetaError> {
        let mut tx = self.write_transaction().await?;
        let done = sqlx::query("DELETE FROM routes WHERE account_id = $1 AND id = $2")
            .bind(account)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() > 0 {
            sqlx::query("DELETE FROM route_cursors WHERE route_id = $1").bind(id).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }

    /// A route's cursors: the last delivered seq per instance.
    pub async fn route_cursors(&self, route: &str) -> Result<HashMap<String, u64>, MetaError> {
        let rows = sqlx::query("SELECT instance_id, delivered_seq FROM route_cursors WHERE route_id = $1")
            .bind(route)
            .fetch_all(self.pool())
            .await?;
        Ok(rows
            .iter()
            .map(|row| {
                let seq: i64 = row.get("delivered_seq");
                (row.get("instance_id"), u64::try_from(seq).unwrap_or(0))
            })
            .collect())
    }

    /// Moves a route's cursor for an instance to `seq`, durably (the metadata database syncs every commit). A
    /// cursor never goes back: a lower `seq` leaves it where it is.
    pub async fn advance_route_cursor(&self, route: &str, instance: &str, seq: u64) -> Result<(), MetaError> {
        sqlx::query(
            "INSERT INTO route_cursors (route_id, instance_id, delivered_seq) VALUES ($1, $2, $3)
             ON CONFLICT (route_id, instance_id) DO UPDATE SET delivered_seq = CASE
                 WHEN route_cursors.delivered_seq > excluded.delivered_seq THEN route_cursors.delivered_seq
                 ELSE excluded.delivered_seq END",
        )
        .bind(route)
        .bind(instance)
        .bind(seq_value(seq))
        .execute(self.pool())
        .await?;
        Ok(())
    }
}

/// Seqs are far below `i64::MAX`; one that is not is kept at the largest integer a `BIGINT` holds.
fn seq_value(seq: u64) -> i64 {
    i64::try_from(seq).unwrap_or(i64::MAX)
}

fn name_taken(name: &str) -> String {
    format!("a route named {name:?} exists in the account")
}

fn route_from_row(row: &AnyRow) -> Route {
    let destination: String = row.get("destination");
    Route {
        id: row.get("id"),
        account: row.get("account_id"),
        name: row.get("name"),
        query: row.get("query"),
        // Written by this module from a `Value`, so it parses; `null` (which no destination accepts) otherwise.
        destination: serde_json::from_str(&destination).unwrap_or(Value::Null),
        enabled: is_set(row, "enabled"),
        created_at: row.get("created_at"),
        updated_at: row.get("updated_at"),
    }
}
