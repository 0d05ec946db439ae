//! Boards in the metadata database: a name, a category, an optional filter and an ordered list of graphs.
//!
//! As in [`crate::meta`], every call takes the account id into its `WHERE` clause. The graphs are kept as one
//! JSON array whose shape the server defines and validates; the store only keeps it whole and in order.
//!
//! Predefined boards are given to an account once ([`Meta::give_predefined_boards`]): a marker row, written in
//! the same transaction as the boards, makes a second call a no-op, so deleted predefined boards stay deleted.

use serde_json::Value;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::meta::{Meta, MetaError, flag, is_set, unique_violation};

/// A board.
#[derive(Debug, Clone, PartialEq)]
pub struct Board {
    /// Id.
    pub id: String,
    /// Owning account.
    pub account: String,
    /// Name, unique in the account.
    pub name: String,
    /// Category, for grouping in lists.
    pub category: String,
    /// A query ANDed with every graph's query.
    pub filter: Option<String>,
    /// The graphs, in order (a JSON array).
    pub graphs: Value,
    /// Whether Acta created it with the account (it is edited and deleted like any other).
    pub predefined: bool,
    /// Creation time.
    pub created_at: String,
    /// Last change.
    pub updated_at: String,
}

const BOARD_COLUMNS: &str =
    "SELECT id, account_id, name, category, filter, graphs, predefined, created_at, updated_at FROM boards";

impl Meta {
    /// Creates a board; a name taken in the account is a conflict.
    pub async fn create_board(&self, board: &Board) -> Result<(), MetaError> {
        insert_board(self.pool(), board).await
    }

    /// The boards of an account, in one category when given, by category and name.
    pub async fn boards(&self, account: &str, category: Option<&str>) -> Result<Vec<Board>, MetaError> {
        let rows = sqlx::query(&format!(
            "{BOARD_COLUMNS} WHERE account_id = $1 AND ($2 IS NULL OR category = $3) ORDER BY category, name, id"
        ))
        .bind(account)
        .bind(category)
        .bind(category)
        .fetch_all(self.pool())
        .await?;
        Ok(rows.iter().map(board_from_row).collect())
    }

    /// One board of an account.
    pub async fn board(&self, account: &str, id: &str) -> Result<Option<Board>, MetaError> {
        self.owned_row(BOARD_COLUMNS, account, id, board_from_row).await
    }

    /// Replaces a board's name, category, filter and graphs.
    pub async fn update_board(&self, board: &Board) -> Result<(), MetaError> {
        sqlx::query(
            "UPDATE boards SET name = $1, category = $2, filter = $3, graphs = $4, updated_at = $5
             WHERE account_id = $6 AND id = $7",
        )
        .bind(&board.name)
        .bind(&board.category)
        .bind(&board.filter)
        .bind(board.graphs.to_string())
        .bind(&board.updated_at)
        .bind(&board.account)
        .bind(&board.id)
        .execute(self.pool())
        .await
        .map_err(|error| unique_violation(error, &name_taken(&board.name)))?;
        Ok(())
    }

    /// Deletes a board; false when the account has no such board.
    pub async fn delete_board(&self, account: &str, id: &str) -> Result<bool, MetaError> {
        let done = sqlx::query("DELETE FROM boards WHERE account_id = $1 AND id = $2")
            .bind(account)
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// The categories of an account's boards with how many boards each has.
    pub async fn board_categories(&self, account: &str) -> Result<Vec<(String, i64)>, MetaError> {
        let rows = sqlx::query(
            "SELECT category, COUNT(*) AS n FROM boards WHERE account_id = $1 GROUP BY category ORDER BY category",
        )
        .bind(account)
        .fetch_all(self.pool())
        .await?;
        Ok(rows.iter().map(|row| (row.get("category"), row.get("n"))).collect())
    }

    /// Gives `account` the predefined `boards` unless it had them before: returns whether it did now. A board
    /// whose name the account already uses is left out (the user's board keeps its name).
    pub async fn give_predefined_boards(&self, account: &str, boards: &[Board], now: &str) -> Result<bool, MetaError> {
        let mut tx = self.write_transaction().await?;
        // The marker first, and the boards only if it is new: on PostgreSQL two nodes giving an account its boards
        // at once would both find no marker, and the second would fail on the first's board names; here the
        // second waits on the first's marker row and, once it is committed, gives nothing.
        let marked = sqlx::query(
            "INSERT INTO predefined_boards_given (account_id, given_at) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .bind(account)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if marked == 0 {
            return Ok(false);
        }
        for board in boards.iter().filter(|board| board.account == account) {
            let taken = sqlx::query("SELECT 1 FROM boards WHERE account_id = $1 AND name = $2")
                .bind(account)
                .bind(&board.name)
                .fetch_optional(&mut *tx)
                .await?;
            if taken.is_none() {
                insert_board(&mut *tx, board).await?;
            }
        }
        tx.commit().await?;
        Ok(true)
    }
}

async fn insert_board<'c>(
    executor: impl sqlx::Executor<'c, Database = sqlx::Any>,
    board: &Board,
) -> Result<(), MetaError> {
    sqlx::query(
        "INSERT INTO boards (id, account_id, name, category, filter, graphs, predefined, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&board.id)
    .bind(&board.account)
    .bind(&board.name)
    .bind(&board.category)
    .bind(&board.filter)
    .bind(board.graphs.to_string())
    .bind(flag(board.predefined))
    .bind(&board.created_at)
    .bind(&board.updated_at)
    .execute(executor)
    .await
    .map_err(|error| unique_violation(error, &name_taken(&board.name)))?;
    Ok(())
}

fn name_taken(name: &str) -> String {
    format!("a board named {name:?} exists in the account")
}

fn board_from_row(row: &AnyRow) -> Board {
    let graphs: String = row.get("graphs");
    Board {
        id: row.get("id"),
        account: row.get("account_id"),
        name: row.get("name"),
        category: row.get("category"),
        filter: row.get("filter"),
        // Written by this module from a `Value`, so it parses; an empty list is the safe reading otherwise.
        graphs: serde_json::from_str(&graphs).unwrap_or_else(|_| Value::Array(Vec::new())),
        predefined: is_set(row, "predefined"),
        created_at: row.get("created_at"),
        updated_at: row.get("updated_at"),
    }
}
