//! Cards through PKCS#11: SoftHSM2 virtual cards of the test PKI or a real card through OpenSC's
//! JPKI driver — one code path, two ways of naming tokens and counting PIN tries.
//!
//! A JPKI card shows up as two tokens, one per PIN (see `certs::pkcs11` for the layout):
//!
//! | mode | user authentication (4-digit PIN) | signature (6–16 character password) | card id |
//! |---|---|---|---|
//! | `virtual` | `JPKI-AUTH <card number>` | `JPKI-SIGN <card number>` | the card number |
//! | `opensc` | `JPKI (User Authentication PIN)` | `JPKI (Digital Signature PIN)` | `r` + 8 hex of SHA-256(reader name) |
//!
//! Every token operation in the process takes one lock: PKCS#11 login state belongs to the token
//! and is shared by all sessions of the process, and a card does one thing at a time anyway.
//! Before each login the agent logs out whatever session state was left, so a PIN is always
//! checked by the token.

use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard, OnceLock};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use openssl::hash::MessageDigest;
use openssl::x509::X509;

use super::config::{AgentConfig, Mode, OPENSC_MODULE, PIN_TRIES_FILE};
use super::pin::{Pin, PinFormatError};
use super::protocol::{CardEntry, Kind, PinState, TokenEntry};
use super::tries::{TriesError, TriesFile};

const VIRTUAL_AUTH_PREFIX: &str = "JPKI-AUTH ";
const VIRTUAL_SIGN_PREFIX: &str = "JPKI-SIGN ";
const OPENSC_AUTH_SUFFIX: &str = "(User Authentication PIN)";
const OPENSC_SIGN_SUFFIX: &str = "(Digital Signature PIN)";

