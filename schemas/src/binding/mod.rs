//! SAML 2.0 HTTP bindings (SAML bindings §3.4 HTTP-Redirect, §3.5 HTTP-POST).
//!
//! Both decoders read the raw query string or form body themselves, in order, and refuse any
//! SAML parameter that appears twice: a framework's parameter map that keeps the first or the
//! last duplicate is how signed and consumed values come apart (parameter pollution). Decoded
//! sizes are capped before anything large is allocated.

mod params;
mod post;
mod redirect;
mod sig;

pub use post::{
    decode_post_form, decode_post_value, encode_post_value, post_form, post_page, PostMessage,
    PostOptions,
};
pub use redirect::{
    decode_redirect, encode_redirect, redirect_url, QuerySignature, RedirectMessage,
    RedirectOptions,
};
pub use sig::{OpensslQuerySigner, OpensslQueryVerifier, QuerySigner, QueryVerifier, SigAlg};

/// Longest RelayState the bindings allow (SAML bindings §3.4.3 and §3.5.3: 80 bytes).
pub const RELAY_STATE_MAX: usize = 80;

/// Which protocol message a binding carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MessageKind {
    /// `SAMLRequest`.
    Request,
    /// `SAMLResponse`.
    Response,
}

impl MessageKind {
    /// The form or query parameter name.
    pub fn param(self) -> &'static str {
        match self {
            MessageKind::Request => "SAMLRequest",
            MessageKind::Response => "SAMLResponse",
        }
    }
}

/// Why a bound message was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BindingError {
    #[error("the query or form is larger than {limit} bytes")]
    TooLarge { limit: usize },
    #[error("parameter {0} appears more than once")]
    DuplicateParameter(String),
    #[error("neither SAMLRequest nor SAMLResponse is present")]
    MissingMessage,
    #[error("both SAMLRequest and SAMLResponse are present")]
    BothMessages,
    #[error("SigAlg is present without Signature")]
    SigAlgWithoutSignature,
    #[error("Signature is present without SigAlg")]
    SignatureWithoutSigAlg,
    #[error("signature algorithm {0:?} is not supported")]
    UnsupportedSigAlg(String),
    #[error("SHA-1 signature algorithm {0:?} is refused")]
    Sha1Refused(String),
    #[error("SAMLEncoding {0:?} is not supported (DEFLATE only)")]
    UnsupportedEncoding(String),
    #[error("parameter {0} has invalid percent-encoding")]
    InvalidPercentEncoding(&'static str),
    #[error("parameter {0} is not UTF-8")]
    NotUtf8(&'static str),
    #[error("parameter {0} is not valid base64")]
    InvalidBase64(&'static str),
    #[error("the message is not valid raw DEFLATE data")]
    InvalidDeflate,
    #[error("the message inflates to more than {limit} bytes (DEFLATE bomb?)")]
    InflatedTooLarge { limit: usize },
    #[error("the decoded message is larger than {limit} bytes")]
    MessageTooLarge { limit: usize },
    #[error("RelayState is longer than {limit} bytes")]
    RelayStateTooLong { limit: usize },
    #[error("the message is not signed")]
    Unsigned,
    #[error("the signature does not verify")]
    BadSignature,
    #[error("form action {0:?} is not an http(s) URL")]
    UnsafeAction(String),
    #[error("cryptographic failure: {0}")]
    Crypto(String),
}

fn check_relay_state(relay_state: Option<&str>, limit: usize) -> Result<(), BindingError> {
    match relay_state {
        Some(rs) if rs.len() > limit => Err(BindingError::RelayStateTooLong { limit }),
        _ => Ok(()),
    }
}
