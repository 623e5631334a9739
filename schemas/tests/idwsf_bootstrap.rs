//! The Discovery bootstrap EPR as ZXID emits it inside an SSO assertion (idwsf-2.0.md §1),
//! with namespace prefixes inherited from the enclosing Response.

use std::path::Path;
use std::process::Command;

use schemas::idwsf::{
    secmech, service_type, token_usage, EndpointReference, IdwsfError, IdwsfXml, TokenKind,
    DISCOVERY_EPR_ATTRIBUTE,
};
use schemas::ns;
use schemas::xml::{c14n, parse, Document, Element};

fn fixture() -> String {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/idwsf/zxid-sso-with-bootstrap.xml");
    std::fs::read_to_string(path).unwrap()
}

/// The element child of the DiscoveryEPR attribute's value, found by attribute name.
fn bootstrap_element(doc: &Document) -> Element<'_> {
    let attr = doc
        .root()
        .descendants()
        .into_iter()
        .find(|e| e.is(ns::SAML, "Attribute") && e.attr("Name") == Some(DISCOVERY_EPR_ATTRIBUTE))
        .expect("DiscoveryEPR attribute");
    assert_eq!(
        attr.attr("NameFormat"),
        Some("urn:oasis:names:tc:SAML:2.0:attrname-format:uri")
    );
    let value = attr.first(ns::SAML, "AttributeValue").unwrap();
    value
        .elements()
        .next()
        .expect("an element in the AttributeValue")
}

