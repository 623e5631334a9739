//! The crate's error type. Messages never carry a sensitive value (resident number, local key,
//! pseudonym, person ID): callers log them as they are.

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Db(#[from] diesel::result::Error),
    #[error("cannot connect to the database: {0}")]
    Connect(String),
    #[error("connection pool: {0}")]
    Pool(#[from] r2d2::Error),
    #[error("migrations: {0}")]
    Migration(String),
    #[error("unsupported database URL (expected postgres://…, postgresql://…, sqlite://PATH, sqlite::memory: or a file path)")]
    BadUrl,
    #[error("no key-encryption key is configured (needed to handle local keys)")]
    NoKek,
    #[error("invalid key-encryption key: {0}")]
    BadKek(String),
    #[error("OpenSSL: {0}")]
    Crypto(#[from] openssl::error::ErrorStack),
    #[error("a stored local key does not decrypt under the configured key-encryption key (wrong KEK or altered row)")]
    Decrypt,
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("invalid {field}: {reason}")]
    Invalid { field: &'static str, reason: String },
    #[error("stored row is inconsistent: {0}")]
    Corrupt(String),
}

impl StoreError {
    pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> StoreError {
        StoreError::Invalid {
            field,
            reason: reason.into(),
        }
    }
}

/// A value that failed validation (the value itself is not repeated: it may be sensitive).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {field}: {reason}")]
pub struct InvalidValue {
    pub field: &'static str,
    pub reason: String,
}

impl InvalidValue {
    pub(crate) fn new(field: &'static str, reason: impl Into<String>) -> InvalidValue {
        InvalidValue {
            field,
            reason: reason.into(),
        }
    }
}

impl From<InvalidValue> for StoreError {
    fn from(e: InvalidValue) -> StoreError {
        StoreError::Invalid {
            field: e.field,
            reason: e.reason,
        }
    }
}
