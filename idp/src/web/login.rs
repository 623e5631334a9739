//! The card login: `GET /login` (the page with the access application text and the script that
//! asks the local card agent for the signature), `POST /login` (the signature and certificate,
//! verified through [`crate::jpki`], the person resolved through the relay), `POST
//! /login/pinless` (clinic reception: certificate read without a PIN, face check attested by a
//! staff member) and `POST /login/cancel` (the resident gives up: `AuthnFailed` to the SP).
//!
//! The text the card signs is kept server-side with the pending request; the signature is
//! verified over those stored bytes, never over text sent back by the browser, and each text
//! serves one attempt.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use base64::Engine;
use serde::Deserialize;

use super::http::{self, client_ip, csp_nonce, too_many, MessageExtras};
use super::issue::{issue_and_send, send_error, status_with};
use super::pages::{self, LoginPage};
use super::relay::Resolution;
use super::session::{set_cookie, Authn, IssuedText, SsoRequest};
use super::sso::session_id;
use super::state::IdpState;
use super::util::{ct_eq, fp, hex, now, query_param, sha256, B64};
use crate::jpki::{
    challenge::format_jst, ChallengeRequest, JpkiError, LoginKind, RevocationReason, VerifiedCard,
    AC_PINLESS_ATTESTED, AC_SIGNATURE, AC_USER_AUTHENTICATION_PIN,
};
use schemas::saml::status;

fn lang_of(v: Option<&str>) -> Option<&'static str> {
    match v {
        Some("en") => Some("en"),
        _ => None,
    }
}

/// The SP's names and purpose: configuration, else the metadata's Organization, else the ID.
pub fn sp_names(state: &IdpState, sp: &str) -> (String, String, String, String) {
    let cfg = state.config.sp(sp);
    let org = state
        .trust()
        .and_then(|t| t.entity(sp).and_then(|e| e.descriptor.organization.clone()));
    let from_org = |lang: &str| {
        org.as_ref().and_then(|o| {
            o.display_names
                .iter()
                .chain(o.names.iter())
                .find(|n| n.lang == lang)
                .map(|n| n.value.clone())
        })
    };
    let name_ja = cfg
        .name_ja
        .clone()
        .or_else(|| from_org("ja"))
        .unwrap_or_else(|| sp.to_string());
    let name_en = cfg
        .name_en
        .clone()
        .or_else(|| from_org("en"))
        .unwrap_or_default();
    let purpose_ja = cfg
        .purpose_ja
        .clone()
        .unwrap_or_else(|| "サービスへのログイン".into());
    let purpose_en = cfg
        .purpose_en
        .clone()
        .unwrap_or_else(|| "Signing in to the service".into());
    (name_ja, name_en, purpose_ja, purpose_en)
}

/// The PIN login kinds a request allows, in order.
fn pin_kinds(req: &SsoRequest) -> Vec<LoginKind> {
    let mut v = Vec::new();
    if req
        .acceptable_classes
        .iter()
        .any(|c| c == AC_USER_AUTHENTICATION_PIN)
    {
        v.push(LoginKind::Auth);
    }
    if req.acceptable_classes.iter().any(|c| c == AC_SIGNATURE) {
        v.push(LoginKind::Sign);
    }
    v
}

fn pinless_allowed(state: &IdpState, req: &SsoRequest) -> bool {
    state.config.sp(&req.sp_entity).pinless
        && req
            .acceptable_classes
            .iter()
            .any(|c| c == AC_PINLESS_ATTESTED)
}

fn login_csp(state: &IdpState, nonce: &str) -> String {
    format!(
        "default-src 'none'; script-src 'nonce-{nonce}'; style-src 'self'; img-src 'self'; connect-src {}; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        state.config.agent.origin
    )
}

