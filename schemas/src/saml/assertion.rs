//! SAML 2.0 core assertions (SAML core §2): identifiers, subjects, conditions, statements and the
//! `Assertion` itself.

use time::OffsetDateTime;

use super::common::{
    attr_num, attr_time, canonical, expect, name, open, opt_attr, opt_num, opt_time, req_attr,
    req_id, req_time, text, token, Children, NS_SAML, NS_XSI,
};
use super::{EncryptedElement, SamlError, SamlXml};
use crate::ns::{DS, SAML, XS, XSI};
use crate::xml::{Element, Node, XmlError, XmlWriter};

/// `saml:NameIDType`: the content of `saml:NameID` and of `saml:Issuer`.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct NameId {
    pub value: String,
    pub format: Option<String>,
    pub name_qualifier: Option<String>,
    pub sp_name_qualifier: Option<String>,
    pub sp_provided_id: Option<String>,
}

impl NameId {
    pub fn new(value: impl Into<String>) -> Self {
        NameId {
            value: value.into(),
            ..Default::default()
        }
    }

    pub fn with_format(value: impl Into<String>, format: &str) -> Self {
        NameId {
            format: Some(format.to_string()),
            ..NameId::new(value)
        }
    }

    /// Parses a `saml:<local>` of `NameIDType` (`NameID` or `Issuer`). The value is the exact
    /// text: comments or PIs inside it are refused, never skipped.
    pub(crate) fn parse_as(e: Element<'_>, local: &str) -> Result<Self, SamlError> {
        expect(e, SAML, local)?;
        Ok(NameId {
            value: text(e)?,
            format: opt_attr(e, "Format"),
            name_qualifier: opt_attr(e, "NameQualifier"),
            sp_name_qualifier: opt_attr(e, "SPNameQualifier"),
            sp_provided_id: opt_attr(e, "SPProvidedID"),
        })
    }

    /// Parses a `saml:Issuer`.
    pub fn issuer_from_element(e: Element<'_>) -> Result<Self, SamlError> {
        Self::parse_as(e, "Issuer")
    }

    pub(crate) fn write_as(&self, w: &mut XmlWriter, qname: &str, root: bool) {
        open(w, qname, root, &[NS_SAML]);
        w.attr_opt("NameQualifier", self.name_qualifier.as_deref())
            .attr_opt("SPNameQualifier", self.sp_name_qualifier.as_deref())
            .attr_opt("Format", self.format.as_deref())
            .attr_opt("SPProvidedID", self.sp_provided_id.as_deref())
            .text(&self.value)
            .end();
    }

    /// Writes this as `saml:Issuer`.
    pub fn write_issuer(&self, w: &mut XmlWriter) {
        self.write_as(w, "saml:Issuer", false);
    }

    /// Reads an optional `saml:Issuer` at the cursor.
    pub(crate) fn opt_issuer(c: &mut Children<'_>) -> Result<Option<Self>, SamlError> {
        c.opt(SAML, "Issuer")
            .map(Self::issuer_from_element)
            .transpose()
    }
}

impl SamlXml for NameId {
    fn from_element(e: Element<'_>) -> Result<Self, SamlError> {
        Self::parse_as(e, "NameID")
    }

    fn write_element(&self, w: &mut XmlWriter, root: bool) {
        self.write_as(w, "saml:NameID", root);
    }
}

/// The identifier of a subject: a `NameID` or an `EncryptedID` (`BaseID` is not supported).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SubjectId {
    NameId(NameId),
    Encrypted(EncryptedElement),
}

impl SubjectId {
    /// Reads an optional identifier at the cursor.
    pub(crate) fn parse_opt(c: &mut Children<'_>) -> Result<Option<Self>, SamlError> {
        if let Some(e) = c.opt(SAML, "BaseID") {
            return Err(SamlError::Unsupported(name(e)));
        }
        if let Some(e) = c.opt(SAML, "NameID") {
            return Ok(Some(SubjectId::NameId(NameId::from_element(e)?)));
        }
        if let Some(e) = c.opt(SAML, "EncryptedID") {
            return Ok(Some(SubjectId::Encrypted(
                EncryptedElement::from_element_named(e, "EncryptedID")?,
            )));
        }
        Ok(None)
    }

