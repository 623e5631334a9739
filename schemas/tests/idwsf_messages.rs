//! ID-WSF 2.0 models: round trip of every message (standalone and inside an envelope with the
//! full header set), refusals, and validation of everything the project emits against
//! `schemas/xsd/` with xmllint.

use std::fmt::Debug;
use std::path::{Path, PathBuf};
use std::process::Command;

use schemas::idwsf::disco::{action, DiscoMessage};
use schemas::idwsf::headers::{
    Consent, CredentialsContext, EndpointUpdate, FaultTo, ProcessingContext, RedirectRequest,
    RelatesTo, ReplyTo, Sender, TargetIdentity, Timeout, To, UsageDirective, UserInteraction,
    BODY_ID,
};
use schemas::idwsf::wss::{Security, SecurityTokenReference, Timestamp, TokenReference};
use schemas::idwsf::*;
use schemas::ns;
use schemas::soap::{Envelope, Fault, FaultCode};
use schemas::xml::{c14n, parse};
use time::macros::datetime;
use time::Duration;

const IDP: &str = "https://idp.nabari.example/";
const DS: &str = "https://relay.nabari.example/";
const PORTAL: &str = "https://portal.nabari.example/";
const PENSION: &str = "https://pension.nabari.example/";
const INSURER: &str = "https://kenpo.nabari.example/";

// ---------------------------------------------------------------------------------------------
// Samples

fn canon(xml: &str) -> String {
    let d = parse(xml.as_bytes()).unwrap();
    String::from_utf8(c14n::canonicalize(d.root(), &Default::default())).unwrap()
}

fn assertion(id: &str, audience: &str) -> SamlToken {
    SamlToken::from_xml(
        format!(
            r#"<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{id}" IssueInstant="2010-04-01T09:00:00Z" Version="2.0">
  <saml:Issuer>{DS}</saml:Issuer>
  <saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent" NameQualifier="{IDP}" SPNameQualifier="{audience}">pw-{id}</saml:NameID></saml:Subject>
  <saml:Conditions NotBefore="2010-04-01T09:00:00Z" NotOnOrAfter="2010-04-01T09:05:00Z"><saml:AudienceRestriction><saml:Audience>{audience}</saml:Audience></saml:AudienceRestriction></saml:Conditions>
</saml:Assertion>"#
        )
        .as_bytes(),
    )
    .unwrap()
}

fn encrypted_assertion() -> SamlToken {
    SamlToken::from_xml(
        br#"<saml:EncryptedAssertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"><xenc:EncryptedData xmlns:xenc="http://www.w3.org/2001/04/xmlenc#" Type="http://www.w3.org/2001/04/xmlenc#Element"><xenc:EncryptionMethod Algorithm="http://www.w3.org/2009/xmlenc11#aes128-gcm"/><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><xenc:EncryptedKey><xenc:EncryptionMethod Algorithm="http://www.w3.org/2009/xmlenc11#rsa-oaep"/><xenc:CipherData><xenc:CipherValue>AAAA</xenc:CipherValue></xenc:CipherData></xenc:EncryptedKey></ds:KeyInfo><xenc:CipherData><xenc:CipherValue>BBBB</xenc:CipherValue></xenc:CipherData></xenc:EncryptedData></saml:EncryptedAssertion>"#,
    )
    .unwrap()
}

fn signature() -> String {
    canon(
        r##"<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/><ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/><ds:Reference URI="#body"><ds:Transforms><ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></ds:Transforms><ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue>AAAA</ds:DigestValue></ds:Reference></ds:SignedInfo><ds:SignatureValue>AAAA</ds:SignatureValue></ds:Signature>"##,
    )
}

fn service_epr(address: &str, provider: &str, stype: &str, token: Token) -> EndpointReference {
    EndpointReference {
        id: None,
        address: address.into(),
        reference_parameters: vec![],
        metadata: Some(EprMetadata {
            abstract_text: Some(format!("{stype} at {provider}")),
            provider_id: Some(provider.into()),
            service_types: vec![stype.into()],
            frameworks: vec![Framework::v2()],
            security_contexts: vec![SecurityContext {
                security_mech_ids: vec![secmech::TLS_BEARER.into(), secmech::TLS_SAMLV2.into()],
                tokens: vec![token],
            }],
            extensions: vec![],
        }),
        extensions: vec![],
    }
}

fn bootstrap_epr() -> EndpointReference {
    let mut epr = service_epr(
        "https://relay.nabari.example/disco",
        DS,
        service_type::DISCOVERY,
        Token::security_token(assertion("_tok-ds", DS)),
    );
    epr.reference_parameters = vec![canon(
        r#"<nbr:Route xmlns:nbr="urn:nabari:route">r1</nbr:Route>"#,
    )];
    epr
}

fn svc_md(id: Option<&str>) -> SvcMD {
    SvcMD {
        svc_md_id: id.map(Into::into),
        abstract_text: "Pension record of Nabari pension office".into(),
        provider_id: PENSION.into(),
        service_contexts: vec![ServiceContext {
            service_types: vec![service_type::PENSION.into()],
            options: vec![
                Options {
                    options: vec![
                        "urn:nabari:opt:history".into(),
                        "urn:nabari:opt:forecast".into(),
                    ],
                },
                Options::default(),
            ],
            endpoint_contexts: vec![
                EndpointContext {
                    addresses: vec!["https://pension.nabari.example/soap".into()],
                    frameworks: vec![Framework::v2()],
                    security_mech_ids: vec![secmech::TLS_SAMLV2.into()],
                    actions: vec!["urn:nabari:idwsf:svc:pension:2010:Query".into()],
                },
                EndpointContext {
                    addresses: vec![
                        "https://pension2.nabari.example/soap".into(),
                        "https://pension3.nabari.example/soap".into(),
                    ],
                    frameworks: vec![Framework::v2()],
                    security_mech_ids: vec![
                        secmech::TLS_BEARER.into(),
                        secmech::CLIENT_TLS_PEER_SAMLV2.into(),
                    ],
                    actions: vec![],
                },
            ],
        }],
    }
}

