//! `POST /ds` in actix-web: `text/xml` bodies up to [`MAX_BODY`] bytes, handled by the
//! [`DiscoveryService`] on the blocking pool; answers `text/xml; charset=utf-8` with the
//! service's status (200, or 500 for faults).

use std::sync::Arc;

use actix_web::http::header::CONTENT_TYPE;
use actix_web::{web, HttpRequest, HttpResponse};
use time::OffsetDateTime;

use super::{DiscoveryService, TransportInfo};

/// Largest request body accepted.
pub const MAX_BODY: usize = 256 * 1024;

/// Shared state of the route.
#[derive(Clone)]
pub struct DsState {
    pub service: Arc<DiscoveryService>,
    /// Whether the server in front terminates TLS (the request came over TLS).
    pub over_tls: bool,
}

/// Registers `POST /ds` (and its payload limit) on an actix-web service config.
pub fn configure(state: DsState) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg: &mut web::ServiceConfig| {
        cfg.app_data(web::Data::new(state))
            .app_data(web::PayloadConfig::new(MAX_BODY))
            .route("/ds", web::post().to(post_ds));
    }
}

fn is_xml(req: &HttpRequest) -> bool {
    req.headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|m| m.trim().eq_ignore_ascii_case("text/xml"))
        .unwrap_or(false)
}

async fn post_ds(req: HttpRequest, body: web::Bytes, state: web::Data<DsState>) -> HttpResponse {
    if !is_xml(&req) {
        return HttpResponse::UnsupportedMediaType().finish();
    }
    if body.len() > MAX_BODY {
        return HttpResponse::PayloadTooLarge().finish();
    }
    let transport = TransportInfo {
        over_tls: state.over_tls,
        client_cert: None,
    };
    let service = state.service.clone();
    let out =
        web::block(move || service.handle(&body, &transport, OffsetDateTime::now_utc())).await;
    match out {
        Ok(o) => HttpResponse::build(
            actix_web::http::StatusCode::from_u16(o.http_status)
                .unwrap_or(actix_web::http::StatusCode::INTERNAL_SERVER_ERROR),
        )
        .content_type("text/xml; charset=utf-8")
        .body(o.body),
        Err(_) => HttpResponse::InternalServerError().finish(),
    }
}
