//! IdP side of Web Browser SSO: `check_authn_request` against the federation metadata, the SAML
//! status and `can_respond` of every refusal, the AuthnContext selection table, and the error
//! Response built for a refusal.

mod support;
mod websso_common;

use schemas::binding::{encode_redirect, BindingError, MessageKind, OpensslQuerySigner, SigAlg};
use schemas::dsig::{sign_enveloped, DsigError, SignOptions, SignatureAlgorithm, Signer};
use schemas::saml::*;
use schemas::trust::TrustStore;
use schemas::websso::*;
use support::{attacker_key, idp_key};
use time::Duration;
use websso_common::*;

fn store(want_signed: bool) -> TrustStore {
    trust_store(idp_key().cert.to_der().unwrap(), want_signed, &[])
}

fn portal_store() -> &'static TrustStore {
    static S: std::sync::OnceLock<TrustStore> = std::sync::OnceLock::new();
    S.get_or_init(|| store(false))
}

/// The portal's request as it makes it: POST binding, its ACS, persistent NameID.
fn request(issuer: &str, id: &str) -> AuthnRequest {
    let mut header = RequestHeader::new(
        id,
        now(),
        NameId::with_format(issuer, nameid_format::ENTITY),
    );
    header.destination = Some(SSO.into());
    let mut r = AuthnRequest::new(header);
    r.assertion_consumer_service_url = Some(if issuer == CLINIC { CLINIC_ACS } else { ACS }.into());
    r.protocol_binding = Some(bindings::HTTP_POST.into());
    r.name_id_policy = Some(NameIdPolicy {
        format: Some(nameid_format::PERSISTENT.into()),
        sp_name_qualifier: None,
        allow_create: Some(true),
    });
    r
}

fn portal_request() -> AuthnRequest {
    request(SP, "_req-portal-0001")
}

fn signed_post(r: &AuthnRequest, signer: &dyn Signer) -> String {
    sign_enveloped(&r.to_xml(), &r.header.id, signer, &SignOptions::default()).unwrap()
}

fn portal_post(r: &AuthnRequest) -> String {
    signed_post(r, &sp_party().signer())
}

fn redirect_query(
    r: &AuthnRequest,
    key: &openssl::pkey::PKey<openssl::pkey::Private>,
    relay: Option<&str>,
) -> String {
    let signer = OpensslQuerySigner::new(key.clone(), SigAlg::RsaSha256).unwrap();
    encode_redirect(
        MessageKind::Request,
        r.to_xml().as_bytes(),
        relay,
        Some(&signer),
    )
    .unwrap()
}

fn check_post(xml: &str) -> Result<ValidatedAuthnRequest, ProfileError> {
    check_authn_request(
        AuthnRequestInput::Post(xml.as_bytes()),
        portal_store(),
        IDP,
        SSO,
        now(),
    )
}

fn check_query(q: &str) -> Result<ValidatedAuthnRequest, ProfileError> {
    check_authn_request(
        AuthnRequestInput::RedirectQuery(q),
        portal_store(),
        IDP,
        SSO,
        now(),
    )
}

/// The top and second-level codes of a refusal.
fn codes(e: &ProfileError) -> (String, Option<String>) {
    let s = e.status();
    (s.code.value.clone(), s.second_level().map(str::to_string))
}

fn requester(second: &str) -> (String, Option<String>) {
    (status::REQUESTER.to_string(), Some(second.to_string()))
}

// ---- accepted --------------------------------------------------------------------------

#[test]
fn signed_post_request_passes() {
    let r = portal_request();
    let v = check_post(&portal_post(&r)).unwrap();
    assert_eq!(v.id, "_req-portal-0001");
    assert_eq!(v.sp_entity, SP);
    assert_eq!(v.acs_url, ACS);
    assert_eq!(v.acs_binding, bindings::HTTP_POST);
    assert!(v.signed);
    assert!(!v.force_authn && !v.is_passive);
    assert_eq!(v.name_id_format, nameid_format::PERSISTENT);
    assert!(v.allow_create);
    assert!(v.sp_wants_assertions_signed);
    // No RequestedAuthnContext: the strongest available class, never the PIN-less level.
    assert_eq!(v.authn_context, classes::JPKI_USER_AUTHENTICATION_PIN);
    assert_eq!(v.acceptable_classes.len(), 3);
    assert_eq!(v.request, r);
}