    pub(crate) fn write(&self, w: &mut XmlWriter) {
        match self {
            SubjectId::NameId(n) => n.write(w),
            SubjectId::Encrypted(enc) => {
                w.raw(&enc.xml);
            }
        }
    }

    pub fn name_id(&self) -> Option<&NameId> {
        match self {
            SubjectId::NameId(n) => Some(n),
            SubjectId::Encrypted(_) => None,
        }
    }
}

/// `saml:Subject`.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Subject {
    pub id: Option<SubjectId>,
    pub confirmations: Vec<SubjectConfirmation>,
}

impl SamlXml for Subject {
    fn from_element(e: Element<'_>) -> Result<Self, SamlError> {
        expect(e, SAML, "Subject")?;
        let mut c = Children::of(e)?;
        let id = SubjectId::parse_opt(&mut c)?;
        let confirmations = c
            .many(SAML, "SubjectConfirmation")
            .into_iter()
            .map(SubjectConfirmation::from_element)
            .collect::<Result<Vec<_>, _>>()?;
        c.finish()?;
        if id.is_none() && confirmations.is_empty() {
            return Err(SamlError::MissingElement {
                element: name(e),
                child: "NameID or SubjectConfirmation".into(),
            });
        }
        Ok(Subject { id, confirmations })
    }

    fn write_element(&self, w: &mut XmlWriter, root: bool) {
        open(w, "saml:Subject", root, &[NS_SAML]);
        if let Some(id) = &self.id {
            id.write(w);
        }
        for sc in &self.confirmations {
            sc.write(w);
        }
        w.end();
    }
}

impl Subject {
    /// The plain `NameID`, if the subject has one.
    pub fn name_id(&self) -> Option<&NameId> {
        self.id.as_ref().and_then(SubjectId::name_id)
    }
}

/// `saml:SubjectConfirmation`.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct SubjectConfirmation {
    pub method: String,
    pub id: Option<SubjectId>,
    pub data: Option<SubjectConfirmationData>,
}

impl SamlXml for SubjectConfirmation {
    fn from_element(e: Element<'_>) -> Result<Self, SamlError> {
        expect(e, SAML, "SubjectConfirmation")?;
        let mut c = Children::of(e)?;
        let id = SubjectId::parse_opt(&mut c)?;
        let data = c
            .opt(SAML, "SubjectConfirmationData")
            .map(SubjectConfirmationData::from_element)
            .transpose()?;
        c.finish()?;
        Ok(SubjectConfirmation {
            method: req_attr(e, "Method")?,
            id,
            data,
        })
    }

    fn write_element(&self, w: &mut XmlWriter, root: bool) {
        open(w, "saml:SubjectConfirmation", root, &[NS_SAML]);
        w.attr("Method", &self.method);
        if let Some(id) = &self.id {
            id.write(w);
        }
        if let Some(d) = &self.data {
            d.write(w);
        }
        w.end();
    }
}

/// `saml:SubjectConfirmationData`. Holder-of-key data (`xsi:type="saml:KeyInfoConfirmationDataType"`)
/// keeps each `ds:KeyInfo` as exclusive-canonical XML. Other element content is refused: it has no
/// meaning to the federation and would otherwise be silently ignored.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct SubjectConfirmationData {
    pub not_before: Option<OffsetDateTime>,
    pub not_on_or_after: Option<OffsetDateTime>,
    pub recipient: Option<String>,
    pub in_response_to: Option<String>,
    pub address: Option<String>,
    /// Whether the element is typed `saml:KeyInfoConfirmationDataType`.
    pub key_info_type: bool,
    pub key_infos: Vec<String>,
}

