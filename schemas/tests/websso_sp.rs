//! SP side of Web Browser SSO: a Response made by `build_response` validates (plain and
//! encrypted); then one test per malformed Response of the kind national validators send (SPID
//! SAML Check style) and per attack row of `shared/reference/attacks.md` that an SP decides. Each
//! is refused with its own `SsoError` variant.

mod support;
mod websso_common;

use schemas::dsig::{sign_enveloped, DsigError, SignatureAlgorithm, TrustedKey};
use schemas::ns::SAML as SAML_NS;
use schemas::saml::*;
use schemas::websso::*;
use schemas::xenc::{encrypt_element, EncryptOptions};
use schemas::xml::{parse, XmlError};
use support::{attacker_key, idp_key, TestKey};
use time::{Duration, OffsetDateTime};
use websso_common::*;

const REQ: &str = "_req-8f1c2a7d41c94b0e";
const PAIRWISE: &str = "pw-7Q2mX9cLr4TnV1sK";
const DISCO_EPR: &str = "urn:liberty:disco:2006-08:DiscoveryEPR";
/// The Discovery bootstrap as our IdP writes it: the DS token, an EncryptedAssertion, nested in the
/// assertion (it must not count as a second assertion).
const EPR: &str = r#"<wsa:EndpointReference xmlns:wsa="http://www.w3.org/2005/08/addressing"><wsa:Address>https://relay.nabari.test/disco</wsa:Address><wsa:Metadata><sec:Token xmlns:sec="urn:liberty:security:2006-08" usage="urn:liberty:security:tokenusage:2006-08:SecurityToken"><saml:EncryptedAssertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"><xenc:EncryptedData xmlns:xenc="http://www.w3.org/2001/04/xmlenc#"><xenc:CipherData><xenc:CipherValue>AAAA</xenc:CipherValue></xenc:CipherData></xenc:EncryptedData></saml:EncryptedAssertion></sec:Token></wsa:Metadata></wsa:EndpointReference>"#;

fn attributes() -> Vec<Attribute> {
    vec![
        Attribute {
            name: DISCO_EPR.into(),
            name_format: Some(attrname_format::URI.into()),
            friendly_name: None,
            values: vec![AttributeValue::Element {
                xml: EPR.into(),
                xsi_type: None,
            }],
        },
        Attribute::uri("urn:nabari:attr:displayName", &["名張 太郎"]),
    ]
}

/// A Response as our IdP makes it for the portal, at `at`.
fn build_full(
    at: OffsetDateTime,
    encrypt: bool,
    name: &str,
    in_response_to: Option<&str>,
) -> String {
    let recipient = sp_party().recipient();
    let mut p = ResponseParams::new(
        IDP,
        SP,
        ACS,
        in_response_to,
        NameId {
            value: name.into(),
            format: Some(nameid_format::PERSISTENT.into()),
            name_qualifier: Some(IDP.into()),
            sp_name_qualifier: Some(SP.into()),
            sp_provided_id: None,
        },
        classes::JPKI_USER_AUTHENTICATION_PIN,
        at,
    );
    p.session_index = Some("_sess-41d9".into());
    p.attributes = attributes();
    if encrypt {
        p.encrypt_to = Some(&recipient);
    }
    build_response(&p, &idp_key().signer(SignatureAlgorithm::RsaSha256))
        .unwrap()
        .xml
}

fn build() -> String {
    build_full(now(), false, PAIRWISE, Some(REQ))
}

fn idp_keys() -> Vec<TrustedKey> {
    vec![idp_key().trusted()]
}

fn static_keys() -> &'static [TrustedKey] {
    static K: std::sync::OnceLock<Vec<TrustedKey>> = std::sync::OnceLock::new();
    K.get_or_init(idp_keys)
}

fn static_decryption_keys() -> &'static schemas::xenc::DecryptionKeys {
    static K: std::sync::OnceLock<schemas::xenc::DecryptionKeys> = std::sync::OnceLock::new();
    K.get_or_init(|| sp_party().decryption_keys())
}

/// Validates with the portal's context (request `REQ` pending in this session, a fresh replay
/// cache), after `tune`.
fn check_with<'a>(
    xml: &str,
    tune: impl FnOnce(&mut SpContext<'a>),
) -> Result<ValidatedAssertion, SsoError> {
    let cache: &'a MemoryReplayCache = Box::leak(Box::new(MemoryReplayCache::new()));
    let mut ctx = SpContext::new(SP, ACS, IDP, static_keys(), cache, now());
    ctx.decryption_keys = Some(static_decryption_keys());
    ctx.expected_in_response_to = Some(REQ);
    tune(&mut ctx);
    validate_response(xml.as_bytes(), &ctx)
}

fn check(xml: &str) -> Result<ValidatedAssertion, SsoError> {
    check_with(xml, |_| {})
}

// ---- forging helpers -------------------------------------------------------------------

/// Removes every `ds:Signature`.
fn strip_signatures(xml: &str) -> String {
    let mut out = xml.to_string();
    while let Some(start) = out.find("<ds:Signature") {
        let end = out[start..].find("</ds:Signature>").unwrap() + start + "</ds:Signature>".len();
        out.replace_range(start..end, "");
    }
    out
}

