//! One test per attack of `shared/reference/attacks.md` that the XML-security layer decides: each
//! forged document is refused with a specific error.

mod support;

use schemas::dsig::{
    sign_enveloped, verify_enveloped, DsigError, SignOptions, SignatureAlgorithm, VerifyPolicy,
};
use schemas::xml::{parse, XmlError};
use support::*;

fn signed_response() -> String {
    let a = sign(&assertion("a1", "user@x.jp.evil.jp"), "a1", idp_key());
    sign(&response("r1", &a), "r1", idp_key())
}

/// Verifies the element with `id` in `xml` with the IdP key.
fn verify_id(xml: &str, id: &str) -> Result<Vec<u8>, DsigError> {
    let doc = parse(xml.as_bytes())?;
    let e = doc
        .element_by_id(id)
        .ok_or_else(|| DsigError::UnresolvedReference(id.into()))?;
    verify_enveloped(e, &[idp_key().trusted()], &VerifyPolicy::default()).map(|v| v.canonical)
}

fn verify_root(xml: &str) -> Result<Vec<u8>, DsigError> {
    let doc = parse(xml.as_bytes())?;
    verify_enveloped(doc.root(), &[idp_key().trusted()], &VerifyPolicy::default())
        .map(|v| v.canonical)
}

/// The signed assertion element's text (with its signature) inside a signed response.
fn assertion_text(xml: &str) -> String {
    let start = xml.find("<saml:Assertion").unwrap();
    let end = xml.find("</saml:Assertion>").unwrap() + "</saml:Assertion>".len();
    xml[start..end].to_string()
}

fn signature_text(xml: &str, nth: usize) -> String {
    let mut from = 0;
    for _ in 0..nth {
        from = xml[from..].find("</ds:Signature>").unwrap() + from + 1;
    }
    let start = xml[from..].find("<ds:Signature").unwrap() + from;
    let end = xml[start..].find("</ds:Signature>").unwrap() + start + "</ds:Signature>".len();
    xml[start..end].to_string()
}

#[test]
fn genuine_response_and_assertion_verify_and_return_canonical_bytes() {
    let xml = signed_response();
    let response = verify_root(&xml).unwrap();
    let assertion = verify_id(&xml, "a1").unwrap();
    // The response's canonical bytes hold the assertion with its own signature; the assertion's
    // canonical bytes do not hold its signature (enveloped transform).
    assert!(String::from_utf8_lossy(&response).contains("<ds:Signature"));
    assert!(!String::from_utf8_lossy(&assertion).contains("<ds:Signature"));
    let reparsed = parse(&assertion).unwrap();
    assert_eq!(reparsed.root().xml_id(), Some("a1"));
}

#[test]
fn signature_exclusion_is_refused() {
    let xml = signed_response();
    let stripped = xml.replace(&signature_text(&xml, 0), "");
    assert!(matches!(verify_root(&stripped), Err(DsigError::Unsigned)));
    let a = sign(&assertion("a1", "x"), "a1", idp_key());
    let unsigned = a.replace(&signature_text(&a, 0), "");
    assert!(matches!(
        verify_id(&unsigned, "a1"),
        Err(DsigError::Unsigned)
    ));
}

#[test]
fn xsw1_clone_inside_signature_is_refused() {
    let xml = signed_response();
    let sig = signature_text(&xml, 0);
    let clone = xml
        .replace(&sig, "")
        .replace("ID=\"r1\"", "ID=\"r1-clone\"");
    let forged_sig = sig.replace("</ds:Signature>", &format!("{clone}</ds:Signature>"));
    let forged = xml
        .replace(&sig, &forged_sig)
        .replacen("ID=\"r1\"", "ID=\"evil\"", 1);
    let err = verify_root(&forged).unwrap_err();
    assert!(
        matches!(
            err,
            DsigError::SignatureStructure(_) | DsigError::Xml(XmlError::DuplicateId(_))
        ),
        "{err:?}"
    );
}

