//! Namespace URIs and fixed identifiers, defined once for every crate.

pub const SAML: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
pub const SAMLP: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
pub const MD: &str = "urn:oasis:names:tc:SAML:2.0:metadata";
pub const ALG: &str = "urn:oasis:names:tc:SAML:metadata:algsupport";
pub const DS: &str = "http://www.w3.org/2000/09/xmldsig#";
pub const DS11: &str = "http://www.w3.org/2009/xmldsig11#";
pub const XENC: &str = "http://www.w3.org/2001/04/xmlenc#";
pub const XENC11: &str = "http://www.w3.org/2009/xmlenc11#";
pub const XSI: &str = "http://www.w3.org/2001/XMLSchema-instance";
pub const XS: &str = "http://www.w3.org/2001/XMLSchema";
pub const SOAP11: &str = "http://schemas.xmlsoap.org/soap/envelope/";
pub const WSA: &str = "http://www.w3.org/2005/08/addressing";
pub const WSSE: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd";
pub const WSSE11: &str = "http://docs.oasis-open.org/wss/oasis-wss-wssecurity-secext-1.1.xsd";
pub const WSU: &str = crate::xml::WSU_NS;
pub const DISCO: &str = "urn:liberty:disco:2006-08";
pub const SB: &str = "urn:liberty:sb:2006-08";
pub const SBF: &str = "urn:liberty:sb";
pub const SEC: &str = "urn:liberty:security:2006-08";
pub const LU: &str = "urn:liberty:util:2006-08";