/// `GET /login?tx=…[&kind=auth|sign][&lang=en]`.
pub async fn page(req: HttpRequest, state: web::Data<IdpState>) -> HttpResponse {
    let q = req.query_string();
    let lang = lang_of(query_param(q, "lang").ok().flatten().as_deref());
    let ip = client_ip(&req, state.config.rate_limits.trust_forwarded_for);
    if let Err(s) = state.sso_per_ip.check(&ip) {
        return too_many(s, lang);
    }
    let t = now();
    let tx = query_param(q, "tx").ok().flatten().unwrap_or_default();
    let Some(session) = session_id(&req, &state).and_then(|id| state.sessions.get(&id, t)) else {
        return http::simple(StatusCode::BAD_REQUEST, "session_expired", lang);
    };
    let Some(pending) = session.pending.get(&tx) else {
        return http::simple(StatusCode::BAD_REQUEST, "session_expired", lang);
    };
    let request = &pending.request;
    let kinds = pin_kinds(request);
    let pinless = pinless_allowed(&state, request);
    let wanted = query_param(q, "kind")
        .ok()
        .flatten()
        .and_then(|k| LoginKind::parse(&k));
    let kind = match wanted {
        Some(k) if kinds.contains(&k) => k,
        _ => kinds.first().copied().unwrap_or(LoginKind::Pinless),
    };
    let (name_ja, name_en, purpose_ja, purpose_en) = sp_names(&state, &request.sp_entity);
    let texts = pages::texts(lang);
    let ja = texts.lang == "ja";
    // A text for the card to sign (also on a PIN-less-only page, where it documents the
    // application and is never signed).
    let issued = match state.verifier.challenges().issue(
        &ChallengeRequest {
            sp_entity_id: &request.sp_entity,
            sp_name_ja: &name_ja,
            sp_name_en: &name_en,
            purpose_ja: &purpose_ja,
            purpose_en: &purpose_en,
            kind,
        },
        t,
    ) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "access application text not issued");
            return http::simple(StatusCode::INTERNAL_SERVER_ERROR, "error", lang);
        }
    };
    state.sessions.add_text(
        &session.id,
        &tx,
        IssuedText {
            nonce: issued.nonce.clone(),
            text: issued.text.clone(),
            kind,
            expires: issued.expires_at,
        },
        t,
    );
    let kind_labels: Vec<(&'static str, &'static str)> = kinds
        .iter()
        .map(|k| match k {
            LoginKind::Sign => ("sign", texts.kind_sign),
            _ => ("auth", texts.kind_auth),
        })
        .collect();
    let sp_name = if ja || name_en.is_empty() {
        if name_en.is_empty() {
            name_ja.clone()
        } else {
            format!("{name_ja} / {name_en}")
        }
    } else {
        name_en.clone()
    };
    let purpose = if ja { purpose_ja } else { purpose_en };
    let nonce = csp_nonce();
    let page = LoginPage {
        t: texts,
        tx: &tx,
        csrf: &session.csrf,
        csp_nonce: &nonce,
        agent_origin: &state.config.agent.origin,
        challenge: &issued.text,
        challenge_nonce: &issued.nonce,
        sp_name: &sp_name,
        sp_entity: &request.sp_entity,
        purpose: &purpose,
        date: &format_jst(issued.issued_at),
        expires_in: (issued.expires_at - t).whole_seconds(),
        kind: kind.as_str(),
        kind_hint: if kind == LoginKind::Sign {
            texts.hint_sign
        } else {
            texts.hint_auth
        },
        pin_login: !kinds.is_empty(),
        kinds: kind_labels,
        pinless,
    };
    match page.render() {
        Ok(body) => http::html(StatusCode::OK, body, &login_csp(&state, &nonce)),
        Err(_) => http::simple(StatusCode::INTERNAL_SERVER_ERROR, "error", lang),
    }
}

/// The login form (every field optional so that a missing CSRF token is a 403, not a 400).
#[derive(Debug, Deserialize, Default)]
pub struct LoginForm {
    #[serde(default)]
    pub tx: Option<String>,
    #[serde(default)]
    pub csrf: Option<String>,
    #[serde(default)]
    pub lang: Option<String>,
    #[serde(default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub nonce: Option<String>,
    #[serde(default)]
    pub signature: Option<String>,
    #[serde(default)]
    pub certificate: Option<String>,
    #[serde(default)]
    pub staff_id: Option<String>,
    #[serde(default)]
    pub face_checked: Option<String>,
}

/// The session named by the cookie, if the form's CSRF token is its token.
fn checked_session(
    req: &HttpRequest,
    state: &IdpState,
    form: &LoginForm,
) -> Option<super::session::Session> {
    let s = session_id(req, state).and_then(|id| state.sessions.get(&id, now()))?;
    let token = form.csrf.as_deref()?;
    ct_eq(token, &s.csrf).then_some(s)
}

