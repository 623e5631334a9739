//! `wsa:EndpointReference` with the ID-WSF 2.0 metadata (§1, §2.4), `sbf:Framework` and
//! `sec:Token`.
//!
//! ```text
//! wsa:EndpointReference
//!   wsa:Address                    endpoint URL
//!   wsa:ReferenceParameters?       (echoed as SOAP headers; kept opaque)
//!   wsa:Metadata?
//!     disco:Abstract?  disco:ProviderID?  disco:ServiceType*  sbf:Framework*
//!     disco:SecurityContext*  (disco:SecurityMechID+, sec:Token*)
//! ```
//! `wsa:Metadata` is an open content model (`xs:any`), so its children are read in any order
//! (ZXID writes `sbf:Framework` first) and unknown ones are kept opaque. What an ID-WSF service
//! EPR must carry is checked separately by [`EndpointReference::validate_service_epr`], so that one
//! incomplete EPR in a `QueryResponse` does not hide the others.

use super::read::{self, Seq};
use super::{service_type, Decl, IdwsfError, IdwsfXml, FRAMEWORK_VERSION};
use crate::ns;
use crate::xml::{Element, XmlWriter};

/// `sbf:Framework` (also `disco:Framework` inside `RequestedService`, same type).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Framework {
    /// Kept as received, so that a WSP can answer `FrameworkVersionMismatch` naming it.
    pub version: String,
    /// `wsu:Id` when the Framework is a header block.
    pub id: Option<String>,
}

impl Framework {
    /// ID-WSF 2.0.
    pub fn v2() -> Self {
        Framework {
            version: FRAMEWORK_VERSION.to_string(),
            id: None,
        }
    }

    pub fn is_v2(&self) -> bool {
        self.version == FRAMEWORK_VERSION
    }

    /// Reads any element of `FrameworkType` (its extension content is not interpreted).
    pub(crate) fn read(e: Element<'_>, name: &'static str) -> Result<Self, IdwsfError> {
        Ok(Framework {
            version: read::req_attr(e, "version", name, "Framework@version")?,
            id: read::wsu_id(e),
        })
    }

    /// Writes an element of `FrameworkType` named `qname`.
    pub(crate) fn write_as(&self, w: &mut XmlWriter, qname: &str, decl: Decl) {
        w.start(qname);
        decl.apply(w);
        w.attr_opt("wsu:Id", self.id.as_deref());
        w.attr("version", &self.version);
        w.end();
    }
}

impl IdwsfXml for Framework {
    const NAMESPACES: &'static [(&'static str, &'static str)] =
        &[("sbf", ns::SBF), ("wsu", ns::WSU)];

    /// `sbf:Framework` in `urn:liberty:sb` only: the profile does not accept the Danish
    /// `urn:liberty:sb:2006-08` spelling.
    fn from_element(e: Element<'_>) -> Result<Self, IdwsfError> {
        read::expect(e, ns::SBF, "Framework", "sbf:Framework")?;
        Self::read(e, "sbf:Framework")
    }

    fn write_with(&self, w: &mut XmlWriter, decl: Decl) {
        self.write_as(w, "sbf:Framework", decl)
    }
}

/// What a token element is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TokenKind {
    /// `saml:Assertion` (signed by its issuer).
    Assertion,
    /// `saml:EncryptedAssertion` (to the recipient's key; opaque to everyone else).
    EncryptedAssertion,
}

/// A SAML 2.0 token carried opaquely: the exclusive-canonical form of the element, which
/// declares every prefix it uses (so a token lifted from under an ancestor's `xmlns:sa` still
/// parses) and verifies under an exc-c14n signature exactly as the original did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SamlToken {
    pub kind: TokenKind,
    pub xml: String,
}

impl SamlToken {
    /// Reads a `saml:Assertion` or `saml:EncryptedAssertion`; anything else is unsupported.
    pub fn from_element(e: Element<'_>) -> Result<Self, IdwsfError> {
        let kind = if e.is(ns::SAML, "Assertion") {
            TokenKind::Assertion
        } else if e.is(ns::SAML, "EncryptedAssertion") {
            TokenKind::EncryptedAssertion
        } else {
            return Err(IdwsfError::UnsupportedToken(crate::soap::clark(e)));
        };
        Ok(SamlToken {
            kind,
            xml: read::opaque(e),
        })
    }

