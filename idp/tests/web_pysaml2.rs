//! Interop: pysaml2 (Debian's python3-pysaml2, run with /usr/bin/python3) as the SP against the
//! running IdP, over HTTP-Redirect (query-signed request) and HTTP-POST (enveloped-signed
//! request). pysaml2 makes the AuthnRequest from the IdP's published metadata, the login goes
//! through the card agent in demo mode, and pysaml2 parses the Response (signed, encrypted to
//! its key) and reports the NameID, the issuer, the AuthnContext and the attributes.

mod web_support;

use std::collections::HashMap;
use std::process::Command;

use schemas::saml::nameid_format;
use schemas::websso::classes;
use web_support::*;

const PYTHON: &str = "/usr/bin/python3";

const SCRIPT: &str = r#"
import base64, os, sys
from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.client import Saml2Client
from saml2.config import SPConfig
from saml2.saml import NAMEID_FORMAT_PERSISTENT
from saml2.xmldsig import SIG_RSA_SHA256, DIGEST_SHA256

def client(w):
    conf = {
        "entityid": os.environ["PY_SP"],
        "key_file": os.path.join(w, "sp.key.pem"),
        "cert_file": os.path.join(w, "sp.cert.pem"),
        "encryption_keypairs": [{"key_file": os.path.join(w, "enc.key.pem"),
                                 "cert_file": os.path.join(w, "enc.cert.pem")}],
        "xmlsec_binary": "/usr/bin/xmlsec1",
        "metadata": {"local": [os.path.join(w, "idp_metadata.xml")]},
        "allow_unknown_attributes": True,
        "service": {"sp": {
            "endpoints": {"assertion_consumer_service": [(os.environ["PY_ACS"], BINDING_HTTP_POST)]},
            "want_response_signed": True,
            "want_assertions_signed": True,
            "allow_unsolicited": False,
            "authn_requests_signed": True,
        }},
    }
    return Saml2Client(SPConfig().load(conf))

w, cmd = sys.argv[1], sys.argv[2]
sp = client(w)
sso = os.environ["IDP_SSO"]
if cmd == "redirect":
    req_id, req = sp.create_authn_request(sso, binding=BINDING_HTTP_POST,
        nameid_format=NAMEID_FORMAT_PERSISTENT, sign=False, allow_create="true")
    info = sp.apply_binding(BINDING_HTTP_REDIRECT, str(req), sso, relay_state="py-relay",
                            sign=True, sigalg=SIG_RSA_SHA256)
    print("id", req_id)
    print("location", dict(info["headers"])["Location"])
elif cmd == "post":
    req_id, req = sp.create_authn_request(sso, binding=BINDING_HTTP_POST,
        nameid_format=NAMEID_FORMAT_PERSISTENT, sign=True, sign_alg=SIG_RSA_SHA256,
        digest_alg=DIGEST_SHA256, allow_create="true")
    print("id", req_id)
    print("form", base64.b64encode(str(req).encode()).decode())
elif cmd == "response":
    req_id, name = sys.argv[3], sys.argv[4]
    with open(name) as f:
        b64 = f.read().strip()
    try:
        resp = sp.parse_authn_request_response(b64, BINDING_HTTP_POST, outstanding={req_id: "/"})
        if resp is None:
            raise ValueError("no response")
    except Exception as e:
        print("error", type(e).__name__ + ":", str(e).replace("\n", " ")[:400])
        sys.exit(0)
    print("ok")
    print("name_id", resp.name_id.text)
    print("name_id_format", resp.name_id.format)
    print("issuer", resp.issuer())
    for ctx, _a, _i in resp.authn_info():
        print("authn_class", ctx)
    for attr in sorted(resp.ava):
        print("attr", attr)
"#;

struct Py {
    dir: tempfile::TempDir,
}

impl Py {
    fn new(fx: &Fixture, idp_metadata: &str) -> Py {
        let probe = Command::new(PYTHON).args(["-c", "import saml2"]).output();
        assert!(
            probe.as_ref().is_ok_and(|o| o.status.success()),
            "{PYTHON} cannot import saml2: install Debian's python3-pysaml2 (scripts/setup.sh does)"
        );
        let dir = tempfile::tempdir().unwrap();
        let w = |name: &str, data: &[u8]| std::fs::write(dir.path().join(name), data).unwrap();
        w("script.py", SCRIPT.as_bytes());
        w("idp_metadata.xml", idp_metadata.as_bytes());
        let sp = &fx.pysaml2;
        w("sp.key.pem", &sp.key.private_key_to_pem_pkcs8().unwrap());
        w("sp.cert.pem", &sp.cert.to_pem().unwrap());
        let kouhi = fx
            .pki
            .manifest
            .federation
            .iter()
            .find(|e| e.name == "kouhi")
            .unwrap();
        let enc = kouhi
            .keys
            .iter()
            .find(|k| k.usage == certs::KeyUse::Encryption && k.generation == 1)
            .unwrap();
        w("enc.key.pem", &std::fs::read(&enc.key_pem).unwrap());
        w("enc.cert.pem", &std::fs::read(&enc.cert_pem).unwrap());
        Py { dir }
    }

