//! SOAP 1.1 `S:Fault`, with the ID-WSF convention of a `lu:Status` in `detail` naming the
//! SOAP-binding error (ZXID `zxid_mk_fault`, Lasso `…_init_soap_fault_response`).
//!
//! A fault is sent with HTTP status 500 (SOAP 1.1 §6.2); setting it is the HTTP layer's job.

use super::{clark, SoapError, PREFIX};
use crate::idwsf::{IdwsfXml, Status};
use crate::ns;
use crate::xml::{c14n, Element, Node, XmlWriter};

/// A faultcode: a QName. SOAP's own codes are in the SOAP 1.1 namespace; peers also send
/// ID-WSF codes as the faultcode itself (Shibboleth `sbf:FrameworkVersionMismatch`, a Danish
/// stack `{urn:liberty:sb:2006-08}FrameworkVersionMismatch`), which parsing accepts.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FaultCode {
    /// `None` for an unprefixed code with no default namespace in scope.
    pub namespace: Option<String>,
    pub local: String,
}

impl FaultCode {
    pub fn new(namespace: Option<&str>, local: &str) -> Self {
        FaultCode {
            namespace: namespace.map(str::to_string),
            local: local.to_string(),
        }
    }

    fn soap(local: &str) -> Self {
        Self::new(Some(ns::SOAP11), local)
    }

    /// The message was wrong: do not resend it unchanged.
    pub fn client() -> Self {
        Self::soap("Client")
    }

    /// The receiver failed: the same message may succeed later.
    pub fn server() -> Self {
        Self::soap("Server")
    }

    pub fn must_understand() -> Self {
        Self::soap("MustUnderstand")
    }

    pub fn version_mismatch() -> Self {
        Self::soap("VersionMismatch")
    }

    /// Whether this is the SOAP 1.1 code `local` (`Client`, `Server`, …). SOAP 1.1 codes are
    /// dot-extensible ("Client.Authentication"), so a refinement counts as its base code.
    pub fn is_soap(&self, local: &str) -> bool {
        self.namespace.as_deref() == Some(ns::SOAP11)
            && (self.local == local
                || self
                    .local
                    .strip_prefix(local)
                    .is_some_and(|rest| rest.starts_with('.')))
    }

    /// An ID-WSF SOAP-binding code sent as the faultcode itself (namespace `urn:liberty:sb` or
    /// `urn:liberty:sb:2006-08`).
    pub fn idwsf_code(&self) -> Option<&str> {
        matches!(self.namespace.as_deref(), Some(ns::SBF) | Some(ns::SB)).then_some(&*self.local)
    }
}

impl std::fmt::Display for FaultCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.namespace {
            Some(n) => write!(f, "{{{n}}}{}", self.local),
            None => f.write_str(&self.local),
        }
    }
}

/// A SOAP 1.1 fault.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fault {
    pub code: FaultCode,
    pub string: String,
    pub actor: Option<String>,
    /// `detail/lu:Status`: the ID-WSF code (e.g. `FrameworkVersionMismatch`), possibly nested.
    pub status: Option<Status>,
    /// Other `detail` children, kept as self-contained exclusive-canonical XML.
    pub detail_extra: Vec<String>,
}

impl Fault {
    pub fn new(code: FaultCode, string: impl Into<String>) -> Self {
        Fault {
            code,
            string: string.into(),
            actor: None,
            status: None,
            detail_extra: Vec::new(),
        }
    }

    /// A fault whose detail carries `lu:Status code=status_code`; the faultcode is `S:Client`
    /// or `S:Server` as the ID-WSF code implies ([`crate::idwsf::status::soap_fault_code_for`]).
    pub fn idwsf(status_code: &str, string: impl Into<String>) -> Self {
        let mut f = Fault::new(
            crate::idwsf::status::soap_fault_code_for(status_code),
            string,
        );
        f.status = Some(Status::new(status_code));
        f
    }

    /// The ID-WSF code this fault reports: the detail's `lu:Status@code`, else an ID-WSF
    /// faultcode.
    pub fn idwsf_code(&self) -> Option<&str> {
        self.status
            .as_ref()
            .map(|s| s.code.as_str())
            .or_else(|| self.code.idwsf_code())
    }

