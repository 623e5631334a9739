//! Differential tests against libxml2 and libxmlsec1 over a generated corpus of 240 documents:
//! prefixes, default namespaces declared, redeclared and undeclared, attribute order, white space,
//! character references, CDATA, comments, PIs, InclusiveNamespaces and nested signed elements.
//!
//! - our exclusive c14n of each whole document equals `xmllint --exc-c14n` byte for byte;
//! - every signature we make verifies in `xmlsec1`, and every one `xmlsec1` makes from a template
//!   within our profile verifies in ours, including nested ones and InclusiveNamespaces;
//! - single-byte mutations of the signed content, SignedInfo, digest or signature fail in both.

mod support;

use std::path::Path;

use schemas::dsig::{
    sign_enveloped, verify_enveloped, SignOptions, SignatureAlgorithm, TrustedKey, VerifyPolicy,
};
use schemas::xml::c14n::{canonicalize_document, C14nOptions};
use schemas::xml::parse;
use support::*;

const CORPUS: usize = 240;
const SIGNED_NS: &str = "http://nabari.test/signed";
const ID_ATTR_ELEMENT: &str = "http://nabari.test/signed:Signed";

const URIS: [&str; 4] = [
    "http://nabari.test/ns/one",
    "http://nabari.test/ns/two",
    "urn:nabari:ns:three",
    "http://nabari.test/ns/one",
];
const PREFIXES: [&str; 4] = ["a", "b", "c", "xs"];
const TEXTS: [&str; 12] = [
    "hello",
    " ",
    "\n  ",
    "a &amp; b",
    "&lt;tag&gt;",
    "quote\"s 'single'",
    "名張市の住民",
    "&#xD;carriage",
    "tab\there",
    "x > y",
    "&#x1F600; emoji",
    "line\r\nbreak",
];
const VALUES: [&str; 9] = [
    "v",
    "a b  c",
    "&#9;tab",
    "&#10;nl",
    "lit\ttab\nnl",
    "q&quot;uote",
    "&lt;&amp;&gt;",
    "名張",
    "'apos'",
];

struct Gen<'r> {
    rng: &'r mut Rng,
    out: String,
    /// Namespace bindings in scope (innermost last); prefix None = default.
    scope: Vec<(Option<&'static str>, &'static str)>,
    ids: usize,
    doc: usize,
    inner_signed: bool,
}

