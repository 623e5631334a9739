//! The test federation of the IdP web tests, built once per test binary:
//!
//! * the test PKI (generated into `target/tmp/idp-web-pki`, reused while fresh);
//! * a relay database (SQLite in a temporary folder) with the residents' certificates, the
//!   renewal of card 0007 → 0008, a certificate revoked in the relay only, two cards left
//!   unregistered, and the Discovery Service as a provider;
//! * a signed federation aggregate (relay signing key = trust anchor): the IdP itself, the
//!   portal (signs requests, encryption key, POST + Artifact ACS, Redirect SLO), the clinic
//!   (PIN-less, holder-of-key DS token, SOAP SLO at a tiny test endpoint of this process), a
//!   third SP "city" (no encryption key, front-channel SLO, IdP-initiated SSO allowed) and the DS;
//! * the card agent in demo mode and the IdP, each on an ephemeral port of 127.0.0.1.
//!
//! The test plays the SPs with `schemas::websso` and the browser with `reqwest` (cookies kept by
//! hand, no redirects followed).
#![allow(dead_code)]

use std::collections::HashMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use base64::Engine;
use idp::agent::{AgentClient, AgentConfig, Kind, RunningAgent};
use idp::web::{self, Config, DsConfirmation, IdpState, RunningIdp, SpConfig};
use openssl::pkey::{PKey, Private};
use openssl::x509::X509;
use schemas::binding::{encode_redirect, MessageKind, OpensslQuerySigner, SigAlg};
use schemas::dsig::{sign_enveloped, KeySigner, SignOptions, SignatureAlgorithm, TrustedKey};
use schemas::saml::*;
use schemas::websso::{
    validate_response, MemoryReplayCache, SpContext, SsoError, ValidatedAssertion,
};
use schemas::xenc::DecryptionKeys;
use time::{Duration, OffsetDateTime};
use wsp_relay::{
    CertKey, CertKind, LocalKeyScheme, NewCertificate, NewPerson, NewProvider, PersonId,
    ResidentNumber, Store, StoreOptions,
};

pub const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

pub const CITY: &str = "https://city.nabari.test/sp";
pub const CITY_ACS: &str = "https://city.nabari.test/sp/acs";
pub const CITY_SLO: &str = "https://city.nabari.test/sp/slo";
/// The SP played by pysaml2 (web_pysaml2.rs), with the keys of the test PKI's `kouhi` entity.
pub const PYSAML2_SP: &str = "https://pysaml2.nabari.test/sp";
pub const PYSAML2_ACS: &str = "https://pysaml2.nabari.test/acs";

/// A party played by the test: entity ID, keys, endpoints.
pub struct TestSp {
    pub entity: String,
    pub acs: String,
    pub acs_artifact: Option<String>,
    pub slo: Option<String>,
    pub key: PKey<Private>,
    pub cert: X509,
    pub enc_key: Option<PKey<Private>>,
}

impl TestSp {
    pub fn signer(&self) -> KeySigner {
        KeySigner::new(
            self.key.clone(),
            SignatureAlgorithm::RsaSha256,
            Some(&self.cert),
        )
        .unwrap()
    }
}

/// Card numbers by role.
pub struct Cards {
    /// Valid, registered (general logins).
    pub a: String,
    pub b: String,
    pub c: String,
    /// Renewal test: registered old card, and its successor registered during the test.
    pub renew_old: String,
    pub renew_new: String,
    /// Valid per CRL, revoked in the relay only.
    pub relay_revoked: String,
    /// Valid, not registered in the relay.
    pub unknown: String,
    pub expired: String,
    pub not_yet_valid: String,
    pub key_compromise: String,
    pub superseded: String,
    pub renewed: String,
    pub forged: String,
}

pub struct Fixture {
    pub pki: certs::Pki,
    pub dir: tempfile::TempDir,
    pub store: Store,
    pub persons: HashMap<String, PersonId>,
    pub cards: Cards,
    pub idp_entity: String,
    pub ds_entity: String,
    pub base: String,
    pub idp: RunningIdp,
    pub agent: RunningAgent,
    pub portal: TestSp,
    pub clinic: TestSp,
    pub city: TestSp,
    pub pysaml2: TestSp,
    pub ds_enc_key: PKey<Private>,
    pub relay_key: PKey<Private>,
    pub relay_cert: X509,
    pub soap: SoapSp,
    pub aggregate_path: PathBuf,
    pub config: Config,
}

