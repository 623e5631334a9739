//! The agent's HTTP server (actix-web), bound to 127.0.0.1 only.
//!
//! Two kinds of routes:
//!
//! - `/v1/…` — the JSON API for IdP login pages: answered only when `Origin` is exactly one of
//!   the configured IdP origins (CORS with that origin echoed, never `*`; preflights answered);
//!   no `Origin` or another one → 403 without CORS headers.
//! - `/pin/{pin_id}` — the agent's own PIN page: top-level navigations (no `Origin`) or the page's
//!   own form posts (`Origin` = the agent's origin); any other origin → 403.
//!
//! Every request must also name the agent itself in `Host` (`127.0.0.1:PORT` or
//! `localhost:PORT`), which defeats DNS rebinding. Every response carries `X-Request-Id`; logs
//! carry that id and keyed short hashes, never a PIN, challenge, serial or card number.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use actix_web::body::BoxBody;
use actix_web::dev::{ServerHandle, ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::{from_fn, Next};
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use base64::Engine;
use serde::Deserialize;
use tracing::{info, warn, Instrument};

use super::card::{CardError, CardReader};
use super::config::{AgentConfig, ConfigError, Mode};
use super::page::{self, Details, Outcome};
use super::pin::Pin;
use super::protocol::{
    check_challenge, codes, CardsResponse, CertificateResponse, ErrorBody, Kind, SignRequest,
    SignStarted, SignStatus, Status,
};
use super::redact::short_hash;
use super::requests::{JobState, Jobs, Lookup, StartError};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;
/// JSON bodies: a 4 KiB challenge escaped as `\uXXXX` fits many times over.
const JSON_LIMIT: usize = 64 * 1024;
const FORM_LIMIT: usize = 4 * 1024;
const PAGE_CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; \
                        frame-ancestors 'none'; base-uri 'none'";

/// Why the agent could not start.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Card(#[from] CardError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("agent thread: {0}")]
    Thread(String),
}

/// Shared state of all workers.
pub struct AgentState {
    config: AgentConfig,
    cards: CardReader,
    jobs: Jobs,
    own_hosts: [String; 2],
    own_origins: [String; 2],
}

impl AgentState {
    fn base_url(&self) -> &str {
        &self.own_origins[0]
    }

    fn is_allowed_origin(&self, origin: &str) -> bool {
        self.config.allowed_origins.iter().any(|o| o == origin)
    }
}

fn api_error(
    status: StatusCode,
    code: &str,
    message: impl Into<String>,
    tries_left: Option<u32>,
) -> HttpResponse {
    HttpResponse::build(status).json(ErrorBody {
        error: code.to_string(),
        message: message.into(),
        tries_left,
    })
}

fn card_error_response(e: &CardError) -> HttpResponse {
    let body = card_error_body(e);
    let status = match e {
        CardError::UnknownCard => StatusCode::NOT_FOUND,
        CardError::PinRequired => StatusCode::FORBIDDEN,
        CardError::PinFormat(_) => StatusCode::BAD_REQUEST,
        CardError::PinIncorrect { .. } => StatusCode::FORBIDDEN,
        CardError::PinLocked => StatusCode::LOCKED,
        CardError::DemoPinUnavailable => StatusCode::CONFLICT,
        CardError::Token(_) | CardError::Tries(_) => StatusCode::SERVICE_UNAVAILABLE,
    };
    HttpResponse::build(status).json(body)
}

