//! SOAP 1.1 envelopes as ID-WSF 2.0 uses them (SOAP binding 2.0 is SOAP 1.1 over HTTP POST).
//!
//! Parsing is strict where leniency has been used against SOAP stacks: only the SOAP 1.1 namespace
//! (anything else named `Envelope` is a `VersionMismatch`), at most one `Header`, exactly one `Body`,
//! nothing after the `Body` (WS-I BP R1011), no character data between the parts, every header
//! block namespace-qualified. The caller gets the header blocks with their `mustUnderstand` and
//! `actor` so that it can refuse headers it does not understand ([`Envelope::check_must_understand`]).
//!
//! Building: [`write_envelope`] writes an envelope around caller-written header blocks and body;
//! [`start_header_block`] opens a header block with its `wsu:Id` (signature target),
//! `S:mustUnderstand` and `S:actor`. Faults are in [`fault`].
//!
//! Transport is the caller's business: requests are `POST` with `Content-Type: text/xml` (SOAP 1.1),
//! and a response whose Body is a `S:Fault` goes out with HTTP status 500.

pub mod fault;

pub use fault::{Fault, FaultCode};

use crate::ns;
use crate::xml::{Document, Element, Node, XmlError, XmlWriter};

/// The SOAP 1.2 envelope namespace: recognised only to answer it with a `VersionMismatch`.
pub const SOAP12: &str = "http://www.w3.org/2003/05/soap-envelope";
/// SOAP 1.1 `actor` naming the next SOAP node (what ZXID writes on every ID-WSF header block).
pub const ACTOR_NEXT: &str = "http://schemas.xmlsoap.org/soap/actor/next";
/// The prefix this crate writes for the SOAP 1.1 envelope namespace.
pub const PREFIX: &str = "S";
/// `Content-Type` of a SOAP 1.1 message.
pub const CONTENT_TYPE: &str = "text/xml; charset=utf-8";

/// Why an envelope was refused. Each maps to the SOAP fault a receiver answers with
/// ([`SoapError::fault_code`], [`SoapError::to_fault`]).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SoapError {
    #[error(transparent)]
    Xml(#[from] XmlError),
    #[error("envelope is not SOAP 1.1 (namespace {0:?})")]
    VersionMismatch(Option<String>),
    #[error("document element {0} is not a SOAP Envelope")]
    NotAnEnvelope(String),
    #[error("envelope has no Body")]
    MissingBody,
    #[error("envelope has more than one Header")]
    DuplicateHeader,
    #[error("envelope has more than one Body")]
    DuplicateBody,
    #[error("Header comes after Body")]
    HeaderAfterBody,
    #[error("unexpected element {found} in {context}")]
    UnexpectedElement {
        found: String,
        context: &'static str,
    },
    #[error("character data in {0}")]
    UnexpectedText(&'static str),
    #[error("header block {0} is not namespace-qualified")]
    UnqualifiedHeader(String),
    #[error("mustUnderstand value {0:?} is not 0, 1, true or false")]
    InvalidMustUnderstand(String),
    #[error("Body holds {0} elements where exactly one is expected")]
    BodyChildCount(usize),
    #[error("Fault lacks {0}")]
    MissingFaultPart(&'static str),
    #[error("Fault has more than one {0}")]
    DuplicateFaultPart(&'static str),
    #[error("faultcode {0:?} is not a QName with a bound prefix")]
    BadFaultCode(String),
    #[error("Fault detail holds an invalid lu:Status: {0}")]
    BadDetailStatus(String),
}

impl SoapError {
    /// The SOAP 1.1 faultcode a receiver answers this error with.
    pub fn fault_code(&self) -> FaultCode {
        match self {
            SoapError::VersionMismatch(_) => FaultCode::version_mismatch(),
            _ => FaultCode::client(),
        }
    }

    /// The fault answering this error (no detail: SOAP 1.1 reserves `detail` for Body errors,
    /// and an envelope that does not parse has no ID-WSF context to report in).
    pub fn to_fault(&self) -> Fault {
        Fault::new(self.fault_code(), self.to_string())
    }
}

/// One header block: a direct child of `S:Header`.
#[derive(Clone, Copy, Debug)]
pub struct HeaderBlock<'a> {
    pub element: Element<'a>,
    /// `S:mustUnderstand` ("1"/"true" → true; absent, "0" or "false" → false).
    pub must_understand: bool,
    /// `S:actor`; absent means the ultimate receiver.
    pub actor: Option<&'a str>,
}

impl<'a> HeaderBlock<'a> {
    pub fn namespace(&self) -> &'a str {
        // Unqualified blocks are refused when the envelope is parsed.
        self.element.namespace().unwrap_or("")
    }

    pub fn local_name(&self) -> &'a str {
        self.element.local_name()
    }

    pub fn is(&self, namespace: &str, local: &str) -> bool {
        self.element.is(namespace, local)
    }

    /// Whether this block is addressed to the receiving node: no actor, or the "next" actor
    /// (this federation has no SOAP intermediaries, so the next node is the ultimate receiver).
    pub fn targets_this_node(&self) -> bool {
        matches!(self.actor, None | Some(ACTOR_NEXT))
    }
}