impl SamlXml for SubjectConfirmationData {
    fn from_element(e: Element<'_>) -> Result<Self, SamlError> {
        expect(e, SAML, "SubjectConfirmationData")?;
        let key_info_type = match xsi_type(e)? {
            None => false,
            Some(q)
                if q.namespace.as_deref() == Some(SAML)
                    && q.local == "KeyInfoConfirmationDataType" =>
            {
                true
            }
            // The base type named explicitly: plain confirmation data.
            Some(q)
                if q.namespace.as_deref() == Some(SAML)
                    && q.local == "SubjectConfirmationDataType" =>
            {
                false
            }
            Some(_) => return Err(SamlError::Unsupported(format!("{} type", name(e)))),
        };
        let mut c = Children::of(e)?;
        let key_infos = c
            .many(DS, "KeyInfo")
            .into_iter()
            .map(canonical)
            .collect::<Result<Vec<_>, _>>()?;
        c.finish()?;
        if key_info_type && key_infos.is_empty() {
            return Err(SamlError::MissingElement {
                element: name(e),
                child: "KeyInfo".into(),
            });
        }
        Ok(SubjectConfirmationData {
            not_before: opt_time(e, "NotBefore")?,
            not_on_or_after: opt_time(e, "NotOnOrAfter")?,
            recipient: opt_attr(e, "Recipient"),
            in_response_to: opt_attr(e, "InResponseTo"),
            address: opt_attr(e, "Address"),
            key_info_type,
            key_infos,
        })
    }

    fn write_element(&self, w: &mut XmlWriter, root: bool) {
        open(w, "saml:SubjectConfirmationData", root, &[NS_SAML]);
        if self.key_info_type {
            w.ns(Some(NS_XSI.0), NS_XSI.1)
                .attr("xsi:type", "saml:KeyInfoConfirmationDataType");
        }
        attr_time(w, "NotBefore", self.not_before);
        attr_time(w, "NotOnOrAfter", self.not_on_or_after);
        w.attr_opt("Recipient", self.recipient.as_deref())
            .attr_opt("InResponseTo", self.in_response_to.as_deref())
            .attr_opt("Address", self.address.as_deref());
        for k in &self.key_infos {
            w.raw(k);
        }
        w.end();
    }
}

/// `saml:AudienceRestriction`: one or more audiences, any of which is acceptable.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct AudienceRestriction {
    pub audiences: Vec<String>,
}

/// `saml:ProxyRestriction`.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct ProxyRestriction {
    pub count: Option<u32>,
    pub audiences: Vec<String>,
}

/// `saml:Conditions`. A generic `saml:Condition` (an extension type) is refused at parsing: the
/// federation cannot evaluate it, and SAML core §2.5.1 makes such an assertion Indeterminate.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Conditions {
    pub not_before: Option<OffsetDateTime>,
    pub not_on_or_after: Option<OffsetDateTime>,
    pub audience_restrictions: Vec<AudienceRestriction>,
    pub one_time_use: bool,
    pub proxy_restriction: Option<ProxyRestriction>,
}

fn audiences(e: Element<'_>) -> Result<Vec<String>, SamlError> {
    let mut c = Children::of(e)?;
    let out = c
        .many(SAML, "Audience")
        .into_iter()
        .map(token)
        .collect::<Result<Vec<_>, _>>()?;
    c.finish()?;
    Ok(out)
}

