//! ID-WSF 2.0 message security end to end, bytes in and bytes out: tokens minted (bearer and
//! holder-of-key, RSA and ECDSA issuers, encrypted to the WSP) → request built by the WSC →
//! validated by the WSP (every §4.4 check) → response built and signed by the WSP → validated by
//! the WSC. Also the discovery flow (the DS token, the per-WSP token forwarded byte-exact),
//! token reuse, faults, peerSAMLV2, X509 and EncryptedID.

#[path = "wsf_fixtures.rs"]
mod fixtures;

use fixtures::*;
use schemas::dsig::Signer;
use schemas::idwsf::disco::{action, Query, QueryResponse, RequestedService};
use schemas::idwsf::{
    code, interact, secmech, service_type, EndpointReference, EprMetadata, Framework, IdwsfXml,
    SamlToken, SecurityContext, Status, Token, TokenKind,
};
use schemas::saml::{
    confirmation, nameid_format, Assertion, Attribute, EncryptedElement, NameId, SamlXml, SubjectId,
};
use schemas::wsf::client::{build_request, validate_response, RequestParams, ResponseExpectations};
use schemas::wsf::replay::InMemoryMessageIdCache;
use schemas::wsf::server::{
    build_fault, build_response, validate_request, FaultKind, FaultResponse, ResponseParams,
    ValidatedRequest,
};
use schemas::wsf::token::{assertion_for, mint_token, seal_assertion, Confirmation};
use schemas::wsf::{code as second, WsfError, DEFAULT_TOKEN_LIFETIME};
use schemas::xenc::{encrypt_element, EncryptOptions};
use time::Duration;

fn cache() -> InMemoryMessageIdCache {
    InMemoryMessageIdCache::with_clock(10_000, now)
}

/// WSP A answers `req` (signed), and the portal validates the answer.
fn answer_and_check(req: &ValidatedRequest, request_message_id: &str) {
    let params = ResponseParams::for_request(req, WSP_A, now() + Duration::seconds(1));
    let resp = build_response(&params, pension_response(), Some(&wsp_a().signer())).unwrap();
    let keys = [wsp_a().trusted()];
    let expected = ResponseExpectations::new(
        request_message_id,
        WSP_A,
        &keys,
        now() + Duration::seconds(2),
    );
    let ok =
        validate_response(resp.as_bytes(), &expected).unwrap_or_else(|e| panic!("{e}\n{resp}"));
    assert!(ok.signed);
    assert_eq!(ok.sender, WSP_A);
    assert_eq!(ok.message_id, params.message_id);
    assert_eq!(
        ok.headers.relates_to.as_ref().unwrap().value,
        request_message_id
    );
    assert_eq!(ok.status, Some(Status::ok()));
    let payload = ok.payload();
    assert_eq!(payload.local_name(), "QueryResponse");
    assert!(String::from_utf8(ok.body_canonical.clone())
        .unwrap()
        .contains("basic pension"));
}