/// The `n`th `ds:Signature` element's text (0 = the Response's, 1 = the Assertion's).
fn signature_text(xml: &str, n: usize) -> String {
    let mut from = 0;
    for _ in 0..n {
        from = xml[from..].find("</ds:Signature>").unwrap() + from + 1;
    }
    let start = xml[from..].find("<ds:Signature").unwrap() + from;
    let end = xml[start..].find("</ds:Signature>").unwrap() + start + "</ds:Signature>".len();
    xml[start..end].to_string()
}

fn assertion_text(xml: &str) -> String {
    let start = xml.find("<saml:Assertion").unwrap();
    let end = xml.find("</saml:Assertion>").unwrap() + "</saml:Assertion>".len();
    xml[start..end].to_string()
}

fn ids(xml: &str) -> (String, Option<String>) {
    let doc = parse(xml.as_bytes()).unwrap();
    let root = doc.root();
    let a = root
        .first(SAML_NS, "Assertion")
        .and_then(|a| a.xml_id())
        .map(str::to_string);
    (root.xml_id().unwrap().to_string(), a)
}

fn sign_id(xml: &str, id: &str, key: &TestKey) -> String {
    sign_enveloped(
        xml,
        id,
        &key.signer(SignatureAlgorithm::RsaSha256),
        &profile_sign_options(),
    )
    .unwrap()
}

/// Signs the (plain) assertion and then the Response with `key`.
fn resign(xml: &str, key: &TestKey) -> String {
    let (rid, aid) = ids(xml);
    let mut x = xml.to_string();
    if let Some(aid) = aid {
        x = sign_id(&x, &aid, key);
    }
    sign_id(&x, &rid, key)
}

/// Unsigns a valid Response, edits it, and has the IdP sign it again: only the edit is wrong.
fn forge(xml: &str, edit: impl FnOnce(String) -> String) -> String {
    resign(&edit(strip_signatures(xml)), idp_key())
}

fn t(at: OffsetDateTime) -> String {
    format_xs_datetime(at)
}

/// Replaces the value of the first `attr="…"` after `after`.
fn set_attr(xml: &str, after: &str, attr: &str, value: &str) -> String {
    let base = xml
        .find(after)
        .unwrap_or_else(|| panic!("{after} not found"));
    let pat = format!("{attr}=\"");
    let start = xml[base..].find(&pat).unwrap() + base + pat.len();
    let end = xml[start..].find('"').unwrap() + start;
    format!("{}{}{}", &xml[..start], value, &xml[end..])
}

/// Removes the first `attr="…"` after `after`.
fn drop_attr(xml: &str, after: &str, attr: &str) -> String {
    let base = xml.find(after).unwrap();
    let pat = format!(" {attr}=\"");
    let start = xml[base..].find(&pat).unwrap() + base;
    let end = xml[start + pat.len()..].find('"').unwrap() + start + pat.len() + 1;
    format!("{}{}", &xml[..start], &xml[end..])
}

// ---- accepted --------------------------------------------------------------------------

#[test]
fn valid_plain_response_validates() {
    let xml = build();
    let v = check(&xml).unwrap();
    assert_eq!(v.name_id.value, PAIRWISE);
    assert_eq!(v.name_id.format.as_deref(), Some(nameid_format::PERSISTENT));
    assert_eq!(v.issuer, IDP);
    assert_eq!(v.session_index.as_deref(), Some("_sess-41d9"));
    assert_eq!(
        v.authn_context.as_deref(),
        Some(classes::JPKI_USER_AUTHENTICATION_PIN)
    );
    assert!(v.response_signed && !v.encrypted);
    assert!(v.not_on_or_after > now() && v.not_on_or_after <= now() + Duration::minutes(5));
    assert!(v.session_not_on_or_after.unwrap() > now() + Duration::hours(7));
    assert_eq!(v.attributes.len(), 2);
    // The DiscoveryEPR attribute holds the endpoint reference element, byte for byte.
    match &v.attribute(DISCO_EPR).unwrap().values[..] {
        [AttributeValue::Element { xml, .. }] => assert_eq!(xml, EPR),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        v.attribute("urn:nabari:attr:displayName")
            .unwrap()
            .text_values()
            .collect::<Vec<_>>(),
        ["名張 太郎"]
    );
    assert_eq!(v.assertion.id, v.assertion_id);
    // Both IDs are `_` + 32 hex.
    for id in [&v.response_id, &v.assertion_id] {
        assert!(id.len() == 33 && id.starts_with('_'), "{id}");
    }
}

