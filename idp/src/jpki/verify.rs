//! Verification of a JPKI login: [`JpkiVerifier::verify`] (the card signed the challenge) and
//! [`JpkiVerifier::verify_pinless`] (clinic reception: the certificate read without a PIN). The
//! order of the checks and why is in the [module documentation](super).

use std::sync::Arc;

use openssl::hash::MessageDigest;
use openssl::pkey::Id;
use openssl::rsa::Padding;
use openssl::sign::Verifier;
use openssl::x509::X509;
use time::{Duration, OffsetDateTime};
use x509_parser::extensions::ParsedExtension;

use super::attributes::{self, SignatureAttributes};
use super::challenge::{ChallengeInfo, ChallengeIssuer, ChallengeStore, LoginKind};
use super::crl::{minimal, CrlCache};
use super::error::{ConfigError, JpkiError};
use super::hex;
use super::trust::{AcceptedPolicies, CertPurpose, TrustAnchors, TrustedRoot};
use super::{AC_PINLESS_ATTESTED, AC_SIGNATURE, AC_USER_AUTHENTICATION_PIN};

/// Default tolerance on certificate validity instants.
pub const DEFAULT_CLOCK_SKEW: Duration = Duration::seconds(60);
/// Largest certificate accepted.
const MAX_CERT_BYTES: usize = 16 * 1024;
/// Smallest RSA key accepted (JPKI: RSA-2048).
const MIN_RSA_BITS: u32 = 2048;

const OID_KEY_USAGE: &str = "2.5.29.15";
const OID_BASIC_CONSTRAINTS: &str = "2.5.29.19";
const OID_POLICIES: &str = "2.5.29.32";
const OID_SAN: &str = "2.5.29.17";
const OID_IAN: &str = "2.5.29.18";
const OID_AKI: &str = "2.5.29.35";
const OID_SKI: &str = "2.5.29.14";
const OID_CDP: &str = "2.5.29.31";
const OID_EKU: &str = "2.5.29.37";
/// sha256/384/512WithRSAEncryption.
const RSA_SIGNATURE_ALGORITHMS: [&str; 3] = [
    "1.2.840.113549.1.1.11",
    "1.2.840.113549.1.1.12",
    "1.2.840.113549.1.1.13",
];

/// How the resident was authenticated; decides the AuthnContext class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthnKind {
    /// The user-authentication key signed the challenge (4-digit PIN).
    UserAuthenticationPin,
    /// The signature key signed the challenge (signature password).
    Signature,
    /// The user-authentication certificate read without a PIN; the face check is attested by a
    /// signed-in staff member (the web layer's job).
    PinlessAttested,
}

impl AuthnKind {
    /// The AuthnContext class URN of `schemas::websso::classes`.
    pub fn authn_context_class(self) -> &'static str {
        match self {
            AuthnKind::UserAuthenticationPin => AC_USER_AUTHENTICATION_PIN,
            AuthnKind::Signature => AC_SIGNATURE,
            AuthnKind::PinlessAttested => AC_PINLESS_ATTESTED,
        }
    }
}

/// A card that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedCard {
    pub kind: AuthnKind,
    pub purpose: CertPurpose,
    /// The issuing root's key identifier = the certificate's authorityKeyIdentifier (lower-case
    /// hex). With `serial`, the key the relay stores (never the serial alone).
    pub issuer_key_id: String,
    /// Serial number: minimal big-endian bytes, no DER sign byte.
    pub serial: Vec<u8>,
    /// Subject DN (one line, RFC 4514 style).
    pub subject: String,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
    /// The four attributes, for signature certificates only.
    pub attributes: Option<SignatureAttributes>,
    /// The challenge that was signed (`None` for PIN-less).
    pub challenge: Option<ChallengeInfo>,
}

impl VerifiedCard {
    pub fn serial_hex(&self) -> String {
        hex(&self.serial)
    }

    pub fn authn_context_class(&self) -> &'static str {
        self.kind.authn_context_class()
    }
}

