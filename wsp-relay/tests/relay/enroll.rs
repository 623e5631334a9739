//! Enrollment imports and exports with the test PKI's cards and CRLs.

use std::collections::HashMap;

use certs::{CardCase, Purpose};
use wsp_relay::enroll::{self, EnrollError, ImportKind};
use wsp_relay::{CertStatus, ProviderStatus, ResidentNumber};

use crate::both_backends;
use crate::common::{
    card_row, import_options, issued_cards, key_of, pki, resident_number, write_csv, TestDb,
    CARD_HEADER,
};
use crate::links::provider;

both_backends!(
    cards_import_maps_certificates_to_persons,
    reimport_is_idempotent,
    rejected_rows_are_reported_and_valid_rows_commit,
    renewal_links_new_certificate_and_supersedes_old,
    crl_import_revokes_and_refuses_unverified_crls,
    links_import_and_export,
);

fn import_all_cards(db: &TestDb, cards: &[&certs::Card], batch: usize) -> enroll::ImportReport {
    let path = db.path("cards.csv");
    let rows: Vec<Vec<String>> = cards.iter().map(|c| card_row(c)).collect();
    write_csv(&path, &CARD_HEADER, &rows);
    enroll::import_cards(db.store(), &path, &import_options(batch)).expect("import cards")
}

fn cards_import_maps_certificates_to_persons(db: &TestDb) {
    let store = db.store();
    let cards = issued_cards();
    let report = import_all_cards(db, &cards, 4);
    assert_eq!(report.kind, ImportKind::Cards);
    assert_eq!(report.rows, cards.len() as u64);
    assert_eq!(
        (report.applied, report.unchanged, report.rejected),
        (cards.len() as u64, 0, 0)
    );
    assert_eq!(report.batches, (cards.len() as u64).div_ceil(4));
    let residents: std::collections::HashSet<_> =
        cards.iter().map(|c| c.resident.id.clone()).collect();
    let counts = store.counts().expect("counts");
    assert_eq!(
        counts.persons,
        residents.len() as i64,
        "the renewed resident has one person"
    );
    assert_eq!(counts.certificates, 2 * cards.len() as i64);

    let mut person_of: HashMap<String, wsp_relay::PersonId> = HashMap::new();
    for card in &cards {
        for cert in [&card.auth_cert, &card.sign_cert] {
            let key = key_of(cert);
            let (person, status) = store
                .lookup_certificate(&key.ca_key_id, &key.serial)
                .expect("lookup")
                .unwrap_or_else(|| panic!("card {} not found", card.card_number));
            assert_eq!(
                status,
                CertStatus::Active,
                "nothing revoked before the CRL import"
            );
            let prev = person_of
                .entry(card.resident.id.clone())
                .or_insert_with(|| person.clone());
            assert_eq!(*prev, person, "card {}", card.card_number);
            let c = store.certificate(&key).expect("get").expect("found");
            assert_eq!(c.subject_dn, cert.subject);
            assert_eq!(c.not_before, cert.not_before.unix_timestamp());
        }
    }
    // Cards 0005 (generation 1) and 0009 (generation 2) share a user-authentication serial.
    let m = &pki().manifest;
    let shared: Vec<_> = cards
        .iter()
        .filter(|c| {
            cards
                .iter()
                .any(|o| o.card_number != c.card_number && o.auth_cert.serial == c.auth_cert.serial)
        })
        .collect();
    assert_eq!(shared.len(), 2, "the PKI has two CAs issuing one serial");
    assert_ne!(shared[0].auth_cert.ca_key_id, shared[1].auth_cert.ca_key_id);
    assert_ne!(
        person_of[&shared[0].resident.id],
        person_of[&shared[1].resident.id]
    );
    // The forged card copies card 0001's serial under the rogue root, which copied generation
    // 1's key identifier: the relay cannot tell them apart — the IdP's signature check must.
    let forged = m.cards_with_case(CardCase::Forged)[0];
    assert_eq!(
        key_of(&forged.auth_cert),
        key_of(&m.card("0001").expect("0001").auth_cert)
    );

    // The resident's name (with 𠮷 and 髙) was in the file but is not stored anywhere.
    let r = store
        .person_by_resident_number(
            &ResidentNumber::parse(&resident_number(&cards[0].resident)).expect("r"),
        )
        .expect("get")
        .expect("found");
    let shown = format!("{:?}", store.certificates_of(&r.id).expect("certs"));
    assert!(!shown.contains('𠮷') && !shown.contains(&cards[0].resident.name));
}