fn query() -> Query {
    Query {
        requested_services: vec![
            RequestedService {
                service_types: vec![
                    service_type::PENSION.into(),
                    service_type::HI_ELIGIBILITY.into(),
                ],
                provider_ids: vec![PENSION.into()],
                options: vec![Options {
                    options: vec!["urn:nabari:opt:history".into()],
                }],
                security_mech_ids: vec![secmech::TLS_SAMLV2.into()],
                frameworks: vec![Framework::v2()],
                actions: vec!["urn:nabari:idwsf:svc:pension:2010:Query".into()],
                extensions: vec![canon(
                    r#"<nbr:Purpose xmlns:nbr="urn:nabari:purpose">dashboard</nbr:Purpose>"#,
                )],
                req_id: Some("rs1".into()),
                results_type: Some(ResultsType::OnlyOne),
            },
            RequestedService::for_type(service_type::VACCINATION),
        ],
    }
}

fn query_response() -> QueryResponse {
    let mut ref_token = Token {
        id: Some("tok-hi".into()),
        reference: Some("#_tok-hi-a".into()),
        usage: Some(token_usage::SECURITY_TOKEN.into()),
        content: None,
    };
    ref_token.usage = None;
    let mut hi = service_epr(
        "https://kenpo.nabari.example/soap",
        INSURER,
        service_type::HI_ELIGIBILITY,
        Token::security_token(encrypted_assertion()),
    );
    if let Some(md) = hi.metadata.as_mut() {
        md.security_contexts[0].tokens.push(ref_token);
        md.extensions = vec![canon(
            r#"<nbr:Rank xmlns:nbr="urn:nabari:rank">1</nbr:Rank>"#,
        )];
    }
    QueryResponse {
        status: Status::ok(),
        endpoint_references: vec![
            service_epr(
                "https://pension.nabari.example/soap",
                PENSION,
                service_type::PENSION,
                Token::security_token(assertion("_tok-pension", PENSION)),
            ),
            hi,
        ],
    }
}

fn key_descriptor() -> String {
    canon(
        r#"<md:KeyDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>MIIB</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"#,
    )
}

fn failed() -> Status {
    let mut s = Status::with_detail(code::FAILED, code::NOT_FOUND);
    s.reference = Some("svc-9".into());
    s.comment = Some("no such svcMDID".into());
    s
}

fn now() -> time::OffsetDateTime {
    datetime!(2010-04-01 09:00:00 UTC)
}

fn security(token: Option<SamlToken>) -> Security {
    Security {
        id: None,
        timestamp: Some(Timestamp::new(now(), Duration::minutes(5))),
        token_reference: token
            .as_ref()
            .map(|_| SecurityTokenReference::saml_assertion_id("_tok-sec")),
        token,
        signature: Some(signature()),
    }
}

fn request_headers(act: &str) -> IdwsfHeaders {
    let mut h = IdwsfHeaders::request(PORTAL, "urn:uuid:6b1d3c3e-0001", act);
    h.to = Some(To::new("https://relay.nabari.example/disco"));
    h.security = Some(security(Some(assertion("_tok-sec", DS))));
    h.assign_ids();
    h
}

fn response_headers() -> IdwsfHeaders {
    let mut h = IdwsfHeaders::response(DS, "urn:uuid:6b1d3c3e-0002", "urn:uuid:6b1d3c3e-0001");
    h.security = Some(security(None));
    h.assign_ids();
    h
}

