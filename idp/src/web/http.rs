//! HTTP plumbing: the request-ID and security-header middleware, page responses with their
//! Content-Security-Policy, the auto-POST page, client addresses, static files.

use std::time::Instant;

use actix_web::body::BoxBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;
use base64::Engine;
use schemas::binding::{post_form, MessageKind};
use tracing::{info, Instrument};

use super::pages::{self, MessagePage, PostPage};
use super::util::{hex, random_bytes, B64};

/// The CSP of pages without script.
pub const CSP_PLAIN: &str = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// A fresh CSP nonce (128 bits).
pub fn csp_nonce() -> String {
    B64.encode(random_bytes(16))
}

/// The origin (`scheme://host[:port]`) of a URL.
pub fn origin_of(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let host = rest.split(['/', '?', '#']).next().unwrap_or("");
            format!("{scheme}://{host}")
        }
        None => url.to_string(),
    }
}

/// Per-request logging span and security headers on every response.
pub async fn middleware(
    req: ServiceRequest,
    next: Next<BoxBody>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let started = Instant::now();
    let req_id = hex(&random_bytes(8));
    let method = req.method().clone();
    let span = tracing::info_span!("idp_http", req_id = %req_id, method = %method);
    async move {
        let mut resp = next.call(req).await?;
        let status = resp.status().as_u16();
        // The route pattern, never the path or query (they carry SAML messages and tokens).
        let route = resp
            .request()
            .match_pattern()
            .unwrap_or_else(|| "-".to_string());
        let h = resp.headers_mut();
        if let Ok(v) = HeaderValue::from_str(&req_id) {
            h.insert(HeaderName::from_static("x-request-id"), v);
        }
        h.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        h.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        );
        if !h.contains_key(header::CACHE_CONTROL) {
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        }
        if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
            h.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(CSP_PLAIN),
            );
        }
        info!(route = %route, status, elapsed_ms = started.elapsed().as_millis() as u64, "request");
        Ok(resp)
    }
    .instrument(span)
    .await
}

/// `web::block` inside the caller's tracing span (so that the blocking work's log lines carry
/// the request ID).
pub async fn block<F, R>(f: F) -> Result<R, actix_web::error::BlockingError>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    let span = tracing::Span::current();
    actix_web::web::block(move || span.in_scope(f)).await
}

/// The client's address for rate limits.
pub fn client_ip(req: &HttpRequest, trust_forwarded_for: bool) -> String {
    if trust_forwarded_for {
        if let Some(first) = req
            .headers()
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
        {
            return first.trim().to_string();
        }
    }
    req.peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// An HTML response with the given CSP.
pub fn html(status: StatusCode, body: String, csp: &str) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CONTENT_SECURITY_POLICY, csp.to_string()))
        .body(body)
}

/// Options of a message page.
#[derive(Default)]
pub struct MessageExtras {
    pub retry_url: Option<String>,
    pub cancel: Option<(String, String)>,
    pub set_cookie: Option<String>,
    pub retry_after: Option<u64>,
}

/// A message page for an outcome code.
pub fn message(
    status: StatusCode,
    code: &str,
    lang: Option<&str>,
    extras: MessageExtras,
) -> HttpResponse {
    let t = pages::texts(lang);
    let ja = t.lang == "ja";
    let (title, paragraphs, class) = pages::message(code, ja);
    let page = MessagePage {
        lang: t.lang,
        code,
        class,
        title,
        paragraphs: paragraphs.into_iter().map(str::to_string).collect(),
        retry_url: extras.retry_url,
        retry_label: t.retry,
        cancel: extras.cancel,
        cancel_label: t.back_to_service,
        footer: t.footer,
    };
    let body = page
        .render()
        .unwrap_or_else(|_| "<!DOCTYPE html><title>Error</title>".into());
    let mut resp = html(status, body, CSP_PLAIN);
    if let Some(c) = extras.set_cookie {
        if let Ok(v) = HeaderValue::from_str(&c) {
            resp.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    if let Some(secs) = extras.retry_after {
        if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
    }
    resp
}

pub fn simple(status: StatusCode, code: &str, lang: Option<&str>) -> HttpResponse {
    message(status, code, lang, MessageExtras::default())
}

/// `429 Too Many Requests`.
pub fn too_many(retry_after: u64, lang: Option<&str>) -> HttpResponse {
    message(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
        lang,
        MessageExtras {
            retry_after: Some(retry_after),
            ..Default::default()
        },
    )
}

/// `303 See Other`.
pub fn see_other(location: &str, set_cookie: Option<&str>) -> HttpResponse {
    let mut b = HttpResponse::SeeOther();
    b.insert_header((header::LOCATION, location.to_string()));
    if let Some(c) = set_cookie {
        b.append_header((header::SET_COOKIE, c.to_string()));
    }
    b.finish()
}

/// The auto-submitting page carrying a SAML message to `action` (an endpoint of the peer's
/// metadata), with its one inline script allowed by a nonce and the form allowed to go to that
/// endpoint's origin only.
pub fn post_page(
    action: &str,
    kind: MessageKind,
    xml: &[u8],
    relay_state: Option<&str>,
    set_cookie: Option<&str>,
) -> HttpResponse {
    let form = match post_form(action, kind, xml, relay_state) {
        Ok(f) => f,
        Err(_) => return simple(StatusCode::INTERNAL_SERVER_ERROR, "error", None),
    };
    let nonce = csp_nonce();
    let body = PostPage {
        form: &form,
        csp_nonce: &nonce,
    }
    .render()
    .unwrap_or_default();
    let csp = format!(
        "default-src 'none'; script-src 'nonce-{nonce}'; style-src 'self'; form-action {}; frame-ancestors 'none'; base-uri 'none'",
        origin_of(action)
    );
    let mut resp = html(StatusCode::OK, body, &csp);
    if let Some(c) = set_cookie {
        if let Ok(v) = HeaderValue::from_str(c) {
            resp.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    resp
}

const CSS: &str = include_str!("../../static/idp.css");
const LOGIN_JS: &str = include_str!("../../static/idp-login.js");

pub async fn static_css() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .body(CSS)
}

pub async fn static_login_js() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .body(LOGIN_JS)
}

pub async fn not_found() -> HttpResponse {
    simple(StatusCode::NOT_FOUND, "error", None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins() {
        assert_eq!(
            origin_of("https://sp.example/acs?x=1"),
            "https://sp.example"
        );
        assert_eq!(
            origin_of("http://127.0.0.1:8080/acs"),
            "http://127.0.0.1:8080"
        );
    }
}
