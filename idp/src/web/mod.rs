//! The SAML 2.0 identity provider on the web (binary `idp`, documentation in `idp/README.md`).
//!
//! | endpoint | what |
//! |---|---|
//! | `GET /sso` | AuthnRequest over HTTP-Redirect |
//! | `POST /sso` → `GET /sso/continue` | AuthnRequest over HTTP-POST (parked, then taken up with the cookie) |
//! | `GET /start?sp=…` | IdP-initiated SSO, only for SPs configured with `allow_idp_initiated` |
//! | `GET /login` | the login page (access application text, card agent script) |
//! | `POST /login` | card signature + certificate → JPKI checks → relay → Response |
//! | `POST /login/pinless` | clinic reception: certificate without PIN + staff attestation |
//! | `POST /login/cancel` | give up: `Responder/AuthnFailed` to the SP |
//! | `POST /artifact` | SOAP ArtifactResolve (signed by the SP) → ArtifactResponse |
//! | `GET`/`POST /slo`, `POST /slo/soap` | Single Logout, front- and back-channel |
//! | `GET`/`POST /logout` | logout started at the IdP |
//! | `GET /metadata` | the IdP's signed metadata |
//! | `GET /static/…` | the page's CSS and script (local files, no CDN) |
//!
//! [`spawn`] runs the IdP on its own thread (tests, demos); [`run`] inside a runtime (the
//! binary). Both refresh the federation metadata and the CRLs on a schedule.

pub mod artifact;
pub mod bootstrap;
pub mod config;
pub mod http;
pub mod issue;
pub mod keys;
pub mod login;
pub mod metadata;
pub mod nameid;
pub mod pages;
pub mod ratelimit;
pub mod relay;
pub mod session;
pub mod slo;
pub mod sso;
pub mod state;
pub mod util;

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;

use actix_web::dev::ServerHandle;
use actix_web::http::StatusCode;
use actix_web::middleware::from_fn;
use actix_web::{web, App, HttpResponse, HttpServer};

pub use config::{Config, ConfigError, DsConfirmation, SpConfig};
pub use state::IdpState;

/// Endpoint paths.
pub mod paths {
    pub const SSO: &str = "/sso";
    pub const SSO_CONTINUE: &str = "/sso/continue";
    pub const START: &str = "/start";
    pub const LOGIN: &str = "/login";
    pub const LOGIN_PINLESS: &str = "/login/pinless";
    pub const LOGIN_CANCEL: &str = "/login/cancel";
    pub const ARTIFACT: &str = "/artifact";
    pub const SLO: &str = "/slo";
    pub const SLO_SOAP: &str = "/slo/soap";
    pub const LOGOUT: &str = "/logout";
    pub const METADATA: &str = "/metadata";
}

/// Why the IdP could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("binding {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error("server thread: {0}")]
    Thread(String),
}

async fn metadata(state: web::Data<IdpState>) -> HttpResponse {
    let st = state.clone();
    match http::block(move || st.own_metadata()).await {
        Ok(Ok(xml)) => HttpResponse::Ok()
            .content_type("application/samlmetadata+xml")
            .insert_header(("Cache-Control", "public, max-age=3600"))
            .body(xml),
        _ => http::simple(StatusCode::INTERNAL_SERVER_ERROR, "error", None),
    }
}

/// The routes of the IdP.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(paths::SSO, web::get().to(sso::sso_redirect))
        .route(paths::SSO, web::post().to(sso::sso_post))
        .route(paths::SSO_CONTINUE, web::get().to(sso::sso_continue))
        .route(paths::START, web::get().to(sso::start))
        .route(paths::LOGIN, web::get().to(login::page))
        .route(paths::LOGIN, web::post().to(login::submit))
        .route(paths::LOGIN_PINLESS, web::post().to(login::pinless))
        .route(paths::LOGIN_CANCEL, web::post().to(login::cancel))
        .route(paths::ARTIFACT, web::post().to(artifact::resolve))
        .route(paths::SLO, web::get().to(slo::slo_redirect))
        .route(paths::SLO, web::post().to(slo::slo_post))
        .route(paths::SLO_SOAP, web::post().to(slo::slo_soap))
        .route(paths::LOGOUT, web::get().to(slo::logout_page))
        .route(paths::LOGOUT, web::post().to(slo::logout_submit))
        .route(paths::METADATA, web::get().to(metadata))
        .route("/static/idp.css", web::get().to(http::static_css))
        .route("/static/idp-login.js", web::get().to(http::static_login_js));
}

