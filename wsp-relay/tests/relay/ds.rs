//! The Discovery Service end to end over the store, with the test PKI's federation keys: the
//! IdP mints a DS token, the portal / clinic query the DS, the DS mints per-WSP tokens that each
//! WSP (and only that WSP) accepts; refusals, faults and records.

use std::sync::Arc;

use openssl::pkey::{PKey, Private};
use openssl::x509::X509;
use schemas::dsig::{KeySigner, SignatureAlgorithm, Signer, TrustedKey};
use schemas::idwsf::disco::{
    action, Options, Query, QueryResponse, RequestedService, SvcMDAssociationAdd,
    SvcMDAssociationAddResponse,
};
use schemas::idwsf::{code, secmech, service_type, IdwsfXml, SamlToken};
use schemas::wsf::{
    build_request, mint_token, validate_request, validate_response, Confirmation,
    InMemoryMessageIdCache, RequestParams, ResponseExpectations, ServerContext, StaticPeers,
    TokenParams, TrustedIssuer, WsfError,
};
use schemas::xenc::{DecryptionKeys, Recipient};
use time::{Duration, OffsetDateTime};
use wsp_relay::ds::{DiscoveryService, DsConfig, DsOutcome, KnownWsc, TransportInfo};
use wsp_relay::policy::authn_context;
use wsp_relay::{
    LocalKeyScheme, NewProvider, NewRule, NewService, Outcome, Person, Provider, ProviderStatus,
    Pseudonym, Store,
};

use crate::both_backends;
use crate::common::{pki, TestDb};
use crate::store::person;

both_backends!(
    query_returns_one_token_per_allowed_wsp_each_valid_only_there,
    clinic_query_for_pension_is_forbidden_and_recorded,
    unknown_service_type_gives_no_results,
    bad_ds_tokens_are_faults_and_disclose_nothing,
    replayed_message_id_is_duplicate_msg,
    associations_cannot_be_added_by_a_wsc,
    http_post_ds_answers_text_xml,
    wsp_queries_its_own_service_metadata,
    store_failure_is_a_failed_fault,
    association_query_lists_the_linked_services,
);

const DS_ENDPOINT: &str = "https://relay.nabari.test/ds";
const PENSION_ENDPOINT: &str = "https://pension.nabari.test/wsp/soap";
const KENPO_ENDPOINT: &str = "https://kenpo.nabari.test/wsp/soap";
const PENSION_ACTION: &str = "urn:nabari:idwsf:svc:pension:2010:Query";
const HI_ACTION: &str = "urn:nabari:idwsf:svc:hi-eligibility:2010:Query";

fn entity_id(name: &str) -> String {
    pki()
        .manifest
        .federation
        .iter()
        .find(|e| e.name == name)
        .unwrap_or_else(|| panic!("no entity {name}"))
        .entity_id
        .clone()
}

fn cert(name: &str, file: &str) -> X509 {
    certs::read_cert(&pki().dir.join(format!("federation/{name}/{file}.crt.pem"))).expect("cert")
}

fn key(name: &str, file: &str) -> PKey<Private> {
    certs::read_key(&pki().dir.join(format!("federation/{name}/{file}.key.pem"))).expect("key")
}

fn signer(name: &str, file: &str) -> KeySigner {
    let k = key(name, file);
    let alg = if k.id() == openssl::pkey::Id::EC {
        SignatureAlgorithm::EcdsaSha256
    } else {
        SignatureAlgorithm::RsaSha256
    };
    KeySigner::new(k, alg, Some(&cert(name, file))).expect("signer")
}

fn trusted(name: &str, file: &str) -> TrustedKey {
    TrustedKey::from_certificate(&cert(name, file)).expect("trusted")
}

fn b64(c: &X509) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(c.to_der().expect("der"))
}

/// SAML metadata of a WSP: signing and encryption keys in a RoleDescriptor, and the signing
/// methods it supports.
fn wsp_metadata(name: &str, ecdsa: bool) -> String {
    let alg = if ecdsa {
        r#"<md:Extensions><alg:SigningMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"/><alg:SigningMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/></md:Extensions>"#
    } else {
        r#"<md:Extensions><alg:SigningMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/></md:Extensions>"#
    };
    let kd = |use_: &str, c: &X509| {
        format!(
            r#"<md:KeyDescriptor use="{use_}"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"#,
            b64(c)
        )
    };
    format!(
        r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" xmlns:alg="urn:oasis:names:tc:SAML:metadata:algsupport" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" entityID="{}">{alg}<md:RoleDescriptor xsi:type="md:RoleDescriptorType" protocolSupportEnumeration="urn:liberty:disco:2006-08">{}{}</md:RoleDescriptor></md:EntityDescriptor>"#,
        entity_id(name),
        kd("signing", &cert(name, "signing-1")),
        kd("encryption", &cert(name, "encryption-1")),
    )
}

