//! Enrollment (flow D): the files municipalities and insurers deliver, imported in batches, and
//! the link file exported for each provider.
//!
//! | command | module | file |
//! |---|---|---|
//! | `import-cards` | [`cards`] | municipality's card-issuance file |
//! | `import-links` / `export-links` | [`links`] | insurer's link file / the WSP's pseudonym file |
//! | `renew` | [`renew`] | municipality's renewal feed |
//! | `import-crl` | [`crl`] | a JPKI CRL (DER or PEM) |
//!
//! Every import follows the same rules ([`runner`]):
//!
//! - The file is identified by the SHA-256 of its bytes (with its kind and, for link files, the
//!   provider). Rows are cut into batches of a fixed size (default 1,000; the size of the first
//!   run is kept for the file so that batch numbers always mean the same rows).
//! - A batch is committed completely or not at all: its changes, its rejected rows and its
//!   `import_batches` row are written in one transaction. A re-run skips committed batches, so
//!   running a file twice changes nothing the second time and a run killed mid-file resumes
//!   where it stopped.
//! - A row that fails validation — a bad field, a conflict with an earlier row of the same file,
//!   or a conflict with what the database holds (certificate of another person, unknown resident
//!   number…) — is rejected with its line number and a reason, and the rest of its batch commits.
//!   A database error rolls the whole batch back and stops the run (re-run to resume).
//!   Validation against the file itself is done in a first pass over the whole file, so which
//!   rows are rejected does not depend on where an earlier run stopped.
//! - The reject report (CSV: `row,line,reason`) lists every rejected row of the file, from all
//!   runs; reasons never contain the sensitive values themselves.
//!
//! CSV files are UTF-8 (a leading BOM is ignored), comma-separated, with a header row naming the
//! columns (any order, case-insensitive; unknown columns are ignored). Times are RFC 3339
//! (`2026-11-22T09:00:00+09:00`) or unix seconds. Hex accepts either case and `:` separators.

pub mod cards;
pub mod crl;
mod csvio;
pub mod links;
pub mod renew;
pub(crate) mod runner;

use std::path::PathBuf;

pub use cards::import_cards;
pub use crl::{import_crl, load_trust_anchors};
pub use links::{export_links, import_links, ExportReport};
pub use renew::import_renewals;
pub use runner::{ImportKind, ImportOptions, ImportReport, DEFAULT_BATCH_SIZE};

use crate::error::StoreError;

/// Requester recorded in the access records for links made by an import.
pub const ENROLLMENT_REQUESTER: &str = "urn:nabari:relay:enrollment";
/// Purpose recorded in those records.
pub const ENROLLMENT_PURPOSE: &str = "enrollment";

/// Why an import or export did not run (row-level problems are rejects, not errors).
#[derive(Debug, thiserror::Error)]
pub enum EnrollError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {reason}")]
    BadFile { path: PathBuf, reason: String },
    #[error("unknown provider {0:?} (register it first: relay-admin provider add)")]
    UnknownProvider(String),
    #[error("provider {0:?} is suspended")]
    ProviderSuspended(String),
    #[error("CRL refused: {0}")]
    CrlRefused(String),
    #[error("provider {0:?} is not in pilot mode, so the relay does not hold its local keys: pass the insurer's link file (--links FILE) to export")]
    NeedLinkFile(String),
}

impl From<diesel::result::Error> for EnrollError {
    fn from(e: diesel::result::Error) -> EnrollError {
        EnrollError::Store(e.into())
    }
}

fn io_err(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> EnrollError + '_ {
    move |source| EnrollError::Io {
        path: path.to_path_buf(),
        source,
    }
}
