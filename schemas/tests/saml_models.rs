//! Typed SAML models: round trip of every message (build → to_xml → parse → equal), validation
//! of what the serializers emit against the OASIS schemas with xmllint, metadata look-ups, and
//! the parsing refusals.

use std::fmt::Debug;
use std::path::Path;
use std::process::Command;

use schemas::saml::*;
use schemas::xml::c14n::{canonicalize, C14nOptions};
use time::OffsetDateTime;

const IDP: &str = "https://idp.example.jp/idp";
const SP: &str = "https://sp.example.jp/sp";
const ACS: &str = "https://sp.example.jp/acs";

fn t(s: &str) -> OffsetDateTime {
    parse_xs_datetime(s).expect("test time")
}

/// Exclusive-canonical form of a fragment, as the parsers keep raw XML.
fn canon(xml: &str) -> String {
    let doc = schemas::xml::parse(xml.as_bytes()).expect("fixture parses");
    String::from_utf8(canonicalize(doc.root(), &C14nOptions::default())).expect("utf-8")
}

fn encrypted(local: &str) -> EncryptedElement {
    EncryptedElement {
        xml: canon(&format!(
            r#"<saml:{local} xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"><xenc:EncryptedData xmlns:xenc="http://www.w3.org/2001/04/xmlenc#" Type="http://www.w3.org/2001/04/xmlenc#Element"><xenc:EncryptionMethod Algorithm="http://www.w3.org/2009/xmlenc11#aes128-gcm"/><xenc:CipherData><xenc:CipherValue>AAECAwQ=</xenc:CipherValue></xenc:CipherData></xenc:EncryptedData></saml:{local}>"#
        )),
    }
}

fn issuer(entity: &str) -> NameId {
    NameId::with_format(entity, nameid_format::ENTITY)
}

fn pairwise() -> NameId {
    NameId {
        value: "pairwise-7f3a".into(),
        format: Some(nameid_format::PERSISTENT.into()),
        name_qualifier: Some(IDP.into()),
        sp_name_qualifier: Some(SP.into()),
        sp_provided_id: Some("sp-local-1".into()),
    }
}

fn discovery_epr() -> String {
    canon(
        r#"<wsa:EndpointReference xmlns:wsa="http://www.w3.org/2005/08/addressing" xmlns:disco="urn:liberty:disco:2006-08"><wsa:Address>https://relay.example.jp/disco</wsa:Address><wsa:Metadata><disco:ServiceType>urn:liberty:disco:2006-08</disco:ServiceType><disco:ProviderID>https://relay.example.jp</disco:ProviderID></wsa:Metadata></wsa:EndpointReference>"#,
    )
}

fn full_assertion(id: &str) -> Assertion {
    let hok_key = canon(
        r#"<ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:KeyName>portal-key-2024</ds:KeyName></ds:KeyInfo>"#,
    );
    Assertion {
        id: id.into(),
        issue_instant: t("2024-04-01T09:00:00Z"),
        issuer: issuer(IDP),
        subject: Some(Subject {
            id: Some(SubjectId::NameId(pairwise())),
            confirmations: vec![
                SubjectConfirmation {
                    method: confirmation::BEARER.into(),
                    id: None,
                    data: Some(SubjectConfirmationData {
                        not_on_or_after: Some(t("2024-04-01T09:05:00Z")),
                        recipient: Some(ACS.into()),
                        in_response_to: Some("req-1".into()),
                        address: Some("192.0.2.7".into()),
                        ..Default::default()
                    }),
                },
                SubjectConfirmation {
                    method: confirmation::HOLDER_OF_KEY.into(),
                    id: Some(SubjectId::Encrypted(encrypted("EncryptedID"))),
                    data: Some(SubjectConfirmationData {
                        not_before: Some(t("2024-04-01T09:00:00Z")),
                        key_info_type: true,
                        key_infos: vec![hok_key],
                        ..Default::default()
                    }),
                },
            ],
        }),
        conditions: Some(Conditions {
            not_before: Some(t("2024-04-01T08:59:00Z")),
            not_on_or_after: Some(t("2024-04-01T09:05:00Z")),
            audience_restrictions: vec![
                AudienceRestriction {
                    audiences: vec![SP.into()],
                },
                AudienceRestriction {
                    audiences: vec![SP.into(), "https://other.example.jp".into()],
                },
            ],
            one_time_use: true,
            proxy_restriction: Some(ProxyRestriction {
                count: Some(0),
                audiences: vec![SP.into()],
            }),
        }),
        advice: Some(canon(
            r#"<saml:Advice xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"><saml:AssertionIDRef>id-earlier</saml:AssertionIDRef></saml:Advice>"#,
        )),
        statements: vec![
            Statement::Authn(AuthnStatement {
                authn_instant: t("2024-04-01T08:59:30Z"),
                session_index: Some("sess-42".into()),
                session_not_on_or_after: Some(t("2024-04-01T17:00:00Z")),
                subject_locality: Some(SubjectLocality {
                    address: Some("192.0.2.7".into()),
                    dns_name: Some("client.example.jp".into()),
                }),
                authn_context: AuthnContext {
                    class_ref: Some(authn_context::SMARTCARD_PKI.into()),
                    decl_ref: Some("urn:nabari:ac:jpki-pin".into()),
                    decl: None,
                    authenticating_authorities: vec![IDP.into()],
                },
            }),
            Statement::Attribute(AttributeStatement {
                items: vec![
                    AttributeItem::Plain(Attribute {
                        name: "urn:liberty:disco:2006-08:DiscoveryEPR".into(),
                        name_format: Some(attrname_format::URI.into()),
                        friendly_name: None,
                        values: vec![AttributeValue::Element {
                            xml: discovery_epr(),
                            xsi_type: None,
                        }],
                    }),
                    AttributeItem::Plain(Attribute {
                        name: "urn:oid:0.9.2342.19200300.100.1.3".into(),
                        name_format: Some(attrname_format::URI.into()),
                        friendly_name: Some("mail".into()),
                        values: vec![
                            AttributeValue::string("taro@example.jp"),
                            AttributeValue::Text {
                                value: "  spaced & <escaped>\ttext ".into(),
                                xsi_type: None,
                            },
                            AttributeValue::Text {
                                value: "2024-04-01T00:00:00Z".into(),
                                xsi_type: Some(QName::xs("dateTime")),
                            },
                            AttributeValue::Nil,
                        ],
                    }),
                    AttributeItem::Encrypted(encrypted("EncryptedAttribute")),
                ],
            }),
            Statement::AuthzDecision(canon(
                r#"<saml:AuthzDecisionStatement xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" Decision="Permit" Resource="urn:nabari:pension"><saml:Action Namespace="urn:oasis:names:tc:SAML:1.0:action:rwedc">Read</saml:Action></saml:AuthzDecisionStatement>"#,
            )),
        ],
    }
}