fn card_error_body(e: &CardError) -> ErrorBody {
    let (code, tries_left) = match e {
        CardError::UnknownCard => (codes::UNKNOWN_CARD, None),
        CardError::PinRequired => (codes::PIN_REQUIRED, None),
        CardError::PinFormat(_) => (codes::PIN_FORMAT, None),
        CardError::PinIncorrect { tries_left } => (codes::PIN_INCORRECT, *tries_left),
        CardError::PinLocked => (codes::PIN_LOCKED, Some(0)),
        CardError::DemoPinUnavailable => (codes::DEMO_PIN_UNAVAILABLE, None),
        CardError::Token(_) | CardError::Tries(_) => (codes::CARD_ERROR, None),
    };
    let message = match e {
        // Token details stay in the agent's log.
        CardError::Token(_) | CardError::Tries(_) => "the card could not be used".to_string(),
        other => other.to_string(),
    };
    ErrorBody {
        error: code.into(),
        message,
        tries_left,
    }
}

/// Runs blocking card work off the async workers, inside the current tracing span.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, HttpResponse> {
    let span = tracing::Span::current();
    web::block(move || {
        let _e = span.enter();
        f()
    })
    .await
    .map_err(|_| {
        api_error(
            StatusCode::SERVICE_UNAVAILABLE,
            codes::CARD_ERROR,
            "the agent is busy",
            None,
        )
    })
}