#[test]
fn signed_redirect_request_passes_with_relay_state() {
    let q = redirect_query(&portal_request(), &sp_party().key, Some("/dashboard"));
    let v = check_query(&q).unwrap();
    assert!(v.signed);
    assert_eq!(v.relay_state.as_deref(), Some("/dashboard"));
    assert_eq!(v.acs_url, ACS);
}

#[test]
fn acs_by_index_and_default_acs() {
    let mut r = portal_request();
    r.assertion_consumer_service_url = None;
    r.protocol_binding = None;
    r.assertion_consumer_service_index = Some(1);
    let v = check_post(&portal_post(&r)).unwrap();
    assert_eq!(
        (v.acs_url.as_str(), v.acs_binding.as_str()),
        (ACS_ARTIFACT, bindings::HTTP_ARTIFACT)
    );
    r.assertion_consumer_service_index = None;
    let v = check_post(&portal_post(&r)).unwrap();
    assert_eq!((v.acs_url.as_str(), v.acs_index), (ACS, 0));
    // A PAOS ACS by index: the IdP does not answer with that binding.
    r.assertion_consumer_service_index = Some(2);
    let e = check_post(&portal_post(&r)).unwrap_err();
    assert!(matches!(e.kind, ProfileErrorKind::UnsupportedBinding(_)));
    assert_eq!(codes(&e), requester(status::UNSUPPORTED_BINDING));
}

#[test]
fn is_passive_and_force_authn_pass_through() {
    let mut r = portal_request();
    r.is_passive = Some(true);
    r.force_authn = Some(true);
    let v = check_post(&portal_post(&r)).unwrap();
    assert!(v.is_passive && v.force_authn);
    // The IdP, finding no session, answers NoPassive to the metadata ACS.
    let e = v.no_passive();
    assert!(e.can_respond());
    assert_eq!(codes(&e), requester(status::NO_PASSIVE));
    assert_eq!(e.respond_to().unwrap().acs_url, ACS);
    assert_eq!(e.respond_to().unwrap().in_response_to, "_req-portal-0001");
}

#[test]
fn unsigned_request_passes_only_when_neither_side_requires_a_signature() {
    // The clinic does not sign and the IdP does not insist.
    let r = request(CLINIC, "_req-clinic-0001");
    let v = check_post(&r.to_xml()).unwrap();
    assert!(!v.signed);
    assert_eq!(v.acs_url, CLINIC_ACS);
    // An IdP with WantAuthnRequestsSigned refuses it.
    let strict = store(true);
    let e = check_authn_request(
        AuthnRequestInput::Post(r.to_xml().as_bytes()),
        &strict,
        IDP,
        SSO,
        now(),
    )
    .unwrap_err();
    assert!(matches!(e.kind, ProfileErrorKind::Unsigned));
    assert!(!e.can_respond());
}

// ---- signatures ------------------------------------------------------------------------

#[test]
fn unsigned_request_is_refused_when_the_sp_metadata_requires_signing() {
    let e = check_post(&portal_request().to_xml()).unwrap_err();
    assert!(matches!(e.kind, ProfileErrorKind::Unsigned));
    assert_eq!(codes(&e), requester(status::REQUEST_DENIED));
    assert!(!e.can_respond());
    // Redirect without a query signature.
    let q = encode_redirect(
        MessageKind::Request,
        portal_request().to_xml().as_bytes(),
        None,
        None,
    )
    .unwrap();
    let e = check_query(&q).unwrap_err();
    assert!(matches!(e.kind, ProfileErrorKind::Unsigned));
}

#[test]
fn request_signed_with_a_wrong_key_is_refused() {
    let r = portal_request();
    let e = check_post(&signed_post(
        &r,
        &attacker_key().signer(SignatureAlgorithm::RsaSha256),
    ))
    .unwrap_err();
    assert!(
        matches!(e.kind, ProfileErrorKind::Signature(DsigError::BadSignature)),
        "{e:?}"
    );
    assert!(!e.can_respond());
    let e = check_query(&redirect_query(&r, &attacker_key().key, None)).unwrap_err();
    assert!(matches!(
        e.kind,
        ProfileErrorKind::QuerySignature(BindingError::BadSignature)
    ));
    assert!(!e.can_respond());
    // Signed by the IdP's own key (a key of another role of the federation): still wrong.
    let e = check_post(&signed_post(
        &r,
        &idp_key().signer(SignatureAlgorithm::RsaSha256),
    ))
    .unwrap_err();
    assert!(matches!(
        e.kind,
        ProfileErrorKind::Signature(DsigError::BadSignature)
    ));
}

