//! The metadata repository: accounts, instances and API keys, in SQLite through sqlx.
//!
//! Every call that reads or changes an account's objects takes the account id and puts it in the `WHERE`
//! clause, so no caller can reach another account's rows by knowing an id.

use std::path::Path;
use std::str::FromStr;

use serde::Serialize;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, sqlite::SqliteRow};

/// Errors of the metadata repository.
#[derive(Debug, thiserror::Error)]
pub enum MetaError {
    /// The database failed.
    #[error("metadata database: {0}")]
    Database(#[from] sqlx::Error),
    /// Migrations failed.
    #[error("metadata migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A unique name is taken.
    #[error("{0}")]
    Conflict(String),
}

impl MetaError {
    /// Whether the database could not grow: SQLite's `SQLITE_FULL` (the device or the quota is full). The
    /// statement was rolled back; the same one succeeds once space is freed.
    pub fn is_no_space(&self) -> bool {
        const SQLITE_FULL: &str = "13";
        match self {
            MetaError::Database(sqlx::Error::Database(error)) => {
                error.code().is_some_and(|code| code == SQLITE_FULL)
                    || error.message().contains("database or disk is full")
            }
            MetaError::Database(sqlx::Error::Io(error)) => {
                matches!(error.kind(), std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded)
            }
            _ => false,
        }
    }
}

/// A tenant.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Account {
    /// Id.
    pub id: String,
    /// Unique name.
    pub name: String,
    /// Creation time.
    pub created_at: String,
}

/// An event store of an account in one region.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Instance {
    /// Id.
    pub id: String,
    /// Owning account.
    pub account: String,
    /// Name, unique in the account.
    pub name: String,
    /// Region (`us-south`, `eu-de`, `global`...).
    pub region: String,
    /// Retention plan in days.
    pub retention_days: i64,
    /// Whether it receives the account's global events.
    pub global: bool,
    /// Whether events are validated strictly against DSP0262.
    pub strict: bool,
    /// Creation time.
    pub created_at: String,
}

/// An API key, without its secret.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ApiKey {
    /// Id (also part of the secret text).
    pub id: String,
    /// Account, `None` for the platform admin.
    pub account: Option<String>,
    /// The instance it is narrowed to.
    pub instance: Option<String>,
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// `admin`, `manager`, `writer`, `reader` or `ingest`.
    pub role: String,
    /// Creation time.
    pub created_at: String,
    /// Key that created it.
    pub created_by: Option<String>,
    /// Expiry time.
    pub expires_at: Option<String>,
    /// Locked keys cannot be changed or deleted.
    pub locked: bool,
    /// Last successful authentication.
    pub last_used_at: Option<String>,
    /// The user or service id the key authenticates as.
    pub principal: String,
    /// SHA-256 of the secret, hex. Never serialized.
    #[serde(skip)]
    pub secret_hash: String,
}

/// The metadata repository.
#[derive(Clone)]
pub struct Meta {
    pool: SqlitePool,
}

impl Meta {
    /// Opens (creating and migrating) the SQLite database at `path`.
    pub async fn open(path: &Path) -> Result<Meta, MetaError> {
        let options = SqliteConnectOptions::from_str("sqlite://")?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new().max_connections(4).connect_with(options).await?;
        sqlx::migrate!("./migrations").run(&pool).await?;
        Ok(Meta { pool })
    }

    /// Creates an account.
    pub async fn create_account(&self, account: &Account) -> Result<(), MetaError> {
        sqlx::query("INSERT INTO accounts (id, name, created_at) VALUES (?, ?, ?)")
            .bind(&account.id)
            .bind(&account.name)
            .bind(&account.created_at)
            .execute(&self.pool)
            .await
            .map_err(|error| unique_violation(error, &format!("an account named {:?} exists", account.name)))?;
        Ok(())
    }

    /// All accounts.
    pub async fn accounts(&self) -> Result<Vec<Account>, MetaError> {
        let rows = sqlx::query("SELECT id, name, created_at FROM accounts ORDER BY name").fetch_all(&self.pool).await?;
        Ok(rows.iter().map(account_from_row).collect())
    }