fn origin_of(req: &HttpRequest) -> String {
    req.headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

// ---------------------------------------------------------------------------------------------
// API handlers

async fn cards(state: web::Data<AgentState>) -> HttpResponse {
    let st = state.clone();
    match blocking(move || st.cards.list()).await {
        Err(r) => r,
        Ok(Err(e)) => {
            warn!(error = %e, "listing cards failed");
            card_error_response(&e)
        }
        Ok(Ok(cards)) => {
            info!(count = cards.len(), "cards listed");
            HttpResponse::Ok().json(CardsResponse {
                mode: state.config.mode.as_str().into(),
                cards,
            })
        }
    }
}

#[derive(Deserialize)]
struct CertQuery {
    card: String,
    kind: Option<String>,
}

async fn certificate(state: web::Data<AgentState>, q: web::Query<CertQuery>) -> HttpResponse {
    let q = q.into_inner();
    let kind = match q.kind.as_deref().map(Kind::parse) {
        None => Kind::Auth,
        Some(Some(k)) => k,
        Some(None) => {
            return api_error(
                StatusCode::BAD_REQUEST,
                codes::BAD_REQUEST,
                "kind is auth or sign",
                None,
            )
        }
    };
    let card = q.card.clone();
    let st = state.clone();
    match blocking(move || st.cards.certificate(&card, kind)).await {
        Err(r) => r,
        Ok(Err(e)) => {
            info!(card = %short_hash(&q.card), %kind, outcome = %card_error_body(&e).error, "certificate not read");
            card_error_response(&e)
        }
        Ok(Ok(der)) => {
            info!(card = %short_hash(&q.card), %kind, "certificate read without PIN");
            HttpResponse::Ok().json(CertificateResponse {
                card: q.card,
                kind,
                certificate: B64.encode(der),
            })
        }
    }
}

async fn sign_start(
    req: HttpRequest,
    state: web::Data<AgentState>,
    body: web::Json<SignRequest>,
) -> HttpResponse {
    let SignRequest {
        card,
        kind,
        challenge,
    } = body.into_inner();
    if let Err(e) = check_challenge(&challenge) {
        let status = if e == super::protocol::ChallengeError::TooLong {
            StatusCode::PAYLOAD_TOO_LARGE
        } else {
            StatusCode::BAD_REQUEST
        };
        info!(
            outcome = e.code(),
            len = challenge.len(),
            "sign request refused"
        );
        return api_error(status, e.code(), e.to_string(), None);
    }
    // Fail early for a missing card or a locked PIN (nothing is asked of the resident then).
    let (st, c) = (state.clone(), card.clone());
    match blocking(move || st.cards.check(&c, kind)).await {
        Err(r) => return r,
        Ok(Err(e)) => {
            info!(card = %short_hash(&card), %kind, outcome = %card_error_body(&e).error, "sign request refused");
            return card_error_response(&e);
        }
        Ok(Ok(pin)) if pin.locked => {
            info!(card = %short_hash(&card), %kind, outcome = codes::PIN_LOCKED, "sign request refused");
            return card_error_response(&CardError::PinLocked);
        }
        Ok(Ok(_)) => {}
    }
    let origin = origin_of(&req);
    let challenge_hash = short_hash(&challenge);
    let challenge_len = challenge.len();
    let Some(job) = state.jobs.create(&origin, &card, kind, challenge) else {
        return api_error(
            StatusCode::TOO_MANY_REQUESTS,
            codes::TOO_MANY_REQUESTS,
            "too many signing requests are waiting",
            None,
        );
    };
    info!(
        request = %short_hash(&job.request_id),
        card = %short_hash(&card),
        %kind,
        challenge = %challenge_hash,
        challenge_len,
        "sign request created"
    );
    let ttl = state.config.request_ttl_secs;
    let pin_url = format!("{}/pin/{}", state.base_url(), job.pin_id);
    if !state.config.demo_pin_from_manifest {
        return HttpResponse::Created().json(SignStarted {
            request_id: job.request_id,
            pin_url,
            status: Status::Pending,
            expires_in: ttl,
            demo: false,
        });
    }
    // Demo/test mode: the PIN comes from the manifest; nobody is asked.
    let Some(job) = state.jobs.start_demo(&job.request_id) else {
        return api_error(
            StatusCode::NOT_FOUND,
            codes::UNKNOWN_REQUEST,
            "request vanished",
            None,
        );
    };
    let st = state.clone();
    let (c, data) = (job.card.clone(), job.challenge.clone());
    let outcome = blocking(move || {
        let pin = st.cards.demo_pin(&c, kind)?;
        st.cards.sign(&c, kind, &pin, data.as_bytes())
    })
    .await;
    let status = record_outcome(&state, &job.request_id, outcome);
    HttpResponse::Created().json(SignStarted {
        request_id: job.request_id,
        pin_url,
        status,
        expires_in: ttl,
        demo: true,
    })
}

/// Stores the result of a signing attempt in the request; returns the request's status.
fn record_outcome(
    state: &AgentState,
    request_id: &str,
    outcome: Result<Result<super::card::Signed, CardError>, HttpResponse>,
) -> Status {
    let req = short_hash(request_id);
    let (st, status) = match outcome {
        Ok(Ok(signed)) => {
            info!(request = %req, outcome = "done", "signed on the card");
            (
                JobState::Done {
                    signature: signed.signature,
                    certificate: signed.certificate,
                },
                Status::Done,
            )
        }
        Ok(Err(e)) => {
            let body = card_error_body(&e);
            if let CardError::Token(_) | CardError::Tries(_) = e {
                warn!(request = %req, error = %e, "card error");
            } else {
                info!(request = %req, outcome = %body.error, tries_left = ?body.tries_left, "not signed");
            }
            match e {
                CardError::PinLocked | CardError::DemoPinUnavailable => {
                    (JobState::Failed(body), Status::Failed)
                }
                _ => (
                    JobState::Pending {
                        last_error: Some(body),
                    },
                    Status::Pending,
                ),
            }
        }
        Err(_) => (
            JobState::Pending {
                last_error: Some(ErrorBody {
                    error: codes::CARD_ERROR.into(),
                    message: "the agent is busy".into(),
                    tries_left: None,
                }),
            },
            Status::Pending,
        ),
    };
    // In demo mode nobody could retry: a failure is final.
    let st = match (st, state.config.demo_pin_from_manifest) {
        (
            JobState::Pending {
                last_error: Some(e),
            },
            true,
        ) => JobState::Failed(e),
        (s, _) => s,
    };
    let status = match (&st, status) {
        (JobState::Failed(_), _) => Status::Failed,
        (_, s) => s,
    };
    state.jobs.finish(request_id, st);
    status
}

async fn sign_status(
    req: HttpRequest,
    state: web::Data<AgentState>,
    path: web::Path<String>,
) -> HttpResponse {
    let request_id = path.into_inner();
    let origin = origin_of(&req);
    match state.jobs.poll(&request_id, &origin) {
        Lookup::Unknown => api_error(
            StatusCode::NOT_FOUND,
            codes::UNKNOWN_REQUEST,
            "no such request (never made, already collected, or made by another origin)",
            None,
        ),
        Lookup::Expired => {
            info!(request = %short_hash(&request_id), "expired request polled");
            api_error(
                StatusCode::GONE,
                codes::REQUEST_EXPIRED,
                "the request has expired",
                None,
            )
        }
        Lookup::Found(job) => {
            let mut out = SignStatus {
                request_id: job.request_id.clone(),
                status: Status::Pending,
                signature: None,
                certificate: None,
                error: None,
            };
            match job.state {
                JobState::Pending { last_error } => out.error = last_error,
                JobState::Working => {}
                JobState::Done {
                    signature,
                    certificate,
                } => {
                    info!(request = %short_hash(&request_id), "signature collected");
                    out.status = Status::Done;
                    out.signature = Some(B64.encode(signature));
                    out.certificate = Some(B64.encode(certificate));
                }
                JobState::Failed(e) => {
                    out.status = Status::Failed;
                    out.error = Some(e);
                }
            }
            HttpResponse::Ok().json(out)
        }
    }
}

// ---------------------------------------------------------------------------------------------
// PIN page

#[derive(Deserialize)]
struct LangQuery {
    lang: Option<String>,
}

#[derive(Deserialize)]
struct PinForm {
    form_token: String,
    #[serde(default)]
    pin: String,
    lang: Option<String>,
}

fn page_response(status: StatusCode, html: Result<String, askama::Error>) -> HttpResponse {
    match html {
        Ok(html) => HttpResponse::build(status)
            .content_type("text/html; charset=utf-8")
            .insert_header((header::CONTENT_SECURITY_POLICY, PAGE_CSP))
            .insert_header((header::X_FRAME_OPTIONS, "DENY"))
            .insert_header((header::REFERRER_POLICY, "same-origin"))
            .body(html),
        Err(e) => {
            warn!(error = %e, "PIN page rendering failed");
            HttpResponse::InternalServerError().finish()
        }
    }
}

fn render_for(
    state: &AgentState,
    pin_id: &str,
    lang: Option<&str>,
    outcome: Outcome,
    status: StatusCode,
) -> HttpResponse {
    let t = page::texts(lang);
    match state.jobs.by_pin_id(pin_id) {
        Lookup::Found(job) => {
            let d = Details {
                origin: &job.origin,
                kind: job.kind,
                card: &job.card,
                challenge: &job.challenge,
                form_token: &job.form_token,
                seconds_left: job.seconds_left(Instant::now()),
            };
            // A request finished elsewhere (demo, cancel) shows its final state.
            let outcome = match (&job.state, outcome) {
                (JobState::Done { .. }, Outcome::Ask) => Outcome::Done,
                (JobState::Failed(e), Outcome::Ask) if e.error == codes::PIN_LOCKED => {
                    Outcome::PinLocked
                }
                (JobState::Failed(_), Outcome::Ask) => Outcome::Cancelled,
                (_, o) => o,
            };
            page_response(status, page::render(t, pin_id, Some(&d), outcome))
        }
        Lookup::Expired => page_response(
            StatusCode::GONE,
            page::render(t, pin_id, None, Outcome::Expired),
        ),
        Lookup::Unknown => page_response(
            StatusCode::NOT_FOUND,
            page::render(t, pin_id, None, Outcome::Unknown),
        ),
    }
}

async fn pin_page(
    state: web::Data<AgentState>,
    path: web::Path<String>,
    q: web::Query<LangQuery>,
) -> HttpResponse {
    let pin_id = path.into_inner();
    render_for(
        &state,
        &pin_id,
        q.lang.as_deref(),
        Outcome::Ask,
        StatusCode::OK,
    )
}

async fn pin_submit(
    state: web::Data<AgentState>,
    path: web::Path<String>,
    form: web::Form<PinForm>,
) -> HttpResponse {
    let pin_id = path.into_inner();
    let PinForm {
        form_token,
        mut pin,
        lang,
    } = form.into_inner();
    let lang = lang.as_deref();
    let job = match state.jobs.start_work(&pin_id, &form_token) {
        Ok(job) => job,
        Err(e) => {
            wipe(&mut pin);
            let (outcome, status) = match e {
                StartError::Unknown | StartError::Finished => {
                    (Outcome::Unknown, StatusCode::NOT_FOUND)
                }
                StartError::Expired => (Outcome::Expired, StatusCode::GONE),
                StartError::BadForm => (Outcome::BadForm, StatusCode::BAD_REQUEST),
                StartError::Busy => (Outcome::Busy, StatusCode::CONFLICT),
            };
            return render_for(&state, &pin_id, lang, outcome, status);
        }
    };
    let request = short_hash(&job.request_id);
    // Format first: a badly typed PIN never reaches the card nor costs a try.
    let parsed = Pin::parse(job.kind, &pin);
    wipe(&mut pin);
    let pin = match parsed {
        Ok(p) => p,
        Err(f) => {
            info!(request = %request, outcome = codes::PIN_FORMAT, "PIN refused before the card");
            state.jobs.finish(
                &job.request_id,
                JobState::Pending {
                    last_error: Some(card_error_body(&CardError::PinFormat(f))),
                },
            );
            return render_for(
                &state,
                &pin_id,
                lang,
                Outcome::PinFormat(f),
                StatusCode::BAD_REQUEST,
            );
        }
    };
    let st = state.clone();
    let (card, kind, data) = (job.card.clone(), job.kind, job.challenge.clone());
    let outcome = blocking(move || {
        let r = st.cards.sign(&card, kind, &pin, data.as_bytes());
        drop(pin);
        r
    })
    .await;
    let (page_outcome, status) = match &outcome {
        Ok(Ok(_)) => (Outcome::Done, StatusCode::OK),
        Ok(Err(CardError::PinIncorrect { tries_left })) => {
            (Outcome::PinIncorrect(*tries_left), StatusCode::FORBIDDEN)
        }
        Ok(Err(CardError::PinLocked)) => (Outcome::PinLocked, StatusCode::LOCKED),
        Ok(Err(CardError::PinFormat(f))) => (Outcome::PinFormat(*f), StatusCode::BAD_REQUEST),
        Ok(Err(CardError::UnknownCard)) => (Outcome::CardMissing, StatusCode::NOT_FOUND),
        _ => (Outcome::CardError, StatusCode::SERVICE_UNAVAILABLE),
    };
    record_outcome(&state, &job.request_id, outcome);
    render_for(&state, &pin_id, lang, page_outcome, status)
}

async fn pin_cancel(
    state: web::Data<AgentState>,
    path: web::Path<String>,
    form: web::Form<PinForm>,
) -> HttpResponse {
    let pin_id = path.into_inner();
    let form = form.into_inner();
    let lang = form.lang.as_deref();
    let body = ErrorBody {
        error: codes::CANCELLED.into(),
        message: "the resident cancelled the request".into(),
        tries_left: None,
    };
    match state.jobs.cancel(&pin_id, &form.form_token, body) {
        Ok(()) => {
            info!("sign request cancelled by the resident");
            render_for(&state, &pin_id, lang, Outcome::Cancelled, StatusCode::OK)
        }
        Err(StartError::BadForm) => render_for(
            &state,
            &pin_id,
            lang,
            Outcome::BadForm,
            StatusCode::BAD_REQUEST,
        ),
        Err(StartError::Busy) => {
            render_for(&state, &pin_id, lang, Outcome::Busy, StatusCode::CONFLICT)
        }
        Err(StartError::Expired) => {
            render_for(&state, &pin_id, lang, Outcome::Expired, StatusCode::GONE)
        }
        Err(_) => render_for(
            &state,
            &pin_id,
            lang,
            Outcome::Unknown,
            StatusCode::NOT_FOUND,
        ),
    }
}

fn wipe(s: &mut String) {
    // SAFETY: zero bytes keep the string valid UTF-8.
    unsafe {
        for b in s.as_bytes_mut() {
            std::ptr::write_volatile(b, 0);
        }
    }
    s.clear();
}

async fn not_found() -> HttpResponse {
    api_error(
        StatusCode::NOT_FOUND,
        codes::NOT_FOUND,
        "no such resource",
        None,
    )
}

// ---------------------------------------------------------------------------------------------
// Guard: Host, Origin, CORS, request id, access log

fn header_str(req: &ServiceRequest, name: header::HeaderName) -> Option<&str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

fn reject(
    req: ServiceRequest,
    status: StatusCode,
    code: &str,
    message: &str,
) -> ServiceResponse<BoxBody> {
    let resp = api_error(status, code, message, None);
    req.into_response(resp)
}

/// A CORS preflight from an allowed origin: only GET/POST and the Content-Type header.
fn preflight(req: &ServiceRequest, origin: &str) -> Option<HttpResponse> {
    let method = header_str(req, header::ACCESS_CONTROL_REQUEST_METHOD)?;
    if method != "GET" && method != "POST" {
        return None;
    }
    if let Some(h) = header_str(req, header::ACCESS_CONTROL_REQUEST_HEADERS) {
        let ok = h
            .split(',')
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
            .all(|s| s.eq_ignore_ascii_case("content-type"));
        if !ok {
            return None;
        }
    }
    let mut resp = HttpResponse::NoContent();
    resp.insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, origin))
        .insert_header((header::VARY, "Origin"))
        .insert_header((header::ACCESS_CONTROL_ALLOW_METHODS, "GET, POST"))
        .insert_header((header::ACCESS_CONTROL_ALLOW_HEADERS, "Content-Type"))
        .insert_header((header::ACCESS_CONTROL_MAX_AGE, "600"));
    // Chrome's Private Network Access: a public page reaching loopback asks first.
    if req
        .headers()
        .get("access-control-request-private-network")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"true"))
    {
        resp.insert_header(("Access-Control-Allow-Private-Network", "true"));
    }
    Some(resp.finish())
}

