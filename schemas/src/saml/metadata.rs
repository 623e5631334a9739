//! SAML 2.0 metadata (SAML metadata §2) with the algorithm-support extension
//! (`urn:oasis:names:tc:SAML:metadata:algsupport`): entity and entities descriptors, the IdP and
//! SP SSO roles, keys and endpoints, and the look-ups the federation needs (keys by use, ACS by
//! URL or index, endpoints by binding).
//!
//! Keys are kept only as the DER certificates of `ds:X509Certificate`; other `ds:KeyInfo`
//! content (key values, issuer/serial hints) is not kept, since keys come from certificates the
//! federation operator vetted.

use time::OffsetDateTime;

use super::assertion::Attribute;
use super::common::{
    attr_bool, attr_num, attr_time, base64_string, base64_text, expect, invalid, name, open,
    opt_attr, opt_bool, opt_id, opt_num, opt_time, req_attr, req_num, text, token, Children,
    NS_ALG, NS_DS, NS_MD, NS_SAML,
};
use super::{OtherElement, SamlError, SamlXml, PROTOCOL};
use crate::ns::{ALG, DS, MD, SAML, XENC, XENC11};
use crate::xml::{Element, XmlWriter, XML_NS};

const ROOT_NAMESPACES: &[(&str, &str)] = &[NS_MD, NS_DS, NS_SAML, NS_ALG];

/// An endpoint (`md:EndpointType`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    pub binding: String,
    pub location: String,
    pub response_location: Option<String>,
}

impl Endpoint {
    pub fn new(binding: &str, location: &str) -> Self {
        Endpoint {
            binding: binding.to_string(),
            location: location.to_string(),
            response_location: None,
        }
    }

    // Extension children of an endpoint are not used; they are left unread.
    fn parse(e: Element<'_>) -> Result<Self, SamlError> {
        Ok(Endpoint {
            binding: req_attr(e, "Binding")?,
            location: req_attr(e, "Location")?,
            response_location: opt_attr(e, "ResponseLocation"),
        })
    }

    fn parse_all(c: &mut Children<'_>, local: &str) -> Result<Vec<Self>, SamlError> {
        c.many(MD, local).into_iter().map(Self::parse).collect()
    }

    fn write_attrs(&self, w: &mut XmlWriter) {
        w.attr("Binding", &self.binding)
            .attr("Location", &self.location)
            .attr_opt("ResponseLocation", self.response_location.as_deref());
    }

    fn write_all(w: &mut XmlWriter, qname: &str, endpoints: &[Endpoint]) {
        for ep in endpoints {
            w.start(qname);
            ep.write_attrs(w);
            w.end();
        }
    }
}

/// An indexed endpoint (`md:IndexedEndpointType`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexedEndpoint {
    pub endpoint: Endpoint,
    pub index: u16,
    pub is_default: Option<bool>,
}

impl IndexedEndpoint {
    pub fn new(binding: &str, location: &str, index: u16) -> Self {
        IndexedEndpoint {
            endpoint: Endpoint::new(binding, location),
            index,
            is_default: None,
        }
    }

    fn parse_all(c: &mut Children<'_>, local: &str) -> Result<Vec<Self>, SamlError> {
        c.many(MD, local)
            .into_iter()
            .map(|e| {
                Ok(IndexedEndpoint {
                    endpoint: Endpoint::parse(e)?,
                    index: req_num(e, "index")?,
                    is_default: opt_bool(e, "isDefault")?,
                })
            })
            .collect()
    }

    fn write_all(w: &mut XmlWriter, qname: &str, endpoints: &[IndexedEndpoint]) {
        for ep in endpoints {
            w.start(qname);
            ep.endpoint.write_attrs(w);
            attr_num(w, "index", Some(ep.index));
            attr_bool(w, "isDefault", ep.is_default);
            w.end();
        }
    }

    /// The default of a set of indexed endpoints (SAML metadata §2.2.3): the first with
    /// `isDefault="true"`, else the first without `isDefault="false"`, else the first.
    pub fn default_of(endpoints: &[IndexedEndpoint]) -> Option<&IndexedEndpoint> {
        endpoints
            .iter()
            .find(|e| e.is_default == Some(true))
            .or_else(|| endpoints.iter().find(|e| e.is_default.is_none()))
            .or_else(|| endpoints.first())
    }
}

/// A string with its `xml:lang`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalizedString {
    pub lang: String,
    pub value: String,
}

