//! IdP sessions (server side, in memory) and the browser cookie that names one.
//!
//! Cookie: `__Host-nabari-idp=<random>; Path=/; Secure; HttpOnly; SameSite=Lax`. `__Host-` pins it
//! to this host over a secure context, `HttpOnly` keeps it from scripts, `SameSite=Lax` sends it
//! on top-level navigations only. A cross-site POST (an SP posting an AuthnRequest or a
//! LogoutRequest) therefore arrives without it: the IdP checks such a message, parks it and sends
//! the browser on with a `303` to a same-site GET, where the cookie is present (see
//! [`Parked`]). The session ID changes when the resident signs in (no fixation).
//!
//! A session holds the CSRF token of its forms (synchronizer pattern), the requests waiting for a
//! login (each with the access application texts issued for it), the resident's authentication
//! once done, and every SP session opened from it (SP, NameID, SessionIndex) for Single Logout.

use std::collections::HashMap;
use std::sync::Mutex;

use schemas::saml::NameId;
use time::{Duration, OffsetDateTime};

use super::util::{random_token, B64URL};
use crate::jpki::AuthnKind;
use base64::Engine;

/// What a login answers: the request, normalised from an `AuthnRequest` or an IdP-initiated start.
#[derive(Clone, Debug)]
pub struct SsoRequest {
    pub sp_entity: String,
    pub acs_url: String,
    pub acs_binding: String,
    /// `None` for IdP-initiated SSO.
    pub in_response_to: Option<String>,
    pub relay_state: Option<String>,
    pub force_authn: bool,
    pub is_passive: bool,
    pub name_id_format: String,
    pub allow_create: bool,
    /// The classes that satisfy the request for this SP, best first.
    pub acceptable_classes: Vec<String>,
}

/// An access application text issued on the login page for a pending request.
#[derive(Clone, Debug)]
pub struct IssuedText {
    pub nonce: String,
    pub text: String,
    pub kind: crate::jpki::LoginKind,
    pub expires: OffsetDateTime,
}

/// A request waiting for the resident's login.
#[derive(Clone, Debug)]
pub struct Pending {
    pub request: SsoRequest,
    pub created: OffsetDateTime,
    /// Texts issued for it, newest last (a few: page reloads, a change of card kind).
    pub texts: Vec<IssuedText>,
}

/// The resident's authentication in this session.
#[derive(Clone, Debug)]
pub struct Authn {
    pub person: wsp_relay::PersonId,
    pub kind: AuthnKind,
    pub class: String,
    pub instant: OffsetDateTime,
    /// Keyed hash of the certificate, for logs.
    pub cert_fp: String,
}

/// One SP session opened from this IdP session.
#[derive(Clone, Debug)]
pub struct SpSession {
    pub sp_entity: String,
    pub name_id: NameId,
    pub session_index: String,
    pub created: OffsetDateTime,
}

#[derive(Clone, Debug)]
pub struct Session {
    pub id: String,
    pub csrf: String,
    pub created: OffsetDateTime,
    pub expires: OffsetDateTime,
    pub authn: Option<Authn>,
    pub pending: HashMap<String, Pending>,
    pub sp_sessions: Vec<SpSession>,
}

impl Session {
    pub fn is_authenticated(&self, now: OffsetDateTime) -> bool {
        self.authn.is_some() && now < self.expires
    }
}

/// Most requests pending at once in one session.
const MAX_PENDING: usize = 8;
/// Most texts kept per pending request.
const MAX_TEXTS: usize = 4;

/// The sessions of this process.
pub struct SessionStore {
    inner: Mutex<HashMap<String, Session>>,
    max: usize,
    lifetime: Duration,
    anonymous_lifetime: Duration,
}