pub fn pki() -> &'static certs::Pki {
    static P: OnceLock<certs::Pki> = OnceLock::new();
    P.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("idp-web-pki");
        certs::generate(&dir, &certs::Options::default()).expect("test PKI")
    })
}

fn entity(pki: &certs::Pki, name: &str) -> certs::Entity {
    pki.manifest
        .federation
        .iter()
        .find(|e| e.name == name)
        .unwrap_or_else(|| panic!("entity {name}"))
        .clone()
}

fn key_of(e: &certs::Entity, usage: certs::KeyUse, generation: u8) -> (PKey<Private>, X509) {
    let k = e
        .keys
        .iter()
        .find(|k| {
            k.usage == usage
                && k.generation == generation
                && k.algorithm == certs::KeyAlgorithm::Rsa2048
        })
        .expect("key");
    (
        certs::read_key(&k.key_pem).unwrap(),
        certs::read_cert(&k.cert_pem).unwrap(),
    )
}

pub fn card<'a>(pki: &'a certs::Pki, number: &str) -> &'a certs::Card {
    pki.manifest
        .cards
        .iter()
        .find(|c| c.card_number == number)
        .unwrap_or_else(|| panic!("card {number}"))
}

fn resident_number(r: &certs::Resident) -> String {
    let digits: String = r.id.chars().filter(char::is_ascii_digit).collect();
    format!("1{digits:0>10}")
}

fn new_cert(c: &certs::CardCert, person: &PersonId) -> NewCertificate {
    NewCertificate {
        key: CertKey::from_hex(&c.ca_key_id, &c.serial).unwrap(),
        person: person.clone(),
        kind: match c.purpose {
            certs::Purpose::UserAuthentication => CertKind::Auth,
            certs::Purpose::Signature => CertKind::Sign,
        },
        subject_dn: c.subject.clone(),
        not_before: c.not_before.unix_timestamp(),
        not_after: c.not_after.unix_timestamp(),
    }
}

pub fn cert_key(c: &certs::CardCert) -> CertKey {
    CertKey::from_hex(&c.ca_key_id, &c.serial).unwrap()
}

/// The relay database of the tests.
fn relay(
    pki: &certs::Pki,
    dir: &Path,
    ds_entity: &str,
) -> (String, Store, HashMap<String, PersonId>, Cards) {
    let url = format!("sqlite://{}", dir.join("relay.sqlite3").display());
    let store = Store::open(&url, StoreOptions::default()).expect("relay store");
    let cards = &pki.manifest.cards;
    let by_case = |case: certs::CardCase| -> Vec<String> {
        cards
            .iter()
            .filter(|c| c.case == case)
            .map(|c| c.card_number.clone())
            .collect()
    };
    let valid = by_case(certs::CardCase::Valid);
    assert!(
        valid.len() >= 7,
        "the test PKI needs at least 7 valid cards"
    );
    let roles = Cards {
        a: valid[0].clone(),
        b: valid[1].clone(),
        c: valid[2].clone(),
        renew_old: valid[3].clone(),
        relay_revoked: valid[4].clone(),
        renew_new: valid[5].clone(),
        unknown: valid[6].clone(),
        expired: by_case(certs::CardCase::Expired)[0].clone(),
        not_yet_valid: by_case(certs::CardCase::NotYetValid)[0].clone(),
        key_compromise: by_case(certs::CardCase::KeyCompromise)[0].clone(),
        superseded: by_case(certs::CardCase::Superseded)[0].clone(),
        renewed: by_case(certs::CardCase::Renewed)[0].clone(),
        forged: by_case(certs::CardCase::Forged)[0].clone(),
    };
    let mut persons: HashMap<String, PersonId> = HashMap::new();
    for c in cards {
        if c.case == certs::CardCase::Forged
            || c.card_number == roles.unknown
            || c.card_number == roles.renew_new
        {
            continue;
        }
        let person = persons
            .entry(c.resident.id.clone())
            .or_insert_with(|| {
                store
                    .create_person(&NewPerson {
                        resident_number: ResidentNumber::parse(&resident_number(&c.resident))
                            .unwrap(),
                        household_number: None,
                        valid_from: None,
                    })
                    .unwrap()
                    .id
            })
            .clone();
        if c.case == certs::CardCase::Renewed {
            continue; // linked through the renewal feed below
        }
        store
            .add_certificate(&new_cert(&c.auth_cert, &person))
            .unwrap();
        store
            .add_certificate(&new_cert(&c.sign_cert, &person))
            .unwrap();
    }
    // Renewal feed: the superseded card's successor.
    let old = card(pki, &roles.superseded);
    let new = card(pki, &roles.renewed);
    let p = persons[&old.resident.id].clone();
    store
        .supersede_certificate(&cert_key(&old.auth_cert), &new_cert(&new.auth_cert, &p))
        .unwrap();
    store
        .supersede_certificate(&cert_key(&old.sign_cert), &new_cert(&new.sign_cert, &p))
        .unwrap();
    persons.insert(new.resident.id.clone(), p);
    // Revoked in the relay (a lost-card report) although the CRL does not list it yet.
    let rr = card(pki, &roles.relay_revoked);
    store
        .revoke_certificate(
            &cert_key(&rr.auth_cert),
            "keyCompromise",
            OffsetDateTime::now_utc().unix_timestamp(),
        )
        .unwrap();
    // The key-compromised card, as the CRL import would record it.
    let kc = card(pki, &roles.key_compromise);
    store
        .revoke_certificate(
            &cert_key(&kc.auth_cert),
            "keyCompromise",
            OffsetDateTime::now_utc().unix_timestamp(),
        )
        .unwrap();
    // The Discovery Service, whose pseudonyms are the DS token's subjects.
    store
        .register_provider(&NewProvider {
            entity_id: ds_entity.to_string(),
            name_ja: "名張市 中継データベース".into(),
            name_en: "Nabari relay".into(),
            pilot_mode: false,
            local_key_scheme: LocalKeyScheme::Other,
            metadata_xml: None,
        })
        .unwrap();
    (url, store, persons, roles)
}

