//! Migrations, persons, certificates and the IdP's lookup.

use wsp_relay::store::{Backend, DatabaseUrl};
use wsp_relay::{
    CertKey, CertKind, CertStatus, HouseholdNumber, NewCertificate, NewPerson, PersonStatus,
    ResidentNumber, StatusChange, Store, StoreError, StoreOptions,
};

use crate::both_backends;
use crate::common::{Kind, TestDb};

both_backends!(
    migrations_apply_and_are_idempotent,
    lookup_distinguishes_cas_with_the_same_serial,
    person_life_cycle_and_versions,
    certificate_status_changes,
    sensitive_values_stay_out_of_debug_output,
);

const NB: i64 = 1_700_000_000;
const NA: i64 = 1_900_000_000;

pub fn person(store: &Store, resident: &str) -> wsp_relay::Person {
    store
        .create_person(&NewPerson {
            resident_number: ResidentNumber::parse(resident).expect("resident"),
            household_number: Some(HouseholdNumber::parse("2000001").expect("household")),
            valid_from: None,
        })
        .expect("create person")
}

pub fn cert(
    store: &Store,
    person: &wsp_relay::Person,
    ca: &[u8],
    serial: &[u8],
    kind: CertKind,
) -> CertKey {
    let key = CertKey::new(ca, serial).expect("key");
    store
        .add_certificate(&NewCertificate {
            key: key.clone(),
            person: person.id.clone(),
            kind,
            subject_dn: "C=JP, CN=髙橋𠮷".into(),
            not_before: NB,
            not_after: NA,
        })
        .expect("add certificate");
    key
}

fn migrations_apply_and_are_idempotent(db: &TestDb) {
    let store = db.store();
    let expected = match db.kind {
        Kind::Sqlite => Backend::Sqlite,
        Kind::Postgres => Backend::Postgres,
    };
    assert_eq!(store.backend(), expected);
    let applied = store.applied_migrations().expect("applied");
    assert_eq!(applied, vec!["20261122000000".to_string()]);
    // Running them again (and opening again) changes nothing.
    store.migrate().expect("migrate again");
    let again = db.open_store(2);
    assert_eq!(again.applied_migrations().expect("applied"), applied);
    let counts = again.counts().expect("counts");
    assert_eq!(counts.persons, 0);
    assert!(again.verify_chain().is_ok());
    if db.kind == Kind::Sqlite {
        // The embedded in-memory form runs the same migrations.
        let mem = Store::open("sqlite::memory:", StoreOptions::default()).expect("memory");
        assert_eq!(mem.applied_migrations().expect("applied"), applied);
        person(&mem, "42");
        assert_eq!(mem.counts().expect("counts").persons, 1);
    }
    assert!(matches!(
        DatabaseUrl::parse("mysql://x"),
        Err(StoreError::BadUrl)
    ));
    assert_eq!(
        DatabaseUrl::parse("relay.db").expect("path").backend(),
        Backend::Sqlite
    );
}

fn lookup_distinguishes_cas_with_the_same_serial(db: &TestDb) {
    let store = db.store();
    let a = person(store, "10000000001");
    let b = person(store, "10000000002");
    let gen1 = [0xa8, 0xa3, 0x5f, 0x33];
    let gen2 = [0xb1, 0xb8, 0x71, 0x89];
    cert(store, &a, &gen1, &[0x53, 0x5b, 0xb8], CertKind::Auth);
    cert(store, &b, &gen2, &[0x53, 0x5b, 0xb8], CertKind::Auth);

    let (pa, sa) = store
        .lookup_certificate(&gen1, &[0x53, 0x5b, 0xb8])
        .expect("lookup")
        .expect("found");
    let (pb, sb) = store
        .lookup_certificate(&gen2, &[0x53, 0x5b, 0xb8])
        .expect("lookup")
        .expect("found");
    assert_eq!(pa, a.id);
    assert_eq!(pb, b.id);
    assert_eq!((sa, sb), (CertStatus::Active, CertStatus::Active));
    // A DER sign byte in front of the serial is the same serial.
    let (p, _) = store
        .lookup_certificate(&gen1, &[0x00, 0x53, 0x5b, 0xb8])
        .expect("lookup")
        .expect("found");
    assert_eq!(p, a.id);
    // Unknown CA or serial: nothing.
    assert!(store
        .lookup_certificate(&[0xde, 0xad], &[0x53, 0x5b, 0xb8])
        .expect("lookup")
        .is_none());
    assert!(store
        .lookup_certificate(&gen1, &[0x53, 0x5b, 0xb9])
        .expect("lookup")
        .is_none());
    // The same (CA, serial) cannot be registered twice, even for the same person.
    let err = store
        .add_certificate(&NewCertificate {
            key: CertKey::new(&gen1, &[0x53, 0x5b, 0xb8]).expect("key"),
            person: b.id.clone(),
            kind: CertKind::Auth,
            subject_dn: "x".into(),
            not_before: NB,
            not_after: NA,
        })
        .expect_err("duplicate");
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");

    let detail = store
        .lookup_certificate_detail(&CertKey::new(&gen2, &[0x53, 0x5b, 0xb8]).expect("key"))
        .expect("lookup")
        .expect("found");
    assert_eq!(detail.kind, CertKind::Auth);
    assert_eq!(detail.person_status, PersonStatus::Active);
    assert!(detail.usable_at(NB + 10));
    assert!(!detail.usable_at(NA));
    let certs = store.certificates_of(&b.id).expect("certs");
    assert_eq!(certs.len(), 1);
    assert_eq!(certs[0].subject_dn, "C=JP, CN=髙橋𠮷");
}

