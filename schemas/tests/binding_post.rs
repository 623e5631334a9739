//! HTTP-POST binding: base64 form values with a size cap, the raw form-body decoder (duplicates
//! refused), RelayState limits, and the auto-submitting form (escaping, noscript, CSP nonce,
//! unsafe actions refused).

use base64::Engine;
use schemas::binding::*;

const XML: &[u8] = "<samlp:Response xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\">名張 &amp; co</samlp:Response>".as_bytes();

fn b64(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(data)
}

fn form_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            b' ' => "+".to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The value of the hidden input `name` in a rendered form.
fn input_value<'a>(html: &'a str, name: &str) -> &'a str {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("{name} missing"))
        + marker.len();
    let len = html[start..].find('"').unwrap();
    &html[start..start + len]
}

#[test]
fn value_round_trip_and_line_breaks() {
    let v = encode_post_value(XML);
    assert_eq!(v, b64(XML));
    assert_eq!(decode_post_value(&v, 1024).unwrap(), XML);
    // Some senders wrap base64 at 76 columns.
    let wrapped: String = v
        .as_bytes()
        .chunks(76)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect::<Vec<_>>()
        .join("\r\n");
    assert_eq!(decode_post_value(&wrapped, 1024).unwrap(), XML);
}

#[test]
fn value_refusals() {
    let v = encode_post_value(XML);
    assert_eq!(
        decode_post_value(&v, XML.len() - 1),
        Err(BindingError::MessageTooLarge {
            limit: XML.len() - 1
        })
    );
    assert_eq!(decode_post_value(&v, XML.len()).unwrap(), XML);
    // The cap holds before decoding: a huge value is refused without being decoded.
    let huge = "QUFB".repeat(1 << 20);
    assert_eq!(
        decode_post_value(&huge, 64 * 1024),
        Err(BindingError::MessageTooLarge { limit: 64 * 1024 })
    );
    assert_eq!(
        decode_post_value("***", 1024),
        Err(BindingError::InvalidBase64("message"))
    );
    // Already URL-decoded by the framework: a '%' is not decoded a second time.
    assert_eq!(
        decode_post_value("PHg%2BPC94Pg==", 1024),
        Err(BindingError::InvalidBase64("message"))
    );
}

#[test]
fn raw_form_body_round_trip() {
    let body = format!(
        "SAMLResponse={}&RelayState={}",
        form_encode(&encode_post_value(XML)),
        form_encode("back to /portal?x=1")
    );
    let m = decode_post_form(&body, &PostOptions::default()).unwrap();
    assert_eq!(m.kind, MessageKind::Response);
    assert_eq!(m.xml, XML);
    assert_eq!(m.relay_state.as_deref(), Some("back to /portal?x=1"));
    let req = decode_post_form(
        &format!("SAMLRequest={}", form_encode(&b64(XML))),
        &PostOptions::default(),
    )
    .unwrap();
    assert_eq!(req.kind, MessageKind::Request);
    assert_eq!(req.relay_state, None);
}

#[test]
fn raw_form_body_refusals() {
    let v = form_encode(&encode_post_value(XML));
    let opts = PostOptions::default();
    assert_eq!(
        decode_post_form(&format!("SAMLResponse={v}&SAMLResponse={v}"), &opts),
        Err(BindingError::DuplicateParameter("SAMLResponse".into()))
    );
    assert_eq!(
        decode_post_form(
            &format!("SAMLResponse={v}&RelayState=a&RelayState=b"),
            &opts
        ),
        Err(BindingError::DuplicateParameter("RelayState".into()))
    );
    assert_eq!(
        decode_post_form(&format!("SAMLResponse={v}&SAMLRequest={v}"), &opts),
        Err(BindingError::BothMessages)
    );
    assert_eq!(
        decode_post_form("RelayState=a", &opts),
        Err(BindingError::MissingMessage)
    );
    let long_rs = format!("SAMLResponse={v}&RelayState={}", "r".repeat(81));
    assert_eq!(
        decode_post_form(&long_rs, &opts),
        Err(BindingError::RelayStateTooLong { limit: 80 })
    );
    let small = PostOptions {
        max_message: XML.len() - 1,
        ..PostOptions::default()
    };
    assert_eq!(
        decode_post_form(&format!("SAMLResponse={v}"), &small),
        Err(BindingError::MessageTooLarge {
            limit: XML.len() - 1
        })
    );
    assert!(matches!(
        decode_post_form(
            &format!("SAMLResponse={}", "A".repeat(2 << 20)),
            &PostOptions::default()
        ),
        Err(BindingError::TooLarge { .. })
    ));
}

#[test]
fn auto_submit_page() {
    let action = r#"https://sp.example.jp/acs?a=1&b="<x>""#;
    let rs = r#"s'"<&>"#;
    let html = post_page(
        action,
        MessageKind::Response,
        XML,
        Some(rs),
        Some("n0nce\"x"),
    )
    .unwrap();
    assert!(
        html.contains(r#"action="https://sp.example.jp/acs?a=1&amp;b=&quot;&lt;x&gt;&quot;""#),
        "{html}"
    );
    assert_eq!(
        input_value(&html, "RelayState"),
        "s&#39;&quot;&lt;&amp;&gt;"
    );
    assert_eq!(
        decode_post_value(input_value(&html, "SAMLResponse"), 1024).unwrap(),
        XML
    );
    assert!(html.contains("<noscript>") && html.contains(r#"<input type="submit""#));
    assert!(html.contains(r#"<script nonce="n0nce&quot;x">"#), "{html}");
    assert!(!html.contains("<script src"), "no external script");
    assert_eq!(html.matches("<script").count(), 1);
    assert!(html.contains(r#"method="post""#));

    let no_nonce = post_page(
        "https://sp.example.jp/acs",
        MessageKind::Request,
        XML,
        None,
        None,
    )
    .unwrap();
    assert!(no_nonce.contains("<script>"));
    assert!(!no_nonce.contains("RelayState"));
    assert!(no_nonce.contains(r#"name="SAMLRequest""#));

    let form = post_form(
        "https://sp.example.jp/acs",
        MessageKind::Response,
        XML,
        None,
    )
    .unwrap();
    assert!(form.starts_with("<form") && !form.contains("<script"));
}

#[test]
fn unsafe_form_actions_and_long_relay_state_are_refused() {
    for action in [
        "javascript:alert(1)",
        " JavaScript:alert(1)",
        "data:text/html,x",
        "//evil.example/acs",
        "",
    ] {
        assert_eq!(
            post_page(action, MessageKind::Response, XML, None, None),
            Err(BindingError::UnsafeAction(action.to_string())),
            "{action:?}"
        );
    }
    assert_eq!(
        post_form(
            "https://sp.example.jp/acs",
            MessageKind::Response,
            XML,
            Some(&"r".repeat(81))
        ),
        Err(BindingError::RelayStateTooLong { limit: 80 })
    );
    post_form(
        "HTTPS://SP.EXAMPLE.JP/acs",
        MessageKind::Response,
        XML,
        Some(&"r".repeat(80)),
    )
    .unwrap();
}