fn kd(use_: Option<KeyUse>, cert: &X509) -> KeyDescriptor {
    KeyDescriptor::new(use_, cert.to_der().unwrap())
}

fn sp_descriptor(sp: &TestSp, slo: Vec<Endpoint>) -> EntityDescriptor {
    let mut sso = SsoDescriptor::saml2();
    sso.key_descriptors = vec![kd(Some(KeyUse::Signing), &sp.cert)];
    sso.single_logout_services = slo;
    sso.name_id_formats = vec![
        nameid_format::PERSISTENT.into(),
        nameid_format::TRANSIENT.into(),
    ];
    let mut acs = vec![{
        let mut e = IndexedEndpoint::new(bindings::HTTP_POST, &sp.acs, 0);
        e.is_default = Some(true);
        e
    }];
    if let Some(a) = &sp.acs_artifact {
        acs.push(IndexedEndpoint::new(bindings::HTTP_ARTIFACT, a, 1));
    }
    EntityDescriptor::new(
        &sp.entity,
        vec![Role::Sp(SpSsoDescriptor {
            sso,
            authn_requests_signed: Some(true),
            want_assertions_signed: Some(true),
            assertion_consumer_services: acs,
            attribute_consuming_services: Vec::new(),
        })],
    )
}

fn ds_entity_xml(ds: &str, signing: &X509, encryption: &X509) -> String {
    let b64 = |c: &X509| B64.encode(c.to_der().unwrap());
    format!(
        r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="{ds}"><md:RoleDescriptor xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:disco="urn:liberty:disco:2006-08" xsi:type="disco:DiscoveryServiceDescriptorType" protocolSupportEnumeration="urn:liberty:disco:2006-08"><md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor><md:KeyDescriptor use="encryption"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor></md:RoleDescriptor></md:EntityDescriptor>"#,
        b64(signing),
        b64(encryption)
    )
}

/// A signed aggregate of `entities` (serialized descriptors).
pub fn aggregate(entities: &[String], key: &PKey<Private>, cert: &X509, valid: Duration) -> String {
    let mut x = format!(
        r#"<md:EntitiesDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" ID="_nabari-federation" Name="urn:nabari:federation" validUntil="{}">"#,
        format_xs_datetime(now() + valid)
    );
    for e in entities {
        x.push_str(e.trim());
    }
    x.push_str("</md:EntitiesDescriptor>");
    let signer = KeySigner::new(key.clone(), SignatureAlgorithm::RsaSha256, Some(cert)).unwrap();
    sign_enveloped(&x, "_nabari-federation", &signer, &SignOptions::default()).unwrap()
}

