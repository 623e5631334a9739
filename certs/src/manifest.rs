//! `manifest.json`: everything another crate needs to use the generated PKI.
//!
//! On disk every path is relative to the folder holding the manifest (so the folder can be
//! inspected and diffed); [`crate::Pki::load`] turns them into absolute paths in memory.
//! Serial numbers and key identifiers are lower-case hex without separators; a serial is the
//! positive integer's minimal big-endian bytes (no DER sign byte), which is how the relay stores
//! it next to the CA key identifier.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// Bumped whenever the layout changes; a manifest of another version is regenerated.
pub const MANIFEST_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub version: u32,
    #[serde(with = "time::serde::rfc3339")]
    pub generated_at: OffsetDateTime,
    /// Number of residents generated (the renewed resident has two cards, so there are more
    /// cards than residents; the forged card is not a resident).
    pub residents: usize,
    pub softhsm: SoftHsm,
    /// JPKI-shaped CAs: two generations per purpose plus one rogue root per purpose.
    pub cas: Vec<Ca>,
    /// Virtual cards (one per issued certificate pair), in card-number order.
    pub cards: Vec<Card>,
    /// SAML / ID-WSF entities with their metadata keys.
    pub federation: Vec<Entity>,
    pub tls: Tls,
}

/// Where the virtual cards live.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SoftHsm {
    /// PKCS#11 module (absolute): `/usr/lib/softhsm/libsofthsm2.so`.
    pub module: PathBuf,
    /// Value for `SOFTHSM2_CONF`.
    pub conf: PathBuf,
    pub token_dir: PathBuf,
    /// Security-officer PIN of every token (test value).
    pub so_pin: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    /// 署名用電子証明書 (digital signature).
    Signature,
    /// 利用者証明用電子証明書 (user authentication).
    UserAuthentication,
}

impl Purpose {
    pub fn short(self) -> &'static str {
        match self {
            Purpose::Signature => "sign",
            Purpose::UserAuthentication => "auth",
        }
    }
}

/// A JPKI-shaped self-signed root and its CRL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ca {
    /// `sign-gen1`, `sign-gen2`, `auth-gen1`, `auth-gen2`, `sign-rogue`, `auth-rogue`.
    pub name: String,
    pub purpose: Purpose,
    /// 1 or 2; `None` for the rogue root.
    pub generation: Option<u8>,
    /// A root nobody trusts, with the same DN as the real ones **and the same subject key
    /// identifier as generation 1** (an attacker can copy both), but its own key: only a
    /// signature check tells it apart.
    pub rogue: bool,
    /// One-line DN (OpenSSL oneline style, for humans).
    pub subject: String,
    /// Subject key identifier (hex) — what resident certificates' AKI points at.
    pub key_id: String,
    #[serde(with = "time::serde::rfc3339")]
    pub not_before: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub not_after: OffsetDateTime,
    pub cert_pem: PathBuf,
    pub cert_der: PathBuf,
    pub key_pem: PathBuf,
    pub crl: Crl,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Crl {
    pub der: PathBuf,
    pub pem: PathBuf,
    pub number: u64,
    #[serde(with = "time::serde::rfc3339")]
    pub this_update: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub next_update: OffsetDateTime,
    /// Exactly the entries of the CRL, in serial order.
    pub entries: Vec<CrlEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrlEntry {
    /// Serial (hex).
    pub serial: String,
    pub reason: RevocationReason,
    #[serde(with = "time::serde::rfc3339")]
    pub revoked_at: OffsetDateTime,
}

/// CRL reasons used by JPKI (CPS §4.9.9) that the test PKI exercises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RevocationReason {
    /// Card lost or stolen.
    KeyCompromise,
    /// Recorded data (name, address, birth date, sex) changed: 異動.
    AffiliationChanged,
    /// Renewed or reissued.
    Superseded,
}

impl RevocationReason {
    /// CRLReason code (RFC 5280 §5.3.1).
    pub fn code(self) -> u8 {
        match self {
            RevocationReason::KeyCompromise => 1,
            RevocationReason::AffiliationChanged => 3,
            RevocationReason::Superseded => 4,
        }
    }

    pub fn from_code(code: u8) -> Option<Self> {
        match code {
            1 => Some(RevocationReason::KeyCompromise),
            3 => Some(RevocationReason::AffiliationChanged),
            4 => Some(RevocationReason::Superseded),
            _ => None,
        }
    }
}

