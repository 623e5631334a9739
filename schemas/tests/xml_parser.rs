//! The parser refuses every construct the profile forbids, each with its own error, and builds the
//! tree the rest of the crate relies on.

use schemas::xml::{parse, parse_with, Node, ParseLimits, XmlError};

fn err(xml: &str) -> XmlError {
    parse(xml.as_bytes()).expect_err(xml)
}

#[test]
fn doctype_in_every_form_is_refused() {
    for xml in [
        "<!DOCTYPE a><a/>",
        "<!DOCTYPE a [<!ENTITY x \"y\">]><a>&x;</a>",
        "<!DOCTYPE a SYSTEM \"http://evil.example/a.dtd\"><a/>",
        "<!DOCTYPE a [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><a>&x;</a>",
        // billion laughs
        "<!DOCTYPE l [<!ENTITY a \"lol\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;\">]><l>&b;</l>",
        // default attribute smuggling (ATTLIST) a la "The Fragile Lock"
        "<!DOCTYPE a [<!ATTLIST a xmlns CDATA \"urn:x\">]><a/>",
    ] {
        assert_eq!(err(xml), XmlError::Doctype, "{xml}");
    }
}

#[test]
fn only_predefined_entities_and_valid_character_references() {
    assert_eq!(err("<a>&nbsp;</a>"), XmlError::Entity("nbsp".into()));
    assert_eq!(err("<a b=\"&x;\"/>"), XmlError::Entity("x".into()));
    assert!(matches!(err("<a>&#0;</a>"), XmlError::Malformed { .. }));
    assert!(matches!(err("<a>&#xD800;</a>"), XmlError::Malformed { .. }));
    assert!(matches!(err("<a>\u{1}</a>"), XmlError::Malformed { .. }));
    let doc = parse(b"<a b=\"&lt;&#x41;&#9;\">&amp;&#65;&#x1F600;&apos;&quot;&gt;</a>").unwrap();
    assert_eq!(doc.root().text().unwrap(), "&A\u{1F600}'\">");
    assert_eq!(doc.root().attr("b"), Some("<A\t"));
}

#[test]
fn size_depth_attribute_and_node_limits() {
    let limits = ParseLimits {
        max_bytes: 100,
        max_depth: 3,
        max_attributes: 2,
        max_nodes: 5,
    };
    let big = format!("<a>{}</a>", "x".repeat(200));
    assert_eq!(
        parse_with(big.as_bytes(), &limits).unwrap_err(),
        XmlError::TooLarge { limit: 100 }
    );
    assert_eq!(
        parse_with(b"<a><b><c><d/></c></b></a>", &limits).unwrap_err(),
        XmlError::TooDeep { limit: 3 }
    );
    assert_eq!(
        parse_with(b"<a x=\"1\" y=\"2\" z=\"3\"/>", &limits).unwrap_err(),
        XmlError::TooManyAttributes { limit: 2 }
    );
    assert_eq!(
        parse_with(b"<a><b/><b/><b/><b/><b/></a>", &limits).unwrap_err(),
        XmlError::TooManyNodes { limit: 5 }
    );
    // The default size limit is 256 KiB.
    let default_big = format!("<a>{}</a>", "x".repeat(256 * 1024));
    assert_eq!(err(&default_big), XmlError::TooLarge { limit: 256 * 1024 });
}

#[test]
fn encodings_and_versions() {
    assert_eq!(parse(b"<a>\xff</a>").unwrap_err(), XmlError::NotUtf8);
    assert_eq!(
        err("<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><a/>"),
        XmlError::UnsupportedEncoding("ISO-8859-1".into())
    );
    assert_eq!(
        err("<?xml version=\"1.1\"?><a/>"),
        XmlError::UnsupportedVersion("1.1".into())
    );
    assert!(parse("\u{feff}<?xml version=\"1.0\" encoding=\"utf-8\"?><a/>".as_bytes()).is_ok());
    assert!(matches!(
        err("<a/><?xml version=\"1.0\"?>"),
        XmlError::Malformed { .. }
    ));
}