async fn guard(
    req: ServiceRequest,
    next: Next<BoxBody>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let started = Instant::now();
    let req_id = short_hash(super::requests::random_handle());
    let method = req.method().clone();
    let span = tracing::info_span!("agent_http", req_id = %req_id, method = %method);
    let fut = async move {
        let mut resp = guarded(req, next).await?;
        let status = resp.status().as_u16();
        let route = resp
            .request()
            .match_pattern()
            .unwrap_or_else(|| "-".to_string());
        let headers = resp.headers_mut();
        if let Ok(v) = HeaderValue::from_str(&req_id) {
            headers.insert(header::HeaderName::from_static("x-request-id"), v);
        }
        headers.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        if !headers.contains_key(header::CACHE_CONTROL) {
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        }
        info!(route = %route, status, elapsed_ms = started.elapsed().as_millis() as u64, "request");
        Ok(resp)
    };
    fut.instrument(span).await
}

async fn guarded(
    req: ServiceRequest,
    next: Next<BoxBody>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let Some(state) = req.app_data::<web::Data<AgentState>>().cloned() else {
        return Ok(reject(
            req,
            StatusCode::INTERNAL_SERVER_ERROR,
            codes::BAD_REQUEST,
            "no state",
        ));
    };
    // DNS rebinding: the browser must be talking to 127.0.0.1 or localhost by name.
    let host_ok =
        header_str(&req, header::HOST).is_some_and(|h| state.own_hosts.iter().any(|o| o == h));
    if !host_ok {
        warn!("request refused: Host is not the agent");
        return Ok(reject(
            req,
            StatusCode::FORBIDDEN,
            codes::HOST_NOT_ALLOWED,
            "Host must be the agent's own address",
        ));
    }
    let origin = header_str(&req, header::ORIGIN).map(str::to_string);
    if req.path().starts_with("/v1/") || req.path() == "/v1" {
        let Some(origin) = origin.filter(|o| state.is_allowed_origin(o)) else {
            info!("API request refused: Origin missing or not an allowed IdP origin");
            return Ok(reject(
                req,
                StatusCode::FORBIDDEN,
                codes::ORIGIN_NOT_ALLOWED,
                "only the configured IdP origins may use the card agent",
            ));
        };
        if req.method() == Method::OPTIONS {
            return Ok(match preflight(&req, &origin) {
                Some(resp) => req.into_response(resp),
                None => reject(
                    req,
                    StatusCode::FORBIDDEN,
                    codes::BAD_REQUEST,
                    "preflight not allowed",
                ),
            });
        }
        let mut resp = next.call(req).await?;
        let h = resp.headers_mut();
        if let Ok(v) = HeaderValue::from_str(&origin) {
            h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
        }
        h.insert(header::VARY, HeaderValue::from_static("Origin"));
        return Ok(resp);
    }
    // The agent's own pages: navigations carry no Origin; its own form posts carry its origin.
    if let Some(o) = origin {
        if !state.own_origins.contains(&o) {
            info!("page request refused: foreign Origin");
            return Ok(reject(
                req,
                StatusCode::FORBIDDEN,
                codes::ORIGIN_NOT_ALLOWED,
                "the PIN page accepts only its own forms",
            ));
        }
    }
    next.call(req).await
}

