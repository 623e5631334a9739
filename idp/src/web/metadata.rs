//! The IdP's own metadata (`GET /metadata`): one signed `md:EntityDescriptor` with `validUntil`,
//! every published signing key (two during a rollover), the SSO endpoints (Redirect and POST),
//! the artifact resolution service, Single Logout (Redirect, POST, SOAP) and the NameID formats.

use schemas::dsig::{sign_enveloped, DsigError, SignOptions};
use schemas::saml::{
    bindings, nameid_format, Endpoint, EntityDescriptor, ExtensionItem, IdpSsoDescriptor,
    IndexedEndpoint, KeyDescriptor, KeyUse, MetadataExtensions, Role, SamlXml, SigningMethod,
    SsoDescriptor,
};
use time::{Duration, OffsetDateTime};

use super::config::Config;
use super::keys::IdpKeys;
use super::paths;

/// The unsigned descriptor (also what an operator puts into the federation aggregate).
pub fn entity_descriptor(config: &Config, keys: &IdpKeys, now: OffsetDateTime) -> EntityDescriptor {
    let mut sso = SsoDescriptor::saml2();
    sso.key_descriptors = keys
        .certificates
        .iter()
        .filter_map(|c| c.to_der().ok())
        .map(|der| KeyDescriptor::new(Some(KeyUse::Signing), der))
        .collect();
    sso.artifact_resolution_services = vec![IndexedEndpoint::new(
        bindings::SOAP,
        &config.url(paths::ARTIFACT),
        0,
    )];
    if config.slo.enabled {
        sso.single_logout_services = vec![
            Endpoint::new(bindings::HTTP_REDIRECT, &config.url(paths::SLO)),
            Endpoint::new(bindings::HTTP_POST, &config.url(paths::SLO)),
            Endpoint::new(bindings::SOAP, &config.url(paths::SLO_SOAP)),
        ];
    }
    sso.name_id_formats = vec![
        nameid_format::PERSISTENT.to_string(),
        nameid_format::TRANSIENT.to_string(),
    ];
    let idp = IdpSsoDescriptor {
        sso,
        want_authn_requests_signed: Some(config.metadata.want_authn_requests_signed),
        single_sign_on_services: vec![
            Endpoint::new(bindings::HTTP_REDIRECT, &config.url(paths::SSO)),
            Endpoint::new(bindings::HTTP_POST, &config.url(paths::SSO)),
        ],
        ..Default::default()
    };
    let mut e = EntityDescriptor::new(&config.entity_id, vec![Role::Idp(idp)]);
    e.id = Some(format!("_idp-metadata-{}", now.unix_timestamp()));
    e.valid_until = Some(now + Duration::days(config.metadata.valid_days));
    let mut items = vec![
        ExtensionItem::DigestMethod("http://www.w3.org/2001/04/xmlenc#sha256".into()),
        ExtensionItem::SigningMethod(SigningMethod {
            algorithm: "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256".into(),
            min_key_size: Some(2048),
            max_key_size: None,
        }),
    ];
    if keys.signer.algorithm().is_ecdsa() {
        items.push(ExtensionItem::SigningMethod(SigningMethod {
            algorithm: keys.signer.algorithm().uri().into(),
            min_key_size: Some(256),
            max_key_size: None,
        }));
    }
    e.extensions = Some(MetadataExtensions { items });
    e
}

/// The signed metadata document.
pub fn signed_metadata(
    config: &Config,
    keys: &IdpKeys,
    now: OffsetDateTime,
) -> Result<String, DsigError> {
    let e = entity_descriptor(config, keys, now);
    let id = e.id.clone().unwrap_or_default();
    sign_enveloped(
        &e.to_xml(),
        &id,
        keys.signer.as_ref(),
        &SignOptions::default(),
    )
}
