//! Security tokens (idwsf-2.0.md §2.4, §4.2): what the Discovery Service mints for each WSP and
//! the IdP mints for the DS.
//!
//! ```text
//! saml:Assertion ID IssueInstant Version=2.0
//!   saml:Issuer                      DS (or IdP) entity ID
//!   ds:Signature                     enveloped, exc-c14n, RSA-SHA256 or ECDSA-SHA256 (the signer's)
//!   saml:Subject
//!     saml:NameID Format=persistent NameQualifier=<issuer> SPNameQualifier=<audience>   pseudonym
//!     saml:SubjectConfirmation Method=bearer | holder-of-key
//!       saml:NameID Format=entity    presenter (optional: the WSC allowed to present it)
//!       saml:SubjectConfirmationData NotOnOrAfter [xsi:type=saml:KeyInfoConfirmationDataType
//!         ds:KeyInfo/ds:X509Data/ds:X509Certificate   the WSC's key]
//!   saml:Conditions NotBefore NotOnOrAfter    (short: 5 minutes by default)
//!     saml:AudienceRestriction/saml:Audience  exactly one: the WSP (or the DS)
//!     saml:OneTimeUse?                        only on request: tokens are reused within their life
//!   saml:AuthnStatement AuthnInstant          copied from the original login
//!     saml:AuthnContext/saml:AuthnContextClassRef
//!   saml:AttributeStatement?                  e.g. the pilot-mode local key at that WSP
//! ```
//!
//! The assertion is signed first and then, when a recipient is given (the federation always
//! gives one: the WSP's metadata encryption certificate), encrypted whole into a
//! `saml:EncryptedAssertion` (ZXID's choice, `zxid_mk_enc_a7n`): it hides the pseudonym, the
//! authentication context and the attributes from the WSC that carries it.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use time::OffsetDateTime;

use crate::dsig::{sign_enveloped, SignOptions, Signer};
use crate::idwsf::{SamlToken, TokenKind};
use crate::ns;
use crate::saml::{
    confirmation, nameid_format, Assertion, Attribute, AttributeItem, AttributeStatement,
    AttributeValue, AudienceRestriction, AuthnContext, AuthnStatement, Conditions, NameId, SamlXml,
    Statement, Subject, SubjectConfirmation, SubjectConfirmationData, SubjectId,
};
use crate::xenc::{encrypt_element, EncryptOptions, Recipient};

use super::{new_assertion_id, WsfError, DEFAULT_TOKEN_LIFETIME};

/// How the presenter proves it may use the token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Confirmation {
    /// Whoever holds it (mechanisms `…:Bearer`; TLS required).
    Bearer,
    /// Holder of the key of this certificate (the WSC's signing certificate, DER), which must
    /// sign each message (`…:SAMLV2`) or be the TLS client certificate (`ClientTLS:peerSAMLV2`).
    HolderOfKey { certificate_der: Vec<u8> },
}

/// What goes into a token.
#[derive(Clone, Debug)]
pub struct TokenParams<'a> {
    /// The minting entity: the DS (WSP tokens) or the IdP (the DS token).
    pub issuer: &'a str,
    /// The one entity that may accept the token: the WSP, or the DS.
    pub audience: &'a str,
    /// The principal's pseudonym at the audience.
    pub name_id: &'a str,
    /// NameID Format: persistent by default.
    pub name_id_format: &'a str,
    /// Copied from the original login.
    pub authn_instant: OffsetDateTime,
    pub authn_context_class: &'a str,
    /// IssueInstant.
    pub now: OffsetDateTime,
    pub not_before: OffsetDateTime,
    pub not_on_or_after: OffsetDateTime,
    pub confirmation: Confirmation,
    /// The only WSC allowed to present the token (written as the confirmation's NameID).
    pub presenter: Option<&'a str>,
    /// Attributes for the audience (an AttributeStatement when not empty).
    pub attributes: Vec<Attribute>,
    /// Adds `saml:OneTimeUse` (the receiver then accepts the token once).
    pub one_time_use: bool,
    /// The assertion's ID, random by default (recorded by the DS as the disclosure reference).
    pub assertion_id: String,
}

impl<'a> TokenParams<'a> {
    /// A token valid from `now` for [`DEFAULT_TOKEN_LIFETIME`], with a persistent NameID and a
    /// fresh random ID.
    pub fn new(
        issuer: &'a str,
        audience: &'a str,
        name_id: &'a str,
        authn_instant: OffsetDateTime,
        authn_context_class: &'a str,
        confirmation: Confirmation,
        now: OffsetDateTime,
    ) -> Self {
        let now = now.replace_nanosecond(0).unwrap_or(now);
        TokenParams {
            issuer,
            audience,
            name_id,
            name_id_format: nameid_format::PERSISTENT,
            authn_instant,
            authn_context_class,
            now,
            not_before: now,
            not_on_or_after: now + DEFAULT_TOKEN_LIFETIME,
            confirmation,
            presenter: None,
            attributes: Vec::new(),
            one_time_use: false,
            assertion_id: new_assertion_id(),
        }
    }
}

/// The `ds:KeyInfo` naming a certificate, as holder-of-key confirmation data carries it.
pub fn key_info_for_certificate(certificate_der: &[u8]) -> String {
    format!(
        "<ds:KeyInfo xmlns:ds=\"{}\"><ds:X509Data><ds:X509Certificate>{}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>",
        ns::DS,
        STANDARD.encode(certificate_der)
    )
}