fn reimport_is_idempotent(db: &TestDb) {
    let store = db.store();
    let cards = issued_cards();
    let first = import_all_cards(db, &cards, 5);
    let counts = store.counts().expect("counts");
    let second =
        enroll::import_cards(store, &db.path("cards.csv"), &import_options(5)).expect("again");
    assert_eq!(second.batches_committed_now, 0);
    assert_eq!(second.batches_skipped, first.batches);
    assert_eq!(
        (
            second.rows,
            second.applied,
            second.unchanged,
            second.rejected
        ),
        (first.rows, first.applied, first.unchanged, first.rejected)
    );
    assert_eq!(store.counts().expect("counts"), counts);
    // Another batch size on a re-run keeps the first one (batch numbers keep their meaning).
    let third =
        enroll::import_cards(store, &db.path("cards.csv"), &import_options(2)).expect("again");
    assert_eq!((third.batch_size, third.batches_committed_now), (5, 0));
    // The same rows in another file (different bytes): every row is already there.
    let other = db.path("cards-again.csv");
    let mut rows: Vec<Vec<String>> = cards.iter().rev().map(|c| card_row(c)).collect();
    rows[0][2] = "別名".into();
    write_csv(&other, &CARD_HEADER, &rows);
    let again = enroll::import_cards(store, &other, &import_options(100)).expect("other file");
    assert_eq!(
        (again.applied, again.unchanged, again.rejected),
        (0, cards.len() as u64, 0)
    );
    assert_eq!(store.counts().expect("counts"), counts);
}

fn rejected_rows_are_reported_and_valid_rows_commit(db: &TestDb) {
    let store = db.store();
    let cards = issued_cards();
    let ok = |i: usize| card_row(cards[i]);
    let mut bad_hex = card_row(cards[1]);
    bad_hex[4] = "12zz".into();
    let mut bad_time = card_row(cards[2]);
    bad_time[7] = "next tuesday".into();
    let mut swapped = card_row(cards[3]);
    swapped[6] = swapped[7].clone();
    let mut conflicting = ok(0);
    conflicting[1] = "2999999".into(); // same resident, other household
    let mut no_cert = card_row(cards[4]);
    for f in &mut no_cert[3..] {
        f.clear();
    }
    let mut bad_resident = card_row(cards[5]);
    bad_resident[0] = "12-34".into();
    let mut half = card_row(cards[6]);
    half[10].clear();
    let mut stolen = card_row(cards[7]);
    stolen[0] = "19999999999".into(); // a new resident claiming card 0001's certificates…
    stolen[3..8].clone_from_slice(&ok(0)[3..8]);
    let rows = vec![
        ok(0),        // line 2: valid
        bad_hex,      // 3
        bad_time,     // 4
        swapped,      // 5: notAfter before notBefore
        conflicting,  // 6: resident repeated with other data
        no_cert,      // 7
        bad_resident, // 8
        half,         // 9: sign certificate half given
        stolen,       // 10: certificate repeated for another resident
        ok(8),        // 11: valid
    ];
    let path = db.path("cards-bad.csv");
    write_csv(&path, &CARD_HEADER, &rows);
    let rejects_path = db.path("rejects.csv");
    let mut opts = import_options(3);
    opts.rejects_path = Some(rejects_path.clone());
    let report = enroll::import_cards(store, &path, &opts).expect("import");
    assert_eq!((report.rows, report.applied, report.rejected), (10, 2, 8));
    assert_eq!(report.rejects_path.as_deref(), Some(rejects_path.as_path()));
    let text = std::fs::read_to_string(&rejects_path).expect("report");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "row,line,reason");
    let expect = [
        (3, "auth certificate: invalid serial: not hex"),
        (4, "auth_not_after: not an RFC 3339 time"),
        (5, "not_after is not after not_before"),
        (6, "resident number also on line 2 with different data"),
        (7, "no certificate"),
        (8, "invalid resident number"),
        (9, "sign certificate: give all of"),
        (10, "certificate also on line 2 with different data"),
    ];
    assert_eq!(lines.len(), 1 + expect.len(), "{text}");
    for ((line, reason), got) in expect.iter().zip(&lines[1..]) {
        let fields: Vec<&str> = got.splitn(3, ',').collect();
        assert_eq!(fields[1], line.to_string(), "{got}");
        assert!(fields[2].contains(reason), "line {line}: {got}");
    }
    // No sensitive value in the report.
    assert!(!text.contains(&resident_number(&cards[0].resident)));
    assert_eq!(store.counts().expect("counts").persons, 2);
    // A certificate of another person is refused against the database too (not only in-file).
    let mut later = card_row(cards[9]);
    later[3..8].clone_from_slice(&ok(8)[3..8]);
    let path2 = db.path("cards-later.csv");
    write_csv(&path2, &CARD_HEADER, &[later, ok(10)]);
    let r2 = enroll::import_cards(store, &path2, &import_options(10)).expect("import");
    assert_eq!((r2.applied, r2.rejected), (1, 1));
    let text = std::fs::read_to_string(r2.rejects_path.expect("report")).expect("read");
    assert!(
        text.contains("auth certificate is already registered to another person"),
        "{text}"
    );
    // A file without the required column is refused whole.
    let headless = db.path("no-header.csv");
    std::fs::write(&headless, "name,auth_serial\nx,01\n").expect("write");
    assert!(matches!(
        enroll::import_cards(store, &headless, &import_options(10)),
        Err(EnrollError::BadFile { .. })
    ));
}

