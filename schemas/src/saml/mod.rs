//! Typed SAML 2.0 messages: core assertions (`assertion`), protocol messages (`protocol`) and
//! metadata (`metadata`).
//!
//! Every type implements [`SamlXml`]: `from_element` reads exactly the element it is given (never
//! its ancestors or siblings), so that the XML Signature layer can hand it the canonical bytes it
//! verified and nothing else (DESIGN §2 principle 5). Parsing is strict: children must come in
//! schema order, unknown children and stray text are refused, `ds:Signature` is accepted where the
//! schema allows it and dropped, and text is read with [`Element::text`], which refuses comments and
//! processing instructions inside values (the comment-injection class of attacks).
//!
//! Serialization uses fixed prefixes (`saml`, `samlp`, `md`, `ds`, `alg`, `xsi`, `xs`);
//! [`SamlXml::to_xml`] declares the namespaces on the outer element, [`SamlXml::write`] assumes
//! an enclosing element declared them.

mod assertion;
mod common;
mod consts;
mod metadata;
mod protocol;

pub use assertion::{
    Assertion, AssertionItem, Attribute, AttributeItem, AttributeStatement, AttributeValue,
    AudienceRestriction, AuthnContext, AuthnStatement, Conditions, NameId, ProxyRestriction, QName,
    Statement, Subject, SubjectConfirmation, SubjectConfirmationData, SubjectId, SubjectLocality,
};
pub use common::{format_xs_datetime, parse_xs_datetime};
pub use consts::{
    attrname_format, authn_context, bindings, confirmation, consent, nameid_format, status,
};
pub use consts::{PROTOCOL, VERSION};
pub use metadata::{
    AttributeConsumingService, ContactPerson, EncryptionMethod, Endpoint, EntitiesDescriptor,
    EntitiesItem, EntityDescriptor, ExtensionItem, IdpSsoDescriptor, IndexedEndpoint,
    KeyDescriptor, KeyUse, LocalizedString, MetadataExtensions, Organization, RequestedAttribute,
    Role, SigningMethod, SpSsoDescriptor, SsoDescriptor,
};
pub use protocol::{
    ArtifactResolve, ArtifactResponse, AuthnContextComparison, AuthnRequest, IdpEntry,
    LogoutRequest, LogoutResponse, NameIdPolicy, RequestHeader, RequestedAuthnContext,
    RequestedAuthnContextRefs, Response, Scoping, Status, StatusCode, StatusResponseHeader,
};

use crate::xml::{Element, XmlError, XmlWriter};

/// Why a SAML element was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SamlError {
    #[error(transparent)]
    Xml(#[from] XmlError),
    #[error("expected element {expected}, found {found}")]
    WrongElement { expected: String, found: String },
    #[error("{element} lacks the required attribute {attribute}")]
    MissingAttribute { element: String, attribute: String },
    #[error("{element} lacks the required child {child}")]
    MissingElement { element: String, child: String },
    #[error("unexpected element {found} in {parent}")]
    UnexpectedElement { parent: String, found: String },
    #[error("unexpected text in {element}")]
    UnexpectedText { element: String },
    #[error("{element}: attribute {attribute} has the invalid value {value:?} ({reason})")]
    InvalidValue {
        element: String,
        attribute: String,
        value: String,
        reason: &'static str,
    },
    #[error("{element}: attribute {attribute} is not an xs:dateTime: {value:?}")]
    InvalidDateTime {
        element: String,
        attribute: String,
        value: String,
    },
    #[error("{element}: content is not valid base64")]
    InvalidBase64 { element: String },
    #[error("{element}: SAML version {version:?} is not supported (only 2.0)")]
    UnsupportedVersion { element: String, version: String },
    #[error("{element}: QName {qname:?} uses an unbound prefix")]
    UnboundQName { element: String, qname: String },
    #[error("{element}: {reason}")]
    Invalid {
        element: String,
        reason: &'static str,
    },
    #[error("{0} is not supported")]
    Unsupported(String),
}

/// A typed SAML element.
pub trait SamlXml: Sized {
    /// Parses `e`, which must be the element this type stands for, reading nothing outside it.
    fn from_element(e: Element<'_>) -> Result<Self, SamlError>;

    /// Writes the element; with `root`, declares on it every namespace prefix it uses.
    fn write_element(&self, w: &mut XmlWriter, root: bool);

    /// Writes the element inside an enclosing element that declared the prefixes.
    fn write(&self, w: &mut XmlWriter) {
        self.write_element(w, false);
    }

    /// The element as a self-contained document (namespaces declared on the outer element).
    fn to_xml(&self) -> String {
        let mut w = XmlWriter::new();
        self.write_element(&mut w, true);
        w.finish()
    }

    /// Parses a document whose document element is this type, with the parser's default limits
    /// (256 KiB); for larger input (a metadata aggregate) parse with `xml::parse_with` and call
    /// [`SamlXml::from_element`].
    fn from_xml(xml: &[u8]) -> Result<Self, SamlError> {
        let doc = crate::xml::parse(xml)?;
        Self::from_element(doc.root())
    }
}

/// An encrypted element (`saml:EncryptedAssertion`, `saml:EncryptedID`, `saml:EncryptedAttribute`)
/// kept opaque: the exclusive-canonical text of the whole element, self-contained with its
/// namespace declarations, for the `xenc` layer to decrypt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EncryptedElement {
    pub xml: String,
}

impl EncryptedElement {
    /// Keeps `e` after checking it is an `saml:<local>` holding an `xenc:EncryptedData`.
    pub(crate) fn from_element_named(e: Element<'_>, local: &str) -> Result<Self, SamlError> {
        common::expect(e, crate::ns::SAML, local)?;
        let mut c = common::Children::of(e)?;
        c.req(crate::ns::XENC, "EncryptedData")?;
        c.many(crate::ns::XENC, "EncryptedKey");
        c.finish()?;
        Ok(EncryptedElement {
            xml: common::canonical(e)?,
        })
    }
}

/// An element the models keep whole without interpreting it (the message inside an
/// `ArtifactResponse`, a role descriptor of a kind the federation does not use): its name and its
/// exclusive-canonical XML.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OtherElement {
    pub namespace: Option<String>,
    pub local: String,
    pub xml: String,
}

impl OtherElement {
    pub(crate) fn from_element(e: Element<'_>) -> Result<Self, SamlError> {
        Ok(OtherElement {
            namespace: e.namespace().map(str::to_string),
            local: e.local_name().to_string(),
            xml: common::canonical(e)?,
        })
    }

    /// Whether the element is `{ns}local`.
    pub fn is(&self, ns: &str, local: &str) -> bool {
        self.namespace.as_deref() == Some(ns) && self.local == local
    }

    /// Parses the kept XML as a typed element.
    pub fn parse<T: SamlXml>(&self) -> Result<T, SamlError> {
        T::from_xml(self.xml.as_bytes())
    }
}
