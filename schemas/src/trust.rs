//! The federation metadata trust store.
//!
//! Every party of the federation learns its peers — entity IDs, keys, endpoints, signing
//! requirements — from one document: the metadata aggregate (`md:EntitiesDescriptor`) that the
//! relay operator publishes and signs (DESIGN flow C; `attacks.md`, row "Metadata"). A
//! [`TrustStore`] is built from that document only when
//!
//! * its enveloped signature verifies with one of the configured federation trust anchors (keys
//!   only from configured anchors, never from the document: DESIGN principle 5);
//! * the document element carries `validUntil` and it lies in the future (SAML metadata §2.3.2:
//!   a consumer must not use expired metadata; a document without `validUntil` could be replayed
//!   forever after a key was withdrawn, so the federation profile requires it);
//! * it parses completely under the strict models (one parser; the typed metadata is built from
//!   the verified canonical bytes and nothing else), every entity ID is unique and every
//!   certificate decodes.
//!
//! Nested groups, entities and roles with their own `validUntil` in the past are left out (their
//! IDs are listed in [`TrustStore::expired`]). A store is immutable: a refresh builds a whole new
//! store with [`TrustStore::refresh_from`] and the service swaps it in; a failed refresh returns
//! the error and leaves the old store as it was (never half-updated). Keys are parsed once, into
//! [`TrustedKey`]s for verification and X.509 certificates for encryption.
//!
//! The store does not re-check its own expiry on each look-up (look-ups take no clock): the
//! service calls [`TrustStore::is_current`] (the Web SSO checks in [`crate::websso`] do) and must
//! refresh before `valid_until`.

use std::collections::HashMap;

use openssl::x509::X509;
use time::OffsetDateTime;

use crate::dsig::{verify_enveloped, DsigError, TrustedKey, VerifyPolicy};
use crate::ns::{DS, MD};
use crate::saml::{
    parse_xs_datetime, EntitiesDescriptor, EntitiesItem, EntityDescriptor, IdpSsoDescriptor,
    IndexedEndpoint, OtherElement, Role, SamlError, SamlXml, SpSsoDescriptor, SsoDescriptor,
};
use crate::xml::{parse_with, Element, ParseLimits, XmlError};

/// Largest metadata aggregate accepted by default (16 MiB).
pub const DEFAULT_MAX_METADATA_BYTES: usize = 16 * 1024 * 1024;