/// A parsed SOAP 1.1 envelope: handles into the document it was parsed from.
#[derive(Clone, Debug)]
pub struct Envelope<'a> {
    pub element: Element<'a>,
    pub header: Option<Element<'a>>,
    pub body: Element<'a>,
    pub headers: Vec<HeaderBlock<'a>>,
}

impl<'a> Envelope<'a> {
    /// Parses the envelope that is the document element of `doc`.
    pub fn from_document(doc: &'a Document) -> Result<Self, SoapError> {
        Self::from_element(doc.root())
    }

    pub fn from_element(root: Element<'a>) -> Result<Self, SoapError> {
        if root.local_name() != "Envelope" {
            return Err(SoapError::NotAnEnvelope(clark(root)));
        }
        if root.namespace() != Some(ns::SOAP11) {
            // SOAP 1.1 §4.4: an envelope in any other namespace gets a VersionMismatch fault.
            return Err(SoapError::VersionMismatch(
                root.namespace().map(str::to_string),
            ));
        }
        only_whitespace(root, "Envelope")?;
        let mut header = None;
        let mut body = None;
        for child in root.elements() {
            if child.is(ns::SOAP11, "Header") {
                if body.is_some() {
                    return Err(SoapError::HeaderAfterBody);
                }
                if header.replace(child).is_some() {
                    return Err(SoapError::DuplicateHeader);
                }
            } else if child.is(ns::SOAP11, "Body") {
                if body.replace(child).is_some() {
                    return Err(SoapError::DuplicateBody);
                }
            } else {
                // SOAP 1.1 tolerates trailers after the Body; WS-I BP R1011 forbids them, and
                // they are a place to hide a second "Body" from a careless reader.
                return Err(SoapError::UnexpectedElement {
                    found: clark(child),
                    context: "Envelope",
                });
            }
        }
        let body = body.ok_or(SoapError::MissingBody)?;
        let mut headers = Vec::new();
        if let Some(h) = header {
            only_whitespace(h, "Header")?;
            for block in h.elements() {
                match block.namespace() {
                    None => return Err(SoapError::UnqualifiedHeader(clark(block))),
                    Some(ns::SOAP11) => {
                        return Err(SoapError::UnexpectedElement {
                            found: clark(block),
                            context: "Header",
                        })
                    }
                    Some(_) => {}
                }
                let must_understand = match block.attr_ns(ns::SOAP11, "mustUnderstand") {
                    None => false,
                    Some(v) => parse_must_understand(v)?,
                };
                headers.push(HeaderBlock {
                    element: block,
                    must_understand,
                    actor: block.attr_ns(ns::SOAP11, "actor"),
                });
            }
        }
        Ok(Envelope {
            element: root,
            header,
            body,
            headers,
        })
    }

