//! Short keyed hashes for logs: lets a reader of the logs tell two requests or two cards apart
//! without seeing a card number, serial, challenge or handle. The key is random per process, so a
//! 4-digit card number cannot be recovered by hashing all 10,000 candidates.

use std::sync::OnceLock;

use openssl::pkey::{PKey, Private};
use openssl::sign::Signer;

fn key() -> &'static PKey<Private> {
    static KEY: OnceLock<PKey<Private>> = OnceLock::new();
    KEY.get_or_init(|| {
        let mut k = [0u8; 32];
        openssl::rand::rand_bytes(&mut k).expect("OpenSSL RNG");
        PKey::hmac(&k).expect("HMAC key")
    })
}

/// 8 hex digits of HMAC-SHA256(process key, `data`).
pub fn short_hash(data: impl AsRef<[u8]>) -> String {
    let mac = Signer::new(openssl::hash::MessageDigest::sha256(), key())
        .and_then(|mut s| {
            s.update(data.as_ref())?;
            s.sign_to_vec()
        })
        .unwrap_or_default();
    mac.iter().take(4).map(|b| format!("{b:02x}")).collect()
}