    /// Parses a token from serialized XML (for instance an assertion the IdP just signed).
    pub fn from_xml(xml: &[u8]) -> Result<Self, IdwsfError> {
        let doc = crate::xml::parse(xml)?;
        Self::from_element(doc.root())
    }

    pub fn write(&self, w: &mut XmlWriter) {
        w.raw(&self.xml);
    }

    /// Exactly one token among `items` (the content of `sec:Token`, `wsse:Security`'s token
    /// slot, `sb:TargetIdentity`): two tokens are ambiguous, so refused.
    pub(crate) fn at_most_one(
        items: Vec<Element<'_>>,
        parent: &'static str,
    ) -> Result<Option<Self>, IdwsfError> {
        let mut items = items.into_iter();
        let first = items.next().map(SamlToken::from_element).transpose()?;
        if items.next().is_some() {
            return Err(IdwsfError::TooMany {
                parent,
                child: "token",
            });
        }
        Ok(first)
    }
}

/// `sec:Token`: a token inline, or a reference to one (`@ref="#ID"`, Shibboleth's form).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token {
    pub id: Option<String>,
    pub reference: Option<String>,
    /// One of [`super::token_usage`].
    pub usage: Option<String>,
    pub content: Option<SamlToken>,
}

impl Token {
    /// An inline token with usage `SecurityToken`.
    pub fn security_token(content: SamlToken) -> Self {
        Token {
            id: None,
            reference: None,
            usage: Some(super::token_usage::SECURITY_TOKEN.to_string()),
            content: Some(content),
        }
    }
}

impl IdwsfXml for Token {
    const NAMESPACES: &'static [(&'static str, &'static str)] = &[("sec", ns::SEC)];

    fn from_element(e: Element<'_>) -> Result<Self, IdwsfError> {
        read::expect(e, ns::SEC, "Token", "sec:Token")?;
        let mut seq = Seq::new(e, "sec:Token")?;
        let content = SamlToken::at_most_one(seq.rest(), "sec:Token")?;
        let token = Token {
            id: read::opt_attr(e, "id", "sec:Token@id")?,
            reference: read::opt_attr(e, "ref", "sec:Token@ref")?,
            usage: read::opt_attr(e, "usage", "sec:Token@usage")?,
            content,
        };
        if token.content.is_none() && token.reference.is_none() {
            return Err(IdwsfError::MissingElement {
                parent: "sec:Token",
                child: "saml:Assertion, saml:EncryptedAssertion or @ref",
            });
        }
        Ok(token)
    }

    fn write_with(&self, w: &mut XmlWriter, decl: Decl) {
        w.start("sec:Token");
        decl.apply(w);
        w.attr_opt("id", self.id.as_deref())
            .attr_opt("ref", self.reference.as_deref())
            .attr_opt("usage", self.usage.as_deref());
        if let Some(c) = &self.content {
            c.write(w);
        }
        w.end();
    }
}

/// `disco:SecurityContext`: the mechanisms an endpoint accepts and the tokens to use with them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecurityContext {
    /// One or more [`super::secmech`] URNs.
    pub security_mech_ids: Vec<String>,
    pub tokens: Vec<Token>,
}

impl SecurityContext {
    /// The first token with this usage (a token without usage counts as a security token).
    pub fn token(&self, usage: &str) -> Option<&Token> {
        self.tokens.iter().find(|t| match t.usage.as_deref() {
            Some(u) => u == usage,
            None => usage == super::token_usage::SECURITY_TOKEN,
        })
    }
}

impl IdwsfXml for SecurityContext {
    const NAMESPACES: &'static [(&'static str, &'static str)] =
        &[("disco", ns::DISCO), ("sec", ns::SEC)];