impl LocalizedString {
    fn parse_all(
        c: &mut Children<'_>,
        local: &str,
        required: bool,
    ) -> Result<Vec<Self>, SamlError> {
        let elements = if required {
            c.at_least_one(MD, local)?
        } else {
            c.many(MD, local)
        };
        elements
            .into_iter()
            .map(|e| {
                Ok(LocalizedString {
                    lang: e
                        .attr_ns(XML_NS, "lang")
                        .map(str::to_string)
                        .ok_or_else(|| SamlError::MissingAttribute {
                            element: name(e),
                            attribute: "xml:lang".into(),
                        })?,
                    value: text(e)?,
                })
            })
            .collect()
    }

    fn write_all(w: &mut XmlWriter, qname: &str, values: &[LocalizedString]) {
        for v in values {
            w.start(qname)
                .attr("xml:lang", &v.lang)
                .text(&v.value)
                .end();
        }
    }
}

/// `alg:SigningMethod`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SigningMethod {
    pub algorithm: String,
    pub min_key_size: Option<u32>,
    pub max_key_size: Option<u32>,
}

/// A child of `md:Extensions`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExtensionItem {
    /// `alg:DigestMethod` (its `Algorithm`).
    DigestMethod(String),
    SigningMethod(SigningMethod),
    /// Any other extension, kept as exclusive-canonical XML.
    Other(OtherElement),
}

/// `md:Extensions`, in document order.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct MetadataExtensions {
    pub items: Vec<ExtensionItem>,
}

impl MetadataExtensions {
    /// The digest algorithms the entity declares (algorithm-support extension).
    pub fn digest_methods(&self) -> impl Iterator<Item = &str> {
        self.items.iter().filter_map(|i| match i {
            ExtensionItem::DigestMethod(a) => Some(a.as_str()),
            _ => None,
        })
    }

    /// The signing algorithms the entity declares (algorithm-support extension).
    pub fn signing_methods(&self) -> impl Iterator<Item = &SigningMethod> {
        self.items.iter().filter_map(|i| match i {
            ExtensionItem::SigningMethod(m) => Some(m),
            _ => None,
        })
    }

    fn parse_opt(c: &mut Children<'_>) -> Result<Option<Self>, SamlError> {
        let Some(e) = c.opt(MD, "Extensions") else {
            return Ok(None);
        };
        let mut items = Vec::new();
        let mut ec = Children::of(e)?;
        while let Some(x) = ec.next_any() {
            let item = if x.is(ALG, "DigestMethod") {
                ExtensionItem::DigestMethod(req_attr(x, "Algorithm")?)
            } else if x.is(ALG, "SigningMethod") {
                ExtensionItem::SigningMethod(SigningMethod {
                    algorithm: req_attr(x, "Algorithm")?,
                    min_key_size: opt_num(x, "MinKeySize")?,
                    max_key_size: opt_num(x, "MaxKeySize")?,
                })
            } else {
                ExtensionItem::Other(OtherElement::from_element(x)?)
            };
            items.push(item);
        }
        Ok(Some(MetadataExtensions { items }))
    }

    // The schema requires at least one child, so an empty set is not written.
    fn write(&self, w: &mut XmlWriter) {
        if self.items.is_empty() {
            return;
        }
        w.start("md:Extensions");
        for item in &self.items {
            match item {
                ExtensionItem::DigestMethod(a) => {
                    w.start("alg:DigestMethod").attr("Algorithm", a).end();
                }
                ExtensionItem::SigningMethod(m) => {
                    w.start("alg:SigningMethod").attr("Algorithm", &m.algorithm);
                    attr_num(w, "MinKeySize", m.min_key_size);
                    attr_num(w, "MaxKeySize", m.max_key_size);
                    w.end();
                }
                ExtensionItem::Other(o) => {
                    w.raw(&o.xml);
                }
            }
        }
        w.end();
    }
}

/// `use` of a key descriptor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyUse {
    Signing,
    Encryption,
}

/// `md:EncryptionMethod`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EncryptionMethod {
    pub algorithm: String,
    pub key_size: Option<u32>,
    /// `ds:DigestMethod` (RSA-OAEP digest).
    pub digest_method: Option<String>,
    /// `xenc11:MGF` (RSA-OAEP mask generation function).
    pub mgf: Option<String>,
}

impl EncryptionMethod {
    pub fn new(algorithm: &str) -> Self {
        EncryptionMethod {
            algorithm: algorithm.to_string(),
            key_size: None,
            digest_method: None,
            mgf: None,
        }
    }

