//! Virtual JPKI cards in SoftHSM2, reached through PKCS#11 (`cryptoki`).
//!
//! ## Card layout (mirrors OpenSC's `pkcs15-jpki.c`)
//!
//! OpenSC exposes a JPKI card as one slot per PIN, so each virtual card is **two tokens**:
//!
//! | token `JPKI-AUTH <card>` (PIN: 4 digits) | token `JPKI-SIGN <card>` (password: 6–16 `[A-Z0-9]`) |
//! |---|---|
//! | cert `01` "User Authentication Certificate" — public (readable without login, as EF 000A) | cert `02` "Digital Signature Certificate" — **private** (readable only after login, as EF 0001) |
//! | cert `03` "User Authentication Certificate CA" — public | cert `04` "Digital Signature Certificate CA" — public |
//! | cert `04` "Digital Signature Certificate CA" — public | public key `02` "Digital Signature Key" — private |
//! | public key `01` "User Authentication Key" — public | private key `02` "Digital Signature Key" — private, sensitive, non-extractable, sign only |
//! | private key `01` "User Authentication Key" — private, sensitive, non-extractable, sign only | |
//!
//! Signing is `CKM_RSA_PKCS` over a SHA-256 DigestInfo built by the host
//! ([`sha256_digest_info`]), exactly what a JPKI card's COMPUTE DIGITAL SIGNATURE does.
//! The label of a real card through OpenSC is `JPKI (User Authentication PIN)` /
//! `JPKI (Digital Signature PIN)`; the virtual labels add the card number so that many cards can
//! coexist in one SoftHSM2 token folder.
//!
//! ## One PKCS#11 context per process
//!
//! SoftHSM2 reads `SOFTHSM2_CONF` once, in `C_Initialize`, and `C_Initialize` must run once per
//! process (concurrent initialisation has crashed SoftHSM2). [`context`] keeps the single
//! [`Pkcs11`] in a `OnceLock`, sets `SOFTHSM2_CONF` before initialising, and refuses a second,
//! different configuration in the same process ([`Error::SoftHsmConfMismatch`]). A [`Session`]
//! is `Send` but not `Sync`: open one per thread. PKCS#11 login state is per token and shared by
//! every session of the process.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::RvError;
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, CertificateType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;
use openssl::hash::{hash, MessageDigest};
use openssl::pkey::{PKey, Private};
use openssl::x509::X509;

use crate::jpki::CardMaterial;
use crate::manifest::Token;
use crate::Error;

/// Debian's SoftHSM2 PKCS#11 module.
pub const SOFTHSM2_MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";

/// DER prefix of a SHA-256 DigestInfo (`SEQUENCE { AlgorithmIdentifier sha256 NULL, OCTET STRING(32) }`).
pub const SHA256_DIGEST_INFO_PREFIX: [u8; 19] = [
    0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05,
    0x00, 0x04, 0x20,
];

/// CKA_ID of the user-authentication certificate and key.
pub const ID_AUTH: [u8; 1] = [0x01];
/// CKA_ID of the signature certificate and key.
pub const ID_SIGN: [u8; 1] = [0x02];
/// CKA_ID of the user-authentication CA certificate.
pub const ID_AUTH_CA: [u8; 1] = [0x03];
/// CKA_ID of the signature CA certificate.
pub const ID_SIGN_CA: [u8; 1] = [0x04];

pub const LABEL_AUTH_CERT: &str = "User Authentication Certificate";
pub const LABEL_SIGN_CERT: &str = "Digital Signature Certificate";
pub const LABEL_AUTH_CA_CERT: &str = "User Authentication Certificate CA";
pub const LABEL_SIGN_CA_CERT: &str = "Digital Signature Certificate CA";
pub const LABEL_AUTH_KEY: &str = "User Authentication Key";
pub const LABEL_SIGN_KEY: &str = "Digital Signature Key";

/// SHA-256 DigestInfo of `data`: the input of `CKM_RSA_PKCS` on a JPKI card.
pub fn sha256_digest_info(data: &[u8]) -> Result<Vec<u8>, Error> {
    let digest = hash(MessageDigest::sha256(), data)?;
    Ok([&SHA256_DIGEST_INFO_PREFIX[..], &digest[..]].concat())
}

