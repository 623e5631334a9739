//! A Rust client of the agent's API: what the IdP login page's script does, for tests, the demo
//! and the conformance suite. It sends the configured IdP `Origin` on every call, as a browser
//! would on the login page.
//!
//! ```no_run
//! # async fn demo() -> Result<(), idp::agent::ClientError> {
//! use idp::agent::{AgentClient, Kind};
//! let agent = AgentClient::new("http://127.0.0.1:7443", "https://127.0.0.1:8443");
//! let der = agent.certificate("0001", Kind::Auth).await?;          // no PIN
//! // A demo-mode agent signs at once; otherwise a person (or `enter_pin`) types the PIN.
//! let signed = agent.sign_and_wait("0001", Kind::Auth, "申請文…", None).await?;
//! # Ok(()) }
//! ```

use std::time::Duration;

use base64::Engine;
use reqwest::header::ORIGIN;
use reqwest::StatusCode;

use super::protocol::{
    CardsResponse, CertificateResponse, ErrorBody, Kind, SignRequest, SignStarted, SignStatus,
    Status,
};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Errors of [`AgentClient`].
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The agent answered with an error body.
    #[error("agent answered {status}: {} ({})", body.error, body.message)]
    Api { status: u16, body: ErrorBody },
    #[error("HTTP: {0}")]
    Http(#[from] reqwest::Error),
    #[error("no result within {0:?}")]
    Timeout(Duration),
    #[error("unexpected answer: {0}")]
    Protocol(String),
}

impl ClientError {
    /// The agent's error code (`pin_locked`, `unknown_request`…), if it answered with one.
    pub fn code(&self) -> Option<&str> {
        match self {
            ClientError::Api { body, .. } => Some(&body.error),
            _ => None,
        }
    }
}

/// A finished signature: raw bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    /// PKCS#1 v1.5 over the SHA-256 DigestInfo of the challenge's UTF-8 bytes.
    pub signature: Vec<u8>,
    /// DER certificate of the key that signed.
    pub certificate: Vec<u8>,
}

/// What the PIN page said after a PIN was submitted (from `body[data-*]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinOutcome {
    /// HTTP status of the page.
    pub http_status: u16,
    /// `pending`, `done` or `failed`.
    pub status: String,
    /// `done`, `pin_incorrect`, `pin_locked`, `pin_format`, `request_expired`, `unknown_request`…
    pub result: String,
    pub tries_left: Option<u32>,
    /// The page itself.
    pub html: String,
}

/// Client of one agent, calling as one IdP origin.
#[derive(Clone)]
pub struct AgentClient {
    base: String,
    origin: String,
    http: reqwest::Client,
}

impl AgentClient {
    /// `base`: `http://127.0.0.1:PORT`; `origin`: the IdP origin to present.
    pub fn new(base: impl Into<String>, origin: impl Into<String>) -> AgentClient {
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(30))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("HTTP client");
        AgentClient {
            base: base.into().trim_end_matches('/').to_string(),
            origin: origin.into(),
            http,
        }
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    async fn json<T: serde::de::DeserializeOwned>(
        resp: reqwest::Response,
    ) -> Result<T, ClientError> {
        let status = resp.status();
        let bytes = resp.bytes().await?;
        if status.is_success() {
            serde_json::from_slice(&bytes).map_err(|e| ClientError::Protocol(e.to_string()))
        } else {
            let body = serde_json::from_slice(&bytes).unwrap_or_else(|_| ErrorBody {
                error: "http".into(),
                message: String::from_utf8_lossy(&bytes).into_owned(),
                tries_left: None,
            });
            Err(ClientError::Api {
                status: status.as_u16(),
                body,
            })
        }
    }

    /// `GET /v1/cards`.
    pub async fn cards(&self) -> Result<CardsResponse, ClientError> {
        let r = self
            .http
            .get(format!("{}/v1/cards", self.base))
            .header(ORIGIN, &self.origin)
            .send()
            .await?;
        Self::json(r).await
    }

    /// `GET /v1/certificate` — the user-authentication certificate (DER), read without a PIN
    /// (the PIN-less path of a clinic reception terminal).
    pub async fn certificate(&self, card: &str, kind: Kind) -> Result<Vec<u8>, ClientError> {
        let r = self
            .http
            .get(format!("{}/v1/certificate", self.base))
            .query(&[("card", card), ("kind", kind.as_str())])
            .header(ORIGIN, &self.origin)
            .send()
            .await?;
        let c: CertificateResponse = Self::json(r).await?;
        B64.decode(c.certificate)
            .map_err(|e| ClientError::Protocol(format!("certificate: {e}")))
    }