#[test]
fn xsw2_clone_before_signature_is_refused() {
    let xml = signed_response();
    let sig = signature_text(&xml, 0);
    let unsigned_copy = xml.replace(&sig, "").replace("ID=\"r1\"", "ID=\"r1\"");
    // The attacker's outer Response gets a new ID, the captured original stands as a sibling
    // before the signature.
    let forged = format!(
        "<samlp:Response xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" ID=\"evil\" Version=\"2.0\">{unsigned_copy}{sig}</samlp:Response>"
    );
    assert!(matches!(
        verify_root(&forged),
        Err(DsigError::ReferenceTarget { .. }) | Err(DsigError::Xml(XmlError::DuplicateId(_)))
    ));
}

#[test]
fn xsw3_altered_copy_before_signed_assertion_is_not_the_verified_one() {
    let xml = signed_response();
    let a = assertion_text(&xml);
    let evil = a
        .replace(&signature_text(&a, 0), "")
        .replace("ID=\"a1\"", "ID=\"a-evil\"")
        .replace("user@x.jp.evil.jp", "admin@x.jp");
    let forged = xml.replace(&a, &format!("{evil}{a}"));
    // The response signature no longer matches, and the evil copy carries no signature.
    assert!(matches!(
        verify_root(&forged),
        Err(DsigError::DigestMismatch)
    ));
    assert!(matches!(
        verify_id(&forged, "a-evil"),
        Err(DsigError::Unsigned)
    ));
    // What verifies is only the genuine assertion, with its genuine content.
    let genuine = verify_id(&forged, "a1").unwrap();
    assert!(String::from_utf8_lossy(&genuine).contains("user@x.jp.evil.jp"));
}

#[test]
fn xsw4_original_moved_inside_altered_assertion_is_refused() {
    let a = sign(&assertion("a1", "alice"), "a1", idp_key());
    let evil = assertion("a-evil", "mallory").replace(
        "</saml:Assertion>",
        &format!(
            "{}</saml:Assertion>",
            a.replace(" xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\"", "")
        ),
    );
    assert!(matches!(verify_root(&evil), Err(DsigError::Unsigned)));
}

#[test]
fn xsw5_altered_assertion_keeping_signature_under_new_id_is_refused() {
    let a = sign(&assertion("a1", "alice"), "a1", idp_key());
    let altered = a
        .replace("ID=\"a1\"", "ID=\"a-evil\"")
        .replace("alice", "mallory");
    let forged = response("r1", &format!("{altered}{}", assertion("a1", "alice")));
    let err = verify_id(&forged, "a-evil").unwrap_err();
    assert!(matches!(err, DsigError::ReferenceTarget { .. }), "{err:?}");
}

#[test]
fn xsw6_copy_inside_signature_is_refused() {
    let a = sign(&assertion("a1", "alice"), "a1", idp_key());
    let sig = signature_text(&a, 0);
    let copy = a.replace(&sig, "");
    let forged = a
        .replace(
            &sig,
            &sig.replace(
                "</ds:Signature>",
                &format!("<ds:Object>{copy}</ds:Object></ds:Signature>"),
            ),
        )
        .replacen("ID=\"a1\"", "ID=\"a-evil\"", 1)
        .replacen("alice", "mallory", 1);
    let err = verify_id(&forged, "a-evil").unwrap_err();
    assert!(
        matches!(
            err,
            DsigError::SignatureStructure(_) | DsigError::ReferenceTarget { .. }
        ),
        "{err:?}"
    );
}

#[test]
fn xsw7_copy_in_extensions_with_same_id_is_refused_by_the_parser() {
    let xml = signed_response();
    let a = assertion_text(&xml);
    let altered = a
        .replace(&signature_text(&a, 0), "")
        .replace("user@x.jp.evil.jp", "admin");
    let forged = xml.replace(
        "<samlp:Status>",
        &format!("<samlp:Extensions>{altered}</samlp:Extensions><samlp:Status>"),
    );
    assert!(matches!(
        verify_root(&forged),
        Err(DsigError::Xml(XmlError::DuplicateId(id))) if id == "a1"
    ));
}