impl SamlXml for Conditions {
    fn from_element(e: Element<'_>) -> Result<Self, SamlError> {
        expect(e, SAML, "Conditions")?;
        let mut out = Conditions {
            not_before: opt_time(e, "NotBefore")?,
            not_on_or_after: opt_time(e, "NotOnOrAfter")?,
            ..Default::default()
        };
        let mut c = Children::of(e)?;
        // The schema allows the conditions in any order.
        while let Some(child) = c.next_any() {
            let local = if child.namespace() == Some(SAML) {
                child.local_name()
            } else {
                ""
            };
            match local {
                "AudienceRestriction" => {
                    let audiences = audiences(child)?;
                    if audiences.is_empty() {
                        return Err(SamlError::MissingElement {
                            element: name(child),
                            child: "Audience".into(),
                        });
                    }
                    out.audience_restrictions
                        .push(AudienceRestriction { audiences });
                }
                "OneTimeUse" if !out.one_time_use => {
                    Children::of(child)?.finish()?;
                    out.one_time_use = true;
                }
                "ProxyRestriction" if out.proxy_restriction.is_none() => {
                    out.proxy_restriction = Some(ProxyRestriction {
                        count: opt_num(child, "Count")?,
                        audiences: audiences(child)?,
                    });
                }
                "OneTimeUse" | "ProxyRestriction" => {
                    return Err(SamlError::Invalid {
                        element: name(child),
                        reason: "may appear only once in Conditions",
                    })
                }
                "Condition" => {
                    return Err(SamlError::Unsupported(format!("{} extension", name(child))))
                }
                _ => {
                    return Err(SamlError::UnexpectedElement {
                        parent: name(e),
                        found: name(child),
                    })
                }
            }
        }
        Ok(out)
    }

    fn write_element(&self, w: &mut XmlWriter, root: bool) {
        open(w, "saml:Conditions", root, &[NS_SAML]);
        attr_time(w, "NotBefore", self.not_before);
        attr_time(w, "NotOnOrAfter", self.not_on_or_after);
        for ar in &self.audience_restrictions {
            w.start("saml:AudienceRestriction");
            for a in &ar.audiences {
                w.leaf("saml:Audience", a);
            }
            w.end();
        }
        if self.one_time_use {
            w.start("saml:OneTimeUse").end();
        }
        if let Some(pr) = &self.proxy_restriction {
            w.start("saml:ProxyRestriction");
            attr_num(w, "Count", pr.count);
            for a in &pr.audiences {
                w.leaf("saml:Audience", a);
            }
            w.end();
        }
        w.end();
    }
}

/// `saml:SubjectLocality`.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct SubjectLocality {
    pub address: Option<String>,
    pub dns_name: Option<String>,
}

/// `saml:AuthnContext`: a class reference and/or a declaration (by reference, or by value kept
/// as canonical XML), then the authenticating authorities.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct AuthnContext {
    pub class_ref: Option<String>,
    pub decl_ref: Option<String>,
    /// `saml:AuthnContextDecl` as exclusive-canonical XML (mutually exclusive with `decl_ref`).
    pub decl: Option<String>,
    pub authenticating_authorities: Vec<String>,
}

impl AuthnContext {
    pub fn class(class_ref: &str) -> Self {
        AuthnContext {
            class_ref: Some(class_ref.to_string()),
            ..Default::default()
        }
    }
}

impl SamlXml for AuthnContext {
    fn from_element(e: Element<'_>) -> Result<Self, SamlError> {
        expect(e, SAML, "AuthnContext")?;
        let mut c = Children::of(e)?;
        let class_ref = c.opt(SAML, "AuthnContextClassRef").map(token).transpose()?;
        let decl = c.opt(SAML, "AuthnContextDecl").map(canonical).transpose()?;
        let decl_ref = match decl {
            Some(_) => None,
            None => c.opt(SAML, "AuthnContextDeclRef").map(token).transpose()?,
        };
        let authenticating_authorities = c
            .many(SAML, "AuthenticatingAuthority")
            .into_iter()
            .map(token)
            .collect::<Result<Vec<_>, _>>()?;
        c.finish()?;
        if class_ref.is_none() && decl.is_none() && decl_ref.is_none() {
            return Err(SamlError::MissingElement {
                element: name(e),
                child: "AuthnContextClassRef or AuthnContextDeclRef".into(),
            });
        }
        Ok(AuthnContext {
            class_ref,
            decl_ref,
            decl,
            authenticating_authorities,
        })
    }

    fn write_element(&self, w: &mut XmlWriter, root: bool) {
        open(w, "saml:AuthnContext", root, &[NS_SAML]);
        if let Some(c) = &self.class_ref {
            w.leaf("saml:AuthnContextClassRef", c);
        }
        if let Some(d) = &self.decl {
            w.raw(d);
        } else if let Some(d) = &self.decl_ref {
            w.leaf("saml:AuthnContextDeclRef", d);
        }
        for a in &self.authenticating_authorities {
            w.leaf("saml:AuthenticatingAuthority", a);
        }
        w.end();
    }
}

