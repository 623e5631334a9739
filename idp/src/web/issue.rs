//! Issuing the answer to an SP: the signed Response (signed assertion, encrypted when the SP
//! has an encryption key, the DiscoveryEPR bootstrap), or an error Response; delivered over the
//! ACS binding of the request (HTTP-POST page or HTTP-Artifact redirect).
//!
//! Before anything is sent, the ACS is looked up again in the *current* metadata: a URL the SP's
//! metadata does not (or no longer) list never receives anything.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use schemas::binding::MessageKind;
use schemas::saml::{bindings, nameid_format, status, SpSsoDescriptor, Status};
use schemas::websso::{
    build_error_response, build_response, new_id, ErrorResponseParams, Lifetimes, ResponseParams,
};
use schemas::xenc::Recipient;
use time::{Duration, OffsetDateTime};

use super::bootstrap::{discovery_attribute, BootstrapLogin, DsTarget};
use super::http::{self, see_other};
use super::nameid;
use super::session::{Authn, SpSession, SsoRequest};
use super::state::IdpState;
use super::util::{fp, now, url_encode};

/// Why no successful Response was made.
#[derive(Debug)]
pub enum IssueFailure {
    /// Answer the SP with this status.
    Status(Status),
    /// Nothing may be sent (the ACS is no longer in the metadata, no metadata).
    NoAnswer(&'static str),
    /// An internal failure: an error page, and a `Responder` status if the SP can be told.
    Internal(String),
}

pub fn status_with(top: &str, second: Option<&str>, message: &str) -> Status {
    let mut s = Status::new(top, second);
    s.message = Some(message.to_string());
    s
}

/// The ACS endpoint of the request, if the current metadata still lists it for the SP.
fn listed_acs(sp: &SpSsoDescriptor, req: &SsoRequest) -> Option<u16> {
    sp.assertion_consumer_services
        .iter()
        .find(|e| e.endpoint.location == req.acs_url && e.endpoint.binding == req.acs_binding)
        .filter(|_| schemas::websso::is_safe_endpoint(&req.acs_url))
        .map(|e| e.index)
}

/// A successful Response and the SP session it opens.
pub struct Issued {
    pub xml: String,
    pub sp_session: SpSession,
    pub acs_index: u16,
}

/// Builds the Response for `req` after `authn` (blocking: signatures, encryption, relay reads).
pub fn issue_response(
    state: &IdpState,
    authn: &Authn,
    req: &SsoRequest,
    existing: Option<&SpSession>,
    session_until: OffsetDateTime,
) -> Result<Issued, IssueFailure> {
    let now = now();
    let cfg = &state.config;
    let trust = state.trust().ok_or(IssueFailure::NoAnswer("no metadata"))?;
    if !trust.is_current(now) {
        return Err(IssueFailure::NoAnswer("metadata expired"));
    }
    let sp = trust
        .sp(&req.sp_entity)
        .ok_or(IssueFailure::NoAnswer("the SP left the metadata"))?;
    let acs_index = listed_acs(sp, req).ok_or(IssueFailure::NoAnswer("ACS no longer listed"))?;
    let sp_cfg = cfg.sp(&req.sp_entity);

    // The subject's identifier.
    let name_id = if req.name_id_format == nameid_format::TRANSIENT {
        existing
            .filter(|x| x.name_id.format.as_deref() == Some(nameid_format::TRANSIENT))
            .map(|x| x.name_id.clone())
            .unwrap_or_else(|| nameid::transient(&cfg.entity_id, &req.sp_entity))
    } else {
        let value = nameid::pairwise(
            &state.pairwise_secret,
            authn.person.expose(),
            &req.sp_entity,
        );
        if !state.issued.exists(&req.sp_entity, &value) {
            if !req.allow_create {
                return Err(IssueFailure::Status(status_with(
                    status::REQUESTER,
                    Some(status::INVALID_NAMEID_POLICY),
                    "NameIDPolicy cannot be met",
                )));
            }
            state
                .issued
                .record(&req.sp_entity, &value)
                .map_err(|e| IssueFailure::Internal(format!("issued-nameids: {e}")))?;
        }
        nameid::persistent(value, &cfg.entity_id, &req.sp_entity)
    };
    let session_index = existing
        .filter(|x| x.name_id == name_id)
        .map(|x| x.session_index.clone())
        .unwrap_or_else(new_id);

    // Encryption to the SP (first listed key: the newest during a rollover).
    let recipient = trust
        .sp_encryption_certificates(&req.sp_entity)
        .first()
        .map(Recipient::from_certificate)
        .transpose()
        .map_err(|e| IssueFailure::Internal(format!("SP encryption key: {e}")))?;

    // The Discovery bootstrap, only inside an encrypted assertion: in a plain one its
    // `EncryptedAssertion` token would stand next to the assertion for every reader of the
    // Response, and the federation's SPs count every (encrypted) assertion of a Response
    // (schemas::websso profile decision 3) — an SP without an encryption key (which the
    // profile requires, NBR-MD-009) gets no bootstrap.
    let mut attributes = Vec::new();
    if sp_cfg.discovery_bootstrap && recipient.is_none() {
        tracing::warn!(sp = ?req.sp_entity, "no encryption key in the SP's metadata: assertion without the Discovery bootstrap");
    }
    if sp_cfg.discovery_bootstrap && recipient.is_some() {
        let ds_entity = cfg.discovery.entity_id.clone().unwrap_or_default();
        let ds_cert = match &cfg.discovery.encryption_cert_pem {
            Some(p) => std::fs::read(p)
                .ok()
                .and_then(|pem| openssl::x509::X509::from_pem(&pem).ok()),
            None => trust
                .encryption_certificates(&ds_entity)
                .first()
                .map(|c| (*c).clone()),
        }
        .ok_or_else(|| {
            IssueFailure::Internal("no encryption key of the Discovery Service".into())
        })?;
        let recipient = Recipient::from_certificate(&ds_cert)
            .map_err(|e| IssueFailure::Internal(format!("DS encryption key: {e}")))?;
        let pseudonym = state
            .directory
            .ds_pseudonym(&authn.person)
            .map_err(|e| IssueFailure::Internal(format!("DS pseudonym: {e}")))?;
        let sp_cert = sp.sso.signing_certificates().first().map(|c| c.to_vec());
        let attr = discovery_attribute(
            &DsTarget {
                entity_id: &ds_entity,
                endpoint: cfg.discovery.endpoint.as_deref().unwrap_or_default(),
                abstract_text: &cfg.discovery.abstract_text,
                recipient: &recipient,
                token_lifetime: Duration::seconds(cfg.discovery.token_lifetime_secs),
            },
            &BootstrapLogin {
                idp_entity: &cfg.entity_id,
                sp_entity: &req.sp_entity,
                pseudonym: &pseudonym,
                authn_instant: authn.instant,
                authn_class: &authn.class,
                confirmation: sp_cfg.ds_confirmation,
                sp_signing_cert: sp_cert.as_deref(),
                now,
            },
            state.keys.signer.as_ref(),
        )
        .map_err(|e| IssueFailure::Internal(format!("DS token: {e}")))?;
        attributes.push(attr);
    }

    let session_left = (session_until - now).max(Duration::seconds(cfg.assertion.lifetime_secs));
    let mut params = ResponseParams::new(
        &cfg.entity_id,
        &req.sp_entity,
        &req.acs_url,
        req.in_response_to.as_deref(),
        name_id.clone(),
        &authn.class,
        now,
    );
    params.session_index = Some(session_index.clone());
    params.authn_instant = authn.instant;
    params.attributes = attributes;
    params.lifetimes = Lifetimes {
        assertion: Duration::seconds(cfg.assertion.lifetime_secs),
        confirmation: Duration::seconds(cfg.assertion.confirmation_secs),
        session: Some(session_left),
    };
    params.encrypt_to = recipient.as_ref();
    let built = build_response(&params, state.keys.signer.as_ref())
        .map_err(|e| IssueFailure::Internal(format!("building the Response: {e}")))?;
    tracing::info!(
        sp = ?req.sp_entity,
        person = %fp("person", authn.person.expose().as_bytes()),
        name_id = %fp("nameid", name_id.value.as_bytes()),
        class = %authn.class,
        encrypted = params.encrypt_to.is_some(),
        bootstrap = !params.attributes.is_empty(),
        binding = %req.acs_binding,
        "assertion issued"
    );
    Ok(Issued {
        xml: built.xml,
        sp_session: SpSession {
            sp_entity: req.sp_entity.clone(),
            name_id,
            session_index,
            created: now,
        },
        acs_index,
    })
}

/// Builds an error Response for `req` (blocking).
pub fn issue_error(
    state: &IdpState,
    req: &SsoRequest,
    status: Status,
) -> Result<(String, u16), IssueFailure> {
    let now = now();
    let trust = state.trust().ok_or(IssueFailure::NoAnswer("no metadata"))?;
    let sp = trust
        .sp(&req.sp_entity)
        .ok_or(IssueFailure::NoAnswer("the SP left the metadata"))?;
    let index = listed_acs(sp, req).ok_or(IssueFailure::NoAnswer("ACS no longer listed"))?;
    tracing::info!(
        sp = ?req.sp_entity,
        status = %status.code.value,
        second = ?status.second_level(),
        "error Response"
    );
    let built = build_error_response(
        &ErrorResponseParams {
            issuer: &state.config.entity_id,
            destination: &req.acs_url,
            in_response_to: req.in_response_to.as_deref(),
            status,
            now,
        },
        state.keys.signer.as_ref(),
    )
    .map_err(|e| IssueFailure::Internal(format!("error Response: {e}")))?;
    Ok((built.xml, index))
}

/// Sends a built Response over the request's ACS binding.
pub fn deliver(
    state: &IdpState,
    req: &SsoRequest,
    xml: String,
    acs_index: u16,
    set_cookie: Option<&str>,
) -> HttpResponse {
    if req.acs_binding == bindings::HTTP_ARTIFACT {
        let Some(art) = state.artifacts.issue(
            &state.config.entity_id,
            acs_index,
            &req.sp_entity,
            xml,
            now(),
        ) else {
            return http::simple(StatusCode::SERVICE_UNAVAILABLE, "error", None);
        };
        let mut q = format!("SAMLart={}", url_encode(&art));
        if let Some(rs) = &req.relay_state {
            q.push_str("&RelayState=");
            q.push_str(&url_encode(rs));
        }
        let location = schemas::binding::redirect_url(&req.acs_url, &q);
        see_other(&location, set_cookie)
    } else {
        http::post_page(
            &req.acs_url,
            MessageKind::Response,
            xml.as_bytes(),
            req.relay_state.as_deref(),
            set_cookie,
        )
    }
}

/// Answers `req` with an error status (or an error page where that is not possible).
pub async fn send_error(
    state: web::Data<IdpState>,
    req: SsoRequest,
    status: Status,
    lang: Option<String>,
) -> HttpResponse {
    let st = state.clone();
    let r = req.clone();
    match super::http::block(move || issue_error(&st, &r, status)).await {
        Ok(Ok((xml, index))) => deliver(&state, &req, xml, index, None),
        Ok(Err(e)) => failure_page(e, lang.as_deref()),
        Err(_) => http::simple(StatusCode::INTERNAL_SERVER_ERROR, "error", lang.as_deref()),
    }
}

fn failure_page(e: IssueFailure, lang: Option<&str>) -> HttpResponse {
    match e {
        IssueFailure::NoAnswer(why) => {
            tracing::warn!(why, "no answer sent to the SP");
            http::simple(StatusCode::BAD_REQUEST, "request_refused", lang)
        }
        IssueFailure::Internal(why) => {
            tracing::error!(why = %why, "internal failure");
            http::simple(StatusCode::INTERNAL_SERVER_ERROR, "error", lang)
        }
        IssueFailure::Status(_) => http::simple(StatusCode::BAD_REQUEST, "request_refused", lang),
    }
}

/// Issues the Response after `authn` and sends it; records the SP session in `session_id`.
pub async fn issue_and_send(
    state: web::Data<IdpState>,
    session_id: Option<String>,
    authn: Authn,
    req: SsoRequest,
    set_cookie: Option<String>,
    lang: Option<String>,
) -> HttpResponse {
    let t = now();
    let (existing, until) = match &session_id {
        Some(id) => state
            .sessions
            .get(id, t)
            .map(|s| {
                (
                    s.sp_sessions
                        .iter()
                        .find(|x| x.sp_entity == req.sp_entity)
                        .cloned(),
                    s.expires,
                )
            })
            .unwrap_or((None, t)),
        None => (None, t),
    };
    let st = state.clone();
    let r = req.clone();
    let a = authn.clone();
    let result =
        super::http::block(move || issue_response(&st, &a, &r, existing.as_ref(), until)).await;
    match result {
        Ok(Ok(issued)) => {
            if let Some(id) = &session_id {
                state.sessions.add_sp_session(id, issued.sp_session, now());
            }
            deliver(
                &state,
                &req,
                issued.xml,
                issued.acs_index,
                set_cookie.as_deref(),
            )
        }
        Ok(Err(IssueFailure::Status(s))) => send_error(state, req, s, lang).await,
        Ok(Err(IssueFailure::Internal(why))) => {
            tracing::error!(why = %why, "Response not built");
            let s = status_with(status::RESPONDER, None, "the identity provider failed");
            send_error(state, req, s, lang).await
        }
        Ok(Err(e)) => failure_page(e, lang.as_deref()),
        Err(_) => http::simple(StatusCode::INTERNAL_SERVER_ERROR, "error", lang.as_deref()),
    }
}
