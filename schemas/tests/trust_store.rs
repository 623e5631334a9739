//! The federation metadata trust store: only a signed, unexpired aggregate becomes a store;
//! look-ups by entity and role; refresh is all-or-nothing.

mod support;
mod websso_common;

use schemas::dsig::DsigError;
use schemas::saml::{bindings, format_xs_datetime, SamlXml};
use schemas::trust::{TrustError, TrustOptions, TrustStore};
use support::*;
use time::Duration;
use websso_common::*;

fn anchors() -> Vec<schemas::dsig::TrustedKey> {
    vec![federation().trusted()]
}

#[test]
fn signed_aggregate_loads_with_lookups_by_role() {
    let store = trust_store(idp_key().cert.to_der().unwrap(), true, &[]);
    assert_eq!(store.len(), 4);
    assert_eq!(store.entity_ids(), vec![CLINIC, IDP, SP, DS]);
    assert_eq!(store.name(), Some("urn:nabari:federation"));
    assert!(store.is_current(now()));
    assert!(!store.is_current(now() + Duration::days(8)));

    // IdP: signing key, WantAuthnRequestsSigned; it is not an SP.
    assert_eq!(store.idp_signing_keys(IDP).len(), 1);
    assert!(store.sp_signing_keys(IDP).is_empty());
    assert!(store.idp_want_authn_requests_signed(IDP));
    assert!(store
        .idp(IDP)
        .unwrap()
        .sso_service(bindings::HTTP_POST)
        .is_some());
    // The key verifies what the IdP signs.
    let a = sign(&assertion("a1", "alice"), "a1", idp_key());
    let doc = schemas::xml::parse(a.as_bytes()).unwrap();
    schemas::dsig::verify_enveloped(doc.root(), store.idp_signing_keys(IDP), &Default::default())
        .unwrap();

    // Portal SP: signing and encryption keys by use, ACS endpoints, flags.
    assert_eq!(store.sp_signing_keys(SP).len(), 1);
    assert_eq!(store.sp_encryption_certificates(SP).len(), 1);
    assert_eq!(
        store.sp_encryption_certificates(SP)[0].to_der().unwrap(),
        sp_party().der()
    );
    assert!(store.sp_authn_requests_signed(SP));
    assert!(store.sp_want_assertions_signed(SP));
    assert_eq!(store.acs_endpoints(SP).len(), 3);
    assert_eq!(
        store
            .sp(SP)
            .unwrap()
            .default_acs()
            .unwrap()
            .endpoint
            .location,
        ACS
    );
    assert!(store.idp_signing_keys(SP).is_empty());

    // Clinic: a key without `use` serves signing and encryption (metadata §2.4.1.1).
    assert!(!store.sp_authn_requests_signed(CLINIC));
    assert_eq!(store.sp_signing_keys(CLINIC).len(), 1);
    assert_eq!(store.sp_encryption_certificates(CLINIC).len(), 1);

    // Discovery Service: a role of another kind, kept raw, its keys reachable by entity ID.
    let others = store.other_roles(DS);
    assert_eq!(others.len(), 1);
    assert_eq!(others[0].local, "RoleDescriptor");
    assert_eq!(
        others[0].xsi_type.as_deref(),
        Some("disco:DiscoveryServiceDescriptorType")
    );
    assert!(others[0].xml.contains("KeyDescriptor"));
    assert_eq!(store.signing_keys(DS).len(), 1);
    let enc = store.encryption_certificates(DS);
    assert_eq!(enc.len(), 1);
    assert_eq!(enc[0].to_der().unwrap(), sp_party().der());
    assert!(store.idp(DS).is_none() && store.sp(DS).is_none());
    // `signing_keys` spans every role.
    assert_eq!(store.signing_keys(IDP).len(), 1);
    assert_eq!(store.signing_keys(SP).len(), 1);

    // Unknown entities: nothing, never a default.
    assert!(store.entity("https://evil.example/idp").is_none());
    assert!(store
        .idp_signing_keys("https://evil.example/idp")
        .is_empty());
    assert!(store
        .signing_keys("https://portal.nabari.test/sp-evil")
        .is_empty());
}