fn minimal_assertion(id: &str) -> Assertion {
    Assertion {
        id: id.into(),
        issue_instant: t("2024-04-01T09:00:00Z"),
        issuer: issuer(IDP),
        subject: None,
        conditions: None,
        advice: None,
        statements: vec![Statement::Authn(AuthnStatement {
            authn_instant: t("2024-04-01T09:00:00Z"),
            session_index: None,
            session_not_on_or_after: None,
            subject_locality: None,
            authn_context: AuthnContext::class(authn_context::X509),
        })],
    }
}

fn request_header(id: &str, destination: &str) -> RequestHeader {
    RequestHeader {
        destination: Some(destination.into()),
        consent: Some(consent::OBTAINED.into()),
        extensions: Some(canon(
            r#"<samlp:Extensions xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol"><ext:Purpose xmlns:ext="urn:x-test:ext">eligibility</ext:Purpose></samlp:Extensions>"#,
        )),
        ..RequestHeader::new(id, t("2024-04-01T09:00:00Z"), issuer(SP))
    }
}

fn response_header(id: &str, status: Status) -> StatusResponseHeader {
    StatusResponseHeader {
        in_response_to: Some("req-1".into()),
        destination: Some(ACS.into()),
        ..StatusResponseHeader::new(id, t("2024-04-01T09:00:01Z"), issuer(IDP), status)
    }
}

fn authn_request() -> AuthnRequest {
    AuthnRequest {
        force_authn: Some(true),
        is_passive: Some(false),
        protocol_binding: Some(bindings::HTTP_POST.into()),
        assertion_consumer_service_index: Some(3),
        assertion_consumer_service_url: Some(ACS.into()),
        attribute_consuming_service_index: Some(1),
        provider_name: Some("Nabari portal".into()),
        subject: Some(Subject {
            id: Some(SubjectId::NameId(pairwise())),
            confirmations: vec![],
        }),
        name_id_policy: Some(NameIdPolicy {
            format: Some(nameid_format::PERSISTENT.into()),
            sp_name_qualifier: Some(SP.into()),
            allow_create: Some(true),
        }),
        conditions: Some(Conditions {
            not_on_or_after: Some(t("2024-04-01T09:10:00Z")),
            ..Default::default()
        }),
        requested_authn_context: Some(RequestedAuthnContext {
            comparison: AuthnContextComparison::Minimum,
            refs: RequestedAuthnContextRefs::Class(vec![
                authn_context::SMARTCARD_PKI.into(),
                authn_context::X509.into(),
            ]),
        }),
        scoping: Some(Scoping {
            proxy_count: Some(1),
            idp_list: vec![IdpEntry {
                provider_id: IDP.into(),
                name: Some("Nabari IdP".into()),
                loc: Some("https://idp.example.jp/sso".into()),
            }],
            get_complete: Some("https://idp.example.jp/idplist".into()),
            requester_ids: vec![SP.into()],
        }),
        ..AuthnRequest::new(request_header("req-1", "https://idp.example.jp/sso"))
    }
}

fn success_response() -> Response {
    Response {
        header: response_header("resp-1", Status::success()),
        assertions: vec![
            AssertionItem::Plain(full_assertion("assertion-1")),
            AssertionItem::Encrypted(encrypted("EncryptedAssertion")),
        ],
    }
}

fn error_response() -> Response {
    let mut status = Status::new(status::RESPONDER, Some(status::NO_AUTHN_CONTEXT));
    status.message = Some("the card level was not met".into());
    status.detail = Some(canon(
        r#"<samlp:StatusDetail xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol"><ext:Why xmlns:ext="urn:x-test:ext">pin-less</ext:Why></samlp:StatusDetail>"#,
    ));
    Response {
        header: response_header("resp-2", status),
        assertions: vec![],
    }
}

fn logout_request(encrypted_id: bool) -> LogoutRequest {
    LogoutRequest {
        header: request_header(
            if encrypted_id { "lo-2" } else { "lo-1" },
            "https://idp.example.jp/slo",
        ),
        not_on_or_after: Some(t("2024-04-01T09:10:00Z")),
        reason: Some("urn:oasis:names:tc:SAML:2.0:logout:user".into()),
        id: if encrypted_id {
            SubjectId::Encrypted(encrypted("EncryptedID"))
        } else {
            SubjectId::NameId(pairwise())
        },
        session_indexes: vec!["sess-42".into(), "sess-43".into()],
    }
}

fn logout_response() -> LogoutResponse {
    LogoutResponse {
        header: response_header(
            "lo-resp-1",
            Status::new(status::SUCCESS, Some(status::PARTIAL_LOGOUT)),
        ),
    }
}

fn artifact_resolve() -> ArtifactResolve {
    ArtifactResolve {
        header: request_header("ar-1", "https://idp.example.jp/ars"),
        artifact: "AAQAAMh48/1oXIM+sDo7Dh2qMp1HM4IF5DaRNmDj6RdUmllwn9jJHyEgIi8=".into(),
    }
}