#[test]
fn bearer_and_holder_of_key_with_rsa_and_ecdsa_round_trip() {
    struct Case {
        name: &'static str,
        confirmation: Confirmation,
        mechanism: &'static str,
        issuer: &'static Party,
        wsc: Option<&'static Party>,
    }
    let cases = [
        Case {
            name: "bearer, RSA issuer, unsigned message",
            confirmation: Confirmation::Bearer,
            mechanism: secmech::TLS_BEARER,
            issuer: ds(),
            wsc: None,
        },
        Case {
            name: "bearer, ECDSA issuer, message signed by the WSC's metadata key",
            confirmation: Confirmation::Bearer,
            mechanism: secmech::TLS_BEARER,
            issuer: ds_ec(),
            wsc: Some(portal()),
        },
        Case {
            name: "holder-of-key, RSA issuer, RSA WSC key",
            confirmation: hok_portal(),
            mechanism: secmech::TLS_SAMLV2,
            issuer: ds(),
            wsc: Some(portal()),
        },
        Case {
            name: "holder-of-key, ECDSA issuer, P-256 WSC key",
            confirmation: Confirmation::HolderOfKey {
                certificate_der: portal_ec().cert_der(),
            },
            mechanism: secmech::TLS_SAMLV2,
            issuer: ds_ec(),
            wsc: Some(portal_ec()),
        },
    ];
    let cache = cache();
    for case in cases {
        let token = mint_token(
            &params_a(case.confirmation.clone()),
            &case.issuer.signer(),
            Some(&wsp_a().recipient()),
        )
        .unwrap();
        assert_eq!(token.kind, TokenKind::EncryptedAssertion, "{}", case.name);
        let params = request_a(case.mechanism, &token);
        let signer = case.wsc.map(|p| p.signer());
        let xml = build_request(
            &params,
            pension_query(),
            signer.as_ref().map(|s| s as &dyn Signer),
        )
        .unwrap();
        // The token is in the message byte for byte.
        assert!(xml.contains(&token.xml), "{}", case.name);

        let req = validate_request(xml.as_bytes(), &ctx_a(), &cache)
            .unwrap_or_else(|e| panic!("{}: {e}\n{xml}", case.name));
        assert_eq!(req.sender, PORTAL);
        assert_eq!(req.message_id, params.message_id);
        assert_eq!(req.action, PENSION_ACTION);
        assert_eq!(req.mechanism, case.mechanism, "{}", case.name);
        assert_eq!(req.signed, case.wsc.is_some(), "{}", case.name);
        let t = req.token.as_ref().unwrap();
        assert!(t.encrypted);
        assert_eq!(t.issuer, DS);
        assert_eq!(t.name_id.value, PSEUDONYM_A);
        assert_eq!(t.name_id.format.as_deref(), Some(nameid_format::PERSISTENT));
        assert_eq!(t.name_id.name_qualifier.as_deref(), Some(DS));
        assert_eq!(t.name_id.sp_name_qualifier.as_deref(), Some(WSP_A));
        assert_eq!(t.authn_instant, Some(login_instant()));
        assert_eq!(t.authn_context_class.as_deref(), Some(CLASS));
        let expected_confirmation = match case.confirmation {
            Confirmation::Bearer => confirmation::BEARER,
            Confirmation::HolderOfKey { .. } => confirmation::HOLDER_OF_KEY,
        };
        assert_eq!(t.confirmed_by, Some(expected_confirmation));
        // The typed assertion is the verified one.
        let reparsed = Assertion::from_xml(&t.canonical).unwrap();
        assert_eq!(reparsed, t.assertion);
        assert_eq!(req.name_id().unwrap().value, PSEUDONYM_A);
        assert_eq!(req.payload().local_name(), "Query");
        assert_eq!(
            req.headers
                .user_interaction
                .as_ref()
                .and_then(|u| u.interact.as_deref()),
            Some(interact::DO_NOT_INTERACT)
        );
        answer_and_check(&req, &params.message_id);
    }
}

#[test]
fn minted_token_has_the_profile_shape() {
    let mut p = params_a(hok_portal());
    p.presenter = Some(PORTAL);
    p.attributes = vec![Attribute::uri("urn:nabari:attr:localKey", &["P-000123"])];
    for (issuer, alg) in [
        (ds(), "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"),
        (
            ds_ec(),
            "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256",
        ),
    ] {
        let token = mint_token(&p, &issuer.signer(), None).unwrap();
        assert_eq!(token.kind, TokenKind::Assertion);
        assert!(token.xml.contains(alg), "{}", token.xml);
        let a = Assertion::from_xml(token.xml.as_bytes()).unwrap();
        assert_eq!(a.id, p.assertion_id);
        assert_eq!(a.issuer.value, DS);
        let c = a.conditions.as_ref().unwrap();
        assert_eq!(
            c.not_on_or_after.unwrap() - c.not_before.unwrap(),
            DEFAULT_TOKEN_LIFETIME
        );
        assert_eq!(c.audience_restrictions.len(), 1);
        assert_eq!(
            c.audience_restrictions[0].audiences,
            vec![WSP_A.to_string()]
        );
        assert!(!c.one_time_use);
        let s = a.subject.as_ref().unwrap();
        let n = s.name_id().unwrap();
        assert_eq!(
            (
                n.value.as_str(),
                n.name_qualifier.as_deref(),
                n.sp_name_qualifier.as_deref()
            ),
            (PSEUDONYM_A, Some(DS), Some(WSP_A))
        );
        let sc = &s.confirmations[0];
        assert_eq!(sc.method, confirmation::HOLDER_OF_KEY);
        assert_eq!(
            sc.id.as_ref().and_then(SubjectId::name_id).unwrap().value,
            PORTAL
        );
        let data = sc.data.as_ref().unwrap();
        assert!(data.key_info_type);
        assert!(data.key_infos[0].contains("X509Certificate"));
        let authn = a.authn_statements().next().unwrap();
        assert_eq!(authn.authn_instant, login_instant());
        assert_eq!(authn.authn_context.class_ref.as_deref(), Some(CLASS));
        assert_eq!(
            a.attribute("urn:nabari:attr:localKey")
                .unwrap()
                .text_values()
                .collect::<Vec<_>>(),
            vec!["P-000123"]
        );
    }
    // Nonsense parameters are refused before signing.
    let mut bad = params_a(Confirmation::Bearer);
    bad.audience = "";
    assert!(matches!(
        mint_token(&bad, &ds().signer(), None),
        Err(WsfError::InvalidParams(_))
    ));
    let mut bad = params_a(Confirmation::HolderOfKey {
        certificate_der: vec![1, 2, 3],
    });
    bad.presenter = Some(PORTAL);
    assert!(mint_token(&bad, &ds().signer(), None).is_err());
}