/// `saml:AuthnStatement`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthnStatement {
    pub authn_instant: OffsetDateTime,
    pub session_index: Option<String>,
    pub session_not_on_or_after: Option<OffsetDateTime>,
    pub subject_locality: Option<SubjectLocality>,
    pub authn_context: AuthnContext,
}

impl SamlXml for AuthnStatement {
    fn from_element(e: Element<'_>) -> Result<Self, SamlError> {
        expect(e, SAML, "AuthnStatement")?;
        let mut c = Children::of(e)?;
        let subject_locality = match c.opt(SAML, "SubjectLocality") {
            Some(l) => {
                Children::of(l)?.finish()?;
                Some(SubjectLocality {
                    address: opt_attr(l, "Address"),
                    dns_name: opt_attr(l, "DNSName"),
                })
            }
            None => None,
        };
        let authn_context = AuthnContext::from_element(c.req(SAML, "AuthnContext")?)?;
        c.finish()?;
        Ok(AuthnStatement {
            authn_instant: req_time(e, "AuthnInstant")?,
            session_index: opt_attr(e, "SessionIndex"),
            session_not_on_or_after: opt_time(e, "SessionNotOnOrAfter")?,
            subject_locality,
            authn_context,
        })
    }

    fn write_element(&self, w: &mut XmlWriter, root: bool) {
        open(w, "saml:AuthnStatement", root, &[NS_SAML]);
        attr_time(w, "AuthnInstant", Some(self.authn_instant));
        w.attr_opt("SessionIndex", self.session_index.as_deref());
        attr_time(w, "SessionNotOnOrAfter", self.session_not_on_or_after);
        if let Some(l) = &self.subject_locality {
            w.start("saml:SubjectLocality")
                .attr_opt("Address", l.address.as_deref())
                .attr_opt("DNSName", l.dns_name.as_deref())
                .end();
        }
        self.authn_context.write(w);
        w.end();
    }
}

/// A resolved QName (an `xsi:type` value).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QName {
    pub namespace: Option<String>,
    pub local: String,
}

impl QName {
    pub fn new(namespace: &str, local: &str) -> Self {
        QName {
            namespace: Some(namespace.to_string()),
            local: local.to_string(),
        }
    }

    /// A type of XML Schema (`xs:string`, `xs:dateTime` …).
    pub fn xs(local: &str) -> Self {
        QName::new(XS, local)
    }
}

/// The resolved `xsi:type` of `e`, if any, with the bindings in scope at `e`.
///
/// Exclusive c14n drops a binding used only inside an attribute value, so an assertion read from
/// its verified canonical bytes loses `xmlns:xs` unless the signer listed `xs` in an
/// InclusiveNamespaces PrefixList (many IdPs do not). The conventional XML Schema prefixes `xs`
/// and `xsd` therefore fall back to the XML Schema namespace when unbound: the type is an
/// annotation of the value, and no trust decision rests on it. Any other unbound prefix is refused.
fn xsi_type(e: Element<'_>) -> Result<Option<QName>, SamlError> {
    let Some(v) = e.attr_ns(XSI, "type") else {
        return Ok(None);
    };
    let v = v.trim();
    let (ns, local) = e
        .resolve_qname(v)
        .or_else(|| match v.split_once(':') {
            Some(("xs" | "xsd", local)) => Some((Some(XS), local)),
            _ => None,
        })
        .ok_or_else(|| SamlError::UnboundQName {
            element: name(e),
            qname: v.to_string(),
        })?;
    Ok(Some(QName {
        namespace: ns.map(str::to_string),
        local: local.to_string(),
    }))
}