fn provider(store: &Store, name: &str, metadata: Option<String>) -> Provider {
    let p = store
        .register_provider(&NewProvider {
            entity_id: entity_id(name),
            name_ja: format!("{name} 事業者"),
            name_en: name.to_string(),
            pilot_mode: false,
            local_key_scheme: LocalKeyScheme::EmployeeHealthInsurance,
            metadata_xml: metadata,
        })
        .expect("register");
    store
        .set_provider_status(&p.id, ProviderStatus::Approved)
        .expect("approve")
}

fn service(store: &Store, p: &Provider, st: &str, endpoint: &str, mech: &str) {
    store
        .add_provider_service(
            &p.id,
            &NewService {
                service_type: st.into(),
                endpoint: endpoint.into(),
                security_mechs: vec![mech.into()],
                abstract_text: Some(format!("{st} at {}", p.entity_id)),
                svc_md_xml: None,
            },
        )
        .expect("service");
}

fn rule(store: &Store, requester: &str, purpose: &str, st: &str, dc: &str, min: &str) {
    store
        .add_policy_rule(&NewRule {
            requester: requester.into(),
            purpose: purpose.into(),
            service_type: st.into(),
            data_class: dc.into(),
            min_authn_context: min.into(),
            allow: true,
            note: None,
        })
        .expect("rule");
}

/// The federation as the DS sees it.
struct Fed {
    ds: DiscoveryService,
    person: Person,
    ds_pseudonym: Pseudonym,
    pension: Provider,
    kenpo: Provider,
}

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc().replace_nanosecond(0).unwrap()
}

fn setup(db: &TestDb) -> Fed {
    let store = db.store();
    let relay = provider(store, "relay", None);
    // Pension advertises ECDSA (its tokens are signed with the DS's P-256 key); kenpo RSA only.
    let pension = provider(store, "pension", Some(wsp_metadata("pension", true)));
    let kenpo = provider(store, "kenpo", Some(wsp_metadata("kenpo", false)));
    // Approved, but the person is not linked to it.
    let kokuho = provider(store, "kokuho", Some(wsp_metadata("kokuho", false)));
    service(
        store,
        &pension,
        service_type::PENSION,
        PENSION_ENDPOINT,
        secmech::TLS_BEARER,
    );
    service(
        store,
        &kenpo,
        service_type::HI_ELIGIBILITY,
        KENPO_ENDPOINT,
        secmech::TLS_SAMLV2,
    );
    service(
        store,
        &kokuho,
        service_type::HI_ELIGIBILITY,
        "https://kokuho.nabari.test/wsp/soap",
        secmech::TLS_BEARER,
    );
    let portal = entity_id("portal");
    let clinic = entity_id("clinic");
    let pin = authn_context::USER_AUTHENTICATION_PIN;
    rule(
        store,
        &portal,
        "dashboard",
        service_type::PENSION,
        "pension-record",
        pin,
    );
    rule(
        store,
        &portal,
        "dashboard",
        service_type::HI_ELIGIBILITY,
        "hi-eligibility",
        pin,
    );
    rule(
        store,
        &clinic,
        "eligibility",
        service_type::ELIGIBILITY_CHECK,
        "eligibility-result",
        authn_context::PINLESS_ATTESTED,
    );
    let person = person(store, "10000000042");
    let ds_pseudonym = store
        .pseudonym_for(&person.id, &relay.id)
        .expect("ds pseudonym");
    store.pseudonym_for(&person.id, &pension.id).expect("link");
    store.pseudonym_for(&person.id, &kenpo.id).expect("link");

    let config = DsConfig {
        entity_id: entity_id("relay"),
        endpoint_url: DS_ENDPOINT.into(),
        idp: TrustedIssuer::new(entity_id("idp"), vec![trusted("idp", "signing-1")]),
        decryption_keys: DecryptionKeys::new(vec![key("relay", "encryption-1")]),
        rsa_signer: Arc::new(signer("relay", "signing-1")),
        ec_signer: Some(Arc::new(signer("relay", "signing-ec-1"))),
        wscs: vec![
            KnownWsc {
                entity_id: portal,
                signing_certificates: vec![cert("portal", "signing-1")],
            },
            KnownWsc {
                entity_id: clinic,
                signing_certificates: vec![cert("clinic", "signing-1")],
            },
        ],
        token_lifetime: Duration::minutes(5),
        allow_insecure_for_tests: false,
    };
    let ds = DiscoveryService::new(
        store.clone(),
        config,
        Box::new(InMemoryMessageIdCache::new(10_000)),
    );
    Fed {
        ds,
        person,
        ds_pseudonym,
        pension,
        kenpo,
    }
}

