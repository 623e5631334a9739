//! Crash test: `relay-admin` killed with SIGKILL in the middle of a multi-batch import, then run
//! again: every row is there exactly once and the access-record chain is intact.
//! (`scripts/crash-test.sh` does the same with 1,000,000 rows.)

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use wsp_relay::enroll;

use crate::both_backends;
use crate::common::{import_options, write_csv, TestDb, CARD_HEADER};
use crate::links::provider;

both_backends!(killed_import_resumes_exactly_once);

const ROWS: usize = 400;
const BATCH: &str = "20";

fn synthetic_cards(n: usize) -> Vec<Vec<String>> {
    (0..n)
        .map(|i| {
            vec![
                format!("3{i:010}"),
                format!("4{:06}", i / 3),
                format!("髙𠮷 {i}"),
                "c0ffee01".into(),
                format!("{:06x}", i + 1),
                format!("C=JP, CN=crash{i}"),
                "2026-01-01T00:00:00Z".into(),
                "2031-01-01T00:00:00Z".into(),
                "c0ffee02".into(),
                format!("{:06x}", i + 1),
                format!("C=JP, L=Mie, CN=crash{i}"),
                "1767225600".into(),
                "1924992000".into(),
            ]
        })
        .collect()
}

/// Starts `relay-admin <args>` with a pause between batches and kills it (SIGKILL) once
/// `progress()` reaches `at`, long before the end.
fn kill_midway(db: &TestDb, args: &[&str], progress: impl Fn() -> i64, at: i64) {
    let mut child: Child = db
        .admin()
        .args(args)
        .env("RELAY_IMPORT_PAUSE_MS", "40")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn relay-admin");
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            let mut err = String::new();
            use std::io::Read;
            if let Some(mut e) = child.stderr.take() {
                let _ = e.read_to_string(&mut err);
            }
            panic!("relay-admin ended before the kill: {status}: {err}");
        }
        if progress() >= at {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "import made no progress"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().expect("SIGKILL");
    let status = child.wait().expect("reap");
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(libc::SIGKILL));
}

fn rerun(db: &TestDb, args: &[&str]) -> String {
    let out = db.admin().args(args).output().expect("run relay-admin");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{args:?}: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn killed_import_resumes_exactly_once(db: &TestDb) {
    let store = db.store();
    let cards = db.path("cards.csv");
    write_csv(&cards, &CARD_HEADER, &synthetic_cards(ROWS));
    let cards_arg = cards.to_str().expect("path");
    let args = [
        "import-cards",
        cards_arg,
        "--batch-size",
        BATCH,
        "--no-progress",
    ];

    kill_midway(db, &args, || store.counts().expect("counts").persons, 100);
    let partial = store.counts().expect("counts");
    assert!(
        partial.persons > 0 && partial.persons < ROWS as i64,
        "killed mid-file: {partial:?}"
    );
    // What was committed is whole batches: persons and certificates move together.
    assert_eq!(partial.certificates, 2 * partial.persons);
    assert_eq!(
        partial.persons % 20,
        0,
        "a batch is all or nothing: {partial:?}"
    );

    let out = rerun(db, &args);
    assert!(out.contains(&format!("{ROWS} rows in 20 batches")), "{out}");
    let counts = store.counts().expect("counts");
    assert_eq!(
        (counts.persons, counts.certificates),
        (ROWS as i64, 2 * ROWS as i64)
    );
    // Every row exactly once: the per-batch counts add up to the file, nothing twice.
    let report = enroll::import_cards(store, &cards, &import_options(20)).expect("third run");
    assert_eq!(
        (
            report.applied,
            report.unchanged,
            report.rejected,
            report.batches_committed_now,
            report.batches_skipped
        ),
        (ROWS as u64, 0, 0, 0, 20)
    );

    // The same with a link import, which also appends to the access-record chain.
    let p = provider(store, "https://kenpo.nabari.test/wsp", true);
    let links = db.path("links.csv");
    let rows: Vec<Vec<String>> = (0..ROWS)
        .map(|i| vec![format!("3{i:010}"), format!("記号𠮷-{i}")])
        .collect();
    write_csv(&links, &["resident_number", "local_key"], &rows);
    let largs = [
        "import-links",
        &p.entity_id,
        links.to_str().expect("path"),
        "--batch-size",
        BATCH,
        "--no-progress",
    ];
    kill_midway(db, &largs, || store.counts().expect("counts").links, 100);
    let partial = store.counts().expect("counts");
    assert!(
        partial.links > 0 && partial.links < ROWS as i64,
        "{partial:?}"
    );
    assert_eq!(partial.access_records, partial.links);
    store.verify_chain().expect("chain intact after the kill");
    rerun(db, &largs);
    let counts = store.counts().expect("counts");
    assert_eq!(
        (counts.links, counts.access_records),
        (ROWS as i64, ROWS as i64)
    );
    let chain = store.verify_chain().expect("chain intact");
    assert_eq!(chain.records, ROWS as i64);
    let report =
        enroll::import_links(store, &p.entity_id, &links, &import_options(20)).expect("third run");
    assert_eq!(
        (report.applied, report.batches_committed_now),
        (ROWS as u64, 0)
    );
    let out = rerun(db, &["verify-chain"]);
    assert!(
        out.contains(&format!("chain intact: {ROWS} records")),
        "{out}"
    );
}
