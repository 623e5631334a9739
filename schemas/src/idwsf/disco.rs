//! Discovery Service 2.0 (liberty-idwsf-disco-svc-v2.0; idwsf-2.0.md §2).
//!
//! Service metadata: [`SvcMD`] → [`ServiceContext`]+ → [`EndpointContext`]+. Messages (the Body
//! child; `wsa:Action` = `urn:liberty:disco:2006-08:<Element>`, [`DiscoMessage::ACTION`]):
//!
//! | Request | Response |
//! |---|---|
//! | [`Query`] (RequestedService*) | [`QueryResponse`] (Status, EndpointReference*) |
//! | [`SvcMDRegister`] (SvcMD+) | [`SvcMDRegisterResponse`] (Status, SvcMDID*, Keys*) |
//! | [`SvcMDQuery`] (SvcMDID*) | [`SvcMDQueryResponse`] (Status, SvcMD*) |
//! | [`SvcMDReplace`] (SvcMD+ with svcMDID) | [`SvcMDReplaceResponse`] (Status) |
//! | [`SvcMDDelete`] (SvcMDID+) | [`SvcMDDeleteResponse`] (Status) |
//! | [`SvcMDAssociationAdd`] (SvcMDID+) | [`SvcMDAssociationAddResponse`] (Status) |
//! | [`SvcMDAssociationDelete`] (SvcMDID+) | [`SvcMDAssociationDeleteResponse`] (Status) |
//! | [`SvcMDAssociationQuery`] (SvcMDID*) | [`SvcMDAssociationQueryResponse`] (Status, SvcMDID*) |
//!
//! Children are read in schema order and anything the schema does not allow is refused. The
//! `xs:anyAttribute` extension attributes of the messages are not kept.

use super::epr::{EndpointReference, Framework};
use super::read::{self, Seq};
use super::status::Status;
use super::{Decl, IdwsfError, IdwsfXml};
use crate::ns;
use crate::xml::{Element, XmlWriter};

/// Everything a Discovery element may be written with (declared on a standalone root).
const DISCO_NAMESPACES: &[(&str, &str)] = &[
    ("disco", ns::DISCO),
    ("lu", ns::LU),
    ("sbf", ns::SBF),
    ("wsa", ns::WSA),
    ("sec", ns::SEC),
    ("wsu", ns::WSU),
];

/// A Discovery message: its element name and `wsa:Action`.
pub trait DiscoMessage {
    const ELEMENT: &'static str;
    const ACTION: &'static str;
}

/// `disco:Options`: a set of option URIs (requested options must all be offered).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Options {
    pub options: Vec<String>,
}

impl IdwsfXml for Options {
    const NAMESPACES: &'static [(&'static str, &'static str)] = DISCO_NAMESPACES;

    fn from_element(e: Element<'_>) -> Result<Self, IdwsfError> {
        read::expect(e, ns::DISCO, "Options", "disco:Options")?;
        let mut seq = Seq::new(e, "disco:Options")?;
        let options = uris(seq.many(ns::DISCO, "Option"), "disco:Option")?;
        seq.end()?;
        Ok(Options { options })
    }

    fn write_with(&self, w: &mut XmlWriter, decl: Decl) {
        w.start("disco:Options");
        decl.apply(w);
        leaves(w, "disco:Option", &self.options);
        w.end();
    }
}

/// `disco:EndpointContext`: where and how one endpoint of a service is reached.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndpointContext {
    pub addresses: Vec<String>,
    /// `sbf:Framework`, one or more.
    pub frameworks: Vec<Framework>,
    pub security_mech_ids: Vec<String>,
    /// Supported actions; none listed means all.
    pub actions: Vec<String>,
}

impl IdwsfXml for EndpointContext {
    const NAMESPACES: &'static [(&'static str, &'static str)] = DISCO_NAMESPACES;

    fn from_element(e: Element<'_>) -> Result<Self, IdwsfError> {
        const NAME: &str = "disco:EndpointContext";
        read::expect(e, ns::DISCO, "EndpointContext", NAME)?;
        let mut seq = Seq::new(e, NAME)?;
        let ctx = EndpointContext {
            addresses: uris(
                seq.many1(ns::DISCO, "Address", "disco:Address")?,
                "disco:Address",
            )?,
            frameworks: read::each(
                seq.many1(ns::SBF, "Framework", "sbf:Framework")?,
                Framework::from_element,
            )?,
            security_mech_ids: uris(
                seq.many1(ns::DISCO, "SecurityMechID", "disco:SecurityMechID")?,
                "disco:SecurityMechID",
            )?,
            actions: uris(seq.many(ns::DISCO, "Action"), "disco:Action")?,
        };
        seq.end()?;
        Ok(ctx)
    }