    /// `POST /v1/sign`.
    pub async fn start_sign(
        &self,
        card: &str,
        kind: Kind,
        challenge: &str,
    ) -> Result<SignStarted, ClientError> {
        let r = self
            .http
            .post(format!("{}/v1/sign", self.base))
            .header(ORIGIN, &self.origin)
            .json(&SignRequest {
                card: card.into(),
                kind,
                challenge: challenge.into(),
            })
            .send()
            .await?;
        Self::json(r).await
    }

    /// `GET /v1/sign/{request_id}` (a finished result is handed out once).
    pub async fn status(&self, request_id: &str) -> Result<SignStatus, ClientError> {
        let r = self
            .http
            .get(format!("{}/v1/sign/{}", self.base, request_id))
            .header(ORIGIN, &self.origin)
            .send()
            .await?;
        Self::json(r).await
    }

    /// Polls until the request is done (→ the signature) or failed (→ `Api` error with the
    /// failure's code), or `timeout` (default 130 s: past the agent's 2-minute expiry).
    pub async fn wait(
        &self,
        request_id: &str,
        timeout: Option<Duration>,
    ) -> Result<Signature, ClientError> {
        let timeout = timeout.unwrap_or(Duration::from_secs(130));
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let s = self.status(request_id).await?;
            match s.status {
                Status::Done => {
                    let dec = |v: Option<String>, what: &str| {
                        B64.decode(v.unwrap_or_default())
                            .map_err(|e| ClientError::Protocol(format!("{what}: {e}")))
                    };
                    return Ok(Signature {
                        signature: dec(s.signature, "signature")?,
                        certificate: dec(s.certificate, "certificate")?,
                    });
                }
                Status::Failed => {
                    return Err(ClientError::Api {
                        status: StatusCode::OK.as_u16(),
                        body: s.error.unwrap_or(ErrorBody {
                            error: "failed".into(),
                            message: "failed".into(),
                            tries_left: None,
                        }),
                    })
                }
                Status::Pending => {}
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(ClientError::Timeout(timeout));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Starts a signature and waits for it. With a demo-mode agent this is a complete unattended
    /// card signature; otherwise someone must type the PIN on `pin_url` meanwhile.
    pub async fn sign_and_wait(
        &self,
        card: &str,
        kind: Kind,
        challenge: &str,
        timeout: Option<Duration>,
    ) -> Result<Signature, ClientError> {
        let started = self.start_sign(card, kind, challenge).await?;
        self.wait(&started.request_id, timeout).await
    }

    /// Acts as the resident on the agent's own PIN page: opens `pin_url` (a navigation, no
    /// `Origin`), then submits the form with `pin` as the page's own form post would (Origin = the
    /// agent). For tests that exercise the real PIN path without a browser.
    pub async fn enter_pin(&self, pin_url: &str, pin: &str) -> Result<PinOutcome, ClientError> {
        let page = self.http.get(pin_url).send().await?;
        let html = page.text().await?;
        let token = attr_after(&html, "name=\"form_token\" value=\"")
            .ok_or_else(|| ClientError::Protocol("the PIN page has no form".into()))?;
        let url = reqwest::Url::parse(pin_url).map_err(|e| ClientError::Protocol(e.to_string()))?;
        let own_origin = url.origin().ascii_serialization();
        let lang = if html.contains("<html lang=\"en\"") {
            "en"
        } else {
            "ja"
        };
        let r = self
            .http
            .post(pin_url)
            .header(ORIGIN, own_origin)
            .form(&[("form_token", token.as_str()), ("pin", pin), ("lang", lang)])
            .send()
            .await?;
        Ok(pin_outcome(r).await?)
    }
}

fn attr_after(html: &str, prefix: &str) -> Option<String> {
    let start = html.find(prefix)? + prefix.len();
    let end = html[start..].find('"')? + start;
    Some(html[start..end].to_string())
}

/// Reads the outcome of a PIN page response.
pub async fn pin_outcome(r: reqwest::Response) -> Result<PinOutcome, reqwest::Error> {
    let http_status = r.status().as_u16();
    let html = r.text().await?;
    Ok(parse_pin_page(http_status, html))
}

/// Reads `data-status`, `data-result`, `data-tries-left` from a PIN page.
pub fn parse_pin_page(http_status: u16, html: String) -> PinOutcome {
    let status = attr_after(&html, "data-status=\"").unwrap_or_default();
    let result = attr_after(&html, "data-result=\"").unwrap_or_default();
    let tries_left = attr_after(&html, "data-tries-left=\"").and_then(|s| s.parse().ok());
    PinOutcome {
        http_status,
        status,
        result,
        tries_left,
        html,
    }
}