/// The opening every login form shares: the page language, the login rate limits (unless the form
/// only cancels), and the session proven by the form's CSRF token.
fn open_form(
    req: &HttpRequest,
    state: &IdpState,
    form: &LoginForm,
    rate_limited: bool,
) -> Result<(Option<&'static str>, super::session::Session), HttpResponse> {
    let lang = lang_of(form.lang.as_deref());
    if rate_limited {
        if let Some(r) = login_limits(state, req, lang) {
            return Err(r);
        }
    }
    let session = checked_session(req, state, form).ok_or_else(|| forbidden(lang))?;
    Ok((lang, session))
}

fn forbidden(lang: Option<&str>) -> HttpResponse {
    tracing::warn!("form refused: missing or wrong CSRF token, or no session");
    http::simple(StatusCode::FORBIDDEN, "forbidden", lang)
}

/// The page for a failed attempt, with "try again" and "back to the service".
fn failure(
    code: &str,
    lang: Option<&str>,
    tx: &str,
    csrf: &str,
    kind: Option<&str>,
    status: StatusCode,
) -> HttpResponse {
    let mut retry = format!("/login?tx={tx}");
    if let Some(k) = kind {
        retry.push_str(&format!("&kind={k}"));
    }
    if let Some(l) = lang {
        retry.push_str(&format!("&lang={l}"));
    }
    let retry_ok = !matches!(code, "unknown_certificate" | "revoked" | "inactive");
    http::message(
        status,
        code,
        lang,
        MessageExtras {
            retry_url: retry_ok.then_some(retry),
            cancel: Some((tx.to_string(), csrf.to_string())),
            ..Default::default()
        },
    )
}

/// The outcome code of a JPKI refusal.
fn jpki_code(e: &JpkiError) -> &'static str {
    match e {
        JpkiError::Expired { .. } => "expired",
        JpkiError::NotYetValid { .. } => "not_yet_valid",
        JpkiError::Revoked { reason, .. } => match reason {
            RevocationReason::Superseded => "superseded",
            RevocationReason::AffiliationChanged => "affiliation_changed",
            _ => "revoked",
        },
        JpkiError::UnknownIssuer { .. }
        | JpkiError::BadCertificateSignature
        | JpkiError::WrongKeyUsage(_)
        | JpkiError::WrongPolicy { .. }
        | JpkiError::Malformed(_) => "invalid_card",
        JpkiError::WrongKind { .. } => "wrong_kind",
        JpkiError::BadSignature => "bad_signature",
        JpkiError::ChallengeForged | JpkiError::ChallengeExpired | JpkiError::ChallengeReplayed => {
            "challenge_used"
        }
        JpkiError::CrlUnavailable { .. } | JpkiError::CrlStale { .. } => "service_unavailable",
    }
}

fn decode_b64(v: Option<&str>) -> Option<Vec<u8>> {
    let v = v?.trim();
    if v.is_empty() || v.len() > 24 * 1024 {
        return None;
    }
    B64.decode(v).ok()
}

