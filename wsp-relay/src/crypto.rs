//! Small cryptographic helpers: random identifiers, hex, and the key-encryption key (KEK) that
//! seals providers' local keys at rest.
//!
//! The KEK is never used directly: two subkeys are derived from it with HMAC-SHA256 and fixed
//! labels, one for AES-256-GCM sealing and one for the local-key MAC, so that neither use can be
//! turned against the other. A sealed value is `nonce (12) || ciphertext || tag (16)` with the
//! row it belongs to as additional data: a ciphertext copied into another row does not open.

use std::fmt;
use std::path::Path;

use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::sign::Signer;
use openssl::symm::{decrypt_aead, encrypt_aead, Cipher};

use crate::error::StoreError;

const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

/// `n` random bytes from OpenSSL's CSPRNG.
pub(crate) fn random_bytes(n: usize) -> Result<Vec<u8>, StoreError> {
    let mut buf = vec![0u8; n];
    openssl::rand::rand_bytes(&mut buf)?;
    Ok(buf)
}

/// A random 128-bit identifier as 32 lower-case hex characters.
pub(crate) fn random_id() -> Result<String, StoreError> {
    Ok(hex(&random_bytes(16)?))
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 15)] as char);
    }
    s
}

/// Parses hex (either case; `:` separators as OpenSSL prints them are accepted). `None` on odd
/// length or a non-hex character.
pub fn unhex(text: &str) -> Option<Vec<u8>> {
    let digits: Vec<u8> = text.bytes().filter(|b| *b != b':').collect();
    if digits.len() % 2 != 0 {
        return None;
    }
    digits
        .chunks(2)
        .map(|pair| {
            let hi = (pair[0] as char).to_digit(16)?;
            let lo = (pair[1] as char).to_digit(16)?;
            u8::try_from(hi * 16 + lo).ok()
        })
        .collect()
}

pub(crate) fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> Result<Vec<u8>, StoreError> {
    let pkey = PKey::hmac(key)?;
    let mut signer = Signer::new(MessageDigest::sha256(), &pkey)?;
    for part in parts {
        // Length-prefix each part so that ("ab", "c") and ("a", "bc") differ.
        signer.update(&(part.len() as u64).to_be_bytes())?;
        signer.update(part)?;
    }
    Ok(signer.sign_to_vec()?)
}

/// The key-encryption key from the configuration (32 bytes).
#[derive(Clone)]
pub struct Kek {
    seal_key: [u8; 32],
    mac_key: [u8; 32],
    id: String,
}

impl fmt::Debug for Kek {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Kek(id={})", self.id)
    }
}

impl Kek {
    /// From the 32 raw bytes.
    pub fn from_bytes(raw: &[u8]) -> Result<Kek, StoreError> {
        if raw.len() != 32 {
            return Err(StoreError::BadKek(format!(
                "{} bytes, expected 32",
                raw.len()
            )));
        }
        let derive = |label: &str| -> Result<[u8; 32], StoreError> {
            let out = hmac_sha256(raw, &[label.as_bytes()])?;
            let mut key = [0u8; 32];
            key.copy_from_slice(&out);
            Ok(key)
        };
        let id_full = hmac_sha256(raw, &[b"nabari-relay kek id v1"])?;
        Ok(Kek {
            seal_key: derive("nabari-relay local-key seal v1")?,
            mac_key: derive("nabari-relay local-key mac v1")?,
            id: hex(&id_full[..8]),
        })
    }

    /// From 64 hex characters (surrounding whitespace ignored).
    pub fn from_hex(text: &str) -> Result<Kek, StoreError> {
        let raw = unhex(text.trim())
            .ok_or_else(|| StoreError::BadKek("not hex (expected 64 hex characters)".into()))?;
        Kek::from_bytes(&raw)
    }

    /// From a file holding 64 hex characters.
    pub fn from_file(path: &Path) -> Result<Kek, StoreError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| StoreError::BadKek(format!("{}: {e}", path.display())))?;
        Kek::from_hex(&text)
    }

    /// A fresh random KEK as hex (for `relay-admin gen-kek` and tests).
    pub fn generate_hex() -> Result<String, StoreError> {
        Ok(hex(&random_bytes(32)?))
    }

    /// Public identifier of this KEK (stored with each sealed value, for rotation).
    pub fn id(&self) -> &str {
        &self.id
    }

    pub(crate) fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Result<Vec<u8>, StoreError> {
        let nonce = random_bytes(NONCE_LEN)?;
        let mut tag = [0u8; TAG_LEN];
        let ct = encrypt_aead(
            Cipher::aes_256_gcm(),
            &self.seal_key,
            Some(&nonce),
            aad,
            plaintext,
            &mut tag,
        )?;
        let mut out = nonce;
        out.extend_from_slice(&ct);
        out.extend_from_slice(&tag);
        Ok(out)
    }

    pub(crate) fn open(&self, sealed: &[u8], aad: &[u8]) -> Result<Vec<u8>, StoreError> {
        if sealed.len() < NONCE_LEN + TAG_LEN {
            return Err(StoreError::Decrypt);
        }
        let (nonce, rest) = sealed.split_at(NONCE_LEN);
        let (ct, tag) = rest.split_at(rest.len() - TAG_LEN);
        decrypt_aead(
            Cipher::aes_256_gcm(),
            &self.seal_key,
            Some(nonce),
            aad,
            ct,
            tag,
        )
        .map_err(|_| StoreError::Decrypt)
    }

    /// Keyed MAC of a provider's local key, bound to the provider.
    pub(crate) fn local_key_mac(
        &self,
        provider_id: &str,
        local_key: &str,
    ) -> Result<Vec<u8>, StoreError> {
        hmac_sha256(
            &self.mac_key,
            &[provider_id.as_bytes(), local_key.as_bytes()],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip() {
        assert_eq!(hex(&[0, 0xab, 0x10]), "00ab10");
        assert_eq!(unhex("00AB10"), Some(vec![0, 0xab, 0x10]));
        assert_eq!(unhex("00:ab:10"), Some(vec![0, 0xab, 0x10]));
        assert_eq!(unhex("0g"), None);
        assert_eq!(unhex("abc"), None);
    }

    #[test]
    fn seal_is_bound_to_aad() {
        let kek = Kek::from_bytes(&[7u8; 32]).expect("kek");
        let sealed = kek.seal(b"secret", b"row-1").expect("seal");
        assert_eq!(kek.open(&sealed, b"row-1").expect("open"), b"secret");
        assert!(kek.open(&sealed, b"row-2").is_err());
        let other = Kek::from_bytes(&[8u8; 32]).expect("kek");
        assert!(other.open(&sealed, b"row-1").is_err());
    }
}