fn json_config() -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(JSON_LIMIT)
        .content_type_required(true)
        .error_handler(|err, _req| {
            let (status, msg) = match &err {
                actix_web::error::JsonPayloadError::OverflowKnownLength { .. }
                | actix_web::error::JsonPayloadError::Overflow { .. } => (
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "request body too large".to_string(),
                ),
                other => (StatusCode::BAD_REQUEST, other.to_string()),
            };
            actix_web::error::InternalError::from_response(
                err,
                api_error(status, codes::BAD_REQUEST, msg, None),
            )
            .into()
        })
}

fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|err, _req| {
        let msg = err.to_string();
        actix_web::error::InternalError::from_response(
            err,
            api_error(StatusCode::BAD_REQUEST, codes::BAD_REQUEST, msg, None),
        )
        .into()
    })
}

fn form_config() -> web::FormConfig {
    web::FormConfig::default()
        .limit(FORM_LIMIT)
        .error_handler(|err, _req| {
            actix_web::error::InternalError::from_response(
                err,
                HttpResponse::BadRequest()
                    .content_type("text/plain; charset=utf-8")
                    .body("bad form"),
            )
            .into()
        })
}

fn configure(cfg: &mut web::ServiceConfig) {
    cfg.app_data(json_config())
        .app_data(query_config())
        .app_data(form_config())
        .route("/v1/cards", web::get().to(cards))
        .route("/v1/certificate", web::get().to(certificate))
        .route("/v1/sign", web::post().to(sign_start))
        .route("/v1/sign/{request_id}", web::get().to(sign_status))
        .route("/pin/{pin_id}", web::get().to(pin_page))
        .route("/pin/{pin_id}", web::post().to(pin_submit))
        .route("/pin/{pin_id}/cancel", web::post().to(pin_cancel));
}