#[test]
fn valid_encrypted_response_validates() {
    let xml = build_full(now(), true, PAIRWISE, Some(REQ));
    assert!(xml.contains("<saml:EncryptedAssertion") && !xml.contains("<saml:Assertion"));
    let v = check(&xml).unwrap();
    assert!(v.encrypted && v.response_signed);
    assert_eq!(v.name_id.value, PAIRWISE);
    assert!(v.attribute(DISCO_EPR).is_some());
    // Without the SP's key: refused.
    assert!(matches!(
        check_with(&xml, |c| c.decryption_keys = None),
        Err(SsoError::NoDecryptionKeys)
    ));
    // With someone else's key only: refused; with a rollover list holding ours: accepted.
    let other = make_party("other sp");
    let wrong = other.decryption_keys();
    assert!(matches!(
        check_with(&xml, |c| c.decryption_keys = Some(&wrong)),
        Err(SsoError::Decrypt(_))
    ));
    let both = schemas::xenc::DecryptionKeys::new(vec![other.key.clone(), sp_party().key.clone()]);
    assert!(check_with(&xml, |c| c.decryption_keys = Some(&both)).is_ok());
}

#[test]
fn unsolicited_response_is_accepted_only_when_allowed() {
    let xml = build_full(now(), false, PAIRWISE, None);
    assert!(matches!(
        check_with(&xml, |c| c.expected_in_response_to = None),
        Err(SsoError::Unsolicited)
    ));
    let v = check_with(&xml, |c| {
        c.expected_in_response_to = None;
        c.allow_unsolicited = true;
    })
    .unwrap();
    assert_eq!(v.name_id.value, PAIRWISE);
}

// ---- signatures ------------------------------------------------------------------------

#[test]
fn unsigned_response_and_assertion_are_refused() {
    let xml = strip_signatures(&build());
    assert!(matches!(check(&xml), Err(SsoError::AssertionUnsigned)));
}

#[test]
fn unsigned_assertion_in_signed_response_is_refused() {
    // Assertions are always signed in this profile, whatever the Response signature covers.
    let xml = build();
    let (rid, _) = ids(&xml);
    let forged = sign_id(&strip_signatures(&xml), &rid, idp_key());
    assert!(matches!(check(&forged), Err(SsoError::AssertionUnsigned)));
    assert!(matches!(
        check_with(&forged, |c| c.want_assertions_signed = false),
        Err(SsoError::AssertionUnsigned)
    ));
}

#[test]
fn signed_assertion_in_unsigned_response_is_accepted() {
    let xml = build();
    let unsigned_response = xml.replacen(&signature_text(&xml, 0), "", 1);
    let v = check(&unsigned_response).unwrap();
    assert!(!v.response_signed);
}

#[test]
fn encrypted_but_unsigned_assertion_is_refused() {
    // GHES CVE-2024-4985 / Keycloak CVE-2026-2092: an unsigned assertion encrypted to the SP's
    // public key (anyone can make one), in an unsigned or a signed Response.
    let xml = strip_signatures(&build());
    let a = assertion_text(&xml);
    assert!(
        a.contains(&format!("xmlns:saml=\"{SAML_NS}\"")),
        "self-contained"
    );
    let enc = encrypt_element(&a, &sp_party().recipient(), &EncryptOptions::default()).unwrap();
    let wrapped = format!("<saml:EncryptedAssertion>{enc}</saml:EncryptedAssertion>");
    let unsigned = xml.replace(&assertion_text(&xml), &wrapped);
    let err = check(&unsigned).unwrap_err();
    assert!(matches!(err, SsoError::AssertionUnsigned), "{err:?}");
    let (rid, _) = ids(&unsigned);
    let signed_response = sign_id(&unsigned, &rid, idp_key());
    assert!(matches!(
        check(&signed_response),
        Err(SsoError::AssertionUnsigned)
    ));
    // Even an attacker-signed Response around it changes nothing but the error.
    let attacker = sign_id(&unsigned, &rid, attacker_key());
    assert!(matches!(
        check(&attacker),
        Err(SsoError::ResponseSignature(DsigError::BadSignature))
    ));
}

#[test]
fn assertion_signed_by_an_attacker_with_his_cert_in_key_info_is_refused() {
    let xml = strip_signatures(&build()).replace(PAIRWISE, "victim");
    let forged = resign(&xml, attacker_key());
    assert!(forged.contains("<ds:X509Certificate>"));
    assert!(matches!(
        check(&forged),
        Err(SsoError::ResponseSignature(DsigError::BadSignature))
    ));
    // The Response signature dropped: the assertion's own signature is refused the same way.
    let unsigned_response = forged.replacen(&signature_text(&forged, 0), "", 1);
    assert!(matches!(
        check(&unsigned_response),
        Err(SsoError::AssertionSignature(DsigError::BadSignature))
    ));
}

#[test]
fn sha1_signatures_are_refused() {
    let recipient_less = ResponseParams::new(
        IDP,
        SP,
        ACS,
        Some(REQ),
        NameId::with_format(PAIRWISE, nameid_format::PERSISTENT),
        classes::JPKI_USER_AUTHENTICATION_PIN,
        now(),
    );
    let xml = build_response(
        &recipient_less,
        &idp_key().signer(SignatureAlgorithm::RsaSha1),
    )
    .unwrap()
    .xml;
    assert!(xml.contains("xmldsig#rsa-sha1"));
    assert!(matches!(
        check(&xml),
        Err(SsoError::ResponseSignature(DsigError::Sha1Refused(_)))
    ));
    let only_assertion = xml.replacen(&signature_text(&xml, 0), "", 1);
    assert!(matches!(
        check(&only_assertion),
        Err(SsoError::AssertionSignature(DsigError::Sha1Refused(_)))
    ));
}

