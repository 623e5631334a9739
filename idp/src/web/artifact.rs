//! HTTP-Artifact (SAML bindings §3.6): the Response stays at the IdP, the browser carries a
//! type-0004 artifact (`SAMLart`) to the SP's artifact ACS, and the SP resolves it over SOAP at
//! `POST /artifact` with an `ArtifactResolve` it signs. The resolve request's signature is
//! verified with the SP's metadata keys, its issuer must be the SP the artifact was issued for,
//! and an artifact resolves once, within its life (60 s by default).

use std::collections::HashMap;
use std::sync::Mutex;

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use base64::Engine;
use openssl::hash::{hash, MessageDigest};
use schemas::dsig::{sign_enveloped, verify_enveloped, VerifyPolicy};
use schemas::ns::{DS, SAML, SAMLP};
use schemas::saml::{
    nameid_format, status, ArtifactResolve, ArtifactResponse, NameId, OtherElement, SamlXml,
    Status, StatusResponseHeader,
};
use schemas::soap::{Envelope, Fault, FaultCode};
use schemas::websso::{new_id, profile_sign_options, DEFAULT_SKEW};
use schemas::xml::parse;
use time::{Duration, OffsetDateTime};

use super::state::IdpState;
use super::util::{fp, now, random_bytes, B64};

/// Type code of the artifact (SAML bindings §3.6.4).
const TYPE_CODE: [u8; 2] = [0x00, 0x04];

struct Entry {
    sp: String,
    xml: String,
    expires: OffsetDateTime,
}

/// Messages waiting to be resolved.
pub struct ArtifactStore {
    entries: Mutex<HashMap<Vec<u8>, Entry>>,
    lifetime: Duration,
    max: usize,
}

/// SHA-1 of the entity ID: the artifact's SourceID.
pub fn source_id(entity_id: &str) -> Vec<u8> {
    hash(MessageDigest::sha1(), entity_id.as_bytes())
        .map(|d| d.to_vec())
        .unwrap_or_default()
}

impl ArtifactStore {
    pub fn new(lifetime: Duration, max: usize) -> Self {
        ArtifactStore {
            entries: Mutex::new(HashMap::new()),
            lifetime,
            max,
        }
    }

    /// Stores `xml` for `sp` and returns the artifact (base64).
    pub fn issue(
        &self,
        idp_entity: &str,
        endpoint_index: u16,
        sp: &str,
        xml: String,
        now: OffsetDateTime,
    ) -> Option<String> {
        let handle = random_bytes(20);
        let mut map = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= self.max {
            map.retain(|_, e| now < e.expires);
            if map.len() >= self.max {
                return None;
            }
        }
        map.insert(
            handle.clone(),
            Entry {
                sp: sp.to_string(),
                xml,
                expires: now + self.lifetime,
            },
        );
        let mut a = Vec::with_capacity(44);
        a.extend_from_slice(&TYPE_CODE);
        a.extend_from_slice(&endpoint_index.to_be_bytes());
        a.extend_from_slice(&source_id(idp_entity));
        a.extend_from_slice(&handle);
        Some(B64.encode(a))
    }

    /// Takes the message of an artifact, once, if it was issued by `idp_entity` for `sp` and has
    /// not expired. An artifact presented by another SP stays (it is not theirs to burn).
    fn take(
        &self,
        idp_entity: &str,
        artifact: &str,
        sp: &str,
        now: OffsetDateTime,
    ) -> Option<String> {
        let raw = B64.decode(artifact.trim()).ok()?;
        if raw.len() != 44 || raw[..2] != TYPE_CODE || raw[4..24] != source_id(idp_entity)[..] {
            return None;
        }
        let handle = &raw[24..];
        let mut map = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        match map.get(handle) {
            Some(e) if e.sp == sp && now < e.expires => map.remove(handle).map(|e| e.xml),
            Some(e) if now >= e.expires => {
                map.remove(handle);
                None
            }
            _ => None,
        }
    }

    pub fn purge(&self, now: OffsetDateTime) {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|_, e| now < e.expires);
    }
}

fn soap(body: &str) -> String {
    format!(
        "<S:Envelope xmlns:S=\"http://schemas.xmlsoap.org/soap/envelope/\"><S:Body>{body}</S:Body></S:Envelope>"
    )
}

fn soap_response(status: StatusCode, xml: String) -> HttpResponse {
    HttpResponse::build(status)
        .content_type(schemas::soap::CONTENT_TYPE)
        .body(xml)
}

fn fault(message: &str) -> HttpResponse {
    soap_response(
        StatusCode::INTERNAL_SERVER_ERROR,
        Fault::new(FaultCode::client(), message).to_envelope(),
    )
}