/// Everything [`JpkiVerifier`] needs.
pub struct VerifierConfig {
    /// JPKI roots per purpose, every generation in use.
    pub anchors: TrustAnchors,
    /// certificatePolicies accepted per purpose ([`AcceptedPolicies::default`]: production
    /// JPKI).
    pub policies: AcceptedPolicies,
    /// CRLs of those roots (built on the same [`TrustAnchors`]); refreshed by the service.
    pub crls: Arc<CrlCache>,
    /// Tolerance on certificate notBefore/notAfter (default [`DEFAULT_CLOCK_SKEW`], ≤ 600 s).
    pub clock_skew: Duration,
    /// Issuer of the challenges (its secret checks their HMAC).
    pub challenges: ChallengeIssuer,
    /// Single use of challenges.
    pub store: Arc<dyn ChallengeStore>,
}

impl VerifierConfig {
    /// A configuration with the default policies and skew.
    pub fn new(
        anchors: TrustAnchors,
        crls: Arc<CrlCache>,
        challenges: ChallengeIssuer,
        store: Arc<dyn ChallengeStore>,
    ) -> VerifierConfig {
        VerifierConfig {
            anchors,
            policies: AcceptedPolicies::default(),
            crls,
            clock_skew: DEFAULT_CLOCK_SKEW,
            challenges,
            store,
        }
    }
}

/// Verifies JPKI logins. `Send + Sync`; share it behind an `Arc`.
pub struct JpkiVerifier {
    anchors: TrustAnchors,
    policies: AcceptedPolicies,
    crls: Arc<CrlCache>,
    skew: Duration,
    challenges: ChallengeIssuer,
    store: Arc<dyn ChallengeStore>,
}

impl std::fmt::Debug for JpkiVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JpkiVerifier")
            .field("roots", &self.anchors.roots().len())
            .field("policies", &self.policies)
            .field("skew", &self.skew)
            .finish_non_exhaustive()
    }
}

/// A certificate that passed the certificate checks.
struct CheckedCert<'r> {
    root: &'r TrustedRoot,
    x509: X509,
    serial: Vec<u8>,
    subject: String,
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
    attributes: Option<SignatureAttributes>,
}

fn malformed(what: impl Into<String>) -> JpkiError {
    JpkiError::Malformed(what.into())
}

fn time_of(t: x509_parser::time::ASN1Time) -> Result<OffsetDateTime, JpkiError> {
    OffsetDateTime::from_unix_timestamp(t.timestamp())
        .map_err(|_| malformed("certificate: time out of range"))
}

/// The purpose a login kind needs (`None`: no certificate purpose fits a signature login of
/// that kind).
fn required_purpose(kind: LoginKind) -> Option<CertPurpose> {
    match kind {
        LoginKind::Auth => Some(CertPurpose::UserAuthentication),
        LoginKind::Sign => Some(CertPurpose::Signature),
        LoginKind::Pinless => None,
    }
}

impl JpkiVerifier {
    pub fn new(config: VerifierConfig) -> Result<JpkiVerifier, ConfigError> {
        config.policies.check()?;
        if config.clock_skew < Duration::ZERO || config.clock_skew > Duration::seconds(600) {
            return Err(ConfigError::Skew);
        }
        Ok(JpkiVerifier {
            anchors: config.anchors,
            policies: config.policies,
            crls: config.crls,
            skew: config.clock_skew,
            challenges: config.challenges,
            store: config.store,
        })
    }

    pub fn challenges(&self) -> &ChallengeIssuer {
        &self.challenges
    }

    pub fn crls(&self) -> &Arc<CrlCache> {
        &self.crls
    }

    pub fn anchors(&self) -> &TrustAnchors {
        &self.anchors
    }

    /// A PIN login: `signature` is the card's PKCS#1 v1.5 SHA-256 signature over exactly the
    /// UTF-8 bytes of `challenge_text`, `certificate_der` the certificate the agent returned.
    /// On success the challenge is used up.
    pub fn verify(
        &self,
        challenge_text: &str,
        signature: &[u8],
        certificate_der: &[u8],
        now: OffsetDateTime,
    ) -> Result<VerifiedCard, JpkiError> {
        // 1. Challenge, stateless and cheap: format, HMAC, lifetime.
        let info = self.challenges.check(challenge_text, now)?;
        // 2. Certificate.
        let cert =
            self.check_certificate(certificate_der, required_purpose(info.kind), info.kind, now)?;
        // 3. The card's signature over exactly the text.
        Self::check_signature(&cert.x509, challenge_text.as_bytes(), signature)?;
        // 4. Single use, only after a valid signature: a forged attempt cannot burn the
        //    resident's challenge.
        if !self.store.consume(&info.nonce, info.expires_at) {
            return Err(JpkiError::ChallengeReplayed);
        }
        let kind = match cert.root.purpose {
            CertPurpose::UserAuthentication => AuthnKind::UserAuthenticationPin,
            CertPurpose::Signature => AuthnKind::Signature,
        };
        Ok(Self::card(kind, cert, Some(info)))
    }

