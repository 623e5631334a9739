//! XML Encryption for `saml:EncryptedAssertion`, `saml:EncryptedID` and `saml:EncryptedAttribute`:
//! RSA-OAEP key transport (MGF1-SHA1 and the XML Encryption 1.1 form with SHA-256) and AES-128/256
//! in GCM or CBC. Decryption tries every configured key (rollover) and returns the plaintext element
//! as a new document; it proves nothing about who made it, so the caller then verifies its signature
//! like any other (an encrypted but unsigned assertion is refused there).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use openssl::encrypt::{Decrypter, Encrypter};
use openssl::hash::MessageDigest;
use openssl::pkey::{Id, PKey, Private, Public};
use openssl::rand::rand_bytes;
use openssl::rsa::Padding;
use openssl::symm::{decrypt_aead, encrypt_aead, Cipher, Crypter, Mode};
use openssl::x509::X509;

use crate::ns::{DS, XENC, XENC11};
use crate::xml::{parse_in_context, parse_with, Document, Element, ParseLimits, XmlError};

pub const AES128_CBC: &str = "http://www.w3.org/2001/04/xmlenc#aes128-cbc";
pub const AES256_CBC: &str = "http://www.w3.org/2001/04/xmlenc#aes256-cbc";
pub const AES128_GCM: &str = "http://www.w3.org/2009/xmlenc11#aes128-gcm";
pub const AES256_GCM: &str = "http://www.w3.org/2009/xmlenc11#aes256-gcm";
pub const RSA_OAEP_MGF1P: &str = "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p";
pub const RSA_OAEP: &str = "http://www.w3.org/2009/xmlenc11#rsa-oaep";
pub const MGF1_SHA1: &str = "http://www.w3.org/2009/xmlenc11#mgf1sha1";
pub const MGF1_SHA256: &str = "http://www.w3.org/2009/xmlenc11#mgf1sha256";
pub const TYPE_ELEMENT: &str = "http://www.w3.org/2001/04/xmlenc#Element";
const SHA1_URI: &str = "http://www.w3.org/2000/09/xmldsig#sha1";
const SHA256_URI: &str = "http://www.w3.org/2001/04/xmlenc#sha256";