    fn write_with(&self, w: &mut XmlWriter, decl: Decl) {
        w.start("disco:EndpointContext");
        decl.apply(w);
        leaves(w, "disco:Address", &self.addresses);
        for f in &self.frameworks {
            f.write(w);
        }
        leaves(w, "disco:SecurityMechID", &self.security_mech_ids);
        leaves(w, "disco:Action", &self.actions);
        w.end();
    }
}

/// `disco:ServiceContext`: service types offered together, their options and endpoints.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceContext {
    pub service_types: Vec<String>,
    pub options: Vec<Options>,
    pub endpoint_contexts: Vec<EndpointContext>,
}

impl IdwsfXml for ServiceContext {
    const NAMESPACES: &'static [(&'static str, &'static str)] = DISCO_NAMESPACES;

    fn from_element(e: Element<'_>) -> Result<Self, IdwsfError> {
        const NAME: &str = "disco:ServiceContext";
        read::expect(e, ns::DISCO, "ServiceContext", NAME)?;
        let mut seq = Seq::new(e, NAME)?;
        let ctx = ServiceContext {
            service_types: uris(
                seq.many1(ns::DISCO, "ServiceType", "disco:ServiceType")?,
                "disco:ServiceType",
            )?,
            options: read::each(seq.many(ns::DISCO, "Options"), Options::from_element)?,
            endpoint_contexts: read::each(
                seq.many1(ns::DISCO, "EndpointContext", "disco:EndpointContext")?,
                EndpointContext::from_element,
            )?,
        };
        seq.end()?;
        Ok(ctx)
    }

    fn write_with(&self, w: &mut XmlWriter, decl: Decl) {
        w.start("disco:ServiceContext");
        decl.apply(w);
        leaves(w, "disco:ServiceType", &self.service_types);
        for o in &self.options {
            o.write(w);
        }
        for ec in &self.endpoint_contexts {
            ec.write(w);
        }
        w.end();
    }
}

/// `disco:SvcMD`: a provider's service metadata. `svc_md_id` is allocated by the DS at
/// registration, and required when replacing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SvcMD {
    pub svc_md_id: Option<String>,
    pub abstract_text: String,
    pub provider_id: String,
    pub service_contexts: Vec<ServiceContext>,
}

impl IdwsfXml for SvcMD {
    const NAMESPACES: &'static [(&'static str, &'static str)] = DISCO_NAMESPACES;

    fn from_element(e: Element<'_>) -> Result<Self, IdwsfError> {
        const NAME: &str = "disco:SvcMD";
        read::expect(e, ns::DISCO, "SvcMD", NAME)?;
        let mut seq = Seq::new(e, NAME)?;
        let md = SvcMD {
            svc_md_id: read::opt_attr(e, "svcMDID", "disco:SvcMD@svcMDID")?,
            abstract_text: read::string(seq.req(ns::DISCO, "Abstract", "disco:Abstract")?)?,
            provider_id: read::token(
                seq.req(ns::DISCO, "ProviderID", "disco:ProviderID")?,
                "disco:ProviderID",
            )?,
            service_contexts: read::each(
                seq.many1(ns::DISCO, "ServiceContext", "disco:ServiceContext")?,
                ServiceContext::from_element,
            )?,
        };
        seq.end()?;
        Ok(md)
    }

    fn write_with(&self, w: &mut XmlWriter, decl: Decl) {
        w.start("disco:SvcMD");
        decl.apply(w);
        w.attr_opt("svcMDID", self.svc_md_id.as_deref());
        w.leaf("disco:Abstract", &self.abstract_text);
        w.leaf("disco:ProviderID", &self.provider_id);
        for sc in &self.service_contexts {
            sc.write(w);
        }
        w.end();
    }
}

/// `RequestedService/@resultsType`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ResultsType {
    All,
    Best,
    OnlyOne,
}