impl Gen<'_> {
    fn bound(&self, prefix: Option<&str>) -> Option<&'static str> {
        self.scope
            .iter()
            .rev()
            .find(|(p, _)| *p == prefix)
            .map(|(_, u)| *u)
    }

    fn element(&mut self, depth: usize) {
        let scope_len = self.scope.len();
        let mut decls: Vec<String> = Vec::new();
        // Namespace declarations: new prefixes, redeclarations with other URIs, default namespace
        // declared, redeclared or undeclared.
        for _ in 0..self.rng.below(3) {
            let p = PREFIXES[self.rng.below(PREFIXES.len())];
            if decls.iter().any(|d| d.starts_with(&format!("xmlns:{p}="))) {
                continue;
            }
            let u = URIS[self.rng.below(URIS.len())];
            decls.push(format!("xmlns:{p}=\"{u}\""));
            self.scope.push((Some(p), u));
        }
        if self.rng.chance(30) {
            if self.rng.chance(30) && self.bound(None).is_some() {
                decls.push("xmlns=\"\"".into());
                self.scope.push((None, ""));
            } else {
                let u = URIS[self.rng.below(URIS.len())];
                decls.push(format!("xmlns=\"{u}\""));
                self.scope.push((None, u));
            }
        }
        let prefix = if self.rng.chance(50) {
            None
        } else {
            Some(PREFIXES[self.rng.below(PREFIXES.len())])
        };
        if let Some(p) = prefix {
            if self.bound(Some(p)).is_none_or(|u| u.is_empty()) {
                let u = URIS[self.rng.below(URIS.len())];
                decls.push(format!("xmlns:{p}=\"{u}\""));
                self.scope.push((Some(p), u));
            }
        }
        let local = ["item", "entry", "Data", "x"][self.rng.below(4)];
        let qname = match prefix {
            Some(p) => format!("{p}:{local}"),
            None => local.to_string(),
        };
        let mut attrs: Vec<String> = Vec::new();
        let mut expanded: Vec<(String, String)> = Vec::new();
        for _ in 0..self.rng.below(4) {
            let alocal = ["z", "m", "a", "Name", "lang"][self.rng.below(5)];
            let (aq, ans) = match self.rng.below(3) {
                0 => (alocal.to_string(), String::new()),
                1 if alocal == "lang" => ("xml:lang".to_string(), "xml".to_string()),
                _ => {
                    let p = PREFIXES[self.rng.below(PREFIXES.len())];
                    let u = match self.bound(Some(p)) {
                        Some(u) if !u.is_empty() => u,
                        _ => {
                            let u = URIS[self.rng.below(URIS.len())];
                            if decls.iter().any(|d| d.starts_with(&format!("xmlns:{p}="))) {
                                continue;
                            }
                            decls.push(format!("xmlns:{p}=\"{u}\""));
                            self.scope.push((Some(p), u));
                            u
                        }
                    };
                    (format!("{p}:{alocal}"), u.to_string())
                }
            };
            if expanded.contains(&(ans.clone(), alocal.to_string())) {
                continue;
            }
            expanded.push((ans, alocal.to_string()));
            let v = VALUES[self.rng.below(VALUES.len())];
            attrs.push(format!("{aq}=\"{v}\""));
        }
        let mut all: Vec<String> = decls.into_iter().chain(attrs).collect();
        // Attribute order in the source must not matter.
        for i in (1..all.len()).rev() {
            let j = self.rng.below(i + 1);
            all.swap(i, j);
        }
        self.ids += 1;
        let id_attr = if self.rng.chance(20) {
            format!(" ID=\"n{}-{}\"", self.doc, self.ids)
        } else {
            String::new()
        };
        let sep = if self.rng.chance(20) { "\n   " } else { " " };
        self.out.push('<');
        self.out.push_str(&qname);
        for a in &all {
            self.out.push_str(sep);
            self.out.push_str(a);
        }
        self.out.push_str(&id_attr);
        let children = if depth >= 4 { 0 } else { self.rng.below(5) };
        if children == 0 && self.rng.chance(50) {
            self.out.push_str("/>");
        } else {
            self.out.push('>');
            for _ in 0..children {
                self.content(depth + 1);
            }
            self.out.push_str(&format!("</{qname}>"));
        }
        self.scope.truncate(scope_len);
    }

    fn content(&mut self, depth: usize) {
        match self.rng.below(9) {
            0..=2 => self.element(depth),
            3 | 4 => self.out.push_str(TEXTS[self.rng.below(TEXTS.len())]),
            5 => self
                .out
                .push_str(["<!-- note -->", "<!---->", "<!-- 名張 -->"][self.rng.below(3)]),
            6 => self
                .out
                .push_str(["<?pi data?>", "<?target?>", "<?x  spaced  data ?>"][self.rng.below(3)]),
            7 => self.out.push_str("<![CDATA[x < y & z]]>"),
            _ => {
                if !self.inner_signed && depth < 3 {
                    self.inner_signed = true;
                    self.out
                        .push_str(&format!("<s:Signed ID=\"inner{}\">", self.doc));
                    self.content(depth + 1);
                    self.out.push_str("<s:Value>inner-token-value</s:Value>");
                    self.content(depth + 1);
                    self.out.push_str("</s:Signed>");
                } else {
                    self.element(depth);
                }
            }
        }
    }
}

/// Document `n` of the corpus; its root is `s:Signed` with ID `doc<n>`, and it may hold a nested
/// `s:Signed` with ID `inner<n>`.
fn corpus_document(n: usize) -> String {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (n as u64 + 1) * 0x1000_0000_1B3);
    let mut g = Gen {
        rng: &mut rng,
        out: String::new(),
        scope: vec![(Some("s"), SIGNED_NS)],
        ids: 0,
        doc: n,
        inner_signed: false,
    };
    if g.rng.chance(50) {
        g.out
            .push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    }
    if g.rng.chance(30) {
        g.out.push_str("<!-- before -->\n<?before pi?>\n");
    }
    let decl_default = if g.rng.chance(40) {
        let u = URIS[g.rng.below(URIS.len())];
        g.scope.push((None, u));
        format!(" xmlns=\"{u}\"")
    } else {
        String::new()
    };
    g.out.push_str(&format!(
        "<s:Signed xmlns:s=\"{SIGNED_NS}\"{decl_default} ID=\"doc{n}\">"
    ));
    for _ in 0..1 + g.rng.below(4) {
        g.content(1);
    }
    g.out
        .push_str(&format!("<s:Value>token-{n}-value</s:Value>"));
    g.content(1);
    g.out.push_str("</s:Signed>");
    if g.rng.chance(30) {
        g.out.push_str("\n<!-- after -->");
    }
    g.out
}