struct Context {
    pkcs11: Pkcs11,
    module: PathBuf,
    conf: PathBuf,
}

static CONTEXT: OnceLock<Context> = OnceLock::new();
static INIT: Mutex<()> = Mutex::new(());

fn same_path(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}

/// The process-wide PKCS#11 context for `module` with `SOFTHSM2_CONF=conf`.
///
/// The first call sets `SOFTHSM2_CONF` in the process environment and runs `C_Initialize`
/// (OS locking); later calls return the same context if module and conf are the same, or
/// [`Error::SoftHsmConfMismatch`].
pub fn context(module: &Path, conf: &Path) -> Result<&'static Pkcs11, Error> {
    let check = |c: &'static Context| -> Result<&'static Pkcs11, Error> {
        if same_path(&c.module, module) && same_path(&c.conf, conf) {
            Ok(&c.pkcs11)
        } else {
            Err(Error::SoftHsmConfMismatch {
                initialized: c.conf.clone(),
                requested: conf.to_path_buf(),
            })
        }
    };
    if let Some(c) = CONTEXT.get() {
        return check(c);
    }
    let _guard = INIT
        .lock()
        .map_err(|_| Error::Internal("PKCS#11 init lock poisoned".into()))?;
    if let Some(c) = CONTEXT.get() {
        return check(c);
    }
    if !module.exists() {
        return Err(Error::SoftHsmMissing(module.to_path_buf()));
    }
    // SoftHSM2 reads the variable in C_Initialize only. Setting it here is the only way to give
    // it a configuration; this runs once, under INIT, before the library is initialised.
    std::env::set_var("SOFTHSM2_CONF", conf);
    let pkcs11 = Pkcs11::new(module).map_err(pk("loading the PKCS#11 module"))?;
    match pkcs11.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        Ok(()) => {}
        // Someone else in this process initialised the same module: its configuration wins and
        // is unknown to us, which `generate` detects by checking where the tokens landed.
        Err(cryptoki::error::Error::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
        Err(e) => return Err(pk("C_Initialize")(e)),
    }
    let ctx = CONTEXT.get_or_init(|| Context {
        pkcs11,
        module: module.to_path_buf(),
        conf: conf.to_path_buf(),
    });
    check(ctx)
}

/// Maps a cryptoki error with what we were doing.
pub(crate) fn pk(what: &'static str) -> impl Fn(cryptoki::error::Error) -> Error {
    move |source| Error::Pkcs11 { what, source }
}

/// The slot holding the token with this label.
pub fn find_token(pkcs11: &Pkcs11, label: &str) -> Result<Slot, Error> {
    for slot in pkcs11
        .get_slots_with_initialized_token()
        .map_err(pk("C_GetSlotList"))?
    {
        let info = pkcs11.get_token_info(slot).map_err(pk("C_GetTokenInfo"))?;
        if info.label().trim_end() == label {
            return Ok(slot);
        }
    }
    Err(Error::TokenNotFound(label.to_string()))
}

/// Finds the single object matching `template`.
pub fn find_one(session: &Session, template: &[Attribute]) -> Result<Option<ObjectHandle>, Error> {
    let found = session
        .find_objects(template)
        .map_err(pk("C_FindObjects"))?;
    Ok(found.into_iter().next())
}

/// Signs `data` the way a JPKI card does: SHA-256 DigestInfo computed on the host, then
/// `CKM_RSA_PKCS` with the private key of CKA_ID `id` (the session must be logged in).
pub fn sign_sha256(session: &Session, id: &[u8], data: &[u8]) -> Result<Vec<u8>, Error> {
    let key = find_one(
        session,
        &[
            Attribute::Class(ObjectClass::PRIVATE_KEY),
            Attribute::Id(id.to_vec()),
        ],
    )?
    .ok_or_else(|| Error::TokenObjectMissing(format!("private key {}", crate::common::hex(id))))?;
    let digest_info = sha256_digest_info(data)?;
    session
        .sign(&Mechanism::RsaPkcs, key, &digest_info)
        .map_err(pk("C_Sign"))
}