    /// The PIN-less path of a clinic reception terminal: the user-authentication certificate,
    /// read without a PIN, gets every certificate check (root by key identifier and signature,
    /// validity, key usage, policy, revocation) but there is no card signature; the web layer
    /// must have a signed-in staff member attest the face check. Only a user-authentication
    /// certificate is accepted ([`JpkiError::WrongKind`] otherwise).
    pub fn verify_pinless(
        &self,
        certificate_der: &[u8],
        now: OffsetDateTime,
    ) -> Result<VerifiedCard, JpkiError> {
        let cert = self.check_certificate(
            certificate_der,
            Some(CertPurpose::UserAuthentication),
            LoginKind::Pinless,
            now,
        )?;
        Ok(Self::card(AuthnKind::PinlessAttested, cert, None))
    }

    fn card(
        kind: AuthnKind,
        cert: CheckedCert<'_>,
        challenge: Option<ChallengeInfo>,
    ) -> VerifiedCard {
        VerifiedCard {
            kind,
            purpose: cert.root.purpose,
            issuer_key_id: cert.root.key_id_hex(),
            serial: cert.serial,
            subject: cert.subject,
            not_before: cert.not_before,
            not_after: cert.not_after,
            attributes: cert.attributes,
            challenge,
        }
    }

    fn check_certificate(
        &self,
        der: &[u8],
        required: Option<CertPurpose>,
        login: LoginKind,
        now: OffsetDateTime,
    ) -> Result<CheckedCert<'_>, JpkiError> {
        // Parse: OpenSSL and x509-parser over the same exact bytes.
        if der.is_empty() || der.len() > MAX_CERT_BYTES {
            return Err(malformed("certificate: empty or larger than 16 KiB"));
        }
        let x509 = X509::from_der(der).map_err(|_| malformed("certificate: not DER X.509"))?;
        if x509.to_der().ok().as_deref() != Some(der) {
            return Err(malformed("certificate: not DER, or trailing data"));
        }
        let (rest, cert) = x509_parser::parse_x509_certificate(der)
            .map_err(|e| malformed(format!("certificate: {e}")))?;
        if !rest.is_empty() {
            return Err(malformed("certificate: trailing data"));
        }
        cert.extensions_map()
            .map_err(|_| malformed("certificate: an extension appears twice"))?;
        let mut aki = None;
        for ext in cert.extensions() {
            let oid = ext.oid.to_id_string();
            if let ParsedExtension::ParseError { error } = ext.parsed_extension() {
                return Err(malformed(format!("certificate: extension {oid}: {error}")));
            }
            match oid.as_str() {
                OID_AKI => {
                    if let ParsedExtension::AuthorityKeyIdentifier(a) = ext.parsed_extension() {
                        aki = a.key_identifier.as_ref().map(|k| k.0.to_vec());
                    }
                }
                OID_KEY_USAGE
                | OID_BASIC_CONSTRAINTS
                | OID_POLICIES
                | OID_SAN
                | OID_IAN
                | OID_SKI
                | OID_CDP
                | OID_EKU => {}
                _ if ext.critical => {
                    return Err(malformed(format!(
                        "certificate: unsupported critical extension {oid}"
                    )))
                }
                _ => {}
            }
        }

        // The root: by authorityKeyIdentifier (never by name), confirmed by name and signature.
        let aki = aki.ok_or_else(|| JpkiError::UnknownIssuer {
            key_id: String::new(),
        })?;
        let root = self
            .anchors
            .by_key_id(&aki)
            .ok_or_else(|| JpkiError::UnknownIssuer { key_id: hex(&aki) })?;
        let same_issuer = x509
            .issuer_name()
            .try_cmp(root.cert.subject_name())
            .map(|o| o.is_eq())
            .unwrap_or(false);
        if !same_issuer {
            return Err(JpkiError::UnknownIssuer { key_id: hex(&aki) });
        }
        let alg = cert.signature_algorithm.algorithm.to_id_string();
        if !RSA_SIGNATURE_ALGORITHMS.contains(&alg.as_str()) {
            return Err(malformed(format!("certificate: signature algorithm {alg}")));
        }
        // With THAT root's key only: a rogue root with the same DN and key id fails here.
        if !x509.verify(&root.public_key).unwrap_or(false) {
            return Err(JpkiError::BadCertificateSignature);
        }