// ---- issuer, audience, recipient, destination -------------------------------------------

#[test]
fn wrong_issuer_is_refused() {
    let evil = "https://idp.evil.test/idp";
    let forged = forge(&build(), |x| {
        x.replace(
            &format!(">{IDP}</saml:Issuer>"),
            &format!(">{evil}</saml:Issuer>"),
        )
    });
    assert!(matches!(check(&forged), Err(SsoError::WrongIssuer { found, .. }) if found == evil));
    // Only the assertion's Issuer changed.
    let forged = forge(&build(), |x| {
        let a = assertion_text(&x);
        x.replace(
            &a,
            &a.replace(
                &format!(">{IDP}</saml:Issuer>"),
                &format!(">{evil}</saml:Issuer>"),
            ),
        )
    });
    assert!(
        matches!(check(&forged), Err(SsoError::AssertionIssuer { found, .. }) if found == evil)
    );
    // An Issuer with another Format.
    let forged = forge(&build(), |x| {
        x.replacen(nameid_format::ENTITY, nameid_format::UNSPECIFIED, 1)
    });
    assert!(matches!(check(&forged), Err(SsoError::IssuerFormat(_))));
    // A response from the right IdP but checked against another expected IdP.
    assert!(matches!(
        check_with(&build(), |c| c.expected_idp =
            "https://other.nabari.test/idp"),
        Err(SsoError::WrongIssuer { .. })
    ));
}

#[test]
fn wrong_audience_is_refused() {
    let forged = forge(&build(), |x| {
        x.replace(
            &format!("<saml:Audience>{SP}</saml:Audience>"),
            "<saml:Audience>https://clinic.nabari.test/sp</saml:Audience>",
        )
    });
    assert!(matches!(check(&forged), Err(SsoError::WrongAudience(a)) if a == [CLINIC]));
}

#[test]
fn audience_prefix_or_extension_of_the_sp_id_is_refused() {
    for evil in [
        "https://portal.nabari.test/sp-evil",
        "https://portal.nabari.test/s",
        "https://portal.nabari.test/sp/",
        "HTTPS://portal.nabari.test/sp",
    ] {
        let forged = forge(&build(), |x| {
            x.replace(
                &format!("<saml:Audience>{SP}</saml:Audience>"),
                &format!("<saml:Audience>{evil}</saml:Audience>"),
            )
        });
        assert!(
            matches!(check(&forged), Err(SsoError::WrongAudience(_))),
            "{evil}"
        );
    }
}

#[test]
fn missing_audience_or_one_restriction_without_the_sp_is_refused() {
    let forged = forge(&build(), |x| {
        x.replace(&format!("<saml:AudienceRestriction><saml:Audience>{SP}</saml:Audience></saml:AudienceRestriction>"), "")
    });
    assert!(matches!(
        check(&forged),
        Err(SsoError::MissingAudienceRestriction)
    ));
    // Every AudienceRestriction must name the SP (SAML core §2.5.1.4).
    let forged = forge(&build(), |x| {
        x.replace(
            "</saml:AudienceRestriction>",
            &format!("</saml:AudienceRestriction><saml:AudienceRestriction><saml:Audience>{CLINIC}</saml:Audience></saml:AudienceRestriction>"),
        )
    });
    assert!(matches!(check(&forged), Err(SsoError::WrongAudience(a)) if a == [CLINIC]));
    // Several audiences in one restriction, ours among them: accepted.
    let ok = forge(&build(), |x| {
        x.replace(
            &format!("<saml:Audience>{SP}</saml:Audience>"),
            &format!("<saml:Audience>{CLINIC}</saml:Audience><saml:Audience>{SP}</saml:Audience>"),
        )
    });
    assert!(check(&ok).is_ok());
}

#[test]
fn wrong_recipient_is_refused() {
    let forged = forge(&build(), |x| {
        set_attr(&x, "<saml:SubjectConfirmationData", "Recipient", CLINIC_ACS)
    });
    assert!(
        matches!(check(&forged), Err(SsoError::WrongRecipient { found, .. }) if found == CLINIC_ACS)
    );
    let forged = forge(&build(), |x| {
        drop_attr(&x, "<saml:SubjectConfirmationData", "Recipient")
    });
    assert!(matches!(check(&forged), Err(SsoError::MissingRecipient)));
}

#[test]
fn wrong_or_missing_destination_is_refused() {
    let forged = forge(&build(), |x| {
        set_attr(&x, "<samlp:Response", "Destination", CLINIC_ACS)
    });
    assert!(
        matches!(check(&forged), Err(SsoError::WrongDestination { found, .. }) if found == CLINIC_ACS)
    );
    let forged = forge(&build(), |x| {
        drop_attr(&x, "<samlp:Response", "Destination")
    });
    assert!(matches!(check(&forged), Err(SsoError::MissingDestination)));
    // The genuine Response posted to another ACS of the same SP.
    assert!(matches!(
        check_with(&build(), |c| c.acs_url = ACS_ARTIFACT),
        Err(SsoError::WrongDestination { .. })
    ));
}