#[test]
fn xsw8_copy_in_signature_object_is_refused() {
    let a = sign(&assertion("a1", "alice"), "a1", idp_key());
    let sig = signature_text(&a, 0);
    let copy = a.replace(&sig, "").replace("ID=\"a1\"", "ID=\"a1-copy\"");
    let forged = a.replace(
        &sig,
        &sig.replace(
            "</ds:Signature>",
            &format!("<ds:Object>{copy}</ds:Object></ds:Signature>"),
        ),
    );
    let forged = forged.replacen("alice", "mallory", 1);
    assert!(matches!(
        verify_id(&forged, "a1"),
        Err(DsigError::SignatureStructure(_))
    ));
}

#[test]
fn xsw9_second_signed_info_is_refused() {
    let a = sign(&assertion("a1", "alice"), "a1", idp_key());
    let start = a.find("<ds:SignedInfo").unwrap();
    let end = a.find("</ds:SignedInfo>").unwrap() + "</ds:SignedInfo>".len();
    let si = &a[start..end];
    let forged = a.replacen(si, &format!("{si}{si}"), 1);
    assert!(matches!(
        verify_id(&forged, "a1"),
        Err(DsigError::SignatureStructure(_))
    ));
}

#[test]
fn xsw10_assertion_signature_lifted_to_response_is_refused() {
    let a = sign(&assertion("a1", "alice"), "a1", idp_key());
    let sig = signature_text(&a, 0);
    let copy = a.replace(&sig, "");
    let lifted = sig.replace(
        "</ds:Signature>",
        &format!("<ds:Object>{copy}</ds:Object></ds:Signature>"),
    );
    let real = a
        .replace(&sig, "")
        .replace("ID=\"a1\"", "ID=\"a2\"")
        .replace("alice", "mallory");
    let forged =
        response("r1", &real).replacen("</saml:Issuer>", &format!("</saml:Issuer>{lifted}"), 1);
    let err = verify_root(&forged).unwrap_err();
    assert!(matches!(err, DsigError::SignatureStructure(_)), "{err:?}");
}

#[test]
fn two_signatures_on_one_element_are_refused() {
    let a = sign(&assertion("a1", "alice"), "a1", idp_key());
    let sig = signature_text(&a, 0);
    let forged = a.replace(&sig, &format!("{sig}{sig}"));
    assert!(matches!(
        verify_id(&forged, "a1"),
        Err(DsigError::SignatureCount(2))
    ));
}

#[test]
fn two_references_are_refused() {
    let a = sign(&assertion("a1", "alice"), "a1", idp_key());
    let start = a.find("<ds:Reference ").unwrap();
    let end = a.find("</ds:Reference>").unwrap() + "</ds:Reference>".len();
    let r = &a[start..end];
    let forged = a.replacen(r, &format!("{r}{r}"), 1);
    // The SignedInfo changed, so either the structure rule or the signature refuses it; the
    // structure rule is checked on the verified copy, so with a re-signed SignedInfo it is the
    // structure rule that must bite.
    assert!(verify_id(&forged, "a1").is_err());
    let err = resign_signed_info(&forged, "a1").unwrap_err();
    assert!(matches!(err, DsigError::SignedInfoStructure(_)), "{err:?}");
}