/// Periodic work: metadata refresh (a failed refresh keeps the old store and logs a warning),
/// CRL refresh, purge of expired sessions, artifacts, parked requests and rate-limit buckets.
fn spawn_background(state: web::Data<IdpState>) {
    let st = state.clone();
    actix_web::rt::spawn(async move {
        let secs = st.config.metadata.refresh_secs.max(1);
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(secs));
        loop {
            tick.tick().await;
            if st.config.metadata.aggregate.is_none() {
                continue;
            }
            match st.refresh_metadata().await {
                Ok(n) => tracing::info!(entities = n, "federation metadata refreshed"),
                Err(e) => {
                    tracing::warn!(error = %e, "metadata refresh failed: the previous metadata stays in use")
                }
            }
        }
    });
    let st = state.clone();
    actix_web::rt::spawn(async move {
        let secs = st.config.jpki.crl_refresh_secs.max(1);
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(secs));
        tick.tick().await; // loaded at start
        loop {
            tick.tick().await;
            let v = st.verifier.clone();
            let report =
                web::block(move || v.crls().refresh(time::OffsetDateTime::now_utc())).await;
            if let Ok(r) = report {
                for (source, e) in &r.errors {
                    tracing::warn!(%source, error = %e, "CRL refresh failed");
                }
            }
        }
    });
    actix_web::rt::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
        loop {
            tick.tick().await;
            let t = util::now();
            state.sessions.purge(t);
            state.artifacts.purge(t);
            state.parked.purge(t);
            state.logouts.purge(t);
            state.login_per_ip.purge();
            state.login_per_cert.purge();
            state.sso_per_ip.purge();
        }
    });
}

/// Builds the server on `listener` (must be called inside an actix/tokio runtime).
pub fn build(
    state: Arc<IdpState>,
    listener: TcpListener,
) -> Result<actix_web::dev::Server, ServerError> {
    let addr = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let data = web::Data::from(state);
    spawn_background(data.clone());
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .app_data(web::PayloadConfig::new(1024 * 1024))
            .app_data(web::FormConfig::default().limit(64 * 1024))
            .wrap(from_fn(http::middleware))
            .configure(configure)
            .default_service(web::to(http::not_found))
    })
    .workers(2)
    .shutdown_timeout(2)
    .listen(listener)
    .map_err(|source| ServerError::Bind { addr, source })?
    .run();
    Ok(server)
}

/// Runs the IdP until stopped (the binary).
pub async fn run(state: Arc<IdpState>) -> Result<(), ServerError> {
    let addr = state.config.bind.clone();
    let listener = TcpListener::bind(&addr).map_err(|source| ServerError::Bind {
        addr: addr.clone(),
        source,
    })?;
    tracing::info!(%addr, entity_id = %state.config.entity_id, base_url = %state.config.base_url, "IdP listening");
    build(state, listener)?
        .await
        .map_err(|e| ServerError::Thread(e.to_string()))
}

/// An IdP running on its own thread. Stops when dropped.
pub struct RunningIdp {
    addr: SocketAddr,
    state: Arc<IdpState>,
    handle: ServerHandle,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl RunningIdp {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn state(&self) -> &Arc<IdpState> {
        &self.state
    }

    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        drop(self.handle.stop(false));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for RunningIdp {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Starts the IdP on a thread of its own, on `listener` (bound by the caller, so that the port
/// is known before the configuration and the metadata are written).
pub fn spawn(state: IdpState, listener: TcpListener) -> Result<RunningIdp, ServerError> {
    let state = Arc::new(state);
    let addr = listener
        .local_addr()
        .map_err(|e| ServerError::Thread(e.to_string()))?;
    let (tx, rx) = std::sync::mpsc::channel();
    let st = state.clone();
    let thread = std::thread::Builder::new()
        .name("idp".into())
        .spawn(move || {
            let system = actix_web::rt::System::new();
            system.block_on(async move {
                match build(st, listener) {
                    Ok(server) => {
                        let _ = tx.send(Ok(server.handle()));
                        let _ = server.await;
                    }
                    Err(e) => {
                        let _ = tx.send(Err(e));
                    }
                }
            });
        })
        .map_err(|e| ServerError::Thread(e.to_string()))?;
    match rx.recv() {
        Ok(Ok(handle)) => Ok(RunningIdp {
            addr,
            state,
            handle,
            thread: Some(thread),
        }),
        Ok(Err(e)) => {
            let _ = thread.join();
            Err(e)
        }
        Err(_) => {
            let _ = thread.join();
            Err(ServerError::Thread(
                "the IdP thread ended before listening".into(),
            ))
        }
    }
}