fn artifact_response() -> ArtifactResponse {
    let inner = minimal_response("inner-resp", "inner-assertion");
    let doc = schemas::xml::parse(inner.to_xml().as_bytes()).expect("inner");
    ArtifactResponse {
        header: response_header("arr-1", Status::success()),
        message: Some(OtherElement {
            namespace: Some(schemas::ns::SAMLP.into()),
            local: "Response".into(),
            xml: String::from_utf8(canonicalize(doc.root(), &C14nOptions::default()))
                .expect("utf-8"),
        }),
    }
}

fn minimal_response(id: &str, assertion_id: &str) -> Response {
    Response {
        header: StatusResponseHeader::new(
            id,
            t("2024-04-01T09:00:01Z"),
            issuer(IDP),
            Status::success(),
        ),
        assertions: vec![AssertionItem::Plain(minimal_assertion(assertion_id))],
    }
}

fn cert_der() -> Vec<u8> {
    std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/saml/pysaml2/cert.der"))
        .expect("pysaml2 fixture certificate")
}

fn idp_descriptor() -> IdpSsoDescriptor {
    IdpSsoDescriptor {
        sso: SsoDescriptor {
            id: Some("idp-role".into()),
            valid_until: Some(t("2030-01-01T00:00:00Z")),
            cache_duration: Some("PT6H".into()),
            error_url: Some("https://idp.example.jp/error".into()),
            extensions: Some(MetadataExtensions {
                items: vec![ExtensionItem::Other(OtherElement {
                    namespace: Some("urn:x-test:ext".into()),
                    local: "Logo".into(),
                    xml: canon(
                        r#"<ext:Logo xmlns:ext="urn:x-test:ext">https://idp.example.jp/logo.png</ext:Logo>"#,
                    ),
                })],
            }),
            key_descriptors: vec![
                KeyDescriptor {
                    key_use: Some(KeyUse::Signing),
                    key_names: vec!["idp-2024".into()],
                    certificates: vec![cert_der()],
                    encryption_methods: vec![],
                },
                // Rollover: the next signing key, published ahead of use.
                KeyDescriptor::new(Some(KeyUse::Signing), vec![0x30, 0x03, 0x02, 0x01, 0x07]),
                KeyDescriptor {
                    key_use: Some(KeyUse::Encryption),
                    key_names: vec![],
                    certificates: vec![vec![0x30, 0x03, 0x02, 0x01, 0x09]],
                    encryption_methods: vec![
                        EncryptionMethod::new("http://www.w3.org/2009/xmlenc11#aes256-gcm"),
                        EncryptionMethod {
                            algorithm: "http://www.w3.org/2009/xmlenc11#rsa-oaep".into(),
                            key_size: Some(2048),
                            digest_method: Some("http://www.w3.org/2001/04/xmlenc#sha256".into()),
                            mgf: Some("http://www.w3.org/2009/xmlenc11#mgf1sha256".into()),
                        },
                    ],
                },
            ],
            organization: Some(Organization {
                names: vec![LocalizedString {
                    lang: "ja".into(),
                    value: "名張市".into(),
                }],
                display_names: vec![LocalizedString {
                    lang: "en".into(),
                    value: "Nabari City".into(),
                }],
                urls: vec![LocalizedString {
                    lang: "en".into(),
                    value: "https://www.example.jp/".into(),
                }],
            }),
            contacts: vec![ContactPerson {
                contact_type: "technical".into(),
                company: Some("Nabari City".into()),
                given_name: Some("Taro".into()),
                sur_name: Some("Yamada".into()),
                email_addresses: vec!["mailto:idp-ops@example.jp".into()],
                telephone_numbers: vec!["+81-595-00-0000".into()],
            }],
            artifact_resolution_services: vec![IndexedEndpoint::new(
                bindings::SOAP,
                "https://idp.example.jp/ars",
                0,
            )],
            single_logout_services: vec![
                Endpoint::new(bindings::HTTP_REDIRECT, "https://idp.example.jp/slo"),
                Endpoint {
                    response_location: Some("https://idp.example.jp/slo/response".into()),
                    ..Endpoint::new(bindings::HTTP_POST, "https://idp.example.jp/slo")
                },
            ],
            manage_name_id_services: vec![],
            name_id_formats: vec![
                nameid_format::PERSISTENT.into(),
                nameid_format::TRANSIENT.into(),
            ],
            ..SsoDescriptor::saml2()
        },
        want_authn_requests_signed: Some(true),
        single_sign_on_services: vec![
            Endpoint::new(bindings::HTTP_REDIRECT, "https://idp.example.jp/sso"),
            Endpoint::new(bindings::HTTP_POST, "https://idp.example.jp/sso/post"),
        ],
        name_id_mapping_services: vec![],
        assertion_id_request_services: vec![],
        attribute_profiles: vec!["urn:oasis:names:tc:SAML:2.0:profiles:attribute:basic".into()],
        attributes: vec![Attribute::uri(
            "urn:liberty:disco:2006-08:DiscoveryEPR",
            &[],
        )],
    }
}