    // Other children (OAEPparams, extensions) are not used and left unread.
    fn parse(e: Element<'_>) -> Result<Self, SamlError> {
        let mut m = EncryptionMethod::new(&req_attr(e, "Algorithm")?);
        for child in Children::of(e)?.items() {
            if child.is(XENC, "KeySize") {
                let t = token(child)?;
                m.key_size = Some(
                    t.parse()
                        .map_err(|_| invalid(child, "(content)", &t, "not a key size"))?,
                );
            } else if child.is(DS, "DigestMethod") {
                m.digest_method = Some(req_attr(child, "Algorithm")?);
            } else if child.is(XENC11, "MGF") {
                m.mgf = Some(req_attr(child, "Algorithm")?);
            }
        }
        Ok(m)
    }

    fn write(&self, w: &mut XmlWriter) {
        w.start("md:EncryptionMethod")
            .attr("Algorithm", &self.algorithm);
        if let Some(k) = self.key_size {
            w.start("xenc:KeySize")
                .ns(Some("xenc"), XENC)
                .text(&k.to_string())
                .end();
        }
        if let Some(d) = &self.digest_method {
            w.start("ds:DigestMethod").attr("Algorithm", d).end();
        }
        if let Some(m) = &self.mgf {
            w.start("xenc11:MGF")
                .ns(Some("xenc11"), XENC11)
                .attr("Algorithm", m)
                .end();
        }
        w.end();
    }
}

/// `md:KeyDescriptor`. Without `use` the key serves both signing and encryption (SAML metadata
/// §2.4.1.1) — never "neither".
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct KeyDescriptor {
    pub key_use: Option<KeyUse>,
    pub key_names: Vec<String>,
    /// DER of every `ds:X509Certificate`, in document order.
    pub certificates: Vec<Vec<u8>>,
    pub encryption_methods: Vec<EncryptionMethod>,
}

impl KeyDescriptor {
    pub fn new(key_use: Option<KeyUse>, certificate_der: Vec<u8>) -> Self {
        KeyDescriptor {
            key_use,
            certificates: vec![certificate_der],
            ..Default::default()
        }
    }

    pub fn for_signing(&self) -> bool {
        self.key_use != Some(KeyUse::Encryption)
    }

    pub fn for_encryption(&self) -> bool {
        self.key_use != Some(KeyUse::Signing)
    }

    fn parse(e: Element<'_>) -> Result<Self, SamlError> {
        let key_use = match e.attr("use") {
            None => None,
            Some("signing") => Some(KeyUse::Signing),
            Some("encryption") => Some(KeyUse::Encryption),
            Some(v) => return Err(invalid(e, "use", v, "not signing or encryption")),
        };
        let mut c = Children::of(e)?;
        let key_info = c.req(DS, "KeyInfo")?;
        let mut kd = KeyDescriptor {
            key_use,
            ..Default::default()
        };
        for child in Children::of(key_info)?.items() {
            if child.is(DS, "KeyName") {
                kd.key_names.push(token(child)?);
            } else if child.is(DS, "X509Data") {
                for cert in Children::of(child)?.items() {
                    if cert.is(DS, "X509Certificate") {
                        kd.certificates.push(base64_text(cert)?);
                    }
                }
            }
        }
        kd.encryption_methods = c
            .many(MD, "EncryptionMethod")
            .into_iter()
            .map(EncryptionMethod::parse)
            .collect::<Result<_, _>>()?;
        c.finish()?;
        Ok(kd)
    }

    fn write(&self, w: &mut XmlWriter) {
        w.start("md:KeyDescriptor");
        match self.key_use {
            Some(KeyUse::Signing) => w.attr("use", "signing"),
            Some(KeyUse::Encryption) => w.attr("use", "encryption"),
            None => w,
        };
        w.start("ds:KeyInfo");
        for n in &self.key_names {
            w.leaf("ds:KeyName", n);
        }
        if !self.certificates.is_empty() {
            w.start("ds:X509Data");
            for cert in &self.certificates {
                w.leaf("ds:X509Certificate", &base64_string(cert));
            }
            w.end();
        }
        w.end();
        for m in &self.encryption_methods {
            m.write(w);
        }
        w.end();
    }
}

/// `md:Organization`.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Organization {
    pub names: Vec<LocalizedString>,
    pub display_names: Vec<LocalizedString>,
    pub urls: Vec<LocalizedString>,
}

impl Organization {
    fn parse_opt(c: &mut Children<'_>) -> Result<Option<Self>, SamlError> {
        let Some(e) = c.opt(MD, "Organization") else {
            return Ok(None);
        };
        let mut oc = Children::of(e)?;
        oc.opt(MD, "Extensions");
        let org = Organization {
            names: LocalizedString::parse_all(&mut oc, "OrganizationName", true)?,
            display_names: LocalizedString::parse_all(&mut oc, "OrganizationDisplayName", true)?,
            urls: LocalizedString::parse_all(&mut oc, "OrganizationURL", true)?,
        };
        oc.finish()?;
        Ok(Some(org))
    }