/// Why encryption or decryption failed.
#[derive(Debug, thiserror::Error)]
pub enum XencError {
    #[error("no EncryptedData element")]
    NoEncryptedData,
    #[error("no EncryptedKey could be found for the EncryptedData")]
    NoEncryptedKey,
    #[error("encryption algorithm {0:?} is not supported")]
    UnsupportedAlgorithm(String),
    #[error("none of the configured keys decrypts the content key")]
    NoMatchingKey,
    #[error("content does not decrypt (wrong key, or tampered)")]
    BadCiphertext,
    #[error("malformed base64 in {0}")]
    Base64(&'static str),
    #[error("EncryptedData structure: {0}")]
    Structure(String),
    #[error("decrypted content is not one element: {0}")]
    Plaintext(XmlError),
    #[error(transparent)]
    Xml(#[from] XmlError),
    #[error("crypto: {0}")]
    Crypto(#[from] openssl::error::ErrorStack),
}

/// Content encryption algorithms the profile allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContentAlgorithm {
    Aes128Gcm,
    Aes256Gcm,
    Aes128Cbc,
    Aes256Cbc,
}

impl ContentAlgorithm {
    pub fn uri(self) -> &'static str {
        match self {
            ContentAlgorithm::Aes128Gcm => AES128_GCM,
            ContentAlgorithm::Aes256Gcm => AES256_GCM,
            ContentAlgorithm::Aes128Cbc => AES128_CBC,
            ContentAlgorithm::Aes256Cbc => AES256_CBC,
        }
    }

    fn from_uri(uri: &str) -> Result<Self, XencError> {
        Ok(match uri {
            AES128_GCM => ContentAlgorithm::Aes128Gcm,
            AES256_GCM => ContentAlgorithm::Aes256Gcm,
            AES128_CBC => ContentAlgorithm::Aes128Cbc,
            AES256_CBC => ContentAlgorithm::Aes256Cbc,
            other => return Err(XencError::UnsupportedAlgorithm(other.to_string())),
        })
    }

    fn key_len(self) -> usize {
        match self {
            ContentAlgorithm::Aes128Gcm | ContentAlgorithm::Aes128Cbc => 16,
            ContentAlgorithm::Aes256Gcm | ContentAlgorithm::Aes256Cbc => 32,
        }
    }

    fn cipher(self) -> Cipher {
        match self {
            ContentAlgorithm::Aes128Gcm => Cipher::aes_128_gcm(),
            ContentAlgorithm::Aes256Gcm => Cipher::aes_256_gcm(),
            ContentAlgorithm::Aes128Cbc => Cipher::aes_128_cbc(),
            ContentAlgorithm::Aes256Cbc => Cipher::aes_256_cbc(),
        }
    }

    fn is_gcm(self) -> bool {
        matches!(
            self,
            ContentAlgorithm::Aes128Gcm | ContentAlgorithm::Aes256Gcm
        )
    }

    fn encrypt(self, key: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, XencError> {
        if self.is_gcm() {
            let mut iv = [0u8; 12];
            rand_bytes(&mut iv)?;
            let mut tag = [0u8; 16];
            let ct = encrypt_aead(self.cipher(), key, Some(&iv), &[], plaintext, &mut tag)?;
            Ok([&iv[..], &ct, &tag].concat())
        } else {
            // XML Encryption CBC padding: the last byte says how many bytes to drop (ISO 10126).
            let mut iv = [0u8; 16];
            rand_bytes(&mut iv)?;
            let pad = 16 - plaintext.len() % 16;
            let mut padded = plaintext.to_vec();
            let mut filler = vec![0u8; pad - 1];
            rand_bytes(&mut filler)?;
            padded.extend_from_slice(&filler);
            padded.push(pad as u8);
            let ct = run_cbc(self.cipher(), Mode::Encrypt, key, &iv, &padded)?;
            Ok([&iv[..], &ct].concat())
        }
    }

    fn decrypt(self, key: &[u8], data: &[u8]) -> Result<Vec<u8>, XencError> {
        if key.len() != self.key_len() {
            return Err(XencError::BadCiphertext);
        }
        if self.is_gcm() {
            if data.len() < 12 + 16 {
                return Err(XencError::BadCiphertext);
            }
            let (iv, rest) = data.split_at(12);
            let (ct, tag) = rest.split_at(rest.len() - 16);
            decrypt_aead(self.cipher(), key, Some(iv), &[], ct, tag)
                .map_err(|_| XencError::BadCiphertext)
        } else {
            if data.len() < 32 || data.len() % 16 != 0 {
                return Err(XencError::BadCiphertext);
            }
            let (iv, ct) = data.split_at(16);
            let mut plain = run_cbc(self.cipher(), Mode::Decrypt, key, iv, ct)
                .map_err(|_| XencError::BadCiphertext)?;
            let pad = *plain.last().ok_or(XencError::BadCiphertext)? as usize;
            if pad == 0 || pad > 16 || pad > plain.len() {
                return Err(XencError::BadCiphertext);
            }
            plain.truncate(plain.len() - pad);
            Ok(plain)
        }
    }
}

fn run_cbc(
    cipher: Cipher,
    mode: Mode,
    key: &[u8],
    iv: &[u8],
    data: &[u8],
) -> Result<Vec<u8>, openssl::error::ErrorStack> {
    let mut crypter = Crypter::new(cipher, mode, key, Some(iv))?;
    crypter.pad(false);
    let mut out = vec![0u8; data.len() + cipher.block_size()];
    let mut n = crypter.update(data, &mut out)?;
    n += crypter.finalize(&mut out[n..])?;
    out.truncate(n);
    Ok(out)
}

/// RSA-OAEP key transport variants.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyTransport {
    /// `rsa-oaep-mgf1p`: SHA-1 digest and MGF1-SHA1.
    OaepMgf1Sha1,
    /// XML Encryption 1.1 `rsa-oaep` with SHA-256 digest and MGF1-SHA256.
    OaepSha256,
}

/// The recipient of an encryption: its public key from metadata.
pub struct Recipient {
    key: PKey<Public>,
    certificate_der: Option<Vec<u8>>,
}

impl Recipient {
    pub fn from_certificate(cert: &X509) -> Result<Self, XencError> {
        let key = cert.public_key()?;
        if key.id() != Id::RSA {
            return Err(XencError::UnsupportedAlgorithm(
                "non-RSA key transport".into(),
            ));
        }
        Ok(Recipient {
            key,
            certificate_der: Some(cert.to_der()?),
        })
    }

