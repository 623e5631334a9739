//! The access application text (申請文) the resident's card signs, as in the Nabari pilot.
//!
//! The IdP's login page shows the text, the card agent shows it again on its own PIN page, the
//! card signs exactly its UTF-8 bytes, and the IdP checks it. The text names the requesting
//! service (display name in Japanese and English, and its SAML entity ID), the purpose, the date
//! and time in Japan time (`2026年11月22日 12時03分`), the login kind, the IdP, and ends with a
//! machine block: a random 128-bit nonce, the issue and expiry instants, and an HMAC-SHA256 over
//! everything before it, keyed by a server secret. The HMAC lets the IdP recognise its own text
//! without keeping state; single use needs state all the same: [`ChallengeStore`].
//!
//! ## Format (version 1)
//!
//! UTF-8, lines separated by LF (no CR), no other control characters and no bidirectional marks
//! (so it passes the agent's [`crate::agent::check_challenge`]), at most
//! [`MAX_CHALLENGE_TEXT_BYTES`] bytes (1 KiB):
//!
//! ```text
//! 名張市 社会保障カード 利用申請
//! Nabari Social Security Card: access application
//!
//! 申請先 / Service: 名張市 住民ポータル / Nabari Resident Portal
//! サービスID / Service ID: https://portal.nabari.test/sp
//! 利用目的 / Purpose: 社会保障情報の閲覧 / Viewing your social security information
//! 申請日時 / Date: 2026年11月22日 12時03分 (日本時間 JST)
//! 認証方式 / Method: 利用者証明用電子証明書（暗証番号） / user-authentication certificate (PIN)
//! 認証サーバ / IdP: https://idp.nabari.test/idp
//!
//! 上記のとおり利用を申請します。
//! I apply to use the service above.
//! --
//! nabari-jpki-challenge/1 kind=auth iat=1795320180 exp=1795320300 nonce=<22 base64url chars>
//! mac=<43 base64url chars>
//! ```
//!
//! - Display names and purposes are sanitised when the text is issued: line breaks, tabs and
//!   other control characters become spaces, bidirectional marks are removed, runs of spaces are
//!   collapsed, and each value is cut to [`MAX_NAME_CHARS`] / [`MAX_PURPOSE_CHARS`] characters.
//!   An empty English value is left out (`申請先 / Service: 名張市 住民ポータル`).
//! - Entity IDs: 1–256 bytes, no whitespace or control characters; shown verbatim.
//! - `kind` is `auth`, `sign` or `pinless`; `iat`/`exp` are Unix seconds (UTC); `nonce` is 16
//!   random bytes, base64url without padding.
//! - `mac` = HMAC-SHA256(secret, every byte of the text up to and including the LF before
//!   `mac=`), base64url without padding. The text has no trailing newline.
//!
//! The date line is for the resident (minute precision, JST = UTC+9, no daylight saving); the
//! verifier uses `iat`/`exp`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use base64::Engine;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::sign::Signer;
use time::{Duration, OffsetDateTime, UtcOffset};

use super::error::{ConfigError, JpkiError};

/// Default life of a challenge: 120 s (as the agent's signing requests).
pub const DEFAULT_CHALLENGE_LIFETIME: Duration = Duration::seconds(120);
/// Largest text issued or accepted: the whole text stays under 1 KiB.
pub const MAX_CHALLENGE_TEXT_BYTES: usize = 1023;
/// Longest service display name kept (characters, each language).
pub const MAX_NAME_CHARS: usize = 40;
/// Longest purpose kept (characters, each language).
pub const MAX_PURPOSE_CHARS: usize = 60;
/// Longest entity ID (bytes).
pub const MAX_ENTITY_ID_BYTES: usize = 256;
/// How far in the future a text's `iat` may lie (clocks of several IdP nodes).
const ISSUED_IN_FUTURE_TOLERANCE: Duration = Duration::seconds(30);

const B64URL: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;
const MARKER: &str = "nabari-jpki-challenge/1";
const LABEL_SERVICE_ID: &str = "サービスID / Service ID: ";
const LABEL_IDP: &str = "認証サーバ / IdP: ";
const JST: UtcOffset = match UtcOffset::from_hms(9, 0, 0) {
    Ok(o) => o,
    Err(_) => UtcOffset::UTC,
};

