//! SOAP 1.1 envelope parsing, mustUnderstand processing and faults.

use schemas::idwsf::{code, IdwsfXml, Status};
use schemas::ns;
use schemas::soap::{self, Envelope, Fault, FaultCode, HeaderAttrs, SoapError};
use schemas::xml::{parse, Document, XmlWriter};

const S11: &str = "http://schemas.xmlsoap.org/soap/envelope/";

fn doc(xml: &str) -> Document {
    parse(xml.as_bytes()).expect("well-formed test XML")
}

fn envelope_err(xml: &str) -> SoapError {
    let d = doc(xml);
    Envelope::from_document(&d).expect_err("envelope must be refused")
}

#[test]
fn parses_header_blocks_with_must_understand_and_actor() {
    let d = doc(&format!(
        r#"<s:Envelope xmlns:s="{S11}" xmlns:a="urn:a" xmlns:b="urn:b">
  <s:Header>
    <a:One s:mustUnderstand="1"/>
    <a:Two s:mustUnderstand="true" s:actor="http://schemas.xmlsoap.org/soap/actor/next"/>
    <b:Three s:mustUnderstand="0"/>
    <b:Four s:mustUnderstand="false" s:actor="urn:elsewhere"/>
    <b:Five/>
  </s:Header>
  <s:Body id="b1"><a:Req/></s:Body>
</s:Envelope>"#
    ));
    let env = Envelope::from_document(&d).unwrap();
    let flags: Vec<_> = env
        .headers
        .iter()
        .map(|h| (h.namespace(), h.local_name(), h.must_understand, h.actor))
        .collect();
    assert_eq!(
        flags,
        vec![
            ("urn:a", "One", true, None),
            ("urn:a", "Two", true, Some(soap::ACTOR_NEXT)),
            ("urn:b", "Three", false, None),
            ("urn:b", "Four", false, Some("urn:elsewhere")),
            ("urn:b", "Five", false, None),
        ]
    );
    assert!(env.headers[1].targets_this_node());
    assert!(!env.headers[3].targets_this_node());
    assert_eq!(
        env.body_id(),
        Some("b1"),
        "ZXID's unqualified id on Body is read"
    );
    assert!(env.body_child().unwrap().is("urn:a", "Req"));
    assert!(env.fault().is_none());
    assert_eq!(env.headers_named("urn:b", "Four").count(), 1);
}

#[test]
fn envelope_without_header_is_fine() {
    let d = doc(&format!(
        r#"<S:Envelope xmlns:S="{S11}"><S:Body><x:R xmlns:x="urn:x"/></S:Body></S:Envelope>"#
    ));
    let env = Envelope::from_document(&d).unwrap();
    assert!(env.header.is_none());
    assert!(env.headers.is_empty());
    assert!(env.body_child().is_ok());
}

#[test]
fn soap12_envelope_is_a_version_mismatch() {
    let err = envelope_err(
        r#"<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope"><env:Body/></env:Envelope>"#,
    );
    assert_eq!(
        err,
        SoapError::VersionMismatch(Some(soap::SOAP12.to_string()))
    );
    let fault = err.to_fault();
    assert!(fault.code.is_soap("VersionMismatch"));
    // The answer is itself a SOAP 1.1 envelope.
    let answer = fault.to_envelope();
    let d = doc(&answer);
    let env = Envelope::from_document(&d).unwrap();
    assert_eq!(env.fault().unwrap().unwrap(), fault);
}