    pub fn from_certificate_der(der: &[u8]) -> Result<Self, XencError> {
        Self::from_certificate(&X509::from_der(der)?)
    }
}

/// How to encrypt.
#[derive(Clone, Copy, Debug)]
pub struct EncryptOptions {
    pub content: ContentAlgorithm,
    pub transport: KeyTransport,
}

impl Default for EncryptOptions {
    fn default() -> Self {
        EncryptOptions {
            content: ContentAlgorithm::Aes256Gcm,
            transport: KeyTransport::OaepMgf1Sha1,
        }
    }
}

/// Encrypts a serialized element (self-contained, with its namespace declarations) and returns the
/// `xenc:EncryptedData` element, with the `EncryptedKey` inside its `KeyInfo`. The caller wraps it
/// in `saml:EncryptedAssertion` (or `EncryptedID`).
pub fn encrypt_element(
    element_xml: &str,
    recipient: &Recipient,
    options: &EncryptOptions,
) -> Result<String, XencError> {
    let mut content_key = vec![0u8; options.content.key_len()];
    rand_bytes(&mut content_key)?;
    let ciphertext = options
        .content
        .encrypt(&content_key, element_xml.as_bytes())?;

    let mut encrypter = Encrypter::new(&recipient.key)?;
    encrypter.set_rsa_padding(Padding::PKCS1_OAEP)?;
    let (oaep_digest, method) = match options.transport {
        KeyTransport::OaepMgf1Sha1 => (MessageDigest::sha1(), RSA_OAEP_MGF1P),
        KeyTransport::OaepSha256 => (MessageDigest::sha256(), RSA_OAEP),
    };
    encrypter.set_rsa_oaep_md(oaep_digest)?;
    encrypter.set_rsa_mgf1_md(oaep_digest)?;
    let mut wrapped = vec![0u8; encrypter.encrypt_len(&content_key)?];
    let n = encrypter.encrypt(&content_key, &mut wrapped)?;
    wrapped.truncate(n);

    let mut x = String::with_capacity(ciphertext.len() * 4 / 3 + 2048);
    x.push_str("<xenc:EncryptedData xmlns:xenc=\"");
    x.push_str(XENC);
    x.push_str("\" Type=\"");
    x.push_str(TYPE_ELEMENT);
    x.push_str("\"><xenc:EncryptionMethod Algorithm=\"");
    x.push_str(options.content.uri());
    x.push_str("\"/><ds:KeyInfo xmlns:ds=\"");
    x.push_str(DS);
    x.push_str("\"><xenc:EncryptedKey><xenc:EncryptionMethod Algorithm=\"");
    x.push_str(method);
    x.push_str("\">");
    match options.transport {
        KeyTransport::OaepMgf1Sha1 => {
            x.push_str("<ds:DigestMethod Algorithm=\"");
            x.push_str(SHA1_URI);
            x.push_str("\"/>");
        }
        KeyTransport::OaepSha256 => {
            x.push_str("<ds:DigestMethod Algorithm=\"");
            x.push_str(SHA256_URI);
            x.push_str("\"/><xenc11:MGF xmlns:xenc11=\"");
            x.push_str(XENC11);
            x.push_str("\" Algorithm=\"");
            x.push_str(MGF1_SHA256);
            x.push_str("\"/>");
        }
    }
    x.push_str("</xenc:EncryptionMethod>");
    if let Some(cert) = &recipient.certificate_der {
        x.push_str("<ds:KeyInfo><ds:X509Data><ds:X509Certificate>");
        x.push_str(&STANDARD.encode(cert));
        x.push_str("</ds:X509Certificate></ds:X509Data></ds:KeyInfo>");
    }
    x.push_str("<xenc:CipherData><xenc:CipherValue>");
    x.push_str(&STANDARD.encode(&wrapped));
    x.push_str("</xenc:CipherValue></xenc:CipherData></xenc:EncryptedKey></ds:KeyInfo><xenc:CipherData><xenc:CipherValue>");
    x.push_str(&STANDARD.encode(&ciphertext));
    x.push_str("</xenc:CipherValue></xenc:CipherData></xenc:EncryptedData>");
    Ok(x)
}

/// The private keys a party decrypts with, newest first; all are tried (key rollover).
pub struct DecryptionKeys {
    keys: Vec<PKey<Private>>,
}

impl DecryptionKeys {
    pub fn new(keys: Vec<PKey<Private>>) -> Self {
        DecryptionKeys { keys }
    }

