//! IdP side: building the signed `Response` (SAML profiles §4.1.4.2) and error Responses.
//!
//! Order of operations: the Assertion is written from the typed model and signed (enveloped,
//! the signer's algorithm, SHA-256 digest); then, when a recipient is given, the signed
//! Assertion is encrypted into `saml:EncryptedAssertion` (sign-then-encrypt, so the SP verifies
//! the IdP's signature on what it decrypted); then the Response is signed. Both signatures use
//! an InclusiveNamespaces PrefixList `xs xst` so that the namespace of `xsi:type="xs:string"`
//! values survives exclusive canonicalization and the verifier can parse its typed assertion
//! from the canonical bytes.

use time::{Duration, OffsetDateTime};

use super::idp::ProfileError;
use super::new_id;
use crate::dsig::{sign_enveloped, DsigError, SignOptions, Signer};
use crate::saml::{
    confirmation, nameid_format, Assertion, Attribute, AttributeItem, AttributeStatement,
    AudienceRestriction, AuthnContext, AuthnStatement, Conditions, NameId, Response, SamlXml,
    Statement, Status, StatusResponseHeader, Subject, SubjectConfirmation, SubjectConfirmationData,
    SubjectId,
};
use crate::xenc::{encrypt_element, EncryptOptions, Recipient, XencError};

/// Why a Response could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("signing: {0}")]
    Sign(#[from] DsigError),
    #[error("encryption: {0}")]
    Encrypt(#[from] XencError),
}

/// The signing options of the profile: SHA-256 digest, certificate in `KeyInfo` as a hint, and
/// the PrefixList that keeps `xs`/`xst` (used only inside `xsi:type` values) in the canonical
/// form.
pub fn profile_sign_options() -> SignOptions {
    SignOptions {
        inclusive_prefixes: Some("xs xst".to_string()),
        ..SignOptions::default()
    }
}

/// Lifetimes of what the IdP issues.
#[derive(Clone, Copy, Debug)]
pub struct Lifetimes {
    /// `Conditions/@NotOnOrAfter` − now.
    pub assertion: Duration,
    /// Bearer `SubjectConfirmationData/@NotOnOrAfter` − now (how long the browser has to
    /// deliver the Response).
    pub confirmation: Duration,
    /// `AuthnStatement/@SessionNotOnOrAfter` − now; `None` leaves the SP session to the SP.
    pub session: Option<Duration>,
}

impl Default for Lifetimes {
    fn default() -> Self {
        Lifetimes {
            assertion: Duration::minutes(5),
            confirmation: Duration::minutes(5),
            session: Some(Duration::hours(8)),
        }
    }
}

/// What goes into a successful Response.
pub struct ResponseParams<'a> {
    /// This IdP's entity ID.
    pub issuer: &'a str,
    /// The SP's entity ID (the audience).
    pub sp_entity: &'a str,
    /// The ACS URL from the SP's metadata (`Destination` and `Recipient`).
    pub acs_url: &'a str,
    /// The request ID; `None` for an IdP-initiated Response.
    pub in_response_to: Option<&'a str>,
    /// The subject's identifier (for the portal: the pairwise persistent NameID).
    pub name_id: NameId,
    pub session_index: Option<String>,
    pub authn_instant: OffsetDateTime,
    pub authn_context_class: &'a str,
    /// Attributes; values may be text or whole elements (`AttributeValue::Element`, such as
    /// the `wsa:EndpointReference` of the `DiscoveryEPR` attribute).
    pub attributes: Vec<Attribute>,
    pub now: OffsetDateTime,
    pub lifetimes: Lifetimes,
    /// Encrypt the (signed) assertion to this SP key.
    pub encrypt_to: Option<&'a Recipient>,
    pub encrypt_options: EncryptOptions,
}

impl<'a> ResponseParams<'a> {
    /// Parameters with the default lifetimes, no attributes and no encryption.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        issuer: &'a str,
        sp_entity: &'a str,
        acs_url: &'a str,
        in_response_to: Option<&'a str>,
        name_id: NameId,
        authn_context_class: &'a str,
        now: OffsetDateTime,
    ) -> Self {
        ResponseParams {
            issuer,
            sp_entity,
            acs_url,
            in_response_to,
            name_id,
            session_index: Some(new_id()),
            authn_instant: now,
            authn_context_class,
            attributes: Vec::new(),
            now,
            lifetimes: Lifetimes::default(),
            encrypt_to: None,
            encrypt_options: EncryptOptions::default(),
        }
    }
}

/// A built Response and the identifiers the IdP logs.
#[derive(Clone, Debug)]
pub struct BuiltResponse {
    /// The signed `samlp:Response` document, ready for the POST binding.
    pub xml: String,
    pub response_id: String,
    /// `None` for an error Response.
    pub assertion_id: Option<String>,
    /// When the assertion stops being usable (the earlier of Conditions and confirmation).
    pub not_on_or_after: Option<OffsetDateTime>,
}

fn entity_issuer(entity: &str) -> NameId {
    NameId::with_format(entity, nameid_format::ENTITY)
}