    pub fn from_element(e: Element<'_>) -> Result<Self, SoapError> {
        if !e.is(ns::SOAP11, "Fault") {
            return Err(SoapError::UnexpectedElement {
                found: clark(e),
                context: "Body (expected S:Fault)",
            });
        }
        for node in e.children() {
            if matches!(node, Node::Text(t) if !t.trim().is_empty()) {
                return Err(SoapError::UnexpectedText("Fault"));
            }
        }
        // The parts are unqualified (SOAP 1.1 schema, WS-I R1001); some stacks qualify them
        // with the SOAP namespace, which is accepted. Order as in the schema.
        let mut code = None;
        let mut string = None;
        let mut actor = None;
        let mut detail = None;
        let order = ["faultcode", "faultstring", "faultactor", "detail"];
        let mut last = 0;
        for child in e.elements() {
            let name = child.local_name();
            let pos = match child.namespace() {
                None | Some(ns::SOAP11) => order.iter().position(|n| *n == name),
                Some(_) => None,
            };
            let Some(pos) = pos.filter(|p| *p >= last) else {
                return Err(SoapError::UnexpectedElement {
                    found: clark(child),
                    context: "Fault",
                });
            };
            last = pos;
            let slot = match pos {
                0 => &mut code,
                1 => &mut string,
                2 => &mut actor,
                _ => &mut detail,
            };
            if slot.replace(child).is_some() {
                return Err(SoapError::DuplicateFaultPart(order[pos]));
            }
        }
        let code_el = code.ok_or(SoapError::MissingFaultPart("faultcode"))?;
        let code_text = code_el.text()?;
        let code_text = code_text.trim();
        let (namespace, local) = code_el
            .resolve_qname(code_text)
            .filter(|(_, l)| !l.is_empty())
            .ok_or_else(|| SoapError::BadFaultCode(code_text.to_string()))?;
        let mut fault = Fault::new(FaultCode::new(namespace, local), "");
        fault.string = string
            .ok_or(SoapError::MissingFaultPart("faultstring"))?
            .text()?;
        if let Some(a) = actor {
            fault.actor = Some(a.text()?.trim().to_string());
        }
        if let Some(d) = detail {
            for item in d.elements() {
                if item.is(ns::LU, "Status") && fault.status.is_none() {
                    fault.status = Some(
                        Status::from_element(item)
                            .map_err(|err| SoapError::BadDetailStatus(err.to_string()))?,
                    );
                } else {
                    let canonical = c14n::canonicalize(item, &c14n::C14nOptions::default());
                    fault
                        .detail_extra
                        .push(String::from_utf8_lossy(&canonical).into_owned());
                }
            }
        }
        Ok(fault)
    }

    /// Writes `S:Fault`; the `S` prefix must be bound in context (see [`Fault::to_xml`]).
    pub fn write(&self, w: &mut XmlWriter) {
        self.write_inner(w, false);
    }

    /// A standalone `S:Fault` element.
    pub fn to_xml(&self) -> String {
        let mut w = XmlWriter::new();
        self.write_inner(&mut w, true);
        w.finish()
    }

    /// A complete SOAP 1.1 envelope carrying only this fault (for errors found before any
    /// ID-WSF header could be trusted, such as a VersionMismatch). Send with HTTP 500.
    pub fn to_envelope(&self) -> String {
        super::write_envelope(&[], None, None, &|w| self.write(w))
    }

    fn write_inner(&self, w: &mut XmlWriter, declare: bool) {
        w.start("S:Fault");
        if declare {
            w.ns(Some(PREFIX), ns::SOAP11);
        }
        w.start("faultcode");
        let text = match self.code.namespace.as_deref() {
            Some(ns::SOAP11) => format!("{PREFIX}:{}", self.code.local),
            Some(other) => {
                // Declared here so that the QName resolves wherever the fault is placed.
                w.ns(Some("fc"), other);
                format!("fc:{}", self.code.local)
            }
            None => self.code.local.clone(),
        };
        w.text(&text).end();
        w.leaf("faultstring", &self.string);
        if let Some(a) = &self.actor {
            w.leaf("faultactor", a);
        }
        if self.status.is_some() || !self.detail_extra.is_empty() {
            w.start("detail");
            if let Some(s) = &self.status {
                // lu may not be bound where a bare SOAP fault is written: declare it.
                s.write_with(w, crate::idwsf::Decl(&[("lu", ns::LU)]));
            }
            for extra in &self.detail_extra {
                w.raw(extra);
            }
            w.end();
        }
        w.end();
    }
}
