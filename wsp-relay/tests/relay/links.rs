//! Pseudonyms and local keys.

use std::collections::HashSet;

use diesel::prelude::*;
use wsp_relay::{
    LinkChange, LocalKey, LocalKeyScheme, NewProvider, NewService, Provider, ProviderStatus, Store,
    StoreError,
};

use crate::both_backends;
use crate::common::{Kind, TestDb};
use crate::store::person;

both_backends!(
    pseudonyms_are_per_provider_and_unlinkable,
    local_keys_are_encrypted_at_rest_for_pilot_providers_only,
    providers_and_services,
);

pub fn provider(store: &Store, entity_id: &str, pilot: bool) -> Provider {
    let p = store
        .register_provider(&NewProvider {
            entity_id: entity_id.into(),
            name_ja: "髙橋健康保険組合 𠮷".into(),
            name_en: "Takahashi Health Insurance Society".into(),
            pilot_mode: pilot,
            local_key_scheme: LocalKeyScheme::EmployeeHealthInsurance,
            metadata_xml: None,
        })
        .expect("register");
    store
        .set_provider_status(&p.id, ProviderStatus::Approved)
        .expect("approve")
}

fn pseudonyms_are_per_provider_and_unlinkable(db: &TestDb) {
    let store = db.store();
    let providers: Vec<Provider> = (0..3)
        .map(|i| provider(store, &format!("https://wsp{i}.nabari.test/"), i == 0))
        .collect();
    let people: Vec<_> = (0..5)
        .map(|i| person(store, &format!("1000000010{i}")))
        .collect();
    let mut all = HashSet::new();
    for p in &people {
        let mut mine = HashSet::new();
        for prov in &providers {
            let ps = store.pseudonym_for(&p.id, &prov.id).expect("pseudonym");
            // Stable: asking again gives the same one.
            assert_eq!(store.pseudonym_for(&p.id, &prov.id).expect("again"), ps);
            // Never the person ID, never another provider's pseudonym.
            assert_ne!(ps.expose(), p.id.expose());
            assert!(mine.insert(ps.clone()), "same pseudonym at two providers");
            assert!(all.insert(ps.clone()), "pseudonym reused");
            assert_eq!(
                store.person_for_pseudonym(&prov.id, &ps).expect("reverse"),
                Some(p.id.clone())
            );
            // Another provider's pseudonym means nothing at this one.
            for other in providers.iter().filter(|o| o.id != prov.id) {
                assert_eq!(
                    store.person_for_pseudonym(&other.id, &ps).expect("reverse"),
                    None
                );
            }
        }
        let links = store.links_of(&p.id).expect("links");
        assert_eq!(links.len(), providers.len());
        assert!(links
            .iter()
            .all(|l| !l.has_local_key && !l.local_key_stored && l.version == 1));
    }
    // Concurrent first calls for the same pair agree on one pseudonym.
    let fresh = person(store, "10000000199");
    let results: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|_| {
                s.spawn(|| {
                    store
                        .pseudonym_for(&fresh.id, &providers[1].id)
                        .expect("pseudonym")
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("join"))
            .collect()
    });
    assert!(results.windows(2).all(|w| w[0] == w[1]));
    // Suspended providers get no new links.
    store
        .set_provider_status(&providers[2].id, ProviderStatus::Suspended)
        .expect("suspend");
    assert!(matches!(
        store.pseudonym_for(&fresh.id, &providers[2].id),
        Err(StoreError::Conflict(_))
    ));
}

/// The raw bytes of a link's local-key columns.
fn raw_link(db: &TestDb, person: &str, provider: &str) -> (Option<Vec<u8>>, Option<Vec<u8>>) {
    diesel::table! {
        provider_links (person_id, provider_id) {
            person_id -> Text,
            provider_id -> Text,
            local_key_mac -> Nullable<Binary>,
            local_key_enc -> Nullable<Binary>,
        }
    }
    let q = provider_links::table
        .find((person, provider))
        .select((provider_links::local_key_mac, provider_links::local_key_enc));
    match db.kind {
        Kind::Sqlite => {
            let mut c = SqliteConnection::establish(db.url.trim_start_matches("sqlite://"))
                .expect("sqlite");
            q.first(&mut c).expect("row")
        }
        Kind::Postgres => {
            let mut c = PgConnection::establish(&db.url).expect("pg");
            q.first(&mut c).expect("row")
        }
    }
}