    fn from_element(e: Element<'_>) -> Result<Self, IdwsfError> {
        read::expect(e, ns::DISCO, "SecurityContext", "disco:SecurityContext")?;
        let mut seq = Seq::new(e, "disco:SecurityContext")?;
        let mechs = seq.many1(ns::DISCO, "SecurityMechID", "disco:SecurityMechID")?;
        let tokens = seq.many(ns::SEC, "Token");
        seq.end()?;
        Ok(SecurityContext {
            security_mech_ids: read::each(mechs, |m| read::token(m, "disco:SecurityMechID"))?,
            tokens: read::each(tokens, Token::from_element)?,
        })
    }

    fn write_with(&self, w: &mut XmlWriter, decl: Decl) {
        w.start("disco:SecurityContext");
        decl.apply(w);
        for m in &self.security_mech_ids {
            w.leaf("disco:SecurityMechID", m);
        }
        for t in &self.tokens {
            t.write(w);
        }
        w.end();
    }
}

/// `wsa:Metadata` as ID-WSF fills it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EprMetadata {
    pub abstract_text: Option<String>,
    pub provider_id: Option<String>,
    pub service_types: Vec<String>,
    pub frameworks: Vec<Framework>,
    pub security_contexts: Vec<SecurityContext>,
    /// Other metadata, opaque.
    pub extensions: Vec<String>,
}

impl EprMetadata {
    /// The first security context offering one of `mechs` (in the caller's preference order).
    pub fn security_context_for<'m>(
        &self,
        mechs: &[&'m str],
    ) -> Option<(&'m str, &SecurityContext)> {
        mechs.iter().find_map(|m| {
            self.security_contexts
                .iter()
                .find(|sc| sc.security_mech_ids.iter().any(|x| x == m))
                .map(|sc| (*m, sc))
        })
    }

    fn read(e: Element<'_>) -> Result<Self, IdwsfError> {
        let mut md = EprMetadata::default();
        let mut seq = Seq::new(e, "wsa:Metadata")?;
        for child in seq.rest() {
            let once = |slot: &Option<String>, child: &'static str| {
                if slot.is_some() {
                    Err(IdwsfError::TooMany {
                        parent: "wsa:Metadata",
                        child,
                    })
                } else {
                    Ok(())
                }
            };
            if child.is(ns::DISCO, "Abstract") {
                once(&md.abstract_text, "disco:Abstract")?;
                md.abstract_text = Some(read::string(child)?);
            } else if child.is(ns::DISCO, "ProviderID") {
                once(&md.provider_id, "disco:ProviderID")?;
                md.provider_id = Some(read::token(child, "disco:ProviderID")?);
            } else if child.is(ns::DISCO, "ServiceType") {
                md.service_types
                    .push(read::token(child, "disco:ServiceType")?);
            } else if child.is(ns::SBF, "Framework") {
                md.frameworks.push(Framework::from_element(child)?);
            } else if child.is(ns::DISCO, "SecurityContext") {
                md.security_contexts
                    .push(SecurityContext::from_element(child)?);
            } else {
                md.extensions.push(read::opaque(child));
            }
        }
        seq.end()?;
        Ok(md)
    }

    fn write(&self, w: &mut XmlWriter) {
        w.start("wsa:Metadata");
        if let Some(a) = &self.abstract_text {
            w.leaf("disco:Abstract", a);
        }
        if let Some(p) = &self.provider_id {
            w.leaf("disco:ProviderID", p);
        }
        for s in &self.service_types {
            w.leaf("disco:ServiceType", s);
        }
        for f in &self.frameworks {
            f.write(w);
        }
        for sc in &self.security_contexts {
            sc.write(w);
        }
        for x in &self.extensions {
            w.raw(x);
        }
        w.end();
    }
}

/// `wsa:EndpointReference`. The same content model serves `wsa:ReplyTo`/`FaultTo` and
/// `sb:EndpointUpdate` (the header types in [`super::headers`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EndpointReference {
    /// `wsu:Id` (when the EPR is a signed header block).
    pub id: Option<String>,
    pub address: String,
    /// The children of `wsa:ReferenceParameters`, opaque; a WSC echoes each as a header block.
    pub reference_parameters: Vec<String>,
    pub metadata: Option<EprMetadata>,
    /// Extension elements after `wsa:Metadata`, opaque.
    pub extensions: Vec<String>,
}