fn renewal_links_new_certificate_and_supersedes_old(db: &TestDb) {
    let store = db.store();
    let m = &pki().manifest;
    let old = m.cards_with_case(CardCase::Superseded)[0];
    let new = m.cards_with_case(CardCase::Renewed)[0];
    let cards: Vec<_> = issued_cards()
        .into_iter()
        .filter(|c| c.case != CardCase::Renewed)
        .collect();
    import_all_cards(db, &cards, 100);
    let header = [
        "old_ca_key_id",
        "old_serial",
        "new_ca_key_id",
        "new_serial",
        "new_subject",
        "new_not_before",
        "new_not_after",
    ];
    let row = |o: &certs::CardCert, n: &certs::CardCert| {
        vec![
            o.ca_key_id.clone(),
            o.serial.clone(),
            n.ca_key_id.to_uppercase(),
            n.serial.clone(),
            n.subject.clone(),
            crate::common::rfc3339(n.not_before),
            n.not_after.unix_timestamp().to_string(),
        ]
    };
    let unknown = vec![
        "00".into(),
        "01".into(),
        "00".into(),
        "02".into(),
        "CN=x".into(),
        "0".into(),
        "10".into(),
    ];
    let path = db.path("renewals.csv");
    write_csv(
        &path,
        &header,
        &[
            row(&old.auth_cert, &new.auth_cert),
            row(&old.sign_cert, &new.sign_cert),
            unknown,
        ],
    );
    let report = enroll::import_renewals(store, &path, &import_options(2)).expect("renew");
    assert_eq!((report.applied, report.rejected), (2, 1));
    let again = enroll::import_renewals(store, &path, &import_options(2)).expect("again");
    assert_eq!(
        (again.applied, again.rejected, again.batches_committed_now),
        (2, 1, 0)
    );

    let person = store
        .person_by_resident_number(
            &ResidentNumber::parse(&resident_number(&old.resident)).expect("r"),
        )
        .expect("get")
        .expect("found");
    for (o, n) in [
        (&old.auth_cert, &new.auth_cert),
        (&old.sign_cert, &new.sign_cert),
    ] {
        let (who, status) = store
            .lookup_certificate(&key_of(n).ca_key_id, &key_of(n).serial)
            .expect("lookup")
            .expect("new");
        assert_eq!((who, status), (person.id.clone(), CertStatus::Active));
        let c = store.certificate(&key_of(o)).expect("get").expect("old");
        assert!(
            matches!(c.status, CertStatus::Superseded { by: Some(ref by), .. } if *by == key_of(n)),
            "{:?}",
            c.status
        );
        let n_row = store.certificate(&key_of(n)).expect("get").expect("new");
        assert_eq!(n_row.kind, c.kind);
    }
    // The same new certificate offered as successor of another card is refused.
    let other = m.card("0001").expect("card");
    let path2 = db.path("renewals-2.csv");
    write_csv(&path2, &header, &[row(&other.auth_cert, &new.auth_cert)]);
    let r2 = enroll::import_renewals(store, &path2, &import_options(2)).expect("renew");
    assert_eq!(r2.rejected, 1);
    let text = std::fs::read_to_string(r2.rejects_path.expect("report")).expect("read");
    assert!(
        text.contains("new certificate is registered to another person"),
        "{text}"
    );
}