/// Re-signs a tampered SignedInfo with the IdP key (as if the IdP had signed it), so that the
/// rule under test is the only thing left to refuse it.
fn resign_signed_info(xml: &str, id: &str) -> Result<Vec<u8>, DsigError> {
    use base64::Engine;
    use schemas::dsig::Signer;
    use schemas::xml::c14n::{canonicalize, C14nOptions};
    let doc = parse(xml.as_bytes())?;
    let sig = doc
        .element_by_id(id)
        .unwrap()
        .first(schemas::ns::DS, "Signature")
        .unwrap();
    let si = sig.first(schemas::ns::DS, "SignedInfo").unwrap();
    let bytes = canonicalize(si, &C14nOptions::default());
    let value = idp_key()
        .signer(SignatureAlgorithm::RsaSha256)
        .sign(&bytes)
        .unwrap();
    let old = sig
        .first(schemas::ns::DS, "SignatureValue")
        .unwrap()
        .text()
        .unwrap();
    let resigned = xml.replace(
        &old,
        &base64::engine::general_purpose::STANDARD.encode(value),
    );
    verify_id(&resigned, id)
}

#[test]
fn comment_injection_in_name_id_yields_the_full_identity() {
    let a = sign(&assertion("a1", "user@x.jp.evil.jp"), "a1", idp_key());
    let injected = a.replace("user@x.jp.evil.jp", "user@x.jp<!---->.evil.jp");
    // The signature still verifies (comments are not signed) …
    let canonical = verify_id(&injected, "a1").unwrap();
    // … and what is used is the full text: the identity the IdP asserted.
    let doc = parse(&canonical).unwrap();
    let name_id = doc
        .root()
        .descendants()
        .into_iter()
        .find(|e| e.local_name() == "NameID")
        .unwrap();
    assert_eq!(name_id.text().unwrap(), "user@x.jp.evil.jp");
    // Reading the unverified tree directly refuses the mixed content.
    let raw = parse(injected.as_bytes()).unwrap();
    let raw_name = raw
        .root()
        .descendants()
        .into_iter()
        .find(|e| e.local_name() == "NameID")
        .unwrap();
    assert!(matches!(
        raw_name.text(),
        Err(XmlError::MixedContent { .. })
    ));
}

#[test]
fn processing_instruction_in_name_id_is_refused() {
    let a = sign(&assertion("a1", "user@x.jp.evil.jp"), "a1", idp_key());
    let injected = a.replace("user@x.jp.evil.jp", "user@x.jp<?x?>.evil.jp");
    assert!(matches!(
        verify_id(&injected, "a1"),
        Err(DsigError::DigestMismatch)
    ));
}

#[test]
fn comment_inside_digest_value_does_not_smuggle_a_digest() {
    let a = sign(&assertion("a1", "alice"), "a1", idp_key());
    let altered = a.replace("alice", "mallory");
    let doc = parse(altered.as_bytes()).unwrap();
    let mut c = schemas::xml::c14n::canonicalize(
        doc.root(),
        &schemas::xml::c14n::C14nOptions {
            exclude: doc
                .root()
                .first(schemas::ns::DS, "Signature")
                .map(|s| s.node_id()),
            ..Default::default()
        },
    );
    let evil_digest = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        openssl::sha::sha256(&c),
    );
    c.clear();
    let start = altered.find("<ds:DigestValue>").unwrap() + "<ds:DigestValue>".len();
    let forged = format!(
        "{}<!--{evil_digest}-->{}",
        &altered[..start],
        &altered[start..]
    );
    assert!(matches!(
        verify_id(&forged, "a1"),
        Err(DsigError::DigestMismatch)
    ));
    // The attacker's digest in the text and the real one in a comment: the signature breaks.
    let end = altered.find("</ds:DigestValue>").unwrap();
    let real = &altered[start..end];
    let swapped = format!(
        "{}{evil_digest}<!--{real}-->{}",
        &altered[..start],
        &altered[end..]
    );
    assert!(matches!(
        verify_id(&swapped, "a1"),
        Err(DsigError::BadSignature)
    ));
}