#[test]
fn altered_signed_request_is_refused() {
    let xml = portal_post(&portal_request());
    let e = check_post(&xml.replace(
        "Version=\"2.0\" IssueInstant",
        "Version=\"2.0\" ForceAuthn=\"true\" IssueInstant",
    ))
    .unwrap_err();
    assert!(
        matches!(
            e.kind,
            ProfileErrorKind::Signature(DsigError::DigestMismatch)
        ),
        "{e:?}"
    );
}

#[test]
fn redirect_with_tampered_query_is_refused() {
    let q = redirect_query(&portal_request(), &sp_party().key, Some("/dashboard"));
    let tampered = q.replace("RelayState=%2Fdashboard", "RelayState=%2Fevil");
    assert_ne!(tampered, q);
    let e = check_query(&tampered).unwrap_err();
    assert!(matches!(
        e.kind,
        ProfileErrorKind::QuerySignature(BindingError::BadSignature)
    ));
    // Another AuthnRequest under the captured signature.
    let other = redirect_query(
        &request(SP, "_req-other"),
        &sp_party().key,
        Some("/dashboard"),
    );
    let swapped = format!(
        "{}&{}",
        other.split('&').next().unwrap(),
        q.split('&').skip(1).collect::<Vec<_>>().join("&")
    );
    let e = check_query(&swapped).unwrap_err();
    assert!(matches!(
        e.kind,
        ProfileErrorKind::QuerySignature(BindingError::BadSignature)
    ));
    // A duplicated parameter is refused by the binding.
    let e = check_query(&format!("{q}&RelayState=x")).unwrap_err();
    assert!(matches!(
        e.kind,
        ProfileErrorKind::Binding(BindingError::DuplicateParameter(_))
    ));
    // An enveloped signature has no place in a Redirect message.
    let signer = OpensslQuerySigner::new(sp_party().key.clone(), SigAlg::RsaSha256).unwrap();
    let q = encode_redirect(
        MessageKind::Request,
        portal_post(&portal_request()).as_bytes(),
        None,
        Some(&signer),
    )
    .unwrap();
    assert!(matches!(
        check_query(&q).unwrap_err().kind,
        ProfileErrorKind::SignatureInRedirect
    ));
}

#[test]
fn signed_request_wrapped_in_a_forged_one_is_refused() {
    // samael's failure: the genuine signed request inside the Extensions of a forged one.
    let genuine = portal_post(&portal_request());
    let mut forged = request(SP, "_req-forged");
    forged.assertion_consumer_service_url = Some("https://evil.example/acs".into());
    let xml = forged.to_xml().replacen(
        "</saml:Issuer>",
        &format!("</saml:Issuer><samlp:Extensions>{genuine}</samlp:Extensions>"),
        1,
    );
    let e = check_post(&xml).unwrap_err();
    assert!(matches!(e.kind, ProfileErrorKind::Unsigned), "{e:?}");
}

// ---- ACS and Destination ---------------------------------------------------------------

#[test]
fn unlisted_acs_url_is_refused_and_never_answered() {
    for url in [
        "https://evil.example/acs",
        "https://portal.nabari.test/sp/acs/",
        "https://portal.nabari.test/sp/ACS",
        "https://portal.nabari.test/sp/acs?x=1",
    ] {
        let mut r = portal_request();
        r.assertion_consumer_service_url = Some(url.into());
        let e = check_post(&portal_post(&r)).unwrap_err();
        assert!(
            matches!(&e.kind, ProfileErrorKind::UnlistedAcs(u) if u == url),
            "{url}: {e:?}"
        );
        assert!(!e.can_respond());
        assert_eq!(codes(&e), requester(status::REQUEST_DENIED));
        assert!(build_error_response_for(
            &e,
            IDP,
            now(),
            &idp_key().signer(SignatureAlgorithm::RsaSha256)
        )
        .is_none());
    }
    // Listed, but for another binding than the one requested.
    let mut r = portal_request();
    r.assertion_consumer_service_url = Some(ACS_ARTIFACT.into());
    let e = check_post(&portal_post(&r)).unwrap_err();
    assert!(matches!(e.kind, ProfileErrorKind::UnlistedAcs(_)));
}