/// What the login asks the card for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LoginKind {
    /// The user-authentication key signs the challenge after the 4-digit PIN (My Number card).
    Auth,
    /// The signature key signs the challenge after the signature password (the pilot's method;
    /// the only one a Juki card has).
    Sign,
    /// Clinic reception terminal: the user-authentication certificate read without a PIN, a
    /// staff member attesting the face check. No card signature.
    Pinless,
}

impl LoginKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LoginKind::Auth => "auth",
            LoginKind::Sign => "sign",
            LoginKind::Pinless => "pinless",
        }
    }

    pub fn parse(s: &str) -> Option<LoginKind> {
        match s {
            "auth" => Some(LoginKind::Auth),
            "sign" => Some(LoginKind::Sign),
            "pinless" => Some(LoginKind::Pinless),
            _ => None,
        }
    }

    fn label(self) -> (&'static str, &'static str) {
        match self {
            LoginKind::Auth => (
                "利用者証明用電子証明書（暗証番号）",
                "user-authentication certificate (PIN)",
            ),
            LoginKind::Sign => (
                "署名用電子証明書（署名用パスワード）",
                "signature certificate (signature password)",
            ),
            LoginKind::Pinless => (
                "利用者証明用電子証明書（暗証番号なし・職員による顔確認）",
                "user-authentication certificate without PIN, face check by staff",
            ),
        }
    }
}

impl std::fmt::Display for LoginKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a challenge is issued for (from the pending AuthnRequest and the SP's configuration).
#[derive(Debug, Clone, Copy)]
pub struct ChallengeRequest<'a> {
    /// The requesting SP's entity ID.
    pub sp_entity_id: &'a str,
    pub sp_name_ja: &'a str,
    pub sp_name_en: &'a str,
    pub purpose_ja: &'a str,
    pub purpose_en: &'a str,
    pub kind: LoginKind,
}

/// A challenge as issued: show `text` and send it to the agent byte for byte.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedChallenge {
    pub text: String,
    pub nonce: String,
    pub kind: LoginKind,
    pub issued_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

/// What an authentic, unexpired challenge says (returned by [`ChallengeIssuer::check`] and in
/// [`super::VerifiedCard::challenge`]). The web layer compares `sp_entity_id` with the
/// AuthnRequest it is answering.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChallengeInfo {
    pub kind: LoginKind,
    pub nonce: String,
    pub sp_entity_id: String,
    pub idp_entity_id: String,
    pub issued_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

/// Why a challenge could not be issued.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IssueError {
    #[error("invalid SP entity ID (1–256 bytes, no spaces or control characters)")]
    EntityId,
    #[error("the service has no display name")]
    NoServiceName,
    #[error("the text would be {0} bytes, more than 1 KiB (shorten the names or purpose)")]
    TooLong(usize),
    #[error("OpenSSL: {0}")]
    Crypto(String),
}

/// Issues and checks access application texts. Cheap to clone; shares nothing mutable.
#[derive(Clone)]
pub struct ChallengeIssuer {
    key: PKey<Private>,
    idp_entity_id: String,
    lifetime: Duration,
}

impl std::fmt::Debug for ChallengeIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChallengeIssuer")
            .field("idp_entity_id", &self.idp_entity_id)
            .field("lifetime", &self.lifetime)
            .finish_non_exhaustive()
    }
}

fn valid_entity_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_ENTITY_ID_BYTES
        && !id
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || is_bidi(c))
}

fn is_bidi(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}')
}

/// One line of display text: no control characters or line separators, no bidi marks, single
/// spaces, at most `max` characters (`…` when cut).
fn sanitize(value: &str, max: usize) -> String {
    let mut out = String::new();
    let mut space = false;
    for c in value.chars() {
        if is_bidi(c) {
            continue;
        }
        let c = if c.is_control() || c.is_whitespace() {
            ' '
        } else {
            c
        };
        if c == ' ' {
            space = !out.is_empty();
            continue;
        }
        if space {
            out.push(' ');
            space = false;
        }
        out.push(c);
    }
    if out.chars().count() > max {
        let mut cut: String = out.chars().take(max - 1).collect();
        cut = cut.trim_end().to_string();
        cut.push('…');
        out = cut;
    }
    out
}

fn both(ja: &str, en: &str) -> String {
    if en.is_empty() {
        ja.to_string()
    } else if ja.is_empty() {
        en.to_string()
    } else {
        format!("{ja} / {en}")
    }
}

/// `2026年11月22日 12時03分` in Japan time.
pub fn format_jst(t: OffsetDateTime) -> String {
    let j = t.to_offset(JST);
    format!(
        "{}年{}月{}日 {}時{:02}分",
        j.year(),
        u8::from(j.month()),
        j.day(),
        j.hour(),
        j.minute()
    )
}