/// Steps after a verified card: the relay, then the Response (or the page that says why not).
#[allow(clippy::too_many_arguments)]
async fn after_card(
    state: web::Data<IdpState>,
    card: VerifiedCard,
    session_id: String,
    tx: String,
    csrf: String,
    request: SsoRequest,
    lang: Option<&'static str>,
    staff: Option<String>,
) -> HttpResponse {
    let t = now();
    let cert_fp = fp(
        "cert",
        &[card.issuer_key_id.as_bytes(), &card.serial].concat(),
    );
    let dir = state.directory.clone();
    let key_id = card.issuer_key_id.clone();
    let serial = card.serial.clone();
    let resolved =
        super::http::block(move || dir.resolve(&key_id, &serial, t.unix_timestamp())).await;
    let person = match resolved {
        Ok(Ok(Resolution::Person(p))) => p,
        Ok(Ok(other)) => {
            let code = match other {
                Resolution::Unknown => "unknown_certificate",
                Resolution::Revoked => "revoked",
                Resolution::Superseded => "superseded",
                _ => "inactive",
            };
            tracing::info!(cert = %cert_fp, outcome = code, "login refused by the relay");
            let kind = (card.kind != crate::jpki::AuthnKind::PinlessAttested).then(|| {
                if card.purpose == crate::jpki::CertPurpose::Signature {
                    "sign"
                } else {
                    "auth"
                }
            });
            return failure(code, lang, &tx, &csrf, kind, StatusCode::FORBIDDEN);
        }
        Ok(Err(e)) => {
            tracing::error!(error = %e, "relay lookup failed");
            return failure(
                "service_unavailable",
                lang,
                &tx,
                &csrf,
                None,
                StatusCode::SERVICE_UNAVAILABLE,
            );
        }
        Err(_) => return http::simple(StatusCode::INTERNAL_SERVER_ERROR, "error", lang),
    };
    let class = card.authn_context_class().to_string();
    // The request's pending entry is used up by this login, whatever comes next.
    state.sessions.remove_pending(&session_id, &tx, t);
    if !request.acceptable_classes.contains(&class) {
        tracing::info!(cert = %cert_fp, class = %class, "the class performed does not satisfy the request");
        let s = status_with(
            status::REQUESTER,
            Some(status::NO_AUTHN_CONTEXT),
            "requested authentication context cannot be met",
        );
        return send_error(state, request, s, lang.map(str::to_string)).await;
    }
    let authn = Authn {
        person,
        kind: card.kind,
        class,
        instant: t,
        cert_fp: cert_fp.clone(),
    };
    if let Some(staff) = staff {
        // PIN-less: a one-shot assertion for the clinic; no resident session stays on the
        // reception terminal's browser.
        tracing::info!(cert = %cert_fp, staff = ?staff, sp = ?request.sp_entity, "PIN-less login attested by staff");
        return issue_and_send(state, None, authn, request, None, lang.map(str::to_string)).await;
    }
    tracing::info!(
        cert = %cert_fp,
        person = %fp("person", authn.person.expose().as_bytes()),
        kind = ?authn.kind,
        "card login"
    );
    let Some(new_id) = state.sessions.login(&session_id, authn.clone(), t) else {
        return http::simple(StatusCode::BAD_REQUEST, "session_expired", lang);
    };
    let cookie = set_cookie(
        &state.config.session.cookie_name,
        &new_id,
        time::Duration::seconds(state.config.session.lifetime_secs),
    );
    issue_and_send(
        state,
        Some(new_id),
        authn,
        request,
        Some(cookie),
        lang.map(str::to_string),
    )
    .await
}

fn login_limits(state: &IdpState, req: &HttpRequest, lang: Option<&str>) -> Option<HttpResponse> {
    let ip = client_ip(req, state.config.rate_limits.trust_forwarded_for);
    match state.login_per_ip.check(&ip) {
        Ok(()) => None,
        Err(s) => {
            tracing::warn!("login attempts from one client over the limit");
            Some(too_many(s, lang))
        }
    }
}

fn cert_limit(state: &IdpState, cert: &[u8], lang: Option<&str>) -> Option<HttpResponse> {
    match state.login_per_cert.check(&hex(&sha256(cert))) {
        Ok(()) => None,
        Err(s) => {
            tracing::warn!(cert = %fp("certder", cert), "login attempts with one certificate over the limit");
            Some(too_many(s, lang))
        }
    }
}