pub fn now() -> OffsetDateTime {
    let t = OffsetDateTime::now_utc();
    t.replace_nanosecond(0).unwrap()
}

/// A minimal SOAP SLO endpoint of an SP: records the LogoutRequests it receives (verified with
/// the IdP's keys) and answers each with a LogoutResponse signed by the SP's key.
pub struct SoapSp {
    pub url: String,
    pub received: Arc<Mutex<Vec<LogoutRequest>>>,
    _server: std::thread::JoinHandle<()>,
}

fn start_soap_sp(
    entity: String,
    key: PKey<Private>,
    cert: X509,
    idp_keys: Arc<Mutex<Vec<TrustedKey>>>,
) -> SoapSp {
    use actix_web::{web, App, HttpResponse, HttpServer};
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/slo", listener.local_addr().unwrap());
    let received: Arc<Mutex<Vec<LogoutRequest>>> = Arc::default();
    let rec = received.clone();
    let server = std::thread::spawn(move || {
        let sys = actix_web::rt::System::new();
        sys.block_on(async move {
            let srv = HttpServer::new(move || {
                let rec = rec.clone();
                let key = key.clone();
                let cert = cert.clone();
                let entity = entity.clone();
                let idp_keys = idp_keys.clone();
                App::new().route(
                    "/slo",
                    web::post().to(move |body: web::Bytes| {
                        let rec = rec.clone();
                        let key = key.clone();
                        let cert = cert.clone();
                        let entity = entity.clone();
                        let idp_keys = idp_keys.clone();
                        async move {
                            let doc = schemas::xml::parse(&body).unwrap();
                            let env = schemas::soap::Envelope::from_document(&doc).unwrap();
                            let child = env.body_child().unwrap();
                            let keys = idp_keys.lock().unwrap().clone();
                            let v = schemas::dsig::verify_enveloped(child, &keys, &Default::default())
                                .expect("the IdP's LogoutRequest verifies");
                            let vdoc = v.document().unwrap();
                            let lr = LogoutRequest::from_element(vdoc.root()).unwrap();
                            let id = format!("_soapresp{}", rec.lock().unwrap().len());
                            let mut h = StatusResponseHeader::new(
                                id.clone(),
                                now(),
                                NameId::with_format(&entity, nameid_format::ENTITY),
                                Status::success(),
                            );
                            h.in_response_to = Some(lr.header.id.clone());
                            rec.lock().unwrap().push(lr);
                            let xml = LogoutResponse { header: h }.to_xml();
                            let signer = KeySigner::new(key, SignatureAlgorithm::RsaSha256, Some(&cert)).unwrap();
                            let signed = sign_enveloped(&xml, &id, &signer, &SignOptions::default()).unwrap();
                            HttpResponse::Ok().content_type("text/xml").body(format!(
                                "<S:Envelope xmlns:S=\"http://schemas.xmlsoap.org/soap/envelope/\"><S:Body>{signed}</S:Body></S:Envelope>"
                            ))
                        }
                    }),
                )
            })
            .workers(1)
            .listen(listener)
            .unwrap()
            .run();
            let _ = srv.await;
        });
    });
    SoapSp {
        url,
        received,
        _server: server,
    }
}

/// The IdP configuration of the tests.
pub fn idp_config(
    pki: &certs::Pki,
    dir: &Path,
    base: &str,
    relay_url: &str,
    agent_origin: &str,
    portal: &str,
    clinic: &str,
) -> Config {
    let mut c = Config {
        entity_id: entity(pki, "idp").entity_id,
        base_url: base.to_string(),
        bind: base.trim_start_matches("http://").to_string(),
        pki_dir: Some(pki.dir.clone()),
        state_dir: Some(dir.join("idp-state")),
        ..Config::default()
    };
    c.relay.database_url = Some(relay_url.to_string());
    c.agent.origin = agent_origin.to_string();
    c.rate_limits.login_per_ip.burst = 10_000;
    c.rate_limits.login_per_certificate.burst = 10_000;
    c.rate_limits.sso_per_ip.burst = 10_000;
    c.sps = vec![
        SpConfig {
            name_ja: Some("名張市 住民ポータル".into()),
            name_en: Some("Nabari Resident Portal".into()),
            purpose_ja: Some("社会保障情報の閲覧".into()),
            purpose_en: Some("Viewing your social security information".into()),
            ..SpConfig::new(portal)
        },
        SpConfig {
            name_ja: Some("医療機関 資格確認".into()),
            name_en: Some("Clinic eligibility check".into()),
            pinless: true,
            ds_confirmation: DsConfirmation::HolderOfKey,
            ..SpConfig::new(clinic)
        },
        SpConfig {
            allow_idp_initiated: true,
            ..SpConfig::new(CITY)
        },
    ];
    c.fill_from_pki().unwrap();
    c
}

