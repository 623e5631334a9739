//! Single sign-on: `GET /sso` (HTTP-Redirect), `POST /sso` (HTTP-POST, parked and taken up at
//! `GET /sso/continue`, where the SameSite=Lax session cookie is present), and IdP-initiated
//! `GET /start?sp=<entity>` for the SPs whose configuration allows it.
//!
//! Every request is checked by [`schemas::websso::check_authn_request`]: signature per metadata,
//! ACS from metadata only, Destination, freshness, NameIDPolicy, RequestedAuthnContext. A refused
//! request is answered with an error Response only where that is safe (a known SP, its signature
//! verified when required, the ACS from its metadata); otherwise the resident sees an error page
//! and nothing is sent.

use actix_web::http::header;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use schemas::binding::{decode_post_form, MessageKind, PostOptions};
use schemas::saml::{bindings, nameid_format, status, IndexedEndpoint};
use schemas::websso::{
    build_error_response_for, check_authn_request, classes, AuthnRequestInput, ProfileError,
    ProfileErrorKind, ValidatedAuthnRequest,
};

use super::http::{self, client_ip, see_other, too_many};
use super::issue::{deliver, issue_and_send, send_error, status_with};
use super::paths;
use super::session::{cookie_value, set_cookie, SsoRequest};
use super::state::IdpState;
use super::util::{now, query_param};

/// The session cookie of a request.
pub fn session_id(req: &HttpRequest, state: &IdpState) -> Option<String> {
    let header = req.headers().get(header::COOKIE)?.to_str().ok()?;
    cookie_value(header, &state.config.session.cookie_name).map(str::to_string)
}

/// The classes this IdP can assert for an SP: the two PIN classes, and the PIN-less class for
/// the clinic SPs of the configuration.
pub fn available_classes(state: &IdpState, sp: &str) -> Vec<&'static str> {
    let mut v = vec![
        classes::JPKI_USER_AUTHENTICATION_PIN,
        classes::JPKI_SIGNATURE,
    ];
    if state.config.sp(sp).pinless {
        v.push(classes::JPKI_PINLESS_ATTESTED);
    }
    v
}

fn to_sso_request(
    state: &IdpState,
    v: ValidatedAuthnRequest,
) -> Result<SsoRequest, Box<ProfileError>> {
    let available = available_classes(state, &v.sp_entity);
    let acceptable: Vec<String> = v
        .acceptable_classes
        .iter()
        .filter(|c| available.contains(&c.as_str()))
        .cloned()
        .collect();
    if acceptable.is_empty() {
        return Err(Box::new(v.error(ProfileErrorKind::NoAuthnContext)));
    }
    if v.is_passive && v.force_authn {
        return Err(Box::new(v.no_passive()));
    }
    Ok(SsoRequest {
        sp_entity: v.sp_entity,
        acs_url: v.acs_url,
        acs_binding: v.acs_binding,
        in_response_to: Some(v.id),
        relay_state: v.relay_state,
        force_authn: v.force_authn,
        is_passive: v.is_passive,
        name_id_format: v.name_id_format,
        allow_create: v.allow_create,
        acceptable_classes: acceptable,
    })
}

/// A refused request: an error Response where safe, else a page.
async fn refused(state: web::Data<IdpState>, e: ProfileError) -> HttpResponse {
    let (top, second) = e.kind.status_codes();
    tracing::warn!(
        status = top,
        second = ?second,
        reason = e.kind.status_message(),
        answered = e.can_respond(),
        "AuthnRequest refused"
    );
    if matches!(
        e.kind,
        ProfileErrorKind::MetadataExpired | ProfileErrorKind::IdpNotInMetadata(_)
    ) {
        return http::simple(
            StatusCode::SERVICE_UNAVAILABLE,
            "metadata_unavailable",
            None,
        );
    }
    let Some(to) = e.respond_to().cloned() else {
        return http::simple(StatusCode::BAD_REQUEST, "request_refused", None);
    };
    let st = state.clone();
    let built = super::http::block(move || {
        build_error_response_for(&e, &st.config.entity_id, now(), st.keys.signer.as_ref())
    })
    .await;
    let req = SsoRequest {
        sp_entity: to.sp_entity.clone(),
        acs_url: to.acs_url.clone(),
        acs_binding: to.acs_binding.clone(),
        in_response_to: Some(to.in_response_to.clone()),
        relay_state: to.relay_state.clone(),
        force_authn: false,
        is_passive: false,
        name_id_format: nameid_format::PERSISTENT.into(),
        allow_create: false,
        acceptable_classes: Vec::new(),
    };
    match built {
        Ok(Some(Ok(r))) => {
            // The ACS comes from the metadata the request was checked against; its index for an
            // artifact is looked up again.
            let index = state
                .trust()
                .and_then(|t| {
                    t.acs_endpoints(&req.sp_entity)
                        .iter()
                        .find(|e| {
                            e.endpoint.location == req.acs_url
                                && e.endpoint.binding == req.acs_binding
                        })
                        .map(|e| e.index)
                })
                .unwrap_or(0);
            deliver(&state, &req, r.xml, index, None)
        }
        _ => http::simple(StatusCode::INTERNAL_SERVER_ERROR, "error", None),
    }
}