fn options_for(n: usize) -> SignOptions {
    // Every fourth document uses an InclusiveNamespaces PrefixList.
    SignOptions {
        inclusive_prefixes: (n % 4 == 3).then(|| "a xs #default".to_string()),
        ..SignOptions::default()
    }
}

#[test]
fn exclusive_c14n_matches_libxml2_on_the_whole_corpus() {
    let mut mismatches = Vec::new();
    for n in 0..CORPUS {
        let xml = corpus_document(n);
        let doc =
            parse(xml.as_bytes()).unwrap_or_else(|e| panic!("doc {n} does not parse: {e}\n{xml}"));
        let ours = canonicalize_document(
            &doc,
            &C14nOptions {
                with_comments: true,
                ..Default::default()
            },
        );
        let file = tmp_file(&format!("c14n-{n}.xml"), xml.as_bytes());
        let theirs = xmllint_exc_c14n(&file);
        if ours != theirs {
            mismatches.push(format!(
                "doc {n}:\n{xml}\nours:   {}\nlibxml2: {}",
                String::from_utf8_lossy(&ours),
                String::from_utf8_lossy(&theirs)
            ));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} mismatches, first:\n{}",
        mismatches.len(),
        mismatches[0]
    );
}

/// Signs the inner element (if any) then the root, as nested signed elements are made.
fn sign_document(n: usize, xml: &str, signer: &dyn schemas::dsig::Signer) -> String {
    let options = options_for(n);
    let mut signed = xml.to_string();
    if xml.contains(&format!("ID=\"inner{n}\"")) {
        signed = sign_enveloped(&signed, &format!("inner{n}"), signer, &options).unwrap();
    }
    sign_enveloped(&signed, &format!("doc{n}"), signer, &options).unwrap()
}

fn ours_verify(xml: &str, id: &str, key: &TrustedKey) -> bool {
    let Ok(doc) = parse(xml.as_bytes()) else {
        return false;
    };
    let Some(e) = doc.element_by_id(id) else {
        return false;
    };
    verify_enveloped(e, std::slice::from_ref(key), &VerifyPolicy::default()).is_ok()
}

fn xmlsec_verify(xml: &str, name: &str, id: &str, cert: &Path) -> bool {
    let file = tmp_file(name, xml.as_bytes());
    xmlsec1_verifies(&file, cert, "ID", ID_ATTR_ELEMENT, Some(id))
}

#[test]
fn our_signatures_verify_in_libxmlsec1_and_mutations_fail_in_both() {
    let rsa = idp_key();
    let ec = ec_key();
    let mut checked = 0;
    let mut mutations = 0;
    for n in 0..CORPUS {
        let xml = corpus_document(n);
        let (key, alg) = if n % 5 == 4 {
            (ec, SignatureAlgorithm::EcdsaSha256)
        } else {
            (rsa, SignatureAlgorithm::RsaSha256)
        };
        let signed = sign_document(n, &xml, &key.signer(alg));
        let trusted = key.trusted();
        let root = format!("doc{n}");
        assert!(
            ours_verify(&signed, &root, &trusted),
            "ours rejects our own doc {n}"
        );
        assert!(
            xmlsec_verify(&signed, &format!("ours-{n}.xml"), &root, &key.cert_pem),
            "libxmlsec1 rejects our signature on doc {n}:\n{signed}"
        );
        let inner = format!("inner{n}");
        if signed.contains(&format!("ID=\"{inner}\"")) {
            assert!(ours_verify(&signed, &inner, &trusted));
            assert!(
                xmlsec_verify(
                    &signed,
                    &format!("ours-inner-{n}.xml"),
                    &inner,
                    &key.cert_pem
                ),
                "libxmlsec1 rejects our nested signature in doc {n}"
            );
        }
        checked += 1;

        // Mutations on every tenth document: signed text, SignedInfo, digest, signature.
        if n % 10 == 0 {
            let target = signed.rfind(&format!("token-{n}-value")).unwrap() + 2;
            let si = signed
                .rfind("xml-exc-c14n#\"></ds:CanonicalizationMethod>")
                .unwrap()
                + 4;
            let digest = signed.rfind("<ds:DigestValue>").unwrap() + "<ds:DigestValue>".len() + 3;
            let sigv =
                signed.rfind("<ds:SignatureValue>").unwrap() + "<ds:SignatureValue>".len() + 5;
            for (what, at) in [
                ("content", target),
                ("SignedInfo", si),
                ("digest", digest),
                ("signature", sigv),
            ] {
                let mut bytes = signed.clone().into_bytes();
                bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
                let mutated = String::from_utf8(bytes).unwrap();
                assert!(
                    !ours_verify(&mutated, &root, &trusted),
                    "ours accepts {what} mutation of doc {n}"
                );
                assert!(
                    !xmlsec_verify(
                        &mutated,
                        &format!("mut-{n}-{what}.xml"),
                        &root,
                        &key.cert_pem
                    ),
                    "libxmlsec1 accepts {what} mutation of doc {n}"
                );
                mutations += 1;
            }
        }
    }
    assert_eq!(checked, CORPUS);
    assert!(mutations >= 96);
}