fn sp_descriptor() -> SpSsoDescriptor {
    SpSsoDescriptor {
        sso: SsoDescriptor {
            // No `use`: the key serves signing and encryption.
            key_descriptors: vec![KeyDescriptor::new(None, vec![0x30, 0x03, 0x02, 0x01, 0x05])],
            single_logout_services: vec![Endpoint::new(
                bindings::HTTP_REDIRECT,
                "https://sp.example.jp/slo",
            )],
            name_id_formats: vec![nameid_format::PERSISTENT.into()],
            ..SsoDescriptor::saml2()
        },
        authn_requests_signed: Some(true),
        want_assertions_signed: Some(true),
        assertion_consumer_services: vec![
            IndexedEndpoint::new(bindings::HTTP_POST, "https://sp.example.jp/acs/first", 0),
            IndexedEndpoint {
                is_default: Some(true),
                ..IndexedEndpoint::new(bindings::HTTP_POST, ACS, 1)
            },
            IndexedEndpoint {
                is_default: Some(false),
                ..IndexedEndpoint::new(
                    bindings::HTTP_ARTIFACT,
                    "https://sp.example.jp/acs/artifact",
                    2,
                )
            },
        ],
        attribute_consuming_services: vec![AttributeConsumingService {
            index: 1,
            is_default: Some(true),
            service_names: vec![LocalizedString {
                lang: "en".into(),
                value: "Resident portal".into(),
            }],
            service_descriptions: vec![LocalizedString {
                lang: "ja".into(),
                value: "住民ポータル".into(),
            }],
            requested_attributes: vec![RequestedAttribute {
                attribute: Attribute {
                    friendly_name: Some("DiscoveryEPR".into()),
                    ..Attribute::uri("urn:liberty:disco:2006-08:DiscoveryEPR", &[])
                },
                is_required: Some(true),
            }],
        }],
    }
}

fn idp_entity() -> EntityDescriptor {
    EntityDescriptor {
        id: Some("md-idp".into()),
        valid_until: Some(t("2030-01-01T00:00:00Z")),
        cache_duration: Some("P1D".into()),
        extensions: Some(MetadataExtensions {
            items: vec![
                ExtensionItem::DigestMethod("http://www.w3.org/2001/04/xmlenc#sha256".into()),
                ExtensionItem::SigningMethod(SigningMethod {
                    algorithm: "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256".into(),
                    min_key_size: Some(2048),
                    max_key_size: Some(4096),
                }),
                ExtensionItem::SigningMethod(SigningMethod {
                    algorithm: "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256".into(),
                    min_key_size: None,
                    max_key_size: None,
                }),
            ],
        }),
        organization: Some(Organization {
            names: vec![LocalizedString {
                lang: "en".into(),
                value: "Nabari".into(),
            }],
            display_names: vec![LocalizedString {
                lang: "en".into(),
                value: "Nabari".into(),
            }],
            urls: vec![LocalizedString {
                lang: "en".into(),
                value: "https://www.example.jp/".into(),
            }],
        }),
        contacts: vec![ContactPerson {
            contact_type: "support".into(),
            email_addresses: vec!["mailto:support@example.jp".into()],
            ..Default::default()
        }],
        ..EntityDescriptor::new(
            IDP,
            vec![
                Role::Idp(idp_descriptor()),
                Role::Other(OtherElement {
                    namespace: Some(schemas::ns::MD.into()),
                    local: "AttributeAuthorityDescriptor".into(),
                    xml: canon(
                        r#"<md:AttributeAuthorityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><md:AttributeService Binding="urn:oasis:names:tc:SAML:2.0:bindings:SOAP" Location="https://idp.example.jp/aa"/></md:AttributeAuthorityDescriptor>"#,
                    ),
                }),
            ],
        )
    }
}

fn sp_entity() -> EntityDescriptor {
    EntityDescriptor::new(SP, vec![Role::Sp(sp_descriptor())])
}

fn federation() -> EntitiesDescriptor {
    EntitiesDescriptor {
        name: Some("urn:nabari:federation".into()),
        id: Some("fed-2024-04".into()),
        valid_until: Some(t("2024-05-01T00:00:00Z")),
        cache_duration: Some("PT1H".into()),
        extensions: None,
        items: vec![
            EntitiesItem::Entity(idp_entity()),
            EntitiesItem::Group(EntitiesDescriptor {
                name: Some("urn:nabari:federation:sps".into()),
                items: vec![EntitiesItem::Entity(sp_entity())],
                ..Default::default()
            }),
        ],
    }
}

/// Writes, parses back, compares, and checks that writing again gives the same text.
fn roundtrip<T: SamlXml + PartialEq + Debug>(value: &T) -> String {
    let xml = value.to_xml();
    let parsed = T::from_xml(xml.as_bytes()).unwrap_or_else(|e| panic!("{e}\n{xml}"));
    assert_eq!(&parsed, value, "round trip changed the value:\n{xml}");
    assert_eq!(parsed.to_xml(), xml, "serialization is not stable");
    xml
}

#[test]
fn roundtrip_assertions() {
    roundtrip(&full_assertion("assertion-1"));
    roundtrip(&minimal_assertion("assertion-2"));
    roundtrip(&pairwise());
    roundtrip(&Attribute::uri("urn:oid:2.5.4.42", &["Taro", "太郎"]));
}

#[test]
fn roundtrip_protocol_messages() {
    roundtrip(&authn_request());
    roundtrip(&AuthnRequest::new(RequestHeader::new(
        "req-min",
        t("2024-04-01T09:00:00Z"),
        issuer(SP),
    )));
    roundtrip(&success_response());
    roundtrip(&error_response());
    roundtrip(&logout_request(false));
    roundtrip(&logout_request(true));
    roundtrip(&logout_response());
    roundtrip(&artifact_resolve());
    roundtrip(&artifact_response());
    let mut decl_ref = authn_request();
    decl_ref.requested_authn_context = Some(RequestedAuthnContext {
        comparison: AuthnContextComparison::Better,
        refs: RequestedAuthnContextRefs::Decl(vec!["urn:x-test:decl".into()]),
    });
    roundtrip(&decl_ref);
}

#[test]
fn roundtrip_metadata() {
    roundtrip(&idp_entity());
    roundtrip(&sp_entity());
    roundtrip(&federation());
}

#[test]
fn artifact_response_inner_message_parses_as_its_type() {
    let ar = ArtifactResponse::from_xml(artifact_response().to_xml().as_bytes()).unwrap();
    let inner = ar.message.expect("message");
    assert!(inner.is(schemas::ns::SAMLP, "Response"));
    let resp: Response = inner.parse().unwrap();
    assert_eq!(resp, minimal_response("inner-resp", "inner-assertion"));
}

