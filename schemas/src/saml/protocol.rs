//! SAML 2.0 protocol messages (SAML core §3): the request and status-response headers shared by
//! every message, then `AuthnRequest`, `Response`, `LogoutRequest`, `LogoutResponse`,
//! `ArtifactResolve` and `ArtifactResponse`.

use time::OffsetDateTime;

use super::assertion::{
    encrypted_assertion, AssertionItem, Conditions, NameId, Subject, SubjectId,
};
use super::common::{
    attr_bool, attr_num, attr_time, canonical, check_version, expect, name, open, opt_attr,
    opt_bool, opt_num, opt_time, req_attr, req_id, req_time, text, token, Children, NS_SAML,
    NS_SAMLP,
};
use super::{status, Assertion, OtherElement, SamlError, SamlXml};
use crate::ns::{SAML, SAMLP};
use crate::xml::{Element, XmlWriter};

/// Reads an optional `samlp:Extensions`, kept as exclusive-canonical XML.
fn opt_extensions(c: &mut Children<'_>) -> Result<Option<String>, SamlError> {
    let Some(e) = c.opt(SAMLP, "Extensions") else {
        return Ok(None);
    };
    if Children::of(e)?.peek().is_none() {
        return Err(SamlError::MissingElement {
            element: name(e),
            child: "an extension element".into(),
        });
    }
    Ok(Some(canonical(e)?))
}

/// The attributes and leading children of `samlp:RequestAbstractType`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestHeader {
    pub id: String,
    pub issue_instant: OffsetDateTime,
    pub destination: Option<String>,
    pub consent: Option<String>,
    pub issuer: Option<NameId>,
    /// `samlp:Extensions`, kept as exclusive-canonical XML.
    pub extensions: Option<String>,
}

impl RequestHeader {
    pub fn new(id: impl Into<String>, issue_instant: OffsetDateTime, issuer: NameId) -> Self {
        RequestHeader {
            id: id.into(),
            issue_instant,
            destination: None,
            consent: None,
            issuer: Some(issuer),
            extensions: None,
        }
    }

    /// Reads the header of `e` and returns the cursor positioned after it.
    fn parse<'a>(e: Element<'a>) -> Result<(Self, Children<'a>), SamlError> {
        check_version(e)?;
        let id = req_id(e, "ID")?;
        let issue_instant = req_time(e, "IssueInstant")?;
        let mut c = Children::of(e)?;
        let issuer = NameId::opt_issuer(&mut c)?;
        c.skip_signature();
        let extensions = opt_extensions(&mut c)?;
        let header = RequestHeader {
            id,
            issue_instant,
            destination: opt_attr(e, "Destination"),
            consent: opt_attr(e, "Consent"),
            issuer,
            extensions,
        };
        Ok((header, c))
    }

    /// Opens the message element with the header's attributes.
    fn open(&self, w: &mut XmlWriter, qname: &str, root: bool) {
        open(w, qname, root, &[NS_SAMLP, NS_SAML]);
        w.attr("ID", &self.id).attr("Version", super::VERSION);
        attr_time(w, "IssueInstant", Some(self.issue_instant));
        w.attr_opt("Destination", self.destination.as_deref())
            .attr_opt("Consent", self.consent.as_deref());
    }

    /// Writes the header's children (after the message's own attributes).
    fn write_children(&self, w: &mut XmlWriter) {
        if let Some(i) = &self.issuer {
            i.write_issuer(w);
        }
        if let Some(x) = &self.extensions {
            w.raw(x);
        }
    }
}

/// `samlp:StatusCode`, with its nested second-level code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusCode {
    pub value: String,
    pub sub: Option<Box<StatusCode>>,
}

impl StatusCode {
    fn parse(e: Element<'_>) -> Result<Self, SamlError> {
        expect(e, SAMLP, "StatusCode")?;
        let mut c = Children::of(e)?;
        let sub = c.opt(SAMLP, "StatusCode").map(Self::parse).transpose()?;
        c.finish()?;
        Ok(StatusCode {
            value: req_attr(e, "Value")?,
            sub: sub.map(Box::new),
        })
    }