    fn write(&self, w: &mut XmlWriter) {
        w.start("md:Organization");
        LocalizedString::write_all(w, "md:OrganizationName", &self.names);
        LocalizedString::write_all(w, "md:OrganizationDisplayName", &self.display_names);
        LocalizedString::write_all(w, "md:OrganizationURL", &self.urls);
        w.end();
    }
}

/// `md:ContactPerson`.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct ContactPerson {
    /// `technical`, `support`, `administrative`, `billing` or `other`.
    pub contact_type: String,
    pub company: Option<String>,
    pub given_name: Option<String>,
    pub sur_name: Option<String>,
    pub email_addresses: Vec<String>,
    pub telephone_numbers: Vec<String>,
}

impl ContactPerson {
    fn parse_all(c: &mut Children<'_>) -> Result<Vec<Self>, SamlError> {
        c.many(MD, "ContactPerson")
            .into_iter()
            .map(|e| {
                let mut pc = Children::of(e)?;
                pc.opt(MD, "Extensions");
                let opt_text =
                    |pc: &mut Children<'_>, local: &str| pc.opt(MD, local).map(text).transpose();
                let person = ContactPerson {
                    contact_type: req_attr(e, "contactType")?,
                    company: opt_text(&mut pc, "Company")?,
                    given_name: opt_text(&mut pc, "GivenName")?,
                    sur_name: opt_text(&mut pc, "SurName")?,
                    email_addresses: pc
                        .many(MD, "EmailAddress")
                        .into_iter()
                        .map(token)
                        .collect::<Result<_, _>>()?,
                    telephone_numbers: pc
                        .many(MD, "TelephoneNumber")
                        .into_iter()
                        .map(token)
                        .collect::<Result<_, _>>()?,
                };
                pc.finish()?;
                Ok(person)
            })
            .collect()
    }

    fn write_all(w: &mut XmlWriter, people: &[ContactPerson]) {
        for p in people {
            w.start("md:ContactPerson")
                .attr("contactType", &p.contact_type);
            for (qname, v) in [
                ("md:Company", &p.company),
                ("md:GivenName", &p.given_name),
                ("md:SurName", &p.sur_name),
            ] {
                if let Some(v) = v {
                    w.leaf(qname, v);
                }
            }
            for m in &p.email_addresses {
                w.leaf("md:EmailAddress", m);
            }
            for t in &p.telephone_numbers {
                w.leaf("md:TelephoneNumber", t);
            }
            w.end();
        }
    }
}

/// What `md:RoleDescriptorType` and `md:SSODescriptorType` give both SSO roles.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct SsoDescriptor {
    pub id: Option<String>,
    pub valid_until: Option<OffsetDateTime>,
    /// `xs:duration`, as written.
    pub cache_duration: Option<String>,
    pub protocol_support: Vec<String>,
    pub error_url: Option<String>,
    pub extensions: Option<MetadataExtensions>,
    pub key_descriptors: Vec<KeyDescriptor>,
    pub organization: Option<Organization>,
    pub contacts: Vec<ContactPerson>,
    pub artifact_resolution_services: Vec<IndexedEndpoint>,
    pub single_logout_services: Vec<Endpoint>,
    pub manage_name_id_services: Vec<Endpoint>,
    pub name_id_formats: Vec<String>,
}

impl SsoDescriptor {
    /// A SAML 2.0 role with no keys or endpoints yet.
    pub fn saml2() -> Self {
        SsoDescriptor {
            protocol_support: vec![PROTOCOL.to_string()],
            ..Default::default()
        }
    }

    pub fn supports_saml2(&self) -> bool {
        self.protocol_support.iter().any(|p| p == PROTOCOL)
    }

    /// DER certificates of the keys usable for signing (`use="signing"` or no `use`), all of
    /// them: during a key rollover metadata lists the old and the new key.
    pub fn signing_certificates(&self) -> Vec<&[u8]> {
        self.certificates(KeyDescriptor::for_signing)
    }

    /// DER certificates of the keys usable for encryption (`use="encryption"` or no `use`).
    pub fn encryption_certificates(&self) -> Vec<&[u8]> {
        self.certificates(KeyDescriptor::for_encryption)
    }

