//! The relay's data as Rust types (rows of `migrations/`, with enumerations parsed).

use std::fmt;

use crate::crypto::hex;
use crate::error::InvalidValue;
use crate::sensitive::{fingerprint, HouseholdNumber, PersonId, Pseudonym, ResidentNumber};

/// Declares a string-backed enum stored as TEXT (the CHECK constraints of the migration list the
/// same strings).
macro_rules! text_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($(#[$vmeta])* $variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            pub fn parse(text: &str) -> Option<$name> {
                match text { $($text => Some($name::$variant),)+ _ => None }
            }

            pub(crate) fn from_db(text: &str) -> Result<$name, crate::StoreError> {
                $name::parse(text).ok_or_else(|| crate::StoreError::Corrupt(
                    format!(concat!("unknown ", stringify!($name), " {:?}"), text)))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

text_enum!(
    /// Life cycle of a person record.
    PersonStatus {
        Active = "active",
        /// Temporarily not to be authenticated (e.g. under investigation).
        Suspended = "suspended",
        /// Left the municipality's register (moved out, deceased): kept for the access records.
        Closed = "closed",
    }
);

text_enum!(
    /// Which JPKI certificate of a card.
    CertKind {
        /// 利用者証明用電子証明書 (user authentication).
        Auth = "auth",
        /// 署名用電子証明書 (digital signature).
        Sign = "sign",
    }
);

text_enum!(
    /// Registration state of a provider.
    ProviderStatus {
        /// Registered, waiting for the operator.
        Pending = "pending",
        /// Discoverable and in the federation metadata.
        Approved = "approved",
        /// Withdrawn by the operator: not discoverable, no tokens, no imports.
        Suspended = "suspended",
    }
);

text_enum!(
    /// Which key of DESIGN.md §4 a provider's local key is.
    LocalKeyScheme {
        /// 被用者保険: insurer symbol/number and card number.
        EmployeeHealthInsurance = "employee-health-insurance",
        /// 国民健康保険: NHI card number.
        NationalHealthInsurance = "national-health-insurance",
        /// 公費: public-expense category and recipient number.
        PublicExpense = "public-expense",
        /// 基礎年金番号.
        BasicPension = "basic-pension",
        /// Anything else (city services).
        Other = "other",
    }
);

/// A person (routing facts only: no name, address or birth date).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub id: PersonId,
    pub resident_number: ResidentNumber,
    pub household_number: Option<HouseholdNumber>,
    pub status: PersonStatus,
    /// Management version: +1 on every change of the row.
    pub version: i64,
    pub valid_from: i64,
    pub valid_to: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// What creating a person needs.
#[derive(Debug, Clone)]
pub struct NewPerson {
    pub resident_number: ResidentNumber,
    pub household_number: Option<HouseholdNumber>,
    /// Start of validity (unix seconds); `None`: now.
    pub valid_from: Option<i64>,
}

/// A certificate's identity: the issuing CA's key identifier and the serial number, the latter
/// normalized to the positive integer's minimal big-endian bytes (a DER sign byte or other
/// leading zeros are dropped), so that every source of a serial gives the same key.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CertKey {
    pub ca_key_id: Vec<u8>,
    pub serial: Vec<u8>,
}

impl fmt::Debug for CertKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The CA key identifier is public; a serial points at one resident's card.
        let ca = hex(&self.ca_key_id);
        let short = ca.get(..8).unwrap_or(&ca);
        write!(
            f,
            "cert(ca={short}…, serial#{})",
            fingerprint("serial", &self.serial)
        )
    }
}

impl fmt::Display for CertKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// Drops leading zero bytes of a big-endian serial (keeping one byte for zero).
pub fn normalize_serial(serial: &[u8]) -> Vec<u8> {
    let first = serial
        .iter()
        .position(|b| *b != 0)
        .unwrap_or(serial.len().saturating_sub(1));
    serial[first.min(serial.len())..].to_vec()
}

impl CertKey {
    pub fn new(ca_key_id: &[u8], serial: &[u8]) -> Result<CertKey, InvalidValue> {
        if ca_key_id.is_empty() || ca_key_id.len() > 64 {
            return Err(InvalidValue::new(
                "CA key identifier",
                "expected 1–64 bytes",
            ));
        }
        let serial = normalize_serial(serial);
        if serial.is_empty() || serial.len() > 20 {
            return Err(InvalidValue::new(
                "serial",
                "expected 1–20 bytes (RFC 5280 §4.1.2.2)",
            ));
        }
        Ok(CertKey {
            ca_key_id: ca_key_id.to_vec(),
            serial,
        })
    }

    /// From hex strings as in the enrollment files (`:` separators allowed).
    pub fn from_hex(ca_key_id: &str, serial: &str) -> Result<CertKey, InvalidValue> {
        let ca = crate::crypto::unhex(ca_key_id.trim())
            .ok_or_else(|| InvalidValue::new("CA key identifier", "not hex"))?;
        let serial = crate::crypto::unhex(serial.trim())
            .ok_or_else(|| InvalidValue::new("serial", "not hex"))?;
        CertKey::new(&ca, &serial)
    }