    fn write(&self, w: &mut XmlWriter) {
        w.start("samlp:StatusCode").attr("Value", &self.value);
        if let Some(s) = &self.sub {
            s.write(w);
        }
        w.end();
    }
}

/// `samlp:Status`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status {
    pub code: StatusCode,
    pub message: Option<String>,
    /// `samlp:StatusDetail`, kept as exclusive-canonical XML.
    pub detail: Option<String>,
}

impl Status {
    pub fn success() -> Self {
        Status::new(status::SUCCESS, None)
    }

    /// A status with a top-level code and an optional second-level code.
    pub fn new(top: &str, second: Option<&str>) -> Self {
        Status {
            code: StatusCode {
                value: top.to_string(),
                sub: second.map(|s| {
                    Box::new(StatusCode {
                        value: s.to_string(),
                        sub: None,
                    })
                }),
            },
            message: None,
            detail: None,
        }
    }

    pub fn is_success(&self) -> bool {
        self.code.value == status::SUCCESS
    }

    /// The second-level code, if any.
    pub fn second_level(&self) -> Option<&str> {
        self.code.sub.as_deref().map(|s| s.value.as_str())
    }
}

impl SamlXml for Status {
    fn from_element(e: Element<'_>) -> Result<Self, SamlError> {
        expect(e, SAMLP, "Status")?;
        let mut c = Children::of(e)?;
        let code = StatusCode::parse(c.req(SAMLP, "StatusCode")?)?;
        let message = c.opt(SAMLP, "StatusMessage").map(text).transpose()?;
        let detail = c.opt(SAMLP, "StatusDetail").map(canonical).transpose()?;
        c.finish()?;
        Ok(Status {
            code,
            message,
            detail,
        })
    }

    fn write_element(&self, w: &mut XmlWriter, root: bool) {
        open(w, "samlp:Status", root, &[NS_SAMLP]);
        self.code.write(w);
        if let Some(m) = &self.message {
            w.leaf("samlp:StatusMessage", m);
        }
        if let Some(d) = &self.detail {
            w.raw(d);
        }
        w.end();
    }
}

/// The attributes and leading children of `samlp:StatusResponseType`, `Status` included.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusResponseHeader {
    pub id: String,
    pub in_response_to: Option<String>,
    pub issue_instant: OffsetDateTime,
    pub destination: Option<String>,
    pub consent: Option<String>,
    pub issuer: Option<NameId>,
    pub extensions: Option<String>,
    pub status: Status,
}

impl StatusResponseHeader {
    pub fn new(
        id: impl Into<String>,
        issue_instant: OffsetDateTime,
        issuer: NameId,
        status: Status,
    ) -> Self {
        StatusResponseHeader {
            id: id.into(),
            in_response_to: None,
            issue_instant,
            destination: None,
            consent: None,
            issuer: Some(issuer),
            extensions: None,
            status,
        }
    }

    fn parse<'a>(e: Element<'a>) -> Result<(Self, Children<'a>), SamlError> {
        check_version(e)?;
        let id = req_id(e, "ID")?;
        let issue_instant = req_time(e, "IssueInstant")?;
        let mut c = Children::of(e)?;
        let issuer = NameId::opt_issuer(&mut c)?;
        c.skip_signature();
        let extensions = opt_extensions(&mut c)?;
        let status = Status::from_element(c.req(SAMLP, "Status")?)?;
        let header = StatusResponseHeader {
            id,
            in_response_to: opt_attr(e, "InResponseTo"),
            issue_instant,
            destination: opt_attr(e, "Destination"),
            consent: opt_attr(e, "Consent"),
            issuer,
            extensions,
            status,
        };
        Ok((header, c))
    }

    fn open(&self, w: &mut XmlWriter, qname: &str, root: bool) {
        open(w, qname, root, &[NS_SAMLP, NS_SAML]);
        w.attr("ID", &self.id)
            .attr_opt("InResponseTo", self.in_response_to.as_deref())
            .attr("Version", super::VERSION);
        attr_time(w, "IssueInstant", Some(self.issue_instant));
        w.attr_opt("Destination", self.destination.as_deref())
            .attr_opt("Consent", self.consent.as_deref());
    }

    fn write_children(&self, w: &mut XmlWriter) {
        if let Some(i) = &self.issuer {
            i.write_issuer(w);
        }
        if let Some(x) = &self.extensions {
            w.raw(x);
        }
        self.status.write(w);
    }
}

