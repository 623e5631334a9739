//! Errors of the JPKI core.

use time::OffsetDateTime;

use super::challenge::LoginKind;
use super::trust::CertPurpose;

/// Why a login (or a PIN-less certificate read) was refused. Every case is its own variant so
/// the web layer can answer each one properly (a renewed card gets "use your new card", an
/// unknown issuer gets "this is not a JPKI card", a replayed challenge gets "start again").
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JpkiError {
    /// Input that is not what it must be: not a certificate, a certificate with an unsupported
    /// critical extension or a non-RSA key, a text that is not the IdP's challenge format…
    #[error("malformed input: {0}")]
    Malformed(String),
    /// No configured root has the key identifier the certificate's authorityKeyIdentifier names
    /// (or the certificate has no authorityKeyIdentifier, or names another issuer DN).
    #[error(
        "the certificate was not issued by a configured JPKI root (authority key id {key_id})"
    )]
    UnknownIssuer { key_id: String },
    /// The certificate's signature does not verify with the key of the root its key identifier
    /// names: a forged card (e.g. a rogue root with the same DN and the same key identifier).
    #[error("the certificate's signature does not verify with the JPKI root it names")]
    BadCertificateSignature,
    #[error("the certificate expired at {not_after}")]
    Expired { not_after: OffsetDateTime },
    #[error("the certificate is valid only from {not_before}")]
    NotYetValid { not_before: OffsetDateTime },
    /// keyUsage lacks what the purpose needs (auth: digitalSignature; signature:
    /// digitalSignature + nonRepudiation), or the certificate is a CA.
    #[error("wrong key usage: {0}")]
    WrongKeyUsage(&'static str),
    /// certificatePolicies does not contain an accepted policy of the root's purpose.
    #[error("the certificate has no accepted JPKI policy for {purpose}")]
    WrongPolicy { purpose: CertPurpose },
    /// The certificate is of the other purpose than the login asks for (e.g. a signature
    /// certificate where the user-authentication certificate is required).
    #[error("a {presented} certificate was presented for a {expected} login")]
    WrongKind {
        expected: LoginKind,
        presented: CertPurpose,
    },
    /// Listed on the CA's CRL. `reason` tells a renewed card (`Superseded`) from a lost one
    /// (`KeyCompromise`) or a change of the recorded data (`AffiliationChanged`).
    #[error("the certificate is revoked ({reason})")]
    Revoked {
        reason: RevocationReason,
        revoked_at: OffsetDateTime,
    },
    /// No valid CRL of the issuing CA is loaded: refused (fail closed).
    #[error("no CRL of the issuing CA (key id {key_id}) is available")]
    CrlUnavailable { key_id: String },
    /// The CA's newest CRL is past its nextUpdate: refused (fail closed) until a fresh CRL is
    /// loaded.
    #[error("the CRL of the issuing CA (key id {key_id}) is stale since {next_update}")]
    CrlStale {
        key_id: String,
        next_update: OffsetDateTime,
    },
    /// The signature is not a PKCS#1 v1.5 SHA-256 signature over exactly the challenge text by
    /// the certificate's key.
    #[error("the signature does not verify over the challenge text")]
    BadSignature,
    /// The text is not one this IdP issued (HMAC mismatch, edited text, another IdP).
    #[error("the challenge was not issued by this IdP or was altered")]
    ChallengeForged,
    /// The challenge's lifetime is over (or it claims to be issued in the future).
    #[error("the challenge has expired")]
    ChallengeExpired,
    /// The challenge was already used for a login.
    #[error("the challenge was already used")]
    ChallengeReplayed,
}

impl JpkiError {
    /// A stable code for logs, metrics and page selection.
    pub fn code(&self) -> &'static str {
        match self {
            JpkiError::Malformed(_) => "malformed",
            JpkiError::UnknownIssuer { .. } => "unknown_issuer",
            JpkiError::BadCertificateSignature => "bad_certificate_signature",
            JpkiError::Expired { .. } => "expired",
            JpkiError::NotYetValid { .. } => "not_yet_valid",
            JpkiError::WrongKeyUsage(_) => "wrong_key_usage",
            JpkiError::WrongPolicy { .. } => "wrong_policy",
            JpkiError::WrongKind { .. } => "wrong_kind",
            JpkiError::Revoked { .. } => "revoked",
            JpkiError::CrlUnavailable { .. } => "crl_unavailable",
            JpkiError::CrlStale { .. } => "crl_stale",
            JpkiError::BadSignature => "bad_signature",
            JpkiError::ChallengeForged => "challenge_forged",
            JpkiError::ChallengeExpired => "challenge_expired",
            JpkiError::ChallengeReplayed => "challenge_replayed",
        }
    }

    /// A failure on the IdP's side (no usable CRL) rather than a problem with the card: the
    /// web layer shows "try again later" and alerts the operator.
    pub fn is_service_problem(&self) -> bool {
        matches!(
            self,
            JpkiError::CrlUnavailable { .. } | JpkiError::CrlStale { .. }
        )
    }
}

