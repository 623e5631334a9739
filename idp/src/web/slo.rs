//! Single Logout (SAML profiles §4.4).
//!
//! * **From an SP**, front-channel (`GET /slo` HTTP-Redirect with a query signature, `POST /slo`
//!   HTTP-POST with an enveloped signature) or back-channel (`POST /slo/soap`): the request must
//!   be signed and is verified with the SP's metadata keys; the IdP session holding that SP
//!   session (SP, NameID, SessionIndex) ends; every *other* SP of the session is told:
//!   back-channel (SOAP) where its metadata lists a SOAP SingleLogoutService, else front-channel
//!   (the browser is sent through each SP with a signed LogoutRequest; each answers with a
//!   LogoutResponse to `/slo`, `RelayState` naming the logout). Finally the initiator gets a
//!   signed LogoutResponse: `Success`, with the second-level `PartialLogout` when some SP could
//!   not be logged out.
//! * **From the IdP** (`GET /logout` → `POST /logout` with the CSRF token): the same
//!   propagation, ending on the IdP's "signed out" page.
//!
//! Only sessions matching the verified request are ended (`attacks.md`, "SLO wrapping").

use std::collections::HashMap;
use std::sync::Mutex;

use actix_web::http::header;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use schemas::binding::{
    decode_post_form, decode_redirect, encode_redirect, redirect_url, MessageKind,
    OpensslQueryVerifier, PostOptions, RedirectMessage, RedirectOptions,
};
use schemas::dsig::{sign_enveloped, verify_enveloped, VerifyPolicy};
use schemas::ns::{DS, SAML, SAMLP};
use schemas::saml::{
    bindings, nameid_format, status, LogoutRequest, LogoutResponse, NameId, RequestHeader, SamlXml,
    Status, StatusResponseHeader, SubjectId,
};
use schemas::soap::{Envelope, Fault, FaultCode};
use schemas::trust::TrustStore;
use schemas::websso::{new_id, profile_sign_options, DEFAULT_SKEW};
use schemas::xml::parse;
use serde::Deserialize;
use time::{Duration, OffsetDateTime};

use super::http::{self, see_other, MessageExtras};
use super::session::{clear_cookie, SpSession};
use super::sso::session_id;
use super::state::IdpState;
use super::util::{ct_eq, fp, now, query_param};

/// Who asked for the logout and where the answer goes.
#[derive(Clone, Debug)]
pub struct Initiator {
    pub sp: String,
    pub request_id: String,
    pub relay_state: Option<String>,
    pub binding: String,
    pub endpoint: String,
}

#[derive(Clone, Debug)]
struct LogoutTx {
    initiator: Option<Initiator>,
    remaining: Vec<SpSession>,
    /// The SP being logged out through the browser and the ID of the request sent to it.
    current: Option<(String, String)>,
    partial: bool,
    expires: OffsetDateTime,
}

/// Front-channel logouts in progress.
pub struct LogoutStore {
    inner: Mutex<HashMap<String, LogoutTx>>,
    lifetime: Duration,
    max: usize,
}

impl LogoutStore {
    pub fn new(lifetime: Duration, max: usize) -> Self {
        LogoutStore {
            inner: Mutex::new(HashMap::new()),
            lifetime,
            max,
        }
    }

    fn put(&self, id: String, mut tx: LogoutTx, now: OffsetDateTime) -> bool {
        let mut map = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= self.max {
            map.retain(|_, t| now < t.expires);
            if map.len() >= self.max {
                return false;
            }
        }
        tx.expires = now + self.lifetime;
        map.insert(id, tx);
        true
    }

    fn take(&self, id: &str, now: OffsetDateTime) -> Option<LogoutTx> {
        let mut map = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        map.remove(id).filter(|t| now < t.expires)
    }

    pub fn purge(&self, now: OffsetDateTime) {
        self.inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|_, t| now < t.expires);
    }
}

