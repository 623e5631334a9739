//! Web SSO interoperability with pysaml2 (Debian's python3-pysaml2, run with /usr/bin/python3):
//!
//! * AuthnRequests made by pysaml2 (the committed fixtures of `tests/data/saml/pysaml2/`, made by
//!   `gen_pysaml2.py`) pass `check_authn_request` with pysaml2's SP metadata inside a signed
//!   federation aggregate: the enveloped-signature POST form and the query-signed Redirect form.
//! * pysaml2 as an SP accepts Responses made by `build_response` (plain and encrypted assertion;
//!   both signed), loading our IdP metadata as local metadata
//!   (`tests/data/websso/pysaml2_sp.py`), and refuses one made for another audience.

mod support;
mod websso_common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use schemas::binding::encode_post_value;
use schemas::dsig::SignatureAlgorithm;
use schemas::saml::*;
use schemas::trust::TrustStore;
use schemas::websso::*;
use support::idp_key;
use time::{Duration, OffsetDateTime};
use websso_common::*;

const PYTHON: &str = "/usr/bin/python3";
const PY_SP: &str = "https://sp.example.jp/sp";
const PY_ACS: &str = "https://sp.example.jp/acs";
const PY_IDP: &str = "https://idp.example.jp/idp";
const PY_SSO: &str = "https://idp.example.jp/sso";

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/saml/pysaml2")
}