    /// Header blocks with this name, in document order.
    pub fn headers_named<'s>(
        &'s self,
        namespace: &'s str,
        local: &'s str,
    ) -> impl Iterator<Item = &'s HeaderBlock<'a>> + 's {
        self.headers.iter().filter(move |h| h.is(namespace, local))
    }

    /// The XML ID of the Body (`wsu:Id`, or the unqualified `id` ZXID writes).
    pub fn body_id(&self) -> Option<&'a str> {
        self.body.xml_id()
    }

    /// The single element child of the Body, as a request (or any non-empty response) must have.
    pub fn body_child(&self) -> Result<Element<'a>, SoapError> {
        only_whitespace(self.body, "Body")?;
        let mut children = self.body.elements();
        match (children.next(), children.count()) {
            (Some(only), 0) => Ok(only),
            (None, _) => Err(SoapError::BodyChildCount(0)),
            (Some(_), more) => Err(SoapError::BodyChildCount(more + 1)),
        }
    }

    /// The fault, when the Body holds exactly one `S:Fault`.
    pub fn fault(&self) -> Option<Result<Fault, SoapError>> {
        let child = self.body_child().ok()?;
        child
            .is(ns::SOAP11, "Fault")
            .then(|| Fault::from_element(child))
    }

    /// Refuses the message if a header block addressed to this node carries
    /// `mustUnderstand="1"` and is not in `known` (namespace, local name): the answer is a
    /// `S:MustUnderstand` fault (SOAP 1.1 §4.2.3). Blocks for other actors are not ours to judge.
    // The fault is the answer to send, built once per refused message: no need to box it.
    #[allow(clippy::result_large_err)]
    pub fn check_must_understand(&self, known: &[(&str, &str)]) -> Result<(), Fault> {
        for h in &self.headers {
            if h.must_understand && h.targets_this_node() && !known.iter().any(|(n, l)| h.is(n, l))
            {
                return Err(Fault::new(
                    FaultCode::must_understand(),
                    format!(
                        "header {{{}}}{} is not understood",
                        h.namespace(),
                        h.local_name()
                    ),
                ));
            }
        }
        Ok(())
    }
}

fn parse_must_understand(v: &str) -> Result<bool, SoapError> {
    // xs:boolean lexical space; the SOAP 1.1 schema narrows it to 0|1 but stacks write "true".
    match v.trim() {
        "1" | "true" => Ok(true),
        "0" | "false" => Ok(false),
        _ => Err(SoapError::InvalidMustUnderstand(v.to_string())),
    }
}

fn only_whitespace(e: Element<'_>, context: &'static str) -> Result<(), SoapError> {
    for node in e.children() {
        if let Node::Text(t) = node {
            if !t.trim().is_empty() {
                return Err(SoapError::UnexpectedText(context));
            }
        }
    }
    Ok(())
}

/// `{namespace}local` of an element, for error messages.
pub(crate) fn clark(e: Element<'_>) -> String {
    match e.namespace() {
        Some(n) => format!("{{{n}}}{}", e.local_name()),
        None => e.local_name().to_string(),
    }
}

/// How a header block is marked when written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HeaderAttrs<'a> {
    /// `wsu:Id`, the handle an XML Signature reference points at.
    pub id: Option<&'a str>,
    /// Writes `S:mustUnderstand="1"` (the SOAP 1.1 schema admits only 0|1, so never "true").
    pub must_understand: bool,
    /// `S:actor`.
    pub actor: Option<&'a str>,
}

/// Opens a header block `qname` and writes its `wsu:Id`, `S:mustUnderstand` and `S:actor`.
/// The `S` and `wsu` prefixes must be bound by the envelope (as [`write_envelope`] does).
pub fn start_header_block(w: &mut XmlWriter, qname: &str, attrs: HeaderAttrs<'_>) {
    w.start(qname);
    w.attr_opt("wsu:Id", attrs.id);
    if attrs.must_understand {
        w.attr("S:mustUnderstand", "1");
    }
    w.attr_opt("S:actor", attrs.actor);
}

/// Writes a SOAP 1.1 envelope. `namespaces` are declared on `S:Envelope` (besides `S` and `wsu`,
/// which are always declared) so that header blocks and the body can use their prefixes;
/// `headers`, when given, writes the header blocks inside `S:Header`; `body` writes the Body
/// content. `body_id` becomes the Body's `wsu:Id`, the signature target of ID-WSF messages.
pub fn write_envelope(
    namespaces: &[(&str, &str)],
    headers: Option<&dyn Fn(&mut XmlWriter)>,
    body_id: Option<&str>,
    body: &dyn Fn(&mut XmlWriter),
) -> String {
    let mut w = XmlWriter::new();
    w.start("S:Envelope");
    w.ns(Some(PREFIX), ns::SOAP11);
    w.ns(Some("wsu"), ns::WSU);
    for (prefix, uri) in namespaces {
        if *prefix != PREFIX && *prefix != "wsu" {
            w.ns(Some(prefix), uri);
        }
    }
    if let Some(write_headers) = headers {
        w.start("S:Header");
        write_headers(&mut w);
        w.end();
    }
    w.start("S:Body");
    w.attr_opt("wsu:Id", body_id);
    body(&mut w);
    w.end();
    w.end();
    w.finish()
}
