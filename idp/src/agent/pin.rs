//! PINs: format checks done before any card is touched, and a holder that never prints its value
//! and wipes it when dropped.

use super::protocol::Kind;

/// A PIN or signature password whose format fits its kind. `Debug` shows no digits.
pub struct Pin {
    bytes: Vec<u8>,
}

/// Why a typed PIN was refused before reaching the card.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PinFormatError {
    #[error("the user-authentication PIN is exactly 4 digits")]
    Auth,
    #[error("the signature password is 6 to 16 characters: capital letters A–Z and digits 0–9")]
    Sign,
}

impl PinFormatError {
    /// The same message in Japanese, for the PIN page.
    pub fn message_ja(self) -> &'static str {
        match self {
            PinFormatError::Auth => "利用者証明用電子証明書の暗証番号は数字4桁です。",
            PinFormatError::Sign => {
                "署名用電子証明書の暗証番号は英大文字(A〜Z)と数字(0〜9)の6〜16文字です。"
            }
        }
    }
}

impl Pin {
    /// Checks the format of `text` for `kind`: 4 ASCII digits (auth) or 6–16 of `A–Z0–9` (sign).
    /// Nothing is trimmed or case-folded: what the resident typed is what the card gets.
    pub fn parse(kind: Kind, text: &str) -> Result<Pin, PinFormatError> {
        let b = text.as_bytes();
        let ok = match kind {
            Kind::Auth => b.len() == 4 && b.iter().all(u8::is_ascii_digit),
            Kind::Sign => {
                (6..=16).contains(&b.len())
                    && b.iter()
                        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
            }
        };
        if ok {
            Ok(Pin { bytes: b.to_vec() })
        } else {
            Err(match kind {
                Kind::Auth => PinFormatError::Auth,
                Kind::Sign => PinFormatError::Sign,
            })
        }
    }

    /// For the PKCS#11 login (cryptoki's `AuthPin` wipes its own copy).
    pub(crate) fn auth_pin(&self) -> cryptoki::types::AuthPin {
        // The bytes were checked to be ASCII.
        let s: String = self.bytes.iter().map(|&b| b as char).collect();
        cryptoki::types::AuthPin::from(s)
    }
}

impl std::fmt::Debug for Pin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pin(<hidden>)")
    }
}

impl Drop for Pin {
    fn drop(&mut self) {
        for b in self.bytes.iter_mut() {
            // SAFETY: a volatile write to a byte we own, so the wipe is not optimised away.
            unsafe { std::ptr::write_volatile(b, 0) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert!(Pin::parse(Kind::Auth, "1234").is_ok());
        for bad in ["123", "12345", "12a4", "１２３４", " 1234", ""] {
            assert_eq!(
                Pin::parse(Kind::Auth, bad).unwrap_err(),
                PinFormatError::Auth
            );
        }
        assert!(Pin::parse(Kind::Sign, "ABC123").is_ok());
        assert!(Pin::parse(Kind::Sign, "ABCDEFGHIJ123456").is_ok());
        for bad in [
            "ABC12",
            "abc123",
            "ABCDEFGHIJ1234567",
            "ABC 123",
            "ABC-123",
            "ＡＢＣ１２３",
        ] {
            assert_eq!(
                Pin::parse(Kind::Sign, bad).unwrap_err(),
                PinFormatError::Sign
            );
        }
        assert_eq!(
            format!("{:?}", Pin::parse(Kind::Auth, "1234").unwrap()),
            "Pin(<hidden>)"
        );
    }
}