/// Every log line of the process (JSON), for the tests that look at what the IdP logs.
#[derive(Clone, Default)]
pub struct LogBuf(Arc<Mutex<Vec<u8>>>);

pub struct LogWriter(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogBuf {
    type Writer = LogWriter;
    fn make_writer(&'a self) -> LogWriter {
        LogWriter(self.0.clone())
    }
}

fn log_buffer() -> &'static LogBuf {
    static L: OnceLock<LogBuf> = OnceLock::new();
    L.get_or_init(|| {
        let buf = LogBuf::default();
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("info"))
            .with_writer(buf.clone())
            .json()
            .try_init();
        buf
    })
}

/// The log lines so far.
pub fn logs() -> String {
    String::from_utf8_lossy(&log_buffer().0.lock().unwrap()).into_owned()
}

pub fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(build_fixture)
}

fn build_fixture() -> Fixture {
    log_buffer();
    let started = std::time::Instant::now();
    let pki = pki().clone();
    let dir = tempfile::tempdir().unwrap();
    let relay_e = entity(&pki, "relay");
    let ds_entity = relay_e.entity_id.clone();
    let (relay_url, store, persons, cards) = relay(&pki, dir.path(), &ds_entity);

    // The parties.
    let portal_e = entity(&pki, "portal");
    let (pk, pc) = key_of(&portal_e, certs::KeyUse::Signing, 1);
    let (pek, _) = key_of(&portal_e, certs::KeyUse::Encryption, 1);
    let portal = TestSp {
        entity: portal_e.entity_id.clone(),
        acs: format!("{}/acs", portal_e.entity_id),
        acs_artifact: Some(format!("{}/acs/artifact", portal_e.entity_id)),
        slo: Some(format!("{}/slo", portal_e.entity_id)),
        key: pk,
        cert: pc,
        enc_key: Some(pek),
    };
    let clinic_e = entity(&pki, "clinic");
    let (ck, cc) = key_of(&clinic_e, certs::KeyUse::Signing, 1);
    let (cek, clinic_enc_cert) = key_of(&clinic_e, certs::KeyUse::Encryption, 1);
    let clinic = TestSp {
        entity: clinic_e.entity_id.clone(),
        acs: format!("{}/acs", clinic_e.entity_id),
        acs_artifact: None,
        slo: None,
        key: ck,
        cert: cc,
        enc_key: Some(cek),
    };
    let health_e = entity(&pki, "health");
    let (hk, hc) = key_of(&health_e, certs::KeyUse::Signing, 1);
    let city = TestSp {
        entity: CITY.into(),
        acs: CITY_ACS.into(),
        acs_artifact: None,
        slo: Some(CITY_SLO.into()),
        key: hk,
        cert: hc,
        enc_key: None,
    };
    let kouhi_e = entity(&pki, "kouhi");
    let (yk, yc) = key_of(&kouhi_e, certs::KeyUse::Signing, 1);
    let (yek, yec) = key_of(&kouhi_e, certs::KeyUse::Encryption, 1);
    let pysaml2 = TestSp {
        entity: PYSAML2_SP.into(),
        acs: PYSAML2_ACS.into(),
        acs_artifact: None,
        slo: None,
        key: yk,
        cert: yc,
        enc_key: Some(yek),
    };
    let (relay_key, relay_cert) = key_of(&relay_e, certs::KeyUse::Signing, 1);
    let (ds_enc_key, ds_enc_cert) = key_of(&relay_e, certs::KeyUse::Encryption, 1);

    // The clinic's SOAP SLO endpoint (knows the IdP keys once they are loaded).
    let idp_keys: Arc<Mutex<Vec<TrustedKey>>> = Arc::default();
    let soap = start_soap_sp(
        clinic.entity.clone(),
        clinic.key.clone(),
        clinic.cert.clone(),
        idp_keys.clone(),
    );

    // The agent (demo mode) and the IdP's port.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let agent = idp::agent::spawn(AgentConfig {
        demo_pin_from_manifest: true,
        ..AgentConfig::virtual_cards(&pki.dir, [base.clone()])
    })
    .expect("card agent");

    let mut config = idp_config(
        &pki,
        dir.path(),
        &base,
        &relay_url,
        &agent.base_url(),
        &portal.entity,
        &clinic.entity,
    );
    let keys = web::keys::IdpKeys::load(&config).unwrap();
    *idp_keys.lock().unwrap() = keys.trusted();

    // The federation aggregate.
    let (_, portal_enc_cert) = key_of(&portal_e, certs::KeyUse::Encryption, 1);
    let mut portal_d = sp_descriptor(
        &portal,
        vec![Endpoint::new(
            bindings::HTTP_REDIRECT,
            portal.slo.as_deref().unwrap(),
        )],
    );
    if let Role::Sp(sp) = &mut portal_d.roles[0] {
        sp.sso
            .key_descriptors
            .push(kd(Some(KeyUse::Encryption), &portal_enc_cert));
    }
    let mut clinic_d = sp_descriptor(&clinic, vec![Endpoint::new(bindings::SOAP, &soap.url)]);
    if let Role::Sp(sp) = &mut clinic_d.roles[0] {
        sp.sso
            .key_descriptors
            .push(kd(Some(KeyUse::Encryption), &clinic_enc_cert));
    }
    let city_d = sp_descriptor(
        &city,
        vec![Endpoint::new(bindings::HTTP_REDIRECT, CITY_SLO)],
    );
    let mut py_d = sp_descriptor(&pysaml2, Vec::new());
    if let Role::Sp(sp) = &mut py_d.roles[0] {
        sp.sso
            .key_descriptors
            .push(kd(Some(KeyUse::Encryption), &yec));
    }
    let idp_d = web::metadata::entity_descriptor(&config, &keys, now());
    let entities = vec![
        idp_d.to_xml(),
        portal_d.to_xml(),
        clinic_d.to_xml(),
        city_d.to_xml(),
        py_d.to_xml(),
        ds_entity_xml(&ds_entity, &relay_cert, &ds_enc_cert),
    ];
    let agg = aggregate(&entities, &relay_key, &relay_cert, Duration::days(7));
    let aggregate_path = dir.path().join("federation-metadata.xml");
    std::fs::write(&aggregate_path, &agg).unwrap();
    config.metadata.aggregate = Some(aggregate_path.display().to_string());

    let state = IdpState::build(config.clone()).expect("IdP state");
    assert!(state.trust().is_some(), "the aggregate loads");
    let idp = web::spawn(state, listener).expect("IdP");
    eprintln!("fixture ready in {:.1} s", started.elapsed().as_secs_f64());
    Fixture {
        pki,
        dir,
        store,
        persons,
        cards,
        idp_entity: config.entity_id.clone(),
        ds_entity,
        base,
        idp,
        agent,
        portal,
        clinic,
        city,
        pysaml2,
        ds_enc_key,
        relay_key,
        relay_cert,
        soap,
        aggregate_path,
        config,
    }
}