impl ResultsType {
    pub fn as_str(self) -> &'static str {
        match self {
            ResultsType::All => "all",
            ResultsType::Best => "best",
            ResultsType::OnlyOne => "only-one",
        }
    }

    pub fn parse(value: &str) -> Result<Self, IdwsfError> {
        match value.trim() {
            "all" => Ok(ResultsType::All),
            "best" => Ok(ResultsType::Best),
            "only-one" => Ok(ResultsType::OnlyOne),
            _ => Err(IdwsfError::InvalidValue {
                what: "disco:RequestedService@resultsType",
                value: value.to_string(),
                reason: "not all, best or only-one",
            }),
        }
    }
}

/// `disco:RequestedService`: one thing a WSC looks for. Every list is a filter; an empty list
/// does not filter (Lasso's matching rules, §2.2).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestedService {
    pub service_types: Vec<String>,
    pub provider_ids: Vec<String>,
    pub options: Vec<Options>,
    pub security_mech_ids: Vec<String>,
    /// `disco:Framework` (disco namespace here, type `sbf:FrameworkType`).
    pub frameworks: Vec<Framework>,
    pub actions: Vec<String>,
    /// Extension elements (other namespaces), opaque.
    pub extensions: Vec<String>,
    pub req_id: Option<String>,
    pub results_type: Option<ResultsType>,
}

impl RequestedService {
    /// A request for one service type.
    pub fn for_type(service_type: impl Into<String>) -> Self {
        RequestedService {
            service_types: vec![service_type.into()],
            ..Default::default()
        }
    }
}

impl IdwsfXml for RequestedService {
    const NAMESPACES: &'static [(&'static str, &'static str)] = DISCO_NAMESPACES;

    fn from_element(e: Element<'_>) -> Result<Self, IdwsfError> {
        const NAME: &str = "disco:RequestedService";
        read::expect(e, ns::DISCO, "RequestedService", NAME)?;
        let mut seq = Seq::new(e, NAME)?;
        let rs = RequestedService {
            service_types: uris(seq.many(ns::DISCO, "ServiceType"), "disco:ServiceType")?,
            provider_ids: uris(seq.many(ns::DISCO, "ProviderID"), "disco:ProviderID")?,
            options: read::each(seq.many(ns::DISCO, "Options"), Options::from_element)?,
            security_mech_ids: uris(
                seq.many(ns::DISCO, "SecurityMechID"),
                "disco:SecurityMechID",
            )?,
            frameworks: read::each(seq.many(ns::DISCO, "Framework"), |f| {
                Framework::read(f, "disco:Framework")
            })?,
            actions: uris(seq.many(ns::DISCO, "Action"), "disco:Action")?,
            extensions: seq.others(ns::DISCO),
            req_id: read::opt_attr(e, "reqID", "disco:RequestedService@reqID")?,
            results_type: e.attr("resultsType").map(ResultsType::parse).transpose()?,
        };
        seq.end()?;
        Ok(rs)
    }

    fn write_with(&self, w: &mut XmlWriter, decl: Decl) {
        w.start("disco:RequestedService");
        decl.apply(w);
        w.attr_opt("reqID", self.req_id.as_deref())
            .attr_opt("resultsType", self.results_type.map(ResultsType::as_str));
        leaves(w, "disco:ServiceType", &self.service_types);
        leaves(w, "disco:ProviderID", &self.provider_ids);
        for o in &self.options {
            o.write(w);
        }
        leaves(w, "disco:SecurityMechID", &self.security_mech_ids);
        for f in &self.frameworks {
            f.write_as(w, "disco:Framework", Decl::NONE);
        }
        leaves(w, "disco:Action", &self.actions);
        for x in &self.extensions {
            w.raw(x);
        }
        w.end();
    }
}

/// `disco:Keys`: the keys the DS registered for a provider (`md:KeyDescriptor`+, opaque).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Keys {
    pub key_descriptors: Vec<String>,
}

impl IdwsfXml for Keys {
    const NAMESPACES: &'static [(&'static str, &'static str)] = DISCO_NAMESPACES;

    fn from_element(e: Element<'_>) -> Result<Self, IdwsfError> {
        read::expect(e, ns::DISCO, "Keys", "disco:Keys")?;
        let mut seq = Seq::new(e, "disco:Keys")?;
        let kds = seq.many1(ns::MD, "KeyDescriptor", "md:KeyDescriptor")?;
        seq.end()?;
        Ok(Keys {
            key_descriptors: kds.into_iter().map(read::opaque).collect(),
        })
    }