/// Flow A: IdP → DS token → disco:Query at the DS → per-WSP token in the QueryResponse EPR →
/// forwarded byte-exact to the WSP.
#[test]
fn discovery_flow_forwards_the_wsp_token_byte_exact() {
    let cache = cache();
    // The IdP mints the DS token (audience and SPNameQualifier = DS), HoK to the portal key.
    let mut ds_params = fixtures::params_a(hok_portal());
    ds_params.issuer = IDP;
    ds_params.audience = DS;
    ds_params.name_id = "ds-pseudonym-41";
    let ds_token = mint_token(&ds_params, &idp().signer(), Some(&ds().recipient())).unwrap();

    // The portal queries the DS.
    let query = Query {
        requested_services: vec![RequestedService::for_type(service_type::PENSION)],
    };
    let qp = RequestParams::new(
        PORTAL,
        DS_ENDPOINT,
        action::QUERY,
        secmech::TLS_SAMLV2,
        Some(&ds_token),
        now(),
    );
    let q_xml = build_request(&qp, &query.to_xml(), Some(&portal().signer())).unwrap();

    // The DS validates it (audience = DS, issuer = IdP) and reads the query from verified bytes.
    let req = validate_request(q_xml.as_bytes(), &ctx_ds(), &cache).unwrap();
    assert_eq!(req.name_id().unwrap().value, "ds-pseudonym-41");
    assert_eq!(
        req.name_id().unwrap().sp_name_qualifier.as_deref(),
        Some(DS)
    );
    assert_eq!(Query::from_element(req.payload()).unwrap(), query);
    let t = req.token.as_ref().unwrap();

    // The DS mints WSP A's token, copying the login, and answers with the EPR.
    let mut wsp_params = params_a(hok_portal());
    wsp_params.authn_instant = t.authn_instant.unwrap();
    wsp_params.authn_context_class = t.authn_context_class.as_deref().unwrap();
    let wsp_token = mint_token(&wsp_params, &ds_ec().signer(), Some(&wsp_a().recipient())).unwrap();
    let qr = QueryResponse {
        status: Status::ok(),
        endpoint_references: vec![EndpointReference {
            id: None,
            address: WSP_A_ENDPOINT.into(),
            reference_parameters: vec![],
            metadata: Some(EprMetadata {
                abstract_text: Some("pension record".into()),
                provider_id: Some(WSP_A.into()),
                service_types: vec![service_type::PENSION.into()],
                frameworks: vec![Framework::v2()],
                security_contexts: vec![SecurityContext {
                    security_mech_ids: vec![secmech::TLS_SAMLV2.into()],
                    tokens: vec![Token::security_token(wsp_token.clone())],
                }],
                extensions: vec![],
            }),
            extensions: vec![],
        }],
    };
    let resp = build_response(
        &ResponseParams::for_request(&req, DS, now()),
        &qr.to_xml(),
        Some(&ds().signer()),
    )
    .unwrap();

    // The portal validates the DS's answer and takes the EPR from the verified Body.
    let ds_keys = [ds().trusted()];
    let ok = validate_response(
        resp.as_bytes(),
        &ResponseExpectations::new(&qp.message_id, DS, &ds_keys, now()),
    )
    .unwrap();
    assert_eq!(ok.status, Some(Status::ok()));
    let got = QueryResponse::from_element(ok.payload()).unwrap();
    let epr = &got.endpoint_references[0];
    let md = epr.validate_service_epr().unwrap();
    let (mech, sc) = md.security_context_for(&[secmech::TLS_SAMLV2]).unwrap();
    let forwarded: &SamlToken = sc.tokens[0].content.as_ref().unwrap();
    assert_eq!(forwarded.xml, wsp_token.xml, "token forwarded byte-exact");

    // … and calls the WSP with it.
    let p = RequestParams::new(
        PORTAL,
        &epr.address,
        PENSION_ACTION,
        mech,
        Some(forwarded),
        now() + Duration::seconds(1),
    );
    let xml = build_request(&p, pension_query(), Some(&portal().signer())).unwrap();
    let mut ctx = ctx_a();
    ctx.now = now() + Duration::seconds(1);
    let at_wsp = validate_request(xml.as_bytes(), &ctx, &cache).unwrap();
    assert_eq!(at_wsp.name_id().unwrap().value, PSEUDONYM_A);
    assert_eq!(at_wsp.mechanism, secmech::TLS_SAMLV2);
}

