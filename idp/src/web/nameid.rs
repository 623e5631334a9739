//! Name identifiers.
//!
//! * **Persistent, pairwise per SP**: `base64url(HMAC-SHA256(pairwise secret, person ID ‖ SP
//!   entity ID))` cut to 128 bits (22 characters). The person ID is the relay's random internal
//!   ID (fixed length, so the concatenation is unambiguous): the identifier is stable across
//!   logins and card renewals (a renewed card maps to the same person), differs for every SP,
//!   and is derived from nothing another party sees (neither the certificate, the resident
//!   number nor another SP's identifier).
//! * **Transient**: 128 random bits, one per IdP session and SP.
//!
//! `AllowCreate="false"` (SAML core §3.4.1.1) is honoured with a registry of the persistent
//! identifiers issued so far: only a hash of (SP, identifier) is kept, in memory and appended to
//! a file in the state folder.

use std::collections::HashSet;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use base64::Engine;
use schemas::saml::{nameid_format, NameId};

use super::util::{hex, hmac_sha256, random_bytes, sha256, B64URL};

/// The pairwise persistent identifier of `person` at `sp`.
pub fn pairwise(secret: &[u8], person_id: &str, sp_entity: &str) -> String {
    let mac = hmac_sha256(secret, &[person_id.as_bytes(), sp_entity.as_bytes()]);
    B64URL.encode(&mac[..16])
}

/// A persistent NameID element for `sp`.
pub fn persistent(value: String, idp: &str, sp: &str) -> NameId {
    NameId {
        value,
        format: Some(nameid_format::PERSISTENT.into()),
        name_qualifier: Some(idp.into()),
        sp_name_qualifier: Some(sp.into()),
        sp_provided_id: None,
    }
}

/// A fresh transient NameID for `sp`.
pub fn transient(idp: &str, sp: &str) -> NameId {
    NameId {
        value: format!("_{}", hex(&random_bytes(16))),
        format: Some(nameid_format::TRANSIENT.into()),
        name_qualifier: Some(idp.into()),
        sp_name_qualifier: Some(sp.into()),
        sp_provided_id: None,
    }
}

/// Which persistent identifiers exist (were released to their SP at least once).
pub struct IssuedRegistry {
    known: Mutex<HashSet<String>>,
    file: Option<(PathBuf, Mutex<std::fs::File>)>,
}

impl IssuedRegistry {
    /// In memory only (tests).
    pub fn memory() -> Self {
        IssuedRegistry {
            known: Mutex::new(HashSet::new()),
            file: None,
        }
    }

    /// Backed by an append-only file of hex hashes, one per line.
    pub fn open(path: &Path) -> std::io::Result<Self> {
        let mut known = HashSet::new();
        if let Ok(f) = std::fs::File::open(path) {
            for line in std::io::BufReader::new(f).lines() {
                let line = line?;
                let l = line.trim();
                if l.len() == 64 {
                    known.insert(l.to_string());
                }
            }
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        Ok(IssuedRegistry {
            known: Mutex::new(known),
            file: Some((path.to_path_buf(), Mutex::new(file))),
        })
    }

    fn key(sp: &str, value: &str) -> String {
        let mut data = Vec::with_capacity(sp.len() + value.len() + 1);
        data.extend_from_slice(sp.as_bytes());
        data.push(0);
        data.extend_from_slice(value.as_bytes());
        hex(&sha256(&data))
    }

    pub fn exists(&self, sp: &str, value: &str) -> bool {
        self.known
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(&Self::key(sp, value))
    }

    /// Records an identifier as issued (idempotent).
    pub fn record(&self, sp: &str, value: &str) -> std::io::Result<()> {
        let key = Self::key(sp, value);
        let mut known = self.known.lock().unwrap_or_else(|e| e.into_inner());
        if known.contains(&key) {
            return Ok(());
        }
        if let Some((_, f)) = &self.file {
            let mut f = f.lock().unwrap_or_else(|e| e.into_inner());
            writeln!(f, "{key}")?;
            f.flush()?;
        }
        known.insert(key);
        Ok(())
    }

    pub fn path(&self) -> Option<&Path> {
        self.file.as_ref().map(|(p, _)| p.as_path())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairwise_is_stable_per_sp_and_128_bits() {
        let a = pairwise(b"secret-secret-secret-secret-1234", "p1", "https://sp1");
        assert_eq!(a.len(), 22);
        assert_eq!(
            a,
            pairwise(b"secret-secret-secret-secret-1234", "p1", "https://sp1")
        );
        assert_ne!(
            a,
            pairwise(b"secret-secret-secret-secret-1234", "p1", "https://sp2")
        );
        assert_ne!(
            a,
            pairwise(b"secret-secret-secret-secret-1234", "p2", "https://sp1")
        );
        assert_ne!(
            a,
            pairwise(b"other-secret-secret-secret-12345", "p1", "https://sp1")
        );
    }

    #[test]
    fn registry_persists() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("issued");
        let r = IssuedRegistry::open(&path).unwrap();
        assert!(!r.exists("sp", "v"));
        r.record("sp", "v").unwrap();
        r.record("sp", "v").unwrap();
        assert!(r.exists("sp", "v"));
        drop(r);
        let r = IssuedRegistry::open(&path).unwrap();
        assert!(r.exists("sp", "v"));
        assert!(!r.exists("sp2", "v"));
        assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 1);
    }
}