    fn write_with(&self, w: &mut XmlWriter, decl: Decl) {
        w.start("disco:Keys");
        decl.apply(w);
        for kd in &self.key_descriptors {
            w.raw(kd);
        }
        w.end();
    }
}

fn uris(items: Vec<Element<'_>>, what: &'static str) -> Result<Vec<String>, IdwsfError> {
    read::each(items, |e| read::token(e, what))
}

fn leaves(w: &mut XmlWriter, qname: &str, values: &[String]) {
    for v in values {
        w.leaf(qname, v);
    }
}

/// How each kind of message part is read (in sequence) and written. A message is a list of
/// parts; the macro below assembles them, so every message shares the same code.
mod part {
    use super::*;

    pub(super) mod status {
        use super::*;
        pub fn read(seq: &mut Seq<'_>, _parent: &'static str) -> Result<Status, IdwsfError> {
            Status::from_element(seq.req(ns::LU, "Status", "lu:Status")?)
        }
        pub fn write(v: &Status, w: &mut XmlWriter) {
            v.write(w)
        }
    }

    /// SvcMDID*.
    pub(super) mod ids {
        use super::*;
        pub fn read(seq: &mut Seq<'_>, _parent: &'static str) -> Result<Vec<String>, IdwsfError> {
            uris(seq.many(ns::DISCO, "SvcMDID"), "disco:SvcMDID")
        }
        pub fn write(v: &[String], w: &mut XmlWriter) {
            leaves(w, "disco:SvcMDID", v)
        }
    }

    /// SvcMDID+.
    pub(super) mod ids1 {
        use super::*;
        pub fn read(seq: &mut Seq<'_>, _parent: &'static str) -> Result<Vec<String>, IdwsfError> {
            uris(
                seq.many1(ns::DISCO, "SvcMDID", "disco:SvcMDID")?,
                "disco:SvcMDID",
            )
        }
        pub use super::ids::write;
    }

    /// SvcMD*.
    pub(super) mod svc_mds {
        use super::*;
        pub fn read(seq: &mut Seq<'_>, _parent: &'static str) -> Result<Vec<SvcMD>, IdwsfError> {
            read::each(seq.many(ns::DISCO, "SvcMD"), SvcMD::from_element)
        }
        pub fn write(v: &[SvcMD], w: &mut XmlWriter) {
            for md in v {
                md.write(w);
            }
        }
    }

    /// SvcMD+.
    pub(super) mod svc_mds1 {
        use super::*;
        pub fn read(seq: &mut Seq<'_>, _parent: &'static str) -> Result<Vec<SvcMD>, IdwsfError> {
            read::each(
                seq.many1(ns::DISCO, "SvcMD", "disco:SvcMD")?,
                SvcMD::from_element,
            )
        }
        pub use super::svc_mds::write;
    }

    /// SvcMD+, each naming the metadata it replaces (`svcMDID`).
    pub(super) mod svc_mds_with_id {
        use super::*;
        pub fn read(seq: &mut Seq<'_>, parent: &'static str) -> Result<Vec<SvcMD>, IdwsfError> {
            let mds = super::svc_mds1::read(seq, parent)?;
            if mds.iter().any(|md| md.svc_md_id.is_none()) {
                return Err(IdwsfError::MissingSvcMdId(parent));
            }
            Ok(mds)
        }
        pub use super::svc_mds::write;
    }

    /// wsa:EndpointReference*.
    pub(super) mod eprs {
        use super::*;
        pub fn read(
            seq: &mut Seq<'_>,
            _parent: &'static str,
        ) -> Result<Vec<EndpointReference>, IdwsfError> {
            read::each(
                seq.many(ns::WSA, "EndpointReference"),
                EndpointReference::from_element,
            )
        }
        pub fn write(v: &[EndpointReference], w: &mut XmlWriter) {
            for epr in v {
                epr.write(w);
            }
        }
    }

    /// Keys*.
    pub(super) mod keys {
        use super::*;
        pub fn read(seq: &mut Seq<'_>, _parent: &'static str) -> Result<Vec<Keys>, IdwsfError> {
            read::each(seq.many(ns::DISCO, "Keys"), Keys::from_element)
        }
        pub fn write(v: &[Keys], w: &mut XmlWriter) {
            for k in v {
                k.write(w);
            }
        }
    }