#[test]
fn stray_digest_value_elsewhere_is_ignored() {
    let xml = signed_response();
    let forged = xml
        .replace(
            "<samlp:Status>",
            "<samlp:Extensions><ds:DigestValue xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\">AAAA</ds:DigestValue></samlp:Extensions><samlp:Status>",
        );
    assert!(matches!(
        verify_root(&forged),
        Err(DsigError::DigestMismatch)
    ));
}

#[test]
fn numeric_looking_digest_is_compared_as_bytes() {
    let a = sign(&assertion("a1", "alice"), "a1", idp_key());
    let start = a.find("<ds:DigestValue>").unwrap() + "<ds:DigestValue>".len();
    let end = a.find("</ds:DigestValue>").unwrap();
    let forged = format!("{}0e12{}", &a[..start], &a[end..]);
    assert!(verify_id(&forged, "a1").is_err());
    assert!(matches!(
        resign_signed_info(&forged, "a1"),
        Err(DsigError::DigestMismatch)
    ));
}

#[test]
fn certificate_in_key_info_is_never_trusted() {
    // Signed by the attacker, who puts his own certificate in KeyInfo.
    let forged = sign(&assertion("a1", "mallory"), "a1", attacker_key());
    assert!(forged.contains("<ds:X509Certificate>"));
    assert!(matches!(
        verify_id(&forged, "a1"),
        Err(DsigError::BadSignature)
    ));
    let doc = parse(forged.as_bytes()).unwrap();
    assert!(matches!(
        verify_enveloped(doc.root(), &[], &VerifyPolicy::default()),
        Err(DsigError::NoTrustedKeys)
    ));
}

#[test]
fn hmac_signature_method_is_refused() {
    let a = sign(&assertion("a1", "alice"), "a1", idp_key());
    for hmac in [
        "http://www.w3.org/2000/09/xmldsig#hmac-sha1",
        "http://www.w3.org/2001/04/xmldsig-more#hmac-sha256",
    ] {
        let forged = a.replace("http://www.w3.org/2001/04/xmldsig-more#rsa-sha256", hmac);
        let err = resign_signed_info(&forged, "a1").unwrap_err();
        assert!(matches!(err, DsigError::ForbiddenAlgorithm(_)), "{err:?}");
    }
    // HMACOutputLength truncation (CVE-2009-0217) is a parameter the profile never accepts.
    let truncated = a.replace(
        "rsa-sha256\"></ds:SignatureMethod>",
        "rsa-sha256\"><ds:HMACOutputLength>8</ds:HMACOutputLength></ds:SignatureMethod>",
    );
    let err = resign_signed_info(&truncated, "a1").unwrap_err();
    assert!(matches!(err, DsigError::SignedInfoStructure(_)), "{err:?}");
}

#[test]
fn xslt_xpath_and_other_transforms_are_refused() {
    let a = sign(&assertion("a1", "alice"), "a1", idp_key());
    for transform in [
        "http://www.w3.org/TR/1999/REC-xslt-19991116",
        "http://www.w3.org/TR/1999/REC-xpath-19991116",
        "http://www.w3.org/2002/06/xmldsig-filter2",
        "http://www.w3.org/TR/2001/REC-xml-c14n-20010315",
        "http://www.w3.org/2000/09/xmldsig#base64",
    ] {
        let forged = a.replacen(
            "<ds:Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\">",
            &format!("<ds:Transform Algorithm=\"{transform}\">"),
            1,
        );
        let err = resign_signed_info(&forged, "a1").unwrap_err();
        assert!(matches!(err, DsigError::ForbiddenTransform(t) if t == transform));
    }
    // Only enveloped-signature, without exclusive c14n after it, is refused as well.
    let start = a
        .find("<ds:Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\">")
        .unwrap();
    let end = a[start..].find("</ds:Transform>").unwrap() + start + "</ds:Transform>".len();
    let forged = format!("{}{}", &a[..start], &a[end..]);
    assert!(matches!(
        resign_signed_info(&forged, "a1"),
        Err(DsigError::TransformChain)
    ));
}

