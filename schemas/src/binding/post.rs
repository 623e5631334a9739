//! HTTP-POST binding (SAML bindings §3.5): base64 form values, the form-body decoder and the
//! auto-submitting form.

use super::params::{decode_base64, decode_text, encode_base64, SamlParams};
use super::{check_relay_state, BindingError, MessageKind, RELAY_STATE_MAX};

/// Limits of the POST decoder.
#[derive(Clone, Debug)]
pub struct PostOptions {
    /// Largest accepted decoded message (the XML parser's default limit).
    pub max_message: usize,
    /// Longest accepted RelayState.
    pub max_relay_state: usize,
}

impl Default for PostOptions {
    fn default() -> Self {
        PostOptions {
            max_message: 256 * 1024,
            max_relay_state: RELAY_STATE_MAX,
        }
    }
}

/// A decoded POST message (XML not parsed yet).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PostMessage {
    pub kind: MessageKind,
    pub xml: Vec<u8>,
    pub relay_state: Option<String>,
}

/// The form value of a message: plain base64 of the XML.
pub fn encode_post_value(xml: &[u8]) -> String {
    encode_base64(xml)
}

/// Decodes a form value already URL-decoded by the web framework, refusing more than
/// `max_message` bytes before decoding.
pub fn decode_post_value(value: &str, max_message: usize) -> Result<Vec<u8>, BindingError> {
    // The value is already URL-decoded: a '%' in it is not an escape.
    if value.contains('%') {
        return Err(BindingError::InvalidBase64("message"));
    }
    decode_base64(value, "message", max_message)
}

/// Decodes a raw `application/x-www-form-urlencoded` body, refusing duplicated SAML fields
/// (one parser for what is checked and what is used).
pub fn decode_post_form(raw_body: &str, opts: &PostOptions) -> Result<PostMessage, BindingError> {
    // Base64 grows data by 4/3, and percent-encoding of '+', '/' and '=' by up to 3 more.
    let max_body = opts.max_message.saturating_mul(4).saturating_add(4096);
    let p = SamlParams::parse(raw_body, max_body)?;
    let (kind, raw_message) = p.message()?;
    let relay_state = p
        .relay_state
        .map(|r| decode_text(r, "RelayState"))
        .transpose()?;
    check_relay_state(relay_state.as_deref(), opts.max_relay_state)?;
    Ok(PostMessage {
        kind,
        xml: decode_base64(raw_message, kind.param(), opts.max_message)?,
        relay_state,
    })
}

fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const FORM_ID: &str = "saml-post-form";

/// The `<form>` that carries a message to `action`, with a `<noscript>` button for browsers
/// without scripts; for embedding in a page of the caller's own. The action must be an http(s)
/// URL: a `javascript:` or `data:` ACS from a forged request is never rendered.
pub fn post_form(
    action: &str,
    kind: MessageKind,
    xml: &[u8],
    relay_state: Option<&str>,
) -> Result<String, BindingError> {
    let lower = action.trim_start().to_ascii_lowercase();
    if !(lower.starts_with("https://") || lower.starts_with("http://")) {
        return Err(BindingError::UnsafeAction(action.to_string()));
    }
    check_relay_state(relay_state, RELAY_STATE_MAX)?;
    let mut form = format!(
        "<form id=\"{FORM_ID}\" method=\"post\" action=\"{}\">\n<input type=\"hidden\" name=\"{}\" value=\"{}\"/>\n",
        html_escape(action),
        kind.param(),
        html_escape(&encode_post_value(xml)),
    );
    if let Some(rs) = relay_state {
        form.push_str(&format!(
            "<input type=\"hidden\" name=\"RelayState\" value=\"{}\"/>\n",
            html_escape(rs)
        ));
    }
    form.push_str(
        "<noscript><p>Your browser does not run scripts. Press Continue to proceed.</p>\
         <input type=\"submit\" value=\"Continue\"/></noscript>\n</form>\n",
    );
    Ok(form)
}

/// A whole page that posts the form on load. The one inline script carries `nonce` when given,
/// so the page runs under a `script-src 'nonce-…'` Content-Security-Policy; no external script.
pub fn post_page(
    action: &str,
    kind: MessageKind,
    xml: &[u8],
    relay_state: Option<&str>,
    nonce: Option<&str>,
) -> Result<String, BindingError> {
    let form = post_form(action, kind, xml, relay_state)?;
    let nonce_attr = nonce
        .map(|n| format!(" nonce=\"{}\"", html_escape(n)))
        .unwrap_or_default();
    Ok(format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Continue</title></head>\n<body>\n{form}\
         <script{nonce_attr}>document.getElementById(\"{FORM_ID}\").submit();</script>\n</body></html>\n"
    ))
}