/// What a card is for in tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CardCase {
    /// Both certificates valid and unrevoked.
    Valid,
    /// Both certificates past notAfter (not on the CRL, as JPKI drops expired entries).
    Expired,
    /// Both certificates' notBefore a year ahead.
    NotYetValid,
    /// Card lost: both certificates revoked, reason keyCompromise.
    KeyCompromise,
    /// The resident moved: the signature certificate is revoked with reason affiliationChanged,
    /// the user-authentication certificate stays valid (JPKI does not revoke it on a move).
    AffiliationChanged,
    /// The old card of a renewed resident: both certificates revoked, reason superseded.
    Superseded,
    /// The new card of that resident (new keys, serials and CNs; valid).
    Renewed,
    /// Issued by the rogue root, copying a real resident's subject and serial: must be rejected.
    Forged,
}

impl CardCase {
    pub fn as_str(self) -> &'static str {
        match self {
            CardCase::Valid => "valid",
            CardCase::Expired => "expired",
            CardCase::NotYetValid => "not_yet_valid",
            CardCase::KeyCompromise => "key_compromise",
            CardCase::AffiliationChanged => "affiliation_changed",
            CardCase::Superseded => "superseded",
            CardCase::Renewed => "renewed",
            CardCase::Forged => "forged",
        }
    }
}

/// The four JPKI personal attributes (基本4情報) as written in the signature certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resident {
    /// Stable test identifier (`R0001`…): the same person across renewal.
    pub id: String,
    /// Name as in the certificate: family and given name separated by U+3000 (OID …8.5.5.1).
    pub name: String,
    /// Same name with an ASCII space, for display.
    pub display_name: String,
    /// Reading in katakana (not in the certificate; for record services).
    pub name_kana: String,
    /// 1 male, 2 female, 3 unknown (OID …8.5.5.3).
    pub sex: u8,
    /// Gregorian birth date `YYYY-MM-DD`.
    pub birth_date: String,
    /// JPKI form `EYYYYMMDD`, E = era digit (OID …8.5.5.4).
    pub birth_date_jpki: String,
    /// Address from the prefecture onward (OID …8.5.5.5).
    pub address: String,
    /// `L=` values of the signature certificate subject.
    pub prefecture_romaji: String,
    pub municipality_romaji: String,
}

/// One PKCS#11 token of a virtual card (OpenSC shows one slot per PIN).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Token {
    /// `JPKI-AUTH <card>` / `JPKI-SIGN <card>` (≤ 32 chars, unique).
    pub label: String,
    /// Token serial number as reported by C_GetTokenInfo (slot IDs are not stable; find the
    /// slot by label or serial).
    pub serial: String,
    /// User PIN: 4 digits for the authentication token, 6–16 upper-case letters and digits for
    /// the signature token.
    pub pin: String,
}

