//! `wsp-relay`: the relay database of the Nabari federation and, on top of it, the ID-WSF 2.0
//! Discovery Service. It holds routing facts only (principle 1): which person a JPKI certificate
//! belongs to, each provider's pseudonym for that person (and, for pilot-mode providers, the
//! provider's local key, encrypted), which providers are registered, the policy of who may
//! discover what, and a hash-chained record of every disclosure. It holds no records.
//!
//! - [`store`]: the [`Store`] over SQLite or PostgreSQL (same migrations, same queries): persons,
//!   certificates (the IdP's lookup), providers and services, links and pseudonyms;
//! - [`policy`]: deny-by-default discovery rules and the AuthnContext order;
//! - [`records`]: append-only, hash-chained access records and their verification;
//! - [`enroll`]: the municipality's and insurers' files (cards, links, renewals, CRLs) imported in
//!   idempotent, resumable batches, and the link export for each provider;
//! - [`sensitive`]: newtypes that keep identifiers out of logs;
//! - [`config`]: the `[store]` section of the relay's configuration.
//!
//! The `relay-admin` binary is the operator's command line over [`enroll`], [`policy`] and
//! [`records`].

pub mod config;
pub mod crypto;
pub mod ds;
pub mod enroll;
pub mod error;
pub mod policy;
pub mod records;
pub mod sensitive;
pub mod store;

pub use crypto::Kek;
pub use error::{InvalidValue, StoreError};
pub use policy::{authn_context, Decision, DenyReason, NewRule, Rule};
pub use records::{AccessRecord, BrokenLink, ChainError, ChainReport, NewAccessRecord, Outcome};
pub use sensitive::{HouseholdNumber, LocalKey, PersonId, Pseudonym, ResidentNumber};
pub use store::{
    Backend, CertKey, CertKind, CertLookup, CertStatus, Certificate, Counts, LinkChange,
    LocalKeyScheme, NewCertificate, NewPerson, NewProvider, NewService, Person, PersonStatus,
    Provider, ProviderId, ProviderLink, ProviderService, ProviderStatus, StatusChange, Store,
    StoreOptions,
};