impl EndpointReference {
    /// An EPR with just an address (a `ReplyTo`, a plain endpoint).
    pub fn address_only(address: impl Into<String>) -> Self {
        EndpointReference {
            address: address.into(),
            ..Default::default()
        }
    }

    /// Reads the `EndpointReferenceType` content of `e` (whatever its name); `name` labels errors.
    pub(crate) fn read_content(e: Element<'_>, name: &'static str) -> Result<Self, IdwsfError> {
        let mut seq = Seq::new(e, name)?;
        let address = read::token(seq.req(ns::WSA, "Address", "wsa:Address")?, "wsa:Address")?;
        let reference_parameters = match seq.opt(ns::WSA, "ReferenceParameters") {
            Some(rp) => Seq::new(rp, "wsa:ReferenceParameters")?
                .rest()
                .into_iter()
                .map(read::opaque)
                .collect(),
            None => Vec::new(),
        };
        let metadata = seq
            .opt(ns::WSA, "Metadata")
            .map(EprMetadata::read)
            .transpose()?;
        let extensions = seq.others(ns::WSA);
        seq.end()?;
        Ok(EndpointReference {
            id: read::wsu_id(e),
            address,
            reference_parameters,
            metadata,
            extensions,
        })
    }

    /// Writes the content (the start tag and its attributes are the caller's).
    pub(crate) fn write_content(&self, w: &mut XmlWriter) {
        w.leaf("wsa:Address", &self.address);
        if !self.reference_parameters.is_empty() {
            w.start("wsa:ReferenceParameters");
            for p in &self.reference_parameters {
                w.raw(p);
            }
            w.end();
        }
        if let Some(md) = &self.metadata {
            md.write(w);
        }
        for x in &self.extensions {
            w.raw(x);
        }
    }

    /// Checks what an ID-WSF service EPR (the bootstrap, a `QueryResponse` EPR) must carry:
    /// metadata with a ProviderID, at least one ServiceType and one SecurityContext, and — when
    /// frameworks are listed — framework 2.0 among them.
    pub fn validate_service_epr(&self) -> Result<&EprMetadata, IdwsfError> {
        let md = self.metadata.as_ref().ok_or(IdwsfError::MissingElement {
            parent: "wsa:EndpointReference",
            child: "wsa:Metadata",
        })?;
        let missing = |child| IdwsfError::MissingElement {
            parent: "wsa:Metadata",
            child,
        };
        if md.provider_id.is_none() {
            return Err(missing("disco:ProviderID"));
        }
        if md.service_types.is_empty() {
            return Err(missing("disco:ServiceType"));
        }
        if md.security_contexts.is_empty() {
            return Err(missing("disco:SecurityContext"));
        }
        if !md.frameworks.is_empty() && !md.frameworks.iter().any(Framework::is_v2) {
            return Err(IdwsfError::FrameworkVersion(
                md.frameworks
                    .iter()
                    .map(|f| f.version.as_str())
                    .collect::<Vec<_>>()
                    .join(" "),
            ));
        }
        Ok(md)
    }

    /// Whether this EPR points at a Discovery Service.
    pub fn is_discovery(&self) -> bool {
        self.metadata.as_ref().is_some_and(|md| {
            md.service_types
                .iter()
                .any(|s| s == service_type::DISCOVERY)
        })
    }
}

impl IdwsfXml for EndpointReference {
    const NAMESPACES: &'static [(&'static str, &'static str)] = &[
        ("wsa", ns::WSA),
        ("disco", ns::DISCO),
        ("sbf", ns::SBF),
        ("sec", ns::SEC),
        ("wsu", ns::WSU),
    ];

    fn from_element(e: Element<'_>) -> Result<Self, IdwsfError> {
        read::expect(e, ns::WSA, "EndpointReference", "wsa:EndpointReference")?;
        Self::read_content(e, "wsa:EndpointReference")
    }

    fn write_with(&self, w: &mut XmlWriter, decl: Decl) {
        w.start("wsa:EndpointReference");
        decl.apply(w);
        w.attr_opt("wsu:Id", self.id.as_deref());
        self.write_content(w);
        w.end();
    }
}
