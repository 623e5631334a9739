//! The relay database: one [`Store`] over a pool of connections to SQLite or PostgreSQL, the same
//! embedded migrations and the same query code for both (a `diesel::MultiConnection` enum).
//!
//! The API is synchronous (diesel is); an async service calls it through `web::block` or a
//! blocking pool. `Store` is cheap to clone and `Send + Sync`.
//!
//! Transactions that write go through [`write_tx`]: on SQLite it opens with `BEGIN IMMEDIATE`, so
//! the write lock is taken (waiting on the busy timeout) before anything is read, and two
//! writers never deadlock on a lock upgrade; on PostgreSQL a plain `BEGIN` plus row locks taken
//! by the statements themselves.

mod conn;
pub(crate) mod links;
pub(crate) mod model;
pub(crate) mod persons;
pub(crate) mod providers;
pub(crate) mod schema;

use std::sync::Arc;
use std::time::Duration;

use diesel::connection::{AnsiTransactionManager, Connection, TransactionManager};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

pub use conn::{DatabaseUrl, DbConnection};
pub use links::LinkChange;
pub use model::*;
pub use persons::{Counts, StatusChange};

use crate::crypto::Kek;
use crate::error::StoreError;

/// The migrations of `migrations/`, compiled in.
pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

/// Which database a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// How to open a [`Store`].
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Connections in the pool (an in-memory SQLite database always has exactly one).
    pub pool_size: u32,
    /// How long a connection waits for SQLite's write lock before failing.
    pub sqlite_busy_timeout: Duration,
    /// How long to wait for a pooled connection.
    pub connection_timeout: Duration,
    /// Key-encryption key for providers' local keys; without it, link operations that touch a
    /// local key fail with [`StoreError::NoKek`].
    pub kek: Option<Kek>,
    /// Run pending migrations when opening (default). Off only for tools that must not change
    /// the schema.
    pub migrate: bool,
}

impl Default for StoreOptions {
    fn default() -> StoreOptions {
        StoreOptions {
            pool_size: 8,
            sqlite_busy_timeout: Duration::from_secs(30),
            connection_timeout: Duration::from_secs(30),
            kek: None,
            migrate: true,
        }
    }
}

/// The relay database.
#[derive(Clone)]
pub struct Store {
    pool: r2d2::Pool<conn::Manager>,
    backend: Backend,
    kek: Option<Arc<Kek>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend)
            .field("kek", &self.kek)
            .finish()
    }
}

pub(crate) type PooledConn = r2d2::PooledConnection<conn::Manager>;

impl Store {
    /// Opens the database named by `url` (see [`DatabaseUrl::parse`]) and runs pending
    /// migrations.
    pub fn open(url: &str, options: StoreOptions) -> Result<Store, StoreError> {
        let target = DatabaseUrl::parse(url)?;
        let backend = target.backend();
        let pool_size = if target.is_memory() {
            // Every connection to `:memory:` is its own database: keep exactly one.
            1
        } else {
            options.pool_size.max(1)
        };
        let manager = conn::Manager::new(target, options.sqlite_busy_timeout);
        let pool = r2d2::Pool::builder()
            .max_size(pool_size)
            .min_idle(Some(0))
            .connection_timeout(options.connection_timeout)
            .build(manager)
            .map_err(|e| StoreError::Connect(e.to_string()))?;
        let store = Store {
            pool,
            backend,
            kek: options.kek.map(Arc::new),
        };
        if options.migrate {
            store.migrate()?;
        }
        Ok(store)
    }

    /// Runs the pending migrations (idempotent). Several processes may open a new database at
    /// once (an import and a `stats` poll): the whole run is one write transaction — holding
    /// SQLite's write lock, or a PostgreSQL advisory lock — so the second waits and then finds
    /// nothing to do instead of creating the tables twice.
    pub fn migrate(&self) -> Result<(), StoreError> {
        let mut conn = self.conn()?;
        let applied = write_tx(&mut conn, |conn| {
            if let DbConnection::Pg(pg) = conn {
                diesel::connection::SimpleConnection::batch_execute(
                    pg,
                    "SELECT pg_advisory_xact_lock(7262617269)",
                )?;
            }
            conn.run_pending_migrations(MIGRATIONS)
                .map(|v| v.len())
                .map_err(|e| StoreError::Migration(e.to_string()))
        })?;
        if applied > 0 {
            tracing::info!(count = applied, backend = ?self.backend, "applied migrations");
        }
        Ok(())
    }

    /// Versions of the migrations applied to this database.
    pub fn applied_migrations(&self) -> Result<Vec<String>, StoreError> {
        let mut conn = self.conn()?;
        let versions = conn
            .applied_migrations()
            .map_err(|e| StoreError::Migration(e.to_string()))?;
        Ok(versions.into_iter().map(|v| v.to_string()).collect())
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The configured key-encryption key.
    pub(crate) fn kek(&self) -> Result<&Kek, StoreError> {
        self.kek.as_deref().ok_or(StoreError::NoKek)
    }

    /// A pooled connection.
    pub(crate) fn conn(&self) -> Result<PooledConn, StoreError> {
        Ok(self.pool.get()?)
    }

    /// Runs `f` in a write transaction on a pooled connection (see [`write_tx`]).
    pub(crate) fn write<T, E>(
        &self,
        f: impl FnOnce(&mut DbConnection) -> Result<T, E>,
    ) -> Result<T, E>
    where
        E: From<diesel::result::Error> + From<StoreError>,
    {
        let mut conn = self.conn()?;
        write_tx(&mut conn, f)
    }
}

/// Runs `f` in a transaction that will write: `BEGIN IMMEDIATE` on SQLite, `BEGIN` on
/// PostgreSQL. Commits on `Ok`, rolls back on `Err`.
pub(crate) fn write_tx<T, E>(
    conn: &mut DbConnection,
    f: impl FnOnce(&mut DbConnection) -> Result<T, E>,
) -> Result<T, E>
where
    E: From<diesel::result::Error>,
{
    match conn {
        // A deferred SQLite transaction that reads first and writes later cannot wait for the
        // write lock (it would deadlock against another such writer) and fails with
        // SQLITE_BUSY at once; IMMEDIATE takes the lock up front, honouring busy_timeout.
        DbConnection::Sqlite(c) => {
            AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")?
        }
        DbConnection::Pg(c) => AnsiTransactionManager::begin_transaction(c)?,
    }
    match f(conn) {
        Ok(value) => {
            <DbConnection as Connection>::TransactionManager::commit_transaction(conn)?;
            Ok(value)
        }
        Err(err) => {
            match <DbConnection as Connection>::TransactionManager::rollback_transaction(conn) {
                Ok(()) | Err(diesel::result::Error::BrokenTransactionManager) => Err(err),
                Err(rollback) => Err(rollback.into()),
            }
        }
    }
}

/// Inserts rows: multi-row statements on PostgreSQL (in chunks under the bind-parameter limit),
/// one prepared statement per row on SQLite, where a statement costs no round trip and diesel's
/// multi-backend cannot render SQLite's batch form.
macro_rules! insert_rows {
    ($conn:expr, $table:expr, $rows:expr) => {{
        match $conn {
            $crate::store::DbConnection::Pg(c) => {
                for chunk in $rows.chunks(200) {
                    diesel::insert_into($table).values(chunk).execute(c)?;
                }
            }
            $crate::store::DbConnection::Sqlite(c) => {
                for row in $rows.iter() {
                    diesel::insert_into($table).values(row).execute(c)?;
                }
            }
        }
    }};
}
pub(crate) use insert_rows;

/// Current time in unix seconds.
pub fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}