    pub fn from_pems(pems: &[&[u8]]) -> Result<Self, XencError> {
        Ok(DecryptionKeys {
            keys: pems
                .iter()
                .map(|p| PKey::private_key_from_pem(p))
                .collect::<Result<_, _>>()?,
        })
    }
}

/// Decrypts the `xenc:EncryptedData` inside `container` (an `EncryptedAssertion`, `EncryptedID` …)
/// and parses the plaintext as a document of its own, with the namespace bindings in scope at the
/// container available to it.
pub fn decrypt_element(
    container: Element<'_>,
    keys: &DecryptionKeys,
    limits: &ParseLimits,
) -> Result<Document, XencError> {
    let data = container
        .first(XENC, "EncryptedData")
        .ok_or(XencError::NoEncryptedData)?;
    if container.elements_named(XENC, "EncryptedData").count() != 1 {
        return Err(XencError::Structure("more than one EncryptedData".into()));
    }
    if data.attr("Type").is_some_and(|t| t != TYPE_ELEMENT) {
        return Err(XencError::Structure("only Type=Element is accepted".into()));
    }
    // The algorithm must be named: guessing one would let a sender steer the decryption.
    let content_alg = ContentAlgorithm::from_uri(
        data.first(XENC, "EncryptionMethod")
            .and_then(|m| m.attr("Algorithm"))
            .ok_or_else(|| XencError::Structure("EncryptedData without EncryptionMethod".into()))?,
    )?;
    let ciphertext = cipher_value(data)?;

    // EncryptedKey inside KeyInfo, or a sibling of EncryptedData (as some IdPs place it).
    let mut encrypted_keys: Vec<Element<'_>> = data
        .first(DS, "KeyInfo")
        .map(|ki| ki.elements_named(XENC, "EncryptedKey").collect())
        .unwrap_or_default();
    encrypted_keys.extend(container.elements_named(XENC, "EncryptedKey"));
    if encrypted_keys.is_empty() {
        return Err(XencError::NoEncryptedKey);
    }
    for ek in encrypted_keys {
        let (oaep_md, mgf_md) = key_transport(ek)?;
        let wrapped = cipher_value(ek)?;
        for key in &keys.keys {
            let Ok(content_key) = unwrap_key(key, &wrapped, oaep_md, mgf_md) else {
                continue;
            };
            let Ok(plain) = content_alg.decrypt(&content_key, &ciphertext) else {
                continue;
            };
            let context = container.in_scope_namespaces();
            return parse_in_context(&plain, limits, &context).map_err(XencError::Plaintext);
        }
    }
    Err(XencError::NoMatchingKey)
}

/// Decrypts an element given as self-contained text (an `EncryptedElement` kept by a typed model).
pub fn decrypt_xml(
    container_xml: &str,
    keys: &DecryptionKeys,
    limits: &ParseLimits,
) -> Result<Document, XencError> {
    let doc = parse_with(container_xml.as_bytes(), limits)?;
    decrypt_element(doc.root(), keys, limits)
}

fn cipher_value(e: Element<'_>) -> Result<Vec<u8>, XencError> {
    let value = e
        .first(XENC, "CipherData")
        .and_then(|cd| cd.first(XENC, "CipherValue"))
        .ok_or_else(|| XencError::Structure("no CipherData/CipherValue".into()))?;
    let text = value.text()?;
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    STANDARD
        .decode(compact)
        .map_err(|_| XencError::Base64("CipherValue"))
}

fn key_transport(ek: Element<'_>) -> Result<(MessageDigest, MessageDigest), XencError> {
    let method = ek
        .first(XENC, "EncryptionMethod")
        .ok_or_else(|| XencError::Structure("EncryptedKey without EncryptionMethod".into()))?;
    let digest = |uri: Option<&str>| match uri {
        None | Some(SHA1_URI) => Ok(MessageDigest::sha1()),
        Some(SHA256_URI) => Ok(MessageDigest::sha256()),
        Some(other) => Err(XencError::UnsupportedAlgorithm(other.to_string())),
    };
    let oaep_md = digest(
        method
            .first(DS, "DigestMethod")
            .and_then(|d| d.attr("Algorithm")),
    )?;
    match method.attr("Algorithm").unwrap_or_default() {
        RSA_OAEP_MGF1P => Ok((oaep_md, MessageDigest::sha1())),
        RSA_OAEP => {
            let mgf = match method
                .first(XENC11, "MGF")
                .and_then(|m| m.attr("Algorithm"))
            {
                None | Some(MGF1_SHA1) => MessageDigest::sha1(),
                Some(MGF1_SHA256) => MessageDigest::sha256(),
                Some(other) => return Err(XencError::UnsupportedAlgorithm(other.to_string())),
            };
            Ok((oaep_md, mgf))
        }
        other => Err(XencError::UnsupportedAlgorithm(other.to_string())),
    }
}

fn unwrap_key(
    key: &PKey<Private>,
    wrapped: &[u8],
    oaep_md: MessageDigest,
    mgf_md: MessageDigest,
) -> Result<Vec<u8>, XencError> {
    let mut decrypter = Decrypter::new(key)?;
    decrypter.set_rsa_padding(Padding::PKCS1_OAEP)?;
    decrypter.set_rsa_oaep_md(oaep_md)?;
    decrypter.set_rsa_mgf1_md(mgf_md)?;
    let mut out = vec![0u8; decrypter.decrypt_len(wrapped)?];
    let n = decrypter.decrypt(wrapped, &mut out)?;
    out.truncate(n);
    Ok(out)
}