#[test]
fn inclusive_c14n_for_signed_info_is_refused() {
    let a = sign(&assertion("a1", "alice"), "a1", idp_key());
    let forged = a.replacen(
        "<ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\">",
        "<ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/TR/2001/REC-xml-c14n-20010315\">",
        1,
    );
    assert!(matches!(
        verify_id(&forged, "a1"),
        Err(DsigError::ForbiddenTransform(_))
    ));
}

#[test]
fn sha1_is_refused_unless_the_interop_switch_is_on() {
    let xml = assertion("a1", "alice");
    let signer = idp_key().signer(SignatureAlgorithm::RsaSha1);
    let options = SignOptions {
        digest: schemas::dsig::DigestAlgorithm::Sha1,
        ..Default::default()
    };
    let signed = sign_enveloped(&xml, "a1", &signer, &options).unwrap();
    assert!(matches!(
        verify_id(&signed, "a1"),
        Err(DsigError::Sha1Refused(_))
    ));
    let doc = parse(signed.as_bytes()).unwrap();
    let ok = verify_enveloped(
        doc.root(),
        &[idp_key().trusted()],
        &VerifyPolicy { allow_sha1: true },
    );
    assert!(ok.is_ok());
}

#[test]
fn reference_to_another_element_or_the_whole_document_is_refused() {
    let a = sign(&assertion("a1", "alice"), "a1", idp_key());
    for uri in ["", "#a2", "#xpointer(/)", "http://evil.example/a.xml"] {
        let forged = a.replacen("URI=\"#a1\"", &format!("URI=\"{uri}\""), 1);
        let err = resign_signed_info(&forged, "a1").unwrap_err();
        assert!(
            matches!(err, DsigError::ReferenceTarget { .. }),
            "{uri}: {err:?}"
        );
    }
}

#[test]
fn xinclude_in_signed_content_is_not_processed() {
    let a = sign(&assertion("a1", "alice"), "a1", idp_key());
    let forged = a.replace(
        "<saml:Subject>",
        "<saml:Subject><xi:include xmlns:xi=\"http://www.w3.org/2001/XInclude\" href=\"file:///etc/passwd\" parse=\"text\"/>",
    );
    // Treated as an ordinary element: it changes the digest, and nothing is read.
    assert!(matches!(
        verify_id(&forged, "a1"),
        Err(DsigError::DigestMismatch)
    ));
}

#[test]
fn doctype_entities_and_duplicate_ids_are_refused_before_any_check() {
    let a = sign(&assertion("a1", "alice"), "a1", idp_key());
    let xxe = format!("<!DOCTYPE a [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>{a}");
    assert!(matches!(
        verify_id(&xxe, "a1"),
        Err(DsigError::Xml(XmlError::Doctype))
    ));
    let entity = a.replace("alice", "&x;");
    assert!(matches!(
        verify_id(&entity, "a1"),
        Err(DsigError::Xml(XmlError::Entity(_)))
    ));
    let dup = a.replace("<saml:Subject>", "<saml:Subject ID=\"a1\">");
    assert!(matches!(
        verify_id(&dup, "a1"),
        Err(DsigError::Xml(XmlError::DuplicateId(_)))
    ));
    let dup_wsu = a.replace(
        "<saml:Subject>",
        "<saml:Subject xmlns:wsu=\"http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd\" wsu:Id=\"a1\">",
    );
    assert!(matches!(
        verify_id(&dup_wsu, "a1"),
        Err(DsigError::Xml(XmlError::DuplicateId(_)))
    ));
}