impl ChallengeIssuer {
    /// `secret`: at least 32 bytes (e.g. [`ChallengeIssuer::generate_secret`]), shared by every
    /// node of the IdP (which must then share one [`ChallengeStore`] too). `idp_entity_id`: the
    /// IdP's SAML entity ID, written into every text and checked on the way back.
    pub fn new(secret: &[u8], idp_entity_id: &str) -> Result<ChallengeIssuer, ConfigError> {
        if secret.len() < 32 {
            return Err(ConfigError::WeakSecret);
        }
        if !valid_entity_id(idp_entity_id) {
            return Err(ConfigError::EntityId(idp_entity_id.into()));
        }
        Ok(ChallengeIssuer {
            key: PKey::hmac(secret)?,
            idp_entity_id: idp_entity_id.into(),
            lifetime: DEFAULT_CHALLENGE_LIFETIME,
        })
    }

    /// 32 random bytes from OpenSSL.
    pub fn generate_secret() -> Result<[u8; 32], ConfigError> {
        let mut s = [0u8; 32];
        openssl::rand::rand_bytes(&mut s)?;
        Ok(s)
    }

    /// Life of the challenges issued (default [`DEFAULT_CHALLENGE_LIFETIME`], 1–600 s).
    pub fn with_lifetime(mut self, lifetime: Duration) -> Result<ChallengeIssuer, ConfigError> {
        if lifetime < Duration::seconds(1) || lifetime > Duration::seconds(600) {
            return Err(ConfigError::Lifetime);
        }
        self.lifetime = lifetime;
        Ok(self)
    }

    pub fn lifetime(&self) -> Duration {
        self.lifetime
    }

    pub fn idp_entity_id(&self) -> &str {
        &self.idp_entity_id
    }

    fn mac(&self, data: &[u8]) -> Result<Vec<u8>, openssl::error::ErrorStack> {
        let mut signer = Signer::new(MessageDigest::sha256(), &self.key)?;
        signer.update(data)?;
        signer.sign_to_vec()
    }

    /// Issues a text at `now` (the clock is the caller's).
    pub fn issue(
        &self,
        req: &ChallengeRequest<'_>,
        now: OffsetDateTime,
    ) -> Result<IssuedChallenge, IssueError> {
        if !valid_entity_id(req.sp_entity_id) {
            return Err(IssueError::EntityId);
        }
        let name = both(
            &sanitize(req.sp_name_ja, MAX_NAME_CHARS),
            &sanitize(req.sp_name_en, MAX_NAME_CHARS),
        );
        if name.is_empty() {
            return Err(IssueError::NoServiceName);
        }
        let purpose = both(
            &sanitize(req.purpose_ja, MAX_PURPOSE_CHARS),
            &sanitize(req.purpose_en, MAX_PURPOSE_CHARS),
        );
        let mut nonce = [0u8; 16];
        openssl::rand::rand_bytes(&mut nonce).map_err(|e| IssueError::Crypto(e.to_string()))?;
        let nonce = B64URL.encode(nonce);
        // Whole seconds: what the text says is exactly what is checked.
        let issued_at = now.replace_nanosecond(0).unwrap_or(now);
        let expires_at = issued_at + self.lifetime;
        let (kind_ja, kind_en) = req.kind.label();
        let mut text = String::with_capacity(900);
        text.push_str("名張市 社会保障カード 利用申請\n");
        text.push_str("Nabari Social Security Card: access application\n\n");
        text.push_str(&format!("申請先 / Service: {name}\n"));
        text.push_str(&format!("{LABEL_SERVICE_ID}{}\n", req.sp_entity_id));
        if !purpose.is_empty() {
            text.push_str(&format!("利用目的 / Purpose: {purpose}\n"));
        }
        text.push_str(&format!(
            "申請日時 / Date: {} (日本時間 JST)\n",
            format_jst(issued_at)
        ));
        text.push_str(&format!("認証方式 / Method: {kind_ja} / {kind_en}\n"));
        text.push_str(&format!("{LABEL_IDP}{}\n\n", self.idp_entity_id));
        text.push_str("上記のとおり利用を申請します。\n");
        text.push_str("I apply to use the service above.\n");
        text.push_str("--\n");
        text.push_str(&format!(
            "{MARKER} kind={} iat={} exp={} nonce={nonce}\n",
            req.kind.as_str(),
            issued_at.unix_timestamp(),
            expires_at.unix_timestamp()
        ));
        let mac = self
            .mac(text.as_bytes())
            .map_err(|e| IssueError::Crypto(e.to_string()))?;
        text.push_str("mac=");
        text.push_str(&B64URL.encode(mac));
        if text.len() > MAX_CHALLENGE_TEXT_BYTES {
            return Err(IssueError::TooLong(text.len()));
        }
        debug_assert!(crate::agent::check_challenge(&text).is_ok());
        Ok(IssuedChallenge {
            text,
            nonce,
            kind: req.kind,
            issued_at,
            expires_at,
        })
    }

