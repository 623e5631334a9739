//! Fixed SAML 2.0 identifiers (SAML core §3.2.2.2, §8; bindings §3; profiles §3).

/// The only `Version` accepted and written.
pub const VERSION: &str = "2.0";

/// The protocol URI listed in metadata `protocolSupportEnumeration`.
pub const PROTOCOL: &str = "urn:oasis:names:tc:SAML:2.0:protocol";

/// Status codes (SAML core §3.2.2.2). The first four are top-level codes.
pub mod status {
    pub const SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";
    pub const REQUESTER: &str = "urn:oasis:names:tc:SAML:2.0:status:Requester";
    pub const RESPONDER: &str = "urn:oasis:names:tc:SAML:2.0:status:Responder";
    pub const VERSION_MISMATCH: &str = "urn:oasis:names:tc:SAML:2.0:status:VersionMismatch";

    pub const AUTHN_FAILED: &str = "urn:oasis:names:tc:SAML:2.0:status:AuthnFailed";
    pub const INVALID_ATTR_NAME_OR_VALUE: &str =
        "urn:oasis:names:tc:SAML:2.0:status:InvalidAttrNameOrValue";
    pub const INVALID_NAMEID_POLICY: &str =
        "urn:oasis:names:tc:SAML:2.0:status:InvalidNameIDPolicy";
    pub const NO_AUTHN_CONTEXT: &str = "urn:oasis:names:tc:SAML:2.0:status:NoAuthnContext";
    pub const NO_AVAILABLE_IDP: &str = "urn:oasis:names:tc:SAML:2.0:status:NoAvailableIDP";
    pub const NO_PASSIVE: &str = "urn:oasis:names:tc:SAML:2.0:status:NoPassive";
    pub const NO_SUPPORTED_IDP: &str = "urn:oasis:names:tc:SAML:2.0:status:NoSupportedIDP";
    pub const PARTIAL_LOGOUT: &str = "urn:oasis:names:tc:SAML:2.0:status:PartialLogout";
    pub const PROXY_COUNT_EXCEEDED: &str = "urn:oasis:names:tc:SAML:2.0:status:ProxyCountExceeded";
    pub const REQUEST_DENIED: &str = "urn:oasis:names:tc:SAML:2.0:status:RequestDenied";
    pub const REQUEST_UNSUPPORTED: &str = "urn:oasis:names:tc:SAML:2.0:status:RequestUnsupported";
    pub const REQUEST_VERSION_DEPRECATED: &str =
        "urn:oasis:names:tc:SAML:2.0:status:RequestVersionDeprecated";
    pub const REQUEST_VERSION_TOO_HIGH: &str =
        "urn:oasis:names:tc:SAML:2.0:status:RequestVersionTooHigh";
    pub const REQUEST_VERSION_TOO_LOW: &str =
        "urn:oasis:names:tc:SAML:2.0:status:RequestVersionTooLow";
    pub const RESOURCE_NOT_RECOGNIZED: &str =
        "urn:oasis:names:tc:SAML:2.0:status:ResourceNotRecognized";
    pub const TOO_MANY_RESPONSES: &str = "urn:oasis:names:tc:SAML:2.0:status:TooManyResponses";
    pub const UNKNOWN_ATTR_PROFILE: &str = "urn:oasis:names:tc:SAML:2.0:status:UnknownAttrProfile";
    pub const UNKNOWN_PRINCIPAL: &str = "urn:oasis:names:tc:SAML:2.0:status:UnknownPrincipal";
    pub const UNSUPPORTED_BINDING: &str = "urn:oasis:names:tc:SAML:2.0:status:UnsupportedBinding";

    /// Whether `code` may stand as the top-level status code.
    pub fn is_top_level(code: &str) -> bool {
        matches!(code, SUCCESS | REQUESTER | RESPONDER | VERSION_MISMATCH)
    }
}