/// The DS token the IdP mints at login: audience the DS, NameID the DS pseudonym, holder of
/// `wsc`'s key.
fn ds_token<'a>(
    fed: &Fed,
    wsc: &str,
    class: &'static str,
    tweak: impl FnOnce(&mut TokenParams<'a>),
) -> SamlToken {
    let relay: &'static str = Box::leak(entity_id("relay").into_boxed_str());
    let idp: &'static str = Box::leak(entity_id("idp").into_boxed_str());
    let pseudonym: &'static str = Box::leak(fed.ds_pseudonym.expose().to_string().into_boxed_str());
    let wsc_cert = cert(wsc, "signing-1").to_der().unwrap();
    let mut p = TokenParams::new(
        idp,
        relay,
        pseudonym,
        now() - Duration::minutes(1),
        class,
        Confirmation::HolderOfKey {
            certificate_der: wsc_cert,
        },
        now(),
    );
    tweak(&mut p);
    let recipient = Recipient::from_certificate(&cert("relay", "encryption-1")).unwrap();
    mint_token(&p, &signer("idp", "signing-1"), Some(&recipient)).expect("ds token")
}

fn requested(st: &str, purpose: &str, req_id: &str) -> RequestedService {
    let mut rs = RequestedService::for_type(st);
    rs.options = vec![Options {
        options: vec![format!("urn:nabari:purpose:{purpose}")],
    }];
    rs.req_id = Some(req_id.into());
    rs
}

/// A request built by `wsc` (signed with its key) around `token`.
fn request(wsc: &str, act: &str, body: &str, token: &SamlToken) -> (String, String) {
    let sender = entity_id(wsc);
    let p = RequestParams::new(
        &sender,
        DS_ENDPOINT,
        act,
        secmech::TLS_SAMLV2,
        Some(token),
        now(),
    );
    let xml =
        build_request(&p, body, Some(&signer(wsc, "signing-1") as &dyn Signer)).expect("request");
    (xml, p.message_id)
}

fn tls() -> TransportInfo {
    TransportInfo {
        over_tls: true,
        client_cert: None,
    }
}

/// The WSC's view of the DS's answer.
fn check(out: &DsOutcome, message_id: &str) -> Result<schemas::wsf::ValidatedResponse, WsfError> {
    let keys = [trusted("relay", "signing-1")];
    let relay = entity_id("relay");
    validate_response(
        out.body.as_bytes(),
        &ResponseExpectations::new(message_id, &relay, &keys, now()),
    )
}

fn query_response(out: &DsOutcome, message_id: &str) -> QueryResponse {
    assert_eq!(out.http_status, 200, "{}", out.body);
    let ok = check(out, message_id).unwrap_or_else(|e| panic!("{e}\n{}", out.body));
    QueryResponse::from_element(ok.payload()).expect("QueryResponse")
}

/// WSP `name`'s endpoint context, trusting the DS with `ds_keys`.
fn validate_at_wsp(
    name: &str,
    endpoint: &str,
    act: &'static str,
    ds_keys: Vec<TrustedKey>,
    xml: &str,
) -> Result<schemas::wsf::ValidatedRequest, schemas::wsf::WsfFault> {
    let own = entity_id(name);
    let peers = StaticPeers::new().with(entity_id("portal"), vec![trusted("portal", "signing-1")]);
    let issuers = [TrustedIssuer::new(entity_id("relay"), ds_keys)];
    let keys = DecryptionKeys::new(vec![key(name, "encryption-1")]);
    let acts = [act];
    let mut ctx = ServerContext::new(&own, endpoint, &peers, &issuers, now());
    ctx.allowed_actions = &acts;
    ctx.decryption_keys = Some(&keys);
    let cache = InMemoryMessageIdCache::new(100);
    validate_request(xml.as_bytes(), &ctx, &cache)
}