/// A resident certificate and where its parts are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardCert {
    pub purpose: Purpose,
    /// Serial (hex, 3 or 4 bytes, positive).
    pub serial: String,
    /// Issuing CA name (see [`Ca::name`]).
    pub ca: String,
    /// Issuing CA key identifier (hex) = this certificate's AKI keyid.
    pub ca_key_id: String,
    /// One-line subject DN.
    pub subject: String,
    #[serde(with = "time::serde::rfc3339")]
    pub not_before: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub not_after: OffsetDateTime,
    pub revocation: Option<Revocation>,
    /// CKA_ID of the certificate, private key and public key on the token (hex): `01` for
    /// user authentication, `02` for signature (as OpenSC's pkcs15-jpki).
    pub pkcs11_id: String,
    pub cert_pem: PathBuf,
    pub cert_der: PathBuf,
    /// The private key also exists outside the token, for tests that do not go through PKCS#11.
    pub key_pem: PathBuf,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revocation {
    pub reason: RevocationReason,
    #[serde(with = "time::serde::rfc3339")]
    pub revoked_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Card {
    /// Card number (`0001`…; the forged card is `9001`).
    pub card_number: String,
    pub case: CardCase,
    pub resident: Resident,
    pub auth_token: Token,
    pub sign_token: Token,
    pub auth_cert: CardCert,
    pub sign_cert: CardCert,
    /// For a renewed card: the card number it replaced; for a superseded one: its successor.
    pub replaces: Option<String>,
    pub replaced_by: Option<String>,
    /// Human note on what the card is for.
    pub note: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyUse {
    Signing,
    Encryption,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyAlgorithm {
    Rsa2048,
    EcP256,
}

/// A federation party (SAML metadata style self-signed certificates).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entity {
    /// Short name: `idp`, `relay`, `portal`, `clinic`, `pension`, `kenpo`, `kokuho`, `health`,
    /// `kouhi`.
    pub name: String,
    pub entity_id: String,
    pub host: String,
    pub role: String,
    pub keys: Vec<EntityKey>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntityKey {
    pub usage: KeyUse,
    /// 1 = current, 2 = next (for rollover tests).
    pub generation: u8,
    pub algorithm: KeyAlgorithm,
    pub subject: String,
    /// Serial (hex).
    pub serial: String,
    /// SHA-256 of the certificate DER (hex).
    pub sha256_fingerprint: String,
    #[serde(with = "time::serde::rfc3339")]
    pub not_before: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub not_after: OffsetDateTime,
    pub key_pem: PathBuf,
    pub cert_pem: PathBuf,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TlsCert {
    pub subject: String,
    pub serial: String,
    #[serde(with = "time::serde::rfc3339")]
    pub not_before: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub not_after: OffsetDateTime,
    pub cert_pem: PathBuf,
    pub key_pem: PathBuf,
}

/// Test TLS: one CA, one server certificate for every host, one clinic client certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tls {
    pub ca: TlsCert,
    /// SAN: IP:127.0.0.1, DNS:localhost and every `*.nabari.test` host of the federation.
    pub server: TlsCert,
    /// Server certificate followed by the CA certificate.
    pub server_chain_pem: PathBuf,
    pub server_names: Vec<String>,
    /// Clinic reception terminal (EKU clientAuth).
    pub client: TlsCert,
    pub client_p12: PathBuf,
    pub client_p12_password: String,
}

impl Manifest {
    /// Calls `f` on every path of the manifest.
    pub fn for_each_path(&self, f: &mut dyn FnMut(&Path)) {
        let mut clone = self.clone();
        clone.for_each_path_mut(&mut |p| f(p));
    }

    /// Calls `f` on every path of the manifest, mutably (used to make them absolute/relative).
    pub fn for_each_path_mut(&mut self, f: &mut dyn FnMut(&mut PathBuf)) {
        f(&mut self.softhsm.module);
        f(&mut self.softhsm.conf);
        f(&mut self.softhsm.token_dir);
        for ca in &mut self.cas {
            f(&mut ca.cert_pem);
            f(&mut ca.cert_der);
            f(&mut ca.key_pem);
            f(&mut ca.crl.der);
            f(&mut ca.crl.pem);
        }
        for card in &mut self.cards {
            for cert in [&mut card.auth_cert, &mut card.sign_cert] {
                f(&mut cert.cert_pem);
                f(&mut cert.cert_der);
                f(&mut cert.key_pem);
            }
        }
        for entity in &mut self.federation {
            for key in &mut entity.keys {
                f(&mut key.key_pem);
                f(&mut key.cert_pem);
            }
        }
        for cert in [&mut self.tls.ca, &mut self.tls.server, &mut self.tls.client] {
            f(&mut cert.cert_pem);
            f(&mut cert.key_pem);
        }
        f(&mut self.tls.server_chain_pem);
        f(&mut self.tls.client_p12);
    }

    /// CA by name (`auth-gen1`…).
    pub fn ca(&self, name: &str) -> Option<&Ca> {
        self.cas.iter().find(|c| c.name == name)
    }

    /// CA by subject key identifier (hex, case-insensitive). The rogue root shares generation
    /// 1's key identifier, so this only searches the trusted (non-rogue) CAs.
    pub fn ca_by_key_id(&self, key_id_hex: &str) -> Option<&Ca> {
        self.cas
            .iter()
            .find(|c| !c.rogue && c.key_id.eq_ignore_ascii_case(key_id_hex))
    }

    /// The trusted roots of one purpose (both generations, never the rogue one).
    pub fn trusted_roots(&self, purpose: Purpose) -> Vec<&Ca> {
        self.cas
            .iter()
            .filter(|c| c.purpose == purpose && !c.rogue)
            .collect()
    }

    /// The rogue root of one purpose.
    pub fn rogue_root(&self, purpose: Purpose) -> Option<&Ca> {
        self.cas.iter().find(|c| c.purpose == purpose && c.rogue)
    }

    pub fn card(&self, card_number: &str) -> Option<&Card> {
        self.cards.iter().find(|c| c.card_number == card_number)
    }

    /// All cards of one case, in card-number order.
    pub fn cards_with_case(&self, case: CardCase) -> Vec<&Card> {
        self.cards.iter().filter(|c| c.case == case).collect()
    }

    pub fn entity(&self, name: &str) -> Option<&Entity> {
        self.federation.iter().find(|e| e.name == name)
    }
}

impl Entity {
    /// The RSA key of `usage` and `generation`.
    pub fn key(&self, usage: KeyUse, generation: u8) -> Option<&EntityKey> {
        self.keys.iter().find(|k| {
            k.usage == usage && k.generation == generation && k.algorithm == KeyAlgorithm::Rsa2048
        })
    }

    /// The ECDSA P-256 signing key (relay only).
    pub fn ec_signing_key(&self) -> Option<&EntityKey> {
        self.keys
            .iter()
            .find(|k| k.usage == KeyUse::Signing && k.algorithm == KeyAlgorithm::EcP256)
    }
}