fn crl_import_revokes_and_refuses_unverified_crls(db: &TestDb) {
    let store = db.store();
    let m = &pki().manifest;
    let cards = issued_cards();
    import_all_cards(db, &cards, 100);
    let mut anchors = pki()
        .trusted_root_certs(Purpose::UserAuthentication)
        .expect("roots");
    anchors.extend(pki().trusted_root_certs(Purpose::Signature).expect("roots"));

    // A CRL signed by the rogue root (same DN and key identifier as generation 1) is refused and
    // changes nothing, although it lists card 0001's serial.
    for rogue in [
        m.rogue_root(Purpose::UserAuthentication).expect("rogue"),
        m.rogue_root(Purpose::Signature).expect("rogue"),
    ] {
        let err = enroll::import_crl(store, &rogue.crl.der, &anchors, &import_options(100))
            .expect_err("rogue CRL");
        assert!(matches!(err, EnrollError::CrlRefused(_)), "{err}");
    }
    let card1 = m.card("0001").expect("0001");
    let k = key_of(&card1.auth_cert);
    assert_eq!(
        store
            .lookup_certificate(&k.ca_key_id, &k.serial)
            .expect("lookup")
            .expect("found")
            .1,
        CertStatus::Active
    );
    // A CRL of a CA that is not configured is refused.
    let gen1 = m.ca("auth-gen1").expect("gen1");
    let only_sign = pki().trusted_root_certs(Purpose::Signature).expect("roots");
    let err = enroll::import_crl(store, &gen1.crl.der, &only_sign, &import_options(100))
        .expect_err("unconfigured");
    assert!(matches!(err, EnrollError::CrlRefused(_)), "{err}");

    let mut revoked_total = 0;
    for ca in m.cas.iter().filter(|c| !c.rogue) {
        let path = if ca.name.ends_with("gen2") {
            &ca.crl.pem
        } else {
            &ca.crl.der
        };
        let report = enroll::import_crl(store, path, &anchors, &import_options(1)).expect("CRL");
        assert_eq!(report.rows, ca.crl.entries.len() as u64);
        assert_eq!(report.rejected, 0);
        revoked_total += report.applied;
        let again =
            enroll::import_crl(store, path, &anchors, &import_options(1)).expect("CRL again");
        assert_eq!(
            (again.applied, again.batches_committed_now),
            (report.applied, 0)
        );
    }
    let expected: usize = m
        .cas
        .iter()
        .filter(|c| !c.rogue)
        .map(|c| c.crl.entries.len())
        .sum();
    assert_eq!(revoked_total, expected as u64);
    for card in &cards {
        for cert in [&card.auth_cert, &card.sign_cert] {
            let k = key_of(cert);
            let (_, status) = store
                .lookup_certificate(&k.ca_key_id, &k.serial)
                .expect("lookup")
                .expect("found");
            match &cert.revocation {
                None => assert_eq!(
                    status,
                    CertStatus::Active,
                    "card {} {:?}",
                    card.card_number,
                    cert.purpose
                ),
                Some(rev) => {
                    let reason = match rev.reason {
                        certs::RevocationReason::KeyCompromise => "keyCompromise",
                        certs::RevocationReason::AffiliationChanged => "affiliationChanged",
                        certs::RevocationReason::Superseded => "superseded",
                    };
                    assert_eq!(
                        status,
                        CertStatus::Revoked {
                            reason: reason.into(),
                            at: rev.revoked_at.unix_timestamp()
                        },
                        "card {}",
                        card.card_number
                    );
                }
            }
        }
    }
    // Card 0009 shares card 0005's serial under generation 2: generation 1's CRL left it alone.
    let compromised = m.cards_with_case(CardCase::KeyCompromise)[0];
    let twin = cards
        .iter()
        .find(|c| {
            c.card_number != compromised.card_number
                && c.auth_cert.serial == compromised.auth_cert.serial
        })
        .expect("twin");
    let k = key_of(&twin.auth_cert);
    assert_eq!(
        store
            .lookup_certificate(&k.ca_key_id, &k.serial)
            .expect("lookup")
            .expect("found")
            .1,
        CertStatus::Active
    );
}