/// One `saml:AttributeValue`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AttributeValue {
    /// Simple content, with its `xsi:type` when given.
    Text {
        value: String,
        xsi_type: Option<QName>,
    },
    /// One child element (such as the `wsa:EndpointReference` of the ID-WSF `DiscoveryEPR`
    /// attribute), kept as exclusive-canonical XML.
    Element {
        xml: String,
        xsi_type: Option<QName>,
    },
    /// `xsi:nil="true"`.
    Nil,
}

impl AttributeValue {
    /// A plain string value typed `xs:string`.
    pub fn string(value: impl Into<String>) -> Self {
        AttributeValue::Text {
            value: value.into(),
            xsi_type: Some(QName::xs("string")),
        }
    }

    /// The text of a simple value.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            AttributeValue::Text { value, .. } => Some(value),
            _ => None,
        }
    }

    fn from_element(e: Element<'_>) -> Result<Self, SamlError> {
        expect(e, SAML, "AttributeValue")?;
        let xsi_type = xsi_type(e)?;
        let mut elements = Vec::new();
        let mut text = String::new();
        for node in e.children() {
            match node {
                Node::Element(child) => elements.push(child),
                Node::Text(t) => text.push_str(t),
                // A comment or PI inside a value splits what one reader sees from what another
                // sees (comment injection); refuse it outright.
                _ => return Err(XmlError::MixedContent { element: name(e) }.into()),
            }
        }
        if matches!(e.attr_ns(XSI, "nil").map(str::trim), Some("true" | "1")) {
            if !elements.is_empty() || !text.is_empty() {
                return Err(SamlError::Invalid {
                    element: name(e),
                    reason: "xsi:nil value with content",
                });
            }
            return Ok(AttributeValue::Nil);
        }
        match elements.as_slice() {
            [] => Ok(AttributeValue::Text {
                value: text,
                xsi_type,
            }),
            [child] if text.chars().all(|c| matches!(c, ' ' | '\t' | '\n' | '\r')) => {
                Ok(AttributeValue::Element {
                    xml: canonical(*child)?,
                    xsi_type,
                })
            }
            _ => Err(SamlError::Invalid {
                element: name(e),
                reason: "attribute value holds mixed content or several elements",
            }),
        }
    }

    fn write(&self, w: &mut XmlWriter) {
        w.start("saml:AttributeValue");
        // Namespaces for xsi:type are declared on the value itself so that exclusive c14n of any
        // enclosing signed element keeps them (they are used only inside an attribute value).
        let write_type = |w: &mut XmlWriter, t: &Option<QName>| {
            if let Some(q) = t {
                w.ns(Some(NS_XSI.0), NS_XSI.1);
                match q.namespace.as_deref() {
                    Some(ns) => {
                        let prefix = if ns == XS { "xs" } else { "xst" };
                        w.ns(Some(prefix), ns)
                            .attr("xsi:type", &format!("{prefix}:{}", q.local));
                    }
                    None => {
                        w.attr("xsi:type", &q.local);
                    }
                }
            }
        };
        match self {
            AttributeValue::Text { value, xsi_type } => {
                write_type(w, xsi_type);
                w.text(value);
            }
            AttributeValue::Element { xml, xsi_type } => {
                write_type(w, xsi_type);
                w.raw(xml);
            }
            AttributeValue::Nil => {
                w.ns(Some(NS_XSI.0), NS_XSI.1).attr("xsi:nil", "true");
            }
        }
        w.end();
    }
}

/// `saml:Attribute` (also the base of `md:RequestedAttribute`).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Attribute {
    pub name: String,
    pub name_format: Option<String>,
    pub friendly_name: Option<String>,
    pub values: Vec<AttributeValue>,
}

impl Attribute {
    /// An attribute with URI name format and the given string values.
    pub fn uri(name: &str, values: &[&str]) -> Self {
        Attribute {
            name: name.to_string(),
            name_format: Some(super::attrname_format::URI.to_string()),
            friendly_name: None,
            values: values.iter().map(|v| AttributeValue::string(*v)).collect(),
        }
    }