#[test]
fn unnamespaced_envelope_is_a_version_mismatch_and_other_roots_are_refused() {
    assert_eq!(
        envelope_err("<Envelope><Body/></Envelope>"),
        SoapError::VersionMismatch(None)
    );
    assert!(matches!(
        envelope_err(&format!(r#"<S:Body xmlns:S="{S11}"/>"#)),
        SoapError::NotAnEnvelope(_)
    ));
}

#[test]
fn structural_errors_are_refused() {
    let two_bodies = format!(r#"<S:Envelope xmlns:S="{S11}"><S:Body/><S:Body/></S:Envelope>"#);
    assert_eq!(envelope_err(&two_bodies), SoapError::DuplicateBody);
    let two_headers =
        format!(r#"<S:Envelope xmlns:S="{S11}"><S:Header/><S:Header/><S:Body/></S:Envelope>"#);
    assert_eq!(envelope_err(&two_headers), SoapError::DuplicateHeader);
    let header_after = format!(r#"<S:Envelope xmlns:S="{S11}"><S:Body/><S:Header/></S:Envelope>"#);
    assert_eq!(envelope_err(&header_after), SoapError::HeaderAfterBody);
    let no_body = format!(r#"<S:Envelope xmlns:S="{S11}"><S:Header/></S:Envelope>"#);
    assert_eq!(envelope_err(&no_body), SoapError::MissingBody);
    let trailer =
        format!(r#"<S:Envelope xmlns:S="{S11}"><S:Body/><x:Body xmlns:x="urn:x"/></S:Envelope>"#);
    assert!(matches!(
        envelope_err(&trailer),
        SoapError::UnexpectedElement {
            context: "Envelope",
            ..
        }
    ));
    let text = format!(r#"<S:Envelope xmlns:S="{S11}">junk<S:Body/></S:Envelope>"#);
    assert_eq!(envelope_err(&text), SoapError::UnexpectedText("Envelope"));
    let unqualified = format!(
        r#"<S:Envelope xmlns:S="{S11}"><S:Header><Plain/></S:Header><S:Body/></S:Envelope>"#
    );
    assert!(matches!(
        envelope_err(&unqualified),
        SoapError::UnqualifiedHeader(_)
    ));
    let bad_mu = format!(
        r#"<S:Envelope xmlns:S="{S11}"><S:Header><x:H xmlns:x="urn:x" S:mustUnderstand="yes"/></S:Header><S:Body/></S:Envelope>"#
    );
    let err = envelope_err(&bad_mu);
    assert_eq!(err, SoapError::InvalidMustUnderstand("yes".into()));
    assert!(err.fault_code().is_soap("Client"));
}

#[test]
fn body_must_hold_exactly_one_element_for_a_request() {
    let two = doc(&format!(
        r#"<S:Envelope xmlns:S="{S11}"><S:Body><x:A xmlns:x="urn:x"/><x:B xmlns:x="urn:x"/></S:Body></S:Envelope>"#
    ));
    let env = Envelope::from_document(&two).unwrap();
    assert_eq!(env.body_child(), Err(SoapError::BodyChildCount(2)));
    let empty = doc(&format!(
        r#"<S:Envelope xmlns:S="{S11}"><S:Body> </S:Body></S:Envelope>"#
    ));
    let env = Envelope::from_document(&empty).unwrap();
    assert_eq!(env.body_child(), Err(SoapError::BodyChildCount(0)));
    let text = doc(&format!(
        r#"<S:Envelope xmlns:S="{S11}"><S:Body>hello<x:A xmlns:x="urn:x"/></S:Body></S:Envelope>"#
    ));
    let env = Envelope::from_document(&text).unwrap();
    assert_eq!(env.body_child(), Err(SoapError::UnexpectedText("Body")));
}

#[test]
fn must_understand_check_faults_only_unknown_blocks_for_this_node() {
    let d = doc(&format!(
        r#"<S:Envelope xmlns:S="{S11}" xmlns:k="urn:known" xmlns:u="urn:unknown">
  <S:Header>
    <k:H S:mustUnderstand="1"/>
    <u:Ignorable S:mustUnderstand="0"/>
    <u:ForSomeoneElse S:mustUnderstand="1" S:actor="urn:other-node"/>
  </S:Header><S:Body/></S:Envelope>"#
    ));
    let env = Envelope::from_document(&d).unwrap();
    assert!(env.check_must_understand(&[("urn:known", "H")]).is_ok());

    let d = doc(&format!(
        r#"<S:Envelope xmlns:S="{S11}" xmlns:u="urn:unknown"><S:Header><u:Critical S:mustUnderstand="1" S:actor="http://schemas.xmlsoap.org/soap/actor/next"/></S:Header><S:Body/></S:Envelope>"#
    ));
    let env = Envelope::from_document(&d).unwrap();
    let fault = env
        .check_must_understand(&[("urn:known", "H")])
        .expect_err("unknown mandatory header");
    assert_eq!(fault.code, FaultCode::must_understand());
    assert!(fault.string.contains("{urn:unknown}Critical"));
    assert!(
        fault.status.is_none(),
        "SOAP 1.1: no detail for header faults"
    );
}

#[test]
fn fault_round_trips_with_nested_status_and_extra_detail() {
    let mut fault = Fault::idwsf(code::FRAMEWORK_VERSION_MISMATCH, "framework 1.1 <not> 2.0");
    fault.actor = Some("https://wsp.nabari.example/pension".into());
    fault.status = Some(Status::with_detail(
        code::FAILED,
        code::FRAMEWORK_VERSION_MISMATCH,
    ));
    fault.detail_extra = vec![r#"<x:Why xmlns:x="urn:x">because</x:Why>"#.into()];
    assert!(fault.code.is_soap("Client"));

    let standalone = fault.to_xml();
    let d = doc(&standalone);
    assert_eq!(Fault::from_element(d.root()).unwrap(), fault);

    let env_xml = fault.to_envelope();
    let d = doc(&env_xml);
    let env = Envelope::from_document(&d).unwrap();
    assert_eq!(env.fault().unwrap().unwrap(), fault);
    assert_eq!(fault.idwsf_code(), Some(code::FAILED));
}

#[test]
fn server_side_codes_give_server_faults() {
    let f = Fault::idwsf(code::INTERACTION_REQUIRED, "ask the user first");
    assert_eq!(f.code, FaultCode::server());
    assert_eq!(f.idwsf_code(), Some(code::INTERACTION_REQUIRED));
    let f = Fault::idwsf(code::STALE_MSG, "old");
    assert_eq!(f.code, FaultCode::client());
}

#[test]
fn fault_codes_in_other_namespaces_are_accepted() {
    // Shibboleth: the ID-WSF code as faultcode in the sbf namespace.
    let shib = doc(&format!(
        r#"<S:Fault xmlns:S="{S11}" xmlns:sbf="urn:liberty:sb"><faultcode>sbf:FrameworkVersionMismatch</faultcode><faultstring>bad version</faultstring></S:Fault>"#
    ));
    let f = Fault::from_element(shib.root()).unwrap();
    assert_eq!(
        f.code,
        FaultCode::new(Some(ns::SBF), "FrameworkVersionMismatch")
    );
    assert_eq!(f.idwsf_code(), Some(code::FRAMEWORK_VERSION_MISMATCH));

    // A Danish stack: the same code in urn:liberty:sb:2006-08, prefix declared on faultcode.
    let dk = doc(&format!(
        r#"<soap:Fault xmlns:soap="{S11}"><faultcode xmlns:x="urn:liberty:sb:2006-08"> x:FrameworkVersionMismatch </faultcode><faultstring/></soap:Fault>"#
    ));
    let f = Fault::from_element(dk.root()).unwrap();
    assert_eq!(
        f.code,
        FaultCode::new(Some(ns::SB), "FrameworkVersionMismatch")
    );
    assert_eq!(f.string, "");

    // A code in a foreign namespace is written back resolvably.
    let d = doc(&f.to_xml());
    assert_eq!(Fault::from_element(d.root()).unwrap(), f);

    // Dot-refined SOAP codes count as their base code.
    let refined = doc(&format!(
        r#"<S:Fault xmlns:S="{S11}"><faultcode>S:Client.Authentication</faultcode><faultstring>x</faultstring></S:Fault>"#
    ));
    let f = Fault::from_element(refined.root()).unwrap();
    assert!(f.code.is_soap("Client"));
    assert!(!f.code.is_soap("Server"));
}

#[test]
fn malformed_faults_are_refused() {
    let cases = [
        (
            r#"<S:Fault xmlns:S="S11"><faultstring>x</faultstring></S:Fault>"#,
            SoapError::MissingFaultPart("faultcode"),
        ),
        (
            r#"<S:Fault xmlns:S="S11"><faultcode>S:Client</faultcode></S:Fault>"#,
            SoapError::MissingFaultPart("faultstring"),
        ),
        (
            r#"<S:Fault xmlns:S="S11"><faultcode>nope:Client</faultcode><faultstring>x</faultstring></S:Fault>"#,
            SoapError::BadFaultCode("nope:Client".into()),
        ),
        (
            r#"<S:Fault xmlns:S="S11"><faultcode>S:Client</faultcode><faultcode>S:Server</faultcode><faultstring>x</faultstring></S:Fault>"#,
            SoapError::DuplicateFaultPart("faultcode"),
        ),
    ];
    for (xml, expected) in cases {
        let d = doc(&xml.replace("S11", S11));
        assert_eq!(Fault::from_element(d.root()), Err(expected), "{xml}");
    }
    // Parts out of order.
    let d = doc(&format!(
        r#"<S:Fault xmlns:S="{S11}"><faultstring>x</faultstring><faultcode>S:Client</faultcode></S:Fault>"#
    ));
    assert!(matches!(
        Fault::from_element(d.root()),
        Err(SoapError::UnexpectedElement { .. })
    ));
    // A detail status without code.
    let d = doc(&format!(
        r#"<S:Fault xmlns:S="{S11}"><faultcode>S:Client</faultcode><faultstring>x</faultstring><detail><lu:Status xmlns:lu="urn:liberty:util:2006-08"/></detail></S:Fault>"#
    ));
    assert!(matches!(
        Fault::from_element(d.root()),
        Err(SoapError::BadDetailStatus(_))
    ));
}

#[test]
fn write_envelope_marks_header_blocks_and_body() {
    let xml = soap::write_envelope(
        &[("x", "urn:x")],
        Some(&|w: &mut XmlWriter| {
            soap::start_header_block(
                w,
                "x:H",
                HeaderAttrs {
                    id: Some("h1"),
                    must_understand: true,
                    actor: Some(soap::ACTOR_NEXT),
                },
            );
            w.end();
            soap::start_header_block(w, "x:Quiet", HeaderAttrs::default());
            w.end();
        }),
        Some("body"),
        &|w: &mut XmlWriter| {
            Status::ok().write_with(w, schemas::idwsf::Decl(&[("lu", ns::LU)]));
        },
    );
    let d = doc(&xml);
    let env = Envelope::from_document(&d).unwrap();
    assert_eq!(env.headers.len(), 2);
    assert!(env.headers[0].must_understand);
    assert_eq!(env.headers[0].element.attr_ns(ns::WSU, "Id"), Some("h1"));
    assert!(!env.headers[1].must_understand);
    assert_eq!(env.headers[1].actor, None);
    assert_eq!(env.body_id(), Some("body"));
    assert_eq!(
        Status::from_element(env.body_child().unwrap()).unwrap(),
        Status::ok()
    );
    // The SOAP 1.1 schema admits only 0|1.
    assert!(xml.contains(r#"S:mustUnderstand="1""#));
}