#[test]
fn single_signed_entity_descriptor_loads() {
    let mut e = idp_entity(IDP, SSO, idp_key().cert.to_der().unwrap(), false);
    e.id = Some("_idp-md".into());
    e.valid_until = Some(now() + Duration::days(1));
    let xml = sign_metadata(&e.to_xml(), "_idp-md", federation());
    let store = TrustStore::load(xml.as_bytes(), anchors(), now()).unwrap();
    assert_eq!(store.entity_ids(), vec![IDP]);
    assert!(!store.idp_want_authn_requests_signed(IDP));
}

#[test]
fn unsigned_metadata_is_refused() {
    let xml = aggregate_xml(
        &[idp_entity(IDP, SSO, idp_key().cert.to_der().unwrap(), true).to_xml()],
        Some(now() + Duration::days(1)),
    );
    assert!(matches!(
        TrustStore::load(xml.as_bytes(), anchors(), now()),
        Err(TrustError::Unsigned)
    ));
    // A signature on an inner entity is not a signature on the aggregate.
    let mut e = idp_entity(IDP, SSO, idp_key().cert.to_der().unwrap(), true);
    e.id = Some("_inner".into());
    let inner = sign_metadata(&e.to_xml(), "_inner", federation());
    let xml = aggregate_xml(&[inner], Some(now() + Duration::days(1)));
    assert!(matches!(
        TrustStore::load(xml.as_bytes(), anchors(), now()),
        Err(TrustError::Unsigned)
    ));
}

#[test]
fn metadata_signed_by_another_key_or_altered_is_refused() {
    let entities = [idp_entity(IDP, SSO, idp_key().cert.to_der().unwrap(), true).to_xml()];
    let xml = aggregate_xml(&entities, Some(now() + Duration::days(1)));
    // Signed by an attacker, who puts his certificate in KeyInfo.
    let forged = sign(&xml, "_nabari-federation", attacker_key());
    assert!(forged.contains("X509Certificate"));
    assert!(matches!(
        TrustStore::load(forged.as_bytes(), anchors(), now()),
        Err(TrustError::Signature(DsigError::BadSignature))
    ));
    // Signed by the federation, then an IdP endpoint is redirected.
    let signed = sign_metadata(&xml, "_nabari-federation", federation());
    let altered = signed.replace(SSO, "https://evil.example/sso");
    assert!(matches!(
        TrustStore::load(altered.as_bytes(), anchors(), now()),
        Err(TrustError::Signature(DsigError::DigestMismatch))
    ));
    // No anchors, no trust.
    assert!(matches!(
        TrustStore::load(signed.as_bytes(), vec![], now()),
        Err(TrustError::NoTrustAnchors)
    ));
    // A rollover anchor list verifies with the second anchor.
    let store = TrustStore::load(
        signed.as_bytes(),
        vec![attacker_key().trusted(), federation().trusted()],
        now(),
    )
    .unwrap();
    assert_eq!(store.anchor_index(), 1);
}

#[test]
fn expired_or_unbounded_metadata_is_refused() {
    let entities = [idp_entity(IDP, SSO, idp_key().cert.to_der().unwrap(), true).to_xml()];
    let expired = sign_metadata(
        &aggregate_xml(&entities, Some(now() - Duration::seconds(1))),
        "_nabari-federation",
        federation(),
    );
    assert!(matches!(
        TrustStore::load(expired.as_bytes(), anchors(), now()),
        Err(TrustError::Expired { .. })
    ));
    let missing = sign_metadata(
        &aggregate_xml(&entities, None),
        "_nabari-federation",
        federation(),
    );
    assert!(matches!(
        TrustStore::load(missing.as_bytes(), anchors(), now()),
        Err(TrustError::MissingValidUntil)
    ));
    // The clock is the caller's: the same document is good yesterday and expired tomorrow.
    let good = sign_metadata(
        &aggregate_xml(&entities, Some(now() + Duration::hours(1))),
        "_nabari-federation",
        federation(),
    );
    assert!(TrustStore::load(good.as_bytes(), anchors(), now()).is_ok());
    assert!(matches!(
        TrustStore::load(good.as_bytes(), anchors(), now() + Duration::hours(2)),
        Err(TrustError::Expired { .. })
    ));
    // An optional upper bound on validity.
    let opts = TrustOptions {
        max_validity: Some(Duration::minutes(30)),
        ..Default::default()
    };
    assert!(TrustStore::load_with(good.as_bytes(), anchors(), now(), opts).is_err());
}