    /// Reads the attributes and values of an element of `saml:AttributeType`, whatever its name.
    pub(crate) fn parse_content(e: Element<'_>) -> Result<Self, SamlError> {
        let mut c = Children::of(e)?;
        let values = c
            .many(SAML, "AttributeValue")
            .into_iter()
            .map(AttributeValue::from_element)
            .collect::<Result<Vec<_>, _>>()?;
        c.finish()?;
        Ok(Attribute {
            name: req_attr(e, "Name")?,
            name_format: opt_attr(e, "NameFormat"),
            friendly_name: opt_attr(e, "FriendlyName"),
            values,
        })
    }

    /// Writes the attributes and values into an element already opened.
    pub(crate) fn write_content(&self, w: &mut XmlWriter) {
        w.attr("Name", &self.name)
            .attr_opt("NameFormat", self.name_format.as_deref())
            .attr_opt("FriendlyName", self.friendly_name.as_deref());
        for v in &self.values {
            v.write(w);
        }
    }

    /// The text of every simple value.
    pub fn text_values(&self) -> impl Iterator<Item = &str> {
        self.values.iter().filter_map(AttributeValue::as_text)
    }
}

impl SamlXml for Attribute {
    fn from_element(e: Element<'_>) -> Result<Self, SamlError> {
        expect(e, SAML, "Attribute")?;
        Self::parse_content(e)
    }

    fn write_element(&self, w: &mut XmlWriter, root: bool) {
        open(w, "saml:Attribute", root, &[NS_SAML]);
        self.write_content(w);
        w.end();
    }
}

/// A member of an `AttributeStatement`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AttributeItem {
    Plain(Attribute),
    Encrypted(EncryptedElement),
}

/// `saml:AttributeStatement`.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct AttributeStatement {
    pub items: Vec<AttributeItem>,
}

impl AttributeStatement {
    /// The plain (not encrypted) attributes.
    pub fn attributes(&self) -> impl Iterator<Item = &Attribute> {
        self.items.iter().filter_map(|i| match i {
            AttributeItem::Plain(a) => Some(a),
            AttributeItem::Encrypted(_) => None,
        })
    }
}

impl SamlXml for AttributeStatement {
    fn from_element(e: Element<'_>) -> Result<Self, SamlError> {
        expect(e, SAML, "AttributeStatement")?;
        let mut items = Vec::new();
        let mut c = Children::of(e)?;
        loop {
            if let Some(a) = c.opt(SAML, "Attribute") {
                items.push(AttributeItem::Plain(Attribute::from_element(a)?));
            } else if let Some(a) = c.opt(SAML, "EncryptedAttribute") {
                items.push(AttributeItem::Encrypted(
                    EncryptedElement::from_element_named(a, "EncryptedAttribute")?,
                ));
            } else {
                break;
            }
        }
        c.finish()?;
        if items.is_empty() {
            return Err(SamlError::MissingElement {
                element: name(e),
                child: "Attribute".into(),
            });
        }
        Ok(AttributeStatement { items })
    }

    fn write_element(&self, w: &mut XmlWriter, root: bool) {
        open(w, "saml:AttributeStatement", root, &[NS_SAML]);
        for item in &self.items {
            match item {
                AttributeItem::Plain(a) => a.write(w),
                AttributeItem::Encrypted(enc) => {
                    w.raw(&enc.xml);
                }
            }
        }
        w.end();
    }
}

/// A statement of an assertion.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Statement {
    Authn(AuthnStatement),
    Attribute(AttributeStatement),
    /// `saml:AuthzDecisionStatement`, kept as exclusive-canonical XML.
    AuthzDecision(String),
}

/// `saml:Assertion`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Assertion {
    pub id: String,
    pub issue_instant: OffsetDateTime,
    pub issuer: NameId,
    pub subject: Option<Subject>,
    pub conditions: Option<Conditions>,
    /// `saml:Advice`, kept as exclusive-canonical XML and never interpreted.
    pub advice: Option<String>,
    pub statements: Vec<Statement>,
}