    /// The stateless part of the check, cheap: the text has this IdP's format and HMAC
    /// ([`JpkiError::Malformed`], [`JpkiError::ChallengeForged`]) and is within its lifetime at
    /// `now` ([`JpkiError::ChallengeExpired`]). Does **not** consume the nonce.
    pub fn check(&self, text: &str, now: OffsetDateTime) -> Result<ChallengeInfo, JpkiError> {
        let malformed = |what: &str| JpkiError::Malformed(format!("challenge: {what}"));
        if text.len() > MAX_CHALLENGE_TEXT_BYTES {
            return Err(malformed("longer than 1 KiB"));
        }
        let split = text.rfind('\n').ok_or_else(|| malformed("no MAC line"))?;
        let (signed, mac_line) = text.split_at(split + 1);
        let mac_b64 = mac_line
            .strip_prefix("mac=")
            .ok_or_else(|| malformed("no MAC line"))?;
        let mac = B64URL
            .decode(mac_b64)
            .ok()
            .filter(|m| m.len() == 32)
            .ok_or_else(|| malformed("MAC is not 32 bytes of base64url"))?;
        let expected = self
            .mac(signed.as_bytes())
            .map_err(|e| JpkiError::Malformed(format!("OpenSSL: {e}")))?;
        if !openssl::memcmp::eq(&expected, &mac) {
            return Err(JpkiError::ChallengeForged);
        }
        // Authentic from here on: parse what this IdP wrote.
        let body = signed.strip_suffix('\n').unwrap_or(signed);
        let (human, params) = body
            .rsplit_once('\n')
            .ok_or_else(|| malformed("no parameter line"))?;
        let mut it = params.split(' ');
        if it.next() != Some(MARKER) {
            return Err(malformed("unknown version"));
        }
        let mut field = |name: &str| -> Result<&str, JpkiError> {
            it.next()
                .and_then(|f| f.strip_prefix(name))
                .and_then(|f| f.strip_prefix('='))
                .ok_or_else(|| malformed(name))
        };
        let kind = LoginKind::parse(field("kind")?).ok_or_else(|| malformed("kind"))?;
        let instant = |s: &str| {
            s.parse::<i64>()
                .ok()
                .and_then(|t| OffsetDateTime::from_unix_timestamp(t).ok())
        };
        let issued_at = instant(field("iat")?).ok_or_else(|| malformed("iat"))?;
        let expires_at = instant(field("exp")?).ok_or_else(|| malformed("exp"))?;
        let nonce = field("nonce")?.to_string();
        let labelled = |label: &str| -> Result<String, JpkiError> {
            let mut found = human.lines().filter_map(|l| l.strip_prefix(label));
            match (found.next(), found.next()) {
                (Some(v), None) => Ok(v.to_string()),
                _ => Err(malformed(label.trim_end())),
            }
        };
        let sp_entity_id = labelled(LABEL_SERVICE_ID)?;
        let idp_entity_id = labelled(LABEL_IDP)?;
        if idp_entity_id != self.idp_entity_id {
            // Same secret, other IdP: not ours.
            return Err(JpkiError::ChallengeForged);
        }
        // Whole seconds, as written in the text.
        let now_s = now.replace_nanosecond(0).unwrap_or(now);
        if now_s > expires_at
            || issued_at > now_s + ISSUED_IN_FUTURE_TOLERANCE
            || expires_at < issued_at
        {
            return Err(JpkiError::ChallengeExpired);
        }
        Ok(ChallengeInfo {
            kind,
            nonce,
            sp_entity_id,
            idp_entity_id,
            issued_at,
            expires_at,
        })
    }
}

/// Single use of challenges. `consume` returns `true` the first time a nonce is presented and
/// `false` ever after (until `not_after`, the challenge's expiry, after which the text is refused
/// as expired anyway and the record may be forgotten). Shared by every IdP node.
pub trait ChallengeStore: Send + Sync {
    fn consume(&self, nonce: &str, not_after: OffsetDateTime) -> bool;
}