    /// Key of an X.509 certificate: its authority key identifier (keyid) and serial.
    pub fn of_x509(cert: &openssl::x509::X509Ref) -> Result<CertKey, InvalidValue> {
        let aki = cert
            .authority_key_id()
            .ok_or_else(|| InvalidValue::new("certificate", "no authority key identifier"))?;
        let serial = cert
            .serial_number()
            .to_bn()
            .map_err(|_| InvalidValue::new("serial", "unreadable"))?;
        if serial.is_negative() {
            return Err(InvalidValue::new("serial", "negative"));
        }
        CertKey::new(aki.as_slice(), &serial.to_vec())
    }

    pub fn serial_hex(&self) -> String {
        hex(&self.serial)
    }

    pub fn ca_key_id_hex(&self) -> String {
        hex(&self.ca_key_id)
    }
}

/// Status of a certificate as the relay knows it (the IdP still checks validity dates, chain and
/// its own revocation sources).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertStatus {
    Active,
    /// On a CRL. `reason` is the RFC 5280 CRLReason name (`keyCompromise`, `superseded`…).
    Revoked {
        reason: String,
        at: i64,
    },
    /// Replaced through the renewal feed by `by`.
    Superseded {
        at: i64,
        by: Option<CertKey>,
    },
}

impl CertStatus {
    pub fn is_active(&self) -> bool {
        matches!(self, CertStatus::Active)
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            CertStatus::Active => "active",
            CertStatus::Revoked { .. } => "revoked",
            CertStatus::Superseded { .. } => "superseded",
        }
    }
}

/// A certificate row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certificate {
    pub key: CertKey,
    pub person: PersonId,
    pub kind: CertKind,
    pub subject_dn: String,
    pub not_before: i64,
    pub not_after: i64,
    pub status: CertStatus,
    /// Successor from the renewal feed (also kept when the old certificate is later revoked).
    pub superseded_by: Option<CertKey>,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

/// What the IdP needs to know about a certificate in one read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertLookup {
    pub person: PersonId,
    pub person_status: PersonStatus,
    pub kind: CertKind,
    pub status: CertStatus,
    pub not_before: i64,
    pub not_after: i64,
}

impl CertLookup {
    /// The certificate may authenticate its person at `now`: active, person active, within the
    /// validity the relay recorded.
    pub fn usable_at(&self, now: i64) -> bool {
        self.status.is_active()
            && self.person_status == PersonStatus::Active
            && self.not_before <= now
            && now < self.not_after
    }
}

/// A certificate to add.
#[derive(Debug, Clone)]
pub struct NewCertificate {
    pub key: CertKey,
    pub person: PersonId,
    pub kind: CertKind,
    pub subject_dn: String,
    pub not_before: i64,
    pub not_after: i64,
}

/// A provider's internal ID (random; not secret).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProviderId(pub(crate) String);

impl ProviderId {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn parse(text: &str) -> Result<ProviderId, InvalidValue> {
        if text.len() == 32
            && text
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        {
            Ok(ProviderId(text.to_string()))
        } else {
            Err(InvalidValue::new(
                "provider ID",
                "expected 32 lower-case hex characters",
            ))
        }
    }
}

impl fmt::Display for ProviderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A data provider (WSP) of an agency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provider {
    pub id: ProviderId,
    pub entity_id: String,
    pub name_ja: String,
    pub name_en: String,
    pub status: ProviderStatus,
    /// Run as in the 2010 pilot: the relay keeps its local keys (encrypted).
    pub pilot_mode: bool,
    pub local_key_scheme: LocalKeyScheme,
    /// The SAML metadata the agency registered with (keys, endpoints), verbatim.
    pub metadata_xml: Option<String>,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub status_changed_at: i64,
}

/// A provider to register (it starts `pending`).
#[derive(Debug, Clone)]
pub struct NewProvider {
    pub entity_id: String,
    pub name_ja: String,
    pub name_en: String,
    pub pilot_mode: bool,
    pub local_key_scheme: LocalKeyScheme,
    pub metadata_xml: Option<String>,
}

/// One service of a provider (one `disco:SvcMD`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderService {
    pub svc_md_id: String,
    pub provider: ProviderId,
    pub service_type: String,
    pub endpoint: String,
    /// SecurityMechID URNs in the provider's order of preference.
    pub security_mechs: Vec<String>,
    pub abstract_text: Option<String>,
    /// The registered `SvcMD` element as received.
    pub svc_md_xml: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A service to add to a provider.
#[derive(Debug, Clone)]
pub struct NewService {
    pub service_type: String,
    pub endpoint: String,
    pub security_mechs: Vec<String>,
    pub abstract_text: Option<String>,
    pub svc_md_xml: Option<String>,
}

/// The link of a person to a provider (without the local key: see `Store::local_key`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderLink {
    pub person: PersonId,
    pub provider: ProviderId,
    pub pseudonym: Pseudonym,
    /// The provider's local key is known (as a MAC) for this link.
    pub has_local_key: bool,
    /// The local key itself is held, encrypted (pilot-mode providers only).
    pub local_key_stored: bool,
    pub version: i64,
    pub valid_from: i64,
    pub valid_to: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}