impl Fixture {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn sso(&self) -> String {
        self.url("/sso")
    }

    pub fn idp_keys(&self) -> Vec<TrustedKey> {
        self.idp.state().keys.trusted()
    }

    pub fn agent_client(&self) -> AgentClient {
        AgentClient::new(self.agent.base_url(), self.base.clone())
    }

    pub fn person_of_card(&self, number: &str) -> PersonId {
        self.persons[&card(&self.pki, number).resident.id].clone()
    }
}

// ---- the SP side ---------------------------------------------------------------------------

/// An AuthnRequest of `sp` to the IdP at `sso`: POST ACS by URL, persistent, AllowCreate.
pub fn authn_request(sp: &TestSp, sso: &str) -> AuthnRequest {
    let id = schemas::websso::new_id();
    let mut header = RequestHeader::new(
        id,
        now(),
        NameId::with_format(&sp.entity, nameid_format::ENTITY),
    );
    header.destination = Some(sso.to_string());
    let mut r = AuthnRequest::new(header);
    r.assertion_consumer_service_url = Some(sp.acs.clone());
    r.protocol_binding = Some(bindings::HTTP_POST.into());
    r.name_id_policy = Some(NameIdPolicy {
        format: Some(nameid_format::PERSISTENT.into()),
        sp_name_qualifier: None,
        allow_create: Some(true),
    });
    r
}