/// Reads the DER value of the certificate with CKA_ID `id`, if visible in this session.
pub fn read_certificate(session: &Session, id: &[u8]) -> Result<Option<Vec<u8>>, Error> {
    let Some(handle) = find_one(
        session,
        &[
            Attribute::Class(ObjectClass::CERTIFICATE),
            Attribute::Id(id.to_vec()),
        ],
    )?
    else {
        return Ok(None);
    };
    let attrs = session
        .get_attributes(handle, &[cryptoki::object::AttributeType::Value])
        .map_err(pk("C_GetAttributeValue"))?;
    Ok(attrs.into_iter().find_map(|a| match a {
        Attribute::Value(v) => Some(v),
        _ => None,
    }))
}

fn pin(s: &str) -> AuthPin {
    AuthPin::from(s.to_string())
}

fn first_free_slot(pkcs11: &Pkcs11) -> Result<Slot, Error> {
    for slot in pkcs11.get_slots_with_token().map_err(pk("C_GetSlotList"))? {
        let info = pkcs11.get_token_info(slot).map_err(pk("C_GetTokenInfo"))?;
        if !info.token_initialized() {
            return Ok(slot);
        }
    }
    Err(Error::SoftHsm("SoftHSM2 offers no free slot".into()))
}

fn cert_template(
    cert: &X509,
    id: &[u8],
    label: &str,
    private: bool,
) -> Result<Vec<Attribute>, Error> {
    // CKA_SERIAL_NUMBER is the DER INTEGER.
    let serial_der = {
        let content = cert.serial_number().to_bn()?.to_vec();
        let content = if content.first().is_some_and(|b| b & 0x80 != 0) {
            [&[0u8][..], &content[..]].concat()
        } else if content.is_empty() {
            vec![0]
        } else {
            content
        };
        crate::der::tlv(0x02, &content)
    };
    Ok(vec![
        Attribute::Class(ObjectClass::CERTIFICATE),
        Attribute::CertificateType(CertificateType::X_509),
        Attribute::Token(true),
        Attribute::Private(private),
        Attribute::Modifiable(false),
        Attribute::Id(id.to_vec()),
        Attribute::Label(label.as_bytes().to_vec()),
        Attribute::Subject(cert.subject_name().to_der()?),
        Attribute::Issuer(cert.issuer_name().to_der()?),
        Attribute::SerialNumber(serial_der),
        Attribute::Value(cert.to_der()?),
    ])
}

fn key_templates(
    key: &PKey<Private>,
    id: &[u8],
    label: &str,
    public_key_private: bool,
) -> Result<(Vec<Attribute>, Vec<Attribute>), Error> {
    let rsa = key.rsa()?;
    let need = |v: Option<&openssl::bn::BigNumRef>| {
        v.map(|b| b.to_vec())
            .ok_or_else(|| Error::Internal("RSA key without CRT components".into()))
    };
    let private = vec![
        Attribute::Class(ObjectClass::PRIVATE_KEY),
        Attribute::KeyType(KeyType::RSA),
        Attribute::Token(true),
        Attribute::Private(true),
        Attribute::Sensitive(true),
        Attribute::Extractable(false),
        Attribute::Modifiable(false),
        Attribute::Sign(true),
        Attribute::SignRecover(false),
        Attribute::Decrypt(false),
        Attribute::Unwrap(false),
        Attribute::Derive(false),
        Attribute::Id(id.to_vec()),
        Attribute::Label(label.as_bytes().to_vec()),
        Attribute::Modulus(rsa.n().to_vec()),
        Attribute::PublicExponent(rsa.e().to_vec()),
        Attribute::PrivateExponent(rsa.d().to_vec()),
        Attribute::Prime1(need(rsa.p())?),
        Attribute::Prime2(need(rsa.q())?),
        Attribute::Exponent1(need(rsa.dmp1())?),
        Attribute::Exponent2(need(rsa.dmq1())?),
        Attribute::Coefficient(need(rsa.iqmp())?),
    ];
    let public = vec![
        Attribute::Class(ObjectClass::PUBLIC_KEY),
        Attribute::KeyType(KeyType::RSA),
        Attribute::Token(true),
        Attribute::Private(public_key_private),
        Attribute::Modifiable(false),
        Attribute::Verify(true),
        Attribute::Encrypt(false),
        Attribute::Wrap(false),
        Attribute::Id(id.to_vec()),
        Attribute::Label(label.as_bytes().to_vec()),
        Attribute::Modulus(rsa.n().to_vec()),
        Attribute::PublicExponent(rsa.e().to_vec()),
    ];
    Ok((private, public))
}

