//! ID-WSF 2.0 message security: one test per negative item of idwsf-2.0.md §7 ("SOAP binding"
//! and "Security mechanisms / tokens"), on the WSP side (each asserting the typed refusal, the
//! SOAP faultcode, the `lu:Status` code and its second level, as the fault goes on the wire) and
//! on the WSC side (responses).

#[path = "wsf_fixtures.rs"]
mod fixtures;

use fixtures::*;
use schemas::dsig::{sign_references, DsigError, SignOptions, Signer};
use schemas::idwsf::headers::ReplyTo;
use schemas::idwsf::{code, secmech, EndpointReference, IdwsfError, SamlToken};
use schemas::ns;
use schemas::soap::{Envelope, FaultCode};
use schemas::wsf::client::{build_request, validate_response, RequestParams, ResponseExpectations};
use schemas::wsf::replay::InMemoryMessageIdCache;
use schemas::wsf::server::{
    build_fault, build_response, validate_request, FaultKind, FaultResponse, ResponseParams,
    ServerContext, WsfFault,
};
use schemas::wsf::token::{
    assertion_for, encrypt_assertion, mint_token, seal_assertion, Confirmation, TokenParams,
};
use schemas::wsf::{code as second, WsfError};
use schemas::xml::{parse, XmlError};
use time::Duration;

fn cache() -> InMemoryMessageIdCache {
    InMemoryMessageIdCache::with_clock(10_000, now)
}

fn refuse(xml: &str, ctx: &ServerContext<'_>) -> WsfFault {
    match validate_request(xml.as_bytes(), ctx, &cache()) {
        Ok(_) => panic!("accepted:\n{xml}"),
        Err(f) => f,
    }
}

/// Checks the codes, then sends the fault as the WSP would and reads it back from the wire.
fn assert_fault(f: &WsfFault, faultcode: FaultCode, top: Option<&str>, second_level: Option<&str>) {
    assert_eq!(f.soap_fault_code(), faultcode, "{f}");
    assert_eq!(f.status_code(), top, "{f}");
    assert_eq!(f.second_level(), second_level, "{f}");
    let xml = build_fault(
        &FaultResponse::from(f),
        &ResponseParams::for_fault(f, WSP_A, now()),
        Some(&wsp_a().signer()),
    )
    .unwrap();
    let doc = parse(xml.as_bytes()).unwrap();
    let env = Envelope::from_document(&doc).unwrap();
    let wire = env.fault().unwrap().unwrap();
    assert_eq!(wire.code, faultcode);
    assert_eq!(wire.idwsf_code(), top);
    assert_eq!(
        wire.status.as_ref().and_then(|s| s.second_level()),
        second_level
    );
    // The faultstring never carries the principal's pseudonym.
    assert!(!wire.string.contains(PSEUDONYM_A), "{}", wire.string);
}

fn client() -> FaultCode {
    FaultCode::client()
}

fn inappropriate(f: &WsfFault, second_level: &str) {
    assert_fault(
        f,
        client(),
        Some(code::INAPPROPRIATE_CREDENTIALS),
        Some(second_level),
    );
}

fn bearer_xml() -> String {
    bearer_request_a(&bearer_token_a()).0
}