    fn certificates(&self, usable: fn(&KeyDescriptor) -> bool) -> Vec<&[u8]> {
        self.key_descriptors
            .iter()
            .filter(|k| usable(k))
            .flat_map(|k| k.certificates.iter().map(Vec::as_slice))
            .collect()
    }

    pub fn single_logout_service(&self, binding: &str) -> Option<&Endpoint> {
        self.single_logout_services
            .iter()
            .find(|e| e.binding == binding)
    }

    fn parse<'a>(e: Element<'a>) -> Result<(Self, Children<'a>), SamlError> {
        let protocol_support = req_attr(e, "protocolSupportEnumeration")?
            .split_ascii_whitespace()
            .map(str::to_string)
            .collect();
        let mut c = Children::of(e)?;
        c.skip_signature();
        let extensions = MetadataExtensions::parse_opt(&mut c)?;
        let key_descriptors = c
            .many(MD, "KeyDescriptor")
            .into_iter()
            .map(KeyDescriptor::parse)
            .collect::<Result<_, _>>()?;
        let organization = Organization::parse_opt(&mut c)?;
        let contacts = ContactPerson::parse_all(&mut c)?;
        let d = SsoDescriptor {
            id: opt_id(e, "ID")?,
            valid_until: opt_time(e, "validUntil")?,
            cache_duration: opt_attr(e, "cacheDuration"),
            protocol_support,
            error_url: opt_attr(e, "errorURL"),
            extensions,
            key_descriptors,
            organization,
            contacts,
            artifact_resolution_services: IndexedEndpoint::parse_all(
                &mut c,
                "ArtifactResolutionService",
            )?,
            single_logout_services: Endpoint::parse_all(&mut c, "SingleLogoutService")?,
            manage_name_id_services: Endpoint::parse_all(&mut c, "ManageNameIDService")?,
            name_id_formats: c
                .many(MD, "NameIDFormat")
                .into_iter()
                .map(token)
                .collect::<Result<_, _>>()?,
        };
        Ok((d, c))
    }

    fn open(&self, w: &mut XmlWriter, qname: &str, root: bool) {
        open(w, qname, root, ROOT_NAMESPACES);
        w.attr_opt("ID", self.id.as_deref());
        attr_time(w, "validUntil", self.valid_until);
        w.attr_opt("cacheDuration", self.cache_duration.as_deref())
            .attr(
                "protocolSupportEnumeration",
                &self.protocol_support.join(" "),
            )
            .attr_opt("errorURL", self.error_url.as_deref());
    }

    fn write_children(&self, w: &mut XmlWriter) {
        if let Some(x) = &self.extensions {
            x.write(w);
        }
        for k in &self.key_descriptors {
            k.write(w);
        }
        if let Some(o) = &self.organization {
            o.write(w);
        }
        ContactPerson::write_all(w, &self.contacts);
        IndexedEndpoint::write_all(
            w,
            "md:ArtifactResolutionService",
            &self.artifact_resolution_services,
        );
        Endpoint::write_all(w, "md:SingleLogoutService", &self.single_logout_services);
        Endpoint::write_all(w, "md:ManageNameIDService", &self.manage_name_id_services);
        for f in &self.name_id_formats {
            w.leaf("md:NameIDFormat", f);
        }
    }
}

/// `md:IDPSSODescriptor`.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct IdpSsoDescriptor {
    pub sso: SsoDescriptor,
    pub want_authn_requests_signed: Option<bool>,
    pub single_sign_on_services: Vec<Endpoint>,
    pub name_id_mapping_services: Vec<Endpoint>,
    pub assertion_id_request_services: Vec<Endpoint>,
    pub attribute_profiles: Vec<String>,
    pub attributes: Vec<Attribute>,
}

impl IdpSsoDescriptor {
    /// The single sign-on endpoint for a binding.
    pub fn sso_service(&self, binding: &str) -> Option<&Endpoint> {
        self.single_sign_on_services
            .iter()
            .find(|e| e.binding == binding)
    }
}

