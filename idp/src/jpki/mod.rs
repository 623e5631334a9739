//! JPKI authentication core of the IdP (flows A and B of `shared/DESIGN.md`): the resident's card
//! signs the IdP's **access application text** (申請文) through the local card agent
//! ([`crate::agent`]), and the IdP checks the signature, the certificate and the text.
//!
//! No HTTP here: the IdP's web layer calls this library.
//!
//! | file | what |
//! |---|---|
//! | [`challenge`] | [`ChallengeIssuer`]: the access application text (requesting service, purpose, date/time in JST, a 128-bit nonce, the login kind, an HMAC-SHA256 so the IdP keeps no state to recognise its own text); [`ChallengeStore`] for single use, [`MemoryChallengeStore`] |
//! | [`trust`] | [`TrustAnchors`]: the JPKI roots per purpose (several generations sharing one DN), indexed by key identifier; [`AcceptedPolicies`] |
//! | [`crl`] | [`CrlCache`]: CRLs per CA key identifier from files, folders and `http://` URLs, each verified with its CA before use, refreshed by [`CrlCache::refresh`], never downgraded |
//! | [`verify`] | [`JpkiVerifier`]: [`JpkiVerifier::verify`] (PIN login: auth or signature key) and [`JpkiVerifier::verify_pinless`] (clinic reception, staff-attested) → [`VerifiedCard`] or a typed [`JpkiError`] |
//! | [`attributes`] | the four attributes (基本4情報) of a signature certificate's subjectAltName |
//!
//! ## The order of the checks in [`JpkiVerifier::verify`]
//!
//! 1. **Challenge, cheap part** (no state touched): the text has the IdP's format, its HMAC
//!    verifies with the server secret ([`JpkiError::ChallengeForged`]), it has not expired
//!    ([`JpkiError::ChallengeExpired`]) and its kind asks for a card signature.
//! 2. **Certificate**: parsed with x509-parser (fields) and OpenSSL (crypto), both over the same
//!    bytes; the root is chosen by the certificate's authorityKeyIdentifier among the configured
//!    roots — never by name, as all generations share one DN — and the certificate's signature is
//!    verified with **that** root's key, so a rogue root with the same DN and the same key
//!    identifier fails here ([`JpkiError::BadCertificateSignature`]); validity with the clock
//!    (± skew); keyUsage and basicConstraints; certificatePolicies; the root's purpose against the
//!    challenge's kind ([`JpkiError::WrongKind`]); revocation from the CRL of exactly that CA
//!    ([`JpkiError::Revoked`] with its reason, [`JpkiError::CrlUnavailable`],
//!    [`JpkiError::CrlStale`] — fail closed).
//! 3. **Signature**: PKCS#1 v1.5 SHA-256 over exactly the UTF-8 bytes of the text
//!    ([`JpkiError::BadSignature`]).
//! 4. **Single use**: only now is the nonce consumed in the [`ChallengeStore`]
//!    ([`JpkiError::ChallengeReplayed`]). Consuming it earlier would let anyone who saw the text
//!    (it is shown on the login page) burn a resident's challenge with a garbage signature.
//!
//! ## AuthnContext classes
//!
//! The three class URNs are defined once in `schemas::websso::classes` and re-exported here:
//! [`AC_USER_AUTHENTICATION_PIN`], [`AC_SIGNATURE`], [`AC_PINLESS_ATTESTED`];
//! [`AuthnKind::authn_context_class`] maps a verified login to its class. Where the PIN-less level
//! is accepted is decided by the policy (eligibility checks only), not here.
//!
//! ## Out of scope (noted)
//!
//! - **OCSP** is not implemented: revocation comes from CRLs only (J-LIS serves both from the same
//!   source; CRLs are regenerated daily).
//! - **https:// CRL URLs**: the IdP's `reqwest` has no TLS backend (no TLS crate in the
//!   workspace), so [`crl::CrlSource::Url`] accepts `http://` only; CRLs are signed by the CA and
//!   verified before use, so plain HTTP loses no integrity.
//! - **Partitioned, delta and indirect CRLs** (issuingDistributionPoint, deltaCRLIndicator,
//!   certificateIssuer entries) are refused at load: treating a partition as the whole CA's list
//!   would fail open.

pub mod attributes;
pub mod challenge;
pub mod crl;
mod error;
pub mod trust;
pub mod verify;

pub use attributes::{BirthDate, Sex, SignatureAttributes};
pub use challenge::{
    ChallengeInfo, ChallengeIssuer, ChallengeRequest, ChallengeStore, IssueError, IssuedChallenge,
    LoginKind, MemoryChallengeStore, DEFAULT_CHALLENGE_LIFETIME, MAX_CHALLENGE_TEXT_BYTES,
};
pub use crl::{CrlCache, CrlError, CrlOptions, CrlSource, CrlStatus, LoadOutcome, RefreshReport};
pub use error::{ConfigError, JpkiError, RevocationReason};
pub use trust::{AcceptedPolicies, CertPurpose, TrustAnchors, TrustedRoot};
pub use verify::{AuthnKind, JpkiVerifier, VerifiedCard, VerifierConfig, DEFAULT_CLOCK_SKEW};

pub use schemas::websso::classes::{
    JPKI_PINLESS_ATTESTED as AC_PINLESS_ATTESTED, JPKI_SIGNATURE as AC_SIGNATURE,
    JPKI_USER_AUTHENTICATION_PIN as AC_USER_AUTHENTICATION_PIN,
};

/// certificatePolicies OID of the user-authentication certificate (利用者証明用, class 30).
pub const POLICY_USER_AUTHENTICATION: &str = "1.2.392.200149.8.5.1.3.30";
/// certificatePolicies OID of the signature certificate (署名用, class 20).
pub const POLICY_SIGNATURE: &str = "1.2.392.200149.8.5.1.1.20";
/// certificatePolicies OID of J-LIS test signature certificates (`…8.5.1.0.20`); accepted only
/// when configured ([`AcceptedPolicies::add`]).
pub const POLICY_SIGNATURE_TEST: &str = "1.2.392.200149.8.5.1.0.20";

/// Lower-case hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push_str(&format!("{b:02x}"));
    }
    s
}