/// Why a metadata document was refused.
#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    #[error("no federation trust anchor is configured")]
    NoTrustAnchors,
    #[error("metadata is not well-formed or breaks a parser limit: {0}")]
    Xml(#[from] XmlError),
    #[error("the document element is {0}, not md:EntitiesDescriptor or md:EntityDescriptor")]
    NotMetadata(String),
    #[error("metadata is not signed")]
    Unsigned,
    #[error("metadata signature refused: {0}")]
    Signature(DsigError),
    #[error("metadata has no validUntil (the federation profile requires one)")]
    MissingValidUntil,
    #[error("metadata expired at {valid_until} (now {now})")]
    Expired {
        valid_until: OffsetDateTime,
        now: OffsetDateTime,
    },
    #[error("metadata does not follow the schema: {0}")]
    Saml(#[from] SamlError),
    #[error("entityID {0:?} appears more than once")]
    DuplicateEntity(String),
    #[error("entity {entity:?}: certificate cannot be used: {reason}")]
    BadKey { entity: String, reason: String },
    #[error("metadata lists no entity that is still valid")]
    Empty,
}

/// Options of the store.
#[derive(Clone, Debug)]
pub struct TrustOptions {
    /// Largest accepted document.
    pub max_bytes: usize,
    /// Most nodes of the parsed document (an aggregate of a few thousand entities).
    pub max_nodes: usize,
    /// Signature policy (SHA-1 stays off).
    pub policy: VerifyPolicy,
    /// Refuse a document whose `validUntil` lies further ahead than this (a long-lived document
    /// outlives key withdrawals). The profile's bound, 14 days, by default; `None` = no bound.
    pub max_validity: Option<time::Duration>,
}

impl Default for TrustOptions {
    fn default() -> Self {
        TrustOptions {
            max_bytes: DEFAULT_MAX_METADATA_BYTES,
            max_nodes: 4_000_000,
            policy: VerifyPolicy::default(),
            max_validity: Some(time::Duration::days(14)),
        }
    }
}

/// The keys of one role, parsed once.
#[derive(Clone, Debug, Default)]
pub struct RoleKeys {
    /// Keys usable for signing (`use="signing"` or no `use`), all of them (rollover).
    pub signing: Vec<TrustedKey>,
    /// Certificates usable for encryption (`use="encryption"` or no `use`).
    pub encryption: Vec<X509>,
}

/// A role descriptor of another kind than IdP or SP (a Discovery Service or WSP
/// `md:RoleDescriptor`, an attribute authority …), kept raw with its keys parsed.
#[derive(Clone, Debug)]
pub struct OtherRole {
    /// Local name of the element (`RoleDescriptor`, `AttributeAuthorityDescriptor` …).
    pub local: String,
    /// The `xsi:type` value as written (a QName), if any.
    pub xsi_type: Option<String>,
    /// Exclusive-canonical XML of the descriptor.
    pub xml: String,
    pub keys: RoleKeys,
}

/// One entity of the store.
#[derive(Clone, Debug)]
pub struct TrustedEntity {
    pub descriptor: EntityDescriptor,
    /// Effective expiry: the earliest `validUntil` of the entity and its enclosing groups.
    pub valid_until: OffsetDateTime,
    idp: Option<(IdpSsoDescriptor, RoleKeys)>,
    sp: Option<(SpSsoDescriptor, RoleKeys)>,
    others: Vec<OtherRole>,
    /// Signing keys of every role, without duplicates.
    all_signing: Vec<TrustedKey>,
}

impl TrustedEntity {
    pub fn entity_id(&self) -> &str {
        &self.descriptor.entity_id
    }

    /// The IdP role (SAML 2.0, not expired).
    pub fn idp(&self) -> Option<&IdpSsoDescriptor> {
        self.idp.as_ref().map(|(d, _)| d)
    }

    /// The SP role (SAML 2.0, not expired).
    pub fn sp(&self) -> Option<&SpSsoDescriptor> {
        self.sp.as_ref().map(|(d, _)| d)
    }

    pub fn idp_keys(&self) -> Option<&RoleKeys> {
        self.idp.as_ref().map(|(_, k)| k)
    }

    pub fn sp_keys(&self) -> Option<&RoleKeys> {
        self.sp.as_ref().map(|(_, k)| k)
    }

    /// Role descriptors of other kinds.
    pub fn other_roles(&self) -> &[OtherRole] {
        &self.others
    }

    /// Signing keys of any role of the entity.
    pub fn signing_keys(&self) -> &[TrustedKey] {
        &self.all_signing
    }
}

/// The verified federation metadata. Immutable; see the module documentation.
#[derive(Clone, Debug)]
pub struct TrustStore {
    anchors: Vec<TrustedKey>,
    options: TrustOptions,
    name: Option<String>,
    valid_until: OffsetDateTime,
    loaded_at: OffsetDateTime,
    anchor_index: usize,
    entities: HashMap<String, TrustedEntity>,
    expired: Vec<String>,
}

const NO_KEYS: &[TrustedKey] = &[];

impl TrustStore {
    /// Loads a signed aggregate (or a single signed `EntityDescriptor`) with default options.
    pub fn load(
        bytes: &[u8],
        anchors: Vec<TrustedKey>,
        now: OffsetDateTime,
    ) -> Result<Self, TrustError> {
        Self::load_with(bytes, anchors, now, TrustOptions::default())
    }

    /// Loads with explicit options.
    pub fn load_with(
        bytes: &[u8],
        anchors: Vec<TrustedKey>,
        now: OffsetDateTime,
        options: TrustOptions,
    ) -> Result<Self, TrustError> {
        if anchors.is_empty() {
            return Err(TrustError::NoTrustAnchors);
        }
        let limits = ParseLimits {
            max_bytes: options.max_bytes,
            max_nodes: options.max_nodes,
            ..ParseLimits::default()
        };
        let doc = parse_with(bytes, &limits)?;
        let root = doc.root();
        let is_group = root.is(MD, "EntitiesDescriptor");
        if !is_group && !root.is(MD, "EntityDescriptor") {
            return Err(TrustError::NotMetadata(format!(
                "{{{}}}{}",
                root.namespace().unwrap_or(""),
                root.local_name()
            )));
        }
        // The signature is mandatory, made by a federation anchor, over the document element.
        if root.first(DS, "Signature").is_none() {
            return Err(TrustError::Unsigned);
        }
        let verified =
            verify_enveloped(root, &anchors, &options.policy).map_err(TrustError::Signature)?;
        // From here on only the verified canonical bytes are read.
        let vdoc = parse_with(&verified.canonical, &limits)?;
        let vroot = vdoc.root();

        let mut store = TrustStore {
            anchors: Vec::new(),
            options: options.clone(),
            name: None,
            valid_until: now,
            loaded_at: now,
            anchor_index: verified.key_index,
            entities: HashMap::new(),
            expired: Vec::new(),
        };
        let valid_until = if is_group {
            let group = EntitiesDescriptor::from_element(vroot)?;
            let vu = check_root_validity(group.valid_until, now, &options)?;
            store.name = group.name.clone();
            store.add_group(group, vu, now)?;
            vu
        } else {
            let entity = EntityDescriptor::from_element(vroot)?;
            let vu = check_root_validity(entity.valid_until, now, &options)?;
            store.add_entity(entity, vu, now)?;
            vu
        };
        if store.entities.is_empty() {
            return Err(TrustError::Empty);
        }
        store.valid_until = valid_until;
        store.anchors = anchors;
        Ok(store)
    }

    /// Builds a new store from a fresh document with the same anchors and options. On error the
    /// caller keeps using `self`, which this never changes.
    pub fn refresh_from(
        &self,
        bytes: &[u8],
        now: OffsetDateTime,
    ) -> Result<TrustStore, TrustError> {
        Self::load_with(bytes, self.anchors.clone(), now, self.options.clone())
    }

    fn add_group(
        &mut self,
        group: EntitiesDescriptor,
        valid_until: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<(), TrustError> {
        for item in group.items {
            match item {
                EntitiesItem::Entity(e) => self.add_entity(e, valid_until, now)?,
                EntitiesItem::Group(g) => {
                    let vu = earliest(valid_until, g.valid_until);
                    if vu <= now {
                        let label = g.name.clone().or(g.id.clone()).unwrap_or_default();
                        self.expired.push(format!("group {label}"));
                        continue;
                    }
                    self.add_group(g, vu, now)?;
                }
            }
        }
        Ok(())
    }

    fn add_entity(
        &mut self,
        descriptor: EntityDescriptor,
        parent_valid_until: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<(), TrustError> {
        let id = descriptor.entity_id.clone();
        // Uniqueness is checked over every entity, expired ones included: two descriptors for
        // one entityID make "which keys?" ambiguous, and the relay never publishes that.
        if self.entities.contains_key(&id) || self.expired.contains(&id) {
            return Err(TrustError::DuplicateEntity(id));
        }
        let valid_until = earliest(parent_valid_until, descriptor.valid_until);
        if valid_until <= now {
            self.expired.push(id);
            return Ok(());
        }
        let bad = |reason: String| TrustError::BadKey {
            entity: id.clone(),
            reason,
        };
        let mut idp = None;
        let mut sp = None;
        let mut others = Vec::new();
        for role in &descriptor.roles {
            match role {
                Role::Idp(d) if idp.is_none() && d.sso.supports_saml2() && live(&d.sso, now) => {
                    idp = Some((d.clone(), sso_keys(&d.sso).map_err(bad)?));
                }
                Role::Sp(d) if sp.is_none() && d.sso.supports_saml2() && live(&d.sso, now) => {
                    sp = Some((d.clone(), sso_keys(&d.sso).map_err(bad)?));
                }
                Role::Idp(_) | Role::Sp(_) => {}
                Role::Other(o) => {
                    if let Some(role) = other_role(o, now).map_err(bad)? {
                        others.push(role);
                    }
                }
            }
        }
        let mut all_signing: Vec<TrustedKey> = Vec::new();
        let role_keys = idp
            .iter()
            .map(|(_, k)| k)
            .chain(sp.iter().map(|(_, k)| k))
            .chain(others.iter().map(|o| &o.keys));
        for keys in role_keys {
            for k in &keys.signing {
                let der = k.public_key().public_key_to_der().unwrap_or_default();
                let seen = all_signing
                    .iter()
                    .any(|s| s.public_key().public_key_to_der().unwrap_or_default() == der);
                if !seen {
                    all_signing.push(k.clone());
                }
            }
        }
        self.entities.insert(
            id,
            TrustedEntity {
                descriptor,
                valid_until,
                idp,
                sp,
                others,
                all_signing,
            },
        );
        Ok(())
    }

    /// When the document stops being usable.
    pub fn valid_until(&self) -> OffsetDateTime {
        self.valid_until
    }

    /// When the store was built (the `now` given to it).
    pub fn loaded_at(&self) -> OffsetDateTime {
        self.loaded_at
    }

    /// Whether the metadata may still be used at `now`.
    pub fn is_current(&self, now: OffsetDateTime) -> bool {
        now < self.valid_until
    }

    /// The `Name` of the aggregate, if any.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// Which of the configured anchors verified the document.
    pub fn anchor_index(&self) -> usize {
        self.anchor_index
    }

    /// Number of usable entities.
    pub fn len(&self) -> usize {
        self.entities.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entities.is_empty()
    }

    /// Entity IDs, sorted.
    pub fn entity_ids(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self.entities.keys().map(String::as_str).collect();
        v.sort_unstable();
        v
    }

    /// Groups and entities left out because their own `validUntil` had passed.
    pub fn expired(&self) -> &[String] {
        &self.expired
    }

    /// The entity with this entity ID (exact string comparison).
    pub fn entity(&self, entity_id: &str) -> Option<&TrustedEntity> {
        self.entities.get(entity_id)
    }

    /// The IdP role of an entity.
    pub fn idp(&self, entity_id: &str) -> Option<&IdpSsoDescriptor> {
        self.entity(entity_id)?.idp()
    }

    /// The SP role of an entity.
    pub fn sp(&self, entity_id: &str) -> Option<&SpSsoDescriptor> {
        self.entity(entity_id)?.sp()
    }

    /// Keys that may sign for the entity as an IdP (empty when unknown: every verification with
    /// an empty key list fails).
    pub fn idp_signing_keys(&self, entity_id: &str) -> &[TrustedKey] {
        self.entity(entity_id)
            .and_then(TrustedEntity::idp_keys)
            .map_or(NO_KEYS, |k| &k.signing)
    }

    /// Keys that may sign for the entity as an SP.
    pub fn sp_signing_keys(&self, entity_id: &str) -> &[TrustedKey] {
        self.entity(entity_id)
            .and_then(TrustedEntity::sp_keys)
            .map_or(NO_KEYS, |k| &k.signing)
    }

    /// Keys that may sign for the entity in any role (Discovery Service, WSP …).
    pub fn signing_keys(&self, entity_id: &str) -> &[TrustedKey] {
        self.entity(entity_id)
            .map_or(NO_KEYS, TrustedEntity::signing_keys)
    }

    /// Certificates to encrypt to the entity as an SP (assertions for the portal).
    pub fn sp_encryption_certificates(&self, entity_id: &str) -> &[X509] {
        self.entity(entity_id)
            .and_then(TrustedEntity::sp_keys)
            .map_or(&[], |k| &k.encryption)
    }

    /// Certificates to encrypt to the entity as an IdP.
    pub fn idp_encryption_certificates(&self, entity_id: &str) -> &[X509] {
        self.entity(entity_id)
            .and_then(TrustedEntity::idp_keys)
            .map_or(&[], |k| &k.encryption)
    }

    /// Certificates to encrypt to the entity in any role (tokens for a WSP or the DS), in role
    /// order, without duplicates.
    pub fn encryption_certificates(&self, entity_id: &str) -> Vec<&X509> {
        let Some(e) = self.entity(entity_id) else {
            return Vec::new();
        };
        let mut out: Vec<&X509> = Vec::new();
        let all = e
            .idp_keys()
            .into_iter()
            .chain(e.sp_keys())
            .chain(e.others.iter().map(|o| &o.keys))
            .flat_map(|k| k.encryption.iter());
        for c in all {
            let der = c.to_der().unwrap_or_default();
            if !out.iter().any(|o| o.to_der().unwrap_or_default() == der) {
                out.push(c);
            }
        }
        out
    }

    /// The assertion consumer services of an SP.
    pub fn acs_endpoints(&self, entity_id: &str) -> &[IndexedEndpoint] {
        self.sp(entity_id)
            .map_or(&[], |d| &d.assertion_consumer_services)
    }

    /// Whether the SP declares `AuthnRequestsSigned="true"`.
    pub fn sp_authn_requests_signed(&self, entity_id: &str) -> bool {
        self.sp(entity_id)
            .and_then(|d| d.authn_requests_signed)
            .unwrap_or(false)
    }

    /// Whether the SP declares `WantAssertionsSigned="true"`.
    pub fn sp_want_assertions_signed(&self, entity_id: &str) -> bool {
        self.sp(entity_id)
            .and_then(|d| d.want_assertions_signed)
            .unwrap_or(false)
    }

    /// Whether the IdP declares `WantAuthnRequestsSigned="true"`.
    pub fn idp_want_authn_requests_signed(&self, entity_id: &str) -> bool {
        self.idp(entity_id)
            .and_then(|d| d.want_authn_requests_signed)
            .unwrap_or(false)
    }

    /// Role descriptors of other kinds of an entity.
    pub fn other_roles(&self, entity_id: &str) -> &[OtherRole] {
        self.entity(entity_id)
            .map_or(&[], TrustedEntity::other_roles)
    }
}

fn earliest(a: OffsetDateTime, b: Option<OffsetDateTime>) -> OffsetDateTime {
    match b {
        Some(b) if b < a => b,
        _ => a,
    }
}

fn check_root_validity(
    valid_until: Option<OffsetDateTime>,
    now: OffsetDateTime,
    options: &TrustOptions,
) -> Result<OffsetDateTime, TrustError> {
    let vu = valid_until.ok_or(TrustError::MissingValidUntil)?;
    if vu <= now {
        return Err(TrustError::Expired {
            valid_until: vu,
            now,
        });
    }
    if let Some(max) = options.max_validity {
        if vu - now > max {
            return Err(TrustError::Saml(SamlError::Invalid {
                element: "md:EntitiesDescriptor".into(),
                reason: "validUntil lies further ahead than the configured maximum",
            }));
        }
    }
    Ok(vu)
}

fn live(sso: &SsoDescriptor, now: OffsetDateTime) -> bool {
    sso.valid_until.is_none_or(|vu| vu > now)
}

fn sso_keys(sso: &SsoDescriptor) -> Result<RoleKeys, String> {
    let signing = sso
        .signing_certificates()
        .into_iter()
        .map(|der| TrustedKey::from_certificate_der(der).map_err(|e| e.to_string()))
        .collect::<Result<_, _>>()?;
    let encryption = sso
        .encryption_certificates()
        .into_iter()
        .map(|der| X509::from_der(der).map_err(|e| e.to_string()))
        .collect::<Result<_, _>>()?;
    Ok(RoleKeys {
        signing,
        encryption,
    })
}

/// Reads the keys of a role descriptor kept raw. `None` when the role itself has expired.
fn other_role(o: &OtherElement, now: OffsetDateTime) -> Result<Option<OtherRole>, String> {
    let doc = crate::xml::parse_with(
        o.xml.as_bytes(),
        &ParseLimits {
            max_bytes: DEFAULT_MAX_METADATA_BYTES,
            ..ParseLimits::default()
        },
    )
    .map_err(|e| e.to_string())?;
    let root = doc.root();
    if let Some(vu) = root.attr("validUntil") {
        let vu = parse_xs_datetime(vu).ok_or_else(|| format!("bad validUntil {vu:?}"))?;
        if vu <= now {
            return Ok(None);
        }
    }
    let mut keys = RoleKeys::default();
    for kd in root.elements_named(MD, "KeyDescriptor") {
        let (signing, encryption) = match kd.attr("use") {
            None => (true, true),
            Some("signing") => (true, false),
            Some("encryption") => (false, true),
            Some(other) => return Err(format!("KeyDescriptor use {other:?}")),
        };
        for der in key_descriptor_certificates(kd)? {
            if signing {
                keys.signing
                    .push(TrustedKey::from_certificate_der(&der).map_err(|e| e.to_string())?);
            }
            if encryption {
                keys.encryption
                    .push(X509::from_der(&der).map_err(|e| e.to_string())?);
            }
        }
    }
    Ok(Some(OtherRole {
        local: o.local.clone(),
        xsi_type: root
            .attr_ns(crate::ns::XSI, "type")
            .map(|t| t.trim().to_string()),
        xml: o.xml.clone(),
        keys,
    }))
}

fn key_descriptor_certificates(kd: Element<'_>) -> Result<Vec<Vec<u8>>, String> {
    use base64::Engine;
    let mut out = Vec::new();
    for ki in kd.elements_named(DS, "KeyInfo") {
        for data in ki.elements_named(DS, "X509Data") {
            for cert in data.elements_named(DS, "X509Certificate") {
                let text = cert.text().map_err(|e| e.to_string())?;
                let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
                out.push(
                    base64::engine::general_purpose::STANDARD
                        .decode(compact)
                        .map_err(|_| "X509Certificate is not base64".to_string())?,
                );
            }
        }
    }
    Ok(out)
}
