//! The ID-WSF Discovery bootstrap (idwsf-2.0.md §1): the attribute
//! `urn:liberty:disco:2006-08:DiscoveryEPR` whose value is the Discovery Service's
//! `wsa:EndpointReference`, carrying the DS token the SP presents to the DS.
//!
//! The DS token is a separate assertion minted with [`schemas::wsf::mint_token`]: issuer the IdP,
//! one audience the DS, subject the resident's pseudonym at the DS (from the relay), presenter
//! the SP, the login's AuthnInstant and class, signed by the IdP and encrypted whole to the DS
//! (`EncryptedAssertion`). Confirmation per SP: bearer (`TLS:Bearer`) or holder-of-key to the
//! SP's metadata signing certificate (`TLS:SAMLV2`).

use schemas::idwsf::{
    secmech, service_type, EndpointReference, EprMetadata, Framework, IdwsfXml, SecurityContext,
    Token, DISCOVERY_EPR_ATTRIBUTE,
};
use schemas::saml::{attrname_format, Attribute, AttributeValue};
use schemas::wsf::{mint_token, Confirmation, TokenParams, WsfError};
use schemas::xenc::Recipient;
use time::{Duration, OffsetDateTime};

use schemas::dsig::Signer;

use super::config::DsConfirmation;

/// Where the bootstrap points.
pub struct DsTarget<'a> {
    pub entity_id: &'a str,
    pub endpoint: &'a str,
    pub abstract_text: &'a str,
    pub recipient: &'a Recipient,
    pub token_lifetime: Duration,
}

/// What the token says about the login.
pub struct BootstrapLogin<'a> {
    pub idp_entity: &'a str,
    pub sp_entity: &'a str,
    /// The resident's pseudonym at the DS.
    pub pseudonym: &'a str,
    pub authn_instant: OffsetDateTime,
    pub authn_class: &'a str,
    pub confirmation: DsConfirmation,
    /// The SP's signing certificate (DER), for holder-of-key.
    pub sp_signing_cert: Option<&'a [u8]>,
    pub now: OffsetDateTime,
}

/// Why the bootstrap could not be made.
#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    #[error("holder-of-key needs the SP's signing certificate in the metadata")]
    NoSpCertificate,
    #[error(transparent)]
    Token(#[from] WsfError),
}

/// The `DiscoveryEPR` attribute.
pub fn discovery_attribute(
    ds: &DsTarget<'_>,
    login: &BootstrapLogin<'_>,
    signer: &dyn Signer,
) -> Result<Attribute, BootstrapError> {
    let (confirmation, mech) = match login.confirmation {
        DsConfirmation::Bearer => (Confirmation::Bearer, secmech::TLS_BEARER),
        DsConfirmation::HolderOfKey => (
            Confirmation::HolderOfKey {
                certificate_der: login
                    .sp_signing_cert
                    .ok_or(BootstrapError::NoSpCertificate)?
                    .to_vec(),
            },
            secmech::TLS_SAMLV2,
        ),
    };
    let mut params = TokenParams::new(
        login.idp_entity,
        ds.entity_id,
        login.pseudonym,
        login.authn_instant,
        login.authn_class,
        confirmation,
        login.now,
    );
    params.not_on_or_after = params.now + ds.token_lifetime;
    params.presenter = Some(login.sp_entity);
    let token = mint_token(&params, signer, Some(ds.recipient))?;
    let epr = EndpointReference {
        id: None,
        address: ds.endpoint.to_string(),
        reference_parameters: Vec::new(),
        metadata: Some(EprMetadata {
            abstract_text: Some(ds.abstract_text.to_string()),
            provider_id: Some(ds.entity_id.to_string()),
            service_types: vec![service_type::DISCOVERY.to_string()],
            frameworks: vec![Framework::v2()],
            security_contexts: vec![SecurityContext {
                security_mech_ids: vec![mech.to_string()],
                tokens: vec![Token::security_token(token)],
            }],
            extensions: Vec::new(),
        }),
        extensions: Vec::new(),
    };
    Ok(Attribute {
        name: DISCOVERY_EPR_ATTRIBUTE.to_string(),
        name_format: Some(attrname_format::URI.to_string()),
        friendly_name: Some("DiscoveryEPR".to_string()),
        values: vec![AttributeValue::Element {
            xml: epr.to_xml(),
            xsi_type: None,
        }],
    })
}
