//! IdP side: checking an `AuthnRequest` (SAML profiles §4.1.4.1, core §3.4.1) against the
//! federation metadata before anything is shown to the resident.

use time::{Duration, OffsetDateTime};

use super::authn_context::{acceptable_authn_contexts, FEDERATION_CLASSES};
use super::{is_safe_endpoint, within_skew, DEFAULT_SKEW};
use crate::binding::{
    decode_redirect, BindingError, MessageKind, OpensslQueryVerifier, RedirectMessage,
    RedirectOptions,
};
use crate::dsig::{verify_enveloped, DsigError, VerifyPolicy};
use crate::ns::{DS, SAML, SAMLP};
use crate::saml::{
    bindings, nameid_format, status, AuthnRequest, IndexedEndpoint, RequestedAuthnContext,
    SamlError, SamlXml, SpSsoDescriptor, Status,
};
use crate::trust::TrustStore;
use crate::xml::{parse, Document, XmlError};

/// How the request arrived.
#[derive(Clone, Copy, Debug)]
pub enum AuthnRequestInput<'a> {
    /// HTTP-POST: the decoded `SAMLRequest` XML (from `binding::decode_post_form`).
    Post(&'a [u8]),
    /// HTTP-POST with the RelayState that came with it.
    PostWithRelayState(&'a [u8], Option<&'a str>),
    /// HTTP-Redirect: a message already decoded by `binding::decode_redirect`.
    Redirect(&'a RedirectMessage),
    /// HTTP-Redirect: the raw query string exactly as received; decoded here with
    /// [`IdpOptions::redirect`] (size caps, DEFLATE-bomb cap, duplicate parameters refused).
    RedirectQuery(&'a str),
}

/// Settings of the IdP checks.
#[derive(Clone, Debug)]
pub struct IdpOptions {
    /// Tolerated clock skew for `IssueInstant`.
    pub skew: Duration,
    /// The classes this IdP can assert, in its order of preference (weakest-first order of
    /// [`FEDERATION_CLASSES`] by default).
    pub available_classes: Vec<String>,
    /// Decoder options for [`AuthnRequestInput::RedirectQuery`].
    pub redirect: RedirectOptions,
    /// XML signature policy (SHA-1 off).
    pub policy: VerifyPolicy,
}

impl Default for IdpOptions {
    fn default() -> Self {
        IdpOptions {
            skew: DEFAULT_SKEW,
            available_classes: FEDERATION_CLASSES.iter().map(|c| c.to_string()).collect(),
            redirect: RedirectOptions::default(),
            policy: VerifyPolicy::default(),
        }
    }
}

/// Where an error `Response` may safely go: the SP is known, its signature (when required)
/// verified, and the ACS comes from its metadata.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ErrorRecipient {
    pub sp_entity: String,
    pub acs_url: String,
    pub acs_binding: String,
    pub in_response_to: String,
    pub relay_state: Option<String>,
}

/// What was wrong with a request.
#[derive(Debug, thiserror::Error)]
pub enum ProfileErrorKind {
    #[error("binding: {0}")]
    Binding(#[from] BindingError),
    #[error("not well-formed: {0}")]
    Xml(#[from] XmlError),
    #[error("the message is {0}, not samlp:AuthnRequest")]
    NotAuthnRequest(String),
    #[error("SAML version {0:?} is not 2.0")]
    VersionMismatch(String),
    #[error("the request has no Issuer")]
    MissingIssuer,
    #[error("Issuer Format {0:?} is not the entity format")]
    IssuerFormat(String),
    #[error("issuer {0:?} is not an SP of the federation metadata")]
    UnknownIssuer(String),
    #[error("this IdP ({0:?}) is not in the federation metadata")]
    IdpNotInMetadata(String),
    #[error("the federation metadata has expired")]
    MetadataExpired,
    #[error("the request must be signed (metadata says so) and is not")]
    Unsigned,
    #[error("request signature refused: {0}")]
    Signature(DsigError),
    #[error("Redirect query signature refused: {0}")]
    QuerySignature(BindingError),
    #[error("an HTTP-Redirect message must not carry an enveloped signature")]
    SignatureInRedirect,
    #[error("the request does not follow the schema: {0}")]
    Malformed(SamlError),
    #[error("AssertionConsumerServiceIndex is given with AssertionConsumerServiceURL or ProtocolBinding")]
    AcsIndexAndUrl,
    #[error("AssertionConsumerServiceURL {0:?} is not an https URL")]
    UnsafeAcsUrl(String),
    #[error("AssertionConsumerServiceURL {0:?} is not listed in the SP metadata for this binding")]
    UnlistedAcs(String),
    #[error("AssertionConsumerServiceIndex {0} is not in the SP metadata")]
    UnknownAcsIndex(u16),
    #[error("the SP metadata lists no ACS with a supported binding")]
    NoUsableAcs,
    #[error("protocol binding {0:?} is not supported (HTTP-POST and HTTP-Artifact are)")]
    UnsupportedBinding(String),
    #[error("the request has no Destination")]
    MissingDestination,
    #[error("Destination {found:?} is not this endpoint {expected:?}")]
    WrongDestination { expected: String, found: String },
    #[error("IssueInstant {instant} is not within the allowed skew of {now}")]
    IssueInstant {
        instant: OffsetDateTime,
        now: OffsetDateTime,
    },
    #[error("a Subject in an AuthnRequest is not supported")]
    SubjectUnsupported,
    #[error("NameIDPolicy cannot be met: {0}")]
    InvalidNameIdPolicy(String),
    #[error("the requested authentication context cannot be met")]
    NoAuthnContext,
    #[error("passive authentication is not possible")]
    NoPassive,
}

impl ProfileErrorKind {
    /// Top-level and second-level SAML status codes for this failure (SAML core §3.2.2.2).
    pub fn status_codes(&self) -> (&'static str, Option<&'static str>) {
        use ProfileErrorKind::*;
        match self {
            VersionMismatch(_) => (status::VERSION_MISMATCH, None),
            IdpNotInMetadata(_) | MetadataExpired => (status::RESPONDER, None),
            Binding(_) | Xml(_) | NotAuthnRequest(_) | Malformed(_) => (status::REQUESTER, None),
            UnsupportedBinding(_) => (status::REQUESTER, Some(status::UNSUPPORTED_BINDING)),
            InvalidNameIdPolicy(_) => (status::REQUESTER, Some(status::INVALID_NAMEID_POLICY)),
            NoAuthnContext => (status::REQUESTER, Some(status::NO_AUTHN_CONTEXT)),
            NoPassive => (status::REQUESTER, Some(status::NO_PASSIVE)),
            SubjectUnsupported | AcsIndexAndUrl => {
                (status::REQUESTER, Some(status::REQUEST_UNSUPPORTED))
            }
            MissingIssuer
            | IssuerFormat(_)
            | UnknownIssuer(_)
            | Unsigned
            | Signature(_)
            | QuerySignature(_)
            | SignatureInRedirect
            | UnsafeAcsUrl(_)
            | UnlistedAcs(_)
            | UnknownAcsIndex(_)
            | NoUsableAcs
            | MissingDestination
            | WrongDestination { .. }
            | IssueInstant { .. } => (status::REQUESTER, Some(status::REQUEST_DENIED)),
        }
    }

    /// A short `StatusMessage` that names the problem without echoing request content.
    pub fn status_message(&self) -> &'static str {
        use ProfileErrorKind::*;
        match self {
            VersionMismatch(_) => "SAML version 2.0 is required",
            Unsigned | Signature(_) | QuerySignature(_) | SignatureInRedirect => {
                "request signature missing or invalid"
            }
            UnsupportedBinding(_) => "response binding not supported",
            InvalidNameIdPolicy(_) => "NameIDPolicy cannot be met",
            NoAuthnContext => "requested authentication context cannot be met",
            NoPassive => "passive authentication not possible",
            SubjectUnsupported | AcsIndexAndUrl => "request not supported",
            MissingDestination | WrongDestination { .. } => "wrong Destination",
            IssueInstant { .. } => "request too old or from the future",
            _ => "request denied",
        }
    }
}

/// A refused request: what was wrong, and where an error `Response` may go if anywhere.
#[derive(Debug, thiserror::Error)]
#[error("{kind}")]
pub struct ProfileError {
    pub kind: ProfileErrorKind,
    respond_to: Option<Box<ErrorRecipient>>,
}

impl ProfileError {
    fn new(kind: impl Into<ProfileErrorKind>) -> Self {
        ProfileError {
            kind: kind.into(),
            respond_to: None,
        }
    }

    fn respondable(kind: ProfileErrorKind, to: ErrorRecipient) -> Self {
        ProfileError {
            kind,
            respond_to: Some(Box::new(to)),
        }
    }

    /// The SAML status to answer with.
    pub fn status(&self) -> Status {
        let (top, second) = self.kind.status_codes();
        let mut s = Status::new(top, second);
        s.message = Some(self.kind.status_message().to_string());
        s
    }

    /// Whether an error `Response` may be sent: only when the issuer is a known SP (its
    /// signature verified when one is required) and the ACS was taken from its metadata. Else
    /// the IdP shows its own error page and sends nothing (never POST to a URL from an
    /// unverified request: crewjam CVE-2023-45683).
    pub fn can_respond(&self) -> bool {
        self.respond_to.is_some()
    }

    /// Where the error `Response` goes, when [`ProfileError::can_respond`].
    pub fn respond_to(&self) -> Option<&ErrorRecipient> {
        self.respond_to.as_deref()
    }
}

/// An `AuthnRequest` that passed every check: the typed request and what the IdP does with it.
#[derive(Clone, Debug)]
pub struct ValidatedAuthnRequest {
    /// The request, parsed from the bytes its signature covered (when signed).
    pub request: AuthnRequest,
    pub id: String,
    pub sp_entity: String,
    /// The ACS the Response goes to, from the SP's metadata.
    pub acs_url: String,
    pub acs_binding: String,
    pub acs_index: u16,
    pub relay_state: Option<String>,
    /// Whether a signature (enveloped or query) was verified.
    pub signed: bool,
    pub force_authn: bool,
    pub is_passive: bool,
    /// The NameID format to issue: persistent (the pairwise identifier of DESIGN principle 2)
    /// unless the SP asked for transient.
    pub name_id_format: String,
    /// `AllowCreate` (absent = false, SAML core §3.4.1.1).
    pub allow_create: bool,
    /// The class to assert (the first of `acceptable_classes`).
    pub authn_context: String,
    /// Every available class that satisfies the request, best first.
    pub acceptable_classes: Vec<String>,
    pub requested_authn_context: Option<RequestedAuthnContext>,
    /// `WantAssertionsSigned` of the SP (assertions are signed whatever it says).
    pub sp_wants_assertions_signed: bool,
}

impl ValidatedAuthnRequest {
    /// Where an error `Response` to this request goes.
    pub fn error_recipient(&self) -> ErrorRecipient {
        ErrorRecipient {
            sp_entity: self.sp_entity.clone(),
            acs_url: self.acs_url.clone(),
            acs_binding: self.acs_binding.clone(),
            in_response_to: self.id.clone(),
            relay_state: self.relay_state.clone(),
        }
    }

    /// A failure found after the checks (authentication failed, passive not possible …), to be
    /// answered with an error `Response`.
    pub fn error(&self, kind: ProfileErrorKind) -> ProfileError {
        ProfileError::respondable(kind, self.error_recipient())
    }

    /// The answer when the request is passive and the resident has no session (or ForceAuthn
    /// and IsPassive together ask the impossible): `NoPassive`.
    pub fn no_passive(&self) -> ProfileError {
        self.error(ProfileErrorKind::NoPassive)
    }

    /// Honours `AllowCreate`: a persistent identifier that does not exist yet for this SP may be
    /// created only when the SP allowed it (SAML core §3.4.1.1). The federation's pairwise
    /// identifiers are created at a resident's first login at an SP, which an SP that sent
    /// `AllowCreate="false"` has refused.
    pub fn check_name_id_creation(&self, identifier_exists: bool) -> Result<(), ProfileError> {
        if identifier_exists || self.allow_create || self.name_id_format == nameid_format::TRANSIENT
        {
            Ok(())
        } else {
            Err(self.error(ProfileErrorKind::InvalidNameIdPolicy(
                "no identifier exists and AllowCreate is false".into(),
            )))
        }
    }
}

/// Checks an `AuthnRequest` with the default options. `idp_entity` is this IdP's entity ID;
/// `sso_endpoint_url` the URL of the endpoint it arrived at (its `Destination` must name it).
pub fn check_authn_request(
    input: AuthnRequestInput<'_>,
    trust: &TrustStore,
    idp_entity: &str,
    sso_endpoint_url: &str,
    now: OffsetDateTime,
) -> Result<ValidatedAuthnRequest, ProfileError> {
    check_authn_request_with(
        input,
        trust,
        idp_entity,
        sso_endpoint_url,
        now,
        &IdpOptions::default(),
    )
}

/// Response bindings the IdP answers with.
fn supported_binding(b: &str) -> bool {
    b == bindings::HTTP_POST || b == bindings::HTTP_ARTIFACT
}

/// Checks an `AuthnRequest` with explicit options.
pub fn check_authn_request_with(
    input: AuthnRequestInput<'_>,
    trust: &TrustStore,
    idp_entity: &str,
    sso_endpoint_url: &str,
    now: OffsetDateTime,
    options: &IdpOptions,
) -> Result<ValidatedAuthnRequest, ProfileError> {
    // Metadata is the only source of peers; expired metadata is no source at all.
    if !trust.is_current(now) {
        return Err(ProfileError::new(ProfileErrorKind::MetadataExpired));
    }
    let idp_want_signed = match trust.idp(idp_entity) {
        Some(d) => d.want_authn_requests_signed == Some(true),
        None => {
            return Err(ProfileError::new(ProfileErrorKind::IdpNotInMetadata(
                idp_entity.to_string(),
            )))
        }
    };

    // Decode the binding (size and DEFLATE caps, duplicate parameters: attacks.md "Deflate
    // bomb", "Redirect binding").
    let decoded;
    let (xml, redirect, relay_state): (&[u8], Option<&RedirectMessage>, Option<String>) =
        match input {
            AuthnRequestInput::Post(xml) => (xml, None, None),
            AuthnRequestInput::PostWithRelayState(xml, rs) => (xml, None, rs.map(str::to_string)),
            AuthnRequestInput::Redirect(m) => (&m.xml, Some(m), m.relay_state.clone()),
            AuthnRequestInput::RedirectQuery(q) => {
                decoded = decode_redirect(q, &options.redirect).map_err(ProfileError::new)?;
                (&decoded.xml, Some(&decoded), decoded.relay_state.clone())
            }
        };
    if let Some(m) = redirect {
        if m.kind != MessageKind::Request {
            return Err(ProfileError::new(ProfileErrorKind::NotAuthnRequest(
                "SAMLResponse".into(),
            )));
        }
    }

    // One parser; no DOCTYPE, no entities.
    let doc = parse(xml).map_err(ProfileError::new)?;
    let root = doc.root();
    if !root.is(SAMLP, "AuthnRequest") {
        return Err(ProfileError::new(ProfileErrorKind::NotAuthnRequest(
            root.qualified_name(),
        )));
    }
    // VersionMismatch is the one status SAML defines for this (core §3.2.2.2); checked before
    // the typed parse, which refuses any other version.
    let version = root.attr("Version").unwrap_or("");
    if version != crate::saml::VERSION {
        return Err(ProfileError::new(ProfileErrorKind::VersionMismatch(
            version.to_string(),
        )));
    }

    // The issuer selects the keys, so it is read before verification and confirmed after.
    // SAML profiles §4.1.4.1: Issuer is required, with the entity format or none.
    let issuer_el = root
        .first(SAML, "Issuer")
        .ok_or_else(|| ProfileError::new(ProfileErrorKind::MissingIssuer))?;
    let issuer = issuer_el
        .text()
        .map_err(|_| ProfileError::new(ProfileErrorKind::MissingIssuer))?
        .trim()
        .to_string();
    if issuer.is_empty() {
        return Err(ProfileError::new(ProfileErrorKind::MissingIssuer));
    }
    if let Some(f) = issuer_el.attr("Format") {
        if f != nameid_format::ENTITY {
            return Err(ProfileError::new(ProfileErrorKind::IssuerFormat(
                f.to_string(),
            )));
        }
    }
    let sp: &SpSsoDescriptor = trust
        .sp(&issuer)
        .ok_or_else(|| ProfileError::new(ProfileErrorKind::UnknownIssuer(issuer.clone())))?;
    let keys = trust.sp_signing_keys(&issuer);
    let required = sp.authn_requests_signed == Some(true) || idp_want_signed;

    // Signature (SAML profiles §4.1.4.1; metadata §2.4.4 AuthnRequestsSigned, §2.4.3
    // WantAuthnRequestsSigned). A signature that is present is always checked.
    let enveloped = root.first(DS, "Signature").is_some();
    let verified_doc: Document;
    let mut signed = false;
    let request_root = if let Some(m) = redirect {
        if enveloped {
            // SAML bindings §3.4.4.1: the XML signature must be removed for Redirect.
            return Err(ProfileError::new(ProfileErrorKind::SignatureInRedirect));
        }
        match &m.signature {
            Some(_) => {
                let verifier = OpensslQueryVerifier::new(
                    keys.iter().map(|k| k.public_key().clone()).collect(),
                );
                m.verify(&verifier)
                    .map_err(|e| ProfileError::new(ProfileErrorKind::QuerySignature(e)))?;
                signed = true;
            }
            None if required => return Err(ProfileError::new(ProfileErrorKind::Unsigned)),
            None => {}
        }
        root
    } else if enveloped {
        // "What was verified is what is used": the request is parsed from the canonical bytes
        // the signature covers (attacks.md, XSW family; samael accepted a signed request wrapped
        // in the Extensions of a forged one).
        let v = verify_enveloped(root, keys, &options.policy)
            .map_err(|e| ProfileError::new(ProfileErrorKind::Signature(e)))?;
        verified_doc = v.document().map_err(ProfileError::new)?;
        signed = true;
        verified_doc.root()
    } else if required {
        return Err(ProfileError::new(ProfileErrorKind::Unsigned));
    } else {
        root
    };

    let request = AuthnRequest::from_element(request_root)
        .map_err(|e| ProfileError::new(ProfileErrorKind::Malformed(e)))?;
    // The verified request names the same issuer whose keys verified it.
    if request.header.issuer.as_ref().map(|i| i.value.trim()) != Some(issuer.as_str()) {
        return Err(ProfileError::new(ProfileErrorKind::MissingIssuer));
    }
    let id = request.header.id.clone();

    // The ACS: from metadata only, never a URL the request alone names (attacks.md "IdP-side
    // ACS"; SAML core §3.4.1: the index excludes the URL and the binding).
    let acs = resolve_acs(&request, sp).map_err(|kind| {
        // An unsupported binding may still be answered at the SP's default usable ACS.
        let to = match kind {
            ProfileErrorKind::UnsupportedBinding(_) => default_usable_acs(sp),
            _ => None,
        };
        match to {
            Some(ep) => {
                ProfileError::respondable(kind, recipient(&issuer, ep, &id, relay_state.as_deref()))
            }
            None => ProfileError::new(kind),
        }
    })?;
    let to = recipient(&issuer, acs, &id, relay_state.as_deref());
    let fail = |kind: ProfileErrorKind| ProfileError::respondable(kind, to.clone());

    // Destination (profile decision 2; SAML bindings §3.4.5.2/§3.5.5.2): the request was meant
    // for this endpoint.
    match request.header.destination.as_deref() {
        None => return Err(fail(ProfileErrorKind::MissingDestination)),
        Some(d) if d != sso_endpoint_url => {
            return Err(fail(ProfileErrorKind::WrongDestination {
                expected: sso_endpoint_url.to_string(),
                found: d.to_string(),
            }))
        }
        Some(_) => {}
    }
    // Freshness (attacks.md "Freshness").
    if !within_skew(request.header.issue_instant, now, options.skew) {
        return Err(fail(ProfileErrorKind::IssueInstant {
            instant: request.header.issue_instant,
            now,
        }));
    }
    if request.subject.is_some() {
        return Err(fail(ProfileErrorKind::SubjectUnsupported));
    }

    // NameIDPolicy (SAML core §3.4.1.1): persistent (pairwise), transient or unspecified; an
    // SPNameQualifier other than the SP itself would ask for an affiliation's identifier.
    let policy = request.name_id_policy.clone().unwrap_or_default();
    let name_id_format = match policy.format.as_deref() {
        None | Some(nameid_format::UNSPECIFIED) | Some(nameid_format::PERSISTENT) => {
            nameid_format::PERSISTENT
        }
        Some(nameid_format::TRANSIENT) => nameid_format::TRANSIENT,
        Some(other) => {
            return Err(fail(ProfileErrorKind::InvalidNameIdPolicy(format!(
                "format {other:?} is not supported"
            ))))
        }
    };
    if let Some(q) = policy.sp_name_qualifier.as_deref() {
        if q != issuer {
            return Err(fail(ProfileErrorKind::InvalidNameIdPolicy(format!(
                "SPNameQualifier {q:?} is not the requester"
            ))));
        }
    }

    // RequestedAuthnContext over the federation's ordered classes.
    let available: Vec<&str> = options
        .available_classes
        .iter()
        .map(String::as_str)
        .collect();
    let acceptable =
        acceptable_authn_contexts(request.requested_authn_context.as_ref(), &available);
    let Some(selected) = acceptable.first() else {
        return Err(fail(ProfileErrorKind::NoAuthnContext));
    };

    Ok(ValidatedAuthnRequest {
        id,
        sp_entity: issuer,
        acs_url: to.acs_url.clone(),
        acs_binding: to.acs_binding.clone(),
        acs_index: acs.index,
        relay_state,
        signed,
        force_authn: request.force_authn.unwrap_or(false),
        is_passive: request.is_passive.unwrap_or(false),
        name_id_format: name_id_format.to_string(),
        allow_create: policy.allow_create.unwrap_or(false),
        authn_context: selected.to_string(),
        acceptable_classes: acceptable.iter().map(|c| c.to_string()).collect(),
        requested_authn_context: request.requested_authn_context.clone(),
        sp_wants_assertions_signed: sp.want_assertions_signed == Some(true),
        request,
    })
}

fn recipient(
    sp_entity: &str,
    ep: &IndexedEndpoint,
    in_response_to: &str,
    relay_state: Option<&str>,
) -> ErrorRecipient {
    ErrorRecipient {
        sp_entity: sp_entity.to_string(),
        acs_url: ep.endpoint.location.clone(),
        acs_binding: ep.endpoint.binding.clone(),
        in_response_to: in_response_to.to_string(),
        relay_state: relay_state.map(str::to_string),
    }
}

/// The default ACS among those with a binding the IdP answers with (metadata §2.2.3 rules).
fn default_usable_acs(sp: &SpSsoDescriptor) -> Option<&IndexedEndpoint> {
    let usable: Vec<IndexedEndpoint> = sp
        .assertion_consumer_services
        .iter()
        .filter(|e| {
            supported_binding(&e.endpoint.binding) && is_safe_endpoint(&e.endpoint.location)
        })
        .cloned()
        .collect();
    let chosen = IndexedEndpoint::default_of(&usable)?;
    sp.assertion_consumer_services
        .iter()
        .find(|e| e.index == chosen.index && e.endpoint == chosen.endpoint)
}

fn resolve_acs<'a>(
    request: &AuthnRequest,
    sp: &'a SpSsoDescriptor,
) -> Result<&'a IndexedEndpoint, ProfileErrorKind> {
    let url = request.assertion_consumer_service_url.as_deref();
    let binding = request.protocol_binding.as_deref();
    if request.assertion_consumer_service_index.is_some() && (url.is_some() || binding.is_some()) {
        return Err(ProfileErrorKind::AcsIndexAndUrl);
    }
    if let Some(b) = binding {
        if !supported_binding(b) {
            return Err(ProfileErrorKind::UnsupportedBinding(b.to_string()));
        }
    }
    let acs = if let Some(url) = url {
        if !is_safe_endpoint(url) {
            return Err(ProfileErrorKind::UnsafeAcsUrl(url.to_string()));
        }
        // Exact string comparison with the metadata (no normalization: what the SP registered
        // is what it gets).
        let listed: Vec<&IndexedEndpoint> = sp
            .assertion_consumer_services
            .iter()
            .filter(|e| e.endpoint.location == url)
            .collect();
        let matching = match binding {
            Some(b) => listed.iter().find(|e| e.endpoint.binding == b),
            None => listed
                .iter()
                .find(|e| e.endpoint.binding == bindings::HTTP_POST)
                .or_else(|| {
                    listed
                        .iter()
                        .find(|e| supported_binding(&e.endpoint.binding))
                }),
        };
        match matching {
            Some(e) => *e,
            None if listed.is_empty() || binding.is_some() => {
                return Err(ProfileErrorKind::UnlistedAcs(url.to_string()))
            }
            None => {
                return Err(ProfileErrorKind::UnsupportedBinding(
                    listed[0].endpoint.binding.clone(),
                ))
            }
        }
    } else if let Some(index) = request.assertion_consumer_service_index {
        let e = sp
            .acs_by_index(index)
            .ok_or(ProfileErrorKind::UnknownAcsIndex(index))?;
        if !supported_binding(&e.endpoint.binding) {
            return Err(ProfileErrorKind::UnsupportedBinding(
                e.endpoint.binding.clone(),
            ));
        }
        e
    } else {
        let candidates: Vec<&IndexedEndpoint> = sp
            .assertion_consumer_services
            .iter()
            .filter(|e| binding.is_none_or(|b| e.endpoint.binding == b))
            .collect();
        if candidates.is_empty() {
            return Err(ProfileErrorKind::NoUsableAcs);
        }
        default_usable_acs(sp)
            .filter(|e| binding.is_none_or(|b| e.endpoint.binding == b))
            .or_else(|| {
                candidates
                    .into_iter()
                    .find(|e| supported_binding(&e.endpoint.binding))
            })
            .ok_or(ProfileErrorKind::NoUsableAcs)?
    };
    // Metadata is trusted, but a bad URL in it is still never used.
    if !is_safe_endpoint(&acs.endpoint.location) {
        return Err(ProfileErrorKind::UnsafeAcsUrl(
            acs.endpoint.location.clone(),
        ));
    }
    Ok(acs)
}
