//! Query-string signatures of the HTTP-Redirect binding: the algorithm list, the signer and
//! verifier traits the caller implements (the `dsig` layer does, with keys from metadata), and a
//! default implementation on OpenSSL.

use openssl::pkey::{PKey, Private, Public};
use openssl::sign::{Signer, Verifier};
use openssl::x509::X509;

use super::BindingError;

/// Signature algorithms of the Redirect binding: those of XML Signature (HMAC and DSA are
/// deliberately absent); whether SHA-1 is acceptable is decided when the query is decoded.
pub use crate::dsig::SignatureAlgorithm as SigAlg;

/// Signs the octets of a Redirect query.
pub trait QuerySigner {
    /// The `SigAlg` URI.
    fn sig_alg(&self) -> &str;
    /// The raw signature (ECDSA in DER) of `data`.
    fn sign(&self, data: &[u8]) -> Result<Vec<u8>, BindingError>;
}

/// Verifies the signature of a Redirect query with the keys the caller trusts for the sender.
pub trait QueryVerifier {
    /// `Ok(true)` when `signature` over `data` verifies under `sig_alg` with a trusted key.
    fn verify(&self, sig_alg: &str, data: &[u8], signature: &[u8]) -> Result<bool, BindingError>;
}

impl<F> QueryVerifier for F
where
    F: Fn(&str, &[u8], &[u8]) -> Result<bool, BindingError>,
{
    fn verify(&self, sig_alg: &str, data: &[u8], signature: &[u8]) -> Result<bool, BindingError> {
        self(sig_alg, data, signature)
    }
}

fn crypto(e: openssl::error::ErrorStack) -> BindingError {
    BindingError::Crypto(e.to_string())
}

/// A [`QuerySigner`] holding an OpenSSL private key.
pub struct OpensslQuerySigner {
    key: PKey<Private>,
    alg: SigAlg,
}

impl OpensslQuerySigner {
    pub fn new(key: PKey<Private>, alg: SigAlg) -> Result<Self, BindingError> {
        if !alg.fits(&key) {
            return Err(BindingError::Crypto(format!(
                "key type does not fit {}",
                alg.uri()
            )));
        }
        Ok(OpensslQuerySigner { key, alg })
    }

    pub fn from_pem(pem: &[u8], alg: SigAlg) -> Result<Self, BindingError> {
        Self::new(PKey::private_key_from_pem(pem).map_err(crypto)?, alg)
    }
}

impl QuerySigner for OpensslQuerySigner {
    fn sig_alg(&self) -> &str {
        self.alg.uri()
    }

    fn sign(&self, data: &[u8]) -> Result<Vec<u8>, BindingError> {
        let mut signer =
            Signer::new(self.alg.digest().message_digest(), &self.key).map_err(crypto)?;
        signer.update(data).map_err(crypto)?;
        signer.sign_to_vec().map_err(crypto)
    }
}

/// A [`QueryVerifier`] over the public keys of one peer, tried in turn (a key rollover lists
/// two). Only the algorithms of [`SigAlg`] are accepted; whether SHA-1 is acceptable is decided
/// when the query is decoded.
pub struct OpensslQueryVerifier {
    keys: Vec<PKey<Public>>,
}

impl OpensslQueryVerifier {
    pub fn new(keys: Vec<PKey<Public>>) -> Self {
        OpensslQueryVerifier { keys }
    }

    /// The keys of DER certificates (as metadata gives them).
    pub fn from_certificates_der<'a>(
        certs: impl IntoIterator<Item = &'a [u8]>,
    ) -> Result<Self, BindingError> {
        let keys = certs
            .into_iter()
            .map(|der| {
                X509::from_der(der)
                    .and_then(|c| c.public_key())
                    .map_err(crypto)
            })
            .collect::<Result<_, _>>()?;
        Ok(Self::new(keys))
    }

    fn verify_with(alg: SigAlg, key: &PKey<Public>, data: &[u8], signature: &[u8]) -> bool {
        let check = |sig: &[u8]| -> bool {
            let Ok(mut v) = Verifier::new(alg.digest().message_digest(), key) else {
                return false;
            };
            v.update(data).is_ok() && v.verify(sig).unwrap_or(false)
        };
        if check(signature) {
            return true;
        }
        // ECDSA senders built on XML-DSig libraries may send r||s (RFC 4050) instead of DER.
        alg.is_ecdsa() && crate::dsig::raw_to_der_ecdsa(signature).is_some_and(|der| check(&der))
    }
}

impl QueryVerifier for OpensslQueryVerifier {
    fn verify(&self, sig_alg: &str, data: &[u8], signature: &[u8]) -> Result<bool, BindingError> {
        let alg = SigAlg::lookup(sig_alg)
            .ok_or_else(|| BindingError::UnsupportedSigAlg(sig_alg.to_string()))?;
        Ok(self
            .keys
            .iter()
            .filter(|k| alg.fits(k))
            .any(|k| Self::verify_with(alg, k, data, signature)))
    }
}
