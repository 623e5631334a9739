//! The `[store]` section of the relay's TOML configuration (DESIGN.md §5: one file per service).
//!
//! ```toml
//! [store]
//! database_url = "sqlite://var/relay.sqlite3"   # or postgres://user@host/db
//! pool_size = 8
//! kek_file = "var/relay-kek.hex"                 # 64 hex characters; needed for link imports
//! ```

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::crypto::Kek;
use crate::error::StoreError;
use crate::store::{Store, StoreOptions};

/// Default database: embedded SQLite next to the other runtime files.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://var/relay.sqlite3";

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    #[serde(default = "default_url")]
    pub database_url: String,
    #[serde(default = "default_pool")]
    pub pool_size: u32,
    /// File holding the key-encryption key as 64 hex characters.
    #[serde(default)]
    pub kek_file: Option<PathBuf>,
}

fn default_url() -> String {
    DEFAULT_DATABASE_URL.into()
}

fn default_pool() -> u32 {
    8
}

impl Default for StoreConfig {
    fn default() -> StoreConfig {
        StoreConfig {
            database_url: default_url(),
            pool_size: default_pool(),
            kek_file: None,
        }
    }
}

impl std::fmt::Debug for StoreConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreConfig")
            .field(
                "database_url",
                &crate::store::DatabaseUrl::parse(&self.database_url).ok(),
            )
            .field("pool_size", &self.pool_size)
            .field("kek_file", &self.kek_file)
            .finish()
    }
}

#[derive(Deserialize)]
struct File {
    #[serde(default)]
    store: Option<StoreConfig>,
}

impl StoreConfig {
    /// Reads the `[store]` table of a TOML file (other tables are the service's).
    pub fn from_toml_file(path: &Path) -> Result<StoreConfig, StoreError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            StoreError::invalid("configuration", format!("{}: {e}", path.display()))
        })?;
        // Other tables are the service's own: `File` ignores them; `[store]` itself refuses
        // unknown keys so that a misspelt setting is not silently dropped.
        let file: File = toml::from_str(&text).map_err(|e| {
            StoreError::invalid("configuration", format!("{}: {e}", path.display()))
        })?;
        Ok(file.store.unwrap_or_default())
    }

    /// Opens the store this configuration names (loading the KEK if a file is given).
    pub fn open(&self) -> Result<Store, StoreError> {
        let kek = match &self.kek_file {
            Some(path) => Some(Kek::from_file(path)?),
            None => None,
        };
        Store::open(
            &self.database_url,
            StoreOptions {
                pool_size: self.pool_size,
                kek,
                ..StoreOptions::default()
            },
        )
    }
}
