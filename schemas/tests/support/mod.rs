//! Shared fixtures of the XML-security tests: keys, a realistic assertion, and the libxmlsec1 /
//! libxml2 oracles (the `xmlsec1` and `xmllint` programs).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use openssl::asn1::Asn1Time;
use openssl::bn::BigNum;
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::x509::{X509Builder, X509NameBuilder, X509};
use schemas::dsig::{KeySigner, SignOptions, SignatureAlgorithm, TrustedKey};

pub struct TestKey {
    pub key: PKey<Private>,
    pub cert: X509,
    pub dir: PathBuf,
    pub key_pem: PathBuf,
    pub cert_pem: PathBuf,
}

impl TestKey {
    pub fn trusted(&self) -> TrustedKey {
        TrustedKey::from_certificate(&self.cert).unwrap()
    }

    pub fn signer(&self, alg: SignatureAlgorithm) -> KeySigner {
        KeySigner::new(self.key.clone(), alg, Some(&self.cert)).unwrap()
    }
}

/// A self-signed certificate for `key`, valid for a year from today (a metadata-style key container).
pub fn self_signed_certificate(name: &str, key: &PKey<Private>) -> X509 {
    let mut nb = X509NameBuilder::new().unwrap();
    nb.append_entry_by_nid(Nid::COMMONNAME, name).unwrap();
    let subject = nb.build();
    let mut b = X509Builder::new().unwrap();
    b.set_version(2).unwrap();
    b.set_serial_number(&BigNum::from_u32(1).unwrap().to_asn1_integer().unwrap())
        .unwrap();
    b.set_subject_name(&subject).unwrap();
    b.set_issuer_name(&subject).unwrap();
    b.set_pubkey(key).unwrap();
    b.set_not_before(&Asn1Time::days_from_now(0).unwrap())
        .unwrap();
    b.set_not_after(&Asn1Time::days_from_now(365).unwrap())
        .unwrap();
    b.sign(key, MessageDigest::sha256()).unwrap();
    b.build()
}

fn make_key(name: &str, key: PKey<Private>) -> TestKey {
    let cert = self_signed_certificate(name, &key);
    let dir = std::env::temp_dir().join(format!("schemas-test-keys-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let key_pem = dir.join(format!("{name}.key.pem"));
    let cert_pem = dir.join(format!("{name}.cert.pem"));
    std::fs::write(&key_pem, key.private_key_to_pem_pkcs8().unwrap()).unwrap();
    std::fs::write(&cert_pem, cert.to_pem().unwrap()).unwrap();
    TestKey {
        key,
        cert,
        dir,
        key_pem,
        cert_pem,
    }
}

/// The IdP's RSA-2048 key (made once per test binary).
pub fn idp_key() -> &'static TestKey {
    static K: OnceLock<TestKey> = OnceLock::new();
    K.get_or_init(|| make_key("idp", PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap()))
}

/// An attacker's RSA key.
pub fn attacker_key() -> &'static TestKey {
    static K: OnceLock<TestKey> = OnceLock::new();
    K.get_or_init(|| {
        make_key(
            "attacker",
            PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap(),
        )
    })
}

/// A P-256 key.
pub fn ec_key() -> &'static TestKey {
    static K: OnceLock<TestKey> = OnceLock::new();
    K.get_or_init(|| {
        let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
        make_key(
            "ec",
            PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap(),
        )
    })
}

pub const SAML: &str = "urn:oasis:names:tc:SAML:2.0:assertion";

