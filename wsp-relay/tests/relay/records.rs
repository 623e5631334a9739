//! The access-record hash chain.

use wsp_relay::{BrokenLink, ChainError, NewAccessRecord, Outcome, PersonId, Store};

use crate::both_backends;
use crate::common::TestDb;
use crate::store::person;

both_backends!(
    chain_verifies_and_lists_per_person,
    tampering_any_column_of_any_row_is_found,
    removing_records_is_found,
    concurrent_appends_keep_one_chain,
);

fn record(person: &PersonId, i: usize) -> NewAccessRecord {
    NewAccessRecord {
        requester: "https://portal.nabari.test/sp".into(),
        purpose: "dashboard".into(),
        provider: if i % 3 == 0 {
            None
        } else {
            Some(format!("https://wsp{}.nabari.test/", i % 3))
        },
        service_type: Some(schemas::idwsf::service_type::PENSION.into()),
        data_class: if i % 2 == 0 {
            Some("pension-record".into())
        } else {
            None
        },
        person: person.clone(),
        outcome: if i % 3 == 0 {
            Outcome::Refused
        } else {
            Outcome::Issued
        },
        detail: if i % 3 == 0 {
            Some("no-rule".into())
        } else {
            None
        },
    }
}

fn broken(store: &Store) -> BrokenLink {
    match store.verify_chain() {
        Err(ChainError::Broken(b)) => b,
        other => panic!("expected a broken chain, got {other:?}"),
    }
}

fn chain_verifies_and_lists_per_person(db: &TestDb) {
    let store = db.store();
    let a = person(store, "10000000301");
    let b = person(store, "10000000302");
    let empty = store.verify_chain().expect("empty chain");
    assert_eq!(
        (empty.records, empty.head_seq, empty.head_hash),
        (0, 0, None)
    );
    let first = store
        .append_access_record(&record(&a.id, 1))
        .expect("append");
    assert_eq!(first.seq, 1);
    assert_eq!(first.prev_hash, vec![0u8; 32]);
    assert_eq!(
        first.hash,
        openssl::sha::sha256(&wsp_relay::records::canonical_encoding(&first)).to_vec()
    );
    let batch: Vec<_> = (2..8)
        .map(|i| record(if i % 2 == 0 { &b.id } else { &a.id }, i))
        .collect();
    let appended = store.append_access_records(&batch).expect("append");
    assert_eq!(
        appended.iter().map(|r| r.seq).collect::<Vec<_>>(),
        (2..8).collect::<Vec<_>>()
    );
    assert_eq!(appended[0].prev_hash, first.hash);
    let report = store.verify_chain().expect("verify");
    assert_eq!((report.records, report.head_seq), (7, 7));
    assert_eq!(
        report.head_hash.as_deref(),
        Some(appended[5].hash.as_slice())
    );
    let mine = store.access_records_for(&a.id).expect("records");
    assert_eq!(
        mine.iter().map(|r| r.seq).collect::<Vec<_>>(),
        vec![1, 3, 5, 7]
    );
    assert!(mine.iter().all(|r| r.person == a.id));
    assert_eq!(mine[0], first);
    let refused = store.access_records_for(&b.id).expect("records");
    assert!(refused
        .iter()
        .any(|r| r.outcome == Outcome::Refused && r.detail.as_deref() == Some("no-rule")));
    assert!(store
        .append_access_record(&NewAccessRecord {
            requester: " ".into(),
            ..record(&a.id, 1)
        })
        .is_err());
}

/// (column, SQL expression that changes it on any row; NULL-able columns change both ways).
const TAMPERS: &[(&str, &str)] = &[
    ("seq", "seq + 1000"),
    ("recorded_at", "recorded_at + 1"),
    ("requester", "requester || 'x'"),
    ("purpose", "purpose || 'x'"),
    (
        "provider",
        "CASE WHEN provider IS NULL THEN 'https://evil/' ELSE NULL END",
    ),
    ("service_type", "service_type || 'x'"),
    (
        "data_class",
        "CASE WHEN data_class IS NULL THEN 'x' ELSE NULL END",
    ),
    ("person_id", "person_id || 'x'"),
    (
        "outcome",
        "CASE WHEN outcome = 'issued' THEN 'refused' ELSE 'issued' END",
    ),
    ("detail", "CASE WHEN detail IS NULL THEN 'ok' ELSE NULL END"),
    ("prev_hash", "hash"),
    ("hash", "prev_hash"),
];

