//! Interoperability with pysaml2: messages and metadata made by another stack parse into the
//! typed models with the expected values. `tests/data/saml/gen_pysaml2.py` made the committed
//! fixtures under `tests/data/saml/pysaml2/`; the live test runs it again (Debian's
//! python3-pysaml2 and xmlsec1, which setup installs) and parses the fresh output.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use schemas::binding::{
    decode_redirect, BindingError, MessageKind, OpensslQueryVerifier, RedirectOptions,
};
use schemas::saml::*;

const SP: &str = "https://sp.example.jp/sp";
const IDP: &str = "https://idp.example.jp/idp";
const ACS: &str = "https://sp.example.jp/acs";
const PYTHON: &str = "/usr/bin/python3";

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/saml")
}

fn read(dir: &Path, name: &str) -> Vec<u8> {
    std::fs::read(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn parse<T: SamlXml>(dir: &Path, name: &str) -> T {
    T::from_xml(&read(dir, name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn ids(dir: &Path) -> HashMap<String, String> {
    String::from_utf8(read(dir, "ids.txt"))
        .unwrap()
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Checks everything the generator writes.
fn check_pysaml2_output(dir: &Path) {
    let ids = ids(dir);
    let cert = read(dir, "cert.der");

    // Metadata.
    let sp_md: EntityDescriptor = parse(dir, "sp_metadata.xml");
    assert_eq!(sp_md.entity_id, SP);
    let sp = sp_md.sp().expect("SP role");
    assert_eq!(sp.authn_requests_signed, Some(true));
    assert_eq!(sp.want_assertions_signed, Some(true));
    assert_eq!(
        sp.acs_by_url(ACS).expect("ACS").endpoint.binding,
        bindings::HTTP_POST
    );
    assert_eq!(sp.default_acs().unwrap().endpoint.location, ACS);
    assert_eq!(sp.sso.signing_certificates(), vec![cert.as_slice()]);
    assert_eq!(sp.sso.encryption_certificates(), vec![cert.as_slice()]);
    assert_eq!(
        sp.sso
            .single_logout_service(bindings::HTTP_REDIRECT)
            .unwrap()
            .location,
        "https://sp.example.jp/slo"
    );
    assert_eq!(sp.sso.name_id_formats, [nameid_format::PERSISTENT]);

    let idp_md: EntityDescriptor = parse(dir, "idp_metadata.xml");
    assert_eq!(idp_md.entity_id, IDP);
    let idp = idp_md.idp().expect("IdP role");
    assert_eq!(
        idp.sso_service(bindings::HTTP_REDIRECT).unwrap().location,
        "https://idp.example.jp/sso"
    );
    assert_eq!(
        idp.sso_service(bindings::HTTP_POST).unwrap().location,
        "https://idp.example.jp/sso"
    );
    assert_eq!(idp.sso.signing_certificates(), vec![cert.as_slice()]);
    assert!(idp.sso.encryption_certificates().is_empty());
    // pysaml2 advertises the algorithm-support extension.
    let ext = idp_md.extensions.as_ref().expect("md:Extensions");
    assert!(ext
        .digest_methods()
        .any(|d| d == "http://www.w3.org/2001/04/xmlenc#sha256"));
    assert!(ext
        .signing_methods()
        .any(|m| m.algorithm == "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"));

    // AuthnRequest, unsigned and signed (the enveloped signature is skipped).
    let req: AuthnRequest = parse(dir, "authn_request.xml");
    assert_eq!(req.header.id, ids["authn_request"]);
    assert_eq!(req.header.issuer.as_ref().unwrap().value, SP);
    assert_eq!(
        req.header.destination.as_deref(),
        Some("https://idp.example.jp/sso")
    );
    assert_eq!(req.assertion_consumer_service_url.as_deref(), Some(ACS));
    assert_eq!(req.protocol_binding.as_deref(), Some(bindings::HTTP_POST));
    assert_eq!(
        req.name_id_policy.as_ref().unwrap().format.as_deref(),
        Some(nameid_format::PERSISTENT)
    );
    let signed_req: AuthnRequest = parse(dir, "authn_request_signed.xml");
    assert_eq!(signed_req.header.issuer.as_ref().unwrap().value, SP);
    assert_ne!(signed_req.header.id, req.header.id);

    // Responses.
    for name in ["response.xml", "response_signed_assertion.xml"] {
        let resp: Response = parse(dir, name);
        assert!(resp.header.status.is_success(), "{name}");
        assert_eq!(
            resp.header.in_response_to.as_deref(),
            Some(ids["authn_request"].as_str())
        );
        assert_eq!(resp.header.destination.as_deref(), Some(ACS));
        assert_eq!(resp.assertions.len(), 1);
        let a = resp.plain_assertions().next().expect("plain assertion");
        assert_eq!(a.issuer.value, IDP);
        let subject = a.subject.as_ref().unwrap();
        let name_id = subject.name_id().unwrap();
        assert_eq!(name_id.format.as_deref(), Some(nameid_format::PERSISTENT));
        assert_eq!(name_id.sp_name_qualifier.as_deref(), Some(SP));
        let sc = &subject.confirmations[0];
        assert_eq!(sc.method, confirmation::BEARER);
        let scd = sc.data.as_ref().unwrap();
        assert_eq!(scd.recipient.as_deref(), Some(ACS));
        assert_eq!(
            scd.in_response_to.as_deref(),
            Some(ids["authn_request"].as_str())
        );
        let cond = a.conditions.as_ref().unwrap();
        assert_eq!(cond.audience_restrictions[0].audiences, [SP]);
        assert!(cond.not_before.unwrap() < cond.not_on_or_after.unwrap());
        let authn = a.authn_statements().next().unwrap();
        assert_eq!(
            authn.authn_context.class_ref.as_deref(),
            Some(authn_context::PASSWORD_PROTECTED_TRANSPORT)
        );
        assert_eq!(authn.authn_context.authenticating_authorities, [IDP]);
        let mail = a
            .attribute("urn:oid:0.9.2342.19200300.100.1.3")
            .expect("mail");
        assert_eq!(mail.friendly_name.as_deref(), Some("mail"));
        assert_eq!(
            mail.values,
            [AttributeValue::Text {
                value: "taro@example.jp".into(),
                xsi_type: Some(QName::xs("string")),
            }]
        );
        assert_eq!(a.attributes().count(), 3);
    }

    // Signed response with an encrypted (signed) assertion: kept opaque for xenc.
    let enc: Response = parse(dir, "response_encrypted.xml");
    assert!(enc.header.status.is_success());
    match enc.assertions.as_slice() {
        [AssertionItem::Encrypted(e)] => {
            let doc = schemas::xml::parse(e.xml.as_bytes())
                .expect("encrypted assertion is self-contained");
            assert!(doc.root().is(schemas::ns::SAML, "EncryptedAssertion"));
            assert!(doc
                .root()
                .first(schemas::ns::XENC, "EncryptedData")
                .is_some());
        }
        other => panic!("expected one encrypted assertion, got {other:?}"),
    }

    // Logout.
    let lo: LogoutRequest = parse(dir, "logout_request.xml");
    assert_eq!(lo.header.id, ids["logout_request"]);
    assert_eq!(lo.id.name_id().unwrap().value, "pairwise-abc");
    assert_eq!(lo.session_indexes, ["session-1"]);
    assert_eq!(
        lo.reason.as_deref(),
        Some("urn:oasis:names:tc:SAML:2.0:logout:user")
    );
    let lr: LogoutResponse = parse(dir, "logout_response.xml");
    assert_eq!(
        lr.header.in_response_to.as_deref(),
        Some(ids["logout_request"].as_str())
    );
    assert!(lr.header.status.is_success());

    // HTTP-Redirect: pysaml2's query signature verifies with the key from its metadata.
    let query = String::from_utf8(read(dir, "redirect_query.txt")).unwrap();
    let msg =
        decode_redirect(query.trim(), &RedirectOptions::default()).expect("redirect query decodes");
    assert_eq!(msg.kind, MessageKind::Request);
    assert_eq!(msg.relay_state.as_deref(), Some("pysaml2 relay/state"));
    let verifier =
        OpensslQueryVerifier::from_certificates_der(sp.sso.signing_certificates()).unwrap();
    msg.verify(&verifier)
        .expect("pysaml2 query signature verifies");
    let redirected = AuthnRequest::from_xml(&msg.xml).unwrap();
    assert_eq!(redirected.header.id, ids["redirect_request"]);
    let mut tampered = query.trim().replace("pysaml2+relay", "pysaml2+relaz");
    assert_eq!(
        decode_redirect(&tampered, &RedirectOptions::default())
            .unwrap()
            .verify(&verifier),
        Err(BindingError::BadSignature)
    );
    tampered = format!("{}&SAMLRequest=x", query.trim());
    assert!(decode_redirect(&tampered, &RedirectOptions::default()).is_err());

    // What pysaml2 wrote, written again by us, parses to the same value.
    let again = Response::from_xml(enc.to_xml().as_bytes()).unwrap();
    assert_eq!(again, enc);
    let again = EntityDescriptor::from_xml(idp_md.to_xml().as_bytes()).unwrap();
    assert_eq!(again, idp_md);
}

#[test]
fn committed_pysaml2_fixtures_parse() {
    check_pysaml2_output(&data_dir().join("pysaml2"));
}

#[test]
fn live_pysaml2_output_parses() {
    let probe = Command::new(PYTHON)
        .args(["-c", "import saml2"])
        .output()
        .unwrap_or_else(|e| panic!("{PYTHON} cannot run ({e}); setup installs python3-pysaml2"));
    assert!(
        probe.status.success(),
        "`{PYTHON} -c 'import saml2'` failed: install Debian's python3-pysaml2 (setup does)\n{}",
        String::from_utf8_lossy(&probe.stderr)
    );
    let out = tempfile::tempdir().unwrap();
    let run = Command::new(PYTHON)
        .arg(data_dir().join("gen_pysaml2.py"))
        .arg(out.path())
        .output()
        .expect("run gen_pysaml2.py");
    assert!(
        run.status.success(),
        "gen_pysaml2.py failed:\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    check_pysaml2_output(out.path());
}