fn local_keys_are_encrypted_at_rest_for_pilot_providers_only(db: &TestDb) {
    let store = db.store();
    let pilot = provider(store, "https://kenpo.nabari.test/wsp", true);
    let plain = provider(store, "https://pension.nabari.test/wsp", false);
    let a = person(store, "10000000201");
    let b = person(store, "10000000202");
    let key = LocalKey::parse("記号𠮷髙-12345 番号 0001").expect("key");

    assert_eq!(
        store.set_local_key(&a.id, &pilot.id, &key).expect("set"),
        LinkChange::Created
    );
    assert_eq!(
        store.set_local_key(&a.id, &pilot.id, &key).expect("set"),
        LinkChange::Unchanged
    );
    let (mac, enc) = raw_link(db, a.id.expose(), pilot.id.as_str());
    let enc = enc.expect("pilot mode: sealed key stored");
    let needle = key.expose().as_bytes();
    for stored in [&enc, mac.as_ref().expect("mac")] {
        assert!(
            !stored.windows(needle.len()).any(|w| w == needle),
            "local key stored in clear"
        );
        assert!(
            !stored.windows(5).any(|w| w == b"12345"),
            "part of the local key stored in clear"
        );
    }
    assert_eq!(
        store.local_key(&a.id, &pilot.id).expect("open"),
        Some(key.clone())
    );
    let link = store.link(&a.id, &pilot.id).expect("link").expect("exists");
    assert!(link.has_local_key && link.local_key_stored);

    // Not pilot mode: only the MAC, never the key.
    assert_eq!(
        store.set_local_key(&a.id, &plain.id, &key).expect("set"),
        LinkChange::Created
    );
    let (mac2, enc2) = raw_link(db, a.id.expose(), plain.id.as_str());
    assert!(enc2.is_none());
    assert_ne!(mac2, mac, "the MAC is bound to the provider");
    assert_eq!(store.local_key(&a.id, &plain.id).expect("open"), None);

    // One key, one person per provider.
    assert!(matches!(
        store.set_local_key(&b.id, &pilot.id, &key),
        Err(StoreError::Conflict(_))
    ));
    // A new key for the same person replaces the old one (version +1, same pseudonym).
    let before = store.link(&a.id, &pilot.id).expect("link").expect("exists");
    let key2 = LocalKey::parse("記号𠮷髙-12345 番号 0002").expect("key");
    assert_eq!(
        store.set_local_key(&a.id, &pilot.id, &key2).expect("set"),
        LinkChange::Updated
    );
    let after = store.link(&a.id, &pilot.id).expect("link").expect("exists");
    assert_eq!(
        (after.version, &after.pseudonym),
        (before.version + 1, &before.pseudonym)
    );
    assert_eq!(store.local_key(&a.id, &pilot.id).expect("open"), Some(key2));
    // The freed key can now go to b.
    assert_eq!(
        store.set_local_key(&b.id, &pilot.id, &key).expect("set"),
        LinkChange::Created
    );

    // A ciphertext moved to another row does not open (it is bound to its row).
    let sql_copy = format!(
        "UPDATE provider_links SET local_key_enc = (SELECT local_key_enc FROM provider_links WHERE person_id = '{}' AND provider_id = '{}') WHERE person_id = '{}' AND provider_id = '{}'",
        a.id.expose(), pilot.id.as_str(), b.id.expose(), pilot.id.as_str()
    );
    db.exec(&sql_copy);
    assert!(matches!(
        store.local_key(&b.id, &pilot.id),
        Err(StoreError::Decrypt)
    ));
    // Without the KEK, local keys cannot be read or written.
    let no_kek = Store::open(
        &db.url,
        wsp_relay::StoreOptions {
            pool_size: 1,
            ..Default::default()
        },
    )
    .expect("open");
    assert!(matches!(
        no_kek.local_key(&a.id, &pilot.id),
        Err(StoreError::NoKek)
    ));
    // A wrong KEK does not open it either.
    let wrong = Store::open(
        &db.url,
        wsp_relay::StoreOptions {
            pool_size: 1,
            kek: Some(wsp_relay::Kek::from_bytes(&[1u8; 32]).expect("kek")),
            ..Default::default()
        },
    )
    .expect("open");
    assert!(matches!(
        wrong.local_key(&a.id, &pilot.id),
        Err(StoreError::Decrypt)
    ));
}