fn bearer_xml_with(edit: impl FnOnce(&mut RequestParams<'_>)) -> String {
    let token = bearer_token_a();
    let mut p = request_a(secmech::TLS_BEARER, &token);
    edit(&mut p);
    build_request(&p, pension_query(), None).unwrap()
}

/// A request with `token`, signed by the portal over exactly `ids` (by default everything).
fn signed_over(token: &SamlToken, ids: &[&str], signer: &dyn Signer) -> String {
    let p = request_a(secmech::TLS_BEARER, token);
    let unsigned = build_request(&p, pension_query(), None).unwrap();
    sign_references(
        &unsigned,
        (ns::WSSE, "Security"),
        ids,
        signer,
        &SignOptions::default(),
    )
    .unwrap()
}

const ALL_PARTS: &[&str] = &[
    "body",
    "hdr-ts",
    "hdr-msgid",
    "hdr-to",
    "hdr-action",
    "hdr-framework",
    "hdr-sender",
    "hdr-ui",
];

fn token_with(edit: impl FnOnce(&mut TokenParams<'static>)) -> SamlToken {
    let mut p = params_a(Confirmation::Bearer);
    edit(&mut p);
    mint_token(&p, &ds().signer(), Some(&wsp_a().recipient())).unwrap()
}

fn token_refused(token: &SamlToken) -> WsfFault {
    let (xml, _) = bearer_request_a(token);
    refuse(&xml, &ctx_a())
}

// ---------------------------------------------------------------------------------------------
// SOAP binding

#[test]
fn missing_framework_is_a_framework_version_mismatch() {
    let xml = remove_element(&bearer_xml(), "<sbf:Framework", "/>");
    let f = refuse(&xml, &ctx_a());
    assert!(matches!(f.kind, FaultKind::FrameworkVersion(None)), "{f}");
    assert!(
        f.request_message_id.is_some(),
        "the fault still relates to the request"
    );
    assert_fault(&f, client(), Some(code::FRAMEWORK_VERSION_MISMATCH), None);
}

#[test]
fn framework_version_1_1_is_a_framework_version_mismatch() {
    let xml = replace_once(&bearer_xml(), r#"version="2.0""#, r#"version="1.1""#);
    let f = refuse(&xml, &ctx_a());
    assert!(
        matches!(&f.kind, FaultKind::FrameworkVersion(Some(v)) if v == "1.1"),
        "{f}"
    );
    assert_fault(&f, client(), Some(code::FRAMEWORK_VERSION_MISMATCH), None);
}

#[test]
fn framework_in_the_wrong_namespace_is_a_framework_version_mismatch() {
    // The Danish `urn:liberty:sb:2006-08` spelling: understood (no MustUnderstand fault), and
    // counted as absent.
    let xml = replace_once(&bearer_xml(), "<sbf:Framework ", "<sb:Framework ");
    let f = refuse(&xml, &ctx_a());
    assert!(matches!(f.kind, FaultKind::FrameworkVersion(None)), "{f}");
    assert_fault(&f, client(), Some(code::FRAMEWORK_VERSION_MISMATCH), None);
}

#[test]
fn missing_message_id_is_not_understood() {
    let xml = remove_element(&bearer_xml(), "<wsa:MessageID", "</wsa:MessageID>");
    let f = refuse(&xml, &ctx_a());
    assert!(matches!(f.kind, FaultKind::MissingMessageId), "{f}");
    assert!(f.request_message_id.is_none());
    assert_fault(&f, client(), Some(code::ID_STAR_MSG_NOT_UNDERSTOOD), None);
}

#[test]
fn repeated_message_id_is_a_duplicate() {
    let cache = cache();
    let (xml, _) = bearer_request_a(&bearer_token_a());
    validate_request(xml.as_bytes(), &ctx_a(), &cache).unwrap();
    let f = validate_request(xml.as_bytes(), &ctx_a(), &cache).unwrap_err();
    assert!(matches!(f.kind, FaultKind::DuplicateMessage), "{f}");
    assert_fault(&f, client(), Some(code::DUPLICATE_MSG), None);

    // The same MessageID in a new message (new Timestamp) is still a duplicate ...
    let token = bearer_token_a();
    let mut p = request_a(secmech::TLS_BEARER, &token);
    let first_id = p.message_id.clone();
    let again = {
        p.now = now() + Duration::seconds(30);
        p.message_id = first_id.clone();
        build_request(&p, pension_query(), None).unwrap()
    };
    let mut ctx = ctx_a();
    ctx.now = now() + Duration::seconds(30);
    let first = {
        let mut p0 = request_a(secmech::TLS_BEARER, &token);
        p0.message_id = first_id;
        build_request(&p0, pension_query(), None).unwrap()
    };
    validate_request(first.as_bytes(), &ctx_a(), &cache).unwrap();
    let f = validate_request(again.as_bytes(), &ctx, &cache).unwrap_err();
    assert!(matches!(f.kind, FaultKind::DuplicateMessage), "{f}");
}

#[test]
fn same_token_with_a_new_message_id_is_accepted() {
    // Replay defence is MessageID + Timestamp, not the token: a DS token is reused.
    let cache = cache();
    let token = bearer_token_a();
    for _ in 0..3 {
        let (xml, _) = bearer_request_a(&token);
        validate_request(xml.as_bytes(), &ctx_a(), &cache).unwrap();
    }
}

#[test]
fn stale_and_future_timestamps_are_stale() {
    for (offset, what) in [
        (-600, "stale"),
        (600, "future"),
        (-181, "just beyond the skew"),
    ] {
        let xml = bearer_xml_with(|p| p.now = now() + Duration::seconds(offset));
        let f = refuse(&xml, &ctx_a());
        assert!(matches!(f.kind, FaultKind::StaleMessage(_)), "{what}: {f}");
        assert_fault(&f, client(), Some(code::STALE_MSG), None);
    }
    // Within the skew either way: fine.
    for offset in [-170, 170] {
        let xml = bearer_xml_with(|p| p.now = now() + Duration::seconds(offset));
        validate_request(xml.as_bytes(), &ctx_a(), &cache()).unwrap();
    }
    // No Timestamp at all.
    let xml = remove_element(&bearer_xml(), "<wsu:Timestamp", "</wsu:Timestamp>");
    let f = refuse(&xml, &ctx_a());
    assert!(matches!(f.kind, FaultKind::StaleMessage(_)), "{f}");
    assert_fault(&f, client(), Some(code::STALE_MSG), None);
}

#[test]
fn unknown_sender_is_not_a_valid_provider() {
    let xml = bearer_xml_with(|p| p.sender = ATTACKER);
    let f = refuse(&xml, &ctx_a());
    assert!(
        matches!(&f.kind, FaultKind::UnknownSender(Some(s)) if s == ATTACKER),
        "{f}"
    );
    assert_fault(&f, client(), Some(code::PROVIDER_ID_NOT_VALID), None);

    let xml = remove_element(&bearer_xml(), "<sb:Sender", "/>");
    let f = refuse(&xml, &ctx_a());
    assert!(matches!(f.kind, FaultKind::UnknownSender(None)), "{f}");
    assert_fault(&f, client(), Some(code::PROVIDER_ID_NOT_VALID), None);
}

#[test]
fn unknown_must_understand_header_is_a_must_understand_fault() {
    let xml = replace_once(
        &bearer_xml(),
        "<S:Header>",
        r#"<S:Header><x:Billing xmlns:x="urn:x" S:mustUnderstand="1">42</x:Billing>"#,
    );
    let f = refuse(&xml, &ctx_a());
    assert!(matches!(f.kind, FaultKind::MustUnderstand(_)), "{f}");
    assert_fault(&f, FaultCode::must_understand(), None, None);
    // Without mustUnderstand (or for another actor) it is ignored.
    let ignorable = replace_once(
        &bearer_xml(),
        "<S:Header>",
        r#"<S:Header><x:Billing xmlns:x="urn:x">42</x:Billing><x:Other xmlns:x="urn:x" S:mustUnderstand="1" S:actor="urn:x:elsewhere"/>"#,
    );
    validate_request(ignorable.as_bytes(), &ctx_a(), &cache()).unwrap();
}

#[test]
fn wrong_action_is_not_supported_here() {
    let xml = bearer_xml_with(|p| p.action = HI_ACTION);
    let f = refuse(&xml, &ctx_a());
    assert!(
        matches!(&f.kind, FaultKind::ActionNotSupported(Some(a)) if a == HI_ACTION),
        "{f}"
    );
    assert_fault(
        &f,
        client(),
        Some(code::ID_STAR_MSG_NOT_UNDERSTOOD),
        Some(second::ACTION_NOT_SUPPORTED),
    );
    let xml = remove_element(&bearer_xml(), "<wsa:Action", "</wsa:Action>");
    let f = refuse(&xml, &ctx_a());
    assert!(matches!(f.kind, FaultKind::ActionNotSupported(None)), "{f}");
}

#[test]
fn wrong_to_is_refused() {
    let xml = bearer_xml_with(|p| p.to = WSP_B_ENDPOINT);
    let f = refuse(&xml, &ctx_a());
    assert!(
        matches!(&f.kind, FaultKind::WrongDestination(t) if t == WSP_B_ENDPOINT),
        "{f}"
    );
    assert_fault(
        &f,
        client(),
        Some(code::ID_STAR_MSG_NOT_UNDERSTOOD),
        Some(second::DESTINATION_UNREACHABLE),
    );
    // A prefix of the endpoint URL is not the endpoint.
    let xml = bearer_xml_with(|p| p.to = "https://pension.nabari.example/soap/");
    assert!(matches!(
        refuse(&xml, &ctx_a()).kind,
        FaultKind::WrongDestination(_)
    ));
}

#[test]
fn non_anonymous_reply_to_is_refused_and_anonymous_is_fine() {
    let reply = |addr: &str| {
        let block =
            schemas::idwsf::IdwsfXml::to_xml(&ReplyTo(EndpointReference::address_only(addr)));
        replace_once(&bearer_xml(), "<S:Header>", &format!("<S:Header>{block}"))
    };
    let f = refuse(&reply("https://evil.example/collect"), &ctx_a());
    assert!(matches!(f.kind, FaultKind::NonAnonymousReply(_)), "{f}");
    assert_fault(
        &f,
        client(),
        Some(code::ID_STAR_MSG_NOT_UNDERSTOOD),
        Some(second::ONLY_ANONYMOUS_ADDRESS_SUPPORTED),
    );
    validate_request(
        reply(schemas::idwsf::WSA_ANONYMOUS).as_bytes(),
        &ctx_a(),
        &cache(),
    )
    .unwrap();
}

#[test]
fn soap_1_2_envelope_is_a_version_mismatch() {
    let xml = bearer_xml().replace(
        "http://schemas.xmlsoap.org/soap/envelope/",
        "http://www.w3.org/2003/05/soap-envelope",
    );
    let f = refuse(&xml, &ctx_a());
    assert_fault(&f, FaultCode::version_mismatch(), None, None);
}

// ---------------------------------------------------------------------------------------------
// Security mechanisms / tokens

#[test]
fn tampered_token_is_refused() {
    // Signed plain, altered, then encrypted to the WSP (as a compromised relay could).
    let signed = mint_token(&params_a(Confirmation::Bearer), &ds().signer(), None).unwrap();
    let altered = replace_once(&signed.xml, PSEUDONYM_A, "pw-a-someone-else");
    let f = token_refused(&encrypt_assertion(&altered, &wsp_a().recipient()).unwrap());
    assert!(
        matches!(f.kind, FaultKind::TokenSignature(DsigError::DigestMismatch)),
        "{f}"
    );
    inappropriate(&f, second::FAILED_CHECK);

    // A SignatureValue altered.
    let i = signed.xml.find("<ds:SignatureValue>").unwrap() + "<ds:SignatureValue>".len();
    let mut bad = signed.xml.clone();
    let c = if &bad[i..i + 1] == "A" { "B" } else { "A" };
    bad.replace_range(i..i + 1, c);
    let f = token_refused(&encrypt_assertion(&bad, &wsp_a().recipient()).unwrap());
    assert!(
        matches!(f.kind, FaultKind::TokenSignature(DsigError::BadSignature)),
        "{f}"
    );
    inappropriate(&f, second::FAILED_CHECK);

    // The signature removed.
    let i = signed.xml.find("<ds:Signature").unwrap();
    let j = signed.xml.find("</ds:Signature>").unwrap() + "</ds:Signature>".len();
    let stripped = format!("{}{}", &signed.xml[..i], &signed.xml[j..]);
    let f = token_refused(&encrypt_assertion(&stripped, &wsp_a().recipient()).unwrap());
    assert!(
        matches!(f.kind, FaultKind::TokenSignature(DsigError::Unsigned)),
        "{f}"
    );
    inappropriate(&f, second::FAILED_CHECK);
}

#[test]
fn token_signed_by_an_untrusted_key_with_its_certificate_in_key_info_is_refused() {
    let p = params_a(Confirmation::Bearer);
    let plain = mint_token(&p, &attacker().signer(), None).unwrap();
    assert!(
        plain.xml.contains("<ds:X509Certificate>"),
        "the attacker's cert is offered"
    );
    let token = encrypt_assertion(&plain.xml, &wsp_a().recipient()).unwrap();
    let f = token_refused(&token);
    assert!(
        matches!(f.kind, FaultKind::TokenSignature(DsigError::BadSignature)),
        "{f}"
    );
    inappropriate(&f, second::FAILED_CHECK);
}

#[test]
fn token_of_another_issuer_signed_with_a_trusted_key_is_refused() {
    // Signed with the DS's key, but naming the IdP as issuer (the WSP trusts only the DS).
    let t = token_with(|p| p.issuer = IDP);
    let f = token_refused(&t);
    assert!(
        matches!(&f.kind, FaultKind::UntrustedIssuer(i) if i == IDP),
        "{f}"
    );
    inappropriate(&f, second::FAILED_AUTHENTICATION);
}

#[test]
fn expired_and_not_yet_valid_tokens_are_refused() {
    for (nb, noa, what) in [
        (-600, -181, "expired beyond the skew"),
        (181, 600, "not yet valid beyond the skew"),
    ] {
        let t = token_with(|p| {
            p.not_before = now() + Duration::seconds(nb);
            p.not_on_or_after = now() + Duration::seconds(noa);
        });
        let f = token_refused(&t);
        assert!(matches!(f.kind, FaultKind::TokenTime(_)), "{what}: {f}");
        inappropriate(&f, second::INVALID_SECURITY_TOKEN);
    }
    // Within the skew: accepted.
    let t = token_with(|p| {
        p.not_before = now() - Duration::seconds(600);
        p.not_on_or_after = now() - Duration::seconds(170);
    });
    let (xml, _) = bearer_request_a(&t);
    validate_request(xml.as_bytes(), &ctx_a(), &cache()).unwrap();
}

#[test]
fn audience_missing_different_prefix_or_extension_is_refused() {
    let mut a = assertion_for(&params_a(Confirmation::Bearer)).unwrap();
    a.conditions.as_mut().unwrap().audience_restrictions.clear();
    let missing = seal_assertion(&a, &ds().signer(), Some(&wsp_a().recipient())).unwrap();
    let f = token_refused(&missing);
    assert!(
        matches!(f.kind, FaultKind::AudienceMismatch(_)),
        "missing: {f}"
    );
    inappropriate(&f, second::FAILED_AUTHENTICATION);

    for audience in [
        WSP_B,
        "https://pension.nabari.example",
        "https://pension.nabari.example/x",
        "https://pension.nabari.example//",
        "HTTPS://PENSION.NABARI.EXAMPLE/",
        "https://pension.nabari.example:443/",
    ] {
        // SPNameQualifier stays ours so that only the audience is wrong.
        let mut a = assertion_for(&params_a(Confirmation::Bearer)).unwrap();
        a.conditions.as_mut().unwrap().audience_restrictions[0].audiences = vec![audience.into()];
        let t = seal_assertion(&a, &ds().signer(), Some(&wsp_a().recipient())).unwrap();
        let f = token_refused(&t);
        assert!(
            matches!(f.kind, FaultKind::AudienceMismatch(_)),
            "{audience:?}: {f}"
        );
        inappropriate(&f, second::FAILED_AUTHENTICATION);
    }

    // Surrounding whitespace is not part of an xs:anyURI (whiteSpace="collapse"): the SAML model
    // reads the Audience without it, so this is our exact ID and is accepted.
    let mut a = assertion_for(&params_a(Confirmation::Bearer)).unwrap();
    a.conditions.as_mut().unwrap().audience_restrictions[0].audiences = vec![format!(" {WSP_A}\n")];
    let t = seal_assertion(&a, &ds().signer(), Some(&wsp_a().recipient())).unwrap();
    let (xml, _) = bearer_request_a(&t);
    validate_request(xml.as_bytes(), &ctx_a(), &cache()).unwrap();

    // Two restrictions: both must be satisfied.
    let mut a = assertion_for(&params_a(Confirmation::Bearer)).unwrap();
    let c = a.conditions.as_mut().unwrap();
    c.audience_restrictions
        .push(schemas::saml::AudienceRestriction {
            audiences: vec![WSP_B.into()],
        });
    let t = seal_assertion(&a, &ds().signer(), Some(&wsp_a().recipient())).unwrap();
    assert!(matches!(
        token_refused(&t).kind,
        FaultKind::AudienceMismatch(_)
    ));
}

#[test]
fn name_qualifier_other_than_the_issuer_is_refused() {
    let mut a = assertion_for(&params_a(Confirmation::Bearer)).unwrap();
    let s = a.subject.as_mut().unwrap();
    let Some(schemas::saml::SubjectId::NameId(n)) = s.id.as_mut() else {
        panic!()
    };
    n.name_qualifier = Some(IDP.into());
    let t = seal_assertion(&a, &ds().signer(), Some(&wsp_a().recipient())).unwrap();
    let f = token_refused(&t);
    assert!(matches!(f.kind, FaultKind::SubjectMismatch(_)), "{f}");
    inappropriate(&f, second::FAILED_AUTHENTICATION);
}

#[test]
fn sp_name_qualifier_other_than_the_wsp_is_refused() {
    let mut a = assertion_for(&params_a(Confirmation::Bearer)).unwrap();
    let s = a.subject.as_mut().unwrap();
    let Some(schemas::saml::SubjectId::NameId(n)) = s.id.as_mut() else {
        panic!()
    };
    n.sp_name_qualifier = Some(WSP_B.into());
    let t = seal_assertion(&a, &ds().signer(), Some(&wsp_a().recipient())).unwrap();
    let f = token_refused(&t);
    assert!(matches!(f.kind, FaultKind::SubjectMismatch(_)), "{f}");
    inappropriate(&f, second::FAILED_AUTHENTICATION);
}

#[test]
fn wsp_a_token_at_wsp_b_is_refused() {
    // As the WSC would forward it: encrypted to A, B cannot even read it.
    let token = bearer_token_a();
    let p = RequestParams::new(
        PORTAL,
        WSP_B_ENDPOINT,
        HI_ACTION,
        secmech::TLS_BEARER,
        Some(&token),
        now(),
    );
    let xml = build_request(&p, pension_query(), None).unwrap();
    let f = refuse(&xml, &ctx_b());
    assert!(matches!(f.kind, FaultKind::TokenDecryption(_)), "{f}");
    inappropriate(&f, second::FAILED_CHECK);

    // Even readable by B (encrypted to B by mistake), A's token is not for B.
    let readable = mint_token(
        &params_a(Confirmation::Bearer),
        &ds().signer(),
        Some(&wsp_b().recipient()),
    )
    .unwrap();
    let p = RequestParams::new(
        PORTAL,
        WSP_B_ENDPOINT,
        HI_ACTION,
        secmech::TLS_BEARER,
        Some(&readable),
        now(),
    );
    let xml = build_request(&p, pension_query(), None).unwrap();
    let f = refuse(&xml, &ctx_b());
    assert!(matches!(f.kind, FaultKind::AudienceMismatch(_)), "{f}");
    inappropriate(&f, second::FAILED_AUTHENTICATION);
}

#[test]
fn bearer_without_tls_is_refused() {
    let xml = bearer_xml();
    let mut ctx = ctx_a();
    ctx.over_tls = false;
    let f = refuse(&xml, &ctx);
    assert!(matches!(f.kind, FaultKind::BearerWithoutTls), "{f}");
    inappropriate(&f, second::FAILED_AUTHENTICATION);

    // The test switch lets it through the confirmation check, but `null:Bearer` must still be
    // advertised: a production endpoint (TLS mechanisms only) refuses it.
    ctx.allow_insecure_for_tests = true;
    let f = refuse(&xml, &ctx);
    assert!(
        matches!(&f.kind, FaultKind::MechanismNotAccepted(m) if m == secmech::NULL_BEARER),
        "{f}"
    );
    ctx.accepted_mechanisms = &[secmech::NULL_BEARER];
    let ok = validate_request(xml.as_bytes(), &ctx, &cache()).unwrap();
    assert_eq!(ok.mechanism, secmech::NULL_BEARER);
}

#[test]
fn holder_of_key_signed_by_another_key_is_refused() {
    // Signed by the attacker (who stole the token), or by another key of the portal itself.
    for signer in [attacker().signer(), portal_ec().signer()] {
        let (xml, _) = hok_request_a(&hok_token_a(), &signer);
        let f = refuse(&xml, &ctx_a());
        assert!(
            matches!(f.kind, FaultKind::MessageSignature(DsigError::BadSignature)),
            "{f}"
        );
        inappropriate(&f, second::FAILED_CHECK);
    }
}

#[test]
fn holder_of_key_without_signature_is_refused() {
    let token = hok_token_a();
    let p = request_a(secmech::TLS_BEARER, &token);
    let xml = build_request(&p, pension_query(), None).unwrap();
    let f = refuse(&xml, &ctx_a());
    assert!(matches!(f.kind, FaultKind::HolderOfKeyUnproven(_)), "{f}");
    inappropriate(&f, second::INVALID_SECURITY);
}

#[test]
fn holder_of_key_signature_must_cover_every_part() {
    let token = hok_token_a();
    let signer = portal().signer();
    // Control: the same construction over every part is accepted.
    let all = signed_over(&token, ALL_PARTS, &signer);
    let ok = validate_request(all.as_bytes(), &ctx_a(), &cache()).unwrap();
    assert_eq!(ok.mechanism, secmech::TLS_SAMLV2);
    for missing in [
        "body",
        "hdr-ts",
        "hdr-msgid",
        "hdr-action",
        "hdr-to",
        "hdr-sender",
        "hdr-framework",
    ] {
        let ids: Vec<&str> = ALL_PARTS
            .iter()
            .copied()
            .filter(|i| *i != missing)
            .collect();
        let xml = signed_over(&token, &ids, &signer);
        let f = refuse(&xml, &ctx_a());
        assert!(
            matches!(&f.kind, FaultKind::MessageSignature(DsigError::NotCovered(id)) if id == missing),
            "{missing}: {f}"
        );
        inappropriate(&f, second::INVALID_SECURITY);
    }
}

#[test]
fn wrapping_with_a_duplicate_id_is_refused_by_the_parser() {
    let (xml, _) = hok_request_a(&hok_token_a(), &portal().signer());
    let wrapped = replace_once(
        &xml,
        "<S:Header>",
        r#"<S:Header><x:Copy xmlns:x="urn:x" wsu:Id="body"/>"#,
    );
    let f = refuse(&wrapped, &ctx_a());
    assert!(
        matches!(&f.kind, FaultKind::Malformed(schemas::soap::SoapError::Xml(XmlError::DuplicateId(id))) if id == "body"),
        "{f}"
    );
    assert_fault(&f, client(), Some(code::ID_STAR_MSG_NOT_UNDERSTOOD), None);
}

#[test]
fn body_moved_into_a_header_is_refused() {
    let (xml, _) = hok_request_a(&hok_token_a(), &portal().signer());
    let start = xml.find("<S:Body").unwrap();
    let end = xml.find("</S:Body>").unwrap() + "</S:Body>".len();
    let signed_body = &xml[start..end];
    let evil = r#"<pen:Query xmlns:pen="urn:nabari:idwsf:svc:pension:2010"><pen:Select>everything</pen:Select></pen:Query>"#;
    for new_body in [
        format!("<S:Body>{evil}</S:Body>"),
        format!(r#"<S:Body wsu:Id="body2">{evil}</S:Body>"#),
    ] {
        let moved = format!("{}{}{}", &xml[..start], new_body, &xml[end..]);
        let moved = replace_once(
            &moved,
            "<S:Header>",
            &format!(r#"<S:Header><x:Stash xmlns:x="urn:x">{signed_body}</x:Stash>"#),
        );
        // The signature still resolves #body (to the stashed copy) ...
        let doc = parse(moved.as_bytes()).unwrap();
        assert!(doc.element_by_id("body").is_some());
        // ... but the Body consumed is not what it covers.
        let f = refuse(&moved, &ctx_a());
        assert!(
            matches!(
                f.kind,
                FaultKind::MessageSignature(DsigError::NotCovered(_))
            ),
            "{f}"
        );
        inappropriate(&f, second::INVALID_SECURITY);
    }
}

#[test]
fn body_altered_under_the_signature_is_refused() {
    let (xml, _) = hok_request_a(&hok_token_a(), &portal().signer());
    let altered = replace_once(&xml, "<pen:Select>history", "<pen:Select>everything");
    let f = refuse(&altered, &ctx_a());
    assert!(
        matches!(
            f.kind,
            FaultKind::MessageSignature(DsigError::DigestMismatch)
        ),
        "{f}"
    );
    inappropriate(&f, second::FAILED_CHECK);
}

#[test]
fn signed_bearer_message_must_verify_with_the_sender_key() {
    let token = bearer_token_a();
    let xml = signed_over(&token, ALL_PARTS, &attacker().signer());
    let f = refuse(&xml, &ctx_a());
    assert!(
        matches!(f.kind, FaultKind::MessageSignature(DsigError::BadSignature)),
        "{f}"
    );
    inappropriate(&f, second::FAILED_CHECK);
}

#[test]
fn unadvertised_mechanism_is_inappropriate_credentials() {
    let xml = bearer_xml();
    let mut ctx = ctx_a();
    ctx.accepted_mechanisms = &[secmech::TLS_SAMLV2];
    let f = refuse(&xml, &ctx);
    assert!(
        matches!(&f.kind, FaultKind::MechanismNotAccepted(m) if m == secmech::TLS_BEARER),
        "{f}"
    );
    inappropriate(&f, second::UNSUPPORTED_SECURITY_TOKEN);
    assert_eq!(
        f.credentials_context().unwrap().security_mech_ids,
        vec![secmech::TLS_SAMLV2.to_string()]
    );
    // The fault on the wire carries sb:CredentialsContext.
    let fault_xml = build_fault(
        &FaultResponse::from(&f),
        &ResponseParams::for_fault(&f, WSP_A, now()),
        None,
    )
    .unwrap();
    assert!(fault_xml.contains("<sb:CredentialsContext"));
    assert!(fault_xml.contains(secmech::TLS_SAMLV2));
}

#[test]
fn two_tokens_are_refused() {
    let (xml, _) = bearer_request_a(&bearer_token_a());
    let second_token = bearer_token_a();
    let doubled = replace_once(
        &xml,
        "</wsu:Timestamp>",
        &format!("</wsu:Timestamp>{}", second_token.xml),
    );
    let f = refuse(&doubled, &ctx_a());
    assert!(
        matches!(
            &f.kind,
            FaultKind::Header(IdwsfError::Header {
                header: "wsse:Security",
                ..
            })
        ),
        "{f}"
    );
    inappropriate(&f, second::INVALID_SECURITY_TOKEN);
}

#[test]
fn missing_token_is_unavailable() {
    let p = RequestParams::new(
        PORTAL,
        WSP_A_ENDPOINT,
        PENSION_ACTION,
        secmech::TLS_NULL,
        None,
        now(),
    );
    let xml = build_request(&p, pension_query(), None).unwrap();
    let f = refuse(&xml, &ctx_a());
    assert!(matches!(f.kind, FaultKind::TokenMissing), "{f}");
    inappropriate(&f, second::SECURITY_TOKEN_UNAVAILABLE);
    assert!(f.credentials_context().is_some());
}

#[test]
fn plain_token_is_refused_where_encryption_is_required() {
    let plain = mint_token(&params_a(Confirmation::Bearer), &ds().signer(), None).unwrap();
    let f = token_refused(&plain);
    assert!(matches!(f.kind, FaultKind::InvalidToken(_)), "{f}");
    inappropriate(&f, second::INVALID_SECURITY_TOKEN);
}

#[test]
fn presenter_other_than_the_sender_is_refused() {
    let t = token_with(|p| p.presenter = Some(WSP_B));
    let f = token_refused(&t);
    assert!(matches!(f.kind, FaultKind::PresenterMismatch), "{f}");
    inappropriate(&f, second::FAILED_AUTHENTICATION);
    // Naming the actual sender is fine.
    let t = token_with(|p| p.presenter = Some(PORTAL));
    let (xml, _) = bearer_request_a(&t);
    validate_request(xml.as_bytes(), &ctx_a(), &cache()).unwrap();
}

#[test]
fn one_time_use_token_is_accepted_once() {
    let cache = cache();
    let t = token_with(|p| p.one_time_use = true);
    let (first, _) = bearer_request_a(&t);
    validate_request(first.as_bytes(), &ctx_a(), &cache).unwrap();
    let (second_use, _) = bearer_request_a(&t);
    let f = validate_request(second_use.as_bytes(), &ctx_a(), &cache).unwrap_err();
    assert!(matches!(f.kind, FaultKind::TokenReplayed), "{f}");
    inappropriate(&f, second::INVALID_SECURITY_TOKEN);
}

#[test]
fn peer_saml_v2_with_another_tls_certificate_is_refused() {
    let token = hok_token_a();
    let p = request_a(secmech::CLIENT_TLS_PEER_SAMLV2, &token);
    let xml = build_request(&p, pension_query(), None).unwrap();
    let other = attacker().cert_der();
    let mut ctx = ctx_a();
    ctx.accepted_mechanisms = &[secmech::CLIENT_TLS_PEER_SAMLV2];
    ctx.tls_client_certificate = Some(&other);
    let f = refuse(&xml, &ctx);
    assert!(matches!(f.kind, FaultKind::HolderOfKeyUnproven(_)), "{f}");
    inappropriate(&f, second::INVALID_SECURITY);
}

#[test]
fn bad_target_identity_is_target_identity_not_valid() {
    let invoker = bearer_token_a();
    let target = token_with(|p| p.audience = WSP_B);
    let mut p = request_a(secmech::TLS_BEARER, &invoker);
    p.target_identity = Some(&target);
    let xml = build_request(&p, pension_query(), None).unwrap();
    let f = refuse(&xml, &ctx_a());
    assert!(matches!(f.kind, FaultKind::TargetIdentity(_)), "{f}");
    assert_fault(
        &f,
        client(),
        Some(code::TARGET_IDENTITY_NOT_VALID),
        Some(second::FAILED_AUTHENTICATION),
    );
}

// ---------------------------------------------------------------------------------------------
// Responses (WSC side)

/// A validated request to WSP A and its MessageID.
fn answered() -> (schemas::wsf::ValidatedRequest, String) {
    let (xml, id) = hok_request_a(&hok_token_a(), &portal().signer());
    (
        validate_request(xml.as_bytes(), &ctx_a(), &cache()).unwrap(),
        id,
    )
}

fn response_from(own: &str, relates_to: &str, signer: Option<&dyn Signer>) -> String {
    build_response(
        &ResponseParams::new(Some(relates_to), own, now()),
        pension_response(),
        signer,
    )
    .unwrap()
}

fn check(resp: &str, request_id: &str) -> Result<schemas::wsf::ValidatedResponse, WsfError> {
    let keys = [wsp_a().trusted()];
    validate_response(
        resp.as_bytes(),
        &ResponseExpectations::new(request_id, WSP_A, &keys, now()),
    )
}

#[test]
fn response_relating_to_another_request_is_refused() {
    let (_, id) = answered();
    let resp = response_from(
        WSP_A,
        "urn:uuid:00000000-0000-4000-8000-000000000000",
        Some(&wsp_a().signer()),
    );
    let err = check(&resp, &id).unwrap_err();
    assert!(
        matches!(err, WsfError::Header(IdwsfError::RelatesToMismatch { .. })),
        "{err}"
    );
    assert_eq!(err.status_code(), Some(code::INVALID_REF_TO_MSG_ID));
    // No RelatesTo at all.
    let resp = remove_element(
        &response_from(WSP_A, &id, Some(&wsp_a().signer())),
        "<wsa:RelatesTo",
        "</wsa:RelatesTo>",
    );
    let err = check(&resp, &id).unwrap_err();
    assert_eq!(
        err.status_code(),
        Some(code::INVALID_REF_TO_MSG_ID),
        "{err}"
    );
}

#[test]
fn response_from_another_sender_is_refused() {
    let (_, id) = answered();
    // WSP B answering in its own name, with its own key.
    let resp = response_from(WSP_B, &id, Some(&wsp_b().signer()));
    let err = check(&resp, &id).unwrap_err();
    assert!(
        matches!(&err, WsfError::WrongSender { found: Some(s), .. } if s == WSP_B),
        "{err}"
    );
    assert_eq!(err.status_code(), Some(code::PROVIDER_ID_NOT_VALID));
    // WSP B answering in A's name: its signature does not verify with A's keys.
    let resp = response_from(WSP_A, &id, Some(&wsp_b().signer()));
    let err = check(&resp, &id).unwrap_err();
    assert!(
        matches!(err, WsfError::ResponseSignature(DsigError::BadSignature)),
        "{err}"
    );
    assert_eq!(err.status_code(), Some(code::INAPPROPRIATE_CREDENTIALS));
    assert_eq!(err.second_level(), Some(second::FAILED_CHECK));
}

#[test]
fn unsigned_response_is_refused_when_required() {
    let (_, id) = answered();
    let resp = response_from(WSP_A, &id, None);
    let err = check(&resp, &id).unwrap_err();
    assert!(matches!(err, WsfError::Unsigned), "{err}");
    assert_eq!(err.status_code(), Some(code::INAPPROPRIATE_CREDENTIALS));
    assert_eq!(err.second_level(), Some(second::INVALID_SECURITY));
    // Accepted (and marked unsigned) when the WSC does not require it.
    let keys = [wsp_a().trusted()];
    let mut exp = ResponseExpectations::new(&id, WSP_A, &keys, now());
    exp.require_signature = false;
    let ok = validate_response(resp.as_bytes(), &exp).unwrap();
    assert!(!ok.signed);
}

#[test]
fn response_body_altered_is_refused() {
    let (_, id) = answered();
    let resp = response_from(WSP_A, &id, Some(&wsp_a().signer()));
    let altered = replace_once(&resp, "basic pension", "no pension");
    let err = check(&altered, &id).unwrap_err();
    assert!(
        matches!(err, WsfError::ResponseSignature(DsigError::DigestMismatch)),
        "{err}"
    );
}

#[test]
fn stale_response_is_refused() {
    let (_, id) = answered();
    let mut params = ResponseParams::new(Some(&id), WSP_A, now() - Duration::minutes(10));
    params.timestamp_lifetime = Duration::seconds(60);
    let resp = build_response(&params, pension_response(), Some(&wsp_a().signer())).unwrap();
    let err = check(&resp, &id).unwrap_err();
    assert_eq!(err.status_code(), Some(code::STALE_MSG), "{err}");
}

#[test]
fn response_without_framework_is_refused() {
    let (_, id) = answered();
    let resp = remove_element(&response_from(WSP_A, &id, None), "<sbf:Framework", "/>");
    let err = check(&resp, &id).unwrap_err();
    assert_eq!(
        err.status_code(),
        Some(code::FRAMEWORK_VERSION_MISMATCH),
        "{err}"
    );
}

#[test]
fn mechanism_misuse_is_refused_by_the_wsc_before_sending() {
    let token = bearer_token_a();
    let p = request_a(secmech::TLS_SAMLV2, &token);
    assert!(matches!(
        build_request(&p, pension_query(), None),
        Err(WsfError::SignerRequired(_))
    ));
    let p = RequestParams::new(
        PORTAL,
        WSP_A_ENDPOINT,
        PENSION_ACTION,
        secmech::TLS_BEARER,
        None,
        now(),
    );
    assert!(matches!(
        build_request(&p, pension_query(), None),
        Err(WsfError::TokenRequired(_))
    ));
    for m in [
        secmech::TLS_SAML,
        "urn:liberty:security:2005-02:ClientTLS:peerSAMLV2",
        "urn:liberty:security:2006-08:TLS:samlv2",
    ] {
        let p = request_a(m, &token);
        assert!(
            matches!(
                build_request(&p, pension_query(), None),
                Err(WsfError::UnsupportedMechanism(_))
            ),
            "{m}"
        );
    }
    assert!(matches!(
        build_request(&request_a(secmech::TLS_BEARER, &token), "<a>", None),
        Err(WsfError::Body(_))
    ));
}

#[test]
fn assertion_minted_without_subject_confirmation_is_refused() {
    let mut a = assertion_for(&params_a(Confirmation::Bearer)).unwrap();
    a.subject.as_mut().unwrap().confirmations[0].method =
        schemas::saml::confirmation::SENDER_VOUCHES.into();
    let t = seal_assertion(&a, &ds().signer(), Some(&wsp_a().recipient())).unwrap();
    let f = token_refused(&t);
    assert!(
        matches!(f.kind, FaultKind::UnsupportedConfirmation(_)),
        "{f}"
    );
    inappropriate(&f, second::UNSUPPORTED_SECURITY_TOKEN);
}
