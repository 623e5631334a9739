//! HTTP-Redirect binding: encode/decode round trip, query signatures (RSA and ECDSA) over the
//! raw query in spec order, and every refusal: tampering, duplicates, DEFLATE bombs, bad base64,
//! SHA-1 and unknown algorithms.

use std::io::Write;
use std::sync::OnceLock;

use base64::Engine;
use flate2::write::DeflateEncoder;
use flate2::Compression;
use openssl::ec::{EcGroup, EcKey};
use openssl::ecdsa::EcdsaSig;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private, Public};
use openssl::rsa::Rsa;
use schemas::binding::*;

const XML: &[u8] = br#"<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="r1" Version="2.0" IssueInstant="2024-04-01T09:00:00Z"/>"#;

fn rsa_key() -> &'static PKey<Private> {
    static KEY: OnceLock<PKey<Private>> = OnceLock::new();
    KEY.get_or_init(|| PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap())
}

fn other_rsa_key() -> &'static PKey<Private> {
    static KEY: OnceLock<PKey<Private>> = OnceLock::new();
    KEY.get_or_init(|| PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap())
}

fn ec_key(nid: Nid) -> PKey<Private> {
    PKey::from_ec_key(EcKey::generate(&EcGroup::from_curve_name(nid).unwrap()).unwrap()).unwrap()
}

fn public(key: &PKey<Private>) -> PKey<Public> {
    PKey::public_key_from_der(&key.public_key_to_der().unwrap()).unwrap()
}

fn signer(key: &PKey<Private>, alg: SigAlg) -> OpensslQuerySigner {
    OpensslQuerySigner::new(key.clone(), alg).unwrap()
}

fn verifier(keys: &[&PKey<Private>]) -> OpensslQueryVerifier {
    OpensslQueryVerifier::new(keys.iter().map(|k| public(k)).collect())
}

fn opts() -> RedirectOptions {
    RedirectOptions::default()
}

fn signed_query(relay_state: Option<&str>) -> String {
    encode_redirect(
        MessageKind::Request,
        XML,
        relay_state,
        Some(&signer(rsa_key(), SigAlg::RsaSha256)),
    )
    .unwrap()
}

