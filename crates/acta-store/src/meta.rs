//! The metadata repository: accounts, instances and API keys, in SQLite (one node) or PostgreSQL (cluster mode)
//! through sqlx's `Any` driver, with one code path for both engines.
//!
//! Portable SQL, so both engines run the same statements: `$N` placeholders (SQLite binds `$N` to argument N),
//! `ON CONFLICT` rather than `INSERT OR ...`, `CASE` rather than SQLite's two-argument `MAX`; only `i64`,
//! `f64`, `String`, `Vec<u8>` and their `Option`s are bound and read (what `Any` decodes alike on both), so
//! flags are 0/1 integers ([`flag`], [`is_set`]) and integer columns are `BIGINT` on PostgreSQL.
//!
//! Every call that reads or changes an account's objects takes the account id and puts it in the `WHERE`
//! clause, so no caller can reach another account's rows by knowing an id.

use std::path::Path;
use std::str::FromStr;
use std::sync::Once;

use serde::Serialize;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions, AnyRow};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{AnyPool, ConnectOptions, Executor, Row};

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
    /// Whether the database could not be reached (no connection within the pool's wait, a broken connection):
    /// nothing was done, and the same request may succeed once it is back.
    pub fn is_unavailable(&self) -> bool {
        match self {
            MetaError::Database(sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed) => true,
            MetaError::Database(sqlx::Error::Io(_)) => !self.is_no_space(),
            // PostgreSQL stopping, starting or cut off: its connection is ended with one of these.
            MetaError::Database(sqlx::Error::Database(error)) => {
                error.code().is_some_and(|code| unavailable_code(&code))
            }
            _ => false,
        }
    }

    /// Whether the database could not grow: SQLite's `SQLITE_FULL` (the device or the quota is full), or
    /// PostgreSQL's `disk_full`. The statement was rolled back; the same one succeeds once space is freed.
    pub fn is_no_space(&self) -> bool {
        // The codes cannot be mistaken for each other (SQLite's are numbers below 1000, SQLSTATEs have five
        // characters), so one check serves both engines.
        const SQLITE_FULL: &str = "13";
        const POSTGRES_DISK_FULL: &str = "53100";
        match self {
            MetaError::Database(sqlx::Error::Database(error)) => {
                error.code().is_some_and(|code| code == SQLITE_FULL || code == POSTGRES_DISK_FULL)
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

/// The database engine a [`Meta`] runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// A SQLite file of the node's data directory.
    Sqlite,
    /// A PostgreSQL database every node of a cluster shares.
    Postgres,
}

/// The metadata repository.
#[derive(Clone)]
pub struct Meta {
    pool: AnyPool,
    engine: Engine,
}

/// Set on every SQLite connection. `Any` connects from a URL, which carries the file and its open mode but no
/// pragma: WAL lets readers run beside the writer, `FULL` makes every commit durable (a route's cursor, a firing),
/// and foreign keys keep an object from outliving its account.
const SQLITE_PRAGMAS: &str = "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;";

impl Meta {
    /// Opens (creating and migrating) the SQLite database at `path`.
    pub async fn open(path: &Path) -> Result<Meta, MetaError> {
        install_drivers();
        let path = real_path(path).map_err(sqlx::Error::Io)?;
        let options = AnyConnectOptions::from_str(&sqlite_url(&path))?;
        // `Any` is reached through a URL only: should the path not come back from it exactly, another file would
        // be opened, so that is refused.
        if SqliteConnectOptions::from_url(&options.database_url)?.get_filename() != path {
            return Err(MetaError::Database(sqlx::Error::Configuration(
                format!("the metadata database path {} cannot be opened through a URL", path.display()).into(),
            )));
        }
        let pool = AnyPoolOptions::new()
            .max_connections(4)
            .after_connect(|connection, _| {
                Box::pin(async move {
                    connection.execute(SQLITE_PRAGMAS).await?;
                    Ok(())
                })
            })
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations").run(&pool).await?;
        Ok(Meta { pool, engine: Engine::Sqlite })
    }

    /// Connects to (and migrates) the PostgreSQL database at `url` (`postgres://...`), cluster mode's metadata,
    /// with at most `max_connections` connections. Its migrations are the PostgreSQL log's (`migrations_pg/`),
    /// so either of [`crate::pglog::PgLog::connect`] and this brings a database up to date; several nodes
    /// starting at once wait for each other (sqlx migrates under an advisory lock).
    pub async fn connect(url: &str, max_connections: u32) -> Result<Meta, MetaError> {
        install_drivers();
        let options = AnyConnectOptions::from_str(url)?;
        if !matches!(options.database_url.scheme(), "postgres" | "postgresql") {
            // A SQLite URL would lose the pragmas `open` sets; SQLite is opened by path.
            return Err(MetaError::Database(sqlx::Error::Configuration(
                format!("the metadata database URL must be postgres://..., not {}:", options.database_url.scheme())
                    .into(),
            )));
        }
        // A request that cannot reach the cluster's database is answered 503 soon, not after sqlx's 30 s.
        let pool = AnyPoolOptions::new()
            .max_connections(max_connections.max(1))
            .acquire_timeout(std::time::Duration::from_secs(5))
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations_pg").run(&pool).await?;
        Ok(Meta { pool, engine: Engine::Postgres })
    }

    /// The engine the metadata lives in.
    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// Creates an account.
    pub async fn create_account(&self, account: &Account) -> Result<(), MetaError> {
        sqlx::query("INSERT INTO accounts (id, name, created_at) VALUES ($1, $2, $3)")
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
        let row = sqlx::query("SELECT id, name, created_at FROM accounts WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(account_from_row))
    }

    /// Creates an instance.
    pub async fn create_instance(&self, instance: &Instance) -> Result<(), MetaError> {
        sqlx::query(
            "INSERT INTO instances (id, account_id, name, region, retention_days, is_global, strict_cadf, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&instance.id)
        .bind(&instance.account)
        .bind(&instance.name)
        .bind(&instance.region)
        .bind(instance.retention_days)
        .bind(flag(instance.global))
        .bind(flag(instance.strict))
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
        let rows = sqlx::query(&format!("{INSTANCE_COLUMNS} WHERE account_id = $1 ORDER BY name"))
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
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
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
        .bind(flag(key.locked))
        .bind(&key.last_used_at)
        .bind(&key.principal)
        .execute(&self.pool)
        .await
        .map_err(|error| unique_violation(error, &format!("a key with id {:?} exists", key.id)))?;
        Ok(())
    }

    /// A key by id, for authentication (any account).
    pub async fn key_for_auth(&self, id: &str) -> Result<Option<ApiKey>, MetaError> {
        let row = sqlx::query(&format!("{KEY_COLUMNS} WHERE id = $1")).bind(id).fetch_optional(&self.pool).await?;
        Ok(row.as_ref().map(key_from_row))
    }

    /// Whether any key exists (bootstrap).
    pub async fn has_keys(&self) -> Result<bool, MetaError> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM api_keys").fetch_one(&self.pool).await?;
        Ok(row.try_get::<i64, _>("n")? > 0)
    }

    /// Records a successful authentication.
    pub async fn touch_key(&self, id: &str, at: &str) -> Result<(), MetaError> {
        sqlx::query("UPDATE api_keys SET last_used_at = $1 WHERE id = $2")
            .bind(at)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The keys of an account (all of them, or those of one principal).
    pub async fn keys(&self, account: &str, principal: Option<&str>) -> Result<Vec<ApiKey>, MetaError> {
        let rows = sqlx::query(&format!(
            "{KEY_COLUMNS} WHERE account_id = $1 AND ($2 IS NULL OR principal = $3) ORDER BY created_at, id"
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
        sqlx::query("UPDATE api_keys SET name = $1, description = $2 WHERE account_id = $3 AND id = $4")
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
        sqlx::query("UPDATE api_keys SET locked = $1 WHERE account_id = $2 AND id = $3")
            .bind(flag(locked))
            .bind(account)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Deletes a key; it stops working at once, since every request reads the key.
    pub async fn delete_key(&self, account: &str, id: &str) -> Result<(), MetaError> {
        sqlx::query("DELETE FROM api_keys WHERE account_id = $1 AND id = $2")
            .bind(account)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Changes an instance's name, retention and validation mode.
    pub async fn update_instance(&self, instance: &Instance) -> Result<(), MetaError> {
        sqlx::query(
            "UPDATE instances SET name = $1, retention_days = $2, strict_cadf = $3 WHERE account_id = $4 AND id = $5",
        )
        .bind(&instance.name)
        .bind(instance.retention_days)
        .bind(flag(instance.strict))
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
        sqlx::query("DELETE FROM instances WHERE account_id = $1 AND id = $2")
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
        from_row: fn(&AnyRow) -> T,
    ) -> Result<Option<T>, MetaError> {
        let row = sqlx::query(&format!("{columns} WHERE account_id = $1 AND id = $2"))
            .bind(account)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(from_row))
    }

    /// The pool, for the repository parts kept in other modules (views and alerts).
    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// A transaction that writes. On SQLite it takes the database's write lock when it begins (`BEGIN
    /// IMMEDIATE`, waiting its turn up to the busy timeout): a deferred transaction that reads and then writes is
    /// refused at once with "database is locked" when another writer committed after its read, and no wait
    /// helps it then. PostgreSQL has no such statement and no such refusal (rows are locked, not the database),
    /// so it begins as usual.
    pub(crate) async fn write_transaction(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>, MetaError> {
        Ok(match self.engine {
            Engine::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Engine::Postgres => self.pool.begin().await?,
        })
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

/// `path` with its directory resolved (absolute, no symbolic link, no `..`): a URL's `..` would be taken away with
/// the segment before it, which is another directory when that segment is a symbolic link.
fn real_path(path: &Path) -> std::io::Result<std::path::PathBuf> {
    let name = path.file_name().ok_or_else(|| {
        std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("{} names no file", path.display()))
    })?;
    let directory = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    Ok(std::fs::canonicalize(directory)?.join(name))
}

/// The URL of the SQLite file at the absolute `path`, created if missing. Every byte but unreserved ones is
/// escaped: sqlx's own URL leaves `%` as it is, which it then reads back as an escape.
fn sqlite_url(path: &Path) -> String {
    let mut url = String::from("sqlite://");
    for &byte in path.as_os_str().as_encoded_bytes() {
        if byte.is_ascii_alphanumeric() || b"/-._~".contains(&byte) {
            url.push(char::from(byte));
        } else {
            url.push_str(&format!("%{byte:02X}"));
        }
    }
    url.push_str("?mode=rwc");
    url
}

fn install_drivers() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(sqlx::any::install_default_drivers);
}

/// A flag as stored: `Any` decodes booleans differently per engine, integers alike.
pub(crate) fn flag(value: bool) -> i64 {
    i64::from(value)
}

/// A flag column read back (see [`flag`]).
pub(crate) fn is_set(row: &AnyRow, column: &str) -> bool {
    row.get::<i64, _>(column) != 0
}

fn account_from_row(row: &AnyRow) -> Account {
    Account { id: row.get("id"), name: row.get("name"), created_at: row.get("created_at") }
}

fn instance_from_row(row: &AnyRow) -> Instance {
    Instance {
        id: row.get("id"),
        account: row.get("account_id"),
        name: row.get("name"),
        region: row.get("region"),
        retention_days: row.get("retention_days"),
        global: is_set(row, "is_global"),
        strict: is_set(row, "strict_cadf"),
        created_at: row.get("created_at"),
    }
}

fn key_from_row(row: &AnyRow) -> ApiKey {
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
        locked: is_set(row, "locked"),
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

/// Whether a PostgreSQL SQLSTATE says the server is not there for now: a connection exception (class 08), or an
/// operator's intervention (57P01 admin shutdown, 57P02 crash shutdown, 57P03 cannot connect now: starting up or
/// shutting down). SQLite's codes are numbers, never these.
fn unavailable_code(code: &str) -> bool {
    code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn postgresqls_shutdown_startup_and_connection_codes_say_unavailable_and_others_do_not() {
        for code in ["08006", "08001", "57P01", "57P02", "57P03"] {
            assert!(unavailable_code(code), "{code}");
        }
        // A unique violation, a disk full, a syntax error, SQLite's SQLITE_BUSY: not the server's absence.
        for code in ["23505", "53100", "42601", "5", "57014"] {
            assert!(!unavailable_code(code), "{code}");
        }
    }

    /// `Any` hands back the driver's own error, so a full SQLite database is still told apart from other
    /// failures (the server answers 507 for it, and the same write succeeds once space is freed).
    #[tokio::test]
    async fn a_full_sqlite_database_is_no_space_through_any() {
        let dir = tempfile::tempdir().unwrap();
        let meta = Meta::open(&dir.path().join("meta.sqlite")).await.unwrap();
        let mut connection = meta.pool.acquire().await.unwrap();
        // Below the current size SQLite keeps the current size: the file may not grow on this connection.
        connection.execute("PRAGMA max_page_count = 1").await.unwrap();
        let error = sqlx::query("INSERT INTO accounts (id, name, created_at) VALUES ($1, $2, $3)")
            .bind("acme")
            .bind("a".repeat(1 << 20))
            .bind("2026-12-07T00:00:00Z")
            .execute(&mut *connection)
            .await
            .unwrap_err();
        let error = MetaError::from(error);
        assert!(error.is_no_space(), "{error}");
        connection.close().await.unwrap();
        assert!(!MetaError::Conflict("taken".to_string()).is_no_space());
    }

    /// Paths with what a URL escapes or reads specially open the file at that path.
    #[tokio::test]
    async fn odd_paths_open_the_file_at_that_path() {
        let dir = tempfile::tempdir().unwrap();
        // `link/..` is `deep`, not the temporary directory.
        std::fs::create_dir_all(dir.path().join("deep/er")).unwrap();
        std::os::unix::fs::symlink(dir.path().join("deep/er"), dir.path().join("link")).unwrap();
        for name in ["with space?#{x}&mode=ro", "caf\u{e9}", "100%41", "a/../b", "link/../x"] {
            let path = dir.path().join(name).join("meta.sqlite");
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            let meta = Meta::open(&path).await.unwrap();
            meta.create_account(&Account { id: "a".into(), name: "a".into(), created_at: "now".into() }).await.unwrap();
            meta.close().await;
            assert!(path.is_file(), "{}", path.display());
        }
        assert!(dir.path().join("deep/x/meta.sqlite").is_file() && !dir.path().join("x").exists());
    }

    /// A database written before the `Any` driver (SQLite's own driver and migrator, as `open` was) opens with
    /// its rows, and its applied migrations are recognised rather than run again.
    #[tokio::test]
    async fn a_database_of_the_sqlite_driver_opens_unchanged() {
        use sqlx::sqlite::{SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("meta.sqlite");
        let options = SqliteConnectOptions::from_str("sqlite://")
            .unwrap()
            .filename(&path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true);
        let old = SqlitePoolOptions::new().max_connections(1).connect_with(options).await.unwrap();
        sqlx::migrate!("./migrations").run(&old).await.unwrap();
        sqlx::query("INSERT INTO accounts (id, name, created_at) VALUES ('acme', 'Acme', '2026-12-01T00:00:00Z')")
            .execute(&old)
            .await
            .unwrap();
        old.close().await;

        let meta = Meta::open(&path).await.unwrap();
        let account = meta.account("acme").await.unwrap().unwrap();
        assert_eq!((account.name.as_str(), account.created_at.as_str()), ("Acme", "2026-12-01T00:00:00Z"));
        let applied: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations").fetch_one(&meta.pool).await.unwrap();
        assert_eq!(applied, 9);
    }

    /// The pragmas `Any`'s URL cannot carry are set on every connection of the pool.
    #[tokio::test]
    async fn every_sqlite_connection_has_the_pragmas() {
        let dir = tempfile::tempdir().unwrap();
        let meta = Meta::open(&dir.path().join("meta.sqlite")).await.unwrap();
        let mut connections = Vec::new();
        for _ in 0..4 {
            connections.push(meta.pool.acquire().await.unwrap());
        }
        for connection in &mut connections {
            let mode: String = sqlx::query_scalar("PRAGMA journal_mode").fetch_one(&mut **connection).await.unwrap();
            let synchronous: i64 = sqlx::query_scalar("PRAGMA synchronous").fetch_one(&mut **connection).await.unwrap();
            let foreign_keys: i64 =
                sqlx::query_scalar("PRAGMA foreign_keys").fetch_one(&mut **connection).await.unwrap();
            assert_eq!((mode.as_str(), synchronous, foreign_keys), ("wal", 2, 1));
        }
        assert_eq!(meta.engine(), Engine::Sqlite);
    }
}