/// Clock of [`MemoryChallengeStore`] (only used to forget expired records).
pub type Clock = Arc<dyn Fn() -> OffsetDateTime + Send + Sync>;

/// An in-memory [`ChallengeStore`] for one IdP process. Records are forgotten
/// [`MemoryChallengeStore::RETENTION_AFTER_EXPIRY`] after the challenge's expiry (the
/// challenge check refuses the text by then). At `max_entries` live records it refuses further
/// nonces (fail closed) — nonces are consumed only after a valid card signature, so filling it
/// takes real cards.
pub struct MemoryChallengeStore {
    inner: Mutex<StoreInner>,
    clock: Clock,
    max_entries: usize,
}

struct StoreInner {
    used: HashMap<String, OffsetDateTime>,
    purge_at: usize,
}

impl Default for MemoryChallengeStore {
    fn default() -> Self {
        MemoryChallengeStore::new(1_000_000)
    }
}

impl MemoryChallengeStore {
    /// Kept this long after a challenge's expiry (covers the verifier's clock tolerance).
    pub const RETENTION_AFTER_EXPIRY: Duration = Duration::seconds(300);

    pub fn new(max_entries: usize) -> MemoryChallengeStore {
        MemoryChallengeStore::with_clock(max_entries, Arc::new(OffsetDateTime::now_utc))
    }

    /// With another clock (tests).
    pub fn with_clock(max_entries: usize, clock: Clock) -> MemoryChallengeStore {
        MemoryChallengeStore {
            inner: Mutex::new(StoreInner {
                used: HashMap::new(),
                purge_at: 1024,
            }),
            clock,
            max_entries: max_entries.max(1),
        }
    }

    /// Records alive.
    pub fn len(&self) -> usize {
        self.inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .used
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets records whose challenge expired more than the retention ago.
    pub fn purge(&self) {
        let now = (self.clock)();
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        Self::purge_locked(&mut inner, now);
    }

    fn purge_locked(inner: &mut StoreInner, now: OffsetDateTime) {
        inner
            .used
            .retain(|_, not_after| *not_after + Self::RETENTION_AFTER_EXPIRY >= now);
        inner.purge_at = (inner.used.len() * 2).max(1024);
    }
}

impl ChallengeStore for MemoryChallengeStore {
    fn consume(&self, nonce: &str, not_after: OffsetDateTime) -> bool {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if inner.used.contains_key(nonce) {
            return false;
        }
        if inner.used.len() >= inner.purge_at || inner.used.len() >= self.max_entries {
            Self::purge_locked(&mut inner, (self.clock)());
            if inner.used.len() >= self.max_entries {
                return false;
            }
        }
        inner.used.insert(nonce.to_string(), not_after);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issuer() -> ChallengeIssuer {
        ChallengeIssuer::new(&[7u8; 32], "https://idp.nabari.test/idp").unwrap()
    }

    fn req(kind: LoginKind) -> ChallengeRequest<'static> {
        ChallengeRequest {
            sp_entity_id: "https://portal.nabari.test/sp",
            sp_name_ja: "名張市 住民ポータル",
            sp_name_en: "Nabari Resident Portal",
            purpose_ja: "社会保障情報の閲覧",
            purpose_en: "Viewing your social security information",
            kind,
        }
    }

    #[test]
    fn jst_format() {
        let t = time::macros::datetime!(2026-11-22 03:03:59 UTC);
        assert_eq!(format_jst(t), "2026年11月22日 12時03分");
        let t = time::macros::datetime!(2026-12-31 15:00 UTC);
        assert_eq!(format_jst(t), "2027年1月1日 0時00分");
    }