/// Replaces the raw value of one parameter.
fn with_param(query: &str, name: &str, value: &str) -> String {
    query
        .split('&')
        .map(|p| match p.split_once('=') {
            Some((n, _)) if n == name => format!("{n}={value}"),
            _ => p.to_string(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

fn param<'a>(query: &'a str, name: &str) -> &'a str {
    query
        .split('&')
        .find_map(|p| p.strip_prefix(&format!("{name}=")))
        .unwrap_or_else(|| panic!("{name} not in {query}"))
}

/// Changes one character of a string to another character of the same class.
fn flip_char(s: &str, at: usize) -> String {
    let mut bytes = s.as_bytes().to_vec();
    bytes[at] = match bytes[at] {
        b'A' => b'B',
        b'%' => b'%',
        b'0'..=b'8' => bytes[at] + 1,
        b'9' => b'0',
        b'a'..=b'y' => bytes[at] + 1,
        b'z' => b'a',
        _ => b'A',
    };
    String::from_utf8(bytes).unwrap()
}

#[test]
fn unsigned_round_trip() {
    let q = encode_redirect(MessageKind::Response, XML, Some("state 1/2?&="), None).unwrap();
    assert!(q.starts_with("SAMLResponse="));
    let m = decode_redirect(&q, &opts()).unwrap();
    assert_eq!(m.kind, MessageKind::Response);
    assert_eq!(m.xml, XML);
    assert_eq!(m.relay_state.as_deref(), Some("state 1/2?&="));
    assert_eq!(m.signature, None);
    // Asking for verification of an unsigned message is an error, not a pass.
    assert_eq!(
        m.verify(&verifier(&[rsa_key()])),
        Err(BindingError::Unsigned)
    );
    let no_rs = encode_redirect(MessageKind::Request, XML, None, None).unwrap();
    assert_eq!(decode_redirect(&no_rs, &opts()).unwrap().relay_state, None);
}

#[test]
fn signatures_verify_for_every_supported_algorithm() {
    let p256 = ec_key(Nid::X9_62_PRIME256V1);
    let p384 = ec_key(Nid::SECP384R1);
    for (key, alg) in [
        (rsa_key(), SigAlg::RsaSha256),
        (rsa_key(), SigAlg::RsaSha384),
        (rsa_key(), SigAlg::RsaSha512),
        (&p256, SigAlg::EcdsaSha256),
        (&p384, SigAlg::EcdsaSha384),
        (&p384, SigAlg::EcdsaSha512),
    ] {
        let q = encode_redirect(
            MessageKind::Request,
            XML,
            Some("rs"),
            Some(&signer(key, alg)),
        )
        .unwrap();
        assert!(q.ends_with(&format!("&Signature={}", param(&q, "Signature"))));
        let m = decode_redirect(&q, &opts()).unwrap();
        assert_eq!(m.signature.as_ref().unwrap().sig_alg, alg);
        m.verify(&verifier(&[key]))
            .unwrap_or_else(|e| panic!("{alg:?}: {e}"));
        // The verifier refuses another key, and a key of the wrong type.
        assert_eq!(
            m.verify(&verifier(&[other_rsa_key()])),
            Err(BindingError::BadSignature),
            "{alg:?}"
        );
    }
}

#[test]
fn signed_octets_follow_spec_order_from_raw_values() {
    let q = signed_query(Some("a b/c"));
    let m = decode_redirect(&q, &opts()).unwrap();
    let expected = format!(
        "SAMLRequest={}&RelayState={}&SigAlg={}",
        param(&q, "SAMLRequest"),
        param(&q, "RelayState"),
        param(&q, "SigAlg")
    );
    assert_eq!(
        m.signature.as_ref().unwrap().signed_octets,
        expected.as_bytes()
    );
    // Parameters in another order (and an unrelated one) still verify: the octets are rebuilt
    // in spec order from the values as received.
    let reordered = format!(
        "Signature={}&foo=bar&SigAlg={}&RelayState={}&SAMLRequest={}",
        param(&q, "Signature"),
        param(&q, "SigAlg"),
        param(&q, "RelayState"),
        param(&q, "SAMLRequest")
    );
    decode_redirect(&reordered, &opts())
        .unwrap()
        .verify(&verifier(&[rsa_key()]))
        .unwrap();
    // A different but equivalent encoding of a value is different octets: not verified.
    let lower = with_param(&q, "SigAlg", &param(&q, "SigAlg").replace("%3A", "%3a"));
    assert_eq!(
        decode_redirect(&lower, &opts())
            .unwrap()
            .verify(&verifier(&[rsa_key()])),
        Err(BindingError::BadSignature)
    );
}

#[test]
fn a_single_changed_byte_in_any_parameter_fails() {
    let q = signed_query(Some("relay-state-1"));
    let v = verifier(&[rsa_key()]);
    decode_redirect(&q, &opts()).unwrap().verify(&v).unwrap();
    for name in ["SAMLRequest", "RelayState", "SigAlg", "Signature"] {
        let value = param(&q, name);
        for at in [0, value.len() / 2, value.len() - 1] {
            let changed = flip_char(value, at);
            if changed == value {
                continue;
            }
            let tampered = with_param(&q, name, &changed);
            let outcome = decode_redirect(&tampered, &opts()).and_then(|m| m.verify(&v));
            assert!(outcome.is_err(), "{name}[{at}] changed and still accepted");
        }
    }
    // The message itself with one XML byte changed, re-encoded, under the old signature.
    let other_xml = String::from_utf8(XML.to_vec())
        .unwrap()
        .replace("ID=\"r1\"", "ID=\"r2\"");
    let forged = encode_redirect(
        MessageKind::Request,
        other_xml.as_bytes(),
        Some("relay-state-1"),
        None,
    )
    .unwrap();
    let spliced = with_param(&q, "SAMLRequest", param(&forged, "SAMLRequest"));
    assert_eq!(
        decode_redirect(&spliced, &opts()).unwrap().verify(&v),
        Err(BindingError::BadSignature)
    );
}

#[test]
fn relay_state_tampering_is_refused() {
    let q = signed_query(Some("go-to-/portal"));
    let v = verifier(&[rsa_key()]);
    let changed = with_param(&q, "RelayState", "go-to-%2Fevil");
    assert_eq!(
        decode_redirect(&changed, &opts()).unwrap().verify(&v),
        Err(BindingError::BadSignature)
    );
    let removed = q
        .split('&')
        .filter(|p| !p.starts_with("RelayState="))
        .collect::<Vec<_>>()
        .join("&");
    assert_eq!(
        decode_redirect(&removed, &opts()).unwrap().verify(&v),
        Err(BindingError::BadSignature)
    );
    let unsigned_rs = signed_query(None);
    let added = format!("{unsigned_rs}&RelayState=injected");
    assert_eq!(
        decode_redirect(&added, &opts()).unwrap().verify(&v),
        Err(BindingError::BadSignature)
    );
}

#[test]
fn duplicated_parameters_are_refused() {
    let q = signed_query(Some("rs"));
    for name in ["SAMLRequest", "RelayState", "SigAlg", "Signature"] {
        let dup = format!("{q}&{name}={}", param(&q, name));
        assert_eq!(
            decode_redirect(&dup, &opts()),
            Err(BindingError::DuplicateParameter(name.to_string())),
            "{name}"
        );
        let dup_first = format!("{name}=x&{q}");
        assert_eq!(
            decode_redirect(&dup_first, &opts()),
            Err(BindingError::DuplicateParameter(name.to_string()))
        );
    }
    // Encoded parameter names count too.
    let sneaky = format!("{q}&SAML%52equest={}", param(&q, "SAMLRequest"));
    assert!(matches!(
        decode_redirect(&sneaky, &opts()),
        Err(BindingError::DuplicateParameter(_))
    ));
    let both = format!("{q}&SAMLResponse={}", param(&q, "SAMLRequest"));
    assert_eq!(
        decode_redirect(&both, &opts()),
        Err(BindingError::BothMessages)
    );
    assert_eq!(
        decode_redirect("RelayState=x", &opts()),
        Err(BindingError::MissingMessage)
    );
    assert_eq!(
        decode_redirect("", &opts()),
        Err(BindingError::MissingMessage)
    );
}

#[test]
fn sigalg_and_signature_come_together() {
    let q = signed_query(Some("rs"));
    let no_sig = q
        .split('&')
        .filter(|p| !p.starts_with("Signature="))
        .collect::<Vec<_>>()
        .join("&");
    assert_eq!(
        decode_redirect(&no_sig, &opts()),
        Err(BindingError::SigAlgWithoutSignature)
    );
    let no_alg = q
        .split('&')
        .filter(|p| !p.starts_with("SigAlg="))
        .collect::<Vec<_>>()
        .join("&");
    assert_eq!(
        decode_redirect(&no_alg, &opts()),
        Err(BindingError::SignatureWithoutSigAlg)
    );
}

#[test]
fn sha1_is_refused_unless_allowed() {
    let q = encode_redirect(
        MessageKind::Request,
        XML,
        None,
        Some(&signer(rsa_key(), SigAlg::RsaSha1)),
    )
    .unwrap();
    assert_eq!(
        decode_redirect(&q, &opts()),
        Err(BindingError::Sha1Refused(SigAlg::RsaSha1.uri().to_string()))
    );
    let allow = RedirectOptions {
        allow_sha1: true,
        ..opts()
    };
    decode_redirect(&q, &allow)
        .unwrap()
        .verify(&verifier(&[rsa_key()]))
        .unwrap();
    let ec = ec_key(Nid::X9_62_PRIME256V1);
    let q = encode_redirect(
        MessageKind::Request,
        XML,
        None,
        Some(&signer(&ec, SigAlg::EcdsaSha1)),
    )
    .unwrap();
    assert!(matches!(
        decode_redirect(&q, &opts()),
        Err(BindingError::Sha1Refused(_))
    ));
}

#[test]
fn unknown_algorithms_are_refused() {
    let q = signed_query(None);
    for alg in [
        "http://www.w3.org/2000/09/xmldsig#hmac-sha1",
        "http://www.w3.org/2000/09/xmldsig#dsa-sha1",
        "http://www.w3.org/2001/04/xmldsig-more#rsa-md5",
        "rsa-sha256",
    ] {
        let changed = with_param(
            &q,
            "SigAlg",
            &alg.replace(':', "%3A")
                .replace('/', "%2F")
                .replace('#', "%23"),
        );
        assert_eq!(
            decode_redirect(&changed, &opts()),
            Err(BindingError::UnsupportedSigAlg(alg.to_string()))
        );
    }
    // A verifier given an algorithm it does not know refuses it too.
    assert!(matches!(
        verifier(&[rsa_key()]).verify("http://www.w3.org/2000/09/xmldsig#hmac-sha1", b"x", b"y"),
        Err(BindingError::UnsupportedSigAlg(_))
    ));
    // A signer refuses a key that does not fit its algorithm.
    assert!(OpensslQuerySigner::new(rsa_key().clone(), SigAlg::EcdsaSha256).is_err());
}

#[test]
fn rollover_keys_and_key_types() {
    let q = signed_query(None);
    let m = decode_redirect(&q, &opts()).unwrap();
    // The old key first, the new one second: either may verify.
    m.verify(&verifier(&[other_rsa_key(), rsa_key()])).unwrap();
    // An EC key never verifies an RSA algorithm.
    assert_eq!(
        m.verify(&verifier(&[&ec_key(Nid::X9_62_PRIME256V1)])),
        Err(BindingError::BadSignature)
    );
    // A closure is a verifier too (the dsig layer plugs in this way).
    let calls = std::cell::Cell::new(0);
    let closure = |alg: &str, data: &[u8], sig: &[u8]| {
        calls.set(calls.get() + 1);
        assert_eq!(alg, SigAlg::RsaSha256.uri());
        verifier(&[rsa_key()]).verify(alg, data, sig)
    };
    m.verify(&closure).unwrap();
    assert_eq!(calls.get(), 1);
    let refuse = |_: &str, _: &[u8], _: &[u8]| Ok(false);
    assert_eq!(m.verify(&refuse), Err(BindingError::BadSignature));
}

#[test]
fn ecdsa_raw_r_s_signatures_are_accepted() {
    let key = ec_key(Nid::X9_62_PRIME256V1);
    let q = encode_redirect(
        MessageKind::Request,
        XML,
        None,
        Some(&signer(&key, SigAlg::EcdsaSha256)),
    )
    .unwrap();
    let der = decode_redirect(&q, &opts())
        .unwrap()
        .signature
        .unwrap()
        .signature;
    let sig = EcdsaSig::from_der(&der).unwrap();
    let mut raw = vec![0u8; 64];
    let (r, s) = (sig.r().to_vec(), sig.s().to_vec());
    raw[32 - r.len()..32].copy_from_slice(&r);
    raw[64 - s.len()..].copy_from_slice(&s);
    let b64 = base64::engine::general_purpose::STANDARD.encode(&raw);
    let raw_q = with_param(
        &q,
        "Signature",
        &b64.replace('+', "%2B")
            .replace('/', "%2F")
            .replace('=', "%3D"),
    );
    decode_redirect(&raw_q, &opts())
        .unwrap()
        .verify(&verifier(&[&key]))
        .unwrap();
}

#[test]
fn deflate_bomb_is_refused() {
    let mut enc = DeflateEncoder::new(Vec::new(), Compression::best());
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..10 {
        enc.write_all(&zeros).unwrap();
    }
    let bomb = enc.finish().unwrap();
    assert!(bomb.len() < 64 * 1024, "bomb is {} bytes", bomb.len());
    let b64 = base64::engine::general_purpose::STANDARD.encode(&bomb);
    let q = format!(
        "SAMLRequest={}",
        b64.replace('+', "%2B")
            .replace('/', "%2F")
            .replace('=', "%3D")
    );
    assert_eq!(
        decode_redirect(&q, &opts()),
        Err(BindingError::InflatedTooLarge { limit: 64 * 1024 })
    );
    // The cap is configurable, both ways.
    let q = encode_redirect(MessageKind::Request, XML, None, None).unwrap();
    let tight = RedirectOptions {
        max_inflated: XML.len() - 1,
        ..opts()
    };
    assert_eq!(
        decode_redirect(&q, &tight),
        Err(BindingError::InflatedTooLarge {
            limit: XML.len() - 1
        })
    );
    let exact = RedirectOptions {
        max_inflated: XML.len(),
        ..opts()
    };
    assert_eq!(decode_redirect(&q, &exact).unwrap().xml, XML);
}

#[test]
fn bad_encodings_are_refused() {
    assert_eq!(
        decode_redirect("SAMLRequest=***not-base64***", &opts()),
        Err(BindingError::InvalidBase64("SAMLRequest"))
    );
    // Valid base64 of bytes that are not raw DEFLATE (zlib-wrapped and plain text).
    let plain = base64::engine::general_purpose::STANDARD.encode(b"\xff\xff\xff\xff not deflate");
    assert_eq!(
        decode_redirect(
            &format!("SAMLRequest={}", plain.replace('=', "%3D")),
            &opts()
        ),
        Err(BindingError::InvalidDeflate)
    );
    assert_eq!(
        decode_redirect("SAMLRequest=abc%2", &opts()),
        Err(BindingError::InvalidPercentEncoding("SAMLRequest"))
    );
    let q = signed_query(None);
    let bad_sig = with_param(&q, "Signature", "%%%");
    assert!(matches!(
        decode_redirect(&bad_sig, &opts()),
        Err(BindingError::InvalidPercentEncoding(_))
    ));
    let bad_sig = with_param(&q, "Signature", "not*base64");
    assert_eq!(
        decode_redirect(&bad_sig, &opts()),
        Err(BindingError::InvalidBase64("Signature"))
    );
    let enc = format!(
        "{}&SAMLEncoding=urn%3Ax-gzip",
        encode_redirect(MessageKind::Request, XML, None, None).unwrap()
    );
    assert_eq!(
        decode_redirect(&enc, &opts()),
        Err(BindingError::UnsupportedEncoding("urn:x-gzip".into()))
    );
    let deflate = format!(
        "{}&SAMLEncoding=urn%3Aoasis%3Anames%3Atc%3ASAML%3A2.0%3Abindings%3AURL-Encoding%3ADEFLATE",
        encode_redirect(MessageKind::Request, XML, None, None).unwrap()
    );
    decode_redirect(&deflate, &opts()).unwrap();
}

#[test]
fn plus_in_base64_values_is_base64_not_space() {
    // Senders that leave '+' unescaped in base64 still decode; RelayState '+' is a space.
    let q = signed_query(Some("a b"));
    let unescaped = q.replace("%2B", "+");
    let m = decode_redirect(&unescaped, &opts()).unwrap();
    assert_eq!(m.xml, XML);
    assert_eq!(m.relay_state.as_deref(), Some("a b"));
}

#[test]
fn size_limits() {
    let long = "x".repeat(81);
    assert_eq!(
        encode_redirect(MessageKind::Request, XML, Some(&long), None),
        Err(BindingError::RelayStateTooLong { limit: 80 })
    );
    let q = format!(
        "{}&RelayState={long}",
        encode_redirect(MessageKind::Request, XML, None, None).unwrap()
    );
    assert_eq!(
        decode_redirect(&q, &opts()),
        Err(BindingError::RelayStateTooLong { limit: 80 })
    );
    let roomy = RedirectOptions {
        max_relay_state: 200,
        ..opts()
    };
    assert_eq!(
        decode_redirect(&q, &roomy).unwrap().relay_state.as_deref(),
        Some(long.as_str())
    );
    let huge = format!("SAMLRequest={}", "A".repeat(70 * 1024));
    assert_eq!(
        decode_redirect(&huge, &opts()),
        Err(BindingError::TooLarge { limit: 64 * 1024 })
    );
}

#[test]
fn redirect_urls() {
    assert_eq!(
        redirect_url("https://idp.example.jp/sso", "SAMLRequest=x"),
        "https://idp.example.jp/sso?SAMLRequest=x"
    );
    assert_eq!(
        redirect_url("https://idp.example.jp/sso?tenant=1", "SAMLRequest=x"),
        "https://idp.example.jp/sso?tenant=1&SAMLRequest=x"
    );
    // An endpoint's own parameters do not disturb decoding.
    let q = format!("tenant=1&{}", signed_query(Some("rs")));
    decode_redirect(&q, &opts())
        .unwrap()
        .verify(&verifier(&[rsa_key()]))
        .unwrap();
}