impl Assertion {
    pub fn authn_statements(&self) -> impl Iterator<Item = &AuthnStatement> {
        self.statements.iter().filter_map(|s| match s {
            Statement::Authn(a) => Some(a),
            _ => None,
        })
    }

    pub fn attribute_statements(&self) -> impl Iterator<Item = &AttributeStatement> {
        self.statements.iter().filter_map(|s| match s {
            Statement::Attribute(a) => Some(a),
            _ => None,
        })
    }

    /// Every plain attribute of every attribute statement.
    pub fn attributes(&self) -> impl Iterator<Item = &Attribute> {
        self.attribute_statements()
            .flat_map(AttributeStatement::attributes)
    }

    /// The first plain attribute with this name.
    pub fn attribute(&self, name: &str) -> Option<&Attribute> {
        self.attributes().find(|a| a.name == name)
    }
}

impl SamlXml for Assertion {
    fn from_element(e: Element<'_>) -> Result<Self, SamlError> {
        expect(e, SAML, "Assertion")?;
        super::common::check_version(e)?;
        let id = req_id(e, "ID")?;
        let issue_instant = req_time(e, "IssueInstant")?;
        let mut c = Children::of(e)?;
        let issuer = NameId::issuer_from_element(c.req(SAML, "Issuer")?)?;
        c.skip_signature();
        let subject = c
            .opt(SAML, "Subject")
            .map(Subject::from_element)
            .transpose()?;
        let conditions = c
            .opt(SAML, "Conditions")
            .map(Conditions::from_element)
            .transpose()?;
        let advice = c.opt(SAML, "Advice").map(canonical).transpose()?;
        let mut statements = Vec::new();
        while let Some(s) = c.peek() {
            let statement = if s.is(SAML, "AuthnStatement") {
                Statement::Authn(AuthnStatement::from_element(s)?)
            } else if s.is(SAML, "AttributeStatement") {
                Statement::Attribute(AttributeStatement::from_element(s)?)
            } else if s.is(SAML, "AuthzDecisionStatement") {
                Statement::AuthzDecision(canonical(s)?)
            } else if s.is(SAML, "Statement") {
                return Err(SamlError::Unsupported(format!("{} extension", name(s))));
            } else {
                break;
            };
            statements.push(statement);
            c.next_any();
        }
        c.finish()?;
        Ok(Assertion {
            id,
            issue_instant,
            issuer,
            subject,
            conditions,
            advice,
            statements,
        })
    }

    fn write_element(&self, w: &mut XmlWriter, root: bool) {
        open(w, "saml:Assertion", root, &[NS_SAML]);
        w.attr("Version", super::VERSION).attr("ID", &self.id);
        attr_time(w, "IssueInstant", Some(self.issue_instant));
        self.issuer.write_issuer(w);
        if let Some(s) = &self.subject {
            s.write(w);
        }
        if let Some(c) = &self.conditions {
            c.write(w);
        }
        if let Some(a) = &self.advice {
            w.raw(a);
        }
        for s in &self.statements {
            match s {
                Statement::Authn(a) => a.write(w),
                Statement::Attribute(a) => a.write(w),
                Statement::AuthzDecision(xml) => {
                    w.raw(xml);
                }
            }
        }
        w.end();
    }
}

/// An assertion in a `Response`: in clear, or `saml:EncryptedAssertion` kept opaque.
// Not boxed: a Response carries one assertion, and matching on the variant stays simple.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AssertionItem {
    Plain(Assertion),
    Encrypted(EncryptedElement),
}

impl AssertionItem {
    pub(crate) fn write(&self, w: &mut XmlWriter) {
        match self {
            AssertionItem::Plain(a) => a.write(w),
            AssertionItem::Encrypted(enc) => {
                w.raw(&enc.xml);
            }
        }
    }
}

/// Reads a `saml:EncryptedAssertion` (used by `Response`).
pub(crate) fn encrypted_assertion(e: Element<'_>) -> Result<EncryptedElement, SamlError> {
    EncryptedElement::from_element_named(e, "EncryptedAssertion")
}