#[test]
fn javascript_and_plain_http_acs_are_refused() {
    for url in [
        "javascript:alert(document.cookie)",
        "JaVaScRiPt:alert(1)",
        "data:text/html,x",
        "http://portal.nabari.test/sp/acs",
    ] {
        let mut r = portal_request();
        r.assertion_consumer_service_url = Some(url.into());
        let e = check_post(&portal_post(&r)).unwrap_err();
        assert!(
            matches!(&e.kind, ProfileErrorKind::UnsafeAcsUrl(u) if u == url),
            "{url}"
        );
        assert!(!e.can_respond());
    }
}

#[test]
fn acs_index_with_url_is_refused() {
    let mut r = portal_request();
    r.assertion_consumer_service_index = Some(0);
    let e = check_post(&portal_post(&r)).unwrap_err();
    assert!(matches!(e.kind, ProfileErrorKind::AcsIndexAndUrl));
    assert_eq!(codes(&e), requester(status::REQUEST_UNSUPPORTED));
    let mut r = portal_request();
    r.assertion_consumer_service_url = None;
    r.protocol_binding = None;
    r.assertion_consumer_service_index = Some(9);
    assert!(matches!(
        check_post(&portal_post(&r)).unwrap_err().kind,
        ProfileErrorKind::UnknownAcsIndex(9)
    ));
}

#[test]
fn wrong_or_missing_destination_is_refused_with_an_error_response() {
    let mut r = portal_request();
    r.header.destination = Some("https://idp.nabari.test/idp/other".into());
    let e = check_post(&portal_post(&r)).unwrap_err();
    assert!(matches!(e.kind, ProfileErrorKind::WrongDestination { .. }));
    assert_eq!(codes(&e), requester(status::REQUEST_DENIED));
    // Issuer verified and ACS from metadata: safe to answer.
    assert!(e.can_respond());
    assert_eq!(e.respond_to().unwrap().acs_url, ACS);
    r.header.destination = None;
    let e = check_post(&portal_post(&r)).unwrap_err();
    assert!(matches!(e.kind, ProfileErrorKind::MissingDestination));
    // The same genuine request presented at another endpoint of the IdP.
    let e = check_authn_request(
        AuthnRequestInput::Post(portal_post(&portal_request()).as_bytes()),
        portal_store(),
        IDP,
        "https://idp.nabari.test/idp/sso-post",
        now(),
    )
    .unwrap_err();
    assert!(matches!(e.kind, ProfileErrorKind::WrongDestination { .. }));
}

// ---- binding limits --------------------------------------------------------------------

#[test]
fn oversized_or_malformed_deflate_payload_is_refused() {
    use base64::Engine;
    use flate2::write::DeflateEncoder;
    use std::io::Write;
    // A DEFLATE bomb: 10 MB of spaces compress to a few KB.
    let mut enc = DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(b"<samlp:AuthnRequest ").unwrap();
    enc.write_all(&vec![b' '; 10 * 1024 * 1024]).unwrap();
    let bomb = enc.finish().unwrap();
    let b64 = base64::engine::general_purpose::STANDARD.encode(&bomb);
    let q = format!(
        "SAMLRequest={}",
        percent_encoding::utf8_percent_encode(&b64, percent_encoding::NON_ALPHANUMERIC)
    );
    let e = check_query(&q).unwrap_err();
    assert!(
        matches!(
            e.kind,
            ProfileErrorKind::Binding(BindingError::InflatedTooLarge { .. })
        ),
        "{e:?}"
    );
    assert!(!e.can_respond());
    assert_eq!(e.status().code.value, status::REQUESTER);
    // Not DEFLATE at all.
    let junk = base64::engine::general_purpose::STANDARD.encode(b"\xff\xff\xff\xff not deflate");
    let q = format!(
        "SAMLRequest={}",
        percent_encoding::utf8_percent_encode(&junk, percent_encoding::NON_ALPHANUMERIC)
    );
    let e = check_query(&q).unwrap_err();
    assert!(
        matches!(
            e.kind,
            ProfileErrorKind::Binding(BindingError::InvalidDeflate)
        ),
        "{e:?}"
    );
    // Not base64.
    let e = check_query("SAMLRequest=%%%").unwrap_err();
    assert!(matches!(e.kind, ProfileErrorKind::Binding(_)));
    // Malformed XML inside valid DEFLATE.
    let q = encode_redirect(MessageKind::Request, b"<samlp:AuthnRequest", None, None).unwrap();
    assert!(matches!(
        check_query(&q).unwrap_err().kind,
        ProfileErrorKind::Xml(_)
    ));
}