fn query_response_for(fed: &Fed, wsc: &str, rs: Vec<RequestedService>) -> (DsOutcome, String) {
    let class = if wsc == "clinic" {
        authn_context::PINLESS_ATTESTED
    } else {
        authn_context::USER_AUTHENTICATION_PIN
    };
    let token = ds_token(fed, wsc, class, |_| {});
    let q = Query {
        requested_services: rs,
    };
    let (xml, mid) = request(wsc, action::QUERY, &q.to_xml(), &token);
    (fed.ds.handle(xml.as_bytes(), &tls(), now()), mid)
}

fn query_returns_one_token_per_allowed_wsp_each_valid_only_there(db: &TestDb) {
    let fed = setup(db);
    let (out, mid) = query_response_for(
        &fed,
        "portal",
        vec![
            requested(service_type::PENSION, "dashboard", "r1"),
            requested(service_type::HI_ELIGIBILITY, "dashboard", "r2"),
        ],
    );
    let qr = query_response(&out, &mid);
    assert_eq!(qr.status.code, code::OK, "{:?}", qr.status);
    assert!(qr.status.details.is_empty());
    // Pension and kenpo; not kokuho (approved, but the person is not linked there).
    assert_eq!(qr.endpoint_references.len(), 2);

    let store = db.store();
    let mut seen = Vec::new();
    for epr in &qr.endpoint_references {
        let md = epr.validate_service_epr().expect("service EPR");
        let (mech, sc) = md
            .security_context_for(&[secmech::TLS_BEARER, secmech::TLS_SAMLV2])
            .expect("mechanism");
        let token = sc.tokens[0].content.as_ref().expect("inline token");
        let provider_id = md.provider_id.clone().expect("ProviderID");
        let (wsp, endpoint, act, ds_key, other) = if provider_id == fed.pension.entity_id {
            assert_eq!(mech, secmech::TLS_BEARER);
            (
                &fed.pension,
                PENSION_ENDPOINT,
                PENSION_ACTION,
                trusted("relay", "signing-ec-1"),
                ("kenpo", KENPO_ENDPOINT, PENSION_ACTION),
            )
        } else {
            assert_eq!(provider_id, fed.kenpo.entity_id);
            assert_eq!(mech, secmech::TLS_SAMLV2);
            (
                &fed.kenpo,
                KENPO_ENDPOINT,
                HI_ACTION,
                trusted("relay", "signing-1"),
                ("pension", PENSION_ENDPOINT, HI_ACTION),
            )
        };
        assert_eq!(epr.address, endpoint);
        let sender = entity_id("portal");
        let p = RequestParams::new(&sender, endpoint, act, mech, Some(token), now());
        let xml = build_request(
            &p,
            "<x:Get xmlns:x=\"urn:x\"/>",
            Some(&signer("portal", "signing-1") as &dyn Signer),
        )
        .unwrap();
        let name = if wsp.id == fed.pension.id {
            "pension"
        } else {
            "kenpo"
        };
        // Valid at its WSP (signed with the algorithm the WSP's metadata asked for) …
        let ok = validate_at_wsp(name, endpoint, act, vec![ds_key], &xml)
            .unwrap_or_else(|f| panic!("{name}: {}", f.kind));
        let link = store.link(&fed.person.id, &wsp.id).unwrap().unwrap();
        let nid = ok.name_id().unwrap();
        assert_eq!(nid.value, link.pseudonym.expose());
        assert_eq!(
            nid.sp_name_qualifier.as_deref(),
            Some(wsp.entity_id.as_str())
        );
        assert_eq!(
            nid.name_qualifier.as_deref(),
            Some(entity_id("relay").as_str())
        );
        assert_ne!(nid.value, fed.ds_pseudonym.expose());
        let t = ok.token.as_ref().unwrap();
        assert_eq!(
            t.authn_context_class.as_deref(),
            Some(authn_context::USER_AUTHENTICATION_PIN)
        );
        let life = t.assertion.conditions.as_ref().unwrap();
        assert_eq!(
            life.not_on_or_after.unwrap() - life.not_before.unwrap(),
            Duration::minutes(5)
        );
        // … and refused by the other WSP (not its key, not its audience).
        let (oname, oendpoint, oact) = other;
        let own = entity_id(oname);
        let p2 = RequestParams::new(&sender, oendpoint, oact, mech, Some(token), now());
        let xml2 = build_request(
            &p2,
            "<x:Get xmlns:x=\"urn:x\"/>",
            Some(&signer("portal", "signing-1") as &dyn Signer),
        )
        .unwrap();
        assert!(
            validate_at_wsp(
                oname,
                oendpoint,
                oact,
                vec![
                    trusted("relay", "signing-1"),
                    trusted("relay", "signing-ec-1")
                ],
                &xml2
            )
            .is_err(),
            "token for {} accepted by {own}",
            wsp.entity_id
        );
        seen.push(nid.value.clone());
    }
    assert_ne!(seen[0], seen[1], "two WSPs got the same pseudonym");

    // Every disclosure recorded, for this person.
    let records = store.access_records_for(&fed.person.id).unwrap();
    let issued: Vec<_> = records
        .iter()
        .filter(|r| r.outcome == Outcome::Issued)
        .collect();
    assert_eq!(issued.len(), 2);
    for r in &issued {
        assert_eq!(r.requester, entity_id("portal"));
        assert_eq!(r.purpose, "dashboard");
    }
    let mut providers: Vec<_> = issued.iter().map(|r| r.provider.clone().unwrap()).collect();
    providers.sort();
    let mut want = vec![fed.pension.entity_id.clone(), fed.kenpo.entity_id.clone()];
    want.sort();
    assert_eq!(providers, want);
    assert!(store.verify_chain().is_ok());
}