/// The query string of a signed Redirect request.
pub fn redirect_query(xml: &str, key: &PKey<Private>, relay: Option<&str>) -> String {
    let signer = OpensslQuerySigner::new(key.clone(), SigAlg::RsaSha256).unwrap();
    encode_redirect(MessageKind::Request, xml.as_bytes(), relay, Some(&signer)).unwrap()
}

pub fn unsigned_redirect_query(xml: &str) -> String {
    encode_redirect(MessageKind::Request, xml.as_bytes(), None, None).unwrap()
}

/// The enveloped-signed XML of a request.
pub fn signed_xml(xml: &str, id: &str, sp: &TestSp) -> String {
    sign_enveloped(xml, id, &sp.signer(), &SignOptions::default()).unwrap()
}

/// Validates a Response at `sp`.
pub fn validate(
    fx: &Fixture,
    sp: &TestSp,
    xml: &[u8],
    in_response_to: Option<&str>,
) -> Result<ValidatedAssertion, SsoError> {
    let keys = fx.idp_keys();
    let replay = MemoryReplayCache::new();
    let dec = sp
        .enc_key
        .as_ref()
        .map(|k| DecryptionKeys::new(vec![k.clone()]));
    let mut ctx = SpContext::new(&sp.entity, &sp.acs, &fx.idp_entity, &keys, &replay, now());
    ctx.decryption_keys = dec.as_ref();
    ctx.expected_in_response_to = in_response_to;
    ctx.allow_unsolicited = in_response_to.is_none();
    validate_response(xml, &ctx)
}

/// The top and second-level status of a Response (signature checked by `validate`).
pub fn status_of(xml: &[u8]) -> (String, Option<String>) {
    let r = Response::from_xml(xml).expect("a Response");
    (
        r.header.status.code.value.clone(),
        r.header.status.second_level().map(str::to_string),
    )
}

// ---- the browser ---------------------------------------------------------------------------

/// An HTTP answer.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub location: Option<String>,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Resp {
    /// A hidden form value of the page.
    pub fn form_value(&self, name: &str) -> Option<String> {
        attr_after(&self.body, &format!("name=\"{name}\" value=\""))
    }

    /// The decoded SAMLResponse of an auto-POST page.
    pub fn saml_response(&self) -> Option<Vec<u8>> {
        self.form_value("SAMLResponse")
            .map(|v| B64.decode(v).expect("base64"))
    }

    /// `data-result` of a message page.
    pub fn result_code(&self) -> Option<String> {
        attr_after(&self.body, "data-result=\"")
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    }
}

/// The (HTML-unescaped) attribute value following `prefix`.
pub fn attr_after(html: &str, prefix: &str) -> Option<String> {
    let start = html.find(prefix)? + prefix.len();
    let end = html[start..].find('"')? + start;
    Some(unescape(&html[start..end]))
}

