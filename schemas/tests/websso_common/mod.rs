//! Fixtures shared by the Web SSO and trust-store tests: the federation's entities, their keys,
//! metadata built with the typed models and a signed aggregate. Used with `mod support;`.
#![allow(dead_code)]

use std::sync::OnceLock;

use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::x509::X509;
use schemas::dsig::{sign_enveloped, KeySigner, SignOptions, SignatureAlgorithm, TrustedKey};
use schemas::saml::*;
use schemas::trust::TrustStore;
use schemas::xenc::{DecryptionKeys, Recipient};
use time::{Duration, OffsetDateTime};

pub const IDP: &str = "https://idp.nabari.test/idp";
pub const SSO: &str = "https://idp.nabari.test/idp/sso";
pub const SP: &str = "https://portal.nabari.test/sp";
pub const ACS: &str = "https://portal.nabari.test/sp/acs";
pub const ACS_ARTIFACT: &str = "https://portal.nabari.test/sp/acs/artifact";
pub const ACS_PAOS: &str = "https://portal.nabari.test/sp/ecp";
/// An SP that does not sign its requests.
pub const CLINIC: &str = "https://clinic.nabari.test/sp";
pub const CLINIC_ACS: &str = "https://clinic.nabari.test/sp/acs";
pub const DS: &str = "https://relay.nabari.test/disco";

/// A key pair with a self-signed certificate (in metadata a certificate is only a key
/// container).
pub struct Party {
    pub key: PKey<Private>,
    pub cert: X509,
}

impl Party {
    pub fn trusted(&self) -> TrustedKey {
        TrustedKey::from_certificate(&self.cert).unwrap()
    }

    pub fn signer(&self) -> KeySigner {
        KeySigner::new(
            self.key.clone(),
            SignatureAlgorithm::RsaSha256,
            Some(&self.cert),
        )
        .unwrap()
    }

    pub fn der(&self) -> Vec<u8> {
        self.cert.to_der().unwrap()
    }

    pub fn recipient(&self) -> Recipient {
        Recipient::from_certificate(&self.cert).unwrap()
    }

    pub fn decryption_keys(&self) -> DecryptionKeys {
        DecryptionKeys::new(vec![self.key.clone()])
    }

    pub fn key_pem(&self) -> Vec<u8> {
        self.key.private_key_to_pem_pkcs8().unwrap()
    }

    pub fn cert_pem(&self) -> Vec<u8> {
        self.cert.to_pem().unwrap()
    }
}

pub fn make_party(cn: &str) -> Party {
    let key = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
    let cert = crate::support::self_signed_certificate(cn, &key);
    Party { key, cert }
}

/// The relay's metadata-signing key (the federation trust anchor).
pub fn federation() -> &'static Party {
    static K: OnceLock<Party> = OnceLock::new();
    K.get_or_init(|| make_party("federation metadata"))
}

/// The portal's key (request signing and assertion decryption).
pub fn sp_party() -> &'static Party {
    static K: OnceLock<Party> = OnceLock::new();
    K.get_or_init(|| make_party("portal"))
}

pub fn now() -> OffsetDateTime {
    // Whole seconds: SAML times are written without fractions.
    let t = OffsetDateTime::now_utc();
    t.replace_nanosecond(0).unwrap()
}

pub fn key_descriptor(use_: Option<KeyUse>, der: Vec<u8>) -> KeyDescriptor {
    KeyDescriptor::new(use_, der)
}

/// Our IdP's entity descriptor.
pub fn idp_entity(
    entity_id: &str,
    sso: &str,
    signing_der: Vec<u8>,
    want_signed: bool,
) -> EntityDescriptor {
    let mut sso_d = SsoDescriptor::saml2();
    sso_d.key_descriptors = vec![key_descriptor(Some(KeyUse::Signing), signing_der)];
    sso_d.name_id_formats = vec![
        nameid_format::PERSISTENT.to_string(),
        nameid_format::TRANSIENT.to_string(),
    ];
    let idp = IdpSsoDescriptor {
        sso: sso_d,
        want_authn_requests_signed: Some(want_signed),
        single_sign_on_services: vec![
            Endpoint::new(bindings::HTTP_REDIRECT, sso),
            Endpoint::new(bindings::HTTP_POST, sso),
        ],
        ..Default::default()
    };
    EntityDescriptor::new(entity_id, vec![Role::Idp(idp)])
}

