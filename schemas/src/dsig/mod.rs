//! XML Signature in the federation's strict profile.
//!
//! Enveloped signatures only: exactly one `ds:Signature` child of the signed element, one
//! `SignedInfo`, one `Reference` whose URI names that element's ID, transforms limited to
//! enveloped-signature + exclusive c14n, an allow-list of algorithms (SHA-1 only behind an explicit
//! switch, HMAC never). Keys come from the caller (metadata, trust anchors), never from `KeyInfo`.
//! Verification returns the canonical bytes that were digested; callers parse their typed message
//! from those bytes, so what was verified is exactly what is used. SOAP messages sign several parts
//! by `wsu:Id` (`verify_references`), under the same rules.

mod algorithms;
mod keys;
mod pkcs11;
mod sign;
mod verify;

pub use algorithms::{DigestAlgorithm, SignatureAlgorithm};
pub(crate) use keys::raw_to_der_ecdsa;
pub use keys::{KeySigner, Signer, TrustedKey};
pub use pkcs11::{Pkcs11Signer, Pkcs11Token};
pub use sign::{sign_enveloped, sign_references, SignOptions};
pub use verify::{verify_enveloped, verify_references, VerifiedElement, VerifyPolicy};

pub const ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";

/// Why a signature was refused or could not be made.
#[derive(Debug, thiserror::Error)]
pub enum DsigError {
    #[error("the element is not signed")]
    Unsigned,
    #[error("the element has {0} Signature children; exactly one is allowed")]
    SignatureCount(usize),
    #[error("the signed element has no XML ID")]
    MissingId,
    #[error("Signature must hold exactly one SignedInfo, one SignatureValue and at most one KeyInfo: {0}")]
    SignatureStructure(String),
    #[error("SignedInfo must hold exactly one CanonicalizationMethod, SignatureMethod and Reference: {0}")]
    SignedInfoStructure(String),
    #[error("the Reference URI {found:?} does not name the signed element #{expected}")]
    ReferenceTarget { expected: String, found: String },
    #[error("transform {0:?} is not allowed (only enveloped-signature and exclusive c14n)")]
    ForbiddenTransform(String),
    #[error("transforms must be enveloped-signature then exclusive c14n")]
    TransformChain,
    #[error("canonicalization {0:?} is not allowed (exclusive c14n only)")]
    ForbiddenCanonicalization(String),
    #[error("algorithm {0:?} is not allowed")]
    ForbiddenAlgorithm(String),
    #[error("SHA-1 algorithm {0:?} is refused (interop switch is off)")]
    Sha1Refused(String),
    #[error("digest of the referenced content does not match")]
    DigestMismatch,
    #[error("signature value does not verify with any trusted key")]
    BadSignature,
    #[error("no trusted key was given")]
    NoTrustedKeys,
    #[error("malformed base64 in {0}")]
    Base64(&'static str),
    #[error("the referenced element #{0} is missing or ambiguous")]
    UnresolvedReference(String),
    #[error("required part #{0} is not covered by the signature")]
    NotCovered(String),
    #[error(transparent)]
    Xml(#[from] crate::xml::XmlError),
    #[error("crypto: {0}")]
    Crypto(#[from] openssl::error::ErrorStack),
    #[error("PKCS#11: {0}")]
    Pkcs11(String),
    #[error("the PIN is incorrect")]
    PinIncorrect,
    #[error("the PIN is locked after too many wrong tries")]
    PinLocked,
    #[error("key: {0}")]
    Key(String),
}