fn clinic_query_for_pension_is_forbidden_and_recorded(db: &TestDb) {
    let fed = setup(db);
    let (out, mid) = query_response_for(
        &fed,
        "clinic",
        vec![requested(service_type::PENSION, "eligibility", "r1")],
    );
    let qr = query_response(&out, &mid);
    assert_eq!(qr.status.code, code::FORBIDDEN);
    assert!(qr.endpoint_references.is_empty());
    let records = db.store().access_records_for(&fed.person.id).unwrap();
    assert_eq!(records.len(), 1, "{records:?}");
    let r = &records[0];
    assert_eq!(r.outcome, Outcome::Refused);
    assert_eq!(r.requester, entity_id("clinic"));
    assert_eq!(r.service_type.as_deref(), Some(service_type::PENSION));
    assert_eq!(r.detail.as_deref(), Some("no-rule"));

    // Partly refused: the allowed EPR is returned with a nested Forbidden naming the refused one.
    let (out, mid) = query_response_for(
        &fed,
        "portal",
        vec![
            requested(service_type::PENSION, "dashboard", "ok1"),
            requested(service_type::PENSION, "marketing", "no1"),
        ],
    );
    let qr = query_response(&out, &mid);
    assert_eq!(qr.status.code, code::OK);
    assert_eq!(qr.endpoint_references.len(), 1);
    assert_eq!(qr.status.details.len(), 1);
    assert_eq!(qr.status.details[0].code, code::FORBIDDEN);
    assert_eq!(qr.status.details[0].reference.as_deref(), Some("no1"));

    // No purpose option: refused by policy.
    let mut rs = RequestedService::for_type(service_type::PENSION);
    rs.req_id = Some("np".into());
    let (out, mid) = query_response_for(&fed, "portal", vec![rs]);
    assert_eq!(query_response(&out, &mid).status.code, code::FORBIDDEN);
}

fn unknown_service_type_gives_no_results(db: &TestDb) {
    let fed = setup(db);
    let (out, mid) = query_response_for(
        &fed,
        "portal",
        vec![requested(
            "urn:nabari:idwsf:svc:unknown:2010",
            "dashboard",
            "r1",
        )],
    );
    let qr = query_response(&out, &mid);
    assert_eq!(qr.status.code, code::NO_RESULTS);
    assert!(qr.endpoint_references.is_empty());
    assert!(db
        .store()
        .access_records_for(&fed.person.id)
        .unwrap()
        .is_empty());
}

fn expect_fault(out: &DsOutcome, mid: &str) -> (Option<String>, Option<String>) {
    assert_eq!(out.http_status, 500, "{}", out.body);
    assert!(!out.body.contains("EndpointReference"));
    match check(out, mid) {
        Err(WsfError::Fault(f)) => (
            f.code().map(str::to_string),
            f.second_level().map(str::to_string),
        ),
        other => panic!("expected a fault, got {other:?}"),
    }
}