pub fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let Some(end) = rest.find(';') else {
            break;
        };
        let ent = &rest[1..end];
        let ch = match ent {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ if ent.starts_with("#x") || ent.starts_with("#X") => {
                u32::from_str_radix(&ent[2..], 16)
                    .ok()
                    .and_then(char::from_u32)
            }
            _ if ent.starts_with('#') => ent[1..].parse::<u32>().ok().and_then(char::from_u32),
            _ => None,
        };
        match ch {
            Some(c) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// A browser: no redirects followed, cookies kept by hand (the IdP's cookie is `Secure`, which
/// a client would refuse to send over `http://127.0.0.1` — a browser treats loopback as secure).
pub struct Browser {
    client: reqwest::Client,
    cookies: Mutex<HashMap<String, String>>,
    pub base: String,
}

impl Browser {
    pub fn new(base: &str) -> Browser {
        Browser {
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookies: Mutex::default(),
            base: base.to_string(),
        }
    }

    fn abs(&self, url: &str) -> String {
        if url.starts_with("http") {
            url.to_string()
        } else {
            format!("{}{}", self.base, url)
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .lock()
            .unwrap()
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    pub fn cookie(&self, name: &str) -> Option<String> {
        self.cookies.lock().unwrap().get(name).cloned()
    }

    pub fn forget_cookies(&self) {
        self.cookies.lock().unwrap().clear();
    }

    async fn finish(&self, r: reqwest::Response) -> Resp {
        for v in r.headers().get_all(reqwest::header::SET_COOKIE) {
            let v = v.to_str().unwrap();
            let first = v.split(';').next().unwrap();
            let (k, val) = first.split_once('=').unwrap();
            let mut jar = self.cookies.lock().unwrap();
            if val.is_empty() || v.contains("Max-Age=0") {
                jar.remove(k);
            } else {
                jar.insert(k.to_string(), val.to_string());
            }
        }
        Resp {
            status: r.status().as_u16(),
            location: r
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string),
            headers: r.headers().clone(),
            body: r.text().await.unwrap(),
        }
    }

    pub async fn get(&self, url: &str) -> Resp {
        let r = self
            .client
            .get(self.abs(url))
            .header(reqwest::header::COOKIE, self.cookie_header())
            .send()
            .await
            .unwrap();
        self.finish(r).await
    }

    pub async fn post_form(&self, url: &str, pairs: &[(&str, &str)]) -> Resp {
        let r = self
            .client
            .post(self.abs(url))
            .header(reqwest::header::COOKIE, self.cookie_header())
            .form(pairs)
            .send()
            .await
            .unwrap();
        self.finish(r).await
    }

    /// A POST without the session cookie (a cross-site form post under SameSite=Lax).
    pub async fn post_form_cross_site(&self, url: &str, pairs: &[(&str, &str)]) -> Resp {
        let r = self
            .client
            .post(self.abs(url))
            .form(pairs)
            .send()
            .await
            .unwrap();
        self.finish(r).await
    }

    pub async fn post_raw(&self, url: &str, content_type: &str, body: String) -> Resp {
        let r = self
            .client
            .post(self.abs(url))
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        self.finish(r).await
    }
}

/// What the login page offers.
#[derive(Debug, Clone)]
pub struct LoginPage {
    pub tx: String,
    pub csrf: String,
    pub nonce: String,
    pub kind: String,
    pub challenge: String,
    pub html: String,
}

pub async fn open_login(b: &Browser, location: &str) -> LoginPage {
    let page = b.get(location).await;
    assert_eq!(page.status, 200, "login page: {}", page.body);
    assert!(page
        .header("content-security-policy")
        .unwrap()
        .contains("'nonce-"));
    LoginPage {
        tx: page.form_value("tx").expect("tx"),
        csrf: page.form_value("csrf").expect("csrf"),
        nonce: page.form_value("nonce").expect("nonce"),
        kind: page.form_value("kind").expect("kind"),
        challenge: attr_after(&page.body, "data-challenge=\"").expect("challenge"),
        html: page.body,
    }
}

/// Has the card sign the page's text through the agent and posts the result.
pub async fn sign_and_submit(fx: &Fixture, b: &Browser, page: &LoginPage, card: &str) -> Resp {
    let kind = Kind::parse(&page.kind).unwrap();
    let sig = fx
        .agent_client()
        .sign_and_wait(card, kind, &page.challenge, None)
        .await
        .expect("agent signature");
    let s = B64.encode(&sig.signature);
    let c = B64.encode(&sig.certificate);
    b.post_form(
        "/login",
        &[
            ("tx", &page.tx),
            ("csrf", &page.csrf),
            ("kind", &page.kind),
            ("nonce", &page.nonce),
            ("signature", &s),
            ("certificate", &c),
        ],
    )
    .await
}

/// SP-initiated login over Redirect with `card`: the final answer (auto-POST page, artifact
/// redirect or message page) and the request ID.
pub async fn login_redirect(
    fx: &Fixture,
    b: &Browser,
    sp: &TestSp,
    card: &str,
    req: Option<AuthnRequest>,
    kind: Option<&str>,
) -> (Resp, String) {
    let req = req.unwrap_or_else(|| authn_request(sp, &fx.sso()));
    let id = req.header.id.clone();
    let q = redirect_query(&req.to_xml(), &sp.key, Some("relay-1"));
    let r = b.get(&format!("/sso?{q}")).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let mut location = r.location.clone().unwrap();
    assert!(location.starts_with("/login?tx="), "{location}");
    if let Some(k) = kind {
        location.push_str(&format!("&kind={k}"));
    }
    let page = open_login(b, &location).await;
    (sign_and_submit(fx, b, &page, card).await, id)
}