/// Validates the configuration, opens the cards, binds 127.0.0.1 and returns the server (not yet
/// polled) and its address. Must be called inside an actix/tokio runtime.
pub fn build(config: AgentConfig) -> Result<(actix_web::dev::Server, SocketAddr), AgentError> {
    config.validate()?;
    let addr = config.listen_addr()?;
    let cards = CardReader::open(&config)?;
    let listener =
        std::net::TcpListener::bind(addr).map_err(|source| AgentError::Bind { addr, source })?;
    let addr = listener
        .local_addr()
        .map_err(|source| AgentError::Bind { addr, source })?;
    if config.demo_pin_from_manifest {
        let banner = "WARNING: card agent in DEMO mode (demo_pin_from_manifest = true): PINs are taken \
                      from the virtual-card manifest and every signing request is signed WITHOUT asking \
                      anyone. For automated tests and demos only, never on a resident's computer.";
        eprintln!("\n{}\n{banner}\n{}\n", "!".repeat(100), "!".repeat(100));
        warn!("{banner}");
    }
    let state = web::Data::new(AgentState {
        jobs: Jobs::new(
            Duration::from_secs(config.request_ttl_secs),
            config.max_pending,
        ),
        own_hosts: [
            format!("127.0.0.1:{}", addr.port()),
            format!("localhost:{}", addr.port()),
        ],
        own_origins: [
            format!("http://127.0.0.1:{}", addr.port()),
            format!("http://localhost:{}", addr.port()),
        ],
        cards,
        config,
    });
    info!(
        %addr,
        mode = state.config.mode.as_str(),
        module = %state.cards.module().display(),
        origins = state.config.allowed_origins.len(),
        demo = state.config.demo_pin_from_manifest,
        "card agent listening"
    );
    if state.config.mode == Mode::Virtual {
        if let Some(t) = state.cards.tries_file() {
            info!(file = %t.path().display(), "virtual cards: PIN try counters");
        }
    }
    let data = state.clone();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .wrap(from_fn(guard))
            .configure(configure)
            .default_service(web::to(not_found))
    })
    .workers(2)
    .shutdown_timeout(2)
    .listen(listener)
    .map_err(|source| AgentError::Bind { addr, source })?
    .run();
    Ok((server, addr))
}

