//! Small helpers: randomness, encodings, keyed log fingerprints, the clock.

use std::sync::OnceLock;

use base64::Engine;
use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::sign::Signer;
use time::OffsetDateTime;

pub const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;
pub const B64URL: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// `n` random bytes from OpenSSL.
pub fn random_bytes(n: usize) -> Vec<u8> {
    let mut b = vec![0u8; n];
    openssl::rand::rand_bytes(&mut b).expect("OpenSSL random generator");
    b
}

/// A random token: 32 bytes, base64url (43 characters).
pub fn random_token() -> String {
    B64URL.encode(random_bytes(32))
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// Decodes hex (either case); `None` on anything else.
pub fn unhex(text: &str) -> Option<Vec<u8>> {
    let t = text.trim();
    if !t.len().is_multiple_of(2) {
        return None;
    }
    (0..t.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(t.get(i..i + 2)?, 16).ok())
        .collect()
}

/// HMAC-SHA256.
pub fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let pkey = PKey::hmac(key).expect("HMAC key");
    let mut s = Signer::new(MessageDigest::sha256(), &pkey).expect("HMAC");
    for p in parts {
        s.update(p).expect("HMAC update");
    }
    s.sign_to_vec().expect("HMAC")
}

/// SHA-256.
pub fn sha256(data: &[u8]) -> Vec<u8> {
    openssl::hash::hash(MessageDigest::sha256(), data)
        .expect("SHA-256")
        .to_vec()
}

fn log_key() -> &'static [u8] {
    static KEY: OnceLock<Vec<u8>> = OnceLock::new();
    KEY.get_or_init(|| random_bytes(32))
}

/// The short keyed hash that stands for a sensitive value in logs (NameID, serial, person,
/// token, session): 8 hex digits of HMAC-SHA256 under a per-process random key, tagged so that
/// equal values of different kinds do not look alike.
pub fn fp(tag: &str, value: &[u8]) -> String {
    let mac = hmac_sha256(log_key(), &[tag.as_bytes(), b"\0", value]);
    format!("{tag}#{}", hex(&mac[..4]))
}

/// Now, in whole seconds (SAML times are written without fractions).
pub fn now() -> OffsetDateTime {
    let t = OffsetDateTime::now_utc();
    t.replace_nanosecond(0).unwrap_or(t)
}

/// Constant-time equality of two strings.
pub fn ct_eq(a: &str, b: &str) -> bool {
    a.len() == b.len() && openssl::memcmp::eq(a.as_bytes(), b.as_bytes())
}

/// Percent-encodes a query value (RFC 3986 unreserved characters kept).
pub fn url_encode(value: &str) -> String {
    use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
    const SET: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');
    utf8_percent_encode(value, SET).to_string()
}

/// A query parameter that appears twice, or is not valid percent-encoded UTF-8.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadQuery;

/// Reads one parameter from a raw query string (percent-decoded, `+` as space); `Err` when the
/// parameter appears twice.
pub fn query_param(raw: &str, name: &str) -> Result<Option<String>, BadQuery> {
    let mut found = None;
    for pair in raw.split('&') {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let k = decode_component(k).ok_or(BadQuery)?;
        if k == name {
            if found.is_some() {
                return Err(BadQuery);
            }
            found = Some(decode_component(v).ok_or(BadQuery)?);
        }
    }
    Ok(found)
}

fn decode_component(s: &str) -> Option<String> {
    let s = s.replace('+', " ");
    percent_encoding::percent_decode_str(&s)
        .decode_utf8()
        .ok()
        .map(|c| c.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip_and_fingerprints() {
        assert_eq!(unhex(&hex(&[0, 1, 0xab])).unwrap(), vec![0, 1, 0xab]);
        assert!(unhex("abc").is_none());
        assert!(unhex("zz").is_none());
        let a = fp("serial", b"1234");
        assert!(a.starts_with("serial#") && a.len() == 15);
        assert_ne!(fp("serial", b"1234"), fp("nameid", b"1234"));
    }

    #[test]
    fn query_params() {
        assert_eq!(
            query_param("a=1&sp=https%3A%2F%2Fx&b", "sp")
                .unwrap()
                .as_deref(),
            Some("https://x")
        );
        assert!(query_param("sp=1&sp=2", "sp").is_err());
        assert_eq!(query_param("x=1", "sp").unwrap(), None);
        assert_eq!(url_encode("a b/c"), "a%20b%2Fc");
    }
}
