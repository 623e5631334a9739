//! The JPKI trust anchors: self-signed roots per purpose, several generations at once.
//!
//! JPKI has no intermediate CA: every resident certificate is issued directly by a root, one
//! root per purpose and generation (signca01/02/03, authca01/02/03…), and **all generations of
//! a purpose share one DN**. A root is therefore found by the certificate's
//! authorityKeyIdentifier, and the choice is then confirmed by the signature: a rogue root can
//! copy the DN and the key identifier, never the key.

use std::collections::HashMap;
use std::sync::Arc;

use openssl::hash::{hash, MessageDigest};
use openssl::pkey::{Id, PKey, Public};
use openssl::x509::X509;

use super::error::ConfigError;
use super::{hex, POLICY_SIGNATURE, POLICY_USER_AUTHENTICATION};

/// What a JPKI certificate (and its root) is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CertPurpose {
    /// 利用者証明用電子証明書: user authentication (My Number card only).
    UserAuthentication,
    /// 署名用電子証明書: digital signature (My Number card and Juki card).
    Signature,
}

impl CertPurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            CertPurpose::UserAuthentication => "user-authentication",
            CertPurpose::Signature => "signature",
        }
    }
}

impl std::fmt::Display for CertPurpose {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<certs::Purpose> for CertPurpose {
    fn from(p: certs::Purpose) -> CertPurpose {
        match p {
            certs::Purpose::UserAuthentication => CertPurpose::UserAuthentication,
            certs::Purpose::Signature => CertPurpose::Signature,
        }
    }
}

/// One configured root.
#[derive(Debug, Clone)]
pub struct TrustedRoot {
    pub purpose: CertPurpose,
    pub cert: X509,
    /// Subject key identifier (from the extension; RFC 5280 method 1 when absent).
    pub key_id: Vec<u8>,
    pub public_key: PKey<Public>,
    /// DER of the root's SubjectPublicKeyInfo (what a CRL's signer is compared with).
    pub spki_der: Vec<u8>,
    /// One-line subject, for logs.
    pub subject: String,
}

impl TrustedRoot {
    pub fn key_id_hex(&self) -> String {
        hex(&self.key_id)
    }
}

/// The configured roots, indexed by key identifier. Cheap to clone (shared).
#[derive(Debug, Clone)]
pub struct TrustAnchors {
    inner: Arc<Anchors>,
}

#[derive(Debug)]
struct Anchors {
    roots: Vec<TrustedRoot>,
    by_key_id: HashMap<Vec<u8>, usize>,
}

fn oneline(name: &openssl::x509::X509NameRef) -> String {
    name.entries()
        .map(|e| {
            let key = e.object().nid().short_name().unwrap_or("?");
            let value = String::from_utf8_lossy(e.data().as_slice());
            format!("{key}={value}")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

impl TrustAnchors {
    /// Roots with their purposes. Each must be a self-signed CA certificate (basicConstraints
    /// CA, keyCertSign, self-signature valid) with an RSA key; key identifiers must be unique
    /// (several generations of one purpose are expected, two roots claiming one key identifier
    /// are refused). Both purposes must be present.
    pub fn new(
        roots: impl IntoIterator<Item = (CertPurpose, X509)>,
    ) -> Result<TrustAnchors, ConfigError> {
        let mut list = Vec::new();
        let mut by_key_id = HashMap::new();
        for (index, (purpose, cert)) in roots.into_iter().enumerate() {
            let bad = |reason: &str| ConfigError::Root {
                index,
                reason: reason.to_string(),
            };
            let public_key = cert.public_key()?;
            if public_key.id() != Id::RSA {
                return Err(bad("not an RSA key"));
            }
            if !cert.verify(&public_key)? {
                return Err(bad("not self-signed (JPKI roots have no intermediate)"));
            }
            let der = cert.to_der()?;
            let (_, parsed) = x509_parser::parse_x509_certificate(&der)
                .map_err(|e| bad(&format!("unparsable: {e}")))?;
            match parsed.basic_constraints() {
                Ok(Some(bc)) if bc.value.ca => {}
                _ => return Err(bad("not a CA certificate (basicConstraints)")),
            }
            match parsed.key_usage() {
                Ok(Some(ku)) if ku.value.key_cert_sign() => {}
                Ok(None) => {}
                _ => return Err(bad("keyUsage without keyCertSign")),
            }
            let spki_der = public_key.public_key_to_der()?;
            let key_id = match cert.subject_key_id() {
                Some(id) => id.as_slice().to_vec(),
                None => {
                    // RFC 5280 §4.2.1.2 method 1: SHA-1 of the subjectPublicKey BIT STRING.
                    let bits = parsed.public_key().subject_public_key.data.to_vec();
                    hash(MessageDigest::sha1(), &bits)?.to_vec()
                }
            };
            if by_key_id.insert(key_id.clone(), list.len()).is_some() {
                return Err(ConfigError::DuplicateKeyId(hex(&key_id)));
            }
            list.push(TrustedRoot {
                purpose,
                subject: oneline(cert.subject_name()),
                cert,
                key_id,
                public_key,
                spki_der,
            });
        }
        for purpose in [CertPurpose::UserAuthentication, CertPurpose::Signature] {
            if !list.iter().any(|r| r.purpose == purpose) {
                return Err(ConfigError::NoRoot(purpose));
            }
        }
        Ok(TrustAnchors {
            inner: Arc::new(Anchors {
                roots: list,
                by_key_id,
            }),
        })
    }

    /// Convenience: roots of each purpose given as lists.
    pub fn from_lists(
        user_authentication: impl IntoIterator<Item = X509>,
        signature: impl IntoIterator<Item = X509>,
    ) -> Result<TrustAnchors, ConfigError> {
        TrustAnchors::new(
            user_authentication
                .into_iter()
                .map(|c| (CertPurpose::UserAuthentication, c))
                .chain(signature.into_iter().map(|c| (CertPurpose::Signature, c))),
        )
    }

    /// The root whose key identifier is `key_id` (O(1)).
    pub fn by_key_id(&self, key_id: &[u8]) -> Option<&TrustedRoot> {
        self.inner
            .by_key_id
            .get(key_id)
            .map(|&i| &self.inner.roots[i])
    }

    pub fn roots(&self) -> &[TrustedRoot] {
        &self.inner.roots
    }
}

/// certificatePolicies OIDs accepted per purpose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcceptedPolicies {
    user_authentication: Vec<String>,
    signature: Vec<String>,
}

impl Default for AcceptedPolicies {
    /// The production JPKI policies: `1.2.392.200149.8.5.1.3.30` (user authentication) and
    /// `1.2.392.200149.8.5.1.1.20` (signature).
    fn default() -> AcceptedPolicies {
        AcceptedPolicies {
            user_authentication: vec![POLICY_USER_AUTHENTICATION.into()],
            signature: vec![POLICY_SIGNATURE.into()],
        }
    }
}

fn valid_oid(oid: &str) -> bool {
    let arcs: Vec<&str> = oid.split('.').collect();
    arcs.len() >= 2
        && arcs.iter().all(|a| {
            !a.is_empty()
                && a.bytes().all(|b| b.is_ascii_digit())
                && (a.len() == 1 || !a.starts_with('0'))
        })
}

impl AcceptedPolicies {
    /// No policy at all (build with [`AcceptedPolicies::add`]).
    pub fn none() -> AcceptedPolicies {
        AcceptedPolicies {
            user_authentication: Vec::new(),
            signature: Vec::new(),
        }
    }

    /// Accepts one more OID for `purpose` (e.g. a J-LIS test-card policy,
    /// [`super::POLICY_SIGNATURE_TEST`]).
    pub fn add(mut self, purpose: CertPurpose, oid: &str) -> Result<AcceptedPolicies, ConfigError> {
        if !valid_oid(oid) {
            return Err(ConfigError::PolicyOid(oid.into()));
        }
        let list = match purpose {
            CertPurpose::UserAuthentication => &mut self.user_authentication,
            CertPurpose::Signature => &mut self.signature,
        };
        if !list.iter().any(|o| o == oid) {
            list.push(oid.to_string());
        }
        Ok(self)
    }

    pub fn for_purpose(&self, purpose: CertPurpose) -> &[String] {
        match purpose {
            CertPurpose::UserAuthentication => &self.user_authentication,
            CertPurpose::Signature => &self.signature,
        }
    }

    pub(crate) fn check(&self) -> Result<(), ConfigError> {
        for purpose in [CertPurpose::UserAuthentication, CertPurpose::Signature] {
            if self.for_purpose(purpose).is_empty() {
                return Err(ConfigError::NoPolicy(purpose));
            }
        }
        Ok(())
    }
}
