//! Liberty ID-WSF 2.0 as this federation speaks it (digest: `shared/reference/idwsf-2.0.md`):
//!
//! - [`headers`]: the SOAP binding (SBF 2.0) header blocks, WS-Addressing and WS-Security
//!   ([`wss`]) headers, gathered in [`IdwsfHeaders`], parsed from a [`crate::soap::Envelope`] and
//!   written with a `wsu:Id` on every block so that the XML Signature layer can cover them;
//! - [`epr`]: `wsa:EndpointReference` with the ID-WSF metadata (the Discovery bootstrap and every
//!   EPR the Discovery Service returns), `sec:Token`;
//! - [`disco`]: the Discovery Service 2.0 messages;
//! - [`status`]: `lu:Status` and the status codes; [`IdwsfError`] maps each refusal to its code.
//!
//! Every model implements [`IdwsfXml`]: `from_element` reads it from a parsed element, `write`
//! writes it where the conventional prefixes are bound (inside [`envelope`]), `to_xml` writes a
//! standalone element that declares them. Content this crate does not interpret (assertions,
//! signatures, key descriptors, extension elements) is kept as self-contained exclusive-canonical
//! XML, so that it can be forwarded and still verify.

pub mod disco;
pub mod epr;
mod error;
pub mod headers;
pub(crate) mod read;
pub mod status;
pub mod wss;

pub use disco::{
    DiscoMessage, DiscoRequest, EndpointContext, Keys, Options, Query, QueryResponse,
    RequestedService, ResultsType, ServiceContext, SvcMD, SvcMDAssociationAdd,
    SvcMDAssociationAddResponse, SvcMDAssociationDelete, SvcMDAssociationDeleteResponse,
    SvcMDAssociationQuery, SvcMDAssociationQueryResponse, SvcMDDelete, SvcMDDeleteResponse,
    SvcMDQuery, SvcMDQueryResponse, SvcMDRegister, SvcMDRegisterResponse, SvcMDReplace,
    SvcMDReplaceResponse,
};
pub use epr::{
    EndpointReference, EprMetadata, Framework, SamlToken, SecurityContext, Token, TokenKind,
};
pub use error::IdwsfError;
pub use headers::{envelope, IdwsfHeaders};
pub use status::{code, Status};

use crate::ns;
use crate::xml::{Element, XmlWriter};