/// Builds and signs a successful Response: the signed Assertion (optionally encrypted) inside a
/// signed Response.
pub fn build_response(
    params: &ResponseParams<'_>,
    signer: &dyn Signer,
) -> Result<BuiltResponse, BuildError> {
    let options = profile_sign_options();
    let now = params.now;
    let assertion_id = new_id();
    let response_id = new_id();
    let confirmation_until = now + params.lifetimes.confirmation;
    let conditions_until = now + params.lifetimes.assertion;

    let mut statements = vec![Statement::Authn(AuthnStatement {
        authn_instant: params.authn_instant,
        session_index: params.session_index.clone(),
        session_not_on_or_after: params.lifetimes.session.map(|d| now + d),
        subject_locality: None,
        authn_context: AuthnContext::class(params.authn_context_class),
    })];
    if !params.attributes.is_empty() {
        statements.push(Statement::Attribute(AttributeStatement {
            items: params
                .attributes
                .iter()
                .cloned()
                .map(AttributeItem::Plain)
                .collect(),
        }));
    }
    let assertion = Assertion {
        id: assertion_id.clone(),
        issue_instant: now,
        issuer: entity_issuer(params.issuer),
        subject: Some(Subject {
            id: Some(SubjectId::NameId(params.name_id.clone())),
            confirmations: vec![SubjectConfirmation {
                method: confirmation::BEARER.to_string(),
                id: None,
                data: Some(SubjectConfirmationData {
                    not_on_or_after: Some(confirmation_until),
                    recipient: Some(params.acs_url.to_string()),
                    in_response_to: params.in_response_to.map(str::to_string),
                    ..Default::default()
                }),
            }],
        }),
        conditions: Some(Conditions {
            not_before: Some(now),
            not_on_or_after: Some(conditions_until),
            audience_restrictions: vec![AudienceRestriction {
                audiences: vec![params.sp_entity.to_string()],
            }],
            ..Default::default()
        }),
        advice: None,
        statements,
    };
    let signed_assertion = sign_enveloped(&assertion.to_xml(), &assertion_id, signer, &options)?;
    let assertion_xml = match params.encrypt_to {
        Some(recipient) => {
            let data = encrypt_element(&signed_assertion, recipient, &params.encrypt_options)?;
            format!(
                "<saml:EncryptedAssertion xmlns:saml=\"{}\">{data}</saml:EncryptedAssertion>",
                crate::ns::SAML
            )
        }
        None => signed_assertion,
    };

    let mut header = StatusResponseHeader::new(
        response_id.clone(),
        now,
        entity_issuer(params.issuer),
        Status::success(),
    );
    header.in_response_to = params.in_response_to.map(str::to_string);
    header.destination = Some(params.acs_url.to_string());
    let xml = insert_before_end(
        &Response {
            header,
            assertions: Vec::new(),
        }
        .to_xml(),
        &assertion_xml,
    );
    let xml = sign_enveloped(&xml, &response_id, signer, &options)?;
    Ok(BuiltResponse {
        xml,
        response_id,
        assertion_id: Some(assertion_id),
        not_on_or_after: Some(confirmation_until.min(conditions_until)),
    })
}

/// Places `content` just before the end tag of the document element.
fn insert_before_end(xml: &str, content: &str) -> String {
    let at = xml
        .rfind("</")
        .expect("a Response is written with an end tag");
    let mut out = String::with_capacity(xml.len() + content.len());
    out.push_str(&xml[..at]);
    out.push_str(content);
    out.push_str(&xml[at..]);
    out
}

/// What goes into an error Response.
pub struct ErrorResponseParams<'a> {
    pub issuer: &'a str,
    /// The ACS URL from metadata (`Destination`).
    pub destination: &'a str,
    pub in_response_to: Option<&'a str>,
    pub status: Status,
    pub now: OffsetDateTime,
}

/// Builds and signs an error Response (no assertion).
pub fn build_error_response(
    params: &ErrorResponseParams<'_>,
    signer: &dyn Signer,
) -> Result<BuiltResponse, BuildError> {
    let response_id = new_id();
    let mut header = StatusResponseHeader::new(
        response_id.clone(),
        params.now,
        entity_issuer(params.issuer),
        params.status.clone(),
    );
    header.in_response_to = params.in_response_to.map(str::to_string);
    header.destination = Some(params.destination.to_string());
    let xml = Response {
        header,
        assertions: Vec::new(),
    }
    .to_xml();
    let xml = sign_enveloped(&xml, &response_id, signer, &profile_sign_options())?;
    Ok(BuiltResponse {
        xml,
        response_id,
        assertion_id: None,
        not_on_or_after: None,
    })
}

/// The error Response for a refused request, or `None` when it is not safe to answer (see
/// [`ProfileError::can_respond`]); the ACS URL is the one [`ProfileError::respond_to`] took
/// from metadata.
pub fn build_error_response_for(
    error: &ProfileError,
    issuer: &str,
    now: OffsetDateTime,
    signer: &dyn Signer,
) -> Option<Result<BuiltResponse, BuildError>> {
    let to = error.respond_to()?;
    Some(build_error_response(
        &ErrorResponseParams {
            issuer,
            destination: &to.acs_url,
            in_response_to: Some(&to.in_response_to),
            status: error.status(),
            now,
        },
        signer,
    ))
}