/// `samlp:NameIDPolicy`.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct NameIdPolicy {
    pub format: Option<String>,
    pub sp_name_qualifier: Option<String>,
    pub allow_create: Option<bool>,
}

/// `Comparison` of a `RequestedAuthnContext`; absent means `exact`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum AuthnContextComparison {
    #[default]
    Exact,
    Minimum,
    Maximum,
    Better,
}

impl AuthnContextComparison {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Exact => "exact",
            Self::Minimum => "minimum",
            Self::Maximum => "maximum",
            Self::Better => "better",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "exact" => Self::Exact,
            "minimum" => Self::Minimum,
            "maximum" => Self::Maximum,
            "better" => Self::Better,
            _ => return None,
        })
    }
}

/// The references of a `RequestedAuthnContext`: classes or declarations, never both.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RequestedAuthnContextRefs {
    Class(Vec<String>),
    Decl(Vec<String>),
}

/// `samlp:RequestedAuthnContext`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestedAuthnContext {
    pub comparison: AuthnContextComparison,
    pub refs: RequestedAuthnContextRefs,
}

impl RequestedAuthnContext {
    fn parse(e: Element<'_>) -> Result<Self, SamlError> {
        let comparison = match e.attr("Comparison") {
            None => AuthnContextComparison::Exact,
            Some(v) => AuthnContextComparison::parse(v).ok_or_else(|| {
                super::common::invalid(e, "Comparison", v, "not exact, minimum, maximum or better")
            })?,
        };
        let mut c = Children::of(e)?;
        let classes = c.many(SAML, "AuthnContextClassRef");
        let refs = if classes.is_empty() {
            let decls = c.at_least_one(SAML, "AuthnContextDeclRef")?;
            RequestedAuthnContextRefs::Decl(decls.into_iter().map(token).collect::<Result<_, _>>()?)
        } else {
            RequestedAuthnContextRefs::Class(
                classes.into_iter().map(token).collect::<Result<_, _>>()?,
            )
        };
        c.finish()?;
        Ok(RequestedAuthnContext { comparison, refs })
    }

    fn write(&self, w: &mut XmlWriter) {
        w.start("samlp:RequestedAuthnContext")
            .attr("Comparison", self.comparison.as_str());
        let (qname, refs) = match &self.refs {
            RequestedAuthnContextRefs::Class(r) => ("saml:AuthnContextClassRef", r),
            RequestedAuthnContextRefs::Decl(r) => ("saml:AuthnContextDeclRef", r),
        };
        for r in refs {
            w.leaf(qname, r);
        }
        w.end();
    }
}

/// `samlp:IDPEntry`.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct IdpEntry {
    pub provider_id: String,
    pub name: Option<String>,
    pub loc: Option<String>,
}

/// `samlp:Scoping`.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Scoping {
    pub proxy_count: Option<u32>,
    /// The `IDPEntry` elements of the `IDPList` (empty when there is no list).
    pub idp_list: Vec<IdpEntry>,
    pub get_complete: Option<String>,
    pub requester_ids: Vec<String>,
}