#[test]
fn ecdsa_signatures_verify_and_key_confusion_fails() {
    let xml = assertion("a1", "alice");
    let ec = ec_key();
    for alg in [
        SignatureAlgorithm::EcdsaSha256,
        SignatureAlgorithm::EcdsaSha384,
    ] {
        let signed = sign_enveloped(&xml, "a1", &ec.signer(alg), &SignOptions::default()).unwrap();
        let doc = parse(signed.as_bytes()).unwrap();
        assert!(verify_enveloped(doc.root(), &[ec.trusted()], &VerifyPolicy::default()).is_ok());
        // An RSA key never verifies an ECDSA signature, and the key list is tried in order.
        assert!(matches!(
            verify_enveloped(doc.root(), &[idp_key().trusted()], &VerifyPolicy::default()),
            Err(DsigError::BadSignature)
        ));
        let both = verify_enveloped(
            doc.root(),
            &[idp_key().trusted(), ec.trusted()],
            &VerifyPolicy::default(),
        )
        .unwrap();
        assert_eq!(both.key_index, 1);
    }
}

#[test]
fn any_rollover_key_verifies() {
    let a = sign(&assertion("a1", "alice"), "a1", idp_key());
    let doc = parse(a.as_bytes()).unwrap();
    let v = verify_enveloped(
        doc.root(),
        &[attacker_key().trusted(), idp_key().trusted()],
        &VerifyPolicy::default(),
    )
    .unwrap();
    assert_eq!(v.key_index, 1);
}

#[test]
fn typed_attribute_values_survive_verification_with_or_without_prefix_list() {
    use schemas::saml::{Assertion, AttributeValue, SamlXml};
    let xml = assertion("a1", "alice");
    let without = SignOptions {
        inclusive_prefixes: None,
        ..SignOptions::default()
    };
    for options in [SignOptions::default(), without] {
        let listed = options.inclusive_prefixes.is_some();
        let signed = sign_enveloped(
            &xml,
            "a1",
            &idp_key().signer(SignatureAlgorithm::RsaSha256),
            &options,
        )
        .unwrap();
        let canonical = verify_id(&signed, "a1").unwrap();
        // With the PrefixList the binding is kept exactly; without it exclusive c14n drops it.
        assert_eq!(
            String::from_utf8_lossy(&canonical).contains("xmlns:xs="),
            listed
        );
        let typed = Assertion::from_xml(&canonical).unwrap();
        let attr = typed.attribute("urn:nabari:attr:municipality").unwrap();
        match &attr.values[0] {
            AttributeValue::Text { value, xsi_type } => {
                assert_eq!(value, "三重県名張市");
                assert_eq!(
                    xsi_type.as_ref().unwrap(),
                    &schemas::saml::QName::xs("string")
                );
            }
            other => panic!("{other:?}"),
        }
    }
    // Any other unbound prefix is still refused.
    let odd = xml.replace("xsi:type=\"xs:string\"", "xsi:type=\"zz:string\"");
    let signed = sign(&odd, "a1", idp_key());
    let canonical = verify_id(&signed, "a1").unwrap();
    assert!(Assertion::from_xml(&canonical).is_err());
}

#[test]
fn weak_trusted_keys_are_refused() {
    let short = openssl::pkey::PKey::from_rsa(openssl::rsa::Rsa::generate(1024).unwrap()).unwrap();
    let public =
        openssl::pkey::PKey::public_key_from_pem(&short.public_key_to_pem().unwrap()).unwrap();
    assert!(matches!(
        schemas::dsig::TrustedKey::from_public_key(public),
        Err(DsigError::Key(_))
    ));
    let group = openssl::ec::EcGroup::from_curve_name(openssl::nid::Nid::SECP256K1).unwrap();
    let k1 = openssl::ec::EcKey::generate(&group).unwrap();
    let k1 = openssl::pkey::PKey::from_ec_key(k1).unwrap();
    let public =
        openssl::pkey::PKey::public_key_from_pem(&k1.public_key_to_pem().unwrap()).unwrap();
    assert!(matches!(
        schemas::dsig::TrustedKey::from_public_key(public),
        Err(DsigError::Key(_))
    ));
}