// ---- request content -------------------------------------------------------------------

#[test]
fn name_id_policy_formats_and_allow_create() {
    for (format, ok) in [
        (
            Some(nameid_format::PERSISTENT),
            Some(nameid_format::PERSISTENT),
        ),
        (
            Some(nameid_format::UNSPECIFIED),
            Some(nameid_format::PERSISTENT),
        ),
        (None, Some(nameid_format::PERSISTENT)),
        (
            Some(nameid_format::TRANSIENT),
            Some(nameid_format::TRANSIENT),
        ),
        (Some(nameid_format::EMAIL), None),
        (Some(nameid_format::ENCRYPTED), None),
    ] {
        let mut r = portal_request();
        r.name_id_policy.as_mut().unwrap().format = format.map(str::to_string);
        match (check_post(&portal_post(&r)), ok) {
            (Ok(v), Some(f)) => assert_eq!(v.name_id_format, f),
            (Err(e), None) => {
                assert!(matches!(e.kind, ProfileErrorKind::InvalidNameIdPolicy(_)));
                assert_eq!(codes(&e), requester(status::INVALID_NAMEID_POLICY));
                assert!(e.can_respond());
            }
            (other, _) => panic!("{format:?}: {other:?}"),
        }
    }
    // SPNameQualifier naming another party.
    let mut r = portal_request();
    r.name_id_policy.as_mut().unwrap().sp_name_qualifier = Some(CLINIC.into());
    assert!(matches!(
        check_post(&portal_post(&r)).unwrap_err().kind,
        ProfileErrorKind::InvalidNameIdPolicy(_)
    ));
    // AllowCreate="false" (or absent): no new pairwise identifier may be made.
    let mut r = portal_request();
    r.name_id_policy.as_mut().unwrap().allow_create = Some(false);
    let v = check_post(&portal_post(&r)).unwrap();
    assert!(!v.allow_create);
    assert!(v.check_name_id_creation(true).is_ok());
    let e = v.check_name_id_creation(false).unwrap_err();
    assert_eq!(codes(&e), requester(status::INVALID_NAMEID_POLICY));
    assert!(e.can_respond());
    let mut r = portal_request();
    r.name_id_policy = None;
    let v = check_post(&portal_post(&r)).unwrap();
    assert!(v.check_name_id_creation(false).is_err());
}