/// A message as it arrived.
enum Incoming<'a> {
    Redirect(&'a RedirectMessage),
    Post(&'a [u8]),
    Soap(&'a [u8]),
}

/// Verifies an incoming SLO message of an SP and parses it from what was verified. Returns the
/// message and its issuer.
fn verified<T: SamlXml>(
    trust: &TrustStore,
    incoming: Incoming<'_>,
    local: &str,
) -> Result<(T, String), &'static str> {
    let (xml, query) = match &incoming {
        Incoming::Redirect(m) => (&m.xml[..], Some(*m)),
        Incoming::Post(x) => (*x, None),
        Incoming::Soap(x) => (*x, None),
    };
    let doc = parse(xml).map_err(|_| "not well-formed")?;
    let soap_body;
    let root = match incoming {
        Incoming::Soap(_) => {
            let env = Envelope::from_document(&doc).map_err(|_| "not a SOAP envelope")?;
            soap_body = env
                .body_child()
                .map_err(|_| "the Body must hold one element")?;
            soap_body
        }
        _ => doc.root(),
    };
    if !root.is(SAMLP, local) {
        return Err("unexpected message");
    }
    let issuer = root
        .first(SAML, "Issuer")
        .and_then(|i| i.text().ok())
        .map(|t| t.trim().to_string())
        .ok_or("no Issuer")?;
    let keys = trust.sp_signing_keys(&issuer);
    if keys.is_empty() {
        return Err("the issuer is not an SP of the metadata");
    }
    let enveloped = root.first(DS, "Signature").is_some();
    let message = match query {
        Some(m) => {
            if enveloped {
                return Err("an HTTP-Redirect message must not carry an enveloped signature");
            }
            let verifier =
                OpensslQueryVerifier::new(keys.iter().map(|k| k.public_key().clone()).collect());
            m.verify(&verifier)
                .map_err(|_| "query signature missing or invalid")?;
            T::from_element(root).map_err(|_| "malformed")?
        }
        None => {
            if !enveloped {
                return Err("unsigned");
            }
            let v = verify_enveloped(root, keys, &VerifyPolicy::default())
                .map_err(|_| "signature invalid")?;
            let vdoc = v.document().map_err(|_| "malformed")?;
            T::from_element(vdoc.root()).map_err(|_| "malformed")?
        }
    };
    Ok((message, issuer))
}

fn issuer_of(h: &Option<NameId>) -> String {
    h.as_ref()
        .map(|i| i.value.trim().to_string())
        .unwrap_or_default()
}

fn fresh(instant: OffsetDateTime, now: OffsetDateTime) -> bool {
    instant <= now + DEFAULT_SKEW && instant >= now - DEFAULT_SKEW
}

/// The SP's front-channel SLO endpoint: the preferred binding, else the other one.
fn front_endpoint(trust: &TrustStore, sp: &str, prefer: &str) -> Option<(String, String, String)> {
    let d = trust.sp(sp)?;
    let pick = |b: &str| {
        d.sso.single_logout_service(b).map(|e| {
            (
                b.to_string(),
                e.location.clone(),
                e.response_location
                    .clone()
                    .unwrap_or_else(|| e.location.clone()),
            )
        })
    };
    let other = if prefer == bindings::HTTP_POST {
        bindings::HTTP_REDIRECT
    } else {
        bindings::HTTP_POST
    };
    pick(prefer).or_else(|| pick(other)).filter(|(_, l, r)| {
        schemas::websso::is_safe_endpoint(l) && schemas::websso::is_safe_endpoint(r)
    })
}

fn soap_endpoint(trust: &TrustStore, sp: &str) -> Option<String> {
    trust
        .sp(sp)?
        .sso
        .single_logout_service(bindings::SOAP)
        .map(|e| e.location.clone())
        .filter(|l| schemas::websso::is_safe_endpoint(l))
}

fn idp_issuer(state: &IdpState) -> NameId {
    NameId::with_format(&state.config.entity_id, nameid_format::ENTITY)
}

/// A LogoutRequest for one SP session.
fn logout_request(
    state: &IdpState,
    sp: &SpSession,
    destination: &str,
    now: OffsetDateTime,
) -> LogoutRequest {
    let mut header = RequestHeader::new(new_id(), now, idp_issuer(state));
    header.destination = Some(destination.to_string());
    LogoutRequest {
        header,
        not_on_or_after: Some(now + Duration::minutes(5)),
        reason: Some("urn:oasis:names:tc:SAML:2.0:logout:user".into()),
        id: SubjectId::NameId(sp.name_id.clone()),
        session_indexes: vec![sp.session_index.clone()],
    }
}

fn logout_response(
    state: &IdpState,
    in_response_to: &str,
    destination: Option<&str>,
    partial: bool,
    now: OffsetDateTime,
) -> LogoutResponse {
    let status = if partial {
        let mut s = Status::new(status::SUCCESS, Some(status::PARTIAL_LOGOUT));
        s.message = Some("some sessions could not be ended".into());
        s
    } else {
        Status::success()
    };
    let mut header = StatusResponseHeader::new(new_id(), now, idp_issuer(state), status);
    header.in_response_to = Some(in_response_to.to_string());
    header.destination = destination.map(str::to_string);
    LogoutResponse { header }
}

fn soap_wrap(body: &str) -> String {
    format!(
        "<S:Envelope xmlns:S=\"http://schemas.xmlsoap.org/soap/envelope/\"><S:Body>{body}</S:Body></S:Envelope>"
    )
}

/// Sends a message to the browser for `endpoint` over `binding`.
#[allow(clippy::too_many_arguments)]
fn send_front(
    state: &IdpState,
    binding: &str,
    endpoint: &str,
    kind: MessageKind,
    xml: String,
    id: &str,
    relay_state: Option<&str>,
    set_cookie: Option<&str>,
) -> HttpResponse {
    if binding == bindings::HTTP_REDIRECT {
        let signer = state.keys.query_signer();
        match encode_redirect(kind, xml.as_bytes(), relay_state, Some(&signer)) {
            Ok(q) => see_other(&redirect_url(endpoint, &q), set_cookie),
            Err(_) => http::simple(StatusCode::INTERNAL_SERVER_ERROR, "error", None),
        }
    } else {
        match sign_enveloped(
            &xml,
            id,
            state.keys.signer.as_ref(),
            &profile_sign_options(),
        ) {
            Ok(signed) => {
                http::post_page(endpoint, kind, signed.as_bytes(), relay_state, set_cookie)
            }
            Err(_) => http::simple(StatusCode::INTERNAL_SERVER_ERROR, "error", None),
        }
    }
}

/// Back-channel logout of one SP session; `true` when the SP answered Success.
async fn back_channel(
    state: &IdpState,
    trust: &TrustStore,
    sp: &SpSession,
    endpoint: &str,
) -> bool {
    let now = now();
    let req = logout_request(state, sp, endpoint, now);
    let id = req.header.id.clone();
    let Ok(signed) = sign_enveloped(
        &req.to_xml(),
        &id,
        state.keys.signer.as_ref(),
        &profile_sign_options(),
    ) else {
        return false;
    };
    let sent = state
        .http
        .post(endpoint)
        .header(header::CONTENT_TYPE.as_str(), schemas::soap::CONTENT_TYPE)
        .header(
            "SOAPAction",
            "http://www.oasis-open.org/committees/security",
        )
        .body(soap_wrap(&signed))
        .send()
        .await;
    let body = match sent {
        Ok(r) => match r.bytes().await {
            Ok(b) => b,
            Err(_) => return false,
        },
        Err(e) => {
            tracing::warn!(sp = ?sp.sp_entity, error = %e, "back-channel logout: no answer");
            return false;
        }
    };
    match verified::<LogoutResponse>(trust, Incoming::Soap(&body), "LogoutResponse") {
        Ok((resp, issuer)) => {
            let ok = issuer == sp.sp_entity
                && resp.header.in_response_to.as_deref() == Some(id.as_str())
                && resp.header.status.is_success()
                && resp.header.status.second_level().is_none();
            tracing::info!(sp = ?sp.sp_entity, ok, "back-channel logout");
            ok
        }
        Err(why) => {
            tracing::warn!(sp = ?sp.sp_entity, why, "back-channel logout: answer refused");
            false
        }
    }
}

/// Tells every SP session of `others`; front-channel ones through the browser.
async fn propagate(
    state: web::Data<IdpState>,
    others: Vec<SpSession>,
    initiator: Option<Initiator>,
    mut partial: bool,
    lang: Option<&str>,
) -> HttpResponse {
    let Some(trust) = state.trust() else {
        return finish(&state, initiator, true, lang);
    };
    let mut front = Vec::new();
    for sp in others {
        if let Some(endpoint) = soap_endpoint(&trust, &sp.sp_entity) {
            if !back_channel(&state, &trust, &sp, &endpoint).await {
                partial = true;
            }
        } else if front_endpoint(&trust, &sp.sp_entity, bindings::HTTP_REDIRECT).is_some() {
            front.push(sp);
        } else {
            tracing::warn!(sp = ?sp.sp_entity, "SP has no SingleLogoutService: not logged out");
            partial = true;
        }
    }
    let tx = LogoutTx {
        initiator,
        remaining: front,
        current: None,
        partial,
        expires: now(),
    };
    next_front(state, &trust, tx, lang)
}

/// Sends the browser to the next front-channel SP, or finishes.
fn next_front(
    state: web::Data<IdpState>,
    trust: &TrustStore,
    mut tx: LogoutTx,
    lang: Option<&str>,
) -> HttpResponse {
    while let Some(sp) = tx.remaining.pop() {
        let Some((binding, endpoint, _)) =
            front_endpoint(trust, &sp.sp_entity, bindings::HTTP_REDIRECT)
        else {
            tx.partial = true;
            continue;
        };
        let t = now();
        let req = logout_request(&state, &sp, &endpoint, t);
        let id = req.header.id.clone();
        tx.current = Some((sp.sp_entity.clone(), id.clone()));
        let tx_id = super::util::random_token();
        let xml = req.to_xml();
        if !state.logouts.put(tx_id.clone(), tx.clone(), t) {
            return http::simple(StatusCode::SERVICE_UNAVAILABLE, "error", lang);
        }
        tracing::info!(sp = ?sp.sp_entity, binding = %binding, "front-channel logout");
        return send_front(
            &state,
            &binding,
            &endpoint,
            MessageKind::Request,
            xml,
            &id,
            Some(tx_id.as_str()),
            None,
        );
    }
    finish(&state, tx.initiator, tx.partial, lang)
}

/// The answer to the initiator, or the IdP's own page.
fn finish(
    state: &IdpState,
    initiator: Option<Initiator>,
    partial: bool,
    lang: Option<&str>,
) -> HttpResponse {
    let clear = clear_cookie(&state.config.session.cookie_name);
    match initiator {
        Some(i) => {
            let t = now();
            let resp = logout_response(state, &i.request_id, Some(&i.endpoint), partial, t);
            let id = resp.header.id.clone();
            tracing::info!(sp = ?i.sp, partial, "logout answered");
            send_front(
                state,
                &i.binding,
                &i.endpoint,
                MessageKind::Response,
                resp.to_xml(),
                &id,
                i.relay_state.as_deref(),
                Some(&clear),
            )
        }
        None => http::message(
            StatusCode::OK,
            if partial {
                "partial_logout"
            } else {
                "signed_out"
            },
            lang,
            MessageExtras {
                set_cookie: Some(clear),
                ..Default::default()
            },
        ),
    }
}

/// A LogoutRequest from an SP (front-channel).
async fn logout_request_in(
    req: &HttpRequest,
    state: web::Data<IdpState>,
    incoming: Incoming<'_>,
    binding: &str,
    relay_state: Option<String>,
) -> HttpResponse {
    let Some(trust) = state.trust() else {
        return http::simple(
            StatusCode::SERVICE_UNAVAILABLE,
            "metadata_unavailable",
            None,
        );
    };
    let t = now();
    let (lr, issuer) = match verified::<LogoutRequest>(&trust, incoming, "LogoutRequest") {
        Ok(x) => x,
        Err(why) => {
            tracing::warn!(why, "LogoutRequest refused");
            return http::simple(StatusCode::BAD_REQUEST, "request_refused", None);
        }
    };
    let dest_ok =
        lr.header.destination.as_deref() == Some(state.config.url(super::paths::SLO).as_str());
    let time_ok = fresh(lr.header.issue_instant, t)
        && lr.not_on_or_after.is_none_or(|n| t < n + DEFAULT_SKEW);
    let Some((resp_binding, _, resp_endpoint)) = front_endpoint(&trust, &issuer, binding) else {
        tracing::warn!(sp = ?issuer, "LogoutRequest from an SP without SingleLogoutService");
        return http::simple(StatusCode::BAD_REQUEST, "request_refused", None);
    };
    if !dest_ok || !time_ok || issuer_of(&lr.header.issuer) != issuer {
        tracing::warn!(sp = ?issuer, "LogoutRequest refused: Destination or time");
        return http::simple(StatusCode::BAD_REQUEST, "request_refused", None);
    }
    let initiator = Initiator {
        sp: issuer.clone(),
        request_id: lr.header.id.clone(),
        relay_state,
        binding: resp_binding,
        endpoint: resp_endpoint,
    };
    let SubjectId::NameId(name_id) = &lr.id else {
        return finish(&state, Some(initiator), false, None);
    };
    let found = state
        .sessions
        .find_by_sp_session(&issuer, &name_id.value, &lr.session_indexes, t);
    let cookie_session = session_id(req, &state);
    let Some(sid) = found else {
        tracing::info!(sp = ?issuer, name_id = %fp("nameid", name_id.value.as_bytes()), "logout: no matching session");
        return finish(&state, Some(initiator), false, None);
    };
    let session = state.sessions.remove(&sid);
    if cookie_session.as_deref().is_some_and(|c| c != sid) {
        // The browser's own session is another one; it stays.
        tracing::info!("logout of a session other than the browser's");
    }
    let others: Vec<SpSession> = session
        .map(|s| {
            s.sp_sessions
                .into_iter()
                .filter(|x| x.sp_entity != issuer)
                .collect()
        })
        .unwrap_or_default();
    tracing::info!(sp = ?issuer, others = others.len(), "IdP session ended by SP logout");
    propagate(state, others, Some(initiator), false, None).await
}

/// A LogoutResponse from an SP in a front-channel chain.
async fn logout_response_in(
    state: web::Data<IdpState>,
    incoming: Incoming<'_>,
    relay_state: Option<String>,
) -> HttpResponse {
    let t = now();
    let Some(tx) = relay_state.and_then(|r| state.logouts.take(&r, t)) else {
        return http::simple(StatusCode::BAD_REQUEST, "request_refused", None);
    };
    let Some(trust) = state.trust() else {
        return finish(&state, tx.initiator, true, None);
    };
    let mut tx = tx;
    let (expected_sp, expected_id) = tx.current.take().unwrap_or_default();
    match verified::<LogoutResponse>(&trust, incoming, "LogoutResponse") {
        Ok((resp, issuer)) => {
            let ok = issuer == expected_sp
                && resp.header.in_response_to.as_deref() == Some(expected_id.as_str())
                && resp.header.destination.as_deref()
                    == Some(state.config.url(super::paths::SLO).as_str())
                && resp.header.status.is_success()
                && resp.header.status.second_level().is_none();
            if !ok {
                tx.partial = true;
            }
            tracing::info!(sp = ?issuer, ok, "front-channel logout answered");
        }
        Err(why) => {
            tracing::warn!(why, "LogoutResponse refused");
            tx.partial = true;
        }
    }
    next_front(state, &trust, tx, None)
}

/// `GET /slo` (HTTP-Redirect).
pub async fn slo_redirect(req: HttpRequest, state: web::Data<IdpState>) -> HttpResponse {
    if !state.config.slo.enabled {
        return http::simple(StatusCode::NOT_FOUND, "error", None);
    }
    let msg = match decode_redirect(req.query_string(), &RedirectOptions::default()) {
        Ok(m) => m,
        Err(_) => return http::simple(StatusCode::BAD_REQUEST, "request_refused", None),
    };
    let rs = msg.relay_state.clone();
    match msg.kind {
        MessageKind::Request => {
            logout_request_in(
                &req,
                state,
                Incoming::Redirect(&msg),
                bindings::HTTP_REDIRECT,
                rs,
            )
            .await
        }
        MessageKind::Response => logout_response_in(state, Incoming::Redirect(&msg), rs).await,
    }
}

/// `POST /slo` (HTTP-POST).
pub async fn slo_post(
    req: HttpRequest,
    state: web::Data<IdpState>,
    body: web::Bytes,
) -> HttpResponse {
    if !state.config.slo.enabled {
        return http::simple(StatusCode::NOT_FOUND, "error", None);
    }
    let Ok(raw) = std::str::from_utf8(&body) else {
        return http::simple(StatusCode::BAD_REQUEST, "request_refused", None);
    };
    let msg = match decode_post_form(raw, &PostOptions::default()) {
        Ok(m) => m,
        Err(_) => return http::simple(StatusCode::BAD_REQUEST, "request_refused", None),
    };
    let rs = msg.relay_state.clone();
    match msg.kind {
        MessageKind::Request => {
            logout_request_in(
                &req,
                state,
                Incoming::Post(&msg.xml),
                bindings::HTTP_POST,
                rs,
            )
            .await
        }
        MessageKind::Response => logout_response_in(state, Incoming::Post(&msg.xml), rs).await,
    }
}

fn soap_answer(status: StatusCode, xml: String) -> HttpResponse {
    HttpResponse::build(status)
        .content_type(schemas::soap::CONTENT_TYPE)
        .body(xml)
}

/// `POST /slo/soap`: back-channel LogoutRequest of an SP.
pub async fn slo_soap(state: web::Data<IdpState>, body: web::Bytes) -> HttpResponse {
    let fault = |m: &str| {
        soap_answer(
            StatusCode::INTERNAL_SERVER_ERROR,
            Fault::new(FaultCode::client(), m).to_envelope(),
        )
    };
    if !state.config.slo.enabled {
        return fault("Single Logout is not enabled");
    }
    let Some(trust) = state.trust() else {
        return fault("the responder has no metadata");
    };
    let t = now();
    let (lr, issuer) =
        match verified::<LogoutRequest>(&trust, Incoming::Soap(&body), "LogoutRequest") {
            Ok(x) => x,
            Err(why) => {
                tracing::warn!(why, "SOAP LogoutRequest refused");
                return fault("request refused");
            }
        };
    let dest_ok = lr
        .header
        .destination
        .as_deref()
        .is_none_or(|d| d == state.config.url(super::paths::SLO_SOAP));
    if !dest_ok || !fresh(lr.header.issue_instant, t) || issuer_of(&lr.header.issuer) != issuer {
        return fault("request refused");
    }
    let mut partial = false;
    if let SubjectId::NameId(n) = &lr.id {
        if let Some(sid) =
            state
                .sessions
                .find_by_sp_session(&issuer, &n.value, &lr.session_indexes, t)
        {
            let others: Vec<SpSession> = state
                .sessions
                .remove(&sid)
                .map(|s| {
                    s.sp_sessions
                        .into_iter()
                        .filter(|x| x.sp_entity != issuer)
                        .collect()
                })
                .unwrap_or_default();
            for sp in others {
                match soap_endpoint(&trust, &sp.sp_entity) {
                    Some(ep) => {
                        if !back_channel(&state, &trust, &sp, &ep).await {
                            partial = true;
                        }
                    }
                    // No browser here: a front-channel-only SP cannot be told.
                    None => partial = true,
                }
            }
            tracing::info!(sp = ?issuer, partial, "IdP session ended by back-channel logout");
        }
    }
    let resp = logout_response(&state, &lr.header.id, None, partial, t);
    let id = resp.header.id.clone();
    match sign_enveloped(
        &resp.to_xml(),
        &id,
        state.keys.signer.as_ref(),
        &profile_sign_options(),
    ) {
        Ok(signed) => soap_answer(StatusCode::OK, soap_wrap(&signed)),
        Err(_) => fault("the responder could not sign"),
    }
}

/// `GET /logout`: asks the resident to confirm (a form with the CSRF token).
pub async fn logout_page(req: HttpRequest, state: web::Data<IdpState>) -> HttpResponse {
    let lang = query_param(req.query_string(), "lang").ok().flatten();
    let lang = lang.as_deref().filter(|l| *l == "en");
    let Some(s) = session_id(&req, &state).and_then(|id| state.sessions.get(&id, now())) else {
        return http::simple(StatusCode::OK, "signed_out", lang);
    };
    let (title, button) = if lang == Some("en") {
        ("Sign out", "Sign out of every service")
    } else {
        ("ログアウト", "すべてのサービスからログアウトする")
    };
    let body = format!(
        "<!DOCTYPE html><html lang=\"{}\"><head><meta charset=\"utf-8\"><title>{title}</title><link rel=\"stylesheet\" href=\"/static/idp.css\"></head><body><main data-page=\"logout\"><h1>{title}</h1><form method=\"post\" action=\"/logout\"><input type=\"hidden\" name=\"csrf\" value=\"{}\"><input type=\"hidden\" name=\"lang\" value=\"{}\"><div class=\"buttons\"><button type=\"submit\">{button}</button></div></form></main></body></html>",
        lang.unwrap_or("ja"),
        s.csrf,
        lang.unwrap_or("ja")
    );
    http::html(StatusCode::OK, body, http::CSP_PLAIN)
}

#[derive(Debug, Deserialize, Default)]
pub struct LogoutForm {
    #[serde(default)]
    pub csrf: Option<String>,
    #[serde(default)]
    pub lang: Option<String>,
}

/// `POST /logout`: IdP-initiated logout of every SP session.
pub async fn logout_submit(
    req: HttpRequest,
    state: web::Data<IdpState>,
    form: web::Form<LogoutForm>,
) -> HttpResponse {
    let lang = form
        .lang
        .as_deref()
        .filter(|l| *l == "en")
        .map(str::to_string);
    let t = now();
    let Some(s) = session_id(&req, &state).and_then(|id| state.sessions.get(&id, t)) else {
        return http::simple(StatusCode::FORBIDDEN, "forbidden", lang.as_deref());
    };
    if !form.csrf.as_deref().is_some_and(|c| ct_eq(c, &s.csrf)) {
        return http::simple(StatusCode::FORBIDDEN, "forbidden", lang.as_deref());
    }
    let others = state
        .sessions
        .remove(&s.id)
        .map(|s| s.sp_sessions)
        .unwrap_or_default();
    tracing::info!(sps = others.len(), "IdP-initiated logout");
    propagate(state, others, None, false, lang.as_deref()).await
}