fn rate_limited(state: &IdpState, req: &HttpRequest) -> Option<HttpResponse> {
    let ip = client_ip(req, state.config.rate_limits.trust_forwarded_for);
    state.sso_per_ip.check(&ip).err().map(|s| too_many(s, None))
}

/// `GET /sso`: HTTP-Redirect.
pub async fn sso_redirect(req: HttpRequest, state: web::Data<IdpState>) -> HttpResponse {
    if let Some(r) = rate_limited(&state, &req) {
        return r;
    }
    let Some(trust) = state.trust() else {
        return http::simple(
            StatusCode::SERVICE_UNAVAILABLE,
            "metadata_unavailable",
            None,
        );
    };
    let query = req.query_string().to_string();
    if query.is_empty() {
        return http::simple(StatusCode::BAD_REQUEST, "request_refused", None);
    }
    let st = state.clone();
    let checked = super::http::block(move || {
        check_authn_request(
            AuthnRequestInput::RedirectQuery(&query),
            &trust,
            &st.config.entity_id,
            &st.sso_url(),
            now(),
        )
    })
    .await;
    match checked {
        Ok(Ok(v)) => match to_sso_request(&state, v) {
            Ok(sso) => proceed(&req, state, sso).await,
            Err(e) => refused(state, *e).await,
        },
        Ok(Err(e)) => refused(state, e).await,
        Err(_) => http::simple(StatusCode::INTERNAL_SERVER_ERROR, "error", None),
    }
}

/// `POST /sso`: HTTP-POST. The form arrives cross-site without the session cookie: the checked
/// request is parked and the browser continues at `GET /sso/continue`.
pub async fn sso_post(
    req: HttpRequest,
    state: web::Data<IdpState>,
    body: web::Bytes,
) -> HttpResponse {
    if let Some(r) = rate_limited(&state, &req) {
        return r;
    }
    let Some(trust) = state.trust() else {
        return http::simple(
            StatusCode::SERVICE_UNAVAILABLE,
            "metadata_unavailable",
            None,
        );
    };
    let Ok(raw) = std::str::from_utf8(&body) else {
        return http::simple(StatusCode::BAD_REQUEST, "request_refused", None);
    };
    let msg = match decode_post_form(raw, &PostOptions::default()) {
        Ok(m) if m.kind == MessageKind::Request => m,
        _ => return http::simple(StatusCode::BAD_REQUEST, "request_refused", None),
    };
    let st = state.clone();
    let checked = super::http::block(move || {
        check_authn_request(
            AuthnRequestInput::PostWithRelayState(&msg.xml, msg.relay_state.as_deref()),
            &trust,
            &st.config.entity_id,
            &st.sso_url(),
            now(),
        )
    })
    .await;
    match checked {
        Ok(Ok(v)) => match to_sso_request(&state, v) {
            Ok(sso) => match state.parked.park(sso, now()) {
                Some(id) => see_other(&format!("{}?r={id}", paths::SSO_CONTINUE), None),
                None => http::simple(StatusCode::SERVICE_UNAVAILABLE, "error", None),
            },
            Err(e) => refused(state, *e).await,
        },
        Ok(Err(e)) => refused(state, e).await,
        Err(_) => http::simple(StatusCode::INTERNAL_SERVER_ERROR, "error", None),
    }
}

/// `GET /sso/continue?r=…`: a parked POST request, now with the cookie.
pub async fn sso_continue(req: HttpRequest, state: web::Data<IdpState>) -> HttpResponse {
    let id = query_param(req.query_string(), "r")
        .ok()
        .flatten()
        .unwrap_or_default();
    match state.parked.take(&id, now()) {
        Some(sso) => proceed(&req, state, sso).await,
        None => http::simple(StatusCode::BAD_REQUEST, "session_expired", None),
    }
}