impl SamlXml for IdpSsoDescriptor {
    fn from_element(e: Element<'_>) -> Result<Self, SamlError> {
        expect(e, MD, "IDPSSODescriptor")?;
        let (sso, mut c) = SsoDescriptor::parse(e)?;
        let single_sign_on_services = Endpoint::parse_all(&mut c, "SingleSignOnService")?;
        if single_sign_on_services.is_empty() {
            return Err(SamlError::MissingElement {
                element: name(e),
                child: "SingleSignOnService".into(),
            });
        }
        let d = IdpSsoDescriptor {
            want_authn_requests_signed: opt_bool(e, "WantAuthnRequestsSigned")?,
            single_sign_on_services,
            name_id_mapping_services: Endpoint::parse_all(&mut c, "NameIDMappingService")?,
            assertion_id_request_services: Endpoint::parse_all(
                &mut c,
                "AssertionIDRequestService",
            )?,
            attribute_profiles: c
                .many(MD, "AttributeProfile")
                .into_iter()
                .map(token)
                .collect::<Result<_, _>>()?,
            attributes: c
                .many(SAML, "Attribute")
                .into_iter()
                .map(Attribute::from_element)
                .collect::<Result<_, _>>()?,
            sso,
        };
        c.finish()?;
        Ok(d)
    }

    fn write_element(&self, w: &mut XmlWriter, root: bool) {
        self.sso.open(w, "md:IDPSSODescriptor", root);
        attr_bool(
            w,
            "WantAuthnRequestsSigned",
            self.want_authn_requests_signed,
        );
        self.sso.write_children(w);
        Endpoint::write_all(w, "md:SingleSignOnService", &self.single_sign_on_services);
        Endpoint::write_all(w, "md:NameIDMappingService", &self.name_id_mapping_services);
        Endpoint::write_all(
            w,
            "md:AssertionIDRequestService",
            &self.assertion_id_request_services,
        );
        for p in &self.attribute_profiles {
            w.leaf("md:AttributeProfile", p);
        }
        for a in &self.attributes {
            a.write(w);
        }
        w.end();
    }
}

/// `md:RequestedAttribute`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestedAttribute {
    pub attribute: Attribute,
    pub is_required: Option<bool>,
}

/// `md:AttributeConsumingService`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttributeConsumingService {
    pub index: u16,
    pub is_default: Option<bool>,
    pub service_names: Vec<LocalizedString>,
    pub service_descriptions: Vec<LocalizedString>,
    pub requested_attributes: Vec<RequestedAttribute>,
}

impl AttributeConsumingService {
    fn parse(e: Element<'_>) -> Result<Self, SamlError> {
        let mut c = Children::of(e)?;
        let service_names = LocalizedString::parse_all(&mut c, "ServiceName", true)?;
        let service_descriptions = LocalizedString::parse_all(&mut c, "ServiceDescription", false)?;
        let requested_attributes = c
            .at_least_one(MD, "RequestedAttribute")?
            .into_iter()
            .map(|a| {
                Ok(RequestedAttribute {
                    attribute: Attribute::parse_content(a)?,
                    is_required: opt_bool(a, "isRequired")?,
                })
            })
            .collect::<Result<_, SamlError>>()?;
        c.finish()?;
        Ok(AttributeConsumingService {
            index: req_num(e, "index")?,
            is_default: opt_bool(e, "isDefault")?,
            service_names,
            service_descriptions,
            requested_attributes,
        })
    }

    fn write(&self, w: &mut XmlWriter) {
        w.start("md:AttributeConsumingService");
        attr_num(w, "index", Some(self.index));
        attr_bool(w, "isDefault", self.is_default);
        LocalizedString::write_all(w, "md:ServiceName", &self.service_names);
        LocalizedString::write_all(w, "md:ServiceDescription", &self.service_descriptions);
        for r in &self.requested_attributes {
            w.start("md:RequestedAttribute");
            attr_bool(w, "isRequired", r.is_required);
            r.attribute.write_content(w);
            w.end();
        }
        w.end();
    }
}

/// `md:SPSSODescriptor`.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct SpSsoDescriptor {
    pub sso: SsoDescriptor,
    pub authn_requests_signed: Option<bool>,
    pub want_assertions_signed: Option<bool>,
    pub assertion_consumer_services: Vec<IndexedEndpoint>,
    pub attribute_consuming_services: Vec<AttributeConsumingService>,
}

impl SpSsoDescriptor {
    /// The ACS with exactly this location (compared as strings: an IdP sends a Response only to
    /// a URL the SP's metadata lists).
    pub fn acs_by_url(&self, url: &str) -> Option<&IndexedEndpoint> {
        self.assertion_consumer_services
            .iter()
            .find(|e| e.endpoint.location == url)
    }

    pub fn acs_by_index(&self, index: u16) -> Option<&IndexedEndpoint> {
        self.assertion_consumer_services
            .iter()
            .find(|e| e.index == index)
    }

    pub fn default_acs(&self) -> Option<&IndexedEndpoint> {
        IndexedEndpoint::default_of(&self.assertion_consumer_services)
    }
}