/// `POST /login`.
pub async fn submit(
    req: HttpRequest,
    state: web::Data<IdpState>,
    form: web::Form<LoginForm>,
) -> HttpResponse {
    let form = form.into_inner();
    let (lang, session) = match open_form(&req, &state, &form, true) {
        Ok(opened) => opened,
        Err(refusal) => return refusal,
    };
    let t = now();
    let tx = form.tx.clone().unwrap_or_default();
    let nonce = form.nonce.clone().unwrap_or_default();
    let Some((request, text)) = state.sessions.take_text(&session.id, &tx, &nonce, t) else {
        return http::simple(StatusCode::BAD_REQUEST, "session_expired", lang);
    };
    let kind = form
        .kind
        .as_deref()
        .filter(|k| *k == "sign" || *k == "auth");
    let Some(text) = text else {
        return failure(
            "challenge_used",
            lang,
            &tx,
            &session.csrf,
            kind,
            StatusCode::BAD_REQUEST,
        );
    };
    let (Some(signature), Some(cert)) = (
        decode_b64(form.signature.as_deref()),
        decode_b64(form.certificate.as_deref()),
    ) else {
        return failure(
            "bad_signature",
            lang,
            &tx,
            &session.csrf,
            kind,
            StatusCode::BAD_REQUEST,
        );
    };
    if let Some(r) = cert_limit(&state, &cert, lang) {
        return r;
    }
    let verifier = state.verifier.clone();
    let verified =
        super::http::block(move || verifier.verify(&text.text, &signature, &cert, now())).await;
    let card = match verified {
        Ok(Ok(card)) => card,
        Ok(Err(e)) => {
            let code = jpki_code(&e);
            tracing::info!(error = e.code(), "card login refused");
            let status = if e.is_service_problem() {
                StatusCode::SERVICE_UNAVAILABLE
            } else {
                StatusCode::FORBIDDEN
            };
            return failure(code, lang, &tx, &session.csrf, kind, status);
        }
        Err(_) => return http::simple(StatusCode::INTERNAL_SERVER_ERROR, "error", lang),
    };
    // The text was issued for this request's SP (it is ours and stored with the request).
    if card
        .challenge
        .as_ref()
        .is_none_or(|c| c.sp_entity_id != request.sp_entity)
    {
        return failure(
            "challenge_used",
            lang,
            &tx,
            &session.csrf,
            kind,
            StatusCode::BAD_REQUEST,
        );
    }
    after_card(
        state,
        card,
        session.id,
        tx,
        session.csrf,
        request,
        lang,
        None,
    )
    .await
}

fn valid_staff_id(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

/// `POST /login/pinless`.
pub async fn pinless(
    req: HttpRequest,
    state: web::Data<IdpState>,
    form: web::Form<LoginForm>,
) -> HttpResponse {
    let form = form.into_inner();
    let (lang, session) = match open_form(&req, &state, &form, true) {
        Ok(opened) => opened,
        Err(refusal) => return refusal,
    };
    let t = now();
    let tx = form.tx.clone().unwrap_or_default();
    let Some(pending) = state.sessions.pending(&session.id, &tx, t) else {
        return http::simple(StatusCode::BAD_REQUEST, "session_expired", lang);
    };
    let staff = form.staff_id.clone().unwrap_or_default();
    if !pinless_allowed(&state, &pending.request)
        || !valid_staff_id(&staff)
        || form.face_checked.as_deref() != Some("yes")
    {
        tracing::warn!(sp = ?pending.request.sp_entity, "PIN-less login refused: not allowed here or no attestation");
        return failure(
            "pinless_refused",
            lang,
            &tx,
            &session.csrf,
            None,
            StatusCode::FORBIDDEN,
        );
    }
    let Some(cert) = decode_b64(form.certificate.as_deref()) else {
        return failure(
            "invalid_card",
            lang,
            &tx,
            &session.csrf,
            None,
            StatusCode::BAD_REQUEST,
        );
    };
    if let Some(r) = cert_limit(&state, &cert, lang) {
        return r;
    }
    let verifier = state.verifier.clone();
    let card = match super::http::block(move || verifier.verify_pinless(&cert, now())).await {
        Ok(Ok(card)) => card,
        Ok(Err(e)) => {
            tracing::info!(error = e.code(), "PIN-less login refused");
            return failure(
                jpki_code(&e),
                lang,
                &tx,
                &session.csrf,
                None,
                StatusCode::FORBIDDEN,
            );
        }
        Err(_) => return http::simple(StatusCode::INTERNAL_SERVER_ERROR, "error", lang),
    };
    after_card(
        state,
        card,
        session.id,
        tx,
        session.csrf,
        pending.request,
        lang,
        Some(staff),
    )
    .await
}

/// `POST /login/cancel`: `Responder/AuthnFailed` to the SP.
pub async fn cancel(
    req: HttpRequest,
    state: web::Data<IdpState>,
    form: web::Form<LoginForm>,
) -> HttpResponse {
    let form = form.into_inner();
    let (lang, session) = match open_form(&req, &state, &form, false) {
        Ok(opened) => opened,
        Err(refusal) => return refusal,
    };
    let tx = form.tx.clone().unwrap_or_default();
    let Some(pending) = state.sessions.remove_pending(&session.id, &tx, now()) else {
        return http::simple(StatusCode::BAD_REQUEST, "session_expired", lang);
    };
    let s = status_with(
        status::RESPONDER,
        Some(status::AUTHN_FAILED),
        "authentication failed or cancelled",
    );
    send_error(state, pending.request, s, lang.map(str::to_string)).await
}
