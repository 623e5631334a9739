//! Newtypes for the values that must never reach a log in clear (DESIGN.md §4, §5): resident
//! and household numbers, providers' local keys, pseudonyms and the internal person ID.
//!
//! Their `Debug` and `Display` print a tag and a short keyed hash (`resident#1a2b3c4d`): enough to
//! follow one value through the lines of one process's log, useless to anyone else, because the
//! hash key is drawn at random per process (or set once with [`set_log_key`] to correlate the logs
//! of several processes). The value itself is reached only through `expose()`, which makes every
//! use greppable.

use std::fmt;
use std::sync::OnceLock;

use crate::crypto;
use crate::error::InvalidValue;

static LOG_KEY: OnceLock<Vec<u8>> = OnceLock::new();

/// Sets the key of the log fingerprints (before the first value is logged). Returns `false` if a
/// key was already in use.
pub fn set_log_key(key: &[u8]) -> bool {
    LOG_KEY.set(key.to_vec()).is_ok()
}

/// The fingerprint key: random per process unless set. `None` if the random generator failed; a
/// constant key would make fingerprints of short identifiers (11-digit resident numbers) easy to
/// brute-force, so then nothing but `***` is printed.
fn log_key() -> Option<&'static [u8]> {
    if let Some(key) = LOG_KEY.get() {
        return Some(key);
    }
    let fresh = crypto::random_bytes(32).ok()?;
    Some(LOG_KEY.get_or_init(|| fresh))
}

/// The short keyed hash printed in place of a sensitive value.
pub fn fingerprint(tag: &str, value: &[u8]) -> String {
    match log_key().map(|key| crypto::hmac_sha256(key, &[tag.as_bytes(), value])) {
        Some(Ok(mac)) => crypto::hex(&mac[..4]),
        _ => "***".into(),
    }
}

macro_rules! sensitive_string {
    ($(#[$meta:meta])* $name:ident, $tag:literal) => {
        $(#[$meta])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// The value in clear: for the database and the files that must carry it, never a log.
            pub fn expose(&self) -> &str {
                &self.0
            }

            /// Wraps a value read back from the database (validated when it was stored).
            #[allow(dead_code)]
            pub(crate) fn from_stored(value: String) -> $name {
                $name(value)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!($tag, "#{}"), fingerprint($tag, self.0.as_bytes()))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(self, f)
            }
        }
    };
}

sensitive_string!(
    /// The municipality's resident number (住民番号): 1–20 ASCII digits.
    ResidentNumber,
    "resident"
);
sensitive_string!(
    /// The municipality's household number (世帯番号): 1–20 ASCII digits.
    HouseholdNumber,
    "household"
);
sensitive_string!(
    /// A provider's own key for a person (basic pension number, insurance symbol/number and card
    /// number, NHI card number, public-expense category and recipient number…): any UTF-8 text of
    /// 1–256 bytes without control characters (insurer symbols may contain kanji).
    LocalKey,
    "localkey"
);
sensitive_string!(
    /// A person's pseudonym at one provider: 32 lower-case hex characters, random per link.
    Pseudonym,
    "pseudonym"
);
sensitive_string!(
    /// The relay's internal person ID (the SAML user ID of the pilot): 32 lower-case hex
    /// characters, random.
    PersonId,
    "person"
);

fn digits(field: &'static str, text: &str) -> Result<String, InvalidValue> {
    let t = text.trim();
    if t.is_empty() || t.len() > 20 {
        return Err(InvalidValue::new(field, "expected 1–20 digits"));
    }
    if !t.bytes().all(|b| b.is_ascii_digit()) {
        return Err(InvalidValue::new(field, "expected ASCII digits only"));
    }
    Ok(t.to_string())
}

fn hex32(field: &'static str, text: &str) -> Result<String, InvalidValue> {
    if text.len() == 32
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        Ok(text.to_string())
    } else {
        Err(InvalidValue::new(
            field,
            "expected 32 lower-case hex characters",
        ))
    }
}

impl ResidentNumber {
    pub fn parse(text: &str) -> Result<ResidentNumber, InvalidValue> {
        digits("resident number", text).map(ResidentNumber)
    }
}

impl HouseholdNumber {
    pub fn parse(text: &str) -> Result<HouseholdNumber, InvalidValue> {
        digits("household number", text).map(HouseholdNumber)
    }
}

impl LocalKey {
    pub fn parse(text: &str) -> Result<LocalKey, InvalidValue> {
        let t = text.trim();
        if t.is_empty() || t.len() > 256 {
            return Err(InvalidValue::new(
                "local key",
                "expected 1–256 bytes of UTF-8",
            ));
        }
        if t.chars().any(char::is_control) {
            return Err(InvalidValue::new(
                "local key",
                "contains a control character",
            ));
        }
        Ok(LocalKey(t.to_string()))
    }
}

impl Pseudonym {
    pub fn parse(text: &str) -> Result<Pseudonym, InvalidValue> {
        hex32("pseudonym", text).map(Pseudonym)
    }

    pub(crate) fn generate() -> Result<Pseudonym, crate::StoreError> {
        crypto::random_id().map(Pseudonym)
    }
}

impl PersonId {
    pub fn parse(text: &str) -> Result<PersonId, InvalidValue> {
        hex32("person ID", text).map(PersonId)
    }

    pub(crate) fn generate() -> Result<PersonId, crate::StoreError> {
        crypto::random_id().map(PersonId)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_hide_the_value() {
        let r = ResidentNumber::parse("12345678901").expect("valid");
        for shown in [format!("{r:?}"), format!("{r}"), format!("{:?}", Some(&r))] {
            assert!(!shown.contains("12345678901"), "{shown}");
            assert!(shown.starts_with("resident#") || shown.starts_with("Some(resident#"));
        }
        let k = LocalKey::parse("髙橋 𠮷 123").expect("valid");
        assert!(!format!("{k:?}").contains("123"));
        assert_eq!(k.expose(), "髙橋 𠮷 123");
        // Same value, same fingerprint within a process: logs can be followed.
        assert_eq!(format!("{r}"), format!("{}", r.clone()));
    }

    #[test]
    fn validation() {
        assert!(ResidentNumber::parse("12a").is_err());
        assert!(ResidentNumber::parse("").is_err());
        assert!(ResidentNumber::parse("123456789012345678901").is_err());
        assert!(LocalKey::parse("a\u{0}b").is_err());
        assert!(Pseudonym::parse("ABCDEF0123456789abcdef0123456789").is_err());
        assert!(Pseudonym::parse("abcdef0123456789abcdef0123456789").is_ok());
    }
}