    #[test]
    fn round_trip_and_edits() {
        let now = time::macros::datetime!(2026-11-22 03:03:59.5 UTC);
        let c = issuer().issue(&req(LoginKind::Auth), now).unwrap();
        assert!(c.text.len() < 1024, "{}", c.text.len());
        assert!(crate::agent::check_challenge(&c.text).is_ok());
        assert!(c.text.contains("申請日時 / Date: 2026年11月22日 12時03分"));
        let info = issuer().check(&c.text, now).unwrap();
        assert_eq!(info.kind, LoginKind::Auth);
        assert_eq!(info.nonce, c.nonce);
        assert_eq!(info.sp_entity_id, "https://portal.nabari.test/sp");
        assert_eq!(info.expires_at - info.issued_at, Duration::seconds(120));
        // Any edit breaks the MAC.
        let edited = c.text.replace("住民ポータル", "住民ポータル ");
        assert_eq!(
            issuer().check(&edited, now),
            Err(JpkiError::ChallengeForged)
        );
        let edited = c.text.replace("kind=auth", "kind=sign");
        assert_eq!(
            issuer().check(&edited, now),
            Err(JpkiError::ChallengeForged)
        );
        // Another secret.
        let other = ChallengeIssuer::new(&[8u8; 32], "https://idp.nabari.test/idp").unwrap();
        assert_eq!(other.check(&c.text, now), Err(JpkiError::ChallengeForged));
        // Same secret, other IdP.
        let other = ChallengeIssuer::new(&[7u8; 32], "https://idp2.nabari.test/idp").unwrap();
        assert_eq!(other.check(&c.text, now), Err(JpkiError::ChallengeForged));
        // Lifetime, both ends.
        assert!(issuer()
            .check(&c.text, now + Duration::seconds(120))
            .is_ok());
        assert_eq!(
            issuer().check(&c.text, now + Duration::seconds(121)),
            Err(JpkiError::ChallengeExpired)
        );
        assert_eq!(
            issuer().check(&c.text, now - Duration::seconds(60)),
            Err(JpkiError::ChallengeExpired)
        );
        assert!(matches!(
            issuer().check("hello", now),
            Err(JpkiError::Malformed(_))
        ));
        assert!(matches!(
            issuer().check(&format!("{}x", c.text), now),
            Err(JpkiError::Malformed(_))
        ));
    }

    #[test]
    fn hostile_names_are_flattened_and_cut() {
        let now = OffsetDateTime::now_utc();
        let r = ChallengeRequest {
            sp_name_ja: "悪い\nサービスID / Service ID: https://evil\u{202E}.test\r\n",
            sp_name_en: "x\u{0007}y",
            purpose_ja: &"長".repeat(200),
            purpose_en: "",
            ..req(LoginKind::Sign)
        };
        let c = issuer().issue(&r, now).unwrap();
        assert!(crate::agent::check_challenge(&c.text).is_ok());
        assert_eq!(
            c.text
                .lines()
                .filter(|l| l.starts_with(LABEL_SERVICE_ID))
                .count(),
            1
        );
        // One line, bidi mark gone, cut at 40 characters.
        assert!(c
            .text
            .contains("申請先 / Service: 悪い サービスID / Service ID: https://evil.te… / x y\n"));
        assert!(c
            .text
            .contains(&format!("利用目的 / Purpose: {}…\n", "長".repeat(59))));
        let info = issuer().check(&c.text, now).unwrap();
        assert_eq!(info.sp_entity_id, "https://portal.nabari.test/sp");
        assert_eq!(info.kind, LoginKind::Sign);
        // Worst case under the limits still fits in 1 KiB only with short entity IDs.
        let long_id = format!("https://{}", "a".repeat(240));
        let r = ChallengeRequest {
            sp_entity_id: &long_id,
            sp_name_ja: &"名".repeat(100),
            sp_name_en: &"N".repeat(100),
            purpose_ja: &"目".repeat(100),
            purpose_en: &"P".repeat(100),
            ..req(LoginKind::Pinless)
        };
        assert!(matches!(
            issuer().issue(&r, now),
            Err(IssueError::TooLong(_))
        ));
        let r = ChallengeRequest {
            sp_entity_id: "https://a b",
            ..req(LoginKind::Auth)
        };
        assert_eq!(issuer().issue(&r, now), Err(IssueError::EntityId));
    }

    #[test]
    fn store_is_single_use_and_forgets_expired() {
        let t = Arc::new(Mutex::new(OffsetDateTime::now_utc()));
        let clock_t = t.clone();
        let store = MemoryChallengeStore::with_clock(3, Arc::new(move || *clock_t.lock().unwrap()));
        let exp = *t.lock().unwrap() + Duration::seconds(120);
        assert!(store.consume("a", exp));
        assert!(!store.consume("a", exp));
        assert!(store.consume("b", exp));
        assert!(store.consume("c", exp));
        // Full: fail closed.
        assert!(!store.consume("d", exp));
        *t.lock().unwrap() += Duration::seconds(121) + MemoryChallengeStore::RETENTION_AFTER_EXPIRY;
        assert!(store.consume("d", exp + Duration::seconds(600)));
        assert_eq!(store.len(), 1);
    }
}