/// `GET /start?sp=<entity>[&RelayState=…]`: IdP-initiated SSO, only for SPs configured with
/// `allow_idp_initiated`, to the SP's default ACS from the metadata.
pub async fn start(req: HttpRequest, state: web::Data<IdpState>) -> HttpResponse {
    if let Some(r) = rate_limited(&state, &req) {
        return r;
    }
    let q = req.query_string();
    let (Ok(Some(sp)), Ok(relay_state)) = (query_param(q, "sp"), query_param(q, "RelayState"))
    else {
        return http::simple(StatusCode::BAD_REQUEST, "request_refused", None);
    };
    let lang = query_param(q, "lang").ok().flatten();
    if relay_state.as_ref().is_some_and(|r| r.len() > 80) {
        return http::simple(StatusCode::BAD_REQUEST, "request_refused", lang.as_deref());
    }
    let Some(trust) = state.trust().filter(|t| t.is_current(now())) else {
        return http::simple(
            StatusCode::SERVICE_UNAVAILABLE,
            "metadata_unavailable",
            lang.as_deref(),
        );
    };
    let allowed = state.config.sp(&sp).allow_idp_initiated;
    let descriptor = trust.sp(&sp);
    let (Some(d), true) = (descriptor, allowed) else {
        tracing::warn!(sp = ?sp, "IdP-initiated SSO refused: not allowed for this SP");
        return http::simple(
            StatusCode::FORBIDDEN,
            "idp_initiated_refused",
            lang.as_deref(),
        );
    };
    let usable: Vec<IndexedEndpoint> = d
        .assertion_consumer_services
        .iter()
        .filter(|e| {
            (e.endpoint.binding == bindings::HTTP_POST
                || e.endpoint.binding == bindings::HTTP_ARTIFACT)
                && schemas::websso::is_safe_endpoint(&e.endpoint.location)
        })
        .cloned()
        .collect();
    let Some(acs) = IndexedEndpoint::default_of(&usable) else {
        return http::simple(StatusCode::BAD_REQUEST, "request_refused", lang.as_deref());
    };
    let sso = SsoRequest {
        sp_entity: sp.clone(),
        acs_url: acs.endpoint.location.clone(),
        acs_binding: acs.endpoint.binding.clone(),
        in_response_to: None,
        relay_state,
        force_authn: false,
        is_passive: false,
        name_id_format: nameid_format::PERSISTENT.into(),
        allow_create: true,
        acceptable_classes: vec![
            classes::JPKI_USER_AUTHENTICATION_PIN.into(),
            classes::JPKI_SIGNATURE.into(),
        ],
    };
    proceed(&req, state, sso).await
}

/// A checked request: answered at once from a usable session, `NoPassive` when passive, or
/// sent to the login page.
pub async fn proceed(
    req: &HttpRequest,
    state: web::Data<IdpState>,
    sso: SsoRequest,
) -> HttpResponse {
    let t = now();
    let session = session_id(req, &state).and_then(|id| state.sessions.get(&id, t));
    if let Some(s) = &session {
        if let Some(a) = &s.authn {
            if s.is_authenticated(t)
                && !sso.force_authn
                && sso.acceptable_classes.contains(&a.class)
            {
                tracing::info!(sp = ?sso.sp_entity, "single sign-on from the IdP session");
                return issue_and_send(
                    state.clone(),
                    Some(s.id.clone()),
                    a.clone(),
                    sso,
                    None,
                    None,
                )
                .await;
            }
        }
    }
    if sso.is_passive {
        let s = status_with(
            status::REQUESTER,
            Some(status::NO_PASSIVE),
            "passive authentication not possible",
        );
        return send_error(state, sso, s, None).await;
    }
    let (sid, cookie) = match session {
        Some(s) => (s.id, None),
        None => match state.sessions.create(t) {
            Some(s) => {
                let c = set_cookie(
                    &state.config.session.cookie_name,
                    &s.id,
                    time::Duration::seconds(state.config.session.lifetime_secs),
                );
                (s.id, Some(c))
            }
            None => return http::simple(StatusCode::SERVICE_UNAVAILABLE, "error", None),
        },
    };
    match state.sessions.add_pending(&sid, sso, t) {
        Some(tx) => see_other(&format!("{}?tx={tx}", paths::LOGIN), cookie.as_deref()),
        None => http::simple(StatusCode::SERVICE_UNAVAILABLE, "error", None),
    }
}