impl SamlXml for SpSsoDescriptor {
    fn from_element(e: Element<'_>) -> Result<Self, SamlError> {
        expect(e, MD, "SPSSODescriptor")?;
        let (sso, mut c) = SsoDescriptor::parse(e)?;
        let assertion_consumer_services =
            IndexedEndpoint::parse_all(&mut c, "AssertionConsumerService")?;
        if assertion_consumer_services.is_empty() {
            return Err(SamlError::MissingElement {
                element: name(e),
                child: "AssertionConsumerService".into(),
            });
        }
        let attribute_consuming_services = c
            .many(MD, "AttributeConsumingService")
            .into_iter()
            .map(AttributeConsumingService::parse)
            .collect::<Result<_, _>>()?;
        c.finish()?;
        Ok(SpSsoDescriptor {
            sso,
            authn_requests_signed: opt_bool(e, "AuthnRequestsSigned")?,
            want_assertions_signed: opt_bool(e, "WantAssertionsSigned")?,
            assertion_consumer_services,
            attribute_consuming_services,
        })
    }

    fn write_element(&self, w: &mut XmlWriter, root: bool) {
        self.sso.open(w, "md:SPSSODescriptor", root);
        attr_bool(w, "AuthnRequestsSigned", self.authn_requests_signed);
        attr_bool(w, "WantAssertionsSigned", self.want_assertions_signed);
        self.sso.write_children(w);
        IndexedEndpoint::write_all(
            w,
            "md:AssertionConsumerService",
            &self.assertion_consumer_services,
        );
        for s in &self.attribute_consuming_services {
            s.write(w);
        }
        w.end();
    }
}

/// A role of an entity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Role {
    Idp(IdpSsoDescriptor),
    Sp(SpSsoDescriptor),
    /// Any other role descriptor (or an `AffiliationDescriptor`), kept whole.
    Other(OtherElement),
}

const OTHER_ROLES: &[&str] = &[
    "RoleDescriptor",
    "AuthnAuthorityDescriptor",
    "AttributeAuthorityDescriptor",
    "PDPDescriptor",
    "AffiliationDescriptor",
];

/// `md:EntityDescriptor`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntityDescriptor {
    pub entity_id: String,
    pub id: Option<String>,
    pub valid_until: Option<OffsetDateTime>,
    pub cache_duration: Option<String>,
    pub extensions: Option<MetadataExtensions>,
    pub roles: Vec<Role>,
    pub organization: Option<Organization>,
    pub contacts: Vec<ContactPerson>,
}

impl EntityDescriptor {
    pub fn new(entity_id: &str, roles: Vec<Role>) -> Self {
        EntityDescriptor {
            entity_id: entity_id.to_string(),
            id: None,
            valid_until: None,
            cache_duration: None,
            extensions: None,
            roles,
            organization: None,
            contacts: Vec::new(),
        }
    }

    /// The first IdP role supporting SAML 2.0.
    pub fn idp(&self) -> Option<&IdpSsoDescriptor> {
        self.roles.iter().find_map(|r| match r {
            Role::Idp(d) if d.sso.supports_saml2() => Some(d),
            _ => None,
        })
    }

    /// The first SP role supporting SAML 2.0.
    pub fn sp(&self) -> Option<&SpSsoDescriptor> {
        self.roles.iter().find_map(|r| match r {
            Role::Sp(d) if d.sso.supports_saml2() => Some(d),
            _ => None,
        })
    }
}

impl SamlXml for EntityDescriptor {
    fn from_element(e: Element<'_>) -> Result<Self, SamlError> {
        expect(e, MD, "EntityDescriptor")?;
        let entity_id = req_attr(e, "entityID")?;
        if entity_id.is_empty() || entity_id.len() > 1024 {
            return Err(invalid(
                e,
                "entityID",
                &entity_id,
                "empty or longer than 1024 characters",
            ));
        }
        let mut c = Children::of(e)?;
        c.skip_signature();
        let extensions = MetadataExtensions::parse_opt(&mut c)?;
        let mut roles = Vec::new();
        while let Some(r) = c.peek() {
            let role = if r.is(MD, "IDPSSODescriptor") {
                Role::Idp(IdpSsoDescriptor::from_element(r)?)
            } else if r.is(MD, "SPSSODescriptor") {
                Role::Sp(SpSsoDescriptor::from_element(r)?)
            } else if r.namespace() == Some(MD) && OTHER_ROLES.contains(&r.local_name()) {
                Role::Other(OtherElement::from_element(r)?)
            } else {
                break;
            };
            roles.push(role);
            c.next_any();
        }
        if roles.is_empty() {
            return Err(SamlError::MissingElement {
                element: name(e),
                child: "a role descriptor".into(),
            });
        }
        let organization = Organization::parse_opt(&mut c)?;
        let contacts = ContactPerson::parse_all(&mut c)?;
        // Informational pointers to other metadata; never followed.
        c.many(MD, "AdditionalMetadataLocation");
        c.finish()?;
        Ok(EntityDescriptor {
            entity_id,
            id: opt_id(e, "ID")?,
            valid_until: opt_time(e, "validUntil")?,
            cache_duration: opt_attr(e, "cacheDuration"),
            extensions,
            roles,
            organization,
            contacts,
        })
    }