/// A realistic 4–5 KB assertion of the federation (12 attributes, the DiscoveryEPR shape aside).
pub fn assertion(id: &str, name_id: &str) -> String {
    let mut attrs = String::new();
    for (i, (name, value)) in [
        ("urn:nabari:attr:displayName", "名張 太郎"),
        ("urn:nabari:attr:municipality", "三重県名張市"),
        ("urn:nabari:attr:authnMethod", "jpki-user-authentication"),
        ("urn:nabari:attr:cardKind", "my-number-card"),
        ("urn:nabari:attr:assurance", "high"),
        ("urn:nabari:attr:locale", "ja-JP"),
        ("urn:nabari:attr:portalRole", "resident"),
        ("urn:nabari:attr:consent", "dashboard"),
        ("urn:nabari:attr:session", "interactive"),
        ("urn:nabari:attr:channel", "browser"),
        ("urn:nabari:attr:terminal", "home"),
        ("urn:nabari:attr:notice", "unread:3"),
    ]
    .iter()
    .enumerate()
    {
        attrs.push_str(&format!(
            r#"<saml:Attribute Name="{name}" NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:uri" FriendlyName="attr{i}"><saml:AttributeValue xsi:type="xs:string">{value}</saml:AttributeValue></saml:Attribute>"#
        ));
    }
    format!(
        r#"<saml:Assertion xmlns:saml="{SAML}" xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" ID="{id}" IssueInstant="2026-11-22T03:00:00Z" Version="2.0"><saml:Issuer>https://idp.nabari.test/idp</saml:Issuer><saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent" NameQualifier="https://idp.nabari.test/idp" SPNameQualifier="https://portal.nabari.test/sp">{name_id}</saml:NameID><saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData InResponseTo="_req-8f1c2a" NotOnOrAfter="2026-11-22T03:05:00Z" Recipient="https://portal.nabari.test/sp/acs"/></saml:SubjectConfirmation></saml:Subject><saml:Conditions NotBefore="2026-11-22T02:59:00Z" NotOnOrAfter="2026-11-22T03:05:00Z"><saml:AudienceRestriction><saml:Audience>https://portal.nabari.test/sp</saml:Audience></saml:AudienceRestriction></saml:Conditions><saml:AuthnStatement AuthnInstant="2026-11-22T03:00:00Z" SessionIndex="_sess-41d9"><saml:AuthnContext><saml:AuthnContextClassRef>urn:nabari:ac:jpki:user-authentication:pin</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement><saml:AttributeStatement>{attrs}</saml:AttributeStatement></saml:Assertion>"#
    )
}

/// A Response holding `assertion_xml`.
pub fn response(id: &str, assertion_xml: &str) -> String {
    format!(
        r#"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="{SAML}" ID="{id}" InResponseTo="_req-8f1c2a" IssueInstant="2026-11-22T03:00:00Z" Destination="https://portal.nabari.test/sp/acs" Version="2.0"><saml:Issuer>https://idp.nabari.test/idp</saml:Issuer><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>{assertion_xml}</samlp:Response>"#
    )
}

pub fn sign(xml: &str, id: &str, key: &TestKey) -> String {
    schemas::dsig::sign_enveloped(
        xml,
        id,
        &key.signer(SignatureAlgorithm::RsaSha256),
        &SignOptions::default(),
    )
    .unwrap()
}

pub fn tmp_file(name: &str, content: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("schemas-tests-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, content).unwrap();
    p
}

fn require(program: &str) {
    let ok = Command::new(program).arg("--version").output().is_ok();
    assert!(ok, "{program} is missing: run scripts/setup.sh");
}

/// Whether libxmlsec1 verifies the signature of the element `element_name` with ID attribute
/// `ID` in `file` with the public key of `cert_pem`.
pub fn xmlsec1_verifies(
    file: &Path,
    cert_pem: &Path,
    id_attr: &str,
    element_name: &str,
    node_id: Option<&str>,
) -> bool {
    require("xmlsec1");
    let mut cmd = Command::new("xmlsec1");
    cmd.arg("--verify")
        .arg("--pubkey-cert-pem")
        .arg(cert_pem)
        .arg(format!("--id-attr:{id_attr}"))
        .arg(element_name)
        .arg("--enabled-reference-uris")
        .arg("same-doc");
    if let Some(id) = node_id {
        cmd.arg("--node-id").arg(id);
    }
    let out = cmd.arg(file).output().unwrap();
    out.status.success()
}

/// libxml2's exclusive canonicalization of a whole document (`xmllint --exc-c14n`).
pub fn xmllint_exc_c14n(file: &Path) -> Vec<u8> {
    require("xmllint");
    let out = Command::new("xmllint")
        .arg("--exc-c14n")
        .arg(file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "xmllint failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// A small deterministic generator (xorshift) so corpora are the same on every run.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}
