//! The IdP over HTTP, end to end: SP-initiated SSO over Redirect and POST with the card agent in
//! demo mode, the Response validated by a test SP (schemas::websso), pairwise NameIDs, the
//! Discovery bootstrap and its DS token, every refusal (requests and cards), CSRF, rate limits,
//! HTTP-Artifact, IdP-initiated SSO, the PIN-less clinic path, Single Logout and the metadata.

mod web_support;

use base64::Engine;
use schemas::binding::{encode_redirect, MessageKind};
use schemas::dsig::{verify_enveloped, VerifyPolicy};
use schemas::idwsf::{
    secmech, service_type, token_usage, EndpointReference, IdwsfXml, TokenKind,
    DISCOVERY_EPR_ATTRIBUTE,
};
use schemas::saml::*;
use schemas::websso::{classes, SsoError};
use schemas::xenc::{decrypt_xml, DecryptionKeys};
use schemas::xml::{parse, ParseLimits};
use web_support::*;

// ---- helpers ---------------------------------------------------------------------------------

fn assert_no_response(r: &Resp) {
    assert!(
        r.form_value("SAMLResponse").is_none(),
        "a Response was sent: {}",
        r.body
    );
    assert!(
        r.location
            .as_deref()
            .is_none_or(|l| !l.contains("SAMLart") && !l.contains("SAMLResponse")),
        "a message was redirected: {:?}",
        r.location
    );
}

/// The DS token of a validated assertion: decrypted with the DS key, verified with the IdP key.
fn ds_token(fx: &Fixture, v: &schemas::websso::ValidatedAssertion, mech: &str) -> Assertion {
    let attr = v
        .attribute(DISCOVERY_EPR_ATTRIBUTE)
        .expect("DiscoveryEPR attribute");
    assert_eq!(attr.name_format.as_deref(), Some(attrname_format::URI));
    let AttributeValue::Element { xml, .. } = &attr.values[0] else {
        panic!("the value is an element");
    };
    let epr = EndpointReference::from_xml(xml.as_bytes()).expect("wsa:EndpointReference");
    assert_eq!(
        Some(epr.address.as_str()),
        fx.config.discovery.endpoint.as_deref()
    );
    let md = epr.validate_service_epr().expect("service EPR");
    assert_eq!(md.provider_id.as_deref(), Some(fx.ds_entity.as_str()));
    assert_eq!(md.service_types, vec![service_type::DISCOVERY.to_string()]);
    assert!(md.frameworks.iter().any(|f| f.is_v2()));
    assert!(md.abstract_text.is_some());
    let (found, sc) = md
        .security_context_for(&[mech])
        .expect("the security mechanism");
    assert_eq!(found, mech);
    let token = sc
        .token(token_usage::SECURITY_TOKEN)
        .and_then(|t| t.content.as_ref())
        .expect("sec:Token");
    assert_eq!(token.kind, TokenKind::EncryptedAssertion);
    let doc = decrypt_xml(
        &token.xml,
        &DecryptionKeys::new(vec![fx.ds_enc_key.clone()]),
        &ParseLimits::default(),
    )
    .expect("the DS key decrypts the token");
    let verified = verify_enveloped(doc.root(), &fx.idp_keys(), &VerifyPolicy::default())
        .expect("the IdP signed the token");
    Assertion::from_element(parse(&verified.canonical).unwrap().root()).unwrap()
}

fn ds_pseudonym(fx: &Fixture, card: &str) -> String {
    let provider = fx
        .store
        .provider_by_entity_id(&fx.ds_entity)
        .unwrap()
        .unwrap();
    fx.store
        .pseudonym_for(&fx.person_of_card(card), &provider.id)
        .unwrap()
        .expose()
        .to_string()
}

fn subject_name_id(a: &Assertion) -> NameId {
    match a.subject.as_ref().unwrap().id.as_ref().unwrap() {
        SubjectId::NameId(n) => n.clone(),
        SubjectId::Encrypted(_) => panic!("encrypted"),
    }
}

async fn full_login(fx: &Fixture, sp: &TestSp, card: &str) -> schemas::websso::ValidatedAssertion {
    let b = Browser::new(&fx.base);
    let (r, id) = login_redirect(fx, &b, sp, card, None, None).await;
    let xml = r
        .saml_response()
        .unwrap_or_else(|| panic!("no Response: {}", r.body));
    validate(fx, sp, &xml, Some(&id)).expect("valid Response")
}

// ---- SSO ----------------------------------------------------------------------------------

