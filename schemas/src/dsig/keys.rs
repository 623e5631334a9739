//! Keys: trusted public keys for verification (from metadata or trust anchors) and signers.

use openssl::bn::BigNum;
use openssl::ecdsa::EcdsaSig;
use openssl::nid::Nid;
use openssl::pkey::{Id, PKey, Private, Public};
use openssl::sign::{Signer as OsslSigner, Verifier};
use openssl::x509::X509;

use super::{DsigError, SignatureAlgorithm};

/// A public key the caller trusts for a given peer. Built once (OpenSSL key decoding is slow) and
/// reused for every verification.
#[derive(Clone)]
pub struct TrustedKey {
    key: PKey<Public>,
}

impl std::fmt::Debug for TrustedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "TrustedKey({:?}, {} bits)",
            self.key.id(),
            self.key.bits()
        )
    }
}

impl TrustedKey {
    /// Accepts RSA keys of at least 2048 bits and EC keys on P-256 or P-384, the profile's keys.
    pub fn from_public_key(key: PKey<Public>) -> Result<Self, DsigError> {
        match key.id() {
            Id::RSA if key.bits() >= 2048 => Ok(TrustedKey { key }),
            Id::RSA => Err(DsigError::Key(format!(
                "RSA key of {} bits is too short",
                key.bits()
            ))),
            Id::EC => {
                let curve = key.ec_key()?.group().curve_name();
                match curve {
                    Some(Nid::X9_62_PRIME256V1) | Some(Nid::SECP384R1) => Ok(TrustedKey { key }),
                    other => Err(DsigError::Key(format!(
                        "EC curve {other:?} is not accepted"
                    ))),
                }
            }
            other => Err(DsigError::Key(format!("unsupported key type {other:?}"))),
        }
    }

    /// The key of a certificate (its validity and chain are the caller's business: in SAML
    /// metadata the certificate is only a key container).
    pub fn from_certificate(cert: &X509) -> Result<Self, DsigError> {
        Self::from_public_key(cert.public_key()?)
    }

    pub fn from_certificate_der(der: &[u8]) -> Result<Self, DsigError> {
        Self::from_certificate(&X509::from_der(der)?)
    }

    pub fn from_certificate_pem(pem: &[u8]) -> Result<Self, DsigError> {
        Self::from_certificate(&X509::from_pem(pem)?)
    }

    pub fn public_key(&self) -> &PKey<Public> {
        &self.key
    }

    /// Whether `signature` (in XML-DSig form: raw r||s for ECDSA) over `data` verifies.
    pub fn verify(
        &self,
        alg: SignatureAlgorithm,
        data: &[u8],
        signature: &[u8],
    ) -> Result<bool, DsigError> {
        let der;
        let signature = match (alg.is_ecdsa(), self.key.id()) {
            (true, Id::EC) => {
                der = match raw_to_der_ecdsa(signature) {
                    Some(d) => d,
                    None => return Ok(false),
                };
                &der[..]
            }
            (false, Id::RSA) => signature,
            _ => return Ok(false),
        };
        let mut verifier = Verifier::new(alg.digest().message_digest(), &self.key)?;
        Ok(verifier.verify_oneshot(signature, data).unwrap_or(false))
    }
}

/// Converts an XML-DSig ECDSA value (r||s, equal halves) to DER.
pub(crate) fn raw_to_der_ecdsa(raw: &[u8]) -> Option<Vec<u8>> {
    if raw.is_empty() || raw.len() % 2 != 0 {
        return None;
    }
    let (r, s) = raw.split_at(raw.len() / 2);
    let sig =
        EcdsaSig::from_private_components(BigNum::from_slice(r).ok()?, BigNum::from_slice(s).ok()?)
            .ok()?;
    sig.to_der().ok()
}

/// Converts a DER ECDSA signature to XML-DSig form, each half padded to the field size.
pub(crate) fn der_to_raw_ecdsa(der: &[u8], field_bytes: usize) -> Result<Vec<u8>, DsigError> {
    let sig = EcdsaSig::from_der(der)?;
    let mut out = Vec::with_capacity(field_bytes * 2);
    out.extend(sig.r().to_vec_padded(field_bytes as i32)?);
    out.extend(sig.s().to_vec_padded(field_bytes as i32)?);
    Ok(out)
}

/// Something that signs SignedInfo bytes: an in-memory key or a PKCS#11 token.
pub trait Signer: Send + Sync {
    fn algorithm(&self) -> SignatureAlgorithm;
    /// The signature over `data` in XML-DSig form.
    fn sign(&self, data: &[u8]) -> Result<Vec<u8>, DsigError>;
    /// DER certificate to show in `KeyInfo` (a hint for the peer, never trusted by it).
    fn certificate_der(&self) -> Option<&[u8]> {
        None
    }
}

/// A private key held in memory.
pub struct KeySigner {
    key: PKey<Private>,
    algorithm: SignatureAlgorithm,
    certificate: Option<Vec<u8>>,
}

impl KeySigner {
    pub fn new(
        key: PKey<Private>,
        algorithm: SignatureAlgorithm,
        certificate: Option<&X509>,
    ) -> Result<Self, DsigError> {
        if !algorithm.fits(&key) {
            return Err(DsigError::Key(format!(
                "{:?} key cannot make {algorithm:?} signatures",
                key.id()
            )));
        }
        let certificate = certificate.map(|c| c.to_der()).transpose()?;
        Ok(KeySigner {
            key,
            algorithm,
            certificate,
        })
    }

    /// From PEM key and certificate, with the default algorithm for the key type (RSA-SHA256 or
    /// ECDSA-SHA256).
    pub fn from_pem(key_pem: &[u8], cert_pem: Option<&[u8]>) -> Result<Self, DsigError> {
        let key = PKey::private_key_from_pem(key_pem)?;
        let alg = if key.id() == Id::EC {
            SignatureAlgorithm::EcdsaSha256
        } else {
            SignatureAlgorithm::RsaSha256
        };
        let cert = cert_pem.map(X509::from_pem).transpose()?;
        Self::new(key, alg, cert.as_ref())
    }
}

impl Signer for KeySigner {
    fn algorithm(&self) -> SignatureAlgorithm {
        self.algorithm
    }

    fn sign(&self, data: &[u8]) -> Result<Vec<u8>, DsigError> {
        let mut signer = OsslSigner::new(self.algorithm.digest().message_digest(), &self.key)?;
        let sig = signer.sign_oneshot_to_vec(data)?;
        if self.algorithm.is_ecdsa() {
            let field = (self.key.bits() as usize).div_ceil(8);
            der_to_raw_ecdsa(&sig, field)
        } else {
            Ok(sig)
        }
    }

    fn certificate_der(&self) -> Option<&[u8]> {
        self.certificate.as_deref()
    }
}