    /// One account.
    pub async fn account(&self, id: &str) -> Result<Option<Account>, MetaError> {
        let row = sqlx::query("SELECT id, name, created_at FROM accounts WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(account_from_row))
    }

    /// Creates an instance.
    pub async fn create_instance(&self, instance: &Instance) -> Result<(), MetaError> {
        sqlx::query(
            "INSERT INTO instances (id, account_id, name, region, retention_days, is_global, strict_cadf, created_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&instance.id)
        .bind(&instance.account)
        .bind(&instance.name)
        .bind(&instance.region)
        .bind(instance.retention_days)
        .bind(instance.global)
        .bind(instance.strict)
        .bind(&instance.created_at)
        .execute(&self.pool)
        .await
        .map_err(|error| {
            unique_violation(error, &format!("an instance named {:?} exists in the account", instance.name))
        })?;
        Ok(())
    }

    /// The instances of an account.
    pub async fn instances(&self, account: &str) -> Result<Vec<Instance>, MetaError> {
        let rows = sqlx::query(&format!("{INSTANCE_COLUMNS} WHERE account_id = ? ORDER BY name"))
            .bind(account)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(instance_from_row).collect())
    }

    /// Every instance of every account (start-up and background tasks).
    pub async fn all_instances(&self) -> Result<Vec<Instance>, MetaError> {
        let rows = sqlx::query(&format!("{INSTANCE_COLUMNS} ORDER BY account_id, name")).fetch_all(&self.pool).await?;
        Ok(rows.iter().map(instance_from_row).collect())
    }

    /// One instance of an account.
    pub async fn instance(&self, account: &str, id: &str) -> Result<Option<Instance>, MetaError> {
        self.owned_row(INSTANCE_COLUMNS, account, id, instance_from_row).await
    }

    /// Creates an API key.
    pub async fn create_key(&self, key: &ApiKey) -> Result<(), MetaError> {
        sqlx::query(
            "INSERT INTO api_keys (id, account_id, instance_id, name, description, role, secret_hash, created_at,
                                   created_by, expires_at, locked, last_used_at, principal)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&key.id)
        .bind(&key.account)
        .bind(&key.instance)
        .bind(&key.name)
        .bind(&key.description)
        .bind(&key.role)
        .bind(&key.secret_hash)
        .bind(&key.created_at)
        .bind(&key.created_by)
        .bind(&key.expires_at)
        .bind(key.locked)
        .bind(&key.last_used_at)
        .bind(&key.principal)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// A key by id, for authentication (any account).
    pub async fn key_for_auth(&self, id: &str) -> Result<Option<ApiKey>, MetaError> {
        let row = sqlx::query(&format!("{KEY_COLUMNS} WHERE id = ?")).bind(id).fetch_optional(&self.pool).await?;
        Ok(row.as_ref().map(key_from_row))
    }

    /// Whether any key exists (bootstrap).
    pub async fn has_keys(&self) -> Result<bool, MetaError> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM api_keys").fetch_one(&self.pool).await?;
        Ok(row.try_get::<i64, _>("n")? > 0)
    }

    /// Records a successful authentication.
    pub async fn touch_key(&self, id: &str, at: &str) -> Result<(), MetaError> {
        sqlx::query("UPDATE api_keys SET last_used_at = ? WHERE id = ?").bind(at).bind(id).execute(&self.pool).await?;
        Ok(())
    }