        // Validity.
        let not_before = time_of(cert.validity().not_before)?;
        let not_after = time_of(cert.validity().not_after)?;
        if now + self.skew < not_before {
            return Err(JpkiError::NotYetValid { not_before });
        }
        if now - self.skew > not_after {
            return Err(JpkiError::Expired { not_after });
        }

        // The card's key: RSA, at least 2048 bits.
        let key = x509
            .public_key()
            .map_err(|_| malformed("certificate: unreadable public key"))?;
        if key.id() != Id::RSA || key.bits() < MIN_RSA_BITS {
            return Err(malformed(
                "certificate: not an RSA key of at least 2048 bits",
            ));
        }

        // keyUsage and basicConstraints, by the root's purpose.
        let purpose = root.purpose;
        if let Ok(Some(bc)) = cert.basic_constraints() {
            if bc.value.ca {
                return Err(JpkiError::WrongKeyUsage("a CA certificate is not a card"));
            }
        }
        let ku = match cert.key_usage() {
            Ok(Some(ku)) => ku.value,
            _ => return Err(JpkiError::WrongKeyUsage("no keyUsage")),
        };
        if !ku.digital_signature() {
            return Err(JpkiError::WrongKeyUsage("no digitalSignature"));
        }
        if purpose == CertPurpose::Signature && !ku.non_repudiation() {
            return Err(JpkiError::WrongKeyUsage(
                "signature certificate without nonRepudiation",
            ));
        }
        if ku.key_cert_sign() || ku.crl_sign() {
            return Err(JpkiError::WrongKeyUsage(
                "keyCertSign or cRLSign on a card certificate",
            ));
        }

        // certificatePolicies: one accepted OID of the root's purpose.
        let accepted = self.policies.for_purpose(purpose);
        let has_policy = cert
            .extensions()
            .iter()
            .any(|ext| match ext.parsed_extension() {
                ParsedExtension::CertificatePolicies(policies) => policies
                    .iter()
                    .any(|p| accepted.iter().any(|a| *a == p.policy_id.to_id_string())),
                _ => false,
            });
        if !has_policy {
            return Err(JpkiError::WrongPolicy { purpose });
        }

        // The purpose the login needs.
        if required != Some(purpose) {
            return Err(JpkiError::WrongKind {
                expected: login,
                presented: purpose,
            });
        }

        // Serial, subject, attributes.
        let raw_serial = cert.raw_serial();
        if raw_serial.first().is_none_or(|b| b & 0x80 != 0) {
            return Err(malformed("certificate: negative serial number"));
        }
        let serial = minimal(raw_serial);
        let attributes = match purpose {
            CertPurpose::Signature => Some(
                attributes::from_certificate(&cert)
                    .map_err(|e| malformed(format!("certificate: {e}")))?
                    .ok_or_else(|| {
                        malformed("signature certificate without the four attributes")
                    })?,
            ),
            CertPurpose::UserAuthentication => None,
        };
        let subject = cert.subject().to_string();

        // Revocation: the CRL of exactly this CA.
        if let Some((reason, revoked_at)) = self.crls.revocation(root, &serial, now)? {
            return Err(JpkiError::Revoked { reason, revoked_at });
        }

        drop(cert);
        Ok(CheckedCert {
            root,
            x509,
            serial,
            subject,
            not_before,
            not_after,
            attributes,
        })
    }

    /// PKCS#1 v1.5, SHA-256, over exactly `message`.
    fn check_signature(cert: &X509, message: &[u8], signature: &[u8]) -> Result<(), JpkiError> {
        let key = cert.public_key().map_err(|_| JpkiError::BadSignature)?;
        if signature.len() != key.size() {
            return Err(JpkiError::BadSignature);
        }
        let ok = (|| -> Result<bool, openssl::error::ErrorStack> {
            let mut v = Verifier::new(MessageDigest::sha256(), &key)?;
            v.set_rsa_padding(Padding::PKCS1)?;
            v.update(message)?;
            v.verify(signature)
        })()
        .unwrap_or(false);
        if ok {
            Ok(())
        } else {
            Err(JpkiError::BadSignature)
        }
    }
}