fn bad_ds_tokens_are_faults_and_disclose_nothing(db: &TestDb) {
    let fed = setup(db);
    let q = Query {
        requested_services: vec![requested(service_type::PENSION, "dashboard", "r1")],
    }
    .to_xml();
    let pension = entity_id("pension");
    // Foreign audience (a token for the pension WSP presented at the DS).
    let wrong_audience = ds_token(
        &fed,
        "portal",
        authn_context::USER_AUTHENTICATION_PIN,
        |p| {
            p.audience = &pension;
        },
    );
    let (xml, mid) = request("portal", action::QUERY, &q, &wrong_audience);
    let (code1, _) = expect_fault(&fed.ds.handle(xml.as_bytes(), &tls(), now()), &mid);
    assert!(code1.is_some());
    // Expired.
    let expired = ds_token(
        &fed,
        "portal",
        authn_context::USER_AUTHENTICATION_PIN,
        |p| {
            p.now = now() - Duration::minutes(20);
            p.not_before = now() - Duration::minutes(20);
            p.not_on_or_after = now() - Duration::minutes(15);
        },
    );
    let (xml, mid) = request("portal", action::QUERY, &q, &expired);
    let (code2, _) = expect_fault(&fed.ds.handle(xml.as_bytes(), &tls(), now()), &mid);
    assert!(code2.is_some());
    // Issued by someone other than the IdP (the portal signs its own DS token).
    let relay = entity_id("relay");
    let portal_id = entity_id("portal");
    let mut p = TokenParams::new(
        &portal_id,
        &relay,
        fed.ds_pseudonym.expose(),
        now(),
        authn_context::USER_AUTHENTICATION_PIN,
        Confirmation::Bearer,
        now(),
    );
    p.presenter = None;
    let forged = mint_token(
        &p,
        &signer("portal", "signing-1"),
        Some(&Recipient::from_certificate(&cert("relay", "encryption-1")).unwrap()),
    )
    .unwrap();
    let (xml, mid) = request("portal", action::QUERY, &q, &forged);
    expect_fault(&fed.ds.handle(xml.as_bytes(), &tls(), now()), &mid);
    // Nothing minted, nothing recorded.
    assert!(db
        .store()
        .access_records_for(&fed.person.id)
        .unwrap()
        .is_empty());
}

fn replayed_message_id_is_duplicate_msg(db: &TestDb) {
    let fed = setup(db);
    let token = ds_token(
        &fed,
        "portal",
        authn_context::USER_AUTHENTICATION_PIN,
        |_| {},
    );
    let q = Query {
        requested_services: vec![requested(service_type::PENSION, "dashboard", "r1")],
    };
    let (xml, mid) = request("portal", action::QUERY, &q.to_xml(), &token);
    let first = fed.ds.handle(xml.as_bytes(), &tls(), now());
    assert_eq!(query_response(&first, &mid).status.code, code::OK);
    let again = fed.ds.handle(xml.as_bytes(), &tls(), now());
    let (c, _) = expect_fault(&again, &mid);
    assert_eq!(c.as_deref(), Some(code::DUPLICATE_MSG));
    // Only the first was disclosed.
    let issued = db
        .store()
        .access_records_for(&fed.person.id)
        .unwrap()
        .into_iter()
        .filter(|r| r.outcome == Outcome::Issued)
        .count();
    assert_eq!(issued, 1);
}

fn associations_cannot_be_added_by_a_wsc(db: &TestDb) {
    let fed = setup(db);
    let token = ds_token(
        &fed,
        "portal",
        authn_context::USER_AUTHENTICATION_PIN,
        |_| {},
    );
    let body = SvcMDAssociationAdd {
        svc_md_ids: vec!["x1".into()],
    }
    .to_xml();
    let (xml, mid) = request("portal", action::SVC_MD_ASSOCIATION_ADD, &body, &token);
    let out = fed.ds.handle(xml.as_bytes(), &tls(), now());
    assert_eq!(out.http_status, 200, "{}", out.body);
    let ok = check(&out, &mid).unwrap();
    let r = SvcMDAssociationAddResponse::from_element(ok.payload()).unwrap();
    assert_eq!(r.status.code, code::FORBIDDEN);
}