#[test]
fn expired_entities_are_left_out_and_duplicates_refused() {
    let mut old = idp_entity(
        "https://old.nabari.test/idp",
        SSO,
        idp_key().cert.to_der().unwrap(),
        true,
    );
    old.valid_until = Some(now() - Duration::days(1));
    let store = trust_store(idp_key().cert.to_der().unwrap(), true, &[old.to_xml()]);
    assert!(store.entity("https://old.nabari.test/idp").is_none());
    assert_eq!(store.expired(), ["https://old.nabari.test/idp"]);

    let dup = clinic_entity(attacker_key_party()).to_xml();
    let xml = aggregate_xml(
        &[clinic_entity(sp_party()).to_xml(), dup],
        Some(now() + Duration::days(1)),
    );
    let signed = sign_metadata(&xml, "_nabari-federation", federation());
    assert!(matches!(
        TrustStore::load(signed.as_bytes(), anchors(), now()),
        Err(TrustError::DuplicateEntity(e)) if e == CLINIC
    ));
}

fn attacker_key_party() -> &'static Party {
    static K: std::sync::OnceLock<Party> = std::sync::OnceLock::new();
    K.get_or_init(|| Party {
        key: attacker_key().key.clone(),
        cert: attacker_key().cert.clone(),
    })
}

#[test]
fn refresh_keeps_the_old_store_on_failure_and_swaps_whole_on_success() {
    let store = trust_store(idp_key().cert.to_der().unwrap(), true, &[]);
    let before = store.entity_ids().len();

    // Every kind of bad document: the refresh fails, the old store answers as before.
    let unsigned = aggregate_xml(
        &[clinic_entity(sp_party()).to_xml()],
        Some(now() + Duration::days(1)),
    );
    let bad_sig = sign(&unsigned, "_nabari-federation", attacker_key());
    let truncated = federation_metadata(idp_key().cert.to_der().unwrap(), true, &[]);
    let truncated = &truncated[..truncated.len() / 2];
    for bad in [
        unsigned.as_str(),
        bad_sig.as_str(),
        truncated,
        "<!DOCTYPE x><x/>",
    ] {
        assert!(store.refresh_from(bad.as_bytes(), now()).is_err());
        assert_eq!(store.entity_ids().len(), before);
        assert_eq!(store.idp_signing_keys(IDP).len(), 1);
    }

    // A good document with a new IdP key (rollover: old and new listed) gives a new store.
    let mut e = idp_entity(IDP, SSO, idp_key().cert.to_der().unwrap(), true);
    if let schemas::saml::Role::Idp(d) = &mut e.roles[0] {
        d.sso
            .key_descriptors
            .push(schemas::saml::KeyDescriptor::new(
                Some(schemas::saml::KeyUse::Signing),
                attacker_key().cert.to_der().unwrap(),
            ));
    }
    let xml = sign_metadata(
        &aggregate_xml(
            &[e.to_xml(), portal_entity(sp_party()).to_xml()],
            Some(now() + Duration::days(3)),
        ),
        "_nabari-federation",
        federation(),
    );
    let fresh = store.refresh_from(xml.as_bytes(), now()).unwrap();
    assert_eq!(fresh.idp_signing_keys(IDP).len(), 2);
    assert!(fresh.entity(CLINIC).is_none());
    // The old store is untouched.
    assert_eq!(store.idp_signing_keys(IDP).len(), 1);
    assert!(store.entity(CLINIC).is_some());
}

#[test]
fn a_large_aggregate_loads_beyond_the_message_limit() {
    // Several hundred entities: far above the 256 KiB limit for protocol messages.
    let extra: Vec<String> = (0..700)
        .map(|i| {
            let mut e = clinic_entity(sp_party());
            e.entity_id = format!("https://clinic{i}.nabari.test/sp");
            e.to_xml()
        })
        .collect();
    let xml = federation_metadata(idp_key().cert.to_der().unwrap(), true, &extra);
    assert!(xml.len() > 1024 * 1024, "{} bytes", xml.len());
    let store = TrustStore::load(xml.as_bytes(), anchors(), now()).unwrap();
    assert_eq!(store.len(), 704);
    assert_eq!(
        store
            .sp_signing_keys("https://clinic699.nabari.test/sp")
            .len(),
        1
    );
    // validUntil is kept.
    assert!(format_xs_datetime(store.valid_until()).ends_with('Z'));
}