fn providers_and_services(db: &TestDb) {
    let store = db.store();
    let p = store
        .register_provider(&NewProvider {
            entity_id: "https://kokuho.nabari.test/wsp".into(),
            name_ja: "名張市国民健康保険 𠮷野家".into(),
            name_en: "Nabari City NHI".into(),
            pilot_mode: false,
            local_key_scheme: LocalKeyScheme::NationalHealthInsurance,
            metadata_xml: Some(
                "<md:EntityDescriptor entityID=\"https://kokuho.nabari.test/wsp\"/>".into(),
            ),
        })
        .expect("register");
    assert_eq!(p.status, ProviderStatus::Pending);
    assert!(matches!(
        store.register_provider(&NewProvider {
            entity_id: p.entity_id.clone(),
            name_ja: "x".into(),
            name_en: "x".into(),
            pilot_mode: false,
            local_key_scheme: LocalKeyScheme::Other,
            metadata_xml: None,
        }),
        Err(StoreError::Conflict(_))
    ));
    let svc = store
        .add_provider_service(
            &p.id,
            &NewService {
                service_type: schemas::idwsf::service_type::HI_ELIGIBILITY.into(),
                endpoint: "https://kokuho.nabari.test/wsp/eligibility".into(),
                security_mechs: vec![
                    schemas::idwsf::secmech::TLS_BEARER.into(),
                    "urn:liberty:security:2005-02:TLS:SAMLV2".into(),
                ],
                abstract_text: Some("国保の資格 𠮷".into()),
                svc_md_xml: None,
            },
        )
        .expect("service");
    // Pending providers are not discoverable.
    assert!(store
        .approved_services(Some(schemas::idwsf::service_type::HI_ELIGIBILITY))
        .expect("q")
        .is_empty());
    store
        .set_provider_status(&p.id, ProviderStatus::Approved)
        .expect("approve");
    let found = store
        .approved_services(Some(schemas::idwsf::service_type::HI_ELIGIBILITY))
        .expect("q");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].1, svc);
    assert_eq!(found[0].0.name_ja, "名張市国民健康保険 𠮷野家");
    assert_eq!(found[0].1.security_mechs.len(), 2);
    assert_eq!(found[0].1.abstract_text.as_deref(), Some("国保の資格 𠮷"));
    let again = store
        .provider_by_entity_id("https://kokuho.nabari.test/wsp")
        .expect("get")
        .expect("found");
    assert_eq!(again.version, 2);
    assert_eq!(
        again.local_key_scheme,
        LocalKeyScheme::NationalHealthInsurance
    );
    let replaced = store
        .replace_provider_service(
            &svc.svc_md_id,
            &NewService {
                service_type: schemas::idwsf::service_type::HI_ELIGIBILITY.into(),
                endpoint: "https://kokuho.nabari.test/wsp/v2".into(),
                security_mechs: vec![schemas::idwsf::secmech::TLS_BEARER.into()],
                abstract_text: None,
                svc_md_xml: None,
            },
        )
        .expect("replace");
    assert_eq!(replaced.svc_md_id, svc.svc_md_id);
    assert_eq!(
        store.provider_services(&p.id).expect("list")[0].endpoint,
        "https://kokuho.nabari.test/wsp/v2"
    );
    store
        .set_provider_status(&p.id, ProviderStatus::Suspended)
        .expect("suspend");
    assert!(store.approved_services(None).expect("q").is_empty());
    store
        .delete_provider_service(&svc.svc_md_id)
        .expect("delete");
    assert!(matches!(
        store.delete_provider_service(&svc.svc_md_id),
        Err(StoreError::NotFound(_))
    ));
}