fn person_life_cycle_and_versions(db: &TestDb) {
    let store = db.store();
    let p = person(store, "10000000003");
    assert_eq!(p.version, 1);
    let again = store.create_person(&NewPerson {
        resident_number: ResidentNumber::parse("10000000003").expect("r"),
        household_number: None,
        valid_from: None,
    });
    assert!(matches!(again, Err(StoreError::Conflict(_))));
    let found = store
        .person_by_resident_number(&ResidentNumber::parse("10000000003").expect("r"))
        .expect("find")
        .expect("found");
    assert_eq!(found.id, p.id);
    let moved = store
        .set_household_number(&p.id, Some(&HouseholdNumber::parse("2000099").expect("h")))
        .expect("household");
    assert_eq!(moved.version, 2);
    assert_eq!(
        moved.household_number.as_ref().map(|h| h.expose()),
        Some("2000099")
    );
    let closed = store
        .set_person_status(&p.id, PersonStatus::Closed)
        .expect("close");
    assert_eq!(closed.version, 3);
    assert_eq!(closed.status, PersonStatus::Closed);
    assert!(closed.valid_to.is_some());
    // The IdP sees a closed person's certificate as not usable.
    let key = cert(store, &closed, &[1], &[2], CertKind::Sign);
    let detail = store
        .lookup_certificate_detail(&key)
        .expect("lookup")
        .expect("found");
    assert_eq!(detail.person_status, PersonStatus::Closed);
    assert!(!detail.usable_at(NB + 10));
    assert!(store
        .person(&wsp_relay::PersonId::parse(&"0".repeat(32)).expect("id"))
        .expect("get")
        .is_none());
}

fn certificate_status_changes(db: &TestDb) {
    let store = db.store();
    let p = person(store, "10000000004");
    let old = cert(store, &p, &[0xaa], &[0x01], CertKind::Auth);
    let new = NewCertificate {
        key: CertKey::new(&[0xbb], &[0x02]).expect("key"),
        person: p.id.clone(),
        kind: CertKind::Auth,
        subject_dn: "C=JP, CN=new".into(),
        not_before: NB,
        not_after: NA,
    };
    assert_eq!(
        store.supersede_certificate(&old, &new).expect("supersede"),
        StatusChange::Changed
    );
    assert_eq!(
        store.supersede_certificate(&old, &new).expect("again"),
        StatusChange::Unchanged
    );
    let (who, status) = store
        .lookup_certificate(&[0xaa], &[0x01])
        .expect("lookup")
        .expect("found");
    assert_eq!(who, p.id);
    match status {
        CertStatus::Superseded { by, .. } => assert_eq!(by, Some(new.key.clone())),
        other => panic!("expected superseded, got {other:?}"),
    }
    let (who_new, status_new) = store
        .lookup_certificate(&[0xbb], &[0x02])
        .expect("lookup")
        .expect("found");
    assert_eq!((who_new, status_new), (p.id.clone(), CertStatus::Active));
    // Revocation (e.g. from the CRL) of the superseded certificate keeps its successor.
    assert_eq!(
        store
            .revoke_certificate(&old, "superseded", NB + 5)
            .expect("revoke"),
        StatusChange::Changed
    );
    assert_eq!(
        store
            .revoke_certificate(&old, "superseded", NB + 5)
            .expect("revoke"),
        StatusChange::Unchanged
    );
    let c = store.certificate(&old).expect("get").expect("found");
    assert_eq!(
        c.status,
        CertStatus::Revoked {
            reason: "superseded".into(),
            at: NB + 5
        }
    );
    assert_eq!(c.superseded_by, Some(new.key.clone()));
    assert_eq!(c.version, 3);
    // A successor registered to someone else is refused.
    let q = person(store, "10000000005");
    let other = cert(store, &q, &[0xcc], &[0x03], CertKind::Auth);
    let steal = NewCertificate {
        key: other,
        ..new.clone()
    };
    let fresh = cert(store, &p, &[0xdd], &[0x04], CertKind::Auth);
    assert!(matches!(
        store.supersede_certificate(&fresh, &steal),
        Err(StoreError::Conflict(_))
    ));
}

fn sensitive_values_stay_out_of_debug_output(db: &TestDb) {
    let store = db.store();
    let p = person(store, "10000000006");
    let key = cert(
        store,
        &p,
        &[0xaa, 0xbb],
        &[0x12, 0x34, 0x56],
        CertKind::Auth,
    );
    let shown = format!("{p:?} {:?} {key:?}", store.certificate(&key).expect("get"));
    assert!(!shown.contains("10000000006"), "{shown}");
    assert!(!shown.contains("2000001"), "{shown}");
    assert!(!shown.contains(p.id.expose()), "{shown}");
    assert!(!shown.contains("123456"), "{shown}");
    assert!(format!("{store:?}").contains("Kek(id="));
    assert!(!format!("{store:?}").contains(&db.kek_hex));
}