/// A plain token whose `saml` prefix is declared on an ancestor (as in ZXID's capture) still
/// verifies once lifted out: the opaque copy re-declares it.
#[test]
fn token_lifted_from_an_ancestor_namespace_still_verifies() {
    let token = mint_token(&params_a(Confirmation::Bearer), &ds().signer(), None).unwrap();
    let decl = format!(r#" xmlns:saml="{}""#, schemas::ns::SAML);
    assert!(token.xml.contains(&decl));
    let bare = token.xml.replacen(&decl, "", 1);
    let container = format!(
        r#"<sec:Token xmlns:sec="urn:liberty:security:2006-08"{decl} usage="urn:liberty:security:tokenusage:2006-08:SecurityToken">{bare}</sec:Token>"#
    );
    let lifted = Token::from_xml(container.as_bytes())
        .unwrap()
        .content
        .unwrap();
    assert_eq!(lifted.xml, token.xml);
    let (xml, _) = bearer_request_a(&lifted);
    let mut ctx = ctx_a();
    ctx.require_encrypted_token = false;
    let req = validate_request(xml.as_bytes(), &ctx, &cache()).unwrap();
    assert!(!req.token.unwrap().encrypted);
}

#[test]
fn same_token_is_reused_within_its_lifetime_with_new_message_ids() {
    let cache = cache();
    let token = hok_token_a();
    for (i, offset) in [0, 60, 120, 200].into_iter().enumerate() {
        let at = now() + Duration::seconds(offset);
        let mut p = request_a(secmech::TLS_SAMLV2, &token);
        p.now = at;
        let xml = build_request(&p, pension_query(), Some(&portal().signer())).unwrap();
        let mut ctx = ctx_a();
        ctx.now = at;
        validate_request(xml.as_bytes(), &ctx, &cache).unwrap_or_else(|e| panic!("use {i}: {e}"));
    }
}

#[test]
fn faults_are_signed_and_decoded_with_their_status() {
    let cache = cache();
    // A bearer request where only holder-of-key is advertised: InappropriateCredentials with
    // the acceptable mechanisms in sb:CredentialsContext.
    let (xml, message_id) = bearer_request_a(&bearer_token_a());
    let mut ctx = ctx_a();
    ctx.accepted_mechanisms = &[secmech::TLS_SAMLV2];
    let refused = validate_request(xml.as_bytes(), &ctx, &cache).unwrap_err();
    assert!(matches!(refused.kind, FaultKind::MechanismNotAccepted(_)));
    assert_eq!(
        refused.request_message_id.as_deref(),
        Some(message_id.as_str())
    );
    let fault_xml = build_fault(
        &FaultResponse::from(&refused),
        &ResponseParams::for_fault(&refused, WSP_A, now()),
        Some(&wsp_a().signer()),
    )
    .unwrap();
    let keys = [wsp_a().trusted()];
    let err = validate_response(
        fault_xml.as_bytes(),
        &ResponseExpectations::new(&message_id, WSP_A, &keys, now()),
    )
    .unwrap_err();
    let WsfError::Fault(f) = &err else {
        panic!("{err}")
    };
    assert!(f.authenticated, "{f}");
    assert!(f.fault.code.is_soap("Client"));
    assert_eq!(f.code(), Some(code::INAPPROPRIATE_CREDENTIALS));
    assert_eq!(f.second_level(), Some(second::UNSUPPORTED_SECURITY_TOKEN));
    assert_eq!(
        f.credentials_context.as_ref().unwrap().security_mech_ids,
        vec![secmech::TLS_SAMLV2.to_string()]
    );
    assert_eq!(err.status_code(), Some(code::INAPPROPRIATE_CREDENTIALS));

    // The same fault unsigned is reported, but not as authenticated.
    let unsigned = build_fault(
        &FaultResponse::from(&refused),
        &ResponseParams::for_fault(&refused, WSP_A, now()),
        None,
    )
    .unwrap();
    let WsfError::Fault(f) = validate_response(
        unsigned.as_bytes(),
        &ResponseExpectations::new(&message_id, WSP_A, &keys, now()),
    )
    .unwrap_err() else {
        panic!()
    };
    assert!(!f.authenticated);
    assert_eq!(f.code(), Some(code::INAPPROPRIATE_CREDENTIALS));
    assert!(
        f.credentials_context.is_none(),
        "unauthenticated content is dropped"
    );
}

#[test]
fn peer_saml_v2_with_the_confirmed_tls_client_certificate() {
    let token = hok_token_a();
    let p = request_a(secmech::CLIENT_TLS_PEER_SAMLV2, &token);
    let xml = build_request(&p, pension_query(), None).unwrap();
    let cert = portal().cert_der();
    let mut ctx = ctx_a();
    ctx.accepted_mechanisms = &[secmech::CLIENT_TLS_PEER_SAMLV2];
    ctx.tls_client_certificate = Some(&cert);
    let req = validate_request(xml.as_bytes(), &ctx, &cache()).unwrap();
    assert_eq!(req.mechanism, secmech::CLIENT_TLS_PEER_SAMLV2);
    assert!(!req.signed);
}

#[test]
fn x509_mechanism_without_token_is_signed_by_the_sender() {
    let p = RequestParams::new(
        PORTAL,
        WSP_A_ENDPOINT,
        PENSION_ACTION,
        secmech::TLS_X509,
        None,
        now(),
    );
    assert!(matches!(
        build_request(&p, pension_query(), None),
        Err(WsfError::SignerRequired(_))
    ));
    let xml = build_request(&p, pension_query(), Some(&portal_ec().signer())).unwrap();
    let mut ctx = ctx_a();
    ctx.accepted_mechanisms = &[secmech::TLS_X509];
    let req = validate_request(xml.as_bytes(), &ctx, &cache()).unwrap();
    assert_eq!(req.mechanism, secmech::TLS_X509);
    assert!(req.signed && req.token.is_none());
}

#[test]
fn encrypted_name_id_is_decrypted() {
    let mut a = assertion_for(&params_a(Confirmation::Bearer)).unwrap();
    let name_id = NameId {
        value: PSEUDONYM_A.into(),
        format: Some(nameid_format::PERSISTENT.into()),
        name_qualifier: Some(DS.into()),
        sp_name_qualifier: Some(WSP_A.into()),
        sp_provided_id: None,
    };
    let data = encrypt_element(
        &name_id.to_xml(),
        &wsp_a().recipient(),
        &EncryptOptions::default(),
    )
    .unwrap();
    let enc = format!(
        r#"<saml:EncryptedID xmlns:saml="{}">{data}</saml:EncryptedID>"#,
        schemas::ns::SAML
    );
    a.subject.as_mut().unwrap().id = Some(SubjectId::Encrypted(EncryptedElement { xml: enc }));
    let token = seal_assertion(&a, &ds().signer(), Some(&wsp_a().recipient())).unwrap();
    let (xml, _) = bearer_request_a(&token);
    let req = validate_request(xml.as_bytes(), &ctx_a(), &cache()).unwrap();
    assert_eq!(req.name_id().unwrap(), &name_id);
}

#[test]
fn target_identity_token_is_validated_and_names_the_target() {
    let invoker = bearer_token_a();
    let mut tp = params_a(Confirmation::Bearer);
    tp.name_id = "pw-a-child-2";
    let target = mint_token(&tp, &ds().signer(), Some(&wsp_a().recipient())).unwrap();
    let mut p = request_a(secmech::TLS_BEARER, &invoker);
    p.target_identity = Some(&target);
    let xml = build_request(&p, pension_query(), None).unwrap();
    let req = validate_request(xml.as_bytes(), &ctx_a(), &cache()).unwrap();
    assert_eq!(req.name_id().unwrap().value, PSEUDONYM_A);
    assert_eq!(req.target_name_id().unwrap().value, "pw-a-child-2");
}

#[test]
fn token_attributes_reach_the_wsp_from_the_verified_bytes() {
    // The pilot mode: the WSP's local key for the principal travels as an attribute.
    let mut p = params_a(hok_portal());
    p.attributes = vec![Attribute::uri("urn:nabari:attr:localKey", &["P-000123"])];
    let token = mint_token(&p, &ds_ec().signer(), Some(&wsp_a().recipient())).unwrap();
    let (xml, _) = hok_request_a(&token, &portal().signer());
    let req = validate_request(xml.as_bytes(), &ctx_a(), &cache()).unwrap();
    let a = &req.token.as_ref().unwrap().assertion;
    let values: Vec<&str> = a
        .attribute("urn:nabari:attr:localKey")
        .unwrap()
        .text_values()
        .collect();
    assert_eq!(values, vec!["P-000123"]);
}