    fn run(&self, fx: &Fixture, args: &[&str]) -> HashMap<String, Vec<String>> {
        let out = Command::new(PYTHON)
            .arg(self.dir.path().join("script.py"))
            .arg(self.dir.path())
            .args(args)
            .env("PY_SP", PYSAML2_SP)
            .env("PY_ACS", PYSAML2_ACS)
            .env("IDP_SSO", fx.sso())
            .env("PYTHONIOENCODING", "utf-8")
            .output()
            .expect("run pysaml2");
        let stdout = String::from_utf8(out.stdout).unwrap();
        assert!(
            out.status.success(),
            "pysaml2 failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut m: HashMap<String, Vec<String>> = HashMap::new();
        for line in stdout.lines() {
            let (k, v) = line.split_once(' ').unwrap_or((line, ""));
            m.entry(k.to_string()).or_default().push(v.to_string());
        }
        m
    }

    fn response(
        &self,
        fx: &Fixture,
        request_id: &str,
        saml_response: &[u8],
    ) -> HashMap<String, Vec<String>> {
        let file = self.dir.path().join(format!("{request_id}.b64"));
        std::fs::write(&file, B64_ENGINE.encode(saml_response)).unwrap();
        self.run(fx, &["response", request_id, file.to_str().unwrap()])
    }
}

use base64::Engine;
const B64_ENGINE: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

fn check_accepted(fx: &Fixture, out: &HashMap<String, Vec<String>>) -> String {
    assert!(
        out.contains_key("ok"),
        "pysaml2 refused the Response: {out:?}"
    );
    assert_eq!(
        out["name_id_format"],
        vec![nameid_format::PERSISTENT.to_string()]
    );
    assert_eq!(out["issuer"], vec![fx.idp_entity.clone()]);
    assert_eq!(
        out["authn_class"],
        vec![classes::JPKI_USER_AUTHENTICATION_PIN.to_string()]
    );
    assert!(
        out["attr"]
            .iter()
            .any(|a| a == "urn:liberty:disco:2006-08:DiscoveryEPR"),
        "{out:?}"
    );
    out["name_id"][0].clone()
}

#[tokio::test]
async fn pysaml2_sp_over_redirect_and_post() {
    let fx = fixture();
    let b = Browser::new(&fx.base);
    let metadata = b.get("/metadata").await.body;
    let py = Py::new(fx, &metadata);

    // HTTP-Redirect, query-signed by pysaml2.
    let out = py.run(fx, &["redirect"]);
    let id = out["id"][0].clone();
    let location = out["location"][0].clone();
    assert!(location.starts_with(&fx.sso()), "{location}");
    let query = location.split_once('?').unwrap().1;
    let r = b.get(&format!("/sso?{query}")).await;
    assert_eq!(
        r.status, 303,
        "the IdP accepts pysaml2's request: {}",
        r.body
    );
    let page = open_login(&b, &r.location.unwrap()).await;
    let r = sign_and_submit(fx, &b, &page, &fx.cards.a).await;
    assert!(r.body.contains(&format!("action=\"{PYSAML2_ACS}\"")));
    assert_eq!(r.form_value("RelayState").as_deref(), Some("py-relay"));
    let first = check_accepted(fx, &py.response(fx, &id, &r.saml_response().unwrap()));

    // HTTP-POST, enveloped-signed by pysaml2, in a new browser: the same pairwise NameID.
    let out = py.run(fx, &["post"]);
    let id = out["id"][0].clone();
    let form = out["form"][0].clone();
    let b = Browser::new(&fx.base);
    let r = b
        .post_form_cross_site("/sso", &[("SAMLRequest", &form)])
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let r = b.get(&r.location.unwrap()).await;
    assert_eq!(r.status, 303);
    let page = open_login(&b, &r.location.unwrap()).await;
    let r = sign_and_submit(fx, &b, &page, &fx.cards.a).await;
    let second = check_accepted(fx, &py.response(fx, &id, &r.saml_response().unwrap()));
    assert_eq!(first, second, "pairwise NameID stable across logins");

    // A Response for another request ID: pysaml2 refuses it.
    let out = py.response(fx, "id-not-outstanding", &r.saml_response().unwrap());
    assert!(out.contains_key("error"), "{out:?}");
}
