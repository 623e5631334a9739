//! The JSON messages of the agent's HTTP API, shared by the server ([`super::server`]) and the
//! Rust client ([`super::client`]). Binary values are standard base64 (with padding).

use serde::{Deserialize, Serialize};

/// Largest challenge the agent signs: 4 KiB of UTF-8.
pub const MAX_CHALLENGE_BYTES: usize = 4096;

/// Which key of the card.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// 利用者証明用電子証明書: user authentication, 4-digit PIN, 3 tries.
    Auth,
    /// 署名用電子証明書: digital signature, 6–16 character password (`A–Z`, `0–9`), 5 tries.
    Sign,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Auth => "auth",
            Kind::Sign => "sign",
        }
    }

    /// Tries a JPKI card allows before it locks this PIN.
    pub fn max_tries(self) -> u32 {
        match self {
            Kind::Auth => 3,
            Kind::Sign => 5,
        }
    }

    /// CKA_ID of this kind's certificate and keys (as OpenSC's pkcs15-jpki and the virtual cards).
    pub fn pkcs11_id(self) -> &'static [u8] {
        match self {
            Kind::Auth => &certs::pkcs11::ID_AUTH,
            Kind::Sign => &certs::pkcs11::ID_SIGN,
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        match s {
            "auth" => Some(Kind::Auth),
            "sign" => Some(Kind::Sign),
            _ => None,
        }
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// PIN state of one token as far as the agent knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PinState {
    /// Tries left, when known (always in `virtual` mode; deduced from the token flags with OpenSC,
    /// `None` when the flags only say "fewer than the maximum").
    pub tries_left: Option<u32>,
    pub max_tries: u32,
    /// Fewer tries left than the maximum (`CKF_USER_PIN_COUNT_LOW`).
    pub count_low: bool,
    /// One try left (`CKF_USER_PIN_FINAL_TRY`).
    pub final_try: bool,
    /// Locked (`CKF_USER_PIN_LOCKED`): only the city office can reset it.
    pub locked: bool,
}

/// One token (one PIN) of a card.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenEntry {
    pub kind: Kind,
    /// PKCS#11 token label (`JPKI-AUTH 0001`; with OpenSC `JPKI (User Authentication PIN)`).
    pub label: String,
    pub pin: PinState,
}

/// A card present in a reader (or a virtual card).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardEntry {
    /// The card's identifier for the other calls: the card number of a virtual card; with OpenSC
    /// a short hash of the reader name (a real card shows no number without a PIN).
    pub card: String,
    /// Reader (PKCS#11 slot description).
    pub reader: String,
    /// Kinds available on this card (a Juki card or `disable_sign_cert` may lack one).
    pub kinds: Vec<Kind>,
    pub tokens: Vec<TokenEntry>,
}

/// `GET /v1/cards`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardsResponse {
    /// `virtual` or `opensc`.
    pub mode: String,
    pub cards: Vec<CardEntry>,
}

/// `GET /v1/certificate`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificateResponse {
    pub card: String,
    pub kind: Kind,
    /// Base64 DER.
    pub certificate: String,
}

/// `POST /v1/sign` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignRequest {
    pub card: String,
    pub kind: Kind,
    /// The access application text; its UTF-8 bytes are what the card signs.
    pub challenge: String,
}

/// Where a signing request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pending,
    Done,
    Failed,
}

/// `POST /v1/sign` answer (201).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignStarted {
    /// Handle for `GET /v1/sign/{request_id}`; only the origin that created it may read it.
    pub request_id: String,
    /// The agent's own page where the resident reads the challenge and types the PIN.
    pub pin_url: String,
    /// `pending`; `done` or `failed` at once in demo mode.
    pub status: Status,
    /// Seconds until the request expires.
    pub expires_in: u64,
    /// The PIN was taken from the virtual-card manifest (demo/test mode).
    pub demo: bool,
}

/// An error answer: a stable code, a human message, and tries left after a wrong PIN.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tries_left: Option<u32>,
}

/// `GET /v1/sign/{request_id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignStatus {
    pub request_id: String,
    pub status: Status,
    /// Base64 PKCS#1 v1.5 signature over the SHA-256 DigestInfo of the challenge's UTF-8 bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
    /// Base64 DER of the certificate of the key that signed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<String>,
    /// Why it failed (`failed`), or the last wrong-PIN answer while still `pending`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorBody>,
}

/// Error codes of [`ErrorBody::error`].
pub mod codes {
    pub const ORIGIN_NOT_ALLOWED: &str = "origin_not_allowed";
    pub const HOST_NOT_ALLOWED: &str = "host_not_allowed";
    pub const BAD_REQUEST: &str = "bad_request";
    pub const NOT_FOUND: &str = "not_found";
    pub const UNKNOWN_CARD: &str = "unknown_card";
    pub const PIN_REQUIRED: &str = "pin_required";
    pub const CHALLENGE_EMPTY: &str = "challenge_empty";
    pub const CHALLENGE_TOO_LONG: &str = "challenge_too_long";
    pub const CHALLENGE_INVALID: &str = "challenge_invalid";
    pub const UNKNOWN_REQUEST: &str = "unknown_request";
    pub const REQUEST_EXPIRED: &str = "request_expired";
    pub const TOO_MANY_REQUESTS: &str = "too_many_requests";
    pub const PIN_FORMAT: &str = "pin_format";
    pub const PIN_INCORRECT: &str = "pin_incorrect";
    pub const PIN_LOCKED: &str = "pin_locked";
    pub const BUSY: &str = "busy";
    pub const CANCELLED: &str = "cancelled";
    pub const CARD_ERROR: &str = "card_error";
    pub const DEMO_PIN_UNAVAILABLE: &str = "demo_pin_unavailable";
}

/// Why a challenge is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ChallengeError {
    #[error("the challenge is empty")]
    Empty,
    #[error("the challenge is longer than 4096 bytes of UTF-8")]
    TooLong,
    #[error("the challenge contains control or bidirectional-override characters (only tab and line breaks are allowed)")]
    Invalid,
}

impl ChallengeError {
    pub fn code(self) -> &'static str {
        match self {
            ChallengeError::Empty => codes::CHALLENGE_EMPTY,
            ChallengeError::TooLong => codes::CHALLENGE_TOO_LONG,
            ChallengeError::Invalid => codes::CHALLENGE_INVALID,
        }
    }
}

/// What the agent accepts to show and sign: 1–4096 bytes of UTF-8 without control characters
/// other than tab, CR and LF, and without the bidirectional embedding/override/isolate characters
/// that could make the text on the PIN page read differently from the bytes signed.
pub fn check_challenge(text: &str) -> Result<(), ChallengeError> {
    if text.is_empty() {
        return Err(ChallengeError::Empty);
    }
    if text.len() > MAX_CHALLENGE_BYTES {
        return Err(ChallengeError::TooLong);
    }
    let bad = |c: char| {
        (c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
            || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}')
    };
    if text.chars().any(bad) {
        return Err(ChallengeError::Invalid);
    }
    Ok(())
}