fn http_post_ds_answers_text_xml(db: &TestDb) {
    use actix_web::{test as at, App};
    use wsp_relay::ds::http::{configure, DsState, MAX_BODY};
    let fed = setup(db);
    let token = ds_token(
        &fed,
        "portal",
        authn_context::USER_AUTHENTICATION_PIN,
        |_| {},
    );
    let q = Query {
        requested_services: vec![requested(service_type::PENSION, "dashboard", "r1")],
    };
    let (xml, mid) = request("portal", action::QUERY, &q.to_xml(), &token);
    let state = DsState {
        service: Arc::new(fed.ds),
        over_tls: true,
    };
    actix_web::rt::System::new().block_on(async move {
        let app = at::init_service(App::new().configure(configure(state))).await;
        // A Query: 200, text/xml, a QueryResponse with the EPR.
        let resp = at::call_service(
            &app,
            at::TestRequest::post()
                .uri("/ds")
                .insert_header(("content-type", "text/xml; charset=utf-8"))
                .set_payload(xml.clone())
                .to_request(),
        )
        .await;
        assert_eq!(resp.status().as_u16(), 200);
        let ct = resp
            .headers()
            .get("content-type")
            .unwrap()
            .to_str()
            .unwrap()
            .to_string();
        assert!(ct.starts_with("text/xml"), "{ct}");
        let body = String::from_utf8(at::read_body(resp).await.to_vec()).unwrap();
        let out = DsOutcome {
            http_status: 200,
            body,
        };
        let qr = query_response(&out, &mid);
        assert_eq!(qr.status.code, code::OK);
        assert_eq!(qr.endpoint_references.len(), 1);
        // The same bytes again: a fault, HTTP 500, text/xml.
        let resp = at::call_service(
            &app,
            at::TestRequest::post()
                .uri("/ds")
                .insert_header(("content-type", "text/xml"))
                .set_payload(xml.clone())
                .to_request(),
        )
        .await;
        assert_eq!(resp.status().as_u16(), 500);
        let body = String::from_utf8(at::read_body(resp).await.to_vec()).unwrap();
        let (c, _) = expect_fault(
            &DsOutcome {
                http_status: 500,
                body,
            },
            &mid,
        );
        assert_eq!(c.as_deref(), Some(code::DUPLICATE_MSG));
        // Not XML: 415. Too large: 413.
        let resp = at::call_service(
            &app,
            at::TestRequest::post()
                .uri("/ds")
                .insert_header(("content-type", "application/json"))
                .set_payload("{}")
                .to_request(),
        )
        .await;
        assert_eq!(resp.status().as_u16(), 415);
        let resp = at::call_service(
            &app,
            at::TestRequest::post()
                .uri("/ds")
                .insert_header(("content-type", "text/xml"))
                .set_payload(vec![b' '; MAX_BODY + 1])
                .to_request(),
        )
        .await;
        assert_eq!(resp.status().as_u16(), 413);
    });
}