#[test]
fn parsed_values_are_what_was_sent() {
    let resp = Response::from_xml(success_response().to_xml().as_bytes()).unwrap();
    assert!(resp.header.status.is_success());
    let a = resp.plain_assertions().next().unwrap();
    assert_eq!(
        a.subject.as_ref().unwrap().name_id().unwrap().value,
        "pairwise-7f3a"
    );
    let epr = a
        .attribute("urn:liberty:disco:2006-08:DiscoveryEPR")
        .unwrap();
    match &epr.values[0] {
        AttributeValue::Element { xml, .. } => {
            let doc = schemas::xml::parse(xml.as_bytes()).unwrap();
            assert!(doc.root().is(schemas::ns::WSA, "EndpointReference"));
        }
        other => panic!("EPR kept as {other:?}"),
    }
    let mail = a.attribute("urn:oid:0.9.2342.19200300.100.1.3").unwrap();
    assert_eq!(
        mail.text_values().collect::<Vec<_>>()[..2],
        ["taro@example.jp", "  spaced & <escaped>\ttext "]
    );
    assert_eq!(
        a.authn_statements()
            .next()
            .unwrap()
            .authn_context
            .class_ref
            .as_deref(),
        Some(authn_context::SMARTCARD_PKI)
    );
    let err = Response::from_xml(error_response().to_xml().as_bytes()).unwrap();
    assert_eq!(
        err.header.status.second_level(),
        Some(status::NO_AUTHN_CONTEXT)
    );
    assert!(!err.header.status.is_success());
}

#[test]
fn times_are_written_in_utc_whole_seconds() {
    let mut a = minimal_assertion("a-time");
    a.issue_instant = t("2024-04-01T18:00:00.987+09:00");
    let xml = a.to_xml();
    assert!(
        xml.contains(r#"IssueInstant="2024-04-01T09:00:00Z""#),
        "{xml}"
    );
}

#[test]
fn metadata_lookups() {
    let fed = EntitiesDescriptor::from_xml(federation().to_xml().as_bytes()).unwrap();
    assert_eq!(fed.entities().len(), 2);
    let idp = fed.find(IDP).unwrap().idp().unwrap();
    assert_eq!(
        idp.sso.signing_certificates(),
        vec![&cert_der()[..], &[0x30, 0x03, 0x02, 0x01, 0x07][..]]
    );
    assert_eq!(
        idp.sso.encryption_certificates(),
        vec![&[0x30, 0x03, 0x02, 0x01, 0x09][..]]
    );
    assert_eq!(
        idp.sso_service(bindings::HTTP_REDIRECT).unwrap().location,
        "https://idp.example.jp/sso"
    );
    assert!(idp.sso_service(bindings::SOAP).is_none());
    assert_eq!(
        idp.sso
            .single_logout_service(bindings::HTTP_POST)
            .unwrap()
            .response_location
            .as_deref(),
        Some("https://idp.example.jp/slo/response")
    );
    let ext = fed.find(IDP).unwrap().extensions.as_ref().unwrap();
    assert_eq!(
        ext.digest_methods().collect::<Vec<_>>(),
        ["http://www.w3.org/2001/04/xmlenc#sha256"]
    );
    assert_eq!(
        ext.signing_methods().next().unwrap().min_key_size,
        Some(2048)
    );

    let sp = fed.find(SP).unwrap().sp().unwrap();
    assert!(fed.find(SP).unwrap().idp().is_none());
    // A key without `use` is both a signing and an encryption key.
    assert_eq!(sp.sso.signing_certificates().len(), 1);
    assert_eq!(sp.sso.encryption_certificates().len(), 1);
    assert_eq!(sp.acs_by_url(ACS).unwrap().index, 1);
    assert!(sp.acs_by_url("https://sp.example.jp/acs/").is_none());
    assert_eq!(
        sp.acs_by_index(2).unwrap().endpoint.binding,
        bindings::HTTP_ARTIFACT
    );
    assert!(sp.acs_by_index(9).is_none());
    assert_eq!(sp.default_acs().unwrap().index, 1);
    let mut no_default = sp.clone();
    no_default.assertion_consumer_services[1].is_default = None;
    no_default.assertion_consumer_services.swap(0, 2);
    // First without isDefault="false".
    assert_eq!(no_default.default_acs().unwrap().index, 1);
    assert!(fed.find("https://unknown.example.jp").is_none());
}

#[test]
fn parsers_read_only_the_given_element() {
    // An assertion read from inside its response: nothing outside it is used.
    let xml = success_response().to_xml();
    let doc = schemas::xml::parse(xml.as_bytes()).unwrap();
    let a = doc.root().first(schemas::ns::SAML, "Assertion").unwrap();
    assert_eq!(
        Assertion::from_element(a).unwrap(),
        full_assertion("assertion-1")
    );
}

// ---------------------------------------------------------------------------------------------
// Schema validation of everything the serializers emit.

const XSD_WRAPPER: &str = r#"<?xml version="1.0"?>
<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:x-test:wrapper">
  <xs:import namespace="urn:oasis:names:tc:SAML:2.0:protocol" schemaLocation="file:///usr/share/xml/opensaml/saml-schema-protocol-2.0.xsd"/>
  <xs:import namespace="urn:oasis:names:tc:SAML:2.0:metadata" schemaLocation="file:///usr/share/xml/opensaml/saml-schema-metadata-2.0.xsd"/>
  <xs:import namespace="urn:oasis:names:tc:SAML:metadata:algsupport" schemaLocation="file:///usr/share/xml/opensaml/sstc-saml-metadata-algsupport-v1.0.xsd"/>
  <xs:import namespace="http://www.w3.org/2009/xmlenc11#" schemaLocation="file:///usr/share/xml/xmltooling/xenc11-schema.xsd"/>
</xs:schema>
"#;

/// Maps the W3C schema locations the OASIS schemas import to the local copies (no network).
const XML_CATALOG: &str = r#"<?xml version="1.0"?>
<catalog xmlns="urn:oasis:names:tc:entity:xmlns:xml:catalog">
  <uri name="http://www.w3.org/TR/2002/REC-xmldsig-core-20020212/xmldsig-core-schema.xsd" uri="file:///usr/share/xml/xmltooling/xmldsig-core-schema.xsd"/>
  <uri name="http://www.w3.org/TR/2002/REC-xmlenc-core-20021210/xenc-schema.xsd" uri="file:///usr/share/xml/xmltooling/xenc-schema.xsd"/>
  <uri name="http://www.w3.org/2001/xml.xsd" uri="file:///usr/share/xml/xmltooling/xml.xsd"/>
  <system systemId="http://www.w3.org/TR/2002/REC-xmldsig-core-20020212/xmldsig-core-schema.xsd" uri="file:///usr/share/xml/xmltooling/xmldsig-core-schema.xsd"/>
  <system systemId="http://www.w3.org/TR/2002/REC-xmlenc-core-20021210/xenc-schema.xsd" uri="file:///usr/share/xml/xmltooling/xenc-schema.xsd"/>
  <system systemId="http://www.w3.org/2001/xml.xsd" uri="file:///usr/share/xml/xmltooling/xml.xsd"/>
</catalog>
"#;

#[test]
fn emitted_xml_validates_against_oasis_schemas() {
    for f in [
        "/usr/share/xml/opensaml/saml-schema-protocol-2.0.xsd",
        "/usr/share/xml/xmltooling/xmldsig-core-schema.xsd",
    ] {
        assert!(
            Path::new(f).exists(),
            "{f} missing: install opensaml-schemas and xmltooling-schemas"
        );
    }
    let docs: Vec<(&str, String)> = vec![
        ("authn_request", authn_request().to_xml()),
        (
            "authn_request_minimal",
            AuthnRequest::new(RequestHeader::new(
                "r",
                t("2024-04-01T09:00:00Z"),
                issuer(SP),
            ))
            .to_xml(),
        ),
        ("response", success_response().to_xml()),
        ("response_error", error_response().to_xml()),
        (
            "response_minimal",
            minimal_response("m-resp", "m-assertion").to_xml(),
        ),
        ("assertion", full_assertion("a-standalone").to_xml()),
        ("logout_request", logout_request(false).to_xml()),
        ("logout_request_encrypted_id", logout_request(true).to_xml()),
        ("logout_response", logout_response().to_xml()),
        ("artifact_resolve", artifact_resolve().to_xml()),
        ("artifact_response", artifact_response().to_xml()),
        ("entity_idp", idp_entity().to_xml()),
        ("entity_sp", sp_entity().to_xml()),
        ("entities", federation().to_xml()),
    ];
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("wrapper.xsd"), XSD_WRAPPER).unwrap();
    std::fs::write(dir.path().join("catalog.xml"), XML_CATALOG).unwrap();
    let mut files = Vec::new();
    for (name, xml) in &docs {
        let p = dir.path().join(format!("{name}.xml"));
        std::fs::write(&p, xml).unwrap();
        files.push(p);
    }
    let out = Command::new("xmllint")
        .env("XML_CATALOG_FILES", dir.path().join("catalog.xml"))
        .arg("--nonet")
        .arg("--noout")
        .arg("--schema")
        .arg(dir.path().join("wrapper.xsd"))
        .args(&files)
        .output()
        .expect("xmllint must be installed (libxml2-utils)");
    let stderr = String::from_utf8_lossy(&out.stderr);
    for (name, _) in &docs {
        assert!(
            stderr.contains(&format!("{name}.xml validates")),
            "{name} does not validate:\n{stderr}"
        );
    }
    assert!(out.status.success(), "{stderr}");
}