fn tampering_any_column_of_any_row_is_found(db: &TestDb) {
    let store = db.store();
    let a = person(store, "10000000303");
    let records: Vec<_> = (1..=5).map(|i| record(&a.id, i)).collect();
    store.append_access_records(&records).expect("append");
    store.verify_chain().expect("intact");
    db.exec("CREATE TABLE ar_backup AS SELECT * FROM access_records");
    for (column, expr) in TAMPERS {
        for seq in 1..=5 {
            db.exec(&format!(
                "UPDATE access_records SET {column} = {expr} WHERE seq = {seq}"
            ));
            let b = broken(store);
            assert_eq!(b.seq, seq, "tampered {column} of seq {seq}: {}", b.reason);
            db.exec(
                "DELETE FROM access_records; INSERT INTO access_records SELECT * FROM ar_backup",
            );
            store
                .verify_chain()
                .unwrap_or_else(|e| panic!("restored after {column}/{seq}: {e}"));
        }
    }
    // Rewriting a record and its own hash consistently still breaks the next link.
    db.exec("UPDATE access_records SET purpose = 'research' WHERE seq = 2");
    let mut rec = store.access_records_for(&a.id).expect("records").remove(1);
    assert_eq!(rec.purpose, "research");
    rec.hash = openssl::sha::sha256(&wsp_relay::records::canonical_encoding(&rec)).to_vec();
    let hex = wsp_relay::crypto::hex(&rec.hash);
    let literal = match db.kind {
        crate::common::Kind::Sqlite => format!("X'{hex}'"),
        crate::common::Kind::Postgres => format!("'\\x{hex}'::bytea"),
    };
    db.exec(&format!(
        "UPDATE access_records SET hash = {literal} WHERE seq = 2"
    ));
    assert_eq!(broken(store).seq, 3);
}

fn removing_records_is_found(db: &TestDb) {
    let store = db.store();
    let a = person(store, "10000000304");
    let records: Vec<_> = (1..=6).map(|i| record(&a.id, i)).collect();
    store.append_access_records(&records).expect("append");
    db.exec("CREATE TABLE ar_backup AS SELECT * FROM access_records");
    for seq in 1..=6 {
        db.exec(&format!("DELETE FROM access_records WHERE seq = {seq}"));
        assert_eq!(broken(store).seq, seq, "deleted seq {seq}");
        db.exec("DELETE FROM access_records; INSERT INTO access_records SELECT * FROM ar_backup");
    }
    // Truncating the newest records is caught by the head row.
    db.exec("DELETE FROM access_records WHERE seq >= 5");
    assert_eq!(broken(store).seq, 5);
    db.exec("DELETE FROM access_records; INSERT INTO access_records SELECT * FROM ar_backup");
    store.verify_chain().expect("restored");
    // The head itself altered.
    db.exec(
        "UPDATE access_chain SET head_hash = (SELECT prev_hash FROM access_records WHERE seq = 6)",
    );
    assert_eq!(broken(store).seq, 6);
}

fn concurrent_appends_keep_one_chain(db: &TestDb) {
    let store = db.open_store(6);
    let people: Vec<_> = (0..6)
        .map(|i| person(&store, &format!("1000000040{i}")))
        .collect();
    const PER_THREAD: usize = 30;
    std::thread::scope(|s| {
        for p in &people {
            let store = store.clone();
            s.spawn(move || {
                for i in 0..PER_THREAD {
                    if i % 5 == 0 {
                        store
                            .append_access_records(&[record(&p.id, i), record(&p.id, i + 1)])
                            .expect("append pair");
                    } else {
                        store
                            .append_access_record(&record(&p.id, i))
                            .expect("append");
                    }
                }
            });
        }
    });
    let total = (people.len() * (PER_THREAD + PER_THREAD / 5)) as i64;
    let report = store.verify_chain().expect("one intact chain");
    assert_eq!(report.records, total);
    assert_eq!(report.head_seq, total);
    for p in &people {
        let mine = store.access_records_for(&p.id).expect("records");
        assert_eq!(mine.len(), PER_THREAD + PER_THREAD / 5);
        // A pair appended together is contiguous.
        assert!(mine.windows(2).all(|w| w[0].seq < w[1].seq));
    }
}