/// Every header block this crate knows, each with its optional parts set.
fn full_headers() -> IdwsfHeaders {
    let mut h = request_headers(action::QUERY);
    h.sender = Some(Sender {
        id: None,
        provider_id: PORTAL.into(),
        affiliation_id: Some("https://affiliation.nabari.example/".into()),
    });
    h.relates_to = Some(RelatesTo {
        id: None,
        value: "urn:uuid:earlier".into(),
        relationship_type: Some("http://www.w3.org/2005/08/addressing/reply".into()),
    });
    h.reply_to = Some(ReplyTo(EndpointReference::address_only(WSA_ANONYMOUS)));
    h.fault_to = Some(FaultTo(EndpointReference::address_only(
        "https://portal.nabari.example/faults",
    )));
    h.target_identity = Some(TargetIdentity {
        id: None,
        token: Some(encrypted_assertion()),
    });
    h.user_interaction = Some(UserInteraction {
        id: None,
        interact: Some(interact::DO_NOT_INTERACT.into()),
        language: Some("ja en".into()),
        redirect: Some(false),
        max_interact_time: Some(60),
        interaction_services: vec![EndpointReference::address_only(
            "https://portal.nabari.example/interact",
        )],
    });
    h.redirect_request = Some(RedirectRequest {
        id: None,
        redirect_url: "https://pension.nabari.example/consent?transactionID=x".into(),
    });
    h.credentials_context = Some(CredentialsContext {
        id: None,
        requested_authn_context: Some(canon(
            r#"<samlp:RequestedAuthnContext xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" Comparison="exact"><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:SmartcardPKI</saml:AuthnContextClassRef></samlp:RequestedAuthnContext>"#,
        )),
        security_mech_ids: vec![secmech::TLS_SAMLV2.into()],
    });
    h.endpoint_update = Some(EndpointUpdate {
        update_type: Some(endpoint_update::PARTIAL.into()),
        endpoint: EndpointReference::address_only("https://pension2.nabari.example/soap"),
    });
    h.timeout = Some(Timeout {
        id: None,
        max_processing_time: 30,
    });
    h.processing_context = Some(ProcessingContext::new(PROCESSING_CONTEXT_SIMULATE));
    h.consent = Some(Consent {
        id: None,
        uri: "urn:liberty:consent:obtained".into(),
        // Written in whole seconds, like every time the federation writes.
        timestamp: Some(datetime!(2010-04-01 08:59:30 UTC)),
    });
    h.usage_directives = vec![
        UsageDirective {
            id: None,
            reference: BODY_ID.into(),
            policies: vec![canon(r#"<pol:NoRetention xmlns:pol="urn:nabari:policy"/>"#)],
        },
        UsageDirective {
            id: None,
            reference: BODY_ID.into(),
            policies: vec![
                canon(r#"<pol:Purpose xmlns:pol="urn:nabari:policy">dashboard</pol:Purpose>"#),
                canon(r#"<pol:Log xmlns:pol="urn:nabari:policy"/>"#),
            ],
        },
    ];
    h.assign_ids();
    h
}

// ---------------------------------------------------------------------------------------------
// Round trips

fn round_trip<T: IdwsfXml + PartialEq + Debug>(value: &T) -> String {
    let xml = value.to_xml();
    let back = T::from_xml(xml.as_bytes()).unwrap_or_else(|e| panic!("{e}\n{xml}"));
    assert_eq!(&back, value, "standalone round trip of\n{xml}");
    // Writing what was read gives the same bytes (opaque parts are canonical, so stable).
    assert_eq!(back.to_xml(), xml);
    xml
}

/// Builds an envelope around `body`, parses it back, and checks headers and body.
fn envelope_round_trip<T: IdwsfXml + PartialEq + Debug>(
    headers: &IdwsfHeaders,
    body: &T,
) -> String {
    let xml = envelope(headers, Some(BODY_ID), &|w| body.write(w));
    let doc = parse(xml.as_bytes()).unwrap_or_else(|e| panic!("{e}\n{xml}"));
    let env = Envelope::from_document(&doc).unwrap();
    env.check_must_understand(IdwsfHeaders::KNOWN)
        .expect("every block we write is known");
    assert_eq!(
        &IdwsfHeaders::from_envelope(&env).unwrap(),
        headers,
        "{xml}"
    );
    assert_eq!(env.body_id(), Some(BODY_ID));
    assert_eq!(
        &T::from_element(env.body_child().unwrap()).unwrap(),
        body,
        "{xml}"
    );
    xml
}

#[test]
fn every_model_round_trips_standalone() {
    round_trip(&Status::ok());
    round_trip(&failed());
    round_trip(&Framework::v2());
    round_trip(&Token::security_token(assertion("_a", PENSION)));
    round_trip(&Token::security_token(encrypted_assertion()));
    round_trip(&Token {
        id: Some("t1".into()),
        reference: Some("#_a".into()),
        usage: Some(token_usage::TARGET_IDENTITY.into()),
        content: None,
    });
    round_trip(&SecurityContext {
        security_mech_ids: vec![secmech::CLIENT_TLS_PEER_SAMLV2.into()],
        tokens: vec![],
    });
    round_trip(&bootstrap_epr());
    round_trip(&EndpointReference::address_only(WSA_ANONYMOUS));
    let sm = svc_md(Some("svc-1"));
    round_trip(&sm.service_contexts[0].options[0]);
    round_trip(&sm.service_contexts[0].endpoint_contexts[1]);
    round_trip(&sm.service_contexts[0]);
    round_trip(&sm);
    round_trip(&svc_md(None));
    round_trip(&query().requested_services[0]);
    round_trip(&Keys {
        key_descriptors: vec![key_descriptor()],
    });
    round_trip(&Timestamp::new(now(), Duration::seconds(90)));
    round_trip(&SecurityTokenReference::saml_assertion_id("_a"));
    round_trip(&SecurityTokenReference {
        id: Some("str1".into()),
        token_type: None,
        reference: TokenReference::Reference {
            uri: "#_a".into(),
            value_type: Some(wss::VALUE_TYPE_SAML_ID.into()),
        },
    });
}

#[test]
fn every_header_block_round_trips_standalone() {
    let h = full_headers();
    round_trip(h.framework.as_ref().unwrap());
    round_trip(h.sender.as_ref().unwrap());
    round_trip(h.message_id.as_ref().unwrap());
    round_trip(h.relates_to.as_ref().unwrap());
    round_trip(h.action.as_ref().unwrap());
    round_trip(h.to.as_ref().unwrap());
    round_trip(h.reply_to.as_ref().unwrap());
    round_trip(h.fault_to.as_ref().unwrap());
    round_trip(h.target_identity.as_ref().unwrap());
    round_trip(h.user_interaction.as_ref().unwrap());
    round_trip(h.redirect_request.as_ref().unwrap());
    round_trip(h.credentials_context.as_ref().unwrap());
    round_trip(h.endpoint_update.as_ref().unwrap());
    round_trip(h.timeout.as_ref().unwrap());
    round_trip(h.processing_context.as_ref().unwrap());
    round_trip(h.consent.as_ref().unwrap());
    round_trip(&h.usage_directives[1]);
    let sec_xml = round_trip(h.security.as_ref().unwrap());
    assert!(sec_xml.contains(r#"S:mustUnderstand="1""#));
}

/// (name, envelope XML, is a response)
fn disco_envelopes() -> Vec<(&'static str, String)> {
    fn req<T: IdwsfXml + DiscoMessage + PartialEq + Debug>(m: &T) -> (&'static str, String) {
        let h = request_headers(T::ACTION);
        assert_eq!(h.action.as_ref().unwrap().value, T::ACTION);
        (T::ELEMENT, envelope_round_trip(&h, m))
    }
    fn resp<T: IdwsfXml + DiscoMessage + PartialEq + Debug>(m: &T) -> (&'static str, String) {
        (T::ELEMENT, envelope_round_trip(&response_headers(), m))
    }
    vec![
        req(&query()),
        req(&Query {
            requested_services: vec![],
        }),
        resp(&query_response()),
        resp(&QueryResponse {
            status: Status::new(code::NO_RESULTS),
            endpoint_references: vec![],
        }),
        req(&SvcMDRegister {
            svc_mds: vec![svc_md(None), svc_md(None)],
        }),
        resp(&SvcMDRegisterResponse {
            status: Status::ok(),
            svc_md_ids: vec!["svc-1".into(), "svc-2".into()],
            keys: vec![Keys {
                key_descriptors: vec![key_descriptor()],
            }],
        }),
        req(&SvcMDQuery {
            svc_md_ids: vec!["svc-1".into()],
        }),
        resp(&SvcMDQueryResponse {
            status: Status::ok(),
            svc_mds: vec![svc_md(Some("svc-1"))],
        }),
        req(&SvcMDReplace {
            svc_mds: vec![svc_md(Some("svc-1"))],
        }),
        resp(&SvcMDReplaceResponse { status: failed() }),
        req(&SvcMDDelete {
            svc_md_ids: vec!["svc-1".into(), "svc-2".into()],
        }),
        resp(&SvcMDDeleteResponse {
            status: Status::ok(),
        }),
        req(&SvcMDAssociationAdd {
            svc_md_ids: vec!["svc-1".into()],
        }),
        resp(&SvcMDAssociationAddResponse {
            status: Status::new(code::FORBIDDEN),
        }),
        req(&SvcMDAssociationDelete {
            svc_md_ids: vec!["svc-1".into()],
        }),
        resp(&SvcMDAssociationDeleteResponse {
            status: Status::ok(),
        }),
        req(&SvcMDAssociationQuery { svc_md_ids: vec![] }),
        resp(&SvcMDAssociationQueryResponse {
            status: Status::ok(),
            svc_md_ids: vec!["svc-1".into(), "svc-2".into()],
        }),
    ]
}

#[test]
fn every_disco_message_round_trips_standalone() {
    round_trip(&query());
    round_trip(&query_response());
    round_trip(&SvcMDRegister {
        svc_mds: vec![svc_md(None)],
    });
    round_trip(&SvcMDRegisterResponse {
        status: Status::ok(),
        svc_md_ids: vec!["svc-1".into()],
        keys: vec![Keys {
            key_descriptors: vec![key_descriptor(), key_descriptor()],
        }],
    });
    round_trip(&SvcMDQuery { svc_md_ids: vec![] });
    round_trip(&SvcMDQueryResponse {
        status: Status::ok(),
        svc_mds: vec![],
    });
    round_trip(&SvcMDReplace {
        svc_mds: vec![svc_md(Some("a")), svc_md(Some("b"))],
    });
    round_trip(&SvcMDReplaceResponse { status: failed() });
    round_trip(&SvcMDDelete {
        svc_md_ids: vec!["a".into()],
    });
    round_trip(&SvcMDDeleteResponse {
        status: Status::ok(),
    });
    round_trip(&SvcMDAssociationAdd {
        svc_md_ids: vec!["a".into()],
    });
    round_trip(&SvcMDAssociationAddResponse {
        status: Status::ok(),
    });
    round_trip(&SvcMDAssociationDelete {
        svc_md_ids: vec!["a".into()],
    });
    round_trip(&SvcMDAssociationDeleteResponse {
        status: Status::ok(),
    });
    round_trip(&SvcMDAssociationQuery {
        svc_md_ids: vec!["a".into(), "b".into()],
    });
    round_trip(&SvcMDAssociationQueryResponse {
        status: Status::ok(),
        svc_md_ids: vec![],
    });
}

#[test]
fn every_disco_message_round_trips_in_an_envelope() {
    let all = disco_envelopes();
    assert_eq!(all.len(), 18);
}

#[test]
fn full_header_set_round_trips_and_lists_signature_targets() {
    let h = full_headers();
    let xml = envelope_round_trip(&h, &query());
    let targets = h.signature_targets().unwrap();
    for id in [
        "hdr-ts",
        "hdr-msgid",
        "hdr-relto",
        "hdr-to",
        "hdr-action",
        "hdr-replyto",
        "hdr-faultto",
        "hdr-framework",
        "hdr-sender",
        "hdr-tgtid",
        "hdr-usage-1",
        "hdr-usage-2",
        "hdr-ui",
        "hdr-procctx",
        "hdr-consent",
    ] {
        assert!(targets.contains(&id), "{id} missing from {targets:?}");
        assert!(
            xml.contains(&format!(r#"wsu:Id="{id}""#)),
            "{id} not written"
        );
    }
    // Every target resolves to exactly one element of the written document.
    let doc = parse(xml.as_bytes()).unwrap();
    for id in &targets {
        assert!(doc.element_by_id(id).is_some(), "{id}");
    }
    // Advisory blocks are not mustUnderstand; the rest are.
    let env = Envelope::from_document(&doc).unwrap();
    for block in &env.headers {
        let advisory = [
            "Timeout",
            "Consent",
            "RedirectRequest",
            "CredentialsContext",
            "EndpointUpdate",
        ]
        .contains(&block.local_name());
        assert_eq!(block.must_understand, !advisory, "{}", block.local_name());
        assert!(block.targets_this_node());
    }
    // A block without an ID cannot be covered by a signature.
    let mut unsigned = h.clone();
    unsigned.consent.as_mut().unwrap().id = None;
    assert!(matches!(
        unsigned.signature_targets(),
        Err(IdwsfError::MissingAttribute {
            element: "sb:Consent",
            ..
        })
    ));
}

#[test]
fn disco_request_dispatches_on_the_body_element() {
    for (name, xml) in disco_envelopes() {
        let doc = parse(xml.as_bytes()).unwrap();
        let env = Envelope::from_document(&doc).unwrap();
        let body = env.body_child().unwrap();
        let headers = IdwsfHeaders::from_envelope(&env).unwrap();
        match DiscoRequest::from_element(body) {
            Ok(req) => {
                assert!(!name.ends_with("Response"), "{name}");
                assert_eq!(req.action(), headers.action.unwrap().value);
                let mut w = schemas::xml::XmlWriter::new();
                w.start("S:Body").ns(Some("S"), ns::SOAP11);
                for (p, u) in NAMESPACES {
                    w.ns(Some(p), u);
                }
                req.write(&mut w);
                w.end();
                let again = parse(w.finish().as_bytes()).unwrap();
                let first = again.root().elements().next().unwrap();
                assert_eq!(DiscoRequest::from_element(first).unwrap(), req);
            }
            Err(IdwsfError::WrongElement { .. }) => assert!(name.ends_with("Response"), "{name}"),
            Err(e) => panic!("{name}: {e}"),
        }
    }
    assert_eq!(action::QUERY, "urn:liberty:disco:2006-08:Query");
    assert_eq!(
        action::SVC_MD_ASSOCIATION_QUERY_RESPONSE,
        "urn:liberty:disco:2006-08:SvcMDAssociationQueryResponse"
    );
}

// ---------------------------------------------------------------------------------------------
// Header presence rules and their codes

fn headers_of(xml: &str) -> Result<IdwsfHeaders, IdwsfError> {
    let doc = parse(xml.as_bytes()).unwrap();
    let env = Envelope::from_document(&doc).unwrap();
    IdwsfHeaders::from_envelope(&env)
}

fn request_xml(h: &IdwsfHeaders) -> String {
    envelope(h, Some(BODY_ID), &|w| query().write(w))
}

#[test]
fn complete_request_and_response_pass_the_presence_checks() {
    let req = headers_of(&request_xml(&request_headers(action::QUERY))).unwrap();
    req.check_request().unwrap();
    assert_eq!(req.check_framework().unwrap().version, "2.0");
    let resp = response_headers();
    resp.check_response("urn:uuid:6b1d3c3e-0001").unwrap();
}

#[test]
fn missing_framework_is_a_framework_version_mismatch() {
    let mut h = request_headers(action::QUERY);
    h.framework = None;
    let parsed = headers_of(&request_xml(&h)).unwrap();
    let err = parsed.check_request().unwrap_err();
    assert_eq!(err, IdwsfError::MissingHeader("sbf:Framework"));
    assert_eq!(err.status_code(), code::FRAMEWORK_VERSION_MISMATCH);
    let fault = err.to_fault();
    assert_eq!(fault.code, FaultCode::client());
    assert_eq!(fault.idwsf_code(), Some(code::FRAMEWORK_VERSION_MISMATCH));
}

#[test]
fn framework_version_is_preserved_so_the_receiver_can_fault() {
    let mut h = request_headers(action::QUERY);
    h.framework.as_mut().unwrap().version = "1.1".into();
    let parsed = headers_of(&request_xml(&h)).unwrap();
    assert_eq!(parsed.framework.as_ref().unwrap().version, "1.1");
    let err = parsed.check_request().unwrap_err();
    assert_eq!(err, IdwsfError::FrameworkVersion("1.1".into()));
    assert_eq!(err.status_code(), code::FRAMEWORK_VERSION_MISMATCH);
}

#[test]
fn framework_in_the_sb_2006_08_namespace_counts_as_absent() {
    let xml = request_xml(&request_headers(action::QUERY))
        .replace(
            r#"<sbf:Framework wsu:Id="hdr-framework""#,
            r#"<sb:Framework wsu:Id="hdr-framework""#,
        )
        .replacen("</sbf:Framework>", "</sb:Framework>", 1);
    let doc = parse(xml.as_bytes()).unwrap();
    let env = Envelope::from_document(&doc).unwrap();
    assert!(env
        .headers
        .iter()
        .any(|b| b.is(ns::SB, "Framework") && b.must_understand));
    // Understood (no MustUnderstand fault) ...
    env.check_must_understand(IdwsfHeaders::KNOWN).unwrap();
    // ... as "no Framework": FrameworkVersionMismatch.
    let h = IdwsfHeaders::from_envelope(&env).unwrap();
    assert!(h.framework.is_none());
    assert_eq!(
        h.check_request().unwrap_err().status_code(),
        code::FRAMEWORK_VERSION_MISMATCH
    );
}

#[test]
fn missing_message_id_is_detected() {
    let mut h = request_headers(action::QUERY);
    h.message_id = None;
    let parsed = headers_of(&request_xml(&h)).unwrap();
    let err = parsed.check_request().unwrap_err();
    assert_eq!(err, IdwsfError::MissingHeader("wsa:MessageID"));
    assert_eq!(err.status_code(), code::ID_STAR_MSG_NOT_UNDERSTOOD);
}

#[test]
fn missing_timestamp_sender_and_security_have_their_codes() {
    let mut h = request_headers(action::QUERY);
    h.security.as_mut().unwrap().timestamp = None;
    assert_eq!(
        h.check_request().unwrap_err().status_code(),
        code::STALE_MSG
    );
    h.security = None;
    assert_eq!(
        h.check_request().unwrap_err().status_code(),
        code::INAPPROPRIATE_CREDENTIALS
    );
    let mut h = request_headers(action::QUERY);
    h.sender = None;
    assert_eq!(
        h.check_request().unwrap_err().status_code(),
        code::PROVIDER_ID_NOT_VALID
    );
}

#[test]
fn unknown_must_understand_header_is_detected() {
    let xml = request_xml(&request_headers(action::QUERY)).replace(
        "<S:Header>",
        r#"<S:Header><x:Billing xmlns:x="urn:x" S:mustUnderstand="1">42</x:Billing>"#,
    );
    let doc = parse(xml.as_bytes()).unwrap();
    let env = Envelope::from_document(&doc).unwrap();
    // Reading the ID-WSF headers ignores it ...
    IdwsfHeaders::from_envelope(&env).unwrap();
    // ... the mustUnderstand check does not.
    let fault = env.check_must_understand(IdwsfHeaders::KNOWN).unwrap_err();
    assert_eq!(fault.code, FaultCode::must_understand());
}

#[test]
fn duplicate_header_blocks_are_refused() {
    let xml = request_xml(&request_headers(action::QUERY)).replace(
        "<S:Header>",
        "<S:Header><wsa:MessageID>urn:uuid:other</wsa:MessageID>",
    );
    assert_eq!(
        headers_of(&xml).unwrap_err(),
        IdwsfError::DuplicateHeader("wsa:MessageID")
    );
}

#[test]
fn malformed_header_blocks_map_to_their_codes() {
    let base = request_xml(&request_headers(action::QUERY));
    let no_provider = base.replace(&format!(r#"providerID="{PORTAL}""#), "");
    let err = headers_of(&no_provider).unwrap_err();
    assert_eq!(err.status_code(), code::PROVIDER_ID_NOT_VALID, "{err}");

    let mut with_affiliation = request_headers(action::QUERY);
    with_affiliation.sender.as_mut().unwrap().affiliation_id = Some("x".into());
    let empty_affiliation = mutate(
        &request_xml(&with_affiliation),
        r#"affiliationID="x""#,
        r#"affiliationID=" ""#,
    );
    let err = headers_of(&empty_affiliation).unwrap_err();
    assert_eq!(err.status_code(), code::AFFILIATION_ID_NOT_VALID, "{err}");

    let bad_ts = base.replace(
        "2010-04-01T09:00:00Z</wsu:Created>",
        "yesterday</wsu:Created>",
    );
    let err = headers_of(&bad_ts).unwrap_err();
    assert_eq!(err.status_code(), code::STALE_MSG, "{err}");

    let two_tokens = base.replace(
        "<wsse:SecurityTokenReference",
        &format!(
            "{}<wsse:SecurityTokenReference",
            assertion("_tok-extra", DS).xml
        ),
    );
    let err = headers_of(&two_tokens).unwrap_err();
    assert!(
        matches!(&err, IdwsfError::Header { header: "wsse:Security", source }
        if matches!(**source, IdwsfError::TooMany { .. })),
        "{err}"
    );

    let bst = base.replace(
        "<wsse:SecurityTokenReference",
        "<wsse:BinarySecurityToken>AAAA</wsse:BinarySecurityToken><wsse:SecurityTokenReference",
    );
    assert!(matches!(
        headers_of(&bst).unwrap_err(),
        IdwsfError::Header {
            header: "wsse:Security",
            ..
        }
    ));

    let mut h = request_headers(action::QUERY);
    h.target_identity = Some(TargetIdentity {
        id: Some("tgt".into()),
        token: None,
    });
    let saml11 = request_xml(&h).replace(
        r#"<sb:TargetIdentity wsu:Id="tgt" S:mustUnderstand="1" S:actor="http://schemas.xmlsoap.org/soap/actor/next"/>"#,
        r#"<sb:TargetIdentity wsu:Id="tgt"><sa11:Assertion xmlns:sa11="urn:oasis:names:tc:SAML:1.0:assertion"/></sb:TargetIdentity>"#,
    );
    let err = headers_of(&saml11).unwrap_err();
    assert_eq!(err.status_code(), code::TARGET_IDENTITY_NOT_VALID, "{err}");
}

#[test]
fn response_relates_to_must_name_the_request() {
    let resp = response_headers();
    let err = resp.check_response("urn:uuid:something-else").unwrap_err();
    assert_eq!(err.status_code(), code::INVALID_REF_TO_MSG_ID);
    let mut no_rel = response_headers();
    no_rel.relates_to = None;
    assert_eq!(
        no_rel.check_response("urn:uuid:6b1d3c3e-0001").unwrap_err(),
        IdwsfError::MissingHeader("wsa:RelatesTo")
    );
}

#[test]
fn timestamp_freshness_window() {
    let ts = Timestamp::new(now(), Duration::minutes(5));
    let window = Duration::seconds(120);
    ts.check(now(), window).unwrap();
    ts.check(now() + Duration::seconds(100), window).unwrap();
    let stale = ts
        .check(now() + Duration::seconds(121), window)
        .unwrap_err();
    assert_eq!(stale.status_code(), code::STALE_MSG);
    let future = ts
        .check(now() - Duration::seconds(121), window)
        .unwrap_err();
    assert!(matches!(future, IdwsfError::StaleMessage(m) if m.contains("future")));
    let short = Timestamp::new(now(), Duration::seconds(10));
    assert!(short
        .check(now() + Duration::seconds(60), Duration::seconds(30))
        .is_err());
}

// ---------------------------------------------------------------------------------------------
// Body refusals

#[test]
fn requested_service_results_type_must_be_known() {
    let xml = query()
        .to_xml()
        .replace(r#"resultsType="only-one""#, r#"resultsType="bogus""#);
    let err = Query::from_xml(xml.as_bytes()).unwrap_err();
    assert!(
        matches!(&err, IdwsfError::InvalidValue { what: "disco:RequestedService@resultsType", value, .. } if value == "bogus"),
        "{err}"
    );
    assert_eq!(err.status_code(), code::ID_STAR_MSG_NOT_UNDERSTOOD);
    for ok in ["all", "best", "only-one"] {
        let xml = query().to_xml().replace("only-one", ok);
        Query::from_xml(xml.as_bytes()).unwrap();
    }
}

#[test]
fn query_in_the_wrong_namespace_is_refused() {
    let xml = query().to_xml().replace(
        r#"xmlns:disco="urn:liberty:disco:2006-08""#,
        r#"xmlns:disco="urn:liberty:disco:2003-08""#,
    );
    assert!(matches!(
        Query::from_xml(xml.as_bytes()),
        Err(IdwsfError::WrongElement {
            expected: "disco:Query",
            ..
        })
    ));
    let doc = parse(xml.as_bytes()).unwrap();
    assert!(matches!(
        DiscoRequest::from_element(doc.root()),
        Err(IdwsfError::WrongElement { .. })
    ));
}

#[test]
fn svc_md_replace_without_svc_md_id_is_refused() {
    let replace = SvcMDReplace {
        svc_mds: vec![svc_md(Some("svc-1")), svc_md(None)],
    };
    assert_eq!(
        SvcMDReplace::from_xml(replace.to_xml().as_bytes()),
        Err(IdwsfError::MissingSvcMdId("disco:SvcMDReplace"))
    );
    // Register allocates IDs: none needed there.
    let register = SvcMDRegister {
        svc_mds: vec![svc_md(None)],
    };
    round_trip(&register);
    // And neither may be empty.
    let empty = r#"<disco:SvcMDRegister xmlns:disco="urn:liberty:disco:2006-08"/>"#;
    assert!(matches!(
        SvcMDRegister::from_xml(empty.as_bytes()),
        Err(IdwsfError::MissingElement {
            child: "disco:SvcMD",
            ..
        })
    ));
    let empty = r#"<disco:SvcMDDelete xmlns:disco="urn:liberty:disco:2006-08"/>"#;
    assert!(matches!(
        SvcMDDelete::from_xml(empty.as_bytes()),
        Err(IdwsfError::MissingElement {
            child: "disco:SvcMDID",
            ..
        })
    ));
}

#[test]
fn epr_without_address_is_refused() {
    let xml = bootstrap_epr().to_xml().replace(
        "<wsa:Address>https://relay.nabari.example/disco</wsa:Address>",
        "",
    );
    assert!(matches!(
        EndpointReference::from_xml(xml.as_bytes()),
        Err(IdwsfError::MissingElement {
            child: "wsa:Address",
            ..
        })
    ));
    let empty = bootstrap_epr().to_xml().replace(
        "<wsa:Address>https://relay.nabari.example/disco</wsa:Address>",
        "<wsa:Address> </wsa:Address>",
    );
    assert_eq!(
        EndpointReference::from_xml(empty.as_bytes()),
        Err(IdwsfError::EmptyValue("wsa:Address"))
    );
}

#[test]
fn sec_token_with_two_assertions_is_refused() {
    let xml = format!(
        r#"<sec:Token xmlns:sec="urn:liberty:security:2006-08" usage="{}">{}{}</sec:Token>"#,
        token_usage::SECURITY_TOKEN,
        assertion("_one", PENSION).xml,
        assertion("_two", PENSION).xml
    );
    assert_eq!(
        Token::from_xml(xml.as_bytes()),
        Err(IdwsfError::TooMany {
            parent: "sec:Token",
            child: "token"
        })
    );
    let empty = r#"<sec:Token xmlns:sec="urn:liberty:security:2006-08"/>"#;
    assert!(matches!(
        Token::from_xml(empty.as_bytes()),
        Err(IdwsfError::MissingElement {
            parent: "sec:Token",
            ..
        })
    ));
    let foreign = r#"<sec:Token xmlns:sec="urn:liberty:security:2006-08"><x:Ticket xmlns:x="urn:x"/></sec:Token>"#;
    assert!(matches!(
        Token::from_xml(foreign.as_bytes()),
        Err(IdwsfError::UnsupportedToken(_))
    ));
}

#[test]
fn schema_order_and_cardinality_are_enforced() {
    // EndpointContext without SecurityMechID.
    let ec = svc_md(None).service_contexts[0].endpoint_contexts[0].to_xml();
    let cut = ec.replace(
        "<disco:SecurityMechID>urn:liberty:security:2006-08:TLS:SAMLV2</disco:SecurityMechID>",
        "",
    );
    assert!(matches!(
        EndpointContext::from_xml(cut.as_bytes()),
        Err(IdwsfError::MissingElement {
            child: "disco:SecurityMechID",
            ..
        })
    ));
    // SvcMD with ProviderID before Abstract.
    let md = svc_md(None).to_xml();
    let swapped = md.replacen(
        "<disco:Abstract>Pension record of Nabari pension office</disco:Abstract><disco:ProviderID>https://pension.nabari.example/</disco:ProviderID>",
        "<disco:ProviderID>https://pension.nabari.example/</disco:ProviderID><disco:Abstract>Pension record of Nabari pension office</disco:Abstract>",
        1,
    );
    assert_ne!(swapped, md);
    assert!(SvcMD::from_xml(swapped.as_bytes()).is_err());
    // Text where elements belong.
    let texty =
        r#"<disco:SvcMDQuery xmlns:disco="urn:liberty:disco:2006-08">svc-1</disco:SvcMDQuery>"#;
    assert_eq!(
        SvcMDQuery::from_xml(texty.as_bytes()),
        Err(IdwsfError::UnexpectedText("disco:SvcMDQuery"))
    );
    // Status without code; response without Status.
    let no_status = r#"<disco:SvcMDDeleteResponse xmlns:disco="urn:liberty:disco:2006-08"/>"#;
    assert!(matches!(
        SvcMDDeleteResponse::from_xml(no_status.as_bytes()),
        Err(IdwsfError::MissingElement {
            child: "lu:Status",
            ..
        })
    ));
    // A comment inside a URI does not split it into something else: refused.
    let commented = r#"<disco:SvcMDQuery xmlns:disco="urn:liberty:disco:2006-08"><disco:SvcMDID>svc<!---->-1</disco:SvcMDID></disco:SvcMDQuery>"#;
    assert!(SvcMDQuery::from_xml(commented.as_bytes()).is_err());
}

#[test]
fn service_epr_validation_and_helpers() {
    let epr = bootstrap_epr();
    assert!(epr.is_discovery());
    let md = epr.validate_service_epr().unwrap();
    let (mech, sc) = md
        .security_context_for(&[secmech::CLIENT_TLS_PEER_SAMLV2, secmech::TLS_BEARER])
        .unwrap();
    assert_eq!(mech, secmech::TLS_BEARER);
    assert_eq!(
        sc.token(token_usage::SECURITY_TOKEN)
            .unwrap()
            .content
            .as_ref()
            .unwrap()
            .kind,
        TokenKind::Assertion
    );

    let mut no_provider = epr.clone();
    no_provider.metadata.as_mut().unwrap().provider_id = None;
    assert!(no_provider.validate_service_epr().is_err());
    let mut old = epr.clone();
    old.metadata.as_mut().unwrap().frameworks = vec![Framework {
        version: "1.1".into(),
        id: None,
    }];
    assert_eq!(
        old.validate_service_epr().unwrap_err().status_code(),
        code::FRAMEWORK_VERSION_MISMATCH
    );
    assert!(EndpointReference::address_only(WSA_ANONYMOUS)
        .validate_service_epr()
        .is_err());

    let qr = query_response();
    assert!(!qr.found_nothing());
    assert!(QueryResponse {
        status: Status::ok(),
        endpoint_references: vec![]
    }
    .found_nothing());
    assert!(secmech::uses_tls(secmech::TLS_BEARER));
    assert!(!secmech::uses_tls(secmech::NULL_BEARER));
    assert!(!secmech::is_known(
        "urn:liberty:security:2005-02:ClientTLS:peerSAMLV2"
    ));
    assert_eq!(service_type::DATA_SERVICES.len(), 8);
}

// ---------------------------------------------------------------------------------------------
// Schema validation with xmllint

fn xsd_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("xsd")
}

/// Validates every document in one xmllint run; returns (name, valid, diagnostics).
fn xmllint(docs: &[(String, String)]) -> Vec<(String, bool, String)> {
    let dir = tempfile::tempdir().unwrap();
    let mut paths = Vec::new();
    for (i, (name, xml)) in docs.iter().enumerate() {
        let p = dir.path().join(format!("{i:02}-{name}.xml"));
        std::fs::write(&p, xml).unwrap();
        paths.push(p);
    }
    let out = Command::new("xmllint")
        .env("XML_CATALOG_FILES", xsd_dir().join("catalog.xml"))
        .arg("--nonet")
        .arg("--noout")
        .arg("--schema")
        .arg(xsd_dir().join("idwsf-federation.xsd"))
        .args(&paths)
        .output()
        .expect("xmllint (libxml2-utils) must be installed");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        !stderr.contains("failed to compile") && !stderr.contains("Schemas parser error"),
        "schema does not compile:\n{stderr}"
    );
    docs.iter()
        .zip(&paths)
        .map(|((name, _), p)| {
            let p = p.display().to_string();
            let valid = stderr.lines().any(|l| l == format!("{p} validates"));
            let invalid = stderr
                .lines()
                .any(|l| l == format!("{p} fails to validate"));
            assert!(valid ^ invalid, "no verdict for {name}:\n{stderr}");
            let diag: Vec<&str> = stderr.lines().filter(|l| l.starts_with(&p)).collect();
            (name.clone(), valid, diag.join("\n"))
        })
        .collect()
}

fn emitted_documents() -> Vec<(String, String)> {
    let mut docs: Vec<(String, String)> = disco_envelopes()
        .into_iter()
        .map(|(n, x)| (n.to_string(), x))
        .collect();
    docs.push((
        "full-headers".into(),
        envelope(&full_headers(), Some(BODY_ID), &|w| query().write(w)),
    ));
    docs.push(("bootstrap-epr".into(), bootstrap_epr().to_xml()));
    docs.push((
        "query-response-epr".into(),
        query_response().endpoint_references[1].to_xml(),
    ));
    docs.push(("status".into(), failed().to_xml()));
    docs.push(("svcmd".into(), svc_md(Some("svc-1")).to_xml()));
    // Faults: SOAP-level (no ID-WSF headers) and ID-WSF (headers + detail status).
    let version_mismatch = schemas::soap::SoapError::VersionMismatch(None).to_fault();
    docs.push(("fault-soap".into(), version_mismatch.to_envelope()));
    let err = IdwsfError::FrameworkVersion("1.1".into());
    let mut fault = err.to_fault();
    fault.actor = Some(PENSION.into());
    let mut h = response_headers();
    h.redirect_request = Some(RedirectRequest {
        id: None,
        redirect_url: "https://pension.nabari.example/interact?transactionID=urn:uuid:1".into(),
    });
    h.credentials_context = Some(CredentialsContext {
        id: None,
        requested_authn_context: None,
        security_mech_ids: vec![secmech::TLS_SAMLV2.into()],
    });
    h.assign_ids();
    docs.push((
        "fault-idwsf".into(),
        envelope(&h, Some(BODY_ID), &|w| fault.write(w)),
    ));
    let foreign_code = Fault::new(
        FaultCode::new(Some(ns::SBF), "FrameworkVersionMismatch"),
        "v",
    );
    docs.push(("fault-sbf-code".into(), foreign_code.to_envelope()));
    for (name, xml) in [
        ("hdr-sender", full_headers().sender.unwrap().to_xml()),
        ("hdr-security", full_headers().security.unwrap().to_xml()),
        ("hdr-ui", full_headers().user_interaction.unwrap().to_xml()),
    ] {
        docs.push((name.into(), xml));
    }
    docs
}

#[test]
fn everything_emitted_validates_against_the_schemas() {
    let docs = emitted_documents();
    assert!(docs.len() >= 28);
    let failures: Vec<_> = xmllint(&docs)
        .into_iter()
        .filter(|(_, valid, _)| !valid)
        .collect();
    assert!(failures.is_empty(), "invalid: {failures:#?}");
}

/// `orig` with `from` replaced by `to` (once); the mutation must apply.
fn mutate(orig: &str, from: &str, to: &str) -> String {
    assert!(orig.contains(from), "mutation does not apply: {from}");
    orig.replacen(from, to, 1)
}

/// The wildcards are lax: if a schema failed to load, invalid content would pass silently.
/// Each of these must be refused, and for the reason given.
#[test]
fn invalid_documents_are_refused_by_the_schemas() {
    let req = request_xml(&request_headers(action::QUERY));
    let register = envelope(
        &request_headers(action::SVC_MD_REGISTER),
        Some(BODY_ID),
        &|w| {
            SvcMDRegister {
                svc_mds: vec![svc_md(None)],
            }
            .write(w)
        },
    );
    let epr = bootstrap_epr().to_xml();
    let ts = Timestamp::new(now(), Duration::minutes(5)).to_xml();
    let fault = Fault::new(FaultCode::client(), "x").to_envelope();
    let provider = format!(r#" providerID="{PORTAL}""#);
    let issuer = format!("<saml:Issuer>{DS}</saml:Issuer>");
    let mechs = concat!(
        "<disco:SecurityMechID>urn:liberty:security:2005-02:TLS:Bearer</disco:SecurityMechID>",
        "<disco:SecurityMechID>urn:liberty:security:2006-08:TLS:SAMLV2</disco:SecurityMechID>"
    );
    let address = "<wsa:Address>https://relay.nabari.example/disco</wsa:Address>";
    let cases: Vec<(&str, String, &str)> = vec![
        ("sender-without-providerID", mutate(&req, &provider, ""), "providerID"),
        ("framework-without-version", mutate(&req, r#" version="2.0""#, ""), "version"),
        (
            "query-with-unknown-disco-child",
            mutate(&req, "<disco:RequestedService ", "<disco:Bogus/><disco:RequestedService "),
            "Bogus",
        ),
        (
            "must-understand-true",
            mutate(&req, r#"S:mustUnderstand="1""#, r#"S:mustUnderstand="true""#),
            "mustUnderstand",
        ),
        (
            "duplicate-wsu-id",
            mutate(&req, r#"wsu:Id="hdr-sender""#, r#"wsu:Id="hdr-msgid""#),
            "hdr-msgid",
        ),
        (
            "timestamp-children-swapped",
            mutate(
                &ts,
                "<wsu:Created>2010-04-01T09:00:00Z</wsu:Created><wsu:Expires>2010-04-01T09:05:00Z</wsu:Expires>",
                "<wsu:Expires>2010-04-01T09:05:00Z</wsu:Expires><wsu:Created>2010-04-01T09:00:00Z</wsu:Created>",
            ),
            "Created",
        ),
        ("token-assertion-without-issuer", mutate(&req, &issuer, ""), "Issuer"),
        (
            "endpoint-context-without-framework",
            mutate(&register, r#"<sbf:Framework version="2.0"/>"#, ""),
            "Framework",
        ),
        ("epr-without-address", mutate(&epr, address, ""), "Address"),
        ("security-context-without-mech", mutate(&epr, mechs, ""), "SecurityMechID"),
        (
            "status-without-code",
            mutate(&failed().to_xml(), r#" code="Failed""#, ""),
            "code",
        ),
        (
            "fault-without-faultstring",
            mutate(&fault, "<faultstring>x</faultstring>", ""),
            "faultstring",
        ),
    ];
    let docs: Vec<(String, String)> = cases
        .iter()
        .map(|(n, x, _)| (n.to_string(), x.clone()))
        .collect();
    for ((name, valid, diag), (_, _, reason)) in xmllint(&docs).into_iter().zip(&cases) {
        assert!(!valid, "{name} accepted although invalid");
        assert!(
            diag.contains(reason),
            "{name} refused for another reason:\n{diag}"
        );
    }
}