// ---------------------------------------------------------------------------------------------
// Refusals.

const NS: &str = r#"xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion""#;

fn logout_response_xml(attrs: &str, body: &str) -> String {
    format!(
        r#"<samlp:LogoutResponse {NS} {attrs}>{body}<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status></samlp:LogoutResponse>"#
    )
}

const GOOD_ATTRS: &str = r#"ID="r1" Version="2.0" IssueInstant="2024-04-01T09:00:00Z""#;

#[test]
fn baseline_of_the_refusal_tests_parses() {
    let ok = logout_response_xml(
        GOOD_ATTRS,
        "<saml:Issuer>https://idp.example.jp/idp</saml:Issuer>",
    );
    LogoutResponse::from_xml(ok.as_bytes()).unwrap();
}

#[test]
fn refuses_missing_required_attributes() {
    for (attrs, missing) in [
        (r#"Version="2.0" IssueInstant="2024-04-01T09:00:00Z""#, "ID"),
        (r#"ID="r1" IssueInstant="2024-04-01T09:00:00Z""#, "Version"),
        (r#"ID="r1" Version="2.0""#, "IssueInstant"),
    ] {
        let err = LogoutResponse::from_xml(logout_response_xml(attrs, "").as_bytes()).unwrap_err();
        assert!(
            matches!(&err, SamlError::MissingAttribute { attribute, .. } if attribute == missing),
            "{missing}: {err:?}"
        );
    }
    let err = Assertion::from_xml(
        br#"<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" Version="2.0" IssueInstant="2024-04-01T09:00:00Z"><saml:Issuer>x</saml:Issuer></saml:Assertion>"#,
    )
    .unwrap_err();
    assert!(matches!(err, SamlError::MissingAttribute { .. }), "{err:?}");
}

#[test]
fn refuses_empty_or_malformed_id() {
    for id in ["", "1abc", "a b"] {
        let attrs = format!(r#"ID="{id}" Version="2.0" IssueInstant="2024-04-01T09:00:00Z""#);
        let err = LogoutResponse::from_xml(logout_response_xml(&attrs, "").as_bytes()).unwrap_err();
        assert!(
            matches!(err, SamlError::InvalidValue { .. }),
            "{id:?}: {err:?}"
        );
    }
}

#[test]
fn refuses_other_versions() {
    for v in ["1.1", "2.1", "2.0 ", ""] {
        let attrs = format!(r#"ID="r1" Version="{v}" IssueInstant="2024-04-01T09:00:00Z""#);
        let err = LogoutResponse::from_xml(logout_response_xml(&attrs, "").as_bytes()).unwrap_err();
        assert!(
            matches!(err, SamlError::UnsupportedVersion { .. }),
            "{v:?}: {err:?}"
        );
    }
}

#[test]
fn refuses_bad_datetimes() {
    for v in [
        "2024-04-01",
        "2024-04-01T25:00:00Z",
        "now",
        "2024-04-01T09:00:00+0900",
        "2024-02-30T00:00:00Z",
    ] {
        let attrs = format!(r#"ID="r1" Version="2.0" IssueInstant="{v}""#);
        let err = LogoutResponse::from_xml(logout_response_xml(&attrs, "").as_bytes()).unwrap_err();
        assert!(
            matches!(err, SamlError::InvalidDateTime { .. }),
            "{v:?}: {err:?}"
        );
    }
}

#[test]
fn refuses_the_wrong_root_element() {
    let xml = logout_response().to_xml();
    let err = Response::from_xml(xml.as_bytes()).unwrap_err();
    assert!(matches!(err, SamlError::WrongElement { .. }), "{err:?}");
    let err = Assertion::from_xml(xml.as_bytes()).unwrap_err();
    assert!(matches!(err, SamlError::WrongElement { .. }), "{err:?}");
    // Right local name, wrong namespace.
    let fake = xml.replace(
        "urn:oasis:names:tc:SAML:2.0:protocol",
        "urn:x-evil:protocol",
    );
    assert!(matches!(
        LogoutResponse::from_xml(fake.as_bytes()),
        Err(SamlError::WrongElement { .. })
    ));
}

#[test]
fn refuses_two_issuers_and_misordered_children() {
    let two = logout_response_xml(GOOD_ATTRS, "<saml:Issuer>https://idp.example.jp/idp</saml:Issuer><saml:Issuer>https://evil.example/</saml:Issuer>");
    let err = LogoutResponse::from_xml(two.as_bytes()).unwrap_err();
    assert!(
        matches!(err, SamlError::UnexpectedElement { .. }),
        "{err:?}"
    );

    // Status before Issuer.
    let misordered = format!(
        r#"<samlp:LogoutResponse {NS} {GOOD_ATTRS}><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status><saml:Issuer>x</saml:Issuer></samlp:LogoutResponse>"#
    );
    assert!(LogoutResponse::from_xml(misordered.as_bytes()).is_err());

    // An unknown child at the end.
    let extra = format!(
        r#"<samlp:LogoutResponse {NS} {GOOD_ATTRS}><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status><saml:Assertion/></samlp:LogoutResponse>"#
    );
    let err = LogoutResponse::from_xml(extra.as_bytes()).unwrap_err();
    assert!(
        matches!(err, SamlError::UnexpectedElement { .. }),
        "{err:?}"
    );

    // Stray text in element-only content.
    let text = logout_response_xml(GOOD_ATTRS, "smuggled");
    assert!(matches!(
        LogoutResponse::from_xml(text.as_bytes()),
        Err(SamlError::UnexpectedText { .. })
    ));

    // Two assertions' issuers: the second Issuer inside an Assertion.
    let mut a = minimal_assertion("a2").to_xml();
    a = a.replacen(
        "</saml:Issuer>",
        "</saml:Issuer><saml:Issuer>https://evil.example/</saml:Issuer>",
        1,
    );
    assert!(matches!(
        Assertion::from_xml(a.as_bytes()),
        Err(SamlError::UnexpectedElement { .. })
    ));
}

#[test]
fn signature_is_accepted_only_where_the_schema_puts_it() {
    let sig = r#"<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo/></ds:Signature>"#;
    let ok = logout_response_xml(GOOD_ATTRS, &format!("<saml:Issuer>x</saml:Issuer>{sig}"));
    let parsed = LogoutResponse::from_xml(ok.as_bytes()).unwrap();
    assert_eq!(parsed.header.issuer.unwrap().value, "x");
    let before_issuer =
        logout_response_xml(GOOD_ATTRS, &format!("{sig}<saml:Issuer>x</saml:Issuer>"));
    assert!(LogoutResponse::from_xml(before_issuer.as_bytes()).is_err());
    let two = logout_response_xml(
        GOOD_ATTRS,
        &format!("<saml:Issuer>x</saml:Issuer>{sig}{sig}"),
    );
    assert!(LogoutResponse::from_xml(two.as_bytes()).is_err());
}

#[test]
fn refuses_comments_and_pis_inside_values() {
    let mut a = minimal_assertion("a-c");
    a.subject = Some(Subject {
        id: Some(SubjectId::NameId(NameId::new("user@x.jp.evil.jp"))),
        confirmations: vec![],
    });
    let xml = a.to_xml();
    for injected in ["user@x.jp<!---->.evil.jp", "user@x.jp<?x?>.evil.jp"] {
        let bad = xml.replace("user@x.jp.evil.jp", injected);
        let err = Assertion::from_xml(bad.as_bytes()).unwrap_err();
        assert!(
            matches!(
                err,
                SamlError::Xml(schemas::xml::XmlError::MixedContent { .. })
            ),
            "{injected}: {err:?}"
        );
    }
    // Same in the Issuer and in an attribute value.
    let bad_issuer = xml.replacen(IDP, "https://idp.example.jp<!---->/idp", 1);
    assert!(Assertion::from_xml(bad_issuer.as_bytes()).is_err());
    let mut with_attr = minimal_assertion("a-d");
    with_attr
        .statements
        .push(Statement::Attribute(AttributeStatement {
            items: vec![AttributeItem::Plain(Attribute::uri(
                "urn:oid:1",
                &["admin"],
            ))],
        }));
    let bad_value = with_attr.to_xml().replace(">admin<", ">adm<!--x-->in<");
    let err = Assertion::from_xml(bad_value.as_bytes()).unwrap_err();
    assert!(
        matches!(
            err,
            SamlError::Xml(schemas::xml::XmlError::MixedContent { .. })
        ),
        "{err:?}"
    );
}

#[test]
fn refuses_unknown_comparison() {
    let xml = authn_request()
        .to_xml()
        .replace(r#"Comparison="minimum""#, r#"Comparison="atleast""#);
    let err = AuthnRequest::from_xml(xml.as_bytes()).unwrap_err();
    assert!(
        matches!(&err, SamlError::InvalidValue { attribute, .. } if attribute == "Comparison"),
        "{err:?}"
    );
}

#[test]
fn refuses_structural_errors() {
    // Subject with neither identifier nor confirmation.
    let mut a = minimal_assertion("a-s").to_xml();
    a = a.replace("</saml:Issuer>", "</saml:Issuer><saml:Subject/>");
    assert!(matches!(
        Assertion::from_xml(a.as_bytes()),
        Err(SamlError::MissingElement { .. })
    ));
    // Assertion without Issuer.
    let no_issuer = minimal_assertion("a-i").to_xml().replace(
        &format!(
            r#"<saml:Issuer Format="{}">{IDP}</saml:Issuer>"#,
            nameid_format::ENTITY
        ),
        "",
    );
    assert!(matches!(
        Assertion::from_xml(no_issuer.as_bytes()),
        Err(SamlError::MissingElement { .. })
    ));
    // A Condition of an unknown kind makes the assertion Indeterminate: refused.
    let cond = minimal_assertion("a-k").to_xml().replace(
        "</saml:Issuer>",
        r#"</saml:Issuer><saml:Conditions><saml:Condition xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="saml:Whatever"/></saml:Conditions>"#,
    );
    assert!(matches!(
        Assertion::from_xml(cond.as_bytes()),
        Err(SamlError::Unsupported(_))
    ));
    // OneTimeUse twice.
    let twice = minimal_assertion("a-o").to_xml().replace(
        "</saml:Issuer>",
        "</saml:Issuer><saml:Conditions><saml:OneTimeUse/><saml:OneTimeUse/></saml:Conditions>",
    );
    assert!(matches!(
        Assertion::from_xml(twice.as_bytes()),
        Err(SamlError::Invalid { .. })
    ));
    // xsi:type with an unbound prefix.
    let unbound = minimal_assertion("a-u").to_xml().replace(
        "</saml:AuthnStatement>",
        r#"</saml:AuthnStatement><saml:AttributeStatement><saml:Attribute Name="n"><saml:AttributeValue xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="zz:string">v</saml:AttributeValue></saml:Attribute></saml:AttributeStatement>"#,
    );
    assert!(matches!(
        Assertion::from_xml(unbound.as_bytes()),
        Err(SamlError::UnboundQName { .. })
    ));
    // Bad boolean.
    let bad_bool = authn_request()
        .to_xml()
        .replace(r#"ForceAuthn="true""#, r#"ForceAuthn="yes""#);
    assert!(matches!(
        AuthnRequest::from_xml(bad_bool.as_bytes()),
        Err(SamlError::InvalidValue { .. })
    ));
    // Response without Status.
    let no_status = format!(
        r#"<samlp:Response {NS} {GOOD_ATTRS}><saml:Issuer>x</saml:Issuer></samlp:Response>"#
    );
    assert!(matches!(
        Response::from_xml(no_status.as_bytes()),
        Err(SamlError::MissingElement { .. })
    ));
    // LogoutRequest without NameID.
    let no_name = logout_request(false).to_xml();
    let start = no_name.find("<saml:NameID").unwrap();
    let end = no_name.find("</saml:NameID>").unwrap() + "</saml:NameID>".len();
    let stripped = format!("{}{}", &no_name[..start], &no_name[end..]);
    assert!(matches!(
        LogoutRequest::from_xml(stripped.as_bytes()),
        Err(SamlError::MissingElement { .. })
    ));
    // EncryptedID without EncryptedData.
    let empty_enc = r#"<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="l" Version="2.0" IssueInstant="2024-04-01T09:00:00Z"><saml:EncryptedID/></samlp:LogoutRequest>"#;
    assert!(matches!(
        LogoutRequest::from_xml(empty_enc.as_bytes()),
        Err(SamlError::MissingElement { .. })
    ));
}

#[test]
fn refuses_bad_metadata() {
    let xml = idp_entity().to_xml();
    let bad_use = xml.replacen(r#"use="signing""#, r#"use="both""#, 1);
    assert!(matches!(
        EntityDescriptor::from_xml(bad_use.as_bytes()),
        Err(SamlError::InvalidValue { .. })
    ));
    let b64 = common_cert_b64();
    let bad_cert = xml.replacen(&b64, "not*base64", 1);
    assert!(matches!(
        EntityDescriptor::from_xml(bad_cert.as_bytes()),
        Err(SamlError::InvalidBase64 { .. })
    ));
    let no_entity_id = xml.replacen(&format!(r#"entityID="{IDP}""#), "", 1);
    assert!(matches!(
        EntityDescriptor::from_xml(no_entity_id.as_bytes()),
        Err(SamlError::MissingAttribute { .. })
    ));
    let no_roles =
        r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="x"/>"#;
    assert!(matches!(
        EntityDescriptor::from_xml(no_roles.as_bytes()),
        Err(SamlError::MissingElement { .. })
    ));
    let bad_index = sp_entity()
        .to_xml()
        .replacen(r#"index="0""#, r#"index="-1""#, 1);
    assert!(matches!(
        EntityDescriptor::from_xml(bad_index.as_bytes()),
        Err(SamlError::InvalidValue { .. })
    ));
}

fn common_cert_b64() -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(cert_der())
}