    /// The keys of an account (all of them, or those of one principal).
    pub async fn keys(&self, account: &str, principal: Option<&str>) -> Result<Vec<ApiKey>, MetaError> {
        let rows = sqlx::query(&format!(
            "{KEY_COLUMNS} WHERE account_id = ? AND (? IS NULL OR principal = ?) ORDER BY created_at, id"
        ))
        .bind(account)
        .bind(principal)
        .bind(principal)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(key_from_row).collect())
    }

    /// One key of an account.
    pub async fn key(&self, account: &str, id: &str) -> Result<Option<ApiKey>, MetaError> {
        self.owned_row(KEY_COLUMNS, account, id, key_from_row).await
    }

    /// Changes a key's name and description.
    pub async fn update_key(&self, account: &str, id: &str, name: &str, description: &str) -> Result<(), MetaError> {
        sqlx::query("UPDATE api_keys SET name = ?, description = ? WHERE account_id = ? AND id = ?")
            .bind(name)
            .bind(description)
            .bind(account)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Locks or unlocks a key.
    pub async fn set_key_locked(&self, account: &str, id: &str, locked: bool) -> Result<(), MetaError> {
        sqlx::query("UPDATE api_keys SET locked = ? WHERE account_id = ? AND id = ?")
            .bind(locked)
            .bind(account)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Deletes a key; it stops working at once, since every request reads the key.
    pub async fn delete_key(&self, account: &str, id: &str) -> Result<(), MetaError> {
        sqlx::query("DELETE FROM api_keys WHERE account_id = ? AND id = ?")
            .bind(account)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Changes an instance's name, retention and validation mode.
    pub async fn update_instance(&self, instance: &Instance) -> Result<(), MetaError> {
        sqlx::query(
            "UPDATE instances SET name = ?, retention_days = ?, strict_cadf = ? WHERE account_id = ? AND id = ?",
        )
        .bind(&instance.name)
        .bind(instance.retention_days)
        .bind(instance.strict)
        .bind(&instance.account)
        .bind(&instance.id)
        .execute(&self.pool)
        .await
        .map_err(|error| {
            unique_violation(error, &format!("an instance named {:?} exists in the account", instance.name))
        })?;
        Ok(())
    }

    /// Deletes an instance (the caller makes sure it holds no events).
    pub async fn delete_instance(&self, account: &str, id: &str) -> Result<(), MetaError> {
        sqlx::query("DELETE FROM instances WHERE account_id = ? AND id = ?")
            .bind(account)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// One object of an account by id: every account-owned table is read by account and id together, so an id
    /// of another account's object finds nothing. `columns` is the table's `SELECT ... FROM ...`.
    pub(crate) async fn owned_row<T>(
        &self,
        columns: &str,
        account: &str,
        id: &str,
        from_row: fn(&SqliteRow) -> T,
    ) -> Result<Option<T>, MetaError> {
        let row = sqlx::query(&format!("{columns} WHERE account_id = ? AND id = ?"))
            .bind(account)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(from_row))
    }

    /// The pool, for the repository parts kept in other modules (views and alerts).
    pub(crate) fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// A transaction that writes. It takes the database's write lock when it begins (`BEGIN IMMEDIATE`, waiting
    /// its turn up to the busy timeout): a deferred transaction that reads and then writes is refused at once
    /// with "database is locked" when another writer committed after its read, and no wait helps it then.
    pub(crate) async fn write_transaction(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, MetaError> {
        Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?)
    }

    /// Closes the pool.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

const INSTANCE_COLUMNS: &str =
    "SELECT id, account_id, name, region, retention_days, is_global, strict_cadf, created_at FROM instances";
const KEY_COLUMNS: &str = "SELECT id, account_id, instance_id, name, description, role, secret_hash, created_at, \
                           created_by, expires_at, locked, last_used_at, principal FROM api_keys";

fn account_from_row(row: &SqliteRow) -> Account {
    Account { id: row.get("id"), name: row.get("name"), created_at: row.get("created_at") }
}

fn instance_from_row(row: &SqliteRow) -> Instance {
    Instance {
        id: row.get("id"),
        account: row.get("account_id"),
        name: row.get("name"),
        region: row.get("region"),
        retention_days: row.get("retention_days"),
        global: row.get("is_global"),
        strict: row.get("strict_cadf"),
        created_at: row.get("created_at"),
    }
}

fn key_from_row(row: &SqliteRow) -> ApiKey {
    ApiKey {
        id: row.get("id"),
        account: row.get("account_id"),
        instance: row.get("instance_id"),
        name: row.get("name"),
        description: row.get("description"),
        role: row.get("role"),
        secret_hash: row.get("secret_hash"),
        created_at: row.get("created_at"),
        created_by: row.get("created_by"),
        expires_at: row.get("expires_at"),
        locked: row.get("locked"),
        last_used_at: row.get("last_used_at"),
        principal: row.get("principal"),
    }
}

pub(crate) fn unique_violation(error: sqlx::Error, message: &str) -> MetaError {
    match &error {
        sqlx::Error::Database(db) if db.is_unique_violation() => MetaError::Conflict(message.to_string()),
        _ => MetaError::Database(error),
    }
}