impl SessionStore {
    pub fn new(max: usize, lifetime: Duration, anonymous_lifetime: Duration) -> Self {
        SessionStore {
            inner: Mutex::new(HashMap::new()),
            max: max.max(1),
            lifetime,
            anonymous_lifetime,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A copy of the live session with this ID.
    pub fn get(&self, id: &str, now: OffsetDateTime) -> Option<Session> {
        let map = self.lock();
        map.get(id).filter(|s| now < s.expires).cloned()
    }

    /// Runs `f` on the live session with this ID.
    pub fn with<T>(
        &self,
        id: &str,
        now: OffsetDateTime,
        f: impl FnOnce(&mut Session) -> T,
    ) -> Option<T> {
        let mut map = self.lock();
        match map.get_mut(id) {
            Some(s) if now < s.expires => Some(f(s)),
            _ => None,
        }
    }

    /// A new anonymous session; `None` when the store is full of live sessions (fail closed).
    pub fn create(&self, now: OffsetDateTime) -> Option<Session> {
        let mut map = self.lock();
        if map.len() >= self.max {
            map.retain(|_, s| now < s.expires);
            if map.len() >= self.max {
                return None;
            }
        }
        let s = Session {
            id: random_token(),
            csrf: random_token(),
            created: now,
            expires: now + self.anonymous_lifetime,
            authn: None,
            pending: HashMap::new(),
            sp_sessions: Vec::new(),
        };
        map.insert(s.id.clone(), s.clone());
        Some(s)
    }

    /// Records a login: the session gets a new ID (and CSRF token) and the session lifetime.
    /// Returns the new ID.
    pub fn login(&self, old_id: &str, authn: Authn, now: OffsetDateTime) -> Option<String> {
        let mut map = self.lock();
        let mut s = map.remove(old_id).filter(|s| now < s.expires)?;
        // A different resident on the same browser: the old resident's SP sessions are not theirs.
        if s.authn.as_ref().is_some_and(|a| a.person != authn.person) {
            s.sp_sessions.clear();
        }
        s.id = random_token();
        s.csrf = random_token();
        s.authn = Some(authn);
        s.expires = now + self.lifetime;
        let id = s.id.clone();
        map.insert(id.clone(), s);
        Some(id)
    }

    /// Removes a session and returns it.
    pub fn remove(&self, id: &str) -> Option<Session> {
        self.lock().remove(id)
    }

    /// Finds the live session holding an SP session of `sp` with this NameID value and one of
    /// the session indexes (any when `indexes` is empty).
    pub fn find_by_sp_session(
        &self,
        sp: &str,
        name_id: &str,
        indexes: &[String],
        now: OffsetDateTime,
    ) -> Option<String> {
        let map = self.lock();
        map.values()
            .filter(|s| now < s.expires)
            .find(|s| {
                s.sp_sessions.iter().any(|x| {
                    x.sp_entity == sp
                        && x.name_id.value == name_id
                        && (indexes.is_empty() || indexes.contains(&x.session_index))
                })
            })
            .map(|s| s.id.clone())
    }

    /// Adds a pending request; returns its transaction ID.
    pub fn add_pending(
        &self,
        id: &str,
        request: SsoRequest,
        now: OffsetDateTime,
    ) -> Option<String> {
        self.with(id, now, |s| {
            if s.pending.len() >= MAX_PENDING {
                // Drop the oldest.
                if let Some(oldest) = s
                    .pending
                    .iter()
                    .min_by_key(|(_, p)| p.created)
                    .map(|(k, _)| k.clone())
                {
                    s.pending.remove(&oldest);
                }
            }
            let tx = B64URL.encode(super::util::random_bytes(12));
            s.pending.insert(
                tx.clone(),
                Pending {
                    request,
                    created: now,
                    texts: Vec::new(),
                },
            );
            // A pending login keeps an anonymous session alive a while.
            if s.authn.is_none() {
                s.expires = s.expires.max(now + self.anonymous_lifetime);
            }
            tx
        })
    }

    /// Records a text issued for a pending request.
    pub fn add_text(&self, id: &str, tx: &str, text: IssuedText, now: OffsetDateTime) -> bool {
        self.with(id, now, |s| match s.pending.get_mut(tx) {
            Some(p) => {
                if p.texts.len() >= MAX_TEXTS {
                    p.texts.remove(0);
                }
                p.texts.push(text);
                true
            }
            None => false,
        })
        .unwrap_or(false)
    }

    /// Takes the text with this nonce out of a pending request (a text serves one attempt,
    /// whatever its outcome), with the request.
    pub fn take_text(
        &self,
        id: &str,
        tx: &str,
        nonce: &str,
        now: OffsetDateTime,
    ) -> Option<(SsoRequest, Option<IssuedText>)> {
        self.with(id, now, |s| {
            let p = s.pending.get_mut(tx)?;
            let pos = p.texts.iter().position(|t| t.nonce == nonce);
            let text = pos.map(|i| p.texts.remove(i));
            Some((p.request.clone(), text))
        })
        .flatten()
    }

    pub fn pending(&self, id: &str, tx: &str, now: OffsetDateTime) -> Option<Pending> {
        self.with(id, now, |s| s.pending.get(tx).cloned()).flatten()
    }

    pub fn remove_pending(&self, id: &str, tx: &str, now: OffsetDateTime) -> Option<Pending> {
        self.with(id, now, |s| s.pending.remove(tx)).flatten()
    }

    /// Records an SP session (replacing an older one of the same SP).
    pub fn add_sp_session(&self, id: &str, sp: SpSession, now: OffsetDateTime) {
        self.with(id, now, |s| {
            s.sp_sessions.retain(|x| x.sp_entity != sp.sp_entity);
            s.sp_sessions.push(sp);
        });
    }

    /// Drops expired sessions.
    pub fn purge(&self, now: OffsetDateTime) {
        self.lock().retain(|_, s| now < s.expires);
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Messages checked at a cross-site POST and taken up at a same-site GET (single use, short life).
pub struct Parked<T> {
    inner: Mutex<HashMap<String, (OffsetDateTime, T)>>,
    lifetime: Duration,
    max: usize,
}

impl<T> Parked<T> {
    pub fn new(lifetime: Duration, max: usize) -> Self {
        Parked {
            inner: Mutex::new(HashMap::new()),
            lifetime,
            max,
        }
    }

    /// Parks `value`; `None` when full.
    pub fn park(&self, value: T, now: OffsetDateTime) -> Option<String> {
        let mut map = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= self.max {
            map.retain(|_, (exp, _)| now < *exp);
            if map.len() >= self.max {
                return None;
            }
        }
        let id = random_token();
        map.insert(id.clone(), (now + self.lifetime, value));
        Some(id)
    }

    /// Takes a parked value once.
    pub fn take(&self, id: &str, now: OffsetDateTime) -> Option<T> {
        let mut map = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        match map.remove(id) {
            Some((exp, v)) if now < exp => Some(v),
            _ => None,
        }
    }

    /// Looks at a parked value without taking it.
    pub fn peek<R>(&self, id: &str, now: OffsetDateTime, f: impl FnOnce(&T) -> R) -> Option<R> {
        let map = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        match map.get(id) {
            Some((exp, v)) if now < *exp => Some(f(v)),
            _ => None,
        }
    }

    pub fn purge(&self, now: OffsetDateTime) {
        self.inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|_, (exp, _)| now < *exp);
    }
}

/// The value of cookie `name` in a `Cookie` header (the first; `__Host-` cookies cannot be
/// shadowed by a subdomain).
pub fn cookie_value<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header.split(';').find_map(|pair| {
        let (k, v) = pair.trim().split_once('=')?;
        (k == name).then_some(v.trim_matches('"'))
    })
}

/// `Set-Cookie` for the session cookie.
pub fn set_cookie(name: &str, value: &str, max_age: Duration) -> String {
    format!(
        "{name}={value}; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age={}",
        max_age.whole_seconds().max(0)
    )
}

/// `Set-Cookie` that removes the session cookie.
pub fn clear_cookie(name: &str) -> String {
    format!("{name}=; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=0")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req() -> SsoRequest {
        SsoRequest {
            sp_entity: "https://sp".into(),
            acs_url: "https://sp/acs".into(),
            acs_binding: schemas::saml::bindings::HTTP_POST.into(),
            in_response_to: Some("_r".into()),
            relay_state: None,
            force_authn: false,
            is_passive: false,
            name_id_format: schemas::saml::nameid_format::PERSISTENT.into(),
            allow_create: true,
            acceptable_classes: vec![],
        }
    }

    #[test]
    fn login_rotates_the_id_and_texts_are_single_use() {
        let now = OffsetDateTime::now_utc();
        let store = SessionStore::new(10, Duration::hours(8), Duration::minutes(15));
        let s = store.create(now).unwrap();
        let tx = store.add_pending(&s.id, req(), now).unwrap();
        assert!(store.add_text(
            &s.id,
            &tx,
            IssuedText {
                nonce: "n1".into(),
                text: "t".into(),
                kind: crate::jpki::LoginKind::Auth,
                expires: now + Duration::minutes(5),
            },
            now
        ));
        let (_, t) = store.take_text(&s.id, &tx, "n1", now).unwrap();
        assert!(t.is_some());
        let (_, t) = store.take_text(&s.id, &tx, "n1", now).unwrap();
        assert!(t.is_none());
        let new_id = store
            .login(
                &s.id,
                Authn {
                    person: test_person(),
                    kind: AuthnKind::UserAuthenticationPin,
                    class: "c".into(),
                    instant: now,
                    cert_fp: "x".into(),
                },
                now,
            )
            .unwrap();
        assert_ne!(new_id, s.id);
        assert!(store.get(&s.id, now).is_none());
        let s2 = store.get(&new_id, now).unwrap();
        assert!(s2.is_authenticated(now));
        assert_ne!(s2.csrf, s.csrf);
        assert!(!s2.is_authenticated(now + Duration::hours(9)));
    }

    fn test_person() -> wsp_relay::PersonId {
        wsp_relay::PersonId::parse("0123456789abcdef0123456789abcdef").unwrap()
    }

    #[test]
    fn cookies() {
        assert_eq!(
            cookie_value("a=1; __Host-x=abc; b=2", "__Host-x"),
            Some("abc")
        );
        assert_eq!(cookie_value("a=1", "__Host-x"), None);
        let c = set_cookie("__Host-x", "v", Duration::hours(1));
        assert!(c.contains("Secure") && c.contains("HttpOnly") && c.contains("SameSite=Lax"));
    }

    #[test]
    fn parked_values_are_taken_once() {
        let now = OffsetDateTime::now_utc();
        let p: Parked<u32> = Parked::new(Duration::seconds(60), 2);
        let id = p.park(7, now).unwrap();
        assert_eq!(p.take(&id, now), Some(7));
        assert_eq!(p.take(&id, now), None);
        let id = p.park(8, now).unwrap();
        assert_eq!(p.take(&id, now + Duration::seconds(61)), None);
    }
}