/// CRLReason (RFC 5280 §5.3.1). JPKI uses (CPS §4.9.9): unspecified, keyCompromise,
/// cACompromise, affiliationChanged (the recorded name/address/birth date/sex changed: 異動),
/// superseded (renewed or reissued), cessationOfOperation, certificateHold (never released).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RevocationReason {
    /// 0, or an entry without a reasonCode.
    Unspecified,
    KeyCompromise,
    CaCompromise,
    AffiliationChanged,
    Superseded,
    CessationOfOperation,
    CertificateHold,
    /// 8: belongs to delta CRLs only; in a full CRL it is still treated as revoked (fail
    /// closed).
    RemoveFromCrl,
    PrivilegeWithdrawn,
    AaCompromise,
    /// A code outside RFC 5280 (treated as revoked).
    Other(u8),
}

impl RevocationReason {
    pub fn from_code(code: u8) -> RevocationReason {
        match code {
            0 => RevocationReason::Unspecified,
            1 => RevocationReason::KeyCompromise,
            2 => RevocationReason::CaCompromise,
            3 => RevocationReason::AffiliationChanged,
            4 => RevocationReason::Superseded,
            5 => RevocationReason::CessationOfOperation,
            6 => RevocationReason::CertificateHold,
            8 => RevocationReason::RemoveFromCrl,
            9 => RevocationReason::PrivilegeWithdrawn,
            10 => RevocationReason::AaCompromise,
            other => RevocationReason::Other(other),
        }
    }

    pub fn code(self) -> u8 {
        match self {
            RevocationReason::Unspecified => 0,
            RevocationReason::KeyCompromise => 1,
            RevocationReason::CaCompromise => 2,
            RevocationReason::AffiliationChanged => 3,
            RevocationReason::Superseded => 4,
            RevocationReason::CessationOfOperation => 5,
            RevocationReason::CertificateHold => 6,
            RevocationReason::RemoveFromCrl => 8,
            RevocationReason::PrivilegeWithdrawn => 9,
            RevocationReason::AaCompromise => 10,
            RevocationReason::Other(c) => c,
        }
    }

    /// RFC 5280 name (`keyCompromise`…).
    pub fn as_str(self) -> &'static str {
        match self {
            RevocationReason::Unspecified => "unspecified",
            RevocationReason::KeyCompromise => "keyCompromise",
            RevocationReason::CaCompromise => "cACompromise",
            RevocationReason::AffiliationChanged => "affiliationChanged",
            RevocationReason::Superseded => "superseded",
            RevocationReason::CessationOfOperation => "cessationOfOperation",
            RevocationReason::CertificateHold => "certificateHold",
            RevocationReason::RemoveFromCrl => "removeFromCRL",
            RevocationReason::PrivilegeWithdrawn => "privilegeWithdrawn",
            RevocationReason::AaCompromise => "aACompromise",
            RevocationReason::Other(_) => "other",
        }
    }

    /// What the login page should tell the resident (Japanese, then English).
    pub fn hint(self) -> (&'static str, &'static str) {
        match self {
            RevocationReason::Superseded => (
                "カードが更新されています。新しいカードでログインしてください。",
                "Your card has been renewed: please sign in with the new card.",
            ),
            RevocationReason::AffiliationChanged => (
                "氏名・住所などの変更により署名用電子証明書が失効しています。利用者証明用電子証明書でログインするか、市役所で再発行を受けてください。",
                "Your signature certificate was revoked after a change of name or address: sign in with the user-authentication certificate or have it reissued at the city office.",
            ),
            RevocationReason::KeyCompromise => (
                "紛失・盗難の届出により失効した証明書です。市役所にご相談ください。",
                "This certificate was revoked after the card was reported lost or stolen: please contact the city office.",
            ),
            _ => (
                "失効した証明書です。市役所にご相談ください。",
                "This certificate is revoked: please contact the city office.",
            ),
        }
    }
}

impl std::fmt::Display for RevocationReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RevocationReason::Other(c) => write!(f, "reason code {c}"),
            r => f.write_str(r.as_str()),
        }
    }
}

/// A configuration the JPKI core refuses.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("trusted root #{index}: {reason}")]
    Root { index: usize, reason: String },
    #[error("two trusted roots share the key identifier {0}: the issuer could not be chosen by key identifier")]
    DuplicateKeyId(String),
    #[error("no trusted root for {0}")]
    NoRoot(CertPurpose),
    #[error("invalid policy OID {0:?}")]
    PolicyOid(String),
    #[error("no accepted policy for {0}")]
    NoPolicy(CertPurpose),
    #[error("challenge secret: at least 32 bytes are required")]
    WeakSecret,
    #[error("invalid entity ID {0:?} (1–256 bytes, no spaces or control characters)")]
    EntityId(String),
    #[error("challenge lifetime must be 1–600 s")]
    Lifetime,
    #[error("clock skew must be 0–600 s")]
    Skew,
    #[error("OpenSSL: {0}")]
    OpenSsl(#[from] openssl::error::ErrorStack),
}