/// What the resolution decided.
enum Outcome {
    /// Not a resolvable SOAP request at all.
    Fault(&'static str),
    /// A signed `ArtifactResponse` to send.
    Answer(String),
}

fn answer(
    state: &IdpState,
    in_response_to: Option<&str>,
    status: Status,
    message: Option<String>,
    now: OffsetDateTime,
) -> Outcome {
    let id = new_id();
    let mut header = StatusResponseHeader::new(
        id.clone(),
        now,
        NameId::with_format(&state.config.entity_id, nameid_format::ENTITY),
        status,
    );
    header.in_response_to = in_response_to.map(str::to_string);
    let response = ArtifactResponse {
        header,
        message: message.map(|xml| OtherElement {
            namespace: Some(SAMLP.to_string()),
            local: "Response".to_string(),
            xml,
        }),
    };
    match sign_enveloped(
        &response.to_xml(),
        &id,
        state.keys.signer.as_ref(),
        &profile_sign_options(),
    ) {
        Ok(signed) => Outcome::Answer(soap(&signed)),
        Err(_) => Outcome::Fault("the responder could not sign its answer"),
    }
}

fn denied() -> Status {
    let mut s = Status::new(status::REQUESTER, Some(status::REQUEST_DENIED));
    s.message = Some("request denied".into());
    s
}

fn resolve_blocking(state: &IdpState, body: &[u8]) -> Outcome {
    let now = now();
    let Ok(doc) = parse(body) else {
        return Outcome::Fault("not well-formed");
    };
    let Ok(env) = Envelope::from_document(&doc) else {
        return Outcome::Fault("not a SOAP 1.1 envelope");
    };
    let Ok(child) = env.body_child() else {
        return Outcome::Fault("the Body must hold one element");
    };
    if !child.is(SAMLP, "ArtifactResolve") {
        return Outcome::Fault("not an ArtifactResolve");
    }
    let request_id = child.attr("ID").map(str::to_string);
    let Some(trust) = state.trust() else {
        return answer(state, request_id.as_deref(), denied(), None, now);
    };
    let issuer = child
        .first(SAML, "Issuer")
        .and_then(|i| i.text().ok())
        .map(|t| t.trim().to_string())
        .unwrap_or_default();
    let keys = trust.sp_signing_keys(&issuer);
    if keys.is_empty() || child.first(DS, "Signature").is_none() {
        tracing::warn!(issuer = ?issuer, "ArtifactResolve refused: unknown issuer or unsigned");
        return answer(state, request_id.as_deref(), denied(), None, now);
    }
    let verified = match verify_enveloped(child, keys, &VerifyPolicy::default()) {
        Ok(v) => v,
        Err(e) => {
            tracing::warn!(error = %e, "ArtifactResolve signature refused");
            return answer(state, request_id.as_deref(), denied(), None, now);
        }
    };
    let Ok(vdoc) = verified.document() else {
        return answer(state, request_id.as_deref(), denied(), None, now);
    };
    let Ok(resolve) = ArtifactResolve::from_element(vdoc.root()) else {
        return answer(state, request_id.as_deref(), denied(), None, now);
    };
    let verified_issuer = resolve
        .header
        .issuer
        .as_ref()
        .map(|i| i.value.trim().to_string())
        .unwrap_or_default();
    let destination_ok = resolve
        .header
        .destination
        .as_deref()
        .is_none_or(|d| d == state.config.url(super::paths::ARTIFACT));
    let fresh = resolve.header.issue_instant <= now + DEFAULT_SKEW
        && resolve.header.issue_instant >= now - DEFAULT_SKEW;
    if verified_issuer != issuer || !destination_ok || !fresh {
        tracing::warn!("ArtifactResolve refused: issuer, Destination or IssueInstant");
        return answer(state, Some(&resolve.header.id), denied(), None, now);
    }
    let message = state
        .artifacts
        .take(&state.config.entity_id, &resolve.artifact, &issuer, now);
    tracing::info!(
        sp = ?issuer,
        artifact = %fp("artifact", resolve.artifact.as_bytes()),
        resolved = message.is_some(),
        "artifact resolution"
    );
    answer(
        state,
        Some(&resolve.header.id),
        Status::success(),
        message,
        now,
    )
}

/// `POST /artifact`.
pub async fn resolve(state: web::Data<IdpState>, body: web::Bytes) -> HttpResponse {
    let st = state.clone();
    match super::http::block(move || resolve_blocking(&st, &body)).await {
        Ok(Outcome::Answer(xml)) => soap_response(StatusCode::OK, xml),
        Ok(Outcome::Fault(m)) => fault(m),
        Err(_) => fault("internal error"),
    }
}