#[test]
fn version_issuer_and_time_checks() {
    // Version 1.1: VersionMismatch (checked before the signature, never answered).
    let xml = portal_request()
        .to_xml()
        .replace("Version=\"2.0\"", "Version=\"1.1\"");
    let e = check_post(&xml).unwrap_err();
    assert!(matches!(e.kind, ProfileErrorKind::VersionMismatch(_)));
    assert_eq!(codes(&e), (status::VERSION_MISMATCH.to_string(), None));
    // Unknown issuer; an IdP is not an SP.
    for issuer in [
        "https://evil.example/sp",
        IDP,
        "https://portal.nabari.test/sp-evil",
    ] {
        let e = check_post(&request(issuer, "_r").to_xml()).unwrap_err();
        assert!(matches!(&e.kind, ProfileErrorKind::UnknownIssuer(i) if i == issuer));
        assert_eq!(codes(&e), requester(status::REQUEST_DENIED));
        assert!(!e.can_respond());
    }
    // No Issuer; an Issuer with a non-entity Format.
    let mut r = portal_request();
    r.header.issuer = None;
    assert!(matches!(
        check_post(&r.to_xml()).unwrap_err().kind,
        ProfileErrorKind::MissingIssuer
    ));
    let mut r = portal_request();
    r.header.issuer.as_mut().unwrap().format = Some(nameid_format::EMAIL.into());
    assert!(matches!(
        check_post(&portal_post(&r)).unwrap_err().kind,
        ProfileErrorKind::IssuerFormat(_)
    ));
    // IssueInstant far off either way.
    for off in [Duration::minutes(-10), Duration::minutes(10)] {
        let mut r = portal_request();
        r.header.issue_instant = now() + off;
        let e = check_post(&portal_post(&r)).unwrap_err();
        assert!(matches!(e.kind, ProfileErrorKind::IssueInstant { .. }));
        assert_eq!(codes(&e), requester(status::REQUEST_DENIED));
        assert!(e.can_respond());
    }
    // A Subject in the request is not supported.
    let mut r = portal_request();
    r.subject = Some(Subject {
        id: Some(SubjectId::NameId(NameId::new("x"))),
        confirmations: vec![],
    });
    let e = check_post(&portal_post(&r)).unwrap_err();
    assert_eq!(codes(&e), requester(status::REQUEST_UNSUPPORTED));
    // Unsupported protocol binding: answered at the default usable ACS.
    let mut r = portal_request();
    r.protocol_binding = Some(bindings::PAOS.into());
    r.assertion_consumer_service_url = Some(ACS_PAOS.into());
    let e = check_post(&portal_post(&r)).unwrap_err();
    assert_eq!(codes(&e), requester(status::UNSUPPORTED_BINDING));
    assert_eq!(e.respond_to().unwrap().acs_url, ACS);
    // Expired metadata and an IdP missing from it: Responder, never answered.
    let e = check_authn_request(
        AuthnRequestInput::Post(portal_post(&portal_request()).as_bytes()),
        portal_store(),
        IDP,
        SSO,
        now() + Duration::days(8),
    )
    .unwrap_err();
    assert!(matches!(e.kind, ProfileErrorKind::MetadataExpired));
    assert_eq!(codes(&e), (status::RESPONDER.to_string(), None));
    let e = check_authn_request(
        AuthnRequestInput::Post(portal_post(&portal_request()).as_bytes()),
        portal_store(),
        "https://idp.other.test/idp",
        SSO,
        now(),
    )
    .unwrap_err();
    assert!(matches!(e.kind, ProfileErrorKind::IdpNotInMetadata(_)));
    assert!(!e.can_respond());
}

// ---- AuthnContext ----------------------------------------------------------------------

fn rac(comparison: AuthnContextComparison, classes: &[&str]) -> RequestedAuthnContext {
    RequestedAuthnContext {
        comparison,
        refs: RequestedAuthnContextRefs::Class(classes.iter().map(|c| c.to_string()).collect()),
    }
}

#[test]
fn requested_authn_context_selection_table() {
    use AuthnContextComparison::*;
    const PINLESS: &str = classes::JPKI_PINLESS_ATTESTED;
    const PIN: &str = classes::JPKI_USER_AUTHENTICATION_PIN;
    const SIG: &str = classes::JPKI_SIGNATURE;
    const PPT: &str = authn_context::PASSWORD_PROTECTED_TRANSPORT;
    let all: &'static [&str] = &[PINLESS, PIN, SIG];
    assert_eq!(authn_context_level(PINLESS), Some(1));
    assert_eq!(authn_context_level(PIN), authn_context_level(SIG));
    assert_eq!(authn_context_level(PPT), None);
    type Row = (
        AuthnContextComparison,
        &'static [&'static str],
        &'static [&'static str],
        Option<&'static str>,
    );
    let table: &[Row] = &[
        // exact: the SP's order of preference, only what is available.
        (Exact, &[PIN], all, Some(PIN)),
        (Exact, &[SIG, PIN], all, Some(SIG)),
        (Exact, &[SIG, PIN], &[PINLESS, PIN], Some(PIN)),
        (Exact, &[PINLESS], &[PIN, SIG], None),
        (Exact, &[PPT], all, None),
        (Exact, &[PPT, PINLESS], all, Some(PINLESS)),
        // minimum: at least the weakest requested; the strongest available wins.
        (Minimum, &[PINLESS], all, Some(PIN)),
        (Minimum, &[PINLESS], &[PINLESS], Some(PINLESS)),
        (Minimum, &[PIN], &[PINLESS], None),
        (Minimum, &[PIN], &[PINLESS, SIG], Some(SIG)),
        (Minimum, &[SIG], &[PIN], Some(PIN)), // same level
        (Minimum, &[PPT], all, None),
        // maximum: not above the strongest requested, as strong as possible.
        (Maximum, &[PINLESS], all, Some(PINLESS)),
        (Maximum, &[PIN], all, Some(PIN)),
        (Maximum, &[SIG], &[SIG, PIN], Some(SIG)),
        (Maximum, &[PINLESS, SIG], &[PINLESS], Some(PINLESS)),
        (Maximum, &[PINLESS], &[PIN, SIG], None),
        // better: stronger than every requested class.
        (Better, &[PINLESS], all, Some(PIN)),
        (Better, &[PINLESS], &[SIG, PINLESS], Some(SIG)),
        (Better, &[PIN], all, None),
        (Better, &[SIG], all, None),
        (Better, &[PINLESS, PIN], all, None),
    ];
    for (cmp, requested, available, expected) in table {
        let r = rac(*cmp, requested);
        assert_eq!(
            select_authn_context(Some(&r), available),
            *expected,
            "{cmp:?} {requested:?} over {available:?}"
        );
    }
    // No request: the IdP's first class. Declaration references: never met.
    assert_eq!(select_authn_context(None, &[PIN, SIG]), Some(PIN));
    let decl = RequestedAuthnContext {
        comparison: Exact,
        refs: RequestedAuthnContextRefs::Decl(vec!["urn:x".into()]),
    };
    assert_eq!(select_authn_context(Some(&decl), all), None);
}