impl Scoping {
    fn parse(e: Element<'_>) -> Result<Self, SamlError> {
        let mut c = Children::of(e)?;
        let mut scoping = Scoping {
            proxy_count: opt_num(e, "ProxyCount")?,
            ..Default::default()
        };
        if let Some(list) = c.opt(SAMLP, "IDPList") {
            let mut lc = Children::of(list)?;
            for entry in lc.at_least_one(SAMLP, "IDPEntry")? {
                Children::of(entry)?.finish()?;
                scoping.idp_list.push(IdpEntry {
                    provider_id: req_attr(entry, "ProviderID")?,
                    name: opt_attr(entry, "Name"),
                    loc: opt_attr(entry, "Loc"),
                });
            }
            scoping.get_complete = lc.opt(SAMLP, "GetComplete").map(token).transpose()?;
            lc.finish()?;
        }
        for r in c.many(SAMLP, "RequesterID") {
            scoping.requester_ids.push(token(r)?);
        }
        c.finish()?;
        Ok(scoping)
    }

    fn write(&self, w: &mut XmlWriter) {
        w.start("samlp:Scoping");
        attr_num(w, "ProxyCount", self.proxy_count);
        // An IDPList needs at least one entry; GetComplete alone cannot be written.
        if !self.idp_list.is_empty() {
            w.start("samlp:IDPList");
            for entry in &self.idp_list {
                w.start("samlp:IDPEntry")
                    .attr("ProviderID", &entry.provider_id)
                    .attr_opt("Name", entry.name.as_deref())
                    .attr_opt("Loc", entry.loc.as_deref())
                    .end();
            }
            if let Some(g) = &self.get_complete {
                w.leaf("samlp:GetComplete", g);
            }
            w.end();
        }
        for r in &self.requester_ids {
            w.leaf("samlp:RequesterID", r);
        }
        w.end();
    }
}

/// `samlp:AuthnRequest`. The parser keeps what was sent; rules between fields (the ACS index is
/// exclusive with the ACS URL and the protocol binding, SAML core §3.4.1) are the IdP's checks,
/// which answer with an error `Response` that needs the request's ID.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthnRequest {
    pub header: RequestHeader,
    pub force_authn: Option<bool>,
    pub is_passive: Option<bool>,
    pub protocol_binding: Option<String>,
    pub assertion_consumer_service_index: Option<u16>,
    pub assertion_consumer_service_url: Option<String>,
    pub attribute_consuming_service_index: Option<u16>,
    pub provider_name: Option<String>,
    pub subject: Option<Subject>,
    pub name_id_policy: Option<NameIdPolicy>,
    pub conditions: Option<Conditions>,
    pub requested_authn_context: Option<RequestedAuthnContext>,
    pub scoping: Option<Scoping>,
}

impl AuthnRequest {
    pub fn new(header: RequestHeader) -> Self {
        AuthnRequest {
            header,
            force_authn: None,
            is_passive: None,
            protocol_binding: None,
            assertion_consumer_service_index: None,
            assertion_consumer_service_url: None,
            attribute_consuming_service_index: None,
            provider_name: None,
            subject: None,
            name_id_policy: None,
            conditions: None,
            requested_authn_context: None,
            scoping: None,
        }
    }
}

