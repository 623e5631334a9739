//! Person resolution through the relay database (`wsp_relay::Store`): (CA key identifier,
//! serial) → person and the certificate's status; the person's pseudonym at the Discovery
//! Service (the DS token's subject).

use std::sync::Mutex;

use wsp_relay::{CertKey, CertStatus, PersonId, PersonStatus, ProviderId, Store, StoreOptions};

use super::util::unhex;

/// What the relay says about a verified certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    /// An active certificate of an active person.
    Person(PersonId),
    /// The relay does not know the certificate: the resident has not registered it.
    Unknown,
    /// Revoked in the relay (from a CRL or a report).
    Revoked,
    /// Replaced by a renewed card (renewal feed).
    Superseded,
    /// The person's record is suspended or closed, or the relay's validity dates exclude now.
    Inactive,
}

#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    #[error("relay database: {0}")]
    Store(#[from] wsp_relay::StoreError),
    #[error("bad certificate key: {0}")]
    Key(String),
    #[error("the Discovery Service {0} is not a provider of the relay")]
    NoDsProvider(String),
}

/// The relay as the IdP uses it.
pub struct RelayDirectory {
    store: Store,
    ds_entity: String,
    ds_provider: Mutex<Option<ProviderId>>,
}

impl std::fmt::Debug for RelayDirectory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RelayDirectory")
            .field("ds_entity", &self.ds_entity)
            .finish_non_exhaustive()
    }
}

impl RelayDirectory {
    /// Opens the relay database (migrations are not run: the relay owns the schema).
    pub fn open(url: &str, pool_size: u32, ds_entity: &str) -> Result<Self, DirectoryError> {
        let store = Store::open(
            url,
            StoreOptions {
                pool_size,
                migrate: false,
                ..StoreOptions::default()
            },
        )?;
        Ok(Self::with_store(store, ds_entity))
    }

    pub fn with_store(store: Store, ds_entity: &str) -> Self {
        RelayDirectory {
            store,
            ds_entity: ds_entity.to_string(),
            ds_provider: Mutex::new(None),
        }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The IdP's lookup (one primary-key read).
    pub fn resolve(
        &self,
        ca_key_id_hex: &str,
        serial: &[u8],
        now: i64,
    ) -> Result<Resolution, DirectoryError> {
        let ca = unhex(ca_key_id_hex).ok_or_else(|| DirectoryError::Key("CA key id".into()))?;
        let key = CertKey::new(&ca, serial).map_err(|e| DirectoryError::Key(e.to_string()))?;
        let Some(l) = self.store.lookup_certificate_detail(&key)? else {
            return Ok(Resolution::Unknown);
        };
        Ok(match l.status {
            CertStatus::Revoked { .. } => Resolution::Revoked,
            CertStatus::Superseded { .. } => Resolution::Superseded,
            CertStatus::Active if l.person_status != PersonStatus::Active => Resolution::Inactive,
            CertStatus::Active if !l.usable_at(now) => Resolution::Inactive,
            CertStatus::Active => Resolution::Person(l.person),
        })
    }

    fn ds_provider(&self) -> Result<ProviderId, DirectoryError> {
        let mut cached = self.ds_provider.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(p) = cached.as_ref() {
            return Ok(p.clone());
        }
        let p = self
            .store
            .provider_by_entity_id(&self.ds_entity)?
            .ok_or_else(|| DirectoryError::NoDsProvider(self.ds_entity.clone()))?;
        *cached = Some(p.id.clone());
        Ok(p.id)
    }

    /// The person's pseudonym at the Discovery Service (created by the relay on first use).
    pub fn ds_pseudonym(&self, person: &PersonId) -> Result<String, DirectoryError> {
        let provider = self.ds_provider()?;
        Ok(self
            .store
            .pseudonym_for(person, &provider)?
            .expose()
            .to_string())
    }
}