/// Runs the agent until it is stopped (Ctrl-C / SIGTERM); for the `card-agent` binary.
pub async fn run(config: AgentConfig) -> Result<(), AgentError> {
    let (server, _addr) = build(config)?;
    server.await.map_err(|e| AgentError::Thread(e.to_string()))
}

/// An agent running on its own thread (with its own actix runtime), for tests and for embedding
/// in another process. Stops when dropped.
pub struct RunningAgent {
    addr: SocketAddr,
    handle: ServerHandle,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl RunningAgent {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT` — also the origin of the PIN page.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops the server and waits for its thread.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        // The stop command is sent when `stop` is called; its completion is the thread's end.
        drop(self.handle.stop(false));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for RunningAgent {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Starts the agent on a thread of its own and returns once it listens.
pub fn spawn(config: AgentConfig) -> Result<RunningAgent, AgentError> {
    let (tx, rx) = std::sync::mpsc::channel();
    let thread = std::thread::Builder::new()
        .name("card-agent".into())
        .spawn(move || {
            let system = actix_web::rt::System::new();
            system.block_on(async move {
                match build(config) {
                    Ok((server, addr)) => {
                        let handle = server.handle();
                        let _ = tx.send(Ok((addr, handle)));
                        let _ = server.await;
                    }
                    Err(e) => {
                        let _ = tx.send(Err(e));
                    }
                }
            });
        })
        .map_err(|e| AgentError::Thread(e.to_string()))?;
    match rx.recv() {
        Ok(Ok((addr, handle))) => Ok(RunningAgent {
            addr,
            handle,
            thread: Some(thread),
        }),
        Ok(Err(e)) => {
            let _ = thread.join();
            Err(e)
        }
        Err(_) => {
            let _ = thread.join();
            Err(AgentError::Thread(
                "the agent thread ended before listening".into(),
            ))
        }
    }
}