/// The typed assertion `params` describe (not yet signed). [`mint_token`] signs and encrypts
/// it; tests and special cases may adjust it first and call [`seal_assertion`].
pub fn assertion_for(params: &TokenParams<'_>) -> Result<Assertion, WsfError> {
    for (what, value) in [
        ("issuer", params.issuer),
        ("audience", params.audience),
        ("name_id", params.name_id),
        ("authn_context_class", params.authn_context_class),
        ("assertion_id", params.assertion_id.as_str()),
    ] {
        if value.trim().is_empty() {
            return Err(WsfError::InvalidParams(format!("token {what} is empty")));
        }
    }
    if params.not_on_or_after <= params.not_before {
        return Err(WsfError::InvalidParams(
            "token NotOnOrAfter is not after NotBefore".into(),
        ));
    }
    let (method, key_infos) = match &params.confirmation {
        Confirmation::Bearer => (confirmation::BEARER, Vec::new()),
        Confirmation::HolderOfKey { certificate_der } => {
            // Refuse now what the receiver could not use.
            openssl::x509::X509::from_der(certificate_der).map_err(|_| {
                WsfError::InvalidParams("holder-of-key certificate is not DER X.509".into())
            })?;
            (
                confirmation::HOLDER_OF_KEY,
                vec![key_info_for_certificate(certificate_der)],
            )
        }
    };
    let confirmation = SubjectConfirmation {
        method: method.to_string(),
        id: params
            .presenter
            .map(|p| SubjectId::NameId(NameId::with_format(p, nameid_format::ENTITY))),
        data: Some(SubjectConfirmationData {
            not_on_or_after: Some(params.not_on_or_after),
            key_info_type: !key_infos.is_empty(),
            key_infos,
            ..Default::default()
        }),
    };
    let mut statements = vec![Statement::Authn(AuthnStatement {
        authn_instant: params.authn_instant,
        session_index: None,
        session_not_on_or_after: None,
        subject_locality: None,
        authn_context: AuthnContext::class(params.authn_context_class),
    })];
    if !params.attributes.is_empty() {
        statements.push(Statement::Attribute(AttributeStatement {
            items: params
                .attributes
                .iter()
                .cloned()
                .map(|a| AttributeItem::Plain(untyped(a)))
                .collect(),
        }));
    }
    Ok(Assertion {
        id: params.assertion_id.clone(),
        issue_instant: params.now,
        issuer: NameId::new(params.issuer),
        subject: Some(Subject {
            id: Some(SubjectId::NameId(NameId {
                value: params.name_id.to_string(),
                format: Some(params.name_id_format.to_string()),
                name_qualifier: Some(params.issuer.to_string()),
                sp_name_qualifier: Some(params.audience.to_string()),
                sp_provided_id: None,
            })),
            confirmations: vec![confirmation],
        }),
        conditions: Some(Conditions {
            not_before: Some(params.not_before),
            not_on_or_after: Some(params.not_on_or_after),
            audience_restrictions: vec![AudienceRestriction {
                audiences: vec![params.audience.to_string()],
            }],
            one_time_use: params.one_time_use,
            proxy_restriction: None,
        }),
        advice: None,
        statements,
    })
}

/// `attribute` with its values written without `xsi:type`.
///
/// Exclusive c14n keeps a namespace declaration only where its prefix is *visibly used* (in an
/// element or attribute name), so the `xs` of `xsi:type="xs:string"` is dropped from the signed
/// (canonical) form, and a receiver that reads the assertion from the verified bytes — as this
/// federation's do — cannot resolve the type. An untyped simple value is read as a string.
fn untyped(mut attribute: Attribute) -> Attribute {
    for v in &mut attribute.values {
        match v {
            AttributeValue::Text { xsi_type, .. } | AttributeValue::Element { xsi_type, .. } => {
                *xsi_type = None
            }
            AttributeValue::Nil => {}
        }
    }
    attribute
}

/// Signs `assertion` (enveloped, after the Issuer; the algorithm is the signer's) and, with a
/// recipient, encrypts it into a `saml:EncryptedAssertion`.
pub fn seal_assertion(
    assertion: &Assertion,
    signer: &dyn Signer,
    encrypt_to: Option<&Recipient>,
) -> Result<SamlToken, WsfError> {
    let signed = sign_enveloped(
        &assertion.to_xml(),
        &assertion.id,
        signer,
        &SignOptions::default(),
    )
    .map_err(WsfError::Sign)?;
    match encrypt_to {
        Some(recipient) => encrypt_assertion(&signed, recipient),
        None => SamlToken::from_xml(signed.as_bytes())
            .map_err(|e| WsfError::InvalidParams(e.to_string())),
    }
}

/// Encrypts a signed, self-contained `saml:Assertion` to `recipient` (AES-256-GCM content key,
/// RSA-OAEP transport) and wraps it in `saml:EncryptedAssertion`.
pub fn encrypt_assertion(
    signed_assertion_xml: &str,
    recipient: &Recipient,
) -> Result<SamlToken, WsfError> {
    let data = encrypt_element(signed_assertion_xml, recipient, &EncryptOptions::default())?;
    let wrapped = format!(
        "<saml:EncryptedAssertion xmlns:saml=\"{}\">{data}</saml:EncryptedAssertion>",
        ns::SAML
    );
    let token = SamlToken::from_xml(wrapped.as_bytes())
        .map_err(|e| WsfError::InvalidParams(e.to_string()))?;
    debug_assert_eq!(token.kind, TokenKind::EncryptedAssertion);
    Ok(token)
}

/// Mints a token: a signed `saml:Assertion` as [`TokenParams`] describe it, wrapped in a
/// `saml:EncryptedAssertion` when `encrypt_to` is given.
pub fn mint_token(
    params: &TokenParams<'_>,
    signer: &dyn Signer,
    encrypt_to: Option<&Recipient>,
) -> Result<SamlToken, WsfError> {
    seal_assertion(&assertion_for(params)?, signer, encrypt_to)
}