impl SamlXml for AuthnRequest {
    fn from_element(e: Element<'_>) -> Result<Self, SamlError> {
        expect(e, SAMLP, "AuthnRequest")?;
        let (header, mut c) = RequestHeader::parse(e)?;
        let subject = c
            .opt(SAML, "Subject")
            .map(Subject::from_element)
            .transpose()?;
        let name_id_policy = match c.opt(SAMLP, "NameIDPolicy") {
            Some(p) => {
                Children::of(p)?.finish()?;
                Some(NameIdPolicy {
                    format: opt_attr(p, "Format"),
                    sp_name_qualifier: opt_attr(p, "SPNameQualifier"),
                    allow_create: opt_bool(p, "AllowCreate")?,
                })
            }
            None => None,
        };
        let conditions = c
            .opt(SAML, "Conditions")
            .map(Conditions::from_element)
            .transpose()?;
        let requested_authn_context = c
            .opt(SAMLP, "RequestedAuthnContext")
            .map(RequestedAuthnContext::parse)
            .transpose()?;
        let scoping = c.opt(SAMLP, "Scoping").map(Scoping::parse).transpose()?;
        c.finish()?;
        Ok(AuthnRequest {
            header,
            force_authn: opt_bool(e, "ForceAuthn")?,
            is_passive: opt_bool(e, "IsPassive")?,
            protocol_binding: opt_attr(e, "ProtocolBinding"),
            assertion_consumer_service_index: opt_num(e, "AssertionConsumerServiceIndex")?,
            assertion_consumer_service_url: opt_attr(e, "AssertionConsumerServiceURL"),
            attribute_consuming_service_index: opt_num(e, "AttributeConsumingServiceIndex")?,
            provider_name: opt_attr(e, "ProviderName"),
            subject,
            name_id_policy,
            conditions,
            requested_authn_context,
            scoping,
        })
    }

    fn write_element(&self, w: &mut XmlWriter, root: bool) {
        self.header.open(w, "samlp:AuthnRequest", root);
        attr_bool(w, "ForceAuthn", self.force_authn);
        attr_bool(w, "IsPassive", self.is_passive);
        w.attr_opt("ProtocolBinding", self.protocol_binding.as_deref());
        attr_num(
            w,
            "AssertionConsumerServiceIndex",
            self.assertion_consumer_service_index,
        );
        w.attr_opt(
            "AssertionConsumerServiceURL",
            self.assertion_consumer_service_url.as_deref(),
        );
        attr_num(
            w,
            "AttributeConsumingServiceIndex",
            self.attribute_consuming_service_index,
        );
        w.attr_opt("ProviderName", self.provider_name.as_deref());
        self.header.write_children(w);
        if let Some(s) = &self.subject {
            s.write(w);
        }
        if let Some(p) = &self.name_id_policy {
            w.start("samlp:NameIDPolicy")
                .attr_opt("Format", p.format.as_deref())
                .attr_opt("SPNameQualifier", p.sp_name_qualifier.as_deref());
            attr_bool(w, "AllowCreate", p.allow_create);
            w.end();
        }
        if let Some(c) = &self.conditions {
            c.write(w);
        }
        if let Some(r) = &self.requested_authn_context {
            r.write(w);
        }
        if let Some(s) = &self.scoping {
            s.write(w);
        }
        w.end();
    }
}

/// `samlp:Response`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    pub header: StatusResponseHeader,
    pub assertions: Vec<AssertionItem>,
}

impl Response {
    /// The assertions in clear.
    pub fn plain_assertions(&self) -> impl Iterator<Item = &Assertion> {
        self.assertions.iter().filter_map(|a| match a {
            AssertionItem::Plain(a) => Some(a),
            AssertionItem::Encrypted(_) => None,
        })
    }
}

impl SamlXml for Response {
    fn from_element(e: Element<'_>) -> Result<Self, SamlError> {
        expect(e, SAMLP, "Response")?;
        let (header, mut c) = StatusResponseHeader::parse(e)?;
        let mut assertions = Vec::new();
        loop {
            if let Some(a) = c.opt(SAML, "Assertion") {
                assertions.push(AssertionItem::Plain(Assertion::from_element(a)?));
            } else if let Some(a) = c.opt(SAML, "EncryptedAssertion") {
                assertions.push(AssertionItem::Encrypted(encrypted_assertion(a)?));
            } else {
                break;
            }
        }
        c.finish()?;
        Ok(Response { header, assertions })
    }

    fn write_element(&self, w: &mut XmlWriter, root: bool) {
        self.header.open(w, "samlp:Response", root);
        self.header.write_children(w);
        for a in &self.assertions {
            a.write(w);
        }
        w.end();
    }
}

