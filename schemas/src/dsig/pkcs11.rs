//! Signing with a key on a PKCS#11 token (a SoftHSM2 virtual card, a real card through OpenSC, an
//! HSM): the SignedInfo bytes are hashed here and signed on the token.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::RvError;
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::types::AuthPin;

use super::{DsigError, SignatureAlgorithm, Signer};

/// One initialized PKCS#11 module per path for the whole process: `C_Initialize` must run once.
fn module(path: &str) -> Result<Arc<Pkcs11>, DsigError> {
    static MODULES: OnceLock<Mutex<HashMap<String, Arc<Pkcs11>>>> = OnceLock::new();
    let mut modules = MODULES
        .get_or_init(Default::default)
        .lock()
        .map_err(|_| DsigError::Pkcs11("module registry poisoned".into()))?;
    if let Some(m) = modules.get(path) {
        return Ok(m.clone());
    }
    let pkcs11 = Pkcs11::new(path).map_err(|e| DsigError::Pkcs11(format!("load {path}: {e}")))?;
    match pkcs11.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        // Another holder in this process (the test PKI, the card agent) initialized the module
        // first; it is shared process-wide and neither holder finalizes it.
        Ok(()) | Err(cryptoki::error::Error::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
        Err(e) => return Err(DsigError::Pkcs11(format!("initialize: {e}"))),
    }
    let pkcs11 = Arc::new(pkcs11);
    modules.insert(path.to_string(), pkcs11.clone());
    Ok(pkcs11)
}

/// A logged-in session on the token with the given label.
pub struct Pkcs11Token {
    session: Mutex<Session>,
}

impl Pkcs11Token {
    /// Opens the token labelled `label` in `module_path` and logs in with `pin`.
    pub fn open(module_path: &str, label: &str, pin: &str) -> Result<Self, DsigError> {
        let pkcs11 = module(module_path)?;
        let err = |e: cryptoki::error::Error| DsigError::Pkcs11(e.to_string());
        let slot = pkcs11
            .get_slots_with_token()
            .map_err(err)?
            .into_iter()
            .find(|s| {
                pkcs11
                    .get_token_info(*s)
                    .map(|t| t.label().trim_end() == label)
                    .unwrap_or(false)
            })
            .ok_or_else(|| DsigError::Pkcs11(format!("no token labelled {label:?}")))?;
        let session = pkcs11.open_ro_session(slot).map_err(err)?;
        session
            .login(UserType::User, Some(&AuthPin::new(pin.into())))
            .map_err(|e| match e {
                cryptoki::error::Error::Pkcs11(RvError::PinIncorrect, _) => DsigError::PinIncorrect,
                cryptoki::error::Error::Pkcs11(RvError::PinLocked, _) => DsigError::PinLocked,
                other => err(other),
            })?;
        Ok(Pkcs11Token {
            session: Mutex::new(session),
        })
    }

    /// A signer for the private key with CKA_ID `key_id`.
    pub fn signer(
        self,
        key_id: &[u8],
        algorithm: SignatureAlgorithm,
        certificate_der: Option<Vec<u8>>,
    ) -> Result<Pkcs11Signer, DsigError> {
        let key = {
            let session = self
                .session
                .lock()
                .map_err(|_| DsigError::Pkcs11("session poisoned".into()))?;
            session
                .find_objects(&[
                    Attribute::Class(ObjectClass::PRIVATE_KEY),
                    Attribute::Id(key_id.to_vec()),
                ])
                .map_err(|e| DsigError::Pkcs11(e.to_string()))?
                .into_iter()
                .next()
                .ok_or_else(|| DsigError::Pkcs11("private key not found on token".into()))?
        };
        Ok(Pkcs11Signer {
            token: self,
            key,
            algorithm,
            certificate_der,
        })
    }
}

/// A private key on a PKCS#11 token.
pub struct Pkcs11Signer {
    token: Pkcs11Token,
    key: ObjectHandle,
    algorithm: SignatureAlgorithm,
    certificate_der: Option<Vec<u8>>,
}

impl Signer for Pkcs11Signer {
    fn algorithm(&self) -> SignatureAlgorithm {
        self.algorithm
    }

    fn sign(&self, data: &[u8]) -> Result<Vec<u8>, DsigError> {
        let digest_alg = self.algorithm.digest();
        let hash = digest_alg.hash(data)?;
        let (mechanism, input) = if self.algorithm.is_ecdsa() {
            // CKM_ECDSA signs a precomputed hash and returns r||s, the XML-DSig form.
            (Mechanism::Ecdsa, hash)
        } else {
            // Raw PKCS#1 v1.5 over DigestInfo, as a JPKI card (and OpenSC's driver) expects.
            let mut digest_info = digest_alg.digest_info_prefix().to_vec();
            digest_info.extend_from_slice(&hash);
            (Mechanism::RsaPkcs, digest_info)
        };
        let session = self
            .token
            .session
            .lock()
            .map_err(|_| DsigError::Pkcs11("session poisoned".into()))?;
        session
            .sign(&mechanism, self.key, &input)
            .map_err(|e| DsigError::Pkcs11(e.to_string()))
    }

    fn certificate_der(&self) -> Option<&[u8]> {
        self.certificate_der.as_deref()
    }
}