#[tokio::test]
async fn redirect_login_validates_with_pairwise_id_and_discovery_bootstrap() {
    let fx = fixture();
    let b = Browser::new(&fx.base);
    let (r, id) = login_redirect(fx, &b, &fx.portal, &fx.cards.a, None, None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    // The auto-POST page: the ACS of the metadata, the RelayState back, a nonce'd script.
    assert!(r.body.contains(&format!("action=\"{}\"", fx.portal.acs)));
    assert_eq!(r.form_value("RelayState").as_deref(), Some("relay-1"));
    let csp = r.header("content-security-policy").unwrap();
    assert!(
        csp.contains("script-src 'nonce-")
            && csp.contains("form-action https://portal.nabari.test"),
        "{csp}"
    );
    // The session cookie.
    let cookie = r.header("set-cookie").expect("session cookie after login");
    assert!(cookie.starts_with("__Host-nabari-idp="), "{cookie}");
    for flag in ["Secure", "HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(cookie.contains(flag), "{cookie}");
    }

    let xml = r.saml_response().unwrap();
    let v = validate(fx, &fx.portal, &xml, Some(&id)).expect("the test SP accepts the Response");
    assert!(
        v.encrypted,
        "the portal has an encryption key: EncryptedAssertion"
    );
    assert!(v.response_signed);
    assert_eq!(v.name_id.format.as_deref(), Some(nameid_format::PERSISTENT));
    assert_eq!(
        v.name_id.name_qualifier.as_deref(),
        Some(fx.idp_entity.as_str())
    );
    assert_eq!(
        v.name_id.sp_name_qualifier.as_deref(),
        Some(fx.portal.entity.as_str())
    );
    assert_eq!(v.name_id.value.len(), 22, "128 bits, base64url");
    assert_eq!(
        v.authn_context.as_deref(),
        Some(classes::JPKI_USER_AUTHENTICATION_PIN)
    );
    assert!(v.session_index.is_some());
    // No certificate data in the assertion.
    let card = card(&fx.pki, &fx.cards.a);
    let plain = format!("{:?}", v.assertion);
    assert!(!plain.contains(&card.auth_cert.serial) && !plain.contains(&card.resident.name));

    // The bootstrap: DS token for the DS, subject = the pseudonym at the DS, bearer, presenter.
    let token = ds_token(fx, &v, secmech::TLS_BEARER);
    assert_eq!(token.issuer.value, fx.idp_entity);
    let c = token.conditions.as_ref().unwrap();
    assert_eq!(
        c.audience_restrictions[0].audiences,
        vec![fx.ds_entity.clone()]
    );
    let n = subject_name_id(&token);
    assert_eq!(n.value, ds_pseudonym(fx, &fx.cards.a));
    assert_eq!(n.sp_name_qualifier.as_deref(), Some(fx.ds_entity.as_str()));
    assert_eq!(n.name_qualifier.as_deref(), Some(fx.idp_entity.as_str()));
    let sc = &token.subject.as_ref().unwrap().confirmations[0];
    assert_eq!(sc.method, confirmation::BEARER);
    match &sc.id {
        Some(SubjectId::NameId(p)) => assert_eq!(p.value, fx.portal.entity),
        other => panic!("presenter: {other:?}"),
    }
    let authn: Vec<_> = token.authn_statements().collect();
    assert_eq!(
        authn[0].authn_context.class_ref.as_deref(),
        Some(classes::JPKI_USER_AUTHENTICATION_PIN)
    );
    assert_ne!(
        n.value, v.name_id.value,
        "the DS pseudonym is not the SP's NameID"
    );

    // Stable: a second login (another browser) gives the same NameID.
    let again = full_login(fx, &fx.portal, &fx.cards.a).await;
    assert_eq!(again.name_id.value, v.name_id.value);
    // Another resident, another NameID.
    let other = full_login(fx, &fx.portal, &fx.cards.b).await;
    assert_ne!(other.name_id.value, v.name_id.value);
}

#[tokio::test]
async fn post_binding_sso_session_force_authn_and_second_sp() {
    let fx = fixture();
    let b = Browser::new(&fx.base);
    let req = authn_request(&fx.portal, &fx.sso());
    let id = req.header.id.clone();
    let xml = signed_xml(&req.to_xml(), &id, &fx.portal);
    let form = B64.encode(xml.as_bytes());
    // Cross-site POST: no cookie goes with it, none is set; the request is parked.
    let r = b
        .post_form_cross_site(
            "/sso",
            &[("SAMLRequest", &form), ("RelayState", "post-relay")],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert!(r.header("set-cookie").is_none());
    let cont = r.location.unwrap();
    assert!(cont.starts_with("/sso/continue?r="));
    let r = b.get(&cont).await;
    assert_eq!(r.status, 303);
    let login = r.location.unwrap();
    // A parked request is taken once.
    assert_eq!(b.get(&cont).await.status, 400);
    let page = open_login(&b, &login).await;
    let r = sign_and_submit(fx, &b, &page, &fx.cards.c).await;
    let xml = r.saml_response().expect("Response");
    assert_eq!(r.form_value("RelayState").as_deref(), Some("post-relay"));
    let first = validate(fx, &fx.portal, &xml, Some(&id)).unwrap();

    // Single sign-on: the same browser, a new request, no login page.
    let req = authn_request(&fx.portal, &fx.sso());
    let r = b
        .get(&format!(
            "/sso?{}",
            redirect_query(&req.to_xml(), &fx.portal.key, None)
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let sso = validate(
        fx,
        &fx.portal,
        &r.saml_response().unwrap(),
        Some(&req.header.id),
    )
    .unwrap();
    assert_eq!(sso.name_id.value, first.name_id.value);
    assert_eq!(sso.session_index, first.session_index);
    assert_eq!(
        sso.authn_instant, first.authn_instant,
        "no new authentication"
    );

    // ForceAuthn: a fresh card login although a session exists.
    let mut req = authn_request(&fx.portal, &fx.sso());
    req.force_authn = Some(true);
    let r = b
        .get(&format!(
            "/sso?{}",
            redirect_query(&req.to_xml(), &fx.portal.key, None)
        ))
        .await;
    assert_eq!(r.status, 303);
    assert!(r.location.unwrap().starts_with("/login?tx="));

    // The clinic in the same session: SSO, another NameID, holder-of-key DS token to the
    // clinic's signing certificate.
    let req = authn_request(&fx.clinic, &fx.sso());
    let r = b
        .get(&format!(
            "/sso?{}",
            redirect_query(&req.to_xml(), &fx.clinic.key, None)
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let clinic = validate(
        fx,
        &fx.clinic,
        &r.saml_response().unwrap(),
        Some(&req.header.id),
    )
    .unwrap();
    assert!(clinic.encrypted);
    assert_ne!(clinic.name_id.value, first.name_id.value, "pairwise per SP");
    let token = ds_token(fx, &clinic, secmech::TLS_SAMLV2);
    let sc = &token.subject.as_ref().unwrap().confirmations[0];
    assert_eq!(sc.method, confirmation::HOLDER_OF_KEY);
    assert_eq!(subject_name_id(&token).value, ds_pseudonym(fx, &fx.cards.c));
}

#[tokio::test]
async fn signature_certificate_login_asserts_the_signature_class() {
    let fx = fixture();
    let b = Browser::new(&fx.base);
    let (r, id) = login_redirect(fx, &b, &fx.portal, &fx.cards.b, None, Some("sign")).await;
    let v = validate(
        fx,
        &fx.portal,
        &r.saml_response().expect("Response"),
        Some(&id),
    )
    .unwrap();
    assert_eq!(v.authn_context.as_deref(), Some(classes::JPKI_SIGNATURE));
    // Same person, same NameID whichever certificate.
    let auth = full_login(fx, &fx.portal, &fx.cards.b).await;
    assert_eq!(auth.name_id.value, v.name_id.value);
}

#[tokio::test]
async fn nameid_survives_card_renewal() {
    let fx = fixture();
    let before = full_login(fx, &fx.portal, &fx.cards.renew_old).await;
    // The renewal feed links the new card to the same person and retires the old one.
    let old = card(&fx.pki, &fx.cards.renew_old);
    let new = card(&fx.pki, &fx.cards.renew_new);
    let person = fx.person_of_card(&fx.cards.renew_old);
    for (o, n) in [
        (&old.auth_cert, &new.auth_cert),
        (&old.sign_cert, &new.sign_cert),
    ] {
        fx.store
            .supersede_certificate(
                &cert_key(o),
                &wsp_relay::NewCertificate {
                    key: cert_key(n),
                    person: person.clone(),
                    kind: if n.purpose == certs::Purpose::Signature {
                        wsp_relay::CertKind::Sign
                    } else {
                        wsp_relay::CertKind::Auth
                    },
                    subject_dn: n.subject.clone(),
                    not_before: n.not_before.unix_timestamp(),
                    not_after: n.not_after.unix_timestamp(),
                },
            )
            .unwrap();
    }
    let after = full_login(fx, &fx.portal, &fx.cards.renew_new).await;
    assert_eq!(
        after.name_id.value, before.name_id.value,
        "stable across the renewal"
    );
    // The old card: refused with the hint to use the new one.
    let b = Browser::new(&fx.base);
    let (r, _) = login_redirect(fx, &b, &fx.portal, &fx.cards.renew_old, None, None).await;
    assert_eq!(r.status, 403);
    assert_eq!(r.result_code().as_deref(), Some("superseded"));
    assert!(r.body.contains("新しいカード"));
    assert_no_response(&r);
}

#[tokio::test]
async fn refused_cards_get_their_page_and_no_assertion() {
    let fx = fixture();
    let cases = [
        (&fx.cards.expired, "expired"),
        (&fx.cards.not_yet_valid, "not_yet_valid"),
        (&fx.cards.key_compromise, "revoked"),
        (&fx.cards.superseded, "superseded"),
        (&fx.cards.forged, "invalid_card"),
        (&fx.cards.unknown, "unknown_certificate"),
        (&fx.cards.relay_revoked, "revoked"),
    ];
    for (card, code) in cases {
        let b = Browser::new(&fx.base);
        let (r, _) = login_redirect(fx, &b, &fx.portal, card, None, None).await;
        assert_eq!(
            r.result_code().as_deref(),
            Some(code),
            "card {card}: {}",
            r.body
        );
        assert!(r.status == 403, "card {card}: {}", r.status);
        assert_no_response(&r);
        // Still not signed in: a passive request gets NoPassive.
        let mut req = authn_request(&fx.portal, &fx.sso());
        req.is_passive = Some(true);
        let p = b
            .get(&format!(
                "/sso?{}",
                redirect_query(&req.to_xml(), &fx.portal.key, None)
            ))
            .await;
        let xml = p.saml_response().expect("NoPassive Response");
        assert_eq!(status_of(&xml).1.as_deref(), Some(status::NO_PASSIVE));
        if code == "unknown_certificate" {
            assert!(r.body.contains("名張市役所 窓口"), "{}", r.body);
        }
    }
    // English page.
    let b = Browser::new(&fx.base);
    let req = authn_request(&fx.portal, &fx.sso());
    let r = b
        .get(&format!(
            "/sso?{}",
            redirect_query(&req.to_xml(), &fx.portal.key, None)
        ))
        .await;
    let page = open_login(&b, &format!("{}&lang=en", r.location.unwrap())).await;
    let mut form_lang = page.clone();
    form_lang.tx = page.tx.clone();
    let r = sign_and_submit(fx, &b, &page, &fx.cards.unknown).await;
    assert_eq!(r.result_code().as_deref(), Some("unknown_certificate"));
}

#[tokio::test]
async fn login_page_shows_the_application_in_both_languages() {
    let fx = fixture();
    let b = Browser::new(&fx.base);
    let req = authn_request(&fx.portal, &fx.sso());
    let r = b
        .get(&format!(
            "/sso?{}",
            redirect_query(&req.to_xml(), &fx.portal.key, None)
        ))
        .await;
    let location = r.location.unwrap();
    let cookie = r
        .headers
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        cookie.contains("__Host-")
            && cookie.contains("Secure")
            && cookie.contains("HttpOnly")
            && cookie.contains("SameSite=Lax")
    );
    let page = b.get(&location).await;
    assert!(page.body.contains("<html lang=\"ja\">"));
    assert!(page.body.contains("名張市 住民ポータル") && page.body.contains("社会保障情報の閲覧"));
    assert!(page.body.contains("申請日時") && page.body.contains("申請番号"));
    assert!(page.body.contains("/static/idp-login.js"));
    let csp = page.header("content-security-policy").unwrap();
    assert!(
        csp.contains(&format!("connect-src {}", fx.agent.base_url())),
        "{csp}"
    );
    assert!(!csp.contains("unsafe-inline"));
    let challenge = attr_after(&page.body, "data-challenge=\"").unwrap();
    assert!(challenge.contains("サービスID / Service ID: https://portal.nabari.test/sp"));
    assert!(challenge.contains(&fx.idp_entity));
    let en = b.get(&format!("{location}&lang=en")).await;
    assert!(en.body.contains("<html lang=\"en\">"));
    assert!(en.body.contains("Nabari Resident Portal") && en.body.contains("Your application"));
    // Both PIN methods are offered to the portal; no PIN-less section.
    assert!(page.body.contains("kind=sign"));
    assert!(!page.body.contains("pinless-form"));
    // The static files are local.
    let js = b.get("/static/idp-login.js").await;
    assert_eq!(js.status, 200);
    assert!(js.body.contains("/v1/sign") && js.body.contains("pin_url"));
    assert_eq!(b.get("/static/idp.css").await.status, 200);
    // A login page without its request.
    let lost = Browser::new(&fx.base).get(&location).await;
    assert_eq!(lost.status, 400);
    assert_eq!(lost.result_code().as_deref(), Some("session_expired"));
}

// ---- requests that are refused ---------------------------------------------------------------

#[tokio::test]
async fn refused_requests_get_the_right_status_or_no_answer() {
    let fx = fixture();
    let b = Browser::new(&fx.base);
    let get = |q: String| {
        let b = &b;
        async move { b.get(&format!("/sso?{q}")).await }
    };

    // Unsigned although the portal's metadata says AuthnRequestsSigned: no answer.
    let req = authn_request(&fx.portal, &fx.sso());
    let r = get(unsigned_redirect_query(&req.to_xml())).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.result_code().as_deref(), Some("request_refused"));
    assert_no_response(&r);

    // Signed by the wrong key: no answer.
    let r = get(redirect_query(&req.to_xml(), &fx.clinic.key, None)).await;
    assert_eq!(r.status, 400);
    assert_no_response(&r);

    // An ACS URL the metadata does not list (also a javascript: one): nothing sent anywhere.
    for acs in [
        "https://evil.example/acs",
        "javascript:alert(1)",
        "https://portal.nabari.test/sp/acs/",
    ] {
        let mut req = authn_request(&fx.portal, &fx.sso());
        req.assertion_consumer_service_url = Some(acs.into());
        let r = get(redirect_query(&req.to_xml(), &fx.portal.key, None)).await;
        assert_eq!(r.status, 400, "{acs}");
        assert_no_response(&r);
        assert!(!r.body.contains("evil.example"));
    }

    // Wrong Destination: the SP is known and verified, so it gets RequestDenied at its ACS.
    let mut req = authn_request(&fx.portal, &fx.sso());
    req.header.destination = Some("https://idp.other.test/sso".into());
    let r = get(redirect_query(&req.to_xml(), &fx.portal.key, None)).await;
    let xml = r.saml_response().expect("an error Response");
    assert!(r.body.contains(&format!("action=\"{}\"", fx.portal.acs)));
    match validate(fx, &fx.portal, &xml, Some(&req.header.id)) {
        Err(SsoError::Status(top, second, _)) => {
            assert_eq!(top, status::REQUESTER);
            assert_eq!(second.as_deref(), Some(status::REQUEST_DENIED));
        }
        other => panic!("{other:?}"),
    }

    // Malformed DEFLATE and a DEFLATE bomb: no answer.
    let junk = B64.encode([0xffu8; 64]);
    let r = get(format!("SAMLRequest={}", idp::web::util::url_encode(&junk))).await;
    assert_eq!(r.status, 400);
    assert_no_response(&r);
    let mut big =
        String::from("<samlp:AuthnRequest xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\">");
    big.push_str(&" ".repeat(2 * 1024 * 1024));
    big.push_str("</samlp:AuthnRequest>");
    let q = encode_redirect(MessageKind::Request, big.as_bytes(), None, None).unwrap();
    assert!(q.len() < 64 * 1024, "the bomb is small on the wire");
    let r = get(q).await;
    assert_eq!(r.status, 400);
    assert_no_response(&r);
    // Duplicate parameters.
    let q = redirect_query(&req.to_xml(), &fx.portal.key, None);
    let r = get(format!("{q}&{}", q.split('&').next().unwrap())).await;
    assert_eq!(r.status, 400);
    assert_no_response(&r);

    // IsPassive without a session: NoPassive.
    let mut req = authn_request(&fx.portal, &fx.sso());
    req.is_passive = Some(true);
    let r = get(redirect_query(&req.to_xml(), &fx.portal.key, None)).await;
    let xml = r.saml_response().expect("NoPassive Response");
    match validate(fx, &fx.portal, &xml, Some(&req.header.id)) {
        Err(SsoError::Status(top, second, _)) => {
            assert_eq!(top, status::REQUESTER);
            assert_eq!(second.as_deref(), Some(status::NO_PASSIVE));
        }
        other => panic!("{other:?}"),
    }

    // A RequestedAuthnContext this IdP cannot meet for the portal: NoAuthnContext. The
    // PIN-less class exists but only for the clinic.
    for (cmp, class) in [
        (
            AuthnContextComparison::Exact,
            "urn:oasis:names:tc:SAML:2.0:ac:classes:Password",
        ),
        (
            AuthnContextComparison::Exact,
            classes::JPKI_PINLESS_ATTESTED,
        ),
        (AuthnContextComparison::Better, classes::JPKI_SIGNATURE),
    ] {
        let mut req = authn_request(&fx.portal, &fx.sso());
        req.requested_authn_context = Some(RequestedAuthnContext {
            comparison: cmp,
            refs: RequestedAuthnContextRefs::Class(vec![class.into()]),
        });
        let r = get(redirect_query(&req.to_xml(), &fx.portal.key, None)).await;
        let xml = r
            .saml_response()
            .unwrap_or_else(|| panic!("NoAuthnContext Response for {class}: {}", r.body));
        assert_eq!(
            status_of(&xml),
            (
                status::REQUESTER.to_string(),
                Some(status::NO_AUTHN_CONTEXT.to_string())
            )
        );
    }

    // An unknown NameID format: InvalidNameIDPolicy.
    let mut req = authn_request(&fx.portal, &fx.sso());
    req.name_id_policy = Some(NameIdPolicy {
        format: Some(nameid_format::EMAIL.into()),
        sp_name_qualifier: None,
        allow_create: Some(true),
    });
    let r = get(redirect_query(&req.to_xml(), &fx.portal.key, None)).await;
    let xml = r.saml_response().expect("error Response");
    assert_eq!(
        status_of(&xml).1.as_deref(),
        Some(status::INVALID_NAMEID_POLICY)
    );

    // No SAMLRequest at all; an unknown parked request.
    assert_eq!(b.get("/sso").await.status, 400);
    assert_eq!(b.get("/sso/continue?r=nothing").await.status, 400);
}

#[tokio::test]
async fn exact_signature_class_offers_only_the_signature_certificate() {
    let fx = fixture();
    let b = Browser::new(&fx.base);
    let mut req = authn_request(&fx.portal, &fx.sso());
    req.requested_authn_context = Some(RequestedAuthnContext {
        comparison: AuthnContextComparison::Exact,
        refs: RequestedAuthnContextRefs::Class(vec![classes::JPKI_SIGNATURE.into()]),
    });
    let id = req.header.id.clone();
    let r = b
        .get(&format!(
            "/sso?{}",
            redirect_query(&req.to_xml(), &fx.portal.key, None)
        ))
        .await;
    let page = open_login(&b, &r.location.unwrap()).await;
    assert_eq!(page.kind, "sign");
    let r = sign_and_submit(fx, &b, &page, &fx.cards.a).await;
    let v = validate(fx, &fx.portal, &r.saml_response().unwrap(), Some(&id)).unwrap();
    assert_eq!(v.authn_context.as_deref(), Some(classes::JPKI_SIGNATURE));
    // With that session, a request for the PIN class needs a new login (class not performed).
    let mut req = authn_request(&fx.portal, &fx.sso());
    req.requested_authn_context = Some(RequestedAuthnContext {
        comparison: AuthnContextComparison::Exact,
        refs: RequestedAuthnContextRefs::Class(vec![classes::JPKI_USER_AUTHENTICATION_PIN.into()]),
    });
    let r = b
        .get(&format!(
            "/sso?{}",
            redirect_query(&req.to_xml(), &fx.portal.key, None)
        ))
        .await;
    assert_eq!(r.status, 303);
}

#[tokio::test]
async fn transient_nameid_and_allow_create() {
    let fx = fixture();
    // Transient: random per session.
    let mut req = authn_request(&fx.portal, &fx.sso());
    req.name_id_policy = Some(NameIdPolicy {
        format: Some(nameid_format::TRANSIENT.into()),
        sp_name_qualifier: None,
        allow_create: None,
    });
    let b = Browser::new(&fx.base);
    let (r, id) = login_redirect(fx, &b, &fx.portal, &fx.cards.a, Some(req.clone()), None).await;
    let t1 = validate(fx, &fx.portal, &r.saml_response().unwrap(), Some(&id)).unwrap();
    assert_eq!(t1.name_id.format.as_deref(), Some(nameid_format::TRANSIENT));
    let b2 = Browser::new(&fx.base);
    let mut req2 = req.clone();
    req2.header.id = schemas::websso::new_id();
    let (r, id) = login_redirect(fx, &b2, &fx.portal, &fx.cards.a, Some(req2), None).await;
    let t2 = validate(fx, &fx.portal, &r.saml_response().unwrap(), Some(&id)).unwrap();
    assert_ne!(t1.name_id.value, t2.name_id.value);

    // AllowCreate="false" at the city SP, where this resident has no identifier yet.
    let mut req = authn_request(&fx.city, &fx.sso());
    req.name_id_policy.as_mut().unwrap().allow_create = Some(false);
    let b = Browser::new(&fx.base);
    let (r, id) = login_redirect(fx, &b, &fx.city, &fx.cards.renewed, Some(req), None).await;
    let xml = r.saml_response().expect("error Response");
    match validate(fx, &fx.city, &xml, Some(&id)) {
        Err(SsoError::Status(_, second, _)) => {
            assert_eq!(second.as_deref(), Some(status::INVALID_NAMEID_POLICY))
        }
        other => panic!("{other:?}"),
    }
}

// ---- forms: CSRF, replay, rate limits, cancel ---------------------------------------------------

#[tokio::test]
async fn csrf_token_is_required_on_every_form() {
    let fx = fixture();
    let b = Browser::new(&fx.base);
    let req = authn_request(&fx.portal, &fx.sso());
    let r = b
        .get(&format!(
            "/sso?{}",
            redirect_query(&req.to_xml(), &fx.portal.key, None)
        ))
        .await;
    let page = open_login(&b, &r.location.unwrap()).await;
    let base = [
        ("tx", page.tx.as_str()),
        ("nonce", page.nonce.as_str()),
        ("signature", "AA=="),
        ("certificate", "AA=="),
    ];
    let r = b.post_form("/login", &base).await;
    assert_eq!(r.status, 403, "missing token");
    let mut wrong = base.to_vec();
    wrong.push(("csrf", "not-the-token"));
    assert_eq!(b.post_form("/login", &wrong).await.status, 403);
    assert_eq!(b.post_form("/login/pinless", &base).await.status, 403);
    assert_eq!(
        b.post_form("/login/cancel", &[("tx", page.tx.as_str())])
            .await
            .status,
        403
    );
    // The right token from another browser (no session) is refused too.
    let other = Browser::new(&fx.base);
    let mut stolen = base.to_vec();
    stolen.push(("csrf", page.csrf.as_str()));
    assert_eq!(other.post_form("/login", &stolen).await.status, 403);
    assert_eq!(b.post_form("/logout", &[]).await.status, 403);
    // And the page still works with the token.
    let r = sign_and_submit(fx, &b, &page, &fx.cards.a).await;
    assert!(r.saml_response().is_some());
}

#[tokio::test]
async fn a_challenge_serves_one_attempt() {
    let fx = fixture();
    let b = Browser::new(&fx.base);
    let req = authn_request(&fx.portal, &fx.sso());
    let r = b
        .get(&format!(
            "/sso?{}",
            redirect_query(&req.to_xml(), &fx.portal.key, None)
        ))
        .await;
    let location = r.location.unwrap();
    let page = open_login(&b, &location).await;
    let sig = fx
        .agent_client()
        .sign_and_wait(&fx.cards.a, idp::agent::Kind::Auth, &page.challenge, None)
        .await
        .unwrap();
    let (s, c) = (B64.encode(&sig.signature), B64.encode(&sig.certificate));
    let form = |sig: &str| {
        vec![
            ("tx", page.tx.clone()),
            ("csrf", page.csrf.clone()),
            ("kind", page.kind.clone()),
            ("nonce", page.nonce.clone()),
            ("signature", sig.to_string()),
            ("certificate", c.clone()),
        ]
    };
    let as_refs = |v: &Vec<(&'static str, String)>| {
        v.iter().map(|(k, v)| (*k, v.clone())).collect::<Vec<_>>()
    };
    // The card's signature over another text first: refused, and the text is used up.
    let other = fx
        .agent_client()
        .sign_and_wait(
            &fx.cards.a,
            idp::agent::Kind::Auth,
            "別の申請文 / another text",
            None,
        )
        .await
        .unwrap();
    let f = as_refs(&form(&B64.encode(&other.signature)));
    let pairs: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = b.post_form("/login", &pairs).await;
    assert_eq!(r.result_code().as_deref(), Some("bad_signature"));
    assert_no_response(&r);
    // The genuine signature of the same text, replayed: refused.
    let f = as_refs(&form(&s));
    let pairs: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = b.post_form("/login", &pairs).await;
    assert_eq!(
        r.result_code().as_deref(),
        Some("challenge_used"),
        "{}",
        r.body
    );
    assert_no_response(&r);
    // A new text works; its signature replayed after the login is refused.
    let page2 = open_login(&b, &location).await;
    assert_ne!(page2.nonce, page.nonce);
    let ok = sign_and_submit(fx, &b, &page2, &fx.cards.a).await;
    assert!(ok.saml_response().is_some());
    let sig2 = fx
        .agent_client()
        .sign_and_wait(&fx.cards.a, idp::agent::Kind::Auth, &page2.challenge, None)
        .await
        .unwrap();
    let (s2, c2) = (B64.encode(&sig2.signature), B64.encode(&sig2.certificate));
    let csrf_now = ok.header("set-cookie").is_some();
    assert!(csrf_now, "a new session cookie after the login");
    let r = b
        .post_form(
            "/login",
            &[
                ("tx", &page2.tx),
                ("csrf", &page2.csrf),
                ("kind", "auth"),
                ("nonce", &page2.nonce),
                ("signature", &s2),
                ("certificate", &c2),
            ],
        )
        .await;
    assert_no_response(&r);
    assert!(r.status == 403 || r.status == 400, "{}", r.status);
}

#[tokio::test]
async fn rate_limits_answer_429() {
    let fx = fixture();
    // A second IdP instance with tight limits, on the same metadata.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let mut config = fx.config.clone();
    config.base_url = base.clone();
    config.state_dir = Some(fx.dir.path().join("idp-state-limits"));
    config.rate_limits.login_per_ip = idp::web::config::Bucket {
        burst: 1000,
        per_minute: 1,
    };
    config.rate_limits.login_per_certificate = idp::web::config::Bucket {
        burst: 1,
        per_minute: 1,
    };
    let state = idp::web::IdpState::build(config.clone()).unwrap();
    let _idp = idp::web::spawn(state, listener).unwrap();
    let sso = format!("{base}/sso");
    let b = Browser::new(&base);
    let attempt = |page: LoginPage| {
        let b = &b;
        async move {
            let cert = card(&fx.pki, &fx.cards.a);
            let der = std::fs::read(&cert.auth_cert.cert_der).unwrap();
            let c = B64.encode(der);
            b.post_form(
                "/login",
                &[
                    ("tx", &page.tx),
                    ("csrf", &page.csrf),
                    ("kind", "auth"),
                    ("nonce", &page.nonce),
                    ("signature", "AAAA"),
                    ("certificate", &c),
                ],
            )
            .await
        }
    };
    let req = authn_request(&fx.portal, &sso);
    let r = b
        .get(&format!(
            "/sso?{}",
            redirect_query(&req.to_xml(), &fx.portal.key, None)
        ))
        .await;
    let location = r.location.unwrap();
    let first = attempt(open_login(&b, &location).await).await;
    assert_eq!(first.result_code().as_deref(), Some("bad_signature"));
    let second = attempt(open_login(&b, &location).await).await;
    assert_eq!(second.status, 429, "per certificate");
    assert!(second.header("retry-after").is_some());

    // Per client IP.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    config.base_url = base.clone();
    config.state_dir = Some(fx.dir.path().join("idp-state-limits2"));
    config.rate_limits.login_per_ip = idp::web::config::Bucket {
        burst: 3,
        per_minute: 1,
    };
    let _idp2 = idp::web::spawn(idp::web::IdpState::build(config).unwrap(), listener).unwrap();
    let b = Browser::new(&base);
    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(
            b.post_form("/login", &[("tx", "x"), ("csrf", "y")])
                .await
                .status,
        );
    }
    assert_eq!(statuses, vec![403, 403, 403, 429, 429]);
}

#[tokio::test]
async fn cancel_answers_authn_failed() {
    let fx = fixture();
    let b = Browser::new(&fx.base);
    let req = authn_request(&fx.portal, &fx.sso());
    let r = b
        .get(&format!(
            "/sso?{}",
            redirect_query(&req.to_xml(), &fx.portal.key, Some("rs"))
        ))
        .await;
    let page = open_login(&b, &r.location.unwrap()).await;
    let r = b
        .post_form("/login/cancel", &[("tx", &page.tx), ("csrf", &page.csrf)])
        .await;
    let xml = r.saml_response().expect("AuthnFailed Response");
    assert_eq!(r.form_value("RelayState").as_deref(), Some("rs"));
    match validate(fx, &fx.portal, &xml, Some(&req.header.id)) {
        Err(SsoError::Status(top, second, _)) => {
            assert_eq!(top, status::RESPONDER);
            assert_eq!(second.as_deref(), Some(status::AUTHN_FAILED));
        }
        other => panic!("{other:?}"),
    }
    // The request is gone.
    let r = b
        .post_form("/login/cancel", &[("tx", &page.tx), ("csrf", &page.csrf)])
        .await;
    assert_eq!(r.status, 400);
}

// ---- artifact ---------------------------------------------------------------------------------

fn artifact_resolve(
    fx: &Fixture,
    issuer: &TestSp,
    signer: Option<&TestSp>,
    artifact: &str,
) -> String {
    let id = schemas::websso::new_id();
    let mut header = RequestHeader::new(
        id.clone(),
        now(),
        NameId::with_format(&issuer.entity, nameid_format::ENTITY),
    );
    header.destination = Some(fx.url("/artifact"));
    let xml = ArtifactResolve {
        header,
        artifact: artifact.to_string(),
    }
    .to_xml();
    let xml = match signer {
        Some(s) => signed_xml(&xml, &id, s),
        None => xml,
    };
    format!("<S:Envelope xmlns:S=\"http://schemas.xmlsoap.org/soap/envelope/\"><S:Body>{xml}</S:Body></S:Envelope>")
}

async fn resolve(fx: &Fixture, body: String) -> (u16, Option<ArtifactResponse>) {
    let b = Browser::new(&fx.base);
    let r = b.post_raw("/artifact", "text/xml", body).await;
    if r.status != 200 {
        return (r.status, None);
    }
    let doc = parse(r.body.as_bytes()).unwrap();
    let env = schemas::soap::Envelope::from_document(&doc).unwrap();
    let child = env.body_child().unwrap();
    let v = verify_enveloped(child, &fx.idp_keys(), &VerifyPolicy::default())
        .expect("signed ArtifactResponse");
    let vdoc = v.document().unwrap();
    (
        r.status,
        Some(ArtifactResponse::from_element(vdoc.root()).unwrap()),
    )
}

#[tokio::test]
async fn artifact_resolves_once_with_a_signed_request() {
    let fx = fixture();
    let b = Browser::new(&fx.base);
    let mut req = authn_request(&fx.portal, &fx.sso());
    req.assertion_consumer_service_url = None;
    req.protocol_binding = None;
    req.assertion_consumer_service_index = Some(1);
    let id = req.header.id.clone();
    let (r, _) = login_redirect(fx, &b, &fx.portal, &fx.cards.a, Some(req), None).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let location = r.location.unwrap();
    let acs = fx.portal.acs_artifact.clone().unwrap();
    assert!(
        location.starts_with(&format!("{acs}?SAMLart=")),
        "{location}"
    );
    assert!(location.contains("&RelayState=relay-1"));
    let raw = location
        .split("SAMLart=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap();
    let artifact = percent_encoding::percent_decode_str(raw)
        .decode_utf8()
        .unwrap()
        .to_string();
    let bytes = B64.decode(&artifact).unwrap();
    assert_eq!(bytes.len(), 44);
    assert_eq!(&bytes[..2], &[0, 4]);

    // Unsigned, wrongly signed, or signed by another SP for this artifact: nothing.
    let (s, resp) = resolve(fx, artifact_resolve(fx, &fx.portal, None, &artifact)).await;
    assert_eq!(s, 200);
    let resp = resp.unwrap();
    assert!(resp.message.is_none());
    assert_eq!(
        resp.header.status.second_level(),
        Some(status::REQUEST_DENIED)
    );
    let (_, resp) = resolve(
        fx,
        artifact_resolve(fx, &fx.portal, Some(&fx.clinic), &artifact),
    )
    .await;
    assert!(resp.unwrap().message.is_none());
    let (_, resp) = resolve(
        fx,
        artifact_resolve(fx, &fx.clinic, Some(&fx.clinic), &artifact),
    )
    .await;
    let resp = resp.unwrap();
    assert!(resp.message.is_none(), "not the clinic's artifact");
    assert!(resp.header.status.is_success());

    // The portal, signed: the Response, once.
    let (_, resp) = resolve(
        fx,
        artifact_resolve(fx, &fx.portal, Some(&fx.portal), &artifact),
    )
    .await;
    let message = resp.unwrap().message.expect("the Response");
    assert!(message.is(schemas::ns::SAMLP, "Response"));
    let mut sp = TestSp {
        acs: acs.clone(),
        ..clone_sp(&fx.portal)
    };
    sp.acs = acs;
    let v = validate(fx, &sp, message.xml.as_bytes(), Some(&id)).expect("valid Response");
    assert_eq!(
        v.authn_context.as_deref(),
        Some(classes::JPKI_USER_AUTHENTICATION_PIN)
    );
    let (_, resp) = resolve(
        fx,
        artifact_resolve(fx, &fx.portal, Some(&fx.portal), &artifact),
    )
    .await;
    assert!(resp.unwrap().message.is_none(), "an artifact resolves once");

    // Not SOAP at all: a fault.
    let (s, _) = resolve(fx, "<x/>".into()).await;
    assert_eq!(s, 500);
}

fn clone_sp(sp: &TestSp) -> TestSp {
    TestSp {
        entity: sp.entity.clone(),
        acs: sp.acs.clone(),
        acs_artifact: sp.acs_artifact.clone(),
        slo: sp.slo.clone(),
        key: sp.key.clone(),
        cert: sp.cert.clone(),
        enc_key: sp.enc_key.clone(),
    }
}

// ---- IdP-initiated, PIN-less -----------------------------------------------------------------

#[tokio::test]
async fn idp_initiated_only_where_configured() {
    let fx = fixture();
    let b = Browser::new(&fx.base);
    let q = idp::web::util::url_encode(&fx.portal.entity);
    let r = b.get(&format!("/start?sp={q}")).await;
    assert_eq!(r.status, 403);
    assert_no_response(&r);
    let r = b
        .get(&format!(
            "/start?sp={}",
            idp::web::util::url_encode("https://unknown.example/sp")
        ))
        .await;
    assert_eq!(r.status, 403);
    let r = b
        .get(&format!(
            "/start?sp={}&RelayState=home",
            idp::web::util::url_encode(CITY)
        ))
        .await;
    assert_eq!(r.status, 303);
    let page = open_login(&b, &r.location.unwrap()).await;
    let r = sign_and_submit(fx, &b, &page, &fx.cards.a).await;
    assert_eq!(r.form_value("RelayState").as_deref(), Some("home"));
    let v =
        validate(fx, &fx.city, &r.saml_response().unwrap(), None).expect("unsolicited Response");
    assert!(!v.encrypted, "the city has no encryption key");
    assert!(
        v.attribute(DISCOVERY_EPR_ATTRIBUTE).is_none(),
        "no bootstrap in a plain assertion"
    );
    let r = Response::from_xml(&r.saml_response().unwrap()).unwrap();
    assert!(r.header.in_response_to.is_none());
}

#[tokio::test]
async fn pinless_clinic_login_is_attested_and_leaves_no_session() {
    let fx = fixture();
    let b = Browser::new(&fx.base);
    let req = authn_request(&fx.clinic, &fx.sso());
    let id = req.header.id.clone();
    let r = b
        .get(&format!(
            "/sso?{}",
            redirect_query(&req.to_xml(), &fx.clinic.key, None)
        ))
        .await;
    let page = open_login(&b, &r.location.unwrap()).await;
    assert!(page.html.contains("pinless-form"));
    let der = fx
        .agent_client()
        .certificate(&fx.cards.a, idp::agent::Kind::Auth)
        .await
        .unwrap();
    let c = B64.encode(der);
    // No attestation: refused.
    let r = b
        .post_form(
            "/login/pinless",
            &[
                ("tx", &page.tx),
                ("csrf", &page.csrf),
                ("certificate", &c),
                ("staff_id", "N-0042"),
            ],
        )
        .await;
    assert_eq!(r.result_code().as_deref(), Some("pinless_refused"));
    assert_no_response(&r);
    let r = b
        .post_form(
            "/login/pinless",
            &[
                ("tx", &page.tx),
                ("csrf", &page.csrf),
                ("certificate", &c),
                ("staff_id", "N-0042"),
                ("face_checked", "yes"),
            ],
        )
        .await;
    let v = validate(
        fx,
        &fx.clinic,
        &r.saml_response().expect("Response"),
        Some(&id),
    )
    .unwrap();
    assert_eq!(
        v.authn_context.as_deref(),
        Some(classes::JPKI_PINLESS_ATTESTED)
    );
    // No resident session remains on the reception terminal.
    let mut req = authn_request(&fx.clinic, &fx.sso());
    req.is_passive = Some(true);
    let r = b
        .get(&format!(
            "/sso?{}",
            redirect_query(&req.to_xml(), &fx.clinic.key, None)
        ))
        .await;
    assert_eq!(
        status_of(&r.saml_response().unwrap()).1.as_deref(),
        Some(status::NO_PASSIVE)
    );

    // The portal is not a clinic: no PIN-less login there.
    let req = authn_request(&fx.portal, &fx.sso());
    let r = b
        .get(&format!(
            "/sso?{}",
            redirect_query(&req.to_xml(), &fx.portal.key, None)
        ))
        .await;
    let page = open_login(&b, &r.location.unwrap()).await;
    let r = b
        .post_form(
            "/login/pinless",
            &[
                ("tx", &page.tx),
                ("csrf", &page.csrf),
                ("certificate", &c),
                ("staff_id", "N-0042"),
                ("face_checked", "yes"),
            ],
        )
        .await;
    assert_eq!(r.result_code().as_deref(), Some("pinless_refused"));
    assert_no_response(&r);
}

// ---- Single Logout ----------------------------------------------------------------------------

fn logout_request_query(
    fx: &Fixture,
    sp: &TestSp,
    name_id: &NameId,
    session_index: &str,
) -> (String, String) {
    let id = schemas::websso::new_id();
    let mut header = RequestHeader::new(
        id.clone(),
        now(),
        NameId::with_format(&sp.entity, nameid_format::ENTITY),
    );
    header.destination = Some(fx.url("/slo"));
    let lr = LogoutRequest {
        header,
        not_on_or_after: None,
        reason: None,
        id: SubjectId::NameId(name_id.clone()),
        session_indexes: vec![session_index.to_string()],
    };
    (redirect_query(&lr.to_xml(), &sp.key, Some("slo-relay")), id)
}

/// Decodes a Redirect-binding message at `location`, checking the IdP's query signature.
fn redirected_message(fx: &Fixture, location: &str) -> (MessageKind, Vec<u8>, Option<String>) {
    let query = location.split_once('?').unwrap().1;
    let m = schemas::binding::decode_redirect(query, &Default::default()).unwrap();
    let keys = fx.idp_keys();
    let verifier = schemas::binding::OpensslQueryVerifier::new(
        keys.iter().map(|k| k.public_key().clone()).collect(),
    );
    m.verify(&verifier).expect("signed by the IdP");
    (m.kind, m.xml, m.relay_state)
}

async fn sso_to(fx: &Fixture, b: &Browser, sp: &TestSp) -> schemas::websso::ValidatedAssertion {
    let req = authn_request(sp, &fx.sso());
    let r = b
        .get(&format!(
            "/sso?{}",
            redirect_query(&req.to_xml(), &sp.key, None)
        ))
        .await;
    validate(
        fx,
        sp,
        &r.saml_response().unwrap_or_else(|| panic!("{}", r.body)),
        Some(&req.header.id),
    )
    .unwrap()
}

#[tokio::test]
async fn sp_logout_ends_the_session_and_tells_the_other_sp_back_channel() {
    let fx = fixture();
    let b = Browser::new(&fx.base);
    let (r, id) = login_redirect(fx, &b, &fx.portal, &fx.cards.c, None, None).await;
    let portal = validate(fx, &fx.portal, &r.saml_response().unwrap(), Some(&id)).unwrap();
    let clinic = sso_to(fx, &b, &fx.clinic).await;
    let before = fx.soap.received.lock().unwrap().len();

    let (q, lr_id) = logout_request_query(
        fx,
        &fx.portal,
        &portal.name_id,
        portal.session_index.as_deref().unwrap(),
    );
    let r = b.get(&format!("/slo?{q}")).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let location = r.location.clone().unwrap();
    assert!(location.starts_with(fx.portal.slo.as_deref().unwrap()));
    let (kind, xml, rs) = redirected_message(fx, &location);
    assert_eq!(kind, MessageKind::Response);
    assert_eq!(rs.as_deref(), Some("slo-relay"));
    let resp = LogoutResponse::from_xml(&xml).unwrap();
    assert_eq!(resp.header.in_response_to.as_deref(), Some(lr_id.as_str()));
    assert!(resp.header.status.is_success() && resp.header.status.second_level().is_none());
    assert!(r.header("set-cookie").unwrap().contains("Max-Age=0"));

    // The clinic got a signed back-channel LogoutRequest for its own NameID and SessionIndex.
    let got = fx.soap.received.lock().unwrap()[before..]
        .iter()
        .find(|lr| matches!(&lr.id, SubjectId::NameId(n) if n.value == clinic.name_id.value))
        .cloned()
        .expect("the clinic was told");
    assert_eq!(
        got.session_indexes,
        vec![clinic.session_index.clone().unwrap()]
    );

    // The IdP session is gone.
    let mut req = authn_request(&fx.portal, &fx.sso());
    req.is_passive = Some(true);
    let r = b
        .get(&format!(
            "/sso?{}",
            redirect_query(&req.to_xml(), &fx.portal.key, None)
        ))
        .await;
    assert_eq!(
        status_of(&r.saml_response().unwrap()).1.as_deref(),
        Some(status::NO_PASSIVE)
    );

    // An unsigned LogoutRequest is refused.
    let (q, _) = logout_request_query(fx, &fx.portal, &portal.name_id, "x");
    let unsigned: String = q
        .split('&')
        .filter(|p| !p.starts_with("SigAlg") && !p.starts_with("Signature"))
        .collect::<Vec<_>>()
        .join("&");
    assert_eq!(b.get(&format!("/slo?{unsigned}")).await.status, 400);
}

#[tokio::test]
async fn front_channel_logout_chain_and_partial_logout() {
    let fx = fixture();
    let b = Browser::new(&fx.base);
    let (r, id) = login_redirect(fx, &b, &fx.portal, &fx.cards.b, None, None).await;
    let portal = validate(fx, &fx.portal, &r.saml_response().unwrap(), Some(&id)).unwrap();
    let city = sso_to(fx, &b, &fx.city).await;

    let (q, lr_id) = logout_request_query(
        fx,
        &fx.portal,
        &portal.name_id,
        portal.session_index.as_deref().unwrap(),
    );
    let r = b.get(&format!("/slo?{q}")).await;
    assert_eq!(r.status, 303);
    let location = r.location.unwrap();
    assert!(location.starts_with(CITY_SLO), "{location}");
    let (kind, xml, rs) = redirected_message(fx, &location);
    assert_eq!(kind, MessageKind::Request);
    let to_city = LogoutRequest::from_xml(&xml).unwrap();
    assert!(matches!(&to_city.id, SubjectId::NameId(n) if n.value == city.name_id.value));
    assert_eq!(
        to_city.session_indexes,
        vec![city.session_index.clone().unwrap()]
    );

    // The city answers through the browser.
    let rid = schemas::websso::new_id();
    let mut h = StatusResponseHeader::new(
        rid,
        now(),
        NameId::with_format(CITY, nameid_format::ENTITY),
        Status::success(),
    );
    h.in_response_to = Some(to_city.header.id.clone());
    h.destination = Some(fx.url("/slo"));
    let signer = schemas::binding::OpensslQuerySigner::new(
        fx.city.key.clone(),
        schemas::binding::SigAlg::RsaSha256,
    )
    .unwrap();
    let q = encode_redirect(
        MessageKind::Response,
        LogoutResponse { header: h }.to_xml().as_bytes(),
        rs.as_deref(),
        Some(&signer),
    )
    .unwrap();
    let r = b.get(&format!("/slo?{q}")).await;
    assert_eq!(r.status, 303);
    let location = r.location.unwrap();
    assert!(location.starts_with(fx.portal.slo.as_deref().unwrap()));
    let (_, xml, _) = redirected_message(fx, &location);
    let resp = LogoutResponse::from_xml(&xml).unwrap();
    assert_eq!(resp.header.in_response_to.as_deref(), Some(lr_id.as_str()));
    assert!(resp.header.status.is_success() && resp.header.status.second_level().is_none());

    // Back-channel from the clinic, with the portal (front-channel only) in the session:
    // the portal cannot be told without a browser → PartialLogout.
    let b = Browser::new(&fx.base);
    let (r, id) = login_redirect(fx, &b, &fx.clinic, &fx.cards.a, None, None).await;
    let clinic = validate(fx, &fx.clinic, &r.saml_response().unwrap(), Some(&id)).unwrap();
    sso_to(fx, &b, &fx.portal).await;
    let lid = schemas::websso::new_id();
    let mut header = RequestHeader::new(
        lid.clone(),
        now(),
        NameId::with_format(&fx.clinic.entity, nameid_format::ENTITY),
    );
    header.destination = Some(fx.url("/slo/soap"));
    let lr = LogoutRequest {
        header,
        not_on_or_after: None,
        reason: None,
        id: SubjectId::NameId(clinic.name_id.clone()),
        session_indexes: vec![clinic.session_index.clone().unwrap()],
    };
    let signed = signed_xml(&lr.to_xml(), &lid, &fx.clinic);
    let r = b
        .post_raw(
            "/slo/soap",
            "text/xml",
            format!("<S:Envelope xmlns:S=\"http://schemas.xmlsoap.org/soap/envelope/\"><S:Body>{signed}</S:Body></S:Envelope>"),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let doc = parse(r.body.as_bytes()).unwrap();
    let env = schemas::soap::Envelope::from_document(&doc).unwrap();
    let v = verify_enveloped(
        env.body_child().unwrap(),
        &fx.idp_keys(),
        &VerifyPolicy::default(),
    )
    .unwrap();
    let resp = LogoutResponse::from_element(v.document().unwrap().root()).unwrap();
    assert_eq!(resp.header.in_response_to.as_deref(), Some(lid.as_str()));
    assert_eq!(
        resp.header.status.second_level(),
        Some(status::PARTIAL_LOGOUT)
    );
    // Unsigned over SOAP: a fault.
    let r = b
        .post_raw(
            "/slo/soap",
            "text/xml",
            format!("<S:Envelope xmlns:S=\"http://schemas.xmlsoap.org/soap/envelope/\"><S:Body>{}</S:Body></S:Envelope>", lr.to_xml()),
        )
        .await;
    assert_eq!(r.status, 500);
}

// ---- metadata -----------------------------------------------------------------------------------

#[tokio::test]
async fn published_metadata_is_signed_and_lists_both_keys() {
    let fx = fixture();
    let b = Browser::new(&fx.base);
    let r = b.get("/metadata").await;
    assert_eq!(r.status, 200);
    assert!(r
        .header("content-type")
        .unwrap()
        .starts_with("application/samlmetadata+xml"));
    let doc = parse(r.body.as_bytes()).unwrap();
    let v = verify_enveloped(doc.root(), &fx.idp_keys(), &VerifyPolicy::default())
        .expect("signed by the IdP");
    let e = EntityDescriptor::from_element(v.document().unwrap().root())
        .expect("parses with the models");
    assert_eq!(e.entity_id, fx.idp_entity);
    let vu = e.valid_until.expect("validUntil");
    assert!(vu > now() + time::Duration::days(6) && vu <= now() + time::Duration::days(7));
    let idp = e.idp().unwrap();
    assert_eq!(
        idp.sso.signing_certificates().len(),
        2,
        "two signing keys during the rollover"
    );
    assert!(idp
        .sso
        .key_descriptors
        .iter()
        .all(|k| k.key_use == Some(KeyUse::Signing)));
    assert_eq!(
        idp.sso_service(bindings::HTTP_REDIRECT).unwrap().location,
        fx.sso()
    );
    assert_eq!(
        idp.sso_service(bindings::HTTP_POST).unwrap().location,
        fx.sso()
    );
    assert_eq!(
        idp.sso.artifact_resolution_services[0].endpoint.location,
        fx.url("/artifact")
    );
    assert_eq!(
        idp.sso
            .single_logout_service(bindings::SOAP)
            .unwrap()
            .location,
        fx.url("/slo/soap")
    );
    assert!(idp
        .sso
        .single_logout_service(bindings::HTTP_REDIRECT)
        .is_some());
    assert_eq!(idp.want_authn_requests_signed, Some(true));
    assert!(idp
        .sso
        .name_id_formats
        .contains(&nameid_format::PERSISTENT.to_string()));
    assert!(idp
        .sso
        .name_id_formats
        .contains(&nameid_format::TRANSIENT.to_string()));
    // The second generation's key is published but does not sign yet.
    let gen2 = idp.sso.signing_certificates()[1];
    let k2 = schemas::dsig::TrustedKey::from_certificate_der(gen2).unwrap();
    assert!(verify_enveloped(doc.root(), &[k2], &VerifyPolicy::default()).is_err());
}

#[tokio::test]
async fn a_bad_metadata_refresh_keeps_the_old_store() {
    let fx = fixture();
    let state = fx.idp.state();
    let before = state.trust().unwrap().len();
    assert!(state
        .install_metadata(b"<md:EntitiesDescriptor/>", now())
        .is_err());
    // Signed by another key.
    let forged = aggregate(
        &[],
        &fx.portal.key,
        &fx.portal.cert,
        time::Duration::days(1),
    );
    assert!(state.install_metadata(forged.as_bytes(), now()).is_err());
    assert_eq!(state.trust().unwrap().len(), before);
    // The real file refreshes.
    assert_eq!(state.refresh_metadata().await.unwrap(), before);
}

#[test]
fn signed_aggregate_in_the_fixture_verifies() {
    let fx = fixture();
    let xml = std::fs::read(&fx.aggregate_path).unwrap();
    let anchor = schemas::dsig::TrustedKey::from_certificate(&fx.relay_cert).unwrap();
    let store = schemas::trust::TrustStore::load(&xml, vec![anchor], now()).unwrap();
    assert!(store.idp(&fx.idp_entity).is_some());
}

// ---- logs ---------------------------------------------------------------------------------------

#[tokio::test]
async fn logs_carry_request_ids_and_no_identifiers() {
    let fx = fixture();
    let b = Browser::new(&fx.base);
    let (r, id) = login_redirect(fx, &b, &fx.portal, &fx.cards.a, None, None).await;
    let v = validate(fx, &fx.portal, &r.saml_response().unwrap(), Some(&id)).unwrap();
    let session = b.cookie("__Host-nabari-idp").expect("session cookie");
    let card = card(&fx.pki, &fx.cards.a);
    let pseudonym = ds_pseudonym(fx, &fx.cards.a);
    let logs = logs();
    assert!(logs.contains("\"req_id\""), "request IDs in the logs");
    assert!(logs.contains("assertion issued") && logs.contains("card login"));
    for (what, secret) in [
        ("NameID", v.name_id.value.as_str()),
        ("session cookie", session.as_str()),
        ("DS pseudonym", pseudonym.as_str()),
        ("person ID", fx.person_of_card(&fx.cards.a).expose()),
        ("certificate serial", card.auth_cert.serial.as_str()),
        ("resident name", card.resident.name.as_str()),
    ] {
        assert!(!logs.contains(secret), "the {what} is in the logs");
    }
    // The assertion's log line is in the request's span.
    let line = logs
        .lines()
        .find(|l| l.contains("assertion issued") && l.contains("req_id"))
        .expect("the issuing line carries the request ID");
    assert!(line.contains("nameid#"), "{line}");
}

#[tokio::test]
async fn post_binding_logout_request() {
    let fx = fixture();
    let b = Browser::new(&fx.base);
    let (r, id) = login_redirect(fx, &b, &fx.portal, &fx.cards.b, None, None).await;
    let portal = validate(fx, &fx.portal, &r.saml_response().unwrap(), Some(&id)).unwrap();
    let lid = schemas::websso::new_id();
    let mut header = RequestHeader::new(
        lid.clone(),
        now(),
        NameId::with_format(&fx.portal.entity, nameid_format::ENTITY),
    );
    header.destination = Some(fx.url("/slo"));
    let lr = LogoutRequest {
        header,
        not_on_or_after: None,
        reason: None,
        id: SubjectId::NameId(portal.name_id.clone()),
        session_indexes: vec![portal.session_index.clone().unwrap()],
    };
    // Unsigned over POST: refused.
    let unsigned = B64.encode(lr.to_xml());
    let r = b
        .post_form_cross_site("/slo", &[("SAMLRequest", &unsigned)])
        .await;
    assert_eq!(r.status, 400);
    let signed = B64.encode(signed_xml(&lr.to_xml(), &lid, &fx.portal));
    let r = b
        .post_form_cross_site("/slo", &[("SAMLRequest", &signed), ("RelayState", "p")])
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let (kind, xml, rs) = redirected_message(fx, &r.location.unwrap());
    assert_eq!(kind, MessageKind::Response);
    assert_eq!(rs.as_deref(), Some("p"));
    let resp = LogoutResponse::from_xml(&xml).unwrap();
    assert_eq!(resp.header.in_response_to.as_deref(), Some(lid.as_str()));
    assert!(resp.header.status.is_success());
    // The session is gone.
    let mut req = authn_request(&fx.portal, &fx.sso());
    req.is_passive = Some(true);
    let r = b
        .get(&format!(
            "/sso?{}",
            redirect_query(&req.to_xml(), &fx.portal.key, None)
        ))
        .await;
    assert_eq!(
        status_of(&r.saml_response().unwrap()).1.as_deref(),
        Some(status::NO_PASSIVE)
    );
}

#[tokio::test]
async fn logout_started_at_the_idp_goes_through_every_sp() {
    let fx = fixture();
    let b = Browser::new(&fx.base);
    let (r, id) = login_redirect(fx, &b, &fx.portal, &fx.cards.c, None, None).await;
    let portal = validate(fx, &fx.portal, &r.saml_response().unwrap(), Some(&id)).unwrap();
    let page = b.get("/logout").await;
    assert_eq!(page.status, 200);
    let csrf = page.form_value("csrf").expect("a form with the CSRF token");
    let r = b.post_form("/logout", &[("csrf", &csrf)]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let location = r.location.unwrap();
    assert!(location.starts_with(fx.portal.slo.as_deref().unwrap()));
    let (kind, xml, rs) = redirected_message(fx, &location);
    assert_eq!(kind, MessageKind::Request);
    let lr = LogoutRequest::from_xml(&xml).unwrap();
    assert!(matches!(&lr.id, SubjectId::NameId(n) if n.value == portal.name_id.value));
    // The portal answers; the IdP shows its own page and drops the cookie.
    let mut h = StatusResponseHeader::new(
        schemas::websso::new_id(),
        now(),
        NameId::with_format(&fx.portal.entity, nameid_format::ENTITY),
        Status::success(),
    );
    h.in_response_to = Some(lr.header.id.clone());
    h.destination = Some(fx.url("/slo"));
    let signer = schemas::binding::OpensslQuerySigner::new(
        fx.portal.key.clone(),
        schemas::binding::SigAlg::RsaSha256,
    )
    .unwrap();
    let q = encode_redirect(
        MessageKind::Response,
        LogoutResponse { header: h }.to_xml().as_bytes(),
        rs.as_deref(),
        Some(&signer),
    )
    .unwrap();
    let r = b.get(&format!("/slo?{q}")).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.result_code().as_deref(), Some("signed_out"));
    assert!(r.header("set-cookie").unwrap().contains("Max-Age=0"));
    // A replayed LogoutResponse finds no logout in progress.
    assert_eq!(b.get(&format!("/slo?{q}")).await.status, 400);
}

#[tokio::test]
async fn a_stale_challenge_is_refused() {
    let fx = fixture();
    // An instance whose texts live one second.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let mut config = fx.config.clone();
    config.base_url = base.clone();
    config.state_dir = Some(fx.dir.path().join("idp-state-stale"));
    config.jpki.challenge_lifetime_secs = 1;
    let _idp = idp::web::spawn(idp::web::IdpState::build(config).unwrap(), listener).unwrap();
    let b = Browser::new(&base);
    let req = authn_request(&fx.portal, &format!("{base}/sso"));
    let r = b
        .get(&format!(
            "/sso?{}",
            redirect_query(&req.to_xml(), &fx.portal.key, None)
        ))
        .await;
    let page = open_login(&b, &r.location.unwrap()).await;
    let agent = idp::agent::AgentClient::new(fx.agent.base_url(), fx.base.clone());
    let sig = agent
        .sign_and_wait(&fx.cards.a, idp::agent::Kind::Auth, &page.challenge, None)
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let (s, c) = (B64.encode(&sig.signature), B64.encode(&sig.certificate));
    let r = b
        .post_form(
            "/login",
            &[
                ("tx", &page.tx),
                ("csrf", &page.csrf),
                ("kind", "auth"),
                ("nonce", &page.nonce),
                ("signature", &s),
                ("certificate", &c),
            ],
        )
        .await;
    assert_eq!(
        r.result_code().as_deref(),
        Some("challenge_used"),
        "{}",
        r.body
    );
    assert_no_response(&r);
}

// ---- the DS accepts the bootstrap ---------------------------------------------------------------

/// The portal (or clinic) calls the DS with the bootstrap EPR's token, as a WSC does; the DS side
/// of `schemas::wsf` (what the relay runs) accepts it: issuer = the IdP, audience and
/// SPNameQualifier = the DS, subject = the pseudonym, presenter = the sender, confirmation per
/// mechanism.
async fn ds_accepts(fx: &Fixture, sp: &TestSp, card: &str, mech: &str) {
    use schemas::idwsf::disco::{action, Query, RequestedService};
    use schemas::wsf::{
        build_request, validate_request, InMemoryMessageIdCache, RequestParams, ServerContext,
        StaticPeers, TrustedIssuer,
    };
    let v = full_login(fx, sp, card).await;
    let attr = v.attribute(DISCOVERY_EPR_ATTRIBUTE).unwrap();
    let AttributeValue::Element { xml, .. } = &attr.values[0] else {
        panic!("element value");
    };
    let epr = EndpointReference::from_xml(xml.as_bytes()).unwrap();
    let md = epr.metadata.as_ref().unwrap();
    let (mech_found, sc) = md.security_context_for(&[mech]).unwrap();
    let token = sc.security_contexts_token();
    let query = Query {
        requested_services: vec![RequestedService {
            service_types: vec![schemas::idwsf::service_type::PENSION.into()],
            provider_ids: vec![],
            options: vec![],
            security_mech_ids: vec![],
            frameworks: vec![],
            actions: vec![],
            extensions: vec![],
            req_id: None,
            results_type: None,
        }],
    };
    let params = RequestParams::new(
        &sp.entity,
        &epr.address,
        action::QUERY,
        mech_found,
        Some(token),
        now(),
    );
    let request = build_request(&params, &query.to_xml(), Some(&sp.signer())).expect("WSC request");
    let peers = StaticPeers::new().with(
        sp.entity.clone(),
        vec![schemas::dsig::TrustedKey::from_certificate(&sp.cert).unwrap()],
    );
    let issuers = [TrustedIssuer::new(fx.idp_entity.clone(), fx.idp_keys())];
    let dec = DecryptionKeys::new(vec![fx.ds_enc_key.clone()]);
    let mut ctx = ServerContext::new(&fx.ds_entity, &epr.address, &peers, &issuers, now());
    ctx.allowed_actions = &[action::QUERY];
    ctx.accepted_mechanisms = &[secmech::TLS_BEARER, secmech::TLS_SAMLV2];
    ctx.decryption_keys = Some(&dec);
    let replay = InMemoryMessageIdCache::default();
    let ok = validate_request(request.as_bytes(), &ctx, &replay)
        .unwrap_or_else(|f| panic!("the DS refused: {f:?}"));
    assert_eq!(ok.mechanism, mech);
    assert_eq!(ok.sender, sp.entity);
    let t = ok.token.as_ref().unwrap();
    assert_eq!(t.issuer, fx.idp_entity);
    assert!(t.encrypted);
    assert_eq!(t.name_id.value, ds_pseudonym(fx, card));
    assert_eq!(t.authn_context_class.as_deref(), v.authn_context.as_deref());
}

trait TokenOf {
    fn security_contexts_token(&self) -> &schemas::idwsf::SamlToken;
}

impl TokenOf for schemas::idwsf::SecurityContext {
    fn security_contexts_token(&self) -> &schemas::idwsf::SamlToken {
        self.token(token_usage::SECURITY_TOKEN)
            .and_then(|t| t.content.as_ref())
            .expect("sec:Token")
    }
}

#[tokio::test]
async fn the_ds_accepts_the_bootstrap_token_bearer_and_holder_of_key() {
    let fx = fixture();
    ds_accepts(fx, &fx.portal, &fx.cards.b, secmech::TLS_BEARER).await;
    ds_accepts(fx, &fx.clinic, &fx.cards.c, secmech::TLS_SAMLV2).await;
}