fn fixture(name: &str) -> String {
    std::fs::read_to_string(fixtures().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn fixture_ids() -> HashMap<String, String> {
    fixture("ids.txt")
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The federation aggregate holding pysaml2's SP metadata as pysaml2 wrote it and an IdP entity
/// for pysaml2's IdP name, signed by the federation key.
fn pysaml2_trust(at: OffsetDateTime) -> TrustStore {
    let entities = vec![
        fixture("sp_metadata.xml"),
        idp_entity(PY_IDP, PY_SSO, idp_key().cert.to_der().unwrap(), false).to_xml(),
    ];
    let xml = aggregate_xml(&entities, Some(at + Duration::days(7)));
    let xml = sign_metadata(&xml, "_nabari-federation", federation());
    TrustStore::load(xml.as_bytes(), vec![federation().trusted()], at).unwrap()
}

/// The instant pysaml2 made a request (the fixtures are checked at the time they were made).
fn issue_instant(xml: &[u8]) -> OffsetDateTime {
    AuthnRequest::from_xml(xml).unwrap().header.issue_instant
}

#[test]
fn pysaml2_signed_post_authn_request_passes() {
    let xml = fixture("authn_request_signed.xml");
    let at = issue_instant(xml.as_bytes()) + Duration::seconds(2);
    let trust = pysaml2_trust(at);
    assert!(trust.sp_authn_requests_signed(PY_SP));
    let v = check_authn_request(
        AuthnRequestInput::Post(xml.as_bytes()),
        &trust,
        PY_IDP,
        PY_SSO,
        at,
    )
    .unwrap();
    assert!(v.signed);
    assert_eq!(v.sp_entity, PY_SP);
    assert_eq!(v.acs_url, PY_ACS);
    assert_eq!(v.acs_binding, bindings::HTTP_POST);
    assert_eq!(v.name_id_format, nameid_format::PERSISTENT);
    // pysaml2 sends AllowCreate="false": only an existing identifier may be released.
    assert!(!v.allow_create);
    assert!(v.check_name_id_creation(false).is_err());
    // Checked much later, it is stale.
    let late = check_authn_request(
        AuthnRequestInput::Post(xml.as_bytes()),
        &trust,
        PY_IDP,
        PY_SSO,
        at + Duration::minutes(10),
    )
    .unwrap_err();
    assert!(matches!(late.kind, ProfileErrorKind::IssueInstant { .. }));
}

#[test]
fn pysaml2_signed_redirect_authn_request_passes_and_unsigned_is_refused() {
    let ids = fixture_ids();
    let query = fixture("redirect_query.txt");
    let msg = schemas::binding::decode_redirect(query.trim(), &Default::default()).unwrap();
    let at = issue_instant(&msg.xml) + Duration::seconds(2);
    let trust = pysaml2_trust(at);
    let v = check_authn_request(
        AuthnRequestInput::RedirectQuery(query.trim()),
        &trust,
        PY_IDP,
        PY_SSO,
        at,
    )
    .unwrap();
    assert!(v.signed);
    assert_eq!(v.id, ids["redirect_request"]);
    assert_eq!(v.relay_state.as_deref(), Some("pysaml2 relay/state"));
    assert_eq!(v.acs_url, PY_ACS);

    // pysaml2's unsigned request: its metadata says AuthnRequestsSigned, so it is refused.
    let unsigned = fixture("authn_request.xml");
    let at = issue_instant(unsigned.as_bytes()) + Duration::seconds(2);
    let e = check_authn_request(
        AuthnRequestInput::Post(unsigned.as_bytes()),
        &trust,
        PY_IDP,
        PY_SSO,
        at,
    )
    .unwrap_err();
    assert!(matches!(e.kind, ProfileErrorKind::Unsigned));
    assert!(!e.can_respond());
}

const REQ: &str = "id-rust-interop-0001";

fn our_response(sp_entity: &str, encrypt: bool) -> String {
    let recipient = sp_party().recipient();
    let mut p = ResponseParams::new(
        IDP,
        sp_entity,
        PY_ACS,
        Some(REQ),
        NameId {
            value: "pw-interop-9f3e".into(),
            format: Some(nameid_format::PERSISTENT.into()),
            name_qualifier: Some(IDP.into()),
            sp_name_qualifier: Some(sp_entity.into()),
            sp_provided_id: None,
        },
        classes::JPKI_USER_AUTHENTICATION_PIN,
        now(),
    );
    p.attributes = vec![
        Attribute::uri("urn:nabari:attr:displayName", &["名張 太郎"]),
        Attribute::uri("urn:nabari:attr:municipality", &["三重県名張市"]),
        Attribute {
            name: "urn:liberty:disco:2006-08:DiscoveryEPR".into(),
            name_format: Some(attrname_format::URI.into()),
            friendly_name: None,
            values: vec![AttributeValue::Element {
                xml: r#"<wsa:EndpointReference xmlns:wsa="http://www.w3.org/2005/08/addressing"><wsa:Address>https://relay.nabari.test/disco</wsa:Address></wsa:EndpointReference>"#.into(),
                xsi_type: None,
            }],
        },
    ];
    if encrypt {
        p.encrypt_to = Some(&recipient);
    }
    build_response(&p, &idp_key().signer(SignatureAlgorithm::RsaSha256))
        .unwrap()
        .xml
}

/// One block of the script's output.
#[derive(Debug, Default)]
struct Outcome {
    ok: bool,
    error: Option<String>,
    fields: HashMap<String, String>,
    attrs: Vec<(String, String)>,
}

fn run_pysaml2_sp(responses: &[(&str, String)]) -> HashMap<String, Outcome> {
    let probe = Command::new(PYTHON).args(["-c", "import saml2"]).output();
    assert!(
        probe.as_ref().is_ok_and(|o| o.status.success()),
        "{PYTHON} cannot import saml2: install Debian's python3-pysaml2 (scripts/setup.sh does)"
    );
    let dir = tempfile::tempdir().unwrap();
    let w = |name: &str, data: &[u8]| std::fs::write(dir.path().join(name), data).unwrap();
    w(
        "idp_metadata.xml",
        idp_entity(IDP, SSO, idp_key().cert.to_der().unwrap(), false)
            .to_xml()
            .as_bytes(),
    );
    w("sp.key.pem", &sp_party().key_pem());
    w("sp.cert.pem", &sp_party().cert_pem());
    let mut files = Vec::new();
    for (name, xml) in responses {
        w(name, encode_post_value(xml.as_bytes()).as_bytes());
        files.push(dir.path().join(name));
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/websso/pysaml2_sp.py");
    let out = Command::new(PYTHON)
        .arg(script)
        .arg(dir.path())
        .args([PY_SP, PY_ACS, REQ])
        .args(&files)
        .env("PYTHONIOENCODING", "utf-8")
        .output()
        .expect("run pysaml2_sp.py");
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success(),
        "pysaml2_sp.py failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut results = HashMap::new();
    let mut current: Option<(String, Outcome)> = None;
    for line in stdout.lines() {
        let (key, rest) = line.split_once(' ').unwrap_or((line, ""));
        match key {
            "response" => current = Some((rest.to_string(), Outcome::default())),
            "end" => {
                let (name, o) = current.take().unwrap();
                results.insert(name, o);
            }
            "ok" => current.as_mut().unwrap().1.ok = true,
            "error" => current.as_mut().unwrap().1.error = Some(rest.to_string()),
            "attr" => {
                let (n, v) = rest.split_once('\t').unwrap();
                current
                    .as_mut()
                    .unwrap()
                    .1
                    .attrs
                    .push((n.to_string(), v.to_string()));
            }
            _ => {
                current
                    .as_mut()
                    .unwrap()
                    .1
                    .fields
                    .insert(key.to_string(), rest.to_string());
            }
        }
    }
    results
}

#[test]
fn pysaml2_sp_accepts_responses_from_build_response() {
    let results = run_pysaml2_sp(&[
        ("plain.b64", our_response(PY_SP, false)),
        ("encrypted.b64", our_response(PY_SP, true)),
        ("other_audience.b64", our_response(CLINIC, false)),
        (
            "tampered.b64",
            our_response(PY_SP, false).replace("pw-interop-9f3e", "pw-interop-victim"),
        ),
    ]);
    // Shown with --nocapture (and on failure).
    println!("{results:#?}");
    for name in ["plain.b64", "encrypted.b64"] {
        let o = &results[name];
        assert!(o.ok, "{name}: pysaml2 refused: {:?}", o.error);
        assert_eq!(o.fields["name_id"], "pw-interop-9f3e", "{name}");
        assert_eq!(o.fields["name_id_format"], nameid_format::PERSISTENT);
        assert_eq!(o.fields["issuer"], IDP);
        assert_eq!(
            o.fields["authn_class"],
            classes::JPKI_USER_AUTHENTICATION_PIN
        );
        let attr = |n: &str| {
            o.attrs
                .iter()
                .filter(|(a, _)| a == n)
                .map(|(_, v)| v.as_str())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            attr("urn:nabari:attr:displayName"),
            ["名張 太郎"],
            "{name}: {:?}",
            o.attrs
        );
        assert_eq!(attr("urn:nabari:attr:municipality"), ["三重県名張市"]);
        // pysaml2's attribute map is text-only: the element-valued DiscoveryEPR is present
        // (as an empty text); the portal reads it through our SP code instead.
        assert_eq!(attr("urn:liberty:disco:2006-08:DiscoveryEPR").len(), 1);
    }
    // The same IdP, the same signatures, but an assertion for another SP: pysaml2 refuses it.
    let o = &results["other_audience.b64"];
    assert!(!o.ok, "pysaml2 accepted an assertion for another audience");
    assert!(o.error.is_some());
    // An altered NameID breaks our signatures for pysaml2 (xmlsec1) too.
    let o = &results["tampered.b64"];
    assert!(!o.ok, "pysaml2 accepted a tampered Response");
}