/// The portal: signs its requests, ACS for POST (default), Artifact and PAOS.
pub fn portal_entity(signing: &Party) -> EntityDescriptor {
    let mut sso_d = SsoDescriptor::saml2();
    sso_d.key_descriptors = vec![
        key_descriptor(Some(KeyUse::Signing), signing.der()),
        key_descriptor(Some(KeyUse::Encryption), signing.der()),
    ];
    let mut post = IndexedEndpoint::new(bindings::HTTP_POST, ACS, 0);
    post.is_default = Some(true);
    let sp = SpSsoDescriptor {
        sso: sso_d,
        authn_requests_signed: Some(true),
        want_assertions_signed: Some(true),
        assertion_consumer_services: vec![
            post,
            IndexedEndpoint::new(bindings::HTTP_ARTIFACT, ACS_ARTIFACT, 1),
            IndexedEndpoint::new(bindings::PAOS, ACS_PAOS, 2),
        ],
        attribute_consuming_services: Vec::new(),
    };
    EntityDescriptor::new(SP, vec![Role::Sp(sp)])
}

/// The clinic SP: does not sign its requests; key without `use`.
pub fn clinic_entity(signing: &Party) -> EntityDescriptor {
    let mut sso_d = SsoDescriptor::saml2();
    sso_d.key_descriptors = vec![key_descriptor(None, signing.der())];
    let sp = SpSsoDescriptor {
        sso: sso_d,
        authn_requests_signed: Some(false),
        want_assertions_signed: Some(true),
        assertion_consumer_services: vec![IndexedEndpoint::new(bindings::HTTP_POST, CLINIC_ACS, 0)],
        attribute_consuming_services: Vec::new(),
    };
    EntityDescriptor::new(CLINIC, vec![Role::Sp(sp)])
}

/// The Discovery Service: a `md:RoleDescriptor` of an ID-WSF type, with one signing and one
/// encryption key.
pub fn ds_entity_xml(signing: &Party, encryption: &Party) -> String {
    use base64::Engine;
    let b64 = |p: &Party| base64::engine::general_purpose::STANDARD.encode(p.der());
    format!(
        r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="{DS}"><md:RoleDescriptor xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:disco="urn:liberty:disco:2006-08" xsi:type="disco:DiscoveryServiceDescriptorType" protocolSupportEnumeration="urn:liberty:disco:2006-08"><md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor><md:KeyDescriptor use="encryption"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor></md:RoleDescriptor></md:EntityDescriptor>"#,
        b64(signing),
        b64(encryption)
    )
}

/// An `md:EntitiesDescriptor` around the given entity documents (an XML declaration on them is
/// dropped), with `validUntil` when given; unsigned.
pub fn aggregate_xml(entities: &[String], valid_until: Option<OffsetDateTime>) -> String {
    let mut x = String::from(
        r#"<md:EntitiesDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" ID="_nabari-federation" Name="urn:nabari:federation""#,
    );
    if let Some(vu) = valid_until {
        x.push_str(&format!(r#" validUntil="{}""#, format_xs_datetime(vu)));
    }
    x.push('>');
    for e in entities {
        let e = e.trim();
        let e = if e.starts_with("<?xml") {
            &e[e.find("?>").unwrap() + 2..]
        } else {
            e
        };
        x.push_str(e.trim());
    }
    x.push_str("</md:EntitiesDescriptor>");
    x
}

/// Signs a metadata document whose root has ID `id` with `signer`.
pub fn sign_metadata(xml: &str, id: &str, signer: &Party) -> String {
    sign_enveloped(xml, id, &signer.signer(), &SignOptions::default()).unwrap()
}

/// The signed aggregate of the federation as the tests see it: our IdP (signing key `idp_der`,
/// `WantAuthnRequestsSigned` = `want_signed`), the portal, the clinic and the DS, plus `extra`.
pub fn federation_metadata(idp_der: Vec<u8>, want_signed: bool, extra: &[String]) -> String {
    let mut entities = vec![
        idp_entity(IDP, SSO, idp_der, want_signed).to_xml(),
        portal_entity(sp_party()).to_xml(),
        clinic_entity(sp_party()).to_xml(),
        ds_entity_xml(federation(), sp_party()),
    ];
    entities.extend(extra.iter().cloned());
    let xml = aggregate_xml(&entities, Some(now() + Duration::days(7)));
    sign_metadata(&xml, "_nabari-federation", federation())
}

pub fn trust_store(idp_der: Vec<u8>, want_signed: bool, extra: &[String]) -> TrustStore {
    let xml = federation_metadata(idp_der, want_signed, extra);
    TrustStore::load(xml.as_bytes(), vec![federation().trusted()], now()).unwrap()
}
