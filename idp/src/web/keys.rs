//! The IdP's signing keys: every generation is published in the metadata (rollover), one signs.
//! A key is a PEM file or a key on a PKCS#11 token (HSM, SoftHSM2).

use std::sync::Arc;

use openssl::pkey::Id;
use openssl::x509::X509;
use schemas::binding::{BindingError, QuerySigner};
use schemas::dsig::{KeySigner, Pkcs11Token, SignatureAlgorithm, Signer, TrustedKey};

use super::config::{Config, ConfigError, SigningKeyConfig};
use super::util::unhex;

/// The signing keys.
#[derive(Clone)]
pub struct IdpKeys {
    /// The active key.
    pub signer: Arc<dyn Signer>,
    /// Every published certificate, in configuration order (the active one included).
    pub certificates: Vec<X509>,
    /// Index of the active key in `certificates`.
    pub active: usize,
}

impl std::fmt::Debug for IdpKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdpKeys")
            .field("published", &self.certificates.len())
            .field("active", &self.active)
            .finish()
    }
}

fn invalid(m: impl Into<String>) -> ConfigError {
    ConfigError::Invalid(m.into())
}

fn read_cert(k: &SigningKeyConfig) -> Result<X509, ConfigError> {
    let pem = std::fs::read(&k.cert_pem).map_err(|e| ConfigError::Read {
        path: k.cert_pem.clone(),
        message: e.to_string(),
    })?;
    X509::from_pem(&pem).map_err(|e| invalid(format!("{}: {e}", k.cert_pem.display())))
}

fn algorithm_for(cert: &X509) -> Result<SignatureAlgorithm, ConfigError> {
    let key = cert
        .public_key()
        .map_err(|e| invalid(format!("certificate key: {e}")))?;
    Ok(if key.id() == Id::EC {
        SignatureAlgorithm::EcdsaSha256
    } else {
        SignatureAlgorithm::RsaSha256
    })
}

impl IdpKeys {
    pub fn load(config: &Config) -> Result<IdpKeys, ConfigError> {
        let certificates = config
            .keys
            .signing
            .iter()
            .map(read_cert)
            .collect::<Result<Vec<_>, _>>()?;
        let active = config.keys.active;
        let k = &config.keys.signing[active];
        let cert = &certificates[active];
        let cert_der = cert.to_der().map_err(|e| invalid(e.to_string()))?;
        let signer: Arc<dyn Signer> = if let Some(path) = &k.key_pem {
            let pem = std::fs::read(path).map_err(|e| ConfigError::Read {
                path: path.clone(),
                message: e.to_string(),
            })?;
            let cert_pem = cert.to_pem().map_err(|e| invalid(e.to_string()))?;
            let s = KeySigner::from_pem(&pem, Some(&cert_pem))
                .map_err(|e| invalid(format!("{}: {e}", path.display())))?;
            Arc::new(s)
        } else {
            let label = k.token_label.as_deref().unwrap_or_default();
            let module = k
                .pkcs11_module
                .clone()
                .unwrap_or_else(|| "/usr/lib/softhsm/libsofthsm2.so".into());
            let pin = match &k.pin_env {
                Some(var) => std::env::var(var)
                    .map_err(|_| invalid(format!("environment variable {var} is not set")))?,
                None => return Err(invalid("a PKCS#11 signing key needs pin_env")),
            };
            let key_id = k
                .key_id
                .as_deref()
                .and_then(unhex)
                .ok_or_else(|| invalid("a PKCS#11 signing key needs key_id (hex)"))?;
            let token = Pkcs11Token::open(&module.display().to_string(), label, &pin)
                .map_err(|e| invalid(format!("PKCS#11 token {label:?}: {e}")))?;
            let signer = token
                .signer(&key_id, algorithm_for(cert)?, Some(cert_der.clone()))
                .map_err(|e| invalid(format!("PKCS#11 key: {e}")))?;
            Arc::new(signer)
        };
        // The key signs what the certificate says it does.
        let probe = b"nabari idp key check";
        let sig = signer
            .sign(probe)
            .map_err(|e| invalid(format!("the active signing key cannot sign: {e}")))?;
        let trusted = TrustedKey::from_certificate(cert).map_err(|e| invalid(e.to_string()))?;
        if !trusted
            .verify(signer.algorithm(), probe, &sig)
            .unwrap_or(false)
        {
            return Err(invalid(
                "the active signing key does not match its certificate",
            ));
        }
        Ok(IdpKeys {
            signer,
            certificates,
            active,
        })
    }

    /// Keys that verify the IdP's signatures (every published generation).
    pub fn trusted(&self) -> Vec<TrustedKey> {
        self.certificates
            .iter()
            .filter_map(|c| TrustedKey::from_certificate(c).ok())
            .collect()
    }

    pub fn query_signer(&self) -> DsigQuerySigner<'_> {
        DsigQuerySigner(self.signer.as_ref())
    }
}

/// A Redirect-binding query signer over the XML Signature signer (one key for both).
pub struct DsigQuerySigner<'a>(pub &'a dyn Signer);

impl QuerySigner for DsigQuerySigner<'_> {
    fn sig_alg(&self) -> &str {
        self.0.algorithm().uri()
    }

    fn sign(&self, data: &[u8]) -> Result<Vec<u8>, BindingError> {
        self.0
            .sign(data)
            .map_err(|e| BindingError::Crypto(e.to_string()))
    }
}