#[test]
fn namespace_errors() {
    assert_eq!(err("<p:a/>"), XmlError::UnboundPrefix("p".into()));
    assert_eq!(err("<a p:b=\"1\"/>"), XmlError::UnboundPrefix("p".into()));
    assert!(matches!(err("<a xmlns:p=\"\"/>"), XmlError::Namespace(_)));
    assert!(matches!(
        err("<a xmlns:xml=\"urn:other\"/>"),
        XmlError::Namespace(_)
    ));
    assert!(matches!(
        err("<a xmlns:xmlns=\"urn:x\"/>"),
        XmlError::Namespace(_)
    ));
    assert!(matches!(
        err("<a xmlns:p=\"http://www.w3.org/XML/1998/namespace\"/>"),
        XmlError::Namespace(_)
    ));
    // The same expanded attribute name twice through two prefixes.
    assert_eq!(
        err("<a xmlns:p=\"urn:x\" xmlns:q=\"urn:x\" p:b=\"1\" q:b=\"2\"/>"),
        XmlError::DuplicateAttribute("b".into())
    );
    assert!(err("<a b=\"1\" b=\"2\"/>").to_string().contains("b"));
}

#[test]
fn duplicate_ids_of_every_dialect_are_refused() {
    for xml in [
        "<a ID=\"x\"><b ID=\"x\"/></a>",
        "<a ID=\"x\"><b Id=\"x\"/></a>",
        "<a id=\"x\"><b ID=\"x\"/></a>",
        "<a xmlns:wsu=\"http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd\" wsu:Id=\"x\"><b ID=\"x\"/></a>",
    ] {
        assert_eq!(err(xml), XmlError::DuplicateId("x".into()), "{xml}");
    }
    // Other attributes called like an ID in a foreign namespace are not IDs.
    assert!(parse(b"<a ID=\"x\" xmlns:f=\"urn:f\"><b f:ID=\"x\"/></a>").is_ok());
}

#[test]
fn well_formedness_errors() {
    for xml in [
        "<a>",
        "<a></b>",
        "<a/>text",
        "<a/><b/>",
        "text<a/>",
        "<a><![CDATA[x</a>",
        "</a>",
        "<a b=1/>",
        "<1a/>",
    ] {
        assert!(
            matches!(err(xml), XmlError::Malformed { .. }),
            "{xml}: {:?}",
            err(xml)
        );
    }
    assert_eq!(err(""), XmlError::Empty);
    assert_eq!(err("  <!-- only -->  "), XmlError::Empty);
}

#[test]
fn tree_resolves_namespaces_and_normalizes_like_xml_1_0() {
    let xml = "<r xmlns=\"urn:d\" xmlns:p=\"urn:p\" p:at=\"a&#9;b\tc\r\nd\">\r\n<p:c ID=\"i1\" x=\"1\"><![CDATA[<raw>&]]>tail<!--c--><?pi data?></p:c><e xmlns=\"\"/></r>";
    let doc = parse(xml.as_bytes()).unwrap();
    let r = doc.root();
    assert!(r.is("urn:d", "r"));
    // Line ends are folded (CR LF to LF) before attribute normalization turns LF into a space.
    assert_eq!(r.attr_ns("urn:p", "at"), Some("a\tb c d"));
    let c = doc.element_by_id("i1").unwrap();
    assert!(c.is("urn:p", "c"));
    assert_eq!(c.parent().unwrap(), r);
    let kinds: Vec<String> = c
        .children()
        .map(|n| match n {
            Node::Text(t) => format!("text:{t}"),
            Node::Comment(t) => format!("comment:{t}"),
            Node::ProcessingInstruction { target, data } => format!("pi:{target}:{data}"),
            Node::Element(e) => format!("element:{}", e.local_name()),
        })
        .collect();
    assert_eq!(kinds, ["text:<raw>&tail", "comment:c", "pi:pi:data"]);
    assert!(matches!(c.text(), Err(XmlError::MixedContent { .. })));
    let e = r.elements().nth(1).unwrap();
    assert_eq!(e.namespace(), None);
    assert_eq!(e.lookup_namespace(Some("p")), Some("urn:p"));
    assert_eq!(e.lookup_namespace(None), None);
    assert_eq!(c.resolve_qname("p:x"), Some((Some("urn:p"), "x")));
    // CR LF in text is a single LF.
    match r.children().next().unwrap() {
        Node::Text(t) => assert_eq!(t, "\n"),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        c.source_text(),
        &xml[xml.find("<p:c").unwrap()..xml.find("<e ").unwrap()]
    );
}