#[test]
fn requested_authn_context_in_a_request() {
    let mut r = portal_request();
    r.requested_authn_context = Some(rac(
        AuthnContextComparison::Minimum,
        &[classes::JPKI_PINLESS_ATTESTED],
    ));
    let v = check_post(&portal_post(&r)).unwrap();
    assert_eq!(v.authn_context, classes::JPKI_USER_AUTHENTICATION_PIN);
    assert_eq!(
        v.acceptable_classes,
        [
            classes::JPKI_USER_AUTHENTICATION_PIN,
            classes::JPKI_SIGNATURE,
            classes::JPKI_PINLESS_ATTESTED
        ]
    );
    // A clinic reception terminal IdP that can only do the PIN-less path.
    let opts = IdpOptions {
        available_classes: vec![classes::JPKI_PINLESS_ATTESTED.into()],
        ..Default::default()
    };
    r.requested_authn_context = Some(rac(
        AuthnContextComparison::Exact,
        &[classes::JPKI_USER_AUTHENTICATION_PIN],
    ));
    let e = check_authn_request_with(
        AuthnRequestInput::Post(portal_post(&r).as_bytes()),
        portal_store(),
        IDP,
        SSO,
        now(),
        &opts,
    )
    .unwrap_err();
    assert!(matches!(e.kind, ProfileErrorKind::NoAuthnContext));
    assert_eq!(codes(&e), requester(status::NO_AUTHN_CONTEXT));
    assert!(e.can_respond());
}

// ---- error Response --------------------------------------------------------------------

#[test]
fn error_response_for_a_refusal_is_signed_and_read_by_the_sp_as_that_status() {
    let mut r = portal_request();
    r.name_id_policy.as_mut().unwrap().format = Some(nameid_format::EMAIL.into());
    let e = check_post(&portal_post(&r)).unwrap_err();
    let built = build_error_response_for(
        &e,
        IDP,
        now(),
        &idp_key().signer(SignatureAlgorithm::RsaSha256),
    )
    .unwrap()
    .unwrap();
    assert!(built.assertion_id.is_none());
    let keys = [idp_key().trusted()];
    let cache = MemoryReplayCache::new();
    let mut ctx = SpContext::new(SP, ACS, IDP, &keys, &cache, now());
    ctx.expected_in_response_to = Some("_req-portal-0001");
    match validate_response(built.xml.as_bytes(), &ctx) {
        Err(SsoError::Status(top, second, message)) => {
            assert_eq!(top, status::REQUESTER);
            assert_eq!(second.as_deref(), Some(status::INVALID_NAMEID_POLICY));
            assert!(message.is_some());
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn without_a_requested_context_the_strongest_class_is_preferred() {
    let available = [
        classes::JPKI_PINLESS_ATTESTED,
        classes::JPKI_USER_AUTHENTICATION_PIN,
        classes::JPKI_SIGNATURE,
    ];
    assert_eq!(
        select_authn_context(None, &available),
        Some(classes::JPKI_USER_AUTHENTICATION_PIN)
    );
    assert_eq!(
        select_authn_context(None, &[classes::JPKI_PINLESS_ATTESTED]),
        Some(classes::JPKI_PINLESS_ATTESTED)
    );
}