/// What went wrong with a card operation.
#[derive(Debug, thiserror::Error)]
pub enum CardError {
    #[error("no such card, or that key is not on it")]
    UnknownCard,
    #[error("the signature certificate can only be read after the signature password")]
    PinRequired,
    #[error("{0}")]
    PinFormat(PinFormatError),
    #[error("wrong PIN ({} tries left)", tries_left.map(|n| n.to_string()).unwrap_or_else(|| "fewer".into()))]
    PinIncorrect { tries_left: Option<u32> },
    #[error("the PIN is locked: the card must be reset at the city office")]
    PinLocked,
    #[error("demo mode has no PIN for this card in the manifest")]
    DemoPinUnavailable,
    #[error("card error: {0}")]
    Token(String),
    #[error(transparent)]
    Tries(#[from] TriesError),
}

impl From<certs::Error> for CardError {
    fn from(e: certs::Error) -> Self {
        match e {
            certs::Error::TokenNotFound(_) => CardError::UnknownCard,
            other => CardError::Token(other.to_string()),
        }
    }
}

fn ck(what: &'static str) -> impl Fn(CkError) -> CardError {
    move |e| CardError::Token(format!("{what}: {e}"))
}

/// A signature made on a card and the certificate of the key that made it.
#[derive(Clone)]
pub struct Signed {
    pub signature: Vec<u8>,
    pub certificate: Vec<u8>,
}

#[derive(Debug, Clone)]
struct TokenRef {
    slot: Slot,
    label: String,
    kind: Kind,
    card: String,
    reader: String,
}

/// The cards reachable through one PKCS#11 module.
pub struct CardReader {
    mode: Mode,
    pkcs11: &'static Pkcs11,
    manifest: Option<certs::Manifest>,
    tries: Option<TriesFile>,
    module: PathBuf,
}

/// One lock for every token operation of the process.
fn token_lock() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// Process-wide contexts of modules other than the test PKI's SoftHSM2 (whose context
/// `certs::pkcs11::context` owns): `C_Initialize` runs once per module and process.
fn module_context(module: &std::path::Path) -> Result<&'static Pkcs11, CardError> {
    static MODULES: OnceLock<Mutex<Vec<(PathBuf, &'static Pkcs11)>>> = OnceLock::new();
    let mut modules = MODULES
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if let Some((_, ctx)) = modules.iter().find(|(p, _)| p == module) {
        return Ok(ctx);
    }
    if !module.exists() {
        return Err(CardError::Token(format!(
            "PKCS#11 module {} not found (install opensc)",
            module.display()
        )));
    }
    let pkcs11 = Pkcs11::new(module).map_err(ck("loading the PKCS#11 module"))?;
    match pkcs11.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        Ok(()) | Err(CkError::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
        Err(e) => return Err(ck("C_Initialize")(e)),
    }
    let ctx: &'static Pkcs11 = Box::leak(Box::new(pkcs11));
    modules.push((module.to_path_buf(), ctx));
    Ok(ctx)
}

/// Short card id of an OpenSC reader: `r` + 8 hex digits of SHA-256(reader name).
fn reader_card_id(reader: &str) -> String {
    let digest = openssl::sha::sha256(reader.as_bytes());
    let hex: String = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
    format!("r{hex}")
}

impl CardReader {
    /// Opens the PKCS#11 module of `config` (the configuration must be valid).
    pub fn open(config: &AgentConfig) -> Result<CardReader, CardError> {
        match config.mode {
            Mode::Virtual => {
                let dir = config
                    .pki_dir
                    .as_ref()
                    .ok_or_else(|| CardError::Token("virtual mode needs pki_dir".into()))?;
                let pki = certs::Pki::load(dir)?;
                let module = config
                    .pkcs11_module
                    .clone()
                    .unwrap_or_else(|| pki.manifest.softhsm.module.clone());
                let pkcs11 = certs::pkcs11::context(&module, &pki.manifest.softhsm.conf)?;
                let tries_path = config
                    .pin_tries_file
                    .clone()
                    .unwrap_or_else(|| pki.dir.join(PIN_TRIES_FILE));
                Ok(CardReader {
                    mode: Mode::Virtual,
                    pkcs11,
                    manifest: Some(pki.manifest),
                    tries: Some(TriesFile::new(tries_path)),
                    module,
                })
            }
            Mode::Opensc => {
                let module = config
                    .pkcs11_module
                    .clone()
                    .unwrap_or_else(|| PathBuf::from(OPENSC_MODULE));
                Ok(CardReader {
                    mode: Mode::Opensc,
                    pkcs11: module_context(&module)?,
                    manifest: None,
                    tries: None,
                    module,
                })
            }
        }
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    pub fn module(&self) -> &std::path::Path {
        &self.module
    }

    /// The try-counter file (virtual mode).
    pub fn tries_file(&self) -> Option<&TriesFile> {
        self.tries.as_ref()
    }

    fn classify(&self, slot: Slot, label: &str) -> Option<(Kind, String, String)> {
        match self.mode {
            Mode::Virtual => {
                let (kind, card) = if let Some(c) = label.strip_prefix(VIRTUAL_AUTH_PREFIX) {
                    (Kind::Auth, c)
                } else {
                    (Kind::Sign, label.strip_prefix(VIRTUAL_SIGN_PREFIX)?)
                };
                Some((kind, card.to_string(), "SoftHSM2 virtual card".to_string()))
            }
            Mode::Opensc => {
                let kind = if label.ends_with(OPENSC_AUTH_SUFFIX) {
                    Kind::Auth
                } else if label.ends_with(OPENSC_SIGN_SUFFIX) {
                    Kind::Sign
                } else {
                    return None;
                };
                let reader = self
                    .pkcs11
                    .get_slot_info(slot)
                    .map(|i| i.slot_description().trim_end().to_string())
                    .unwrap_or_default();
                Some((kind, reader_card_id(&reader), reader))
            }
        }
    }

    /// Every JPKI token present, in slot order (caller holds the token lock).
    fn tokens(&self) -> Result<Vec<TokenRef>, CardError> {
        let mut out = Vec::new();
        for slot in self
            .pkcs11
            .get_slots_with_token()
            .map_err(ck("C_GetSlotList"))?
        {
            let Ok(info) = self.pkcs11.get_token_info(slot) else {
                continue;
            };
            if !info.token_initialized() {
                continue;
            }
            let label = info.label().trim_end().to_string();
            if let Some((kind, card, reader)) = self.classify(slot, &label) {
                out.push(TokenRef {
                    slot,
                    label,
                    kind,
                    card,
                    reader,
                });
            }
        }
        Ok(out)
    }

    fn find(&self, card: &str, kind: Kind) -> Result<TokenRef, CardError> {
        self.tokens()?
            .into_iter()
            .find(|t| t.card == card && t.kind == kind)
            .ok_or(CardError::UnknownCard)
    }

    fn pin_state(&self, t: &TokenRef) -> Result<PinState, CardError> {
        let max = t.kind.max_tries();
        if let Some(tries) = &self.tries {
            let left = tries.tries_left(&t.label, t.kind)?;
            return Ok(PinState {
                tries_left: Some(left),
                max_tries: max,
                count_low: left < max,
                final_try: left == 1,
                locked: left == 0,
            });
        }
        let info = self
            .pkcs11
            .get_token_info(t.slot)
            .map_err(ck("C_GetTokenInfo"))?;
        let (locked, final_try, count_low) = (
            info.user_pin_locked(),
            info.user_pin_final_try(),
            info.user_pin_count_low(),
        );
        // OpenSC sets FINAL_TRY at one try left, COUNT_LOW between one and the maximum.
        let tries_left = if locked {
            Some(0)
        } else if final_try {
            Some(1)
        } else if count_low {
            (max == 3).then_some(2)
        } else {
            Some(max)
        };
        Ok(PinState {
            tries_left,
            max_tries: max,
            count_low: count_low || final_try || locked,
            final_try,
            locked,
        })
    }

    /// The cards present, with their tokens and PIN states.
    pub fn list(&self) -> Result<Vec<CardEntry>, CardError> {
        let _g = token_lock();
        let mut cards: Vec<CardEntry> = Vec::new();
        for t in self.tokens()? {
            let entry = TokenEntry {
                kind: t.kind,
                label: t.label.clone(),
                pin: self.pin_state(&t)?,
            };
            match cards.iter_mut().find(|c| c.card == t.card) {
                Some(c) => {
                    if !c.kinds.contains(&t.kind) {
                        c.kinds.push(t.kind);
                    }
                    c.tokens.push(entry);
                }
                None => cards.push(CardEntry {
                    card: t.card.clone(),
                    reader: t.reader.clone(),
                    kinds: vec![t.kind],
                    tokens: vec![entry],
                }),
            }
        }
        for c in &mut cards {
            c.kinds.sort_by_key(|k| *k as u8);
            c.tokens.sort_by_key(|t| t.kind as u8);
        }
        cards.sort_by(|a, b| a.card.cmp(&b.card));
        Ok(cards)
    }

    /// Whether the token of (card, kind) is present; its PIN state if so.
    pub fn check(&self, card: &str, kind: Kind) -> Result<PinState, CardError> {
        let _g = token_lock();
        let t = self.find(card, kind)?;
        self.pin_state(&t)
    }

    /// Reads the user-authentication certificate (DER) **without a PIN**, as EF 000A of a JPKI
    /// card is readable by anyone holding the card. The signature certificate needs the password.
    pub fn certificate(&self, card: &str, kind: Kind) -> Result<Vec<u8>, CardError> {
        if kind == Kind::Sign {
            return Err(CardError::PinRequired);
        }
        let _g = token_lock();
        let tokens = self.tokens()?;
        let own = tokens
            .iter()
            .find(|t| t.card == card && t.kind == kind)
            .ok_or(CardError::UnknownCard)?;
        // With OpenSC a public object may be listed on the card's other slot.
        let candidates = std::iter::once(own).chain(
            tokens
                .iter()
                .filter(|t| t.card == card && t.slot != own.slot),
        );
        for t in candidates {
            let session = self
                .pkcs11
                .open_ro_session(t.slot)
                .map_err(ck("C_OpenSession"))?;
            if let Some(der) = certs::pkcs11::read_certificate(&session, kind.pkcs11_id())? {
                return Ok(der);
            }
        }
        Err(CardError::Token(
            "no user-authentication certificate on the card".into(),
        ))
    }

    /// The PIN of a virtual card from the manifest (demo/test mode).
    pub fn demo_pin(&self, card: &str, kind: Kind) -> Result<Pin, CardError> {
        let manifest = self
            .manifest
            .as_ref()
            .ok_or(CardError::DemoPinUnavailable)?;
        let c = manifest.card(card).ok_or(CardError::DemoPinUnavailable)?;
        let token = match kind {
            Kind::Auth => &c.auth_token,
            Kind::Sign => &c.sign_token,
        };
        Pin::parse(kind, &token.pin).map_err(|_| CardError::DemoPinUnavailable)
    }

    /// Verifies `pin` on the card and signs `data` with the key of `kind`: SHA-256 DigestInfo
    /// built here, `CKM_RSA_PKCS` on the token (PKCS#1 v1.5), exactly as a JPKI card's COMPUTE
    /// DIGITAL SIGNATURE. Returns the signature and the certificate of that key, checked to
    /// verify each other. A locked PIN is refused before the token is touched.
    pub fn sign(
        &self,
        card: &str,
        kind: Kind,
        pin: &Pin,
        data: &[u8],
    ) -> Result<Signed, CardError> {
        let _g = token_lock();
        let t = self.find(card, kind)?;
        if self.pin_state(&t)?.locked {
            return Err(CardError::PinLocked);
        }
        let session = self
            .pkcs11
            .open_ro_session(t.slot)
            .map_err(ck("C_OpenSession"))?;
        // Whatever login another session of this process left on the token is dropped, so the
        // token itself checks this PIN.
        let _ = session.logout();
        match session.login(UserType::User, Some(&pin.auth_pin())) {
            Ok(()) => {}
            Err(CkError::Pkcs11(RvError::PinIncorrect, _)) => return Err(self.wrong_pin(&t)?),
            Err(CkError::Pkcs11(RvError::PinLocked, _)) => return Err(CardError::PinLocked),
            Err(CkError::Pkcs11(RvError::PinLenRange | RvError::PinInvalid, _)) => {
                return Err(CardError::PinFormat(match kind {
                    Kind::Auth => PinFormatError::Auth,
                    Kind::Sign => PinFormatError::Sign,
                }))
            }
            Err(e) => return Err(ck("C_Login")(e)),
        }
        if let Some(tries) = &self.tries {
            if let Err(e) = tries.record_success(&t.label) {
                let _ = session.logout();
                return Err(e.into());
            }
        }
        let result = self.sign_logged_in(&session, kind, data);
        let _ = session.logout();
        let signed = result?;
        check_pair(&signed, data)?;
        Ok(signed)
    }

    fn sign_logged_in(
        &self,
        session: &Session,
        kind: Kind,
        data: &[u8],
    ) -> Result<Signed, CardError> {
        let signature = certs::pkcs11::sign_sha256(session, kind.pkcs11_id(), data)?;
        let certificate = certs::pkcs11::read_certificate(session, kind.pkcs11_id())?
            .ok_or_else(|| CardError::Token(format!("no {kind} certificate on the card")))?;
        Ok(Signed {
            signature,
            certificate,
        })
    }

    /// After `CKR_PIN_INCORRECT`: count it (virtual) or read the card's flags (OpenSC).
    fn wrong_pin(&self, t: &TokenRef) -> Result<CardError, CardError> {
        if let Some(tries) = &self.tries {
            let left = tries.record_failure(&t.label, t.kind)?;
            return Ok(if left == 0 {
                CardError::PinLocked
            } else {
                CardError::PinIncorrect {
                    tries_left: Some(left),
                }
            });
        }
        let state = self.pin_state(t)?;
        Ok(if state.locked {
            CardError::PinLocked
        } else {
            CardError::PinIncorrect {
                tries_left: state.tries_left,
            }
        })
    }
}

/// The certificate's public key verifies the signature over `data` (catches a certificate that
/// does not belong to the key).
fn check_pair(signed: &Signed, data: &[u8]) -> Result<(), CardError> {
    let bad = |m: String| CardError::Token(m);
    let cert = X509::from_der(&signed.certificate).map_err(|e| bad(format!("certificate: {e}")))?;
    let key = cert
        .public_key()
        .map_err(|e| bad(format!("certificate key: {e}")))?;
    let mut v = openssl::sign::Verifier::new(MessageDigest::sha256(), &key)
        .map_err(|e| bad(e.to_string()))?;
    v.set_rsa_padding(openssl::rsa::Padding::PKCS1)
        .map_err(|e| bad(e.to_string()))?;
    match v.verify_oneshot(&signed.signature, data) {
        Ok(true) => Ok(()),
        _ => Err(bad(
            "the card's signature does not verify with its certificate".into(),
        )),
    }
}