/// A signature template for xmlsec1, with an optional InclusiveNamespaces list.
fn template(id: &str, alg: SignatureAlgorithm, prefixes: Option<&str>) -> String {
    let inclusive = prefixes
        .map(|p| format!("<ec:InclusiveNamespaces xmlns:ec=\"http://www.w3.org/2001/10/xml-exc-c14n#\" PrefixList=\"{p}\"/>"))
        .unwrap_or_default();
    format!(
        "<ds:Signature xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\">\n  <ds:SignedInfo>\n    <ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/>\n    <ds:SignatureMethod Algorithm=\"{}\"/>\n    <ds:Reference URI=\"#{id}\">\n      <ds:Transforms>\n        <ds:Transform Algorithm=\"http://www.w3.org/2000/09/xmldsig#enveloped-signature\"/>\n        <ds:Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\">{inclusive}</ds:Transform>\n      </ds:Transforms>\n      <ds:DigestMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#sha256\"/>\n      <ds:DigestValue/>\n    </ds:Reference>\n  </ds:SignedInfo>\n  <ds:SignatureValue/>\n</ds:Signature>",
        alg.uri()
    )
}

#[test]
fn libxmlsec1_signatures_verify_in_ours() {
    let rsa = idp_key();
    let ec = ec_key();
    for n in 0..CORPUS {
        let xml = corpus_document(n);
        let (key, alg) = if n % 5 == 4 {
            (ec, SignatureAlgorithm::EcdsaSha256)
        } else {
            (rsa, SignatureAlgorithm::RsaSha256)
        };
        let prefixes = (n % 4 == 3).then_some("a xs #default");
        // The template goes first inside the root element.
        let open_end =
            xml.find(&format!("ID=\"doc{n}\">")).unwrap() + format!("ID=\"doc{n}\">").len();
        let tmpl = format!(
            "{}{}{}",
            &xml[..open_end],
            template(&format!("doc{n}"), alg, prefixes),
            &xml[open_end..]
        );
        let file = tmp_file(&format!("tmpl-{n}.xml"), tmpl.as_bytes());
        let out = file.with_extension("signed.xml");
        let status = std::process::Command::new("xmlsec1")
            .arg("--sign")
            .arg("--privkey-pem")
            .arg(&key.key_pem)
            .arg("--id-attr:ID")
            .arg(ID_ATTR_ELEMENT)
            .arg("--output")
            .arg(&out)
            .arg(&file)
            .output()
            .expect("xmlsec1 runs");
        assert!(
            status.status.success(),
            "xmlsec1 could not sign doc {n}: {}",
            String::from_utf8_lossy(&status.stderr)
        );
        let signed = std::fs::read_to_string(&out).unwrap();
        assert!(
            ours_verify(&signed, &format!("doc{n}"), &key.trusted()),
            "ours rejects libxmlsec1's signature on doc {n}:\n{signed}"
        );
        assert!(!ours_verify(
            &signed,
            &format!("doc{n}"),
            &attacker_key().trusted()
        ));
    }
}
