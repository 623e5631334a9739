//! The SAML 2.0 Web Browser SSO profile (SAML profiles §4.1) as the federation deploys it, both
//! sides:
//!
//! * IdP: [`check_authn_request`] decides whether an `AuthnRequest` may be answered and where
//!   ([`ValidatedAuthnRequest`]), or why not ([`ProfileError`], with the SAML status to answer
//!   and whether answering is safe at all); [`build_response`] and [`build_error_response`] make
//!   the signed `Response`.
//! * SP: [`validate_response`] checks a `Response` received at the assertion consumer service
//!   and returns the one assertion it carries, parsed from the bytes its signature covers
//!   ([`ValidatedAssertion`]), or a specific [`SsoError`].
//!
//! Decisions of the federation profile that go beyond SAML (each cited where it is enforced):
//!
//! 1. **Assertions are always signed** by the IdP, whether or not the Response is signed and
//!    whether or not the assertion was encrypted. SAML lets a signed Response cover an unsigned
//!    assertion; the profile does not, so an encrypted-but-unsigned assertion (GHES
//!    CVE-2024-4985, Keycloak CVE-2026-2092) and a signed Response around an unsigned assertion
//!    are both refused by one rule. `SpContext::want_assertions_signed` cannot relax it.
//! 2. **`Destination` is always required** on the Response and on the AuthnRequest. SAML
//!    requires it only on signed messages (SAML bindings §3.5.5.2); the profile requires it on
//!    every message so that a message for one endpoint is never accepted at another.
//! 3. **Exactly one assertion** per Response, plain or encrypted, counted over the whole
//!    document (an assertion inside `Extensions`, `Advice` or anywhere else counts): the
//!    one-signed-one-unsigned shape of Lasso CVE-2021-28091 and crewjam CVE-2022-41912.
//! 4. **Exactly one SubjectConfirmation**, bearer, and **exactly one AuthnStatement**.
//! 5. **Message age**: `IssueInstant` of the Response, the Assertion and the AuthnRequest must
//!    lie within the clock skew (default 180 s, saml2int's 3–5 minutes) of now, in both
//!    directions: a browser relays these messages at once.
//! 6. **Every assertion is one-time-use**: the replay cache is keyed by assertion ID until the
//!    assertion's last valid instant plus skew, `OneTimeUse` or not (`attacks.md`, "Replay").
//! 7. Keys come only from the trust store (metadata verified with the federation anchor); the
//!    certificate in `KeyInfo` is never used (`attacks.md`, "Certificate faking").

mod authn_context;
mod build;
mod idp;
mod replay;
mod sp;

pub use authn_context::{
    acceptable_authn_contexts, authn_context_level, classes, select_authn_context,
    FEDERATION_CLASSES,
};
pub use build::{
    build_error_response, build_error_response_for, build_response, profile_sign_options,
    BuildError, BuiltResponse, ErrorResponseParams, Lifetimes, ResponseParams,
};
pub use idp::{
    check_authn_request, check_authn_request_with, AuthnRequestInput, ErrorRecipient, IdpOptions,
    ProfileError, ProfileErrorKind, ValidatedAuthnRequest,
};
pub use replay::{MemoryReplayCache, ReplayCache};
pub use sp::{validate_response, SpContext, SsoError, ValidatedAssertion};

use time::{Duration, OffsetDateTime};

/// Default clock skew tolerated on every time comparison (saml2int: 3–5 minutes, configurable).
pub const DEFAULT_SKEW: Duration = Duration::seconds(180);

/// A fresh SAML ID: `_` and 32 hex digits from OpenSSL's random generator (128 bits; SAML core
/// §1.3.4 asks for at least 128 bits of randomness, and the leading `_` keeps it an NCName).
pub fn new_id() -> String {
    let mut bytes = [0u8; 16];
    openssl::rand::rand_bytes(&mut bytes).expect("OpenSSL random generator");
    let mut s = String::with_capacity(33);
    s.push('_');
    for b in bytes {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// Whether `instant` lies within `skew` of `now`, either side.
pub(crate) fn within_skew(instant: OffsetDateTime, now: OffsetDateTime, skew: Duration) -> bool {
    instant <= now + skew && instant >= now - skew
}

/// Whether a URL may receive a browser POST (or redirect) from the federation: `https://`, or
/// `http://127.0.0.1` (the default federation runs on the loopback address). `javascript:`,
/// `data:`, any other scheme, userinfo (`https://good@evil/`), whitespace, control characters,
/// quotes, angle brackets and backslashes are refused (crewjam CVE-2023-45683: a `javascript:` ACS
/// reflected into the auto-POST form).
pub fn is_safe_endpoint(url: &str) -> bool {
    if url.is_empty()
        || url.chars().any(|c| {
            c.is_control() || c.is_whitespace() || matches!(c, '"' | '<' | '>' | '\\' | '`')
        })
    {
        return false;
    }
    let rest = if let Some(r) = url.strip_prefix("https://") {
        r
    } else if let Some(r) = url.strip_prefix("http://127.0.0.1") {
        if !(r.is_empty() || r.starts_with(':') || r.starts_with('/')) {
            return false;
        }
        r
    } else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    !authority.contains('@') && (url.starts_with("http://") || !authority.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_random_ncnames() {
        let a = new_id();
        let b = new_id();
        assert_eq!(a.len(), 33);
        assert!(a.starts_with('_'));
        assert!(a[1..].chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }

    #[test]
    fn endpoint_safety() {
        for ok in [
            "https://portal.nabari.test/sp/acs",
            "https://portal.nabari.test:8443/acs?x=1",
            "http://127.0.0.1:8080/acs",
            "http://127.0.0.1/acs",
        ] {
            assert!(is_safe_endpoint(ok), "{ok}");
        }
        for bad in [
            "javascript:alert(1)",
            "JAVASCRIPT:alert(1)",
            " https://portal.nabari.test/acs",
            "data:text/html,x",
            "http://portal.nabari.test/acs",
            "http://127.0.0.1.evil.jp/acs",
            "http://127.0.0.1@evil.jp/acs",
            "https://portal.nabari.test@evil.jp/acs",
            "https:///acs",
            "https://portal.nabari.test/a\"><script>",
            "ftp://portal.nabari.test/acs",
            "",
        ] {
            assert!(!is_safe_endpoint(bad), "{bad}");
        }
    }
}