fn wsp_queries_its_own_service_metadata(db: &TestDb) {
    use schemas::idwsf::disco::{SvcMDQuery, SvcMDQueryResponse};
    let fed = setup(db);
    let body = SvcMDQuery { svc_md_ids: vec![] }.to_xml();
    let x509 = |who: &str| {
        let sender = entity_id(who);
        let p = RequestParams::new(
            &sender,
            DS_ENDPOINT,
            action::SVC_MD_QUERY,
            secmech::TLS_X509,
            None,
            now(),
        );
        let xml = build_request(&p, &body, Some(&signer(who, "signing-1") as &dyn Signer)).unwrap();
        (fed.ds.handle(xml.as_bytes(), &tls(), now()), p.message_id)
    };
    // The pension WSP sees its one service, and only its own.
    let (out, mid) = x509("pension");
    assert_eq!(out.http_status, 200, "{}", out.body);
    let r = SvcMDQueryResponse::from_element(check(&out, &mid).unwrap().payload()).unwrap();
    assert_eq!(r.status.code, code::OK);
    assert_eq!(r.svc_mds.len(), 1);
    let md = &r.svc_mds[0];
    assert_eq!(md.provider_id, fed.pension.entity_id);
    let own = db.store().provider_services(&fed.pension.id).unwrap();
    assert_eq!(md.svc_md_id.as_deref(), Some(own[0].svc_md_id.as_str()));
    assert_eq!(
        md.service_contexts[0].endpoint_contexts[0].addresses,
        vec![PENSION_ENDPOINT.to_string()]
    );
    // The portal is not a provider: Forbidden.
    let (out, mid) = x509("portal");
    let r = SvcMDQueryResponse::from_element(check(&out, &mid).unwrap().payload()).unwrap();
    assert_eq!(r.status.code, code::FORBIDDEN);
    assert!(r.svc_mds.is_empty());
    // Delete: an unknown (or another provider's) svcMDID is NotFound; its own is deleted.
    use schemas::idwsf::disco::{SvcMDDelete, SvcMDDeleteResponse};
    let kenpo_svc = db.store().provider_services(&fed.kenpo.id).unwrap()[0]
        .svc_md_id
        .clone();
    let delete = |ids: Vec<String>| {
        let body = SvcMDDelete { svc_md_ids: ids }.to_xml();
        let sender = entity_id("pension");
        let p = RequestParams::new(
            &sender,
            DS_ENDPOINT,
            action::SVC_MD_DELETE,
            secmech::TLS_X509,
            None,
            now(),
        );
        let xml = build_request(
            &p,
            &body,
            Some(&signer("pension", "signing-1") as &dyn Signer),
        )
        .unwrap();
        let out = fed.ds.handle(xml.as_bytes(), &tls(), now());
        SvcMDDeleteResponse::from_element(check(&out, &p.message_id).unwrap().payload())
            .unwrap()
            .status
            .code
    };
    assert_eq!(delete(vec![kenpo_svc]), code::NOT_FOUND);
    assert_eq!(
        db.store().provider_services(&fed.kenpo.id).unwrap().len(),
        1
    );
    assert_eq!(delete(vec![own[0].svc_md_id.clone()]), code::OK);
    assert!(db
        .store()
        .provider_services(&fed.pension.id)
        .unwrap()
        .is_empty());
    // A Query without a DS token names no principal: Failed / NotFound, nothing minted.
    let q = Query {
        requested_services: vec![requested(service_type::PENSION, "dashboard", "r1")],
    }
    .to_xml();
    let sender = entity_id("portal");
    let p = RequestParams::new(
        &sender,
        DS_ENDPOINT,
        action::QUERY,
        secmech::TLS_X509,
        None,
        now(),
    );
    let xml = build_request(&p, &q, Some(&signer("portal", "signing-1") as &dyn Signer)).unwrap();
    let out = fed.ds.handle(xml.as_bytes(), &tls(), now());
    let qr = query_response(&out, &p.message_id);
    assert_eq!(qr.status.code, code::FAILED);
    assert_eq!(qr.status.second_level(), Some(code::NOT_FOUND));
    assert!(qr.endpoint_references.is_empty());
}

fn store_failure_is_a_failed_fault(db: &TestDb) {
    let fed = setup(db);
    let token = ds_token(
        &fed,
        "portal",
        authn_context::USER_AUTHENTICATION_PIN,
        |_| {},
    );
    let q = Query {
        requested_services: vec![requested(service_type::PENSION, "dashboard", "r1")],
    };
    let (xml, mid) = request("portal", action::QUERY, &q.to_xml(), &token);
    // The access records cannot be written: nothing may be disclosed.
    db.exec("DROP TABLE access_records");
    let out = fed.ds.handle(xml.as_bytes(), &tls(), now());
    let (c, _) = expect_fault(&out, &mid);
    assert_eq!(c.as_deref(), Some(code::FAILED));
}

fn association_query_lists_the_linked_services(db: &TestDb) {
    use schemas::idwsf::disco::{SvcMDAssociationQuery, SvcMDAssociationQueryResponse};
    let fed = setup(db);
    let token = ds_token(
        &fed,
        "portal",
        authn_context::USER_AUTHENTICATION_PIN,
        |_| {},
    );
    let body = SvcMDAssociationQuery { svc_md_ids: vec![] }.to_xml();
    let (xml, mid) = request("portal", action::SVC_MD_ASSOCIATION_QUERY, &body, &token);
    let out = fed.ds.handle(xml.as_bytes(), &tls(), now());
    let r =
        SvcMDAssociationQueryResponse::from_element(check(&out, &mid).unwrap().payload()).unwrap();
    assert_eq!(r.status.code, code::OK);
    let store = db.store();
    let mut want: Vec<String> = [&fed.pension, &fed.kenpo]
        .iter()
        .flat_map(|p| store.provider_services(&p.id).unwrap())
        .map(|s| s.svc_md_id)
        .collect();
    want.sort();
    let mut got = r.svc_md_ids.clone();
    got.sort();
    assert_eq!(got, want, "kokuho (not linked) must not be listed");
}