// ---- time ------------------------------------------------------------------------------

#[test]
fn expired_assertion_is_refused() {
    let past = t(now() - Duration::minutes(10));
    let forged = forge(&build(), |x| {
        set_attr(&x, "<saml:Conditions", "NotOnOrAfter", &past)
    });
    assert!(matches!(check(&forged), Err(SsoError::Expired(_))));
    let forged = forge(&build(), |x| {
        set_attr(&x, "<saml:SubjectConfirmationData", "NotOnOrAfter", &past)
    });
    assert!(matches!(
        check(&forged),
        Err(SsoError::ConfirmationExpired(_))
    ));
    let forged = forge(&build(), |x| {
        drop_attr(&x, "<saml:SubjectConfirmationData", "NotOnOrAfter")
    });
    assert!(matches!(
        check(&forged),
        Err(SsoError::MissingConfirmationExpiry)
    ));
    let forged = forge(&build(), |x| {
        set_attr(&x, "<saml:AuthnStatement", "SessionNotOnOrAfter", &past)
    });
    assert!(matches!(check(&forged), Err(SsoError::SessionExpired(_))));
    // Within the skew it is still accepted (the SP clock may run ahead).
    let just = t(now() - Duration::seconds(60));
    let ok = forge(&build(), |x| {
        set_attr(&x, "<saml:Conditions", "NotOnOrAfter", &just)
    });
    assert!(check(&ok).is_ok());
}

#[test]
fn not_before_in_the_future_is_refused() {
    let future = t(now() + Duration::minutes(10));
    let forged = forge(&build(), |x| {
        set_attr(&x, "<saml:Conditions", "NotBefore", &future)
    });
    assert!(matches!(check(&forged), Err(SsoError::NotYetValid(_))));
    // A bearer SubjectConfirmationData must not carry NotBefore at all (profiles §4.1.4.2).
    let forged = forge(&build(), |x| {
        x.replacen(
            "<saml:SubjectConfirmationData ",
            &format!("<saml:SubjectConfirmationData NotBefore=\"{}\" ", t(now())),
            1,
        )
    });
    assert!(matches!(
        check(&forged),
        Err(SsoError::ConfirmationNotBefore)
    ));
}

#[test]
fn issue_instant_far_off_is_refused() {
    for off in [Duration::minutes(-10), Duration::minutes(10)] {
        let at = t(now() + off);
        let forged = forge(&build(), |x| {
            set_attr(&x, "<samlp:Response", "IssueInstant", &at)
        });
        assert!(
            matches!(check(&forged), Err(SsoError::ResponseIssueInstant { .. })),
            "{off}"
        );
        let forged = forge(&build(), |x| {
            set_attr(&x, "<saml:Assertion", "IssueInstant", &at)
        });
        assert!(
            matches!(check(&forged), Err(SsoError::AssertionIssueInstant { .. })),
            "{off}"
        );
    }
    // The same genuine Response checked by an SP whose clock is 10 minutes ahead.
    assert!(matches!(
        check_with(&build(), |c| c.now = now() + Duration::minutes(10)),
        Err(SsoError::ResponseIssueInstant { .. })
    ));
}

// ---- InResponseTo ----------------------------------------------------------------------

#[test]
fn in_response_to_missing_mismatched_or_unsolicited_is_refused() {
    let xml = build();
    // Missing on the Response.
    let forged = forge(&xml, |x| drop_attr(&x, "<samlp:Response", "InResponseTo"));
    assert!(matches!(
        check(&forged),
        Err(SsoError::MissingInResponseTo { .. })
    ));
    // Another request's ID (the Response belongs to another browser session).
    assert!(matches!(
        check_with(&xml, |c| c.expected_in_response_to = Some("_req-of-another-session")),
        Err(SsoError::WrongInResponseTo { found, .. }) if found == REQ
    ));
    // A solicited Response arriving where the session sent no request.
    assert!(matches!(
        check_with(&xml, |c| {
            c.expected_in_response_to = None;
            c.allow_unsolicited = true;
        }),
        Err(SsoError::WrongInResponseTo { expected: None, .. })
    ));
    // Response right, confirmation wrong or missing.
    let forged = forge(&xml, |x| {
        set_attr(
            &x,
            "<saml:SubjectConfirmationData",
            "InResponseTo",
            "_other",
        )
    });
    assert!(matches!(
        check(&forged),
        Err(SsoError::ConfirmationInResponseTo { .. })
    ));
    let forged = forge(&xml, |x| {
        drop_attr(&x, "<saml:SubjectConfirmationData", "InResponseTo")
    });
    assert!(matches!(
        check(&forged),
        Err(SsoError::ConfirmationInResponseTo { found: None, .. })
    ));
    // Unsolicited, unsolicited refused.
    let unsolicited = build_full(now(), false, PAIRWISE, None);
    assert!(matches!(
        check_with(&unsolicited, |c| c.expected_in_response_to = None),
        Err(SsoError::Unsolicited)
    ));
    // An unsolicited Response where a request is pending.
    assert!(matches!(
        check(&unsolicited),
        Err(SsoError::MissingInResponseTo { .. })
    ));
}