    fn write_element(&self, w: &mut XmlWriter, root: bool) {
        open(w, "md:EntityDescriptor", root, ROOT_NAMESPACES);
        w.attr("entityID", &self.entity_id)
            .attr_opt("ID", self.id.as_deref());
        attr_time(w, "validUntil", self.valid_until);
        w.attr_opt("cacheDuration", self.cache_duration.as_deref());
        if let Some(x) = &self.extensions {
            x.write(w);
        }
        for r in &self.roles {
            match r {
                Role::Idp(d) => d.write(w),
                Role::Sp(d) => d.write(w),
                Role::Other(o) => {
                    w.raw(&o.xml);
                }
            }
        }
        if let Some(o) = &self.organization {
            o.write(w);
        }
        ContactPerson::write_all(w, &self.contacts);
        w.end();
    }
}

/// A member of an `EntitiesDescriptor`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EntitiesItem {
    Entity(EntityDescriptor),
    Group(EntitiesDescriptor),
}

/// `md:EntitiesDescriptor` (a metadata aggregate).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct EntitiesDescriptor {
    pub name: Option<String>,
    pub id: Option<String>,
    pub valid_until: Option<OffsetDateTime>,
    pub cache_duration: Option<String>,
    pub extensions: Option<MetadataExtensions>,
    pub items: Vec<EntitiesItem>,
}

impl EntitiesDescriptor {
    /// Every entity, nested groups included, in document order.
    pub fn entities(&self) -> Vec<&EntityDescriptor> {
        let mut out = Vec::new();
        self.collect(&mut out);
        out
    }

    fn collect<'a>(&'a self, out: &mut Vec<&'a EntityDescriptor>) {
        for item in &self.items {
            match item {
                EntitiesItem::Entity(e) => out.push(e),
                EntitiesItem::Group(g) => g.collect(out),
            }
        }
    }

    /// The entity with this entityID.
    pub fn find(&self, entity_id: &str) -> Option<&EntityDescriptor> {
        self.entities()
            .into_iter()
            .find(|e| e.entity_id == entity_id)
    }
}

impl SamlXml for EntitiesDescriptor {
    fn from_element(e: Element<'_>) -> Result<Self, SamlError> {
        expect(e, MD, "EntitiesDescriptor")?;
        let mut c = Children::of(e)?;
        c.skip_signature();
        let extensions = MetadataExtensions::parse_opt(&mut c)?;
        let mut items = Vec::new();
        loop {
            if let Some(x) = c.opt(MD, "EntityDescriptor") {
                items.push(EntitiesItem::Entity(EntityDescriptor::from_element(x)?));
            } else if let Some(x) = c.opt(MD, "EntitiesDescriptor") {
                items.push(EntitiesItem::Group(EntitiesDescriptor::from_element(x)?));
            } else {
                break;
            }
        }
        c.finish()?;
        if items.is_empty() {
            return Err(SamlError::MissingElement {
                element: name(e),
                child: "EntityDescriptor".into(),
            });
        }
        Ok(EntitiesDescriptor {
            name: opt_attr(e, "Name"),
            id: opt_id(e, "ID")?,
            valid_until: opt_time(e, "validUntil")?,
            cache_duration: opt_attr(e, "cacheDuration"),
            extensions,
            items,
        })
    }

    fn write_element(&self, w: &mut XmlWriter, root: bool) {
        open(w, "md:EntitiesDescriptor", root, ROOT_NAMESPACES);
        w.attr_opt("ID", self.id.as_deref());
        attr_time(w, "validUntil", self.valid_until);
        w.attr_opt("cacheDuration", self.cache_duration.as_deref())
            .attr_opt("Name", self.name.as_deref());
        if let Some(x) = &self.extensions {
            x.write(w);
        }
        for item in &self.items {
            match item {
                EntitiesItem::Entity(e) => e.write(w),
                EntitiesItem::Group(g) => g.write(w),
            }
        }
        w.end();
    }
}
