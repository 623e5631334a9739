//! Connections: the backend enum, database URLs and the r2d2 connection manager.

use std::fmt;
use std::time::Duration;

use diesel::connection::{Connection, SimpleConnection};
use diesel::{PgConnection, SqliteConnection};

use super::Backend;
use crate::error::StoreError;

/// A connection to either backend; diesel's derive makes the enum itself a `Connection` whose
/// queries run on whichever variant it holds, so the query code is written once.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Pg(PgConnection),
    Sqlite(SqliteConnection),
}

/// A parsed database URL. Accepted forms:
///
/// - `postgres://…` or `postgresql://…` (passed to libpq unchanged);
/// - `sqlite://PATH` (relative or absolute), `sqlite:PATH`, or a bare file path;
/// - `sqlite::memory:` or `:memory:`, an in-memory database (one connection, for tests and
///   throw-away runs).
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    Postgres(String),
    SqliteFile(String),
    SqliteMemory,
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // The URL may hold a password: show the scheme only.
            DatabaseUrl::Postgres(_) => write!(f, "postgres://…"),
            DatabaseUrl::SqliteFile(p) => write!(f, "sqlite://{p}"),
            DatabaseUrl::SqliteMemory => write!(f, "sqlite::memory:"),
        }
    }
}

impl DatabaseUrl {
    pub fn parse(url: &str) -> Result<DatabaseUrl, StoreError> {
        let url = url.trim();
        if url.is_empty() {
            return Err(StoreError::BadUrl);
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(DatabaseUrl::Postgres(url.to_string()));
        }
        if url == ":memory:" || url == "sqlite::memory:" || url == "sqlite://:memory:" {
            return Ok(DatabaseUrl::SqliteMemory);
        }
        let path = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .unwrap_or(url);
        if path.is_empty() || path.contains("://") {
            return Err(StoreError::BadUrl);
        }
        Ok(DatabaseUrl::SqliteFile(path.to_string()))
    }

    pub fn backend(&self) -> Backend {
        match self {
            DatabaseUrl::Postgres(_) => Backend::Postgres,
            _ => Backend::Sqlite,
        }
    }

    pub(crate) fn is_memory(&self) -> bool {
        matches!(self, DatabaseUrl::SqliteMemory)
    }
}

#[derive(Debug)]
pub(crate) struct ConnError(String);

impl fmt::Display for ConnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConnError {}

/// Opens connections for the pool, choosing the backend from the URL (diesel's own manager would
/// try every backend in turn, and SQLite accepts any string as a path).
pub(crate) struct Manager {
    target: DatabaseUrl,
    busy_timeout: Duration,
}

impl Manager {
    pub(crate) fn new(target: DatabaseUrl, busy_timeout: Duration) -> Manager {
        Manager {
            target,
            busy_timeout,
        }
    }
}

impl r2d2::ManageConnection for Manager {
    type Connection = DbConnection;
    type Error = ConnError;

    fn connect(&self) -> Result<DbConnection, ConnError> {
        match &self.target {
            DatabaseUrl::Postgres(url) => PgConnection::establish(url)
                .map(DbConnection::Pg)
                .map_err(|e| ConnError(e.to_string())),
            DatabaseUrl::SqliteFile(path) => sqlite(path, self.busy_timeout),
            DatabaseUrl::SqliteMemory => sqlite(":memory:", self.busy_timeout),
        }
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), ConnError> {
        conn.batch_execute("SELECT 1")
            .map_err(|e| ConnError(e.to_string()))
    }

    fn has_broken(&self, conn: &mut DbConnection) -> bool {
        diesel::r2d2::R2D2Connection::is_broken(conn)
    }
}

fn sqlite(path: &str, busy_timeout: Duration) -> Result<DbConnection, ConnError> {
    let mut conn = SqliteConnection::establish(path).map_err(|e| ConnError(e.to_string()))?;
    // foreign_keys: SQLite does not enforce REFERENCES otherwise. WAL: readers do not block the
    // writer, and a killed process leaves a consistent database (the open transaction is simply
    // not in the log). synchronous=NORMAL is durable across a process crash in WAL mode.
    let pragmas = format!(
        "PRAGMA busy_timeout = {}; PRAGMA foreign_keys = ON; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;",
        busy_timeout.as_millis()
    );
    conn.batch_execute(&pragmas)
        .map_err(|e| ConnError(e.to_string()))?;
    Ok(DbConnection::Sqlite(conn))
}

impl From<ConnError> for StoreError {
    fn from(e: ConnError) -> StoreError {
        StoreError::Connect(e.0)
    }
}