/// Name identifier formats (SAML core §8.3).
pub mod nameid_format {
    pub const UNSPECIFIED: &str = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified";
    pub const EMAIL: &str = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress";
    pub const X509_SUBJECT: &str = "urn:oasis:names:tc:SAML:1.1:nameid-format:X509SubjectName";
    pub const WINDOWS_DOMAIN: &str =
        "urn:oasis:names:tc:SAML:1.1:nameid-format:WindowsDomainQualifiedName";
    pub const KERBEROS: &str = "urn:oasis:names:tc:SAML:2.0:nameid-format:kerberos";
    pub const ENTITY: &str = "urn:oasis:names:tc:SAML:2.0:nameid-format:entity";
    pub const PERSISTENT: &str = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent";
    pub const TRANSIENT: &str = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient";
    pub const ENCRYPTED: &str = "urn:oasis:names:tc:SAML:2.0:nameid-format:encrypted";
}

/// Binding URIs (SAML bindings §3).
pub mod bindings {
    pub const HTTP_REDIRECT: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect";
    pub const HTTP_POST: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST";
    pub const HTTP_ARTIFACT: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Artifact";
    pub const SOAP: &str = "urn:oasis:names:tc:SAML:2.0:bindings:SOAP";
    pub const PAOS: &str = "urn:oasis:names:tc:SAML:2.0:bindings:PAOS";
    pub const URI: &str = "urn:oasis:names:tc:SAML:2.0:bindings:URI";
}

/// Subject confirmation methods (SAML profiles §3).
pub mod confirmation {
    pub const BEARER: &str = "urn:oasis:names:tc:SAML:2.0:cm:bearer";
    pub const HOLDER_OF_KEY: &str = "urn:oasis:names:tc:SAML:2.0:cm:holder-of-key";
    pub const SENDER_VOUCHES: &str = "urn:oasis:names:tc:SAML:2.0:cm:sender-vouches";
}

/// Authentication context classes (SAML authn context §3.4) used by the federation.
pub mod authn_context {
    pub const UNSPECIFIED: &str = "urn:oasis:names:tc:SAML:2.0:ac:classes:unspecified";
    pub const PASSWORD: &str = "urn:oasis:names:tc:SAML:2.0:ac:classes:Password";
    pub const PASSWORD_PROTECTED_TRANSPORT: &str =
        "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport";
    pub const X509: &str = "urn:oasis:names:tc:SAML:2.0:ac:classes:X509";
    pub const SMARTCARD: &str = "urn:oasis:names:tc:SAML:2.0:ac:classes:Smartcard";
    pub const SMARTCARD_PKI: &str = "urn:oasis:names:tc:SAML:2.0:ac:classes:SmartcardPKI";
    pub const SOFTWARE_PKI: &str = "urn:oasis:names:tc:SAML:2.0:ac:classes:SoftwarePKI";
    pub const TLS_CLIENT: &str = "urn:oasis:names:tc:SAML:2.0:ac:classes:TLSClient";
}

/// Attribute name formats (SAML core §8.2).
pub mod attrname_format {
    pub const UNSPECIFIED: &str = "urn:oasis:names:tc:SAML:2.0:attrname-format:unspecified";
    pub const URI: &str = "urn:oasis:names:tc:SAML:2.0:attrname-format:uri";
    pub const BASIC: &str = "urn:oasis:names:tc:SAML:2.0:attrname-format:basic";
}

/// Consent identifiers (SAML core §8.4).
pub mod consent {
    pub const UNSPECIFIED: &str = "urn:oasis:names:tc:SAML:2.0:consent:unspecified";
    pub const OBTAINED: &str = "urn:oasis:names:tc:SAML:2.0:consent:obtained";
    pub const PRIOR: &str = "urn:oasis:names:tc:SAML:2.0:consent:prior";
    pub const IMPLICIT: &str = "urn:oasis:names:tc:SAML:2.0:consent:current-implicit";
    pub const EXPLICIT: &str = "urn:oasis:names:tc:SAML:2.0:consent:current-explicit";
    pub const UNAVAILABLE: &str = "urn:oasis:names:tc:SAML:2.0:consent:unavailable";
    pub const INAPPLICABLE: &str = "urn:oasis:names:tc:SAML:2.0:consent:inapplicable";
}