/// Namespace declarations written on the root of a standalone element.
#[derive(Clone, Copy, Debug, Default)]
pub struct Decl(pub &'static [(&'static str, &'static str)]);

impl Decl {
    /// Nothing declared: the prefixes are bound by the context.
    pub const NONE: Decl = Decl(&[]);

    pub(crate) fn apply(self, w: &mut XmlWriter) {
        for (prefix, uri) in self.0 {
            w.ns(Some(prefix), uri);
        }
    }
}

/// An ID-WSF element model.
pub trait IdwsfXml: Sized {
    /// The prefixes (and their namespaces) this element and its descendants are written with;
    /// [`IdwsfXml::to_xml`] declares them on the root.
    const NAMESPACES: &'static [(&'static str, &'static str)];

    /// Reads the model from its element, refusing what the schema (and this profile) forbids.
    fn from_element(e: Element<'_>) -> Result<Self, IdwsfError>;

    /// Writes the element, declaring `decl` on its start tag.
    fn write_with(&self, w: &mut XmlWriter, decl: Decl);

    /// Writes the element where the conventional prefixes ([`NAMESPACES`]) are already bound.
    fn write(&self, w: &mut XmlWriter) {
        self.write_with(w, Decl::NONE)
    }

    /// A standalone element.
    fn to_xml(&self) -> String {
        let mut w = XmlWriter::new();
        self.write_with(&mut w, Decl(Self::NAMESPACES));
        w.finish()
    }

    /// Parses `xml` and reads the model from its document element.
    fn from_xml(xml: &[u8]) -> Result<Self, IdwsfError> {
        let doc = crate::xml::parse(xml)?;
        Self::from_element(doc.root())
    }
}

/// Every prefix the ID-WSF models write, as [`envelope`] declares them on `S:Envelope`
/// (`S` and `wsu` are declared by [`crate::soap::write_envelope`] itself).
pub const NAMESPACES: &[(&str, &str)] = &[
    ("wsa", ns::WSA),
    ("wsse", ns::WSSE),
    ("wsse11", ns::WSSE11),
    ("sbf", ns::SBF),
    ("sb", ns::SB),
    ("disco", ns::DISCO),
    ("sec", ns::SEC),
    ("lu", ns::LU),
];

/// The only `sbf:Framework@version` this profile accepts.
pub const FRAMEWORK_VERSION: &str = "2.0";

/// SAML attribute (NameFormat `uri`) whose value is the Discovery bootstrap EPR (§1).
pub const DISCOVERY_EPR_ATTRIBUTE: &str = "urn:liberty:disco:2006-08:DiscoveryEPR";

/// Service types: the Discovery Service's own, and the federation's data services (defined
/// here once; the deployment profile cites these).
pub mod service_type {
    pub const DISCOVERY: &str = "urn:liberty:disco:2006-08";
    pub const PENSION: &str = "urn:nabari:idwsf:svc:pension:2010";
    pub const HI_ELIGIBILITY: &str = "urn:nabari:idwsf:svc:hi-eligibility:2010";
    pub const MEDICAL_EXPENSE: &str = "urn:nabari:idwsf:svc:medical-expense:2010";
    pub const CHECKUP: &str = "urn:nabari:idwsf:svc:checkup:2010";
    pub const PUBLIC_EXPENSE: &str = "urn:nabari:idwsf:svc:public-expense:2010";
    pub const VACCINATION: &str = "urn:nabari:idwsf:svc:vaccination:2010";
    pub const CITY_NOTICE: &str = "urn:nabari:idwsf:svc:city-notice:2010";
    /// The clinic's online eligibility check.
    pub const ELIGIBILITY_CHECK: &str = "urn:nabari:idwsf:svc:eligibility-check:2010";

    /// The federation's data services (not Discovery).
    pub const DATA_SERVICES: &[&str] = &[
        PENSION,
        HI_ELIGIBILITY,
        MEDICAL_EXPENSE,
        CHECKUP,
        PUBLIC_EXPENSE,
        VACCINATION,
        CITY_NOTICE,
        ELIGIBILITY_CHECK,
    ];
}

/// Security mechanism URNs (§4.1). Match them exactly: ZXID's substring guessing and
/// Shibboleth's misdated `2005-02:ClientTLS:peerSAMLV2` are not recognised.
pub mod secmech {
    pub const NULL_NULL: &str = "urn:liberty:security:2005-02:null:null";
    pub const TLS_NULL: &str = "urn:liberty:security:2005-02:TLS:null";
    pub const CLIENT_TLS_NULL: &str = "urn:liberty:security:2005-02:ClientTLS:null";
    pub const NULL_X509: &str = "urn:liberty:security:2005-02:null:X509";
    pub const TLS_X509: &str = "urn:liberty:security:2005-02:TLS:X509";
    pub const CLIENT_TLS_X509: &str = "urn:liberty:security:2005-02:ClientTLS:X509";
    pub const NULL_BEARER: &str = "urn:liberty:security:2005-02:null:Bearer";
    pub const TLS_BEARER: &str = "urn:liberty:security:2005-02:TLS:Bearer";
    pub const CLIENT_TLS_BEARER: &str = "urn:liberty:security:2005-02:ClientTLS:Bearer";
    /// SAML 1.x holder-of-key (ID-WSF 1.x lineage).
    pub const NULL_SAML: &str = "urn:liberty:security:2005-02:null:SAML";
    pub const TLS_SAML: &str = "urn:liberty:security:2005-02:TLS:SAML";
    pub const CLIENT_TLS_SAML: &str = "urn:liberty:security:2005-02:ClientTLS:SAML";
    pub const NULL_SAMLV2: &str = "urn:liberty:security:2006-08:null:SAMLV2";
    pub const TLS_SAMLV2: &str = "urn:liberty:security:2006-08:TLS:SAMLV2";
    pub const CLIENT_TLS_SAMLV2: &str = "urn:liberty:security:2006-08:ClientTLS:SAMLV2";
    pub const CLIENT_TLS_PEER_SAMLV2: &str = "urn:liberty:security:2006-08:ClientTLS:peerSAMLV2";

    pub const ALL: &[&str] = &[
        NULL_NULL,
        TLS_NULL,
        CLIENT_TLS_NULL,
        NULL_X509,
        TLS_X509,
        CLIENT_TLS_X509,
        NULL_BEARER,
        TLS_BEARER,
        CLIENT_TLS_BEARER,
        NULL_SAML,
        TLS_SAML,
        CLIENT_TLS_SAML,
        NULL_SAMLV2,
        TLS_SAMLV2,
        CLIENT_TLS_SAMLV2,
        CLIENT_TLS_PEER_SAMLV2,
    ];

    /// Whether `urn` is one of the mechanisms above (exact match).
    pub fn is_known(urn: &str) -> bool {
        ALL.contains(&urn)
    }

    /// Whether the mechanism runs over TLS (the `null:` peer-authentication ones are test-only).
    pub fn uses_tls(urn: &str) -> bool {
        is_known(urn) && !urn.contains(":null:")
    }
}

/// `sec:Token/@usage` values.
pub mod token_usage {
    pub const SECURITY_TOKEN: &str = "urn:liberty:security:tokenusage:2006-08:SecurityToken";
    pub const TARGET_IDENTITY: &str = "urn:liberty:security:tokenusage:2006-08:TargetIdentity";
    pub const INVOCATION_IDENTITY: &str =
        "urn:liberty:security:tokenusage:2006-08:InvocationIdentity";
}

/// `sb:UserInteraction/@interact` values (Lasso spelling; absent means "if needed").
pub mod interact {
    pub const INTERACT_IF_NEEDED: &str = "InteractIfNeeded";
    pub const DO_NOT_INTERACT: &str = "DoNotInteract";
    pub const DO_NOT_INTERACT_FOR_DATA: &str = "DoNotInteractForData";
}

/// `sb:EndpointUpdate/@updateType` values.
pub mod endpoint_update {
    pub const COMPLETE: &str = "urn:liberty:sb:2006-08:EndpointUpdate:Complete";
    pub const PARTIAL: &str = "urn:liberty:sb:2006-08:EndpointUpdate:Partial";
    pub const NO_CHANGE: &str = "urn:liberty:sb:2006-08:EndpointUpdate:NoChange";
}

/// `sb:ProcessingContext` for a dry run (TAS3).
pub const PROCESSING_CONTEXT_SIMULATE: &str = "urn:liberty:sb:2003-08:ProcessingContext:Simulate";

/// WS-Addressing 1.0 anonymous address (a `ReplyTo` that means "answer on this connection").
pub const WSA_ANONYMOUS: &str = "http://www.w3.org/2005/08/addressing/anonymous";