    /// RequestedService*.
    pub(super) mod requested_services {
        use super::*;
        pub fn read(
            seq: &mut Seq<'_>,
            _parent: &'static str,
        ) -> Result<Vec<RequestedService>, IdwsfError> {
            read::each(
                seq.many(ns::DISCO, "RequestedService"),
                RequestedService::from_element,
            )
        }
        pub fn write(v: &[RequestedService], w: &mut XmlWriter) {
            for rs in v {
                rs.write(w);
            }
        }
    }
}

/// Declares Discovery messages: each struct is named as its element, and each field is a part
/// read and written by the `part` module of the same name, in the order given.
macro_rules! disco_messages {
    ($(
        $(#[$doc:meta])*
        $name:ident { $( $(#[$fdoc:meta])* $field:ident : $ty:ty = $part:ident ),* $(,)? }
    )*) => {$(
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq)]
        pub struct $name {
            $( $(#[$fdoc])* pub $field: $ty, )*
        }

        impl DiscoMessage for $name {
            const ELEMENT: &'static str = stringify!($name);
            const ACTION: &'static str = concat!("urn:liberty:disco:2006-08:", stringify!($name));
        }

        impl IdwsfXml for $name {
            const NAMESPACES: &'static [(&'static str, &'static str)] = DISCO_NAMESPACES;

            fn from_element(e: Element<'_>) -> Result<Self, IdwsfError> {
                const NAME: &str = concat!("disco:", stringify!($name));
                read::expect(e, ns::DISCO, stringify!($name), NAME)?;
                let mut seq = Seq::new(e, NAME)?;
                // Struct expression fields are evaluated in the order written: schema order.
                let message = $name { $( $field: part::$part::read(&mut seq, NAME)?, )* };
                seq.end()?;
                Ok(message)
            }

            fn write_with(&self, w: &mut XmlWriter, decl: Decl) {
                w.start(concat!("disco:", stringify!($name)));
                decl.apply(w);
                $( part::$part::write(&self.$field, w); )*
                w.end();
            }
        }
    )*};
}

disco_messages! {
    /// Find services for the principal of the request's token; no RequestedService means every
    /// associated service.
    Query { requested_services: Vec<RequestedService> = requested_services }
    /// One EPR per matching endpoint, each with a token minted for that provider. "Nothing found"
    /// may come as `NoResults` (Lasso) or `OK` with no EPR (ZXID): see [`QueryResponse::found_nothing`].
    QueryResponse { status: Status = status, endpoint_references: Vec<EndpointReference> = eprs }
    /// A provider registers its metadata (with its own credentials).
    SvcMDRegister { svc_mds: Vec<SvcMD> = svc_mds1 }
    /// The svcMDIDs the DS allocated, in request order.
    SvcMDRegisterResponse {
        status: Status = status,
        svc_md_ids: Vec<String> = ids,
        keys: Vec<Keys> = keys,
    }
    /// The sender's metadata with these svcMDIDs (none: all of it).
    SvcMDQuery { svc_md_ids: Vec<String> = ids }
    SvcMDQueryResponse { status: Status = status, svc_mds: Vec<SvcMD> = svc_mds }
    /// Replaces metadata; each SvcMD must carry the svcMDID it replaces.
    SvcMDReplace { svc_mds: Vec<SvcMD> = svc_mds_with_id }
    SvcMDReplaceResponse { status: Status = status }
    SvcMDDelete { svc_md_ids: Vec<String> = ids1 }
    SvcMDDeleteResponse { status: Status = status }
    /// Associates metadata with the principal of the request's token.
    SvcMDAssociationAdd { svc_md_ids: Vec<String> = ids1 }
    SvcMDAssociationAddResponse { status: Status = status }
    SvcMDAssociationDelete { svc_md_ids: Vec<String> = ids1 }
    SvcMDAssociationDeleteResponse { status: Status = status }
    /// The principal's associations among these svcMDIDs (none: all).
    SvcMDAssociationQuery { svc_md_ids: Vec<String> = ids }
    SvcMDAssociationQueryResponse { status: Status = status, svc_md_ids: Vec<String> = ids }
}

impl QueryResponse {
    /// "Nothing found", in either spelling peers use (§2.3).
    pub fn found_nothing(&self) -> bool {
        self.status.code == super::code::NO_RESULTS
            || (self.status.is_ok() && self.endpoint_references.is_empty())
    }
}

/// `wsa:Action` values of the Discovery messages.
pub mod action {
    use super::*;
    pub const QUERY: &str = <Query as DiscoMessage>::ACTION;
    pub const QUERY_RESPONSE: &str = <QueryResponse as DiscoMessage>::ACTION;
    pub const SVC_MD_REGISTER: &str = <SvcMDRegister as DiscoMessage>::ACTION;
    pub const SVC_MD_REGISTER_RESPONSE: &str = <SvcMDRegisterResponse as DiscoMessage>::ACTION;
    pub const SVC_MD_QUERY: &str = <SvcMDQuery as DiscoMessage>::ACTION;
    pub const SVC_MD_QUERY_RESPONSE: &str = <SvcMDQueryResponse as DiscoMessage>::ACTION;
    pub const SVC_MD_REPLACE: &str = <SvcMDReplace as DiscoMessage>::ACTION;
    pub const SVC_MD_REPLACE_RESPONSE: &str = <SvcMDReplaceResponse as DiscoMessage>::ACTION;
    pub const SVC_MD_DELETE: &str = <SvcMDDelete as DiscoMessage>::ACTION;
    pub const SVC_MD_DELETE_RESPONSE: &str = <SvcMDDeleteResponse as DiscoMessage>::ACTION;
    pub const SVC_MD_ASSOCIATION_ADD: &str = <SvcMDAssociationAdd as DiscoMessage>::ACTION;
    pub const SVC_MD_ASSOCIATION_ADD_RESPONSE: &str =
        <SvcMDAssociationAddResponse as DiscoMessage>::ACTION;
    pub const SVC_MD_ASSOCIATION_DELETE: &str = <SvcMDAssociationDelete as DiscoMessage>::ACTION;
    pub const SVC_MD_ASSOCIATION_DELETE_RESPONSE: &str =
        <SvcMDAssociationDeleteResponse as DiscoMessage>::ACTION;
    pub const SVC_MD_ASSOCIATION_QUERY: &str = <SvcMDAssociationQuery as DiscoMessage>::ACTION;
    pub const SVC_MD_ASSOCIATION_QUERY_RESPONSE: &str =
        <SvcMDAssociationQueryResponse as DiscoMessage>::ACTION;
}

/// A Discovery request as the DS receives it (the Body child), dispatched on its element.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DiscoRequest {
    Query(Query),
    SvcMDRegister(SvcMDRegister),
    SvcMDQuery(SvcMDQuery),
    SvcMDReplace(SvcMDReplace),
    SvcMDDelete(SvcMDDelete),
    SvcMDAssociationAdd(SvcMDAssociationAdd),
    SvcMDAssociationDelete(SvcMDAssociationDelete),
    SvcMDAssociationQuery(SvcMDAssociationQuery),
}

/// Applies `$m!(Variant)` to every request kind.
macro_rules! each_request {
    ($m:ident) => {
        $m!(
            Query,
            SvcMDRegister,
            SvcMDQuery,
            SvcMDReplace,
            SvcMDDelete,
            SvcMDAssociationAdd,
            SvcMDAssociationDelete,
            SvcMDAssociationQuery
        )
    };
}

impl DiscoRequest {
    pub fn from_element(e: Element<'_>) -> Result<Self, IdwsfError> {
        macro_rules! dispatch {
            ($($v:ident),*) => {
                match (e.namespace(), e.local_name()) {
                    $( (Some(ns::DISCO), stringify!($v)) => $v::from_element(e).map(DiscoRequest::$v), )*
                    _ => Err(IdwsfError::WrongElement {
                        expected: "a Discovery request",
                        found: crate::soap::clark(e),
                    }),
                }
            };
        }
        each_request!(dispatch)
    }

    /// The `wsa:Action` the request should have been sent with.
    pub fn action(&self) -> &'static str {
        macro_rules! act {
            ($($v:ident),*) => {
                match self { $( DiscoRequest::$v(_) => $v::ACTION, )* }
            };
        }
        each_request!(act)
    }

    pub fn write(&self, w: &mut XmlWriter) {
        macro_rules! wr {
            ($($v:ident),*) => {
                match self { $( DiscoRequest::$v(m) => m.write(w), )* }
            };
        }
        each_request!(wr)
    }
}