/// `samlp:LogoutRequest`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogoutRequest {
    pub header: RequestHeader,
    pub not_on_or_after: Option<OffsetDateTime>,
    pub reason: Option<String>,
    pub id: SubjectId,
    pub session_indexes: Vec<String>,
}

impl SamlXml for LogoutRequest {
    fn from_element(e: Element<'_>) -> Result<Self, SamlError> {
        expect(e, SAMLP, "LogoutRequest")?;
        let (header, mut c) = RequestHeader::parse(e)?;
        let id = SubjectId::parse_opt(&mut c)?.ok_or_else(|| SamlError::MissingElement {
            element: name(e),
            child: "NameID or EncryptedID".into(),
        })?;
        let session_indexes = c
            .many(SAMLP, "SessionIndex")
            .into_iter()
            .map(text)
            .collect::<Result<Vec<_>, _>>()?;
        c.finish()?;
        Ok(LogoutRequest {
            header,
            not_on_or_after: opt_time(e, "NotOnOrAfter")?,
            reason: opt_attr(e, "Reason"),
            id,
            session_indexes,
        })
    }

    fn write_element(&self, w: &mut XmlWriter, root: bool) {
        self.header.open(w, "samlp:LogoutRequest", root);
        attr_time(w, "NotOnOrAfter", self.not_on_or_after);
        w.attr_opt("Reason", self.reason.as_deref());
        self.header.write_children(w);
        self.id.write(w);
        for s in &self.session_indexes {
            w.leaf("samlp:SessionIndex", s);
        }
        w.end();
    }
}

/// `samlp:LogoutResponse`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogoutResponse {
    pub header: StatusResponseHeader,
}

impl SamlXml for LogoutResponse {
    fn from_element(e: Element<'_>) -> Result<Self, SamlError> {
        expect(e, SAMLP, "LogoutResponse")?;
        let (header, c) = StatusResponseHeader::parse(e)?;
        c.finish()?;
        Ok(LogoutResponse { header })
    }

    fn write_element(&self, w: &mut XmlWriter, root: bool) {
        self.header.open(w, "samlp:LogoutResponse", root);
        self.header.write_children(w);
        w.end();
    }
}

/// `samlp:ArtifactResolve`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArtifactResolve {
    pub header: RequestHeader,
    /// The artifact as sent (base64 text, not decoded).
    pub artifact: String,
}

impl SamlXml for ArtifactResolve {
    fn from_element(e: Element<'_>) -> Result<Self, SamlError> {
        expect(e, SAMLP, "ArtifactResolve")?;
        let (header, mut c) = RequestHeader::parse(e)?;
        let artifact = token(c.req(SAMLP, "Artifact")?)?;
        c.finish()?;
        Ok(ArtifactResolve { header, artifact })
    }

    fn write_element(&self, w: &mut XmlWriter, root: bool) {
        self.header.open(w, "samlp:ArtifactResolve", root);
        self.header.write_children(w);
        w.leaf("samlp:Artifact", &self.artifact);
        w.end();
    }
}

/// `samlp:ArtifactResponse`: the resolved message is kept whole (name and canonical XML) for
/// the caller to parse as the type it expects with [`OtherElement::parse`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArtifactResponse {
    pub header: StatusResponseHeader,
    pub message: Option<OtherElement>,
}

impl SamlXml for ArtifactResponse {
    fn from_element(e: Element<'_>) -> Result<Self, SamlError> {
        expect(e, SAMLP, "ArtifactResponse")?;
        let (header, mut c) = StatusResponseHeader::parse(e)?;
        let message = c.next_any().map(OtherElement::from_element).transpose()?;
        c.finish()?;
        Ok(ArtifactResponse { header, message })
    }

    fn write_element(&self, w: &mut XmlWriter, root: bool) {
        self.header.open(w, "samlp:ArtifactResponse", root);
        self.header.write_children(w);
        if let Some(m) = &self.message {
            w.raw(&m.xml);
        }
        w.end();
    }
}
