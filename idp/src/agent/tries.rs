//! PIN try counters of virtual cards.
//!
//! SoftHSM2 has no retry counter, so in `virtual` mode the agent keeps one per token in a small
//! JSON file next to the test PKI's manifest, behaving like a JPKI card: 3 tries for the
//! user-authentication PIN, 5 for the signature password, back to the maximum after a correct
//! PIN, locked at 0. A locked token is refused without being touched. Only tokens whose count is
//! below the maximum are written down. Every read-modify-write holds an exclusive `flock` on
//! `<file>.lock`, so two agents sharing a PKI folder stay consistent; writes are atomic (temporary
//! file + rename), mode 0600.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::protocol::Kind;

#[derive(Debug, Default, Serialize, Deserialize)]
struct TriesDoc {
    version: u32,
    /// Token label → tries left (only tokens below their maximum).
    tokens: BTreeMap<String, u32>,
}

/// The counter file.
#[derive(Debug, Clone)]
pub struct TriesFile {
    path: PathBuf,
}

/// Error reading or writing the counter file.
#[derive(Debug, thiserror::Error)]
#[error("PIN try counters {path}: {message}")]
pub struct TriesError {
    pub path: PathBuf,
    pub message: String,
}

struct Locked {
    _file: fs::File,
}

impl TriesFile {
    pub fn new(path: impl Into<PathBuf>) -> TriesFile {
        TriesFile { path: path.into() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn err(&self, message: impl std::fmt::Display) -> TriesError {
        TriesError {
            path: self.path.clone(),
            message: message.to_string(),
        }
    }

    fn lock(&self) -> Result<Locked, TriesError> {
        use std::os::fd::AsRawFd;
        let lock_path = self.path.with_extension("json.lock");
        let file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| self.err(format!("lock file: {e}")))?;
        // SAFETY: flock on a descriptor owned by `file`, released when it is closed.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } != 0 {
            return Err(self.err(std::io::Error::last_os_error()));
        }
        Ok(Locked { _file: file })
    }

    fn read(&self) -> Result<TriesDoc, TriesError> {
        match fs::read(&self.path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| self.err(e)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(TriesDoc::default()),
            Err(e) => Err(self.err(e)),
        }
    }

    fn write(&self, doc: &TriesDoc) -> Result<(), TriesError> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let tmp = self.path.with_extension("json.tmp");
        let json = serde_json::to_vec_pretty(doc).map_err(|e| self.err(e))?;
        let mut f = fs::OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(|e| self.err(e))?;
        f.write_all(&json).map_err(|e| self.err(e))?;
        f.sync_all().map_err(|e| self.err(e))?;
        fs::rename(&tmp, &self.path).map_err(|e| self.err(e))
    }

    /// Tries left for a token.
    pub fn tries_left(&self, label: &str, kind: Kind) -> Result<u32, TriesError> {
        let _l = self.lock()?;
        Ok(self
            .read()?
            .tokens
            .get(label)
            .copied()
            .unwrap_or(kind.max_tries()))
    }

    /// Counts a wrong PIN; returns tries left (0 = locked now).
    pub fn record_failure(&self, label: &str, kind: Kind) -> Result<u32, TriesError> {
        let _l = self.lock()?;
        let mut doc = self.read()?;
        doc.version = 1;
        let left = doc
            .tokens
            .get(label)
            .copied()
            .unwrap_or(kind.max_tries())
            .saturating_sub(1);
        doc.tokens.insert(label.to_string(), left);
        self.write(&doc)?;
        Ok(left)
    }

    /// A correct PIN: back to the maximum.
    pub fn record_success(&self, label: &str) -> Result<(), TriesError> {
        let _l = self.lock()?;
        let mut doc = self.read()?;
        if doc.tokens.remove(label).is_some() {
            doc.version = 1;
            self.write(&doc)?;
        }
        Ok(())
    }

    /// What the city office does for a locked card (`card-agent reset-pin`): clears the counter.
    pub fn reset(&self, label: &str) -> Result<(), TriesError> {
        self.record_success(label)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_resets() {
        let dir = tempfile::tempdir().unwrap();
        let t = TriesFile::new(dir.path().join("tries.json"));
        assert_eq!(t.tries_left("A", Kind::Auth).unwrap(), 3);
        assert_eq!(t.record_failure("A", Kind::Auth).unwrap(), 2);
        assert_eq!(t.record_failure("A", Kind::Auth).unwrap(), 1);
        assert_eq!(t.tries_left("S", Kind::Sign).unwrap(), 5);
        t.record_success("A").unwrap();
        assert_eq!(t.tries_left("A", Kind::Auth).unwrap(), 3);
        for left in [2, 1, 0, 0] {
            assert_eq!(t.record_failure("A", Kind::Auth).unwrap(), left);
        }
        t.reset("A").unwrap();
        assert_eq!(t.tries_left("A", Kind::Auth).unwrap(), 3);
    }
}