// ---- status, counts, structure ----------------------------------------------------------

#[test]
fn non_success_status_with_an_assertion_is_refused() {
    let forged = forge(&build(), |x| {
        x.replace(
            &format!("<samlp:StatusCode Value=\"{}\"/>", status::SUCCESS),
            &format!("<samlp:StatusCode Value=\"{}\"><samlp:StatusCode Value=\"{}\"/></samlp:StatusCode><samlp:StatusMessage>denied</samlp:StatusMessage>", status::REQUESTER, status::REQUEST_DENIED),
        )
    });
    assert!(forged.contains("<saml:Assertion"));
    match check(&forged) {
        Err(SsoError::Status(code, second, message)) => {
            assert_eq!(code, status::REQUESTER);
            assert_eq!(second.as_deref(), Some(status::REQUEST_DENIED));
            assert_eq!(message.as_deref(), Some("denied"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn error_response_from_the_idp_reports_its_status() {
    let err = build_error_response(
        &ErrorResponseParams {
            issuer: IDP,
            destination: ACS,
            in_response_to: Some(REQ),
            status: Status::new(status::REQUESTER, Some(status::NO_PASSIVE)),
            now: now(),
        },
        &idp_key().signer(SignatureAlgorithm::RsaSha256),
    )
    .unwrap();
    assert!(matches!(
        check(&err.xml),
        Err(SsoError::Status(_, Some(s), _)) if s == status::NO_PASSIVE
    ));
}

#[test]
fn two_assertions_one_signed_one_not_are_refused() {
    // Lasso CVE-2021-28091 / crewjam CVE-2022-41912: the signed assertion verifies, the unsigned
    // one is consumed. Both orders, Response signed by the IdP around both.
    let xml = build();
    let signed = assertion_text(&xml);
    let (_, aid) = ids(&xml);
    let evil = strip_signatures(&signed)
        .replace(aid.as_deref().unwrap(), "_evil0000000000000000000000000000")
        .replace(PAIRWISE, "victim");
    for order in [format!("{evil}{signed}"), format!("{signed}{evil}")] {
        let stripped = xml.replacen(&signature_text(&xml, 0), "", 1);
        let doubled = stripped.replace(&signed, &order);
        assert!(matches!(check(&doubled), Err(SsoError::AssertionCount(2))));
        let (rid, _) = ids(&doubled);
        let resigned = sign_id(&doubled, &rid, idp_key());
        assert!(matches!(check(&resigned), Err(SsoError::AssertionCount(2))));
    }
    // An encrypted and a plain one.
    let enc = build_full(now(), true, PAIRWISE, Some(REQ));
    let enc_item = {
        let s = enc.find("<saml:EncryptedAssertion").unwrap();
        let e =
            enc.find("</saml:EncryptedAssertion>").unwrap() + "</saml:EncryptedAssertion>".len();
        enc[s..e].to_string()
    };
    let mixed = xml
        .replacen(&signature_text(&xml, 0), "", 1)
        .replace("</samlp:Response>", &format!("{enc_item}</samlp:Response>"));
    assert!(matches!(check(&mixed), Err(SsoError::AssertionCount(2))));
    // None at all.
    let none = xml
        .replacen(&signature_text(&xml, 0), "", 1)
        .replace(&signed, "");
    assert!(matches!(check(&none), Err(SsoError::NoAssertion)));
}

#[test]
fn subject_confirmation_must_be_one_bearer() {
    let forged = forge(&build(), |x| {
        x.replace(confirmation::BEARER, confirmation::HOLDER_OF_KEY)
    });
    assert!(matches!(check(&forged), Err(SsoError::NotBearer(_))));
    let forged = forge(&build(), |x| {
        let s = x.find("<saml:SubjectConfirmation ").unwrap();
        let e =
            x.find("</saml:SubjectConfirmation>").unwrap() + "</saml:SubjectConfirmation>".len();
        let sc = x[s..e].to_string();
        x.replacen(&sc, &format!("{sc}{sc}"), 1)
    });
    assert!(matches!(
        check(&forged),
        Err(SsoError::SubjectConfirmationCount(2))
    ));
}

#[test]
fn name_id_qualified_for_another_sp_is_refused() {
    let forged = forge(&build(), |x| {
        x.replace(
            &format!("SPNameQualifier=\"{SP}\""),
            &format!("SPNameQualifier=\"{CLINIC}\""),
        )
    });
    assert!(matches!(check(&forged), Err(SsoError::NameIdQualifier(q)) if q == CLINIC));
}

#[test]
fn version_doctype_and_wrong_root_are_refused() {
    let forged = forge(&build(), |x| {
        x.replacen("Version=\"2.0\"", "Version=\"2.1\"", 1)
    });
    assert!(matches!(check(&forged), Err(SsoError::Version(v)) if v == "2.1"));
    let xml = build();
    let xxe = format!("<!DOCTYPE r [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>{xml}");
    assert!(matches!(check(&xxe), Err(SsoError::Xml(XmlError::Doctype))));
    let a = strip_signatures(&assertion_text(&xml));
    assert!(matches!(check(&a), Err(SsoError::NotAResponse(_))));
}

// ---- XSW at the Response level -----------------------------------------------------------

#[test]
fn xsw1_unsigned_clone_inside_the_response_signature_is_refused() {
    let xml = build();
    let (rid, _) = ids(&xml);
    let sig = signature_text(&xml, 0);
    let clone = xml.replacen(&sig, "", 1).replacen(&rid, "_clone", 1);
    let forged = xml
        .replacen(
            &sig,
            &sig.replace(
                "</ds:Signature>",
                &format!("<ds:Object>{clone}</ds:Object></ds:Signature>"),
            ),
            1,
        )
        .replacen(&format!("ID=\"{rid}\""), "ID=\"_evil\"", 1);
    let err = check(&forged).unwrap_err();
    assert!(
        matches!(
            err,
            SsoError::Xml(XmlError::DuplicateId(_)) | SsoError::ResponseSignature(_)
        ),
        "{err:?}"
    );
}

#[test]
fn xsw2_original_as_sibling_of_a_new_outer_response_is_refused() {
    let xml = build();
    let sig = signature_text(&xml, 0);
    let original = xml.replacen(&sig, "", 1);
    let forged = format!(
        "<samlp:Response xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" ID=\"_evil\" Version=\"2.0\" IssueInstant=\"{}\" Destination=\"{ACS}\" InResponseTo=\"{REQ}\">{original}{sig}</samlp:Response>",
        t(now())
    );
    let err = check(&forged).unwrap_err();
    assert!(
        matches!(
            err,
            SsoError::ResponseSignature(DsigError::ReferenceTarget { .. })
        ),
        "{err:?}"
    );
}

#[test]
fn xsw3_altered_unsigned_assertion_before_the_signed_one_is_refused() {
    let xml = build();
    let a = assertion_text(&xml);
    let (_, aid) = ids(&xml);
    let evil = strip_signatures(&a)
        .replace(aid.as_deref().unwrap(), "_evil")
        .replace(PAIRWISE, "victim");
    let forged = xml
        .replacen(&signature_text(&xml, 0), "", 1)
        .replace(&a, &format!("{evil}{a}"));
    assert!(matches!(check(&forged), Err(SsoError::AssertionCount(2))));
}

#[test]
fn xsw4_original_moved_inside_an_altered_assertion_is_refused() {
    let xml = build();
    let a = assertion_text(&xml);
    let (_, aid) = ids(&xml);
    let evil = strip_signatures(&a)
        .replace(aid.as_deref().unwrap(), "_evil")
        .replace(PAIRWISE, "victim")
        .replace("</saml:Assertion>", &format!("{a}</saml:Assertion>"));
    let forged = xml
        .replacen(&signature_text(&xml, 0), "", 1)
        .replace(&a, &evil);
    let err = check(&forged).unwrap_err();
    assert!(
        matches!(err, SsoError::AssertionCount(2) | SsoError::Saml(_)),
        "{err:?}"
    );
}

#[test]
fn xsw5_altered_assertion_keeping_its_signature_under_a_new_id_is_refused() {
    let xml = build();
    let a = assertion_text(&xml);
    let (_, aid) = ids(&xml);
    let aid = aid.unwrap();
    let altered = a
        .replacen(&format!("ID=\"{aid}\""), "ID=\"_evil\"", 1)
        .replace(PAIRWISE, "victim");
    let forged = xml
        .replacen(&signature_text(&xml, 0), "", 1)
        .replace(&a, &altered);
    assert!(matches!(
        check(&forged),
        Err(SsoError::AssertionSignature(
            DsigError::ReferenceTarget { .. }
        ))
    ));
    // With an unaltered unsigned copy under the old ID appended: two assertions.
    let copy = strip_signatures(&a);
    let forged = xml
        .replacen(&signature_text(&xml, 0), "", 1)
        .replace(&a, &format!("{altered}{copy}"));
    assert!(matches!(check(&forged), Err(SsoError::AssertionCount(2))));
}

#[test]
fn xsw7_altered_copy_in_extensions_is_refused() {
    let xml = build();
    let a = assertion_text(&xml);
    let altered = strip_signatures(&a).replace(PAIRWISE, "victim");
    let forged = xml.replace(
        "<samlp:Status>",
        &format!("<samlp:Extensions>{altered}</samlp:Extensions><samlp:Status>"),
    );
    assert!(matches!(
        check(&forged),
        Err(SsoError::Xml(XmlError::DuplicateId(_)))
    ));
    // With a fresh ID the copy is still an assertion too many.
    let (_, aid) = ids(&xml);
    let renamed = altered.replace(aid.as_deref().unwrap(), "_evil");
    let forged = xml.replacen(&signature_text(&xml, 0), "", 1).replace(
        "<samlp:Status>",
        &format!("<samlp:Extensions>{renamed}</samlp:Extensions><samlp:Status>"),
    );
    assert!(matches!(check(&forged), Err(SsoError::AssertionCount(2))));
}

#[test]
fn xsw8_copy_in_a_signature_object_is_refused() {
    let xml = build();
    let stripped = xml.replacen(&signature_text(&xml, 0), "", 1);
    let a = assertion_text(&stripped);
    let sig = signature_text(&a, 0);
    let (_, aid) = ids(&xml);
    let copy = a
        .replace(&sig, "")
        .replace(aid.as_deref().unwrap(), "_copy");
    let altered = a
        .replace(
            &sig,
            &sig.replace(
                "</ds:Signature>",
                &format!("<ds:Object>{copy}</ds:Object></ds:Signature>"),
            ),
        )
        .replacen(PAIRWISE, "victim", 1);
    let forged = stripped.replace(&a, &altered);
    let err = check(&forged).unwrap_err();
    assert!(
        matches!(
            err,
            SsoError::AssertionCount(2)
                | SsoError::AssertionSignature(DsigError::SignatureStructure(_))
        ),
        "{err:?}"
    );
}

#[test]
fn xsw10_assertion_signature_lifted_to_the_response_is_refused() {
    let xml = build();
    let stripped = xml.replacen(&signature_text(&xml, 0), "", 1);
    let a = assertion_text(&stripped);
    let sig = signature_text(&a, 0);
    let (_, aid) = ids(&xml);
    let copy = a.replace(&sig, "");
    let lifted = sig.replace(
        "</ds:Signature>",
        &format!("<ds:Object>{copy}</ds:Object></ds:Signature>"),
    );
    let real = a
        .replace(&sig, "")
        .replace(aid.as_deref().unwrap(), "_moved")
        .replace(PAIRWISE, "victim");
    let forged = stripped.replace(&a, &real).replacen(
        "</saml:Issuer>",
        &format!("</saml:Issuer>{lifted}"),
        1,
    );
    let err = check(&forged).unwrap_err();
    assert!(
        matches!(
            err,
            SsoError::ResponseSignature(_) | SsoError::Xml(XmlError::DuplicateId(_))
        ),
        "{err:?}"
    );
}

#[test]
fn altered_signed_response_is_refused() {
    let xml = build();
    let forged = xml.replacen(PAIRWISE, "victim", 1);
    assert!(matches!(
        check(&forged),
        Err(SsoError::ResponseSignature(DsigError::DigestMismatch))
    ));
    let forged = forged.replacen(&signature_text(&forged, 0), "", 1);
    assert!(matches!(
        check(&forged),
        Err(SsoError::AssertionSignature(DsigError::DigestMismatch))
    ));
}

// ---- replay and identity ----------------------------------------------------------------

#[test]
fn replayed_assertion_is_refused() {
    let xml = build();
    let keys = idp_keys();
    let cache = MemoryReplayCache::new();
    let mut ctx = SpContext::new(SP, ACS, IDP, &keys, &cache, now());
    ctx.expected_in_response_to = Some(REQ);
    let first = validate_response(xml.as_bytes(), &ctx).unwrap();
    assert!(matches!(
        validate_response(xml.as_bytes(), &ctx),
        Err(SsoError::Replay(id)) if id == first.assertion_id
    ));
    // The same assertion in a new Response (Response signature dropped): still a replay.
    let rewrapped = xml.replacen(&signature_text(&xml, 0), "", 1);
    assert!(matches!(
        validate_response(rewrapped.as_bytes(), &ctx),
        Err(SsoError::Replay(_))
    ));
    // A refused Response does not consume the assertion ID.
    let fresh = build();
    let wrong = fresh.replacen(&signature_text(&fresh, 0), "", 1);
    assert!(matches!(
        validate_response(
            wrong.as_bytes(),
            &SpContext::new(SP, ACS_ARTIFACT, IDP, &keys, &cache, now())
        ),
        Err(SsoError::WrongDestination { .. })
    ));
    assert!(validate_response(fresh.as_bytes(), &ctx).is_ok());
}

#[test]
fn comment_injection_in_name_id_yields_the_full_text() {
    // Duo 2018 class: the resident registered `user@x.jp.evil.jp`; a comment splits it so that
    // a text-node-first reader sees `user@x.jp`. Comments are not signed, so the signatures hold;
    // the identity is the full text.
    let xml = build_full(now(), false, "user@x.jp.evil.jp", Some(REQ));
    let injected = xml.replace("user@x.jp.evil.jp", "user@x.jp<!---->.evil.jp");
    assert_ne!(injected, xml);
    let v = check(&injected).unwrap();
    assert_eq!(v.name_id.value, "user@x.jp.evil.jp");
    // A processing instruction is not dropped by canonicalization: the digests break.
    let pi = xml.replace("user@x.jp.evil.jp", "user@x.jp<?x?>.evil.jp");
    assert!(check(&pi).is_err());
}