#[test]
fn zxid_bootstrap_epr_parses() {
    let xml = fixture();
    let doc = parse(xml.as_bytes()).unwrap();
    let e = bootstrap_element(&doc);
    // The EPR itself declares no namespace: all are inherited.
    assert_eq!(e.namespace_declarations().len(), 0);

    let epr = EndpointReference::from_element(e).unwrap();
    assert_eq!(epr.address, "https://relay.nabari.example/disco?o=S");
    assert!(epr.is_discovery());
    let md = epr.validate_service_epr().unwrap();
    assert_eq!(
        md.provider_id.as_deref(),
        Some("https://idp.nabari.example/idp?o=B")
    );
    assert_eq!(
        md.abstract_text.as_deref(),
        Some("Nabari relay: discovery of your records")
    );
    assert_eq!(md.service_types, vec![service_type::DISCOVERY.to_string()]);
    assert_eq!(
        md.frameworks.len(),
        1,
        "Framework read although ZXID writes it first"
    );
    assert!(md.frameworks[0].is_v2());
    assert!(md.extensions.is_empty());

    let (mech, sc) = md.security_context_for(&[secmech::TLS_BEARER]).unwrap();
    assert_eq!(mech, secmech::TLS_BEARER);
    let token = sc.token(token_usage::SECURITY_TOKEN).unwrap();
    let content = token.content.as_ref().unwrap();
    assert_eq!(content.kind, TokenKind::Assertion);

    // Lifted out, the token re-declares the prefixes it inherited ...
    assert!(content
        .xml
        .starts_with(r#"<sa:Assertion xmlns:sa="urn:oasis:names:tc:SAML:2.0:assertion" ID="A7NdsTok1xqZB5bMBFxz""#));
    assert!(content
        .xml
        .contains(r#"<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#">"#));
    // ... parses on its own ...
    let alone = parse(content.xml.as_bytes()).unwrap();
    assert!(alone.root().is(ns::SAML, "Assertion"));
    assert!(alone.element_by_id("A7NdsTok1xqZB5bMBFxz").is_some());
    // ... and canonicalizes to the same bytes as the original in its context, so an
    // exc-c14n signature over it verifies after forwarding.
    let original = e
        .descendants()
        .into_iter()
        .find(|x| x.is(ns::SAML, "Assertion"))
        .unwrap();
    let in_context = c14n::canonicalize(original, &Default::default());
    let standalone = c14n::canonicalize(alone.root(), &Default::default());
    assert_eq!(in_context, standalone);
    assert_eq!(in_context, content.xml.as_bytes());
}

#[test]
fn bootstrap_epr_round_trips_without_the_zxid_extension_attribute() {
    let xml = fixture();
    let doc = parse(xml.as_bytes()).unwrap();
    let epr = EndpointReference::from_element(bootstrap_element(&doc)).unwrap();
    let written = epr.to_xml();
    assert!(!written.contains("notOnOrAfter"));
    assert_eq!(
        EndpointReference::from_xml(written.as_bytes()).unwrap(),
        epr
    );
    // The written EPR puts the Framework after the disco metadata (reference order).
    let fw = written.find("<sbf:Framework").unwrap();
    assert!(written.find("<disco:ServiceType>").unwrap() < fw);
    assert!(fw < written.find("<disco:SecurityContext>").unwrap());
}

#[test]
fn shibboleth_and_encrypted_token_forms() {
    let xml = fixture();
    // Shibboleth SSOS: the token is the enclosing assertion, by reference.
    let start = xml.find("<sa:Assertion ID=\"A7Nds").unwrap();
    let end = xml.find("</sec:Token>").unwrap();
    let by_ref = format!("{}{}", &xml[..start], &xml[end..]).replace(
        r#"<sec:Token usage="#,
        r##"<sec:Token ref="#AqRbeOBx7sGd9Fj2t2YCT0Ae" usage="##,
    );
    let doc = parse(by_ref.as_bytes()).unwrap();
    let epr = EndpointReference::from_element(bootstrap_element(&doc)).unwrap();
    let token = &epr.metadata.as_ref().unwrap().security_contexts[0].tokens[0];
    assert_eq!(
        token.reference.as_deref(),
        Some("#AqRbeOBx7sGd9Fj2t2YCT0Ae")
    );
    assert!(token.content.is_none());

    // ZXID with DI_A7N_ENC: the token is an EncryptedAssertion.
    let encrypted = format!(
        "{}{}{}",
        &xml[..start],
        r#"<sa:EncryptedAssertion><xenc:EncryptedData xmlns:xenc="http://www.w3.org/2001/04/xmlenc#"><xenc:CipherData><xenc:CipherValue>AAAA</xenc:CipherValue></xenc:CipherData></xenc:EncryptedData></sa:EncryptedAssertion>"#,
        &xml[end..]
    );
    let doc = parse(encrypted.as_bytes()).unwrap();
    let epr = EndpointReference::from_element(bootstrap_element(&doc)).unwrap();
    let token = &epr.metadata.as_ref().unwrap().security_contexts[0].tokens[0];
    let content = token.content.as_ref().unwrap();
    assert_eq!(content.kind, TokenKind::EncryptedAssertion);
    assert!(content
        .xml
        .starts_with(r#"<sa:EncryptedAssertion xmlns:sa="#));

    // Neither content nor reference: refused.
    let empty = format!("{}{}", &xml[..start], &xml[end..]);
    let doc = parse(empty.as_bytes()).unwrap();
    assert!(matches!(
        EndpointReference::from_element(bootstrap_element(&doc)),
        Err(IdwsfError::MissingElement {
            parent: "sec:Token",
            ..
        })
    ));
}

/// Validation: the re-written EPR is schema-valid; the ZXID original is not (its unqualified
/// `notOnOrAfter` is outside WS-Addressing's `anyAttribute ##other`), which is why the portal
/// stores what it parsed rather than the received bytes of the EPR.
#[test]
fn rewritten_bootstrap_validates_and_zxid_original_does_not() {
    let xml = fixture();
    let doc = parse(xml.as_bytes()).unwrap();
    let epr = EndpointReference::from_element(bootstrap_element(&doc)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let rewritten = dir.path().join("rewritten.xml");
    let original = dir.path().join("original.xml");
    std::fs::write(&rewritten, epr.to_xml()).unwrap();
    std::fs::write(&original, &xml).unwrap();
    let xsd = Path::new(env!("CARGO_MANIFEST_DIR")).join("xsd");
    let out = Command::new("xmllint")
        .env("XML_CATALOG_FILES", xsd.join("catalog.xml"))
        .args(["--nonet", "--noout", "--schema"])
        .arg(xsd.join("idwsf-federation.xsd"))
        .arg(&rewritten)
        .arg(&original)
        .output()
        .expect("xmllint");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("{} validates", rewritten.display())),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("{} fails to validate", original.display())),
        "{stderr}"
    );
    assert!(stderr.contains("notOnOrAfter"), "{stderr}");
}