fn links_import_and_export(db: &TestDb) {
    let store = db.store();
    let cards = issued_cards();
    import_all_cards(db, &cards, 100);
    let pilot = provider(store, "https://kenpo.nabari.test/wsp", true);
    let plain = provider(store, "https://pension.nabari.test/wsp", false);
    let residents: Vec<String> = {
        let mut r: Vec<String> = cards.iter().map(|c| resident_number(&c.resident)).collect();
        r.dedup();
        r
    };
    let key_for = |i: usize| format!("名張𠮷髙-{i:04} 記号");
    let mut rows: Vec<Vec<String>> = residents
        .iter()
        .enumerate()
        .map(|(i, r)| vec![r.clone(), key_for(i)])
        .collect();
    rows.push(vec!["19999999999".into(), "nobody".into()]); // unknown resident
    rows.push(vec![residents[1].clone(), key_for(0)]); // key of another row
    let path = db.path("links.csv");
    write_csv(&path, &["resident_number", "local_key"], &rows);
    for p in [&pilot, &plain] {
        let report =
            enroll::import_links(store, &p.entity_id, &path, &import_options(4)).expect("links");
        assert_eq!(
            (report.applied, report.rejected),
            (residents.len() as u64, 2),
            "{}",
            p.entity_id
        );
        let again = enroll::import_links(store, &p.entity_id, &path, &import_options(4))
            .expect("links again");
        assert_eq!(
            (again.applied, again.rejected, again.batches_committed_now),
            (report.applied, 2, 0)
        );
    }
    let text = std::fs::read_to_string(db.path("links.csv.rejects.csv")).expect("report");
    assert!(
        text.contains("no person with this resident number"),
        "{text}"
    );
    assert!(
        text.contains("resident number also on line 3 with different data"),
        "{text}"
    );
    // One `linked` record per link, chain intact.
    let chain = store.verify_chain().expect("chain");
    assert_eq!(chain.records, 2 * residents.len() as i64);

    // Export: pseudonym ↔ local key; pilot from the relay, the other from the insurer's file.
    let out = db.path("export-pilot.csv");
    let r = enroll::export_links(store, &pilot.entity_id, &out, None).expect("export");
    assert_eq!((r.rows, r.skipped), (residents.len() as u64, 0));
    let err = enroll::export_links(store, &plain.entity_id, &db.path("x.csv"), None)
        .expect_err("needs file");
    assert!(matches!(err, EnrollError::NeedLinkFile(_)));
    let out2 = db.path("export-plain.csv");
    let r2 = enroll::export_links(store, &plain.entity_id, &out2, Some(&path)).expect("export");
    assert_eq!((r2.rows, r2.skipped), (residents.len() as u64, 2));
    let read = |p: &std::path::Path| -> HashMap<String, String> {
        let mut rdr = csv::Reader::from_path(p).expect("csv");
        assert_eq!(
            rdr.headers().expect("h").iter().collect::<Vec<_>>(),
            vec!["pseudonym", "local_key"]
        );
        rdr.records()
            .map(|r| r.expect("rec"))
            .map(|r| (r[1].to_string(), r[0].to_string()))
            .collect()
    };
    let (a, b) = (read(&out), read(&out2));
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&out).expect("meta").permissions().mode() & 0o777,
        0o600
    );
    for (i, r) in residents.iter().enumerate() {
        let key = key_for(i);
        let person = store
            .person_by_resident_number(&ResidentNumber::parse(r).expect("r"))
            .expect("get")
            .expect("found");
        let pa = wsp_relay::Pseudonym::parse(&a[&key]).expect("pseudonym");
        let pb = wsp_relay::Pseudonym::parse(&b[&key]).expect("pseudonym");
        assert_ne!(pa, pb, "the two providers' pseudonyms differ");
        assert_eq!(
            store.person_for_pseudonym(&pilot.id, &pa).expect("q"),
            Some(person.id.clone())
        );
        assert_eq!(
            store.person_for_pseudonym(&plain.id, &pb).expect("q"),
            Some(person.id.clone())
        );
    }
    // Suspended providers get no imports.
    store
        .set_provider_status(&plain.id, ProviderStatus::Suspended)
        .expect("suspend");
    assert!(matches!(
        enroll::import_links(store, &plain.entity_id, &path, &import_options(4)),
        Err(EnrollError::ProviderSuspended(_))
    ));
    assert!(matches!(
        enroll::import_links(store, "https://unknown/", &path, &import_options(4)),
        Err(EnrollError::UnknownProvider(_))
    ));
}