/// Creates one initialised token and returns (slot, serial).
fn init_token(
    pkcs11: &Pkcs11,
    label: &str,
    so_pin: &str,
    user_pin: &str,
) -> Result<(Slot, String), Error> {
    let free = first_free_slot(pkcs11)?;
    pkcs11
        .init_token(free, &pin(so_pin), label)
        .map_err(pk("C_InitToken"))?;
    // SoftHSM2 moves an initialised token to a slot ID derived from its serial.
    let slot = find_token(pkcs11, label)?;
    let session = pkcs11.open_rw_session(slot).map_err(pk("C_OpenSession"))?;
    session
        .login(UserType::So, Some(&pin(so_pin)))
        .map_err(pk("C_Login(SO)"))?;
    session.init_pin(&pin(user_pin)).map_err(pk("C_InitPIN"))?;
    session.logout().map_err(pk("C_Logout"))?;
    drop(session);
    let serial = pkcs11
        .get_token_info(slot)
        .map_err(pk("C_GetTokenInfo"))?
        .serial_number()
        .trim()
        .to_string();
    Ok((slot, serial))
}

/// Writes both tokens of every card and fills in their serials.
pub(crate) fn write_cards(
    pkcs11: &Pkcs11,
    so_pin: &str,
    cards: &mut [CardMaterial],
) -> Result<(), Error> {
    for m in cards.iter_mut() {
        // Authentication token: its certificate is public (read without the PIN, as on a card).
        let (private, public) = key_templates(&m.auth_key, &ID_AUTH, LABEL_AUTH_KEY, false)?;
        let objects = [
            cert_template(&m.auth_cert, &ID_AUTH, LABEL_AUTH_CERT, false)?,
            cert_template(&m.auth_ca, &ID_AUTH_CA, LABEL_AUTH_CA_CERT, false)?,
            cert_template(&m.sign_ca, &ID_SIGN_CA, LABEL_SIGN_CA_CERT, false)?,
            public,
            private,
        ];
        m.card.auth_token.serial = write_token(pkcs11, so_pin, &m.card.auth_token, &objects)?;
        // Signature token: its certificate is private (readable only after the password).
        let (private, public) = key_templates(&m.sign_key, &ID_SIGN, LABEL_SIGN_KEY, true)?;
        let objects = [
            cert_template(&m.sign_cert, &ID_SIGN, LABEL_SIGN_CERT, true)?,
            cert_template(&m.sign_ca, &ID_SIGN_CA, LABEL_SIGN_CA_CERT, false)?,
            public,
            private,
        ];
        m.card.sign_token.serial = write_token(pkcs11, so_pin, &m.card.sign_token, &objects)?;
    }
    Ok(())
}

/// Initializes one token, logs in with its PIN, creates `objects`, and returns its serial.
fn write_token(
    pkcs11: &Pkcs11,
    so_pin: &str,
    token: &Token,
    objects: &[Vec<Attribute>],
) -> Result<String, Error> {
    let (slot, serial) = init_token(pkcs11, &token.label, so_pin, &token.pin)?;
    let session = pkcs11.open_rw_session(slot).map_err(pk("C_OpenSession"))?;
    session
        .login(UserType::User, Some(&pin(&token.pin)))
        .map_err(pk("C_Login"))?;
    for template in objects {
        session
            .create_object(template)
            .map_err(pk("C_CreateObject"))?;
    }
    session.logout().map_err(pk("C_Logout"))?;
    Ok(serial)
}

/// Writes `softhsm2.conf` pointing at `token_dir`.
pub(crate) fn softhsm_conf(token_dir: &Path) -> String {
    format!(
        "# Written by the certs crate: virtual JPKI cards of the test PKI.\n\
         directories.tokendir = {}\n\
         objectstore.backend = file\n\
         log.level = ERROR\n\
         slots.removable = false\n",
        token_dir.display()
    )
}

/// The `directories.tokendir` value of a softhsm2.conf text.
pub(crate) fn conf_token_dir(conf_text: &str) -> Option<PathBuf> {
    conf_text.lines().find_map(|l| {
        let l = l.trim();
        let rest = l.strip_prefix("directories.tokendir")?;
        Some(PathBuf::from(rest.trim_start().strip_prefix('=')?.trim()))
    })
}
