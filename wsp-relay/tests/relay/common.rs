//! Test harness: every test runs once on SQLite (a file in a temporary folder) and once on
//! PostgreSQL (a fresh database `relay_t_<random>` on 127.0.0.1:5432, dropped afterwards). If
//! PostgreSQL is not reachable the PostgreSQL half FAILS: CI has it.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection, SqliteConnection};
use wsp_relay::{Kek, Store, StoreOptions};

/// Base URL of the PostgreSQL server (override with RELAY_TEST_PG_URL).
fn pg_base() -> String {
    std::env::var("RELAY_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Sqlite,
    Postgres,
}

/// One test database with a store opened on it (KEK configured).
pub struct TestDb {
    pub kind: Kind,
    pub url: String,
    pub dir: tempfile::TempDir,
    pub kek_hex: String,
    pub kek_file: PathBuf,
    pg_name: Option<String>,
    store: Option<Store>,
}

fn random_hex(n: usize) -> String {
    let mut buf = vec![0u8; n];
    openssl::rand::rand_bytes(&mut buf).expect("random");
    wsp_relay::crypto::hex(&buf)
}

impl TestDb {
    pub fn new(kind: Kind) -> TestDb {
        let dir = tempfile::tempdir().expect("tempdir");
        let (url, pg_name) = match kind {
            Kind::Sqlite => (
                format!("sqlite://{}", dir.path().join("relay.sqlite3").display()),
                None,
            ),
            Kind::Postgres => {
                let name = format!("relay_t_{}", random_hex(8));
                let mut admin = PgConnection::establish(&format!("{}/test", pg_base()))
                    .unwrap_or_else(|e| {
                        panic!(
                            "PostgreSQL at {} is required for these tests: {e}",
                            pg_base()
                        )
                    });
                admin
                    .batch_execute(&format!("CREATE DATABASE {name}"))
                    .expect("create test database");
                (format!("{}/{name}", pg_base()), Some(name))
            }
        };
        let kek_hex = Kek::generate_hex().expect("kek");
        let kek_file = dir.path().join("kek.hex");
        std::fs::write(&kek_file, &kek_hex).expect("write kek");
        let mut db = TestDb {
            kind,
            url,
            dir,
            kek_hex,
            kek_file,
            pg_name,
            store: None,
        };
        db.store = Some(db.open_store(8));
        db
    }

    pub fn open_store(&self, pool_size: u32) -> Store {
        Store::open(
            &self.url,
            StoreOptions {
                pool_size,
                kek: Some(Kek::from_hex(&self.kek_hex).expect("kek")),
                ..StoreOptions::default()
            },
        )
        .expect("open store")
    }

    pub fn store(&self) -> &Store {
        self.store.as_ref().expect("store")
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Runs raw SQL on a connection of its own (to tamper with rows behind the store's back).
    pub fn exec(&self, sql: &str) {
        match self.kind {
            Kind::Sqlite => {
                let path = self.url.trim_start_matches("sqlite://");
                let mut c = SqliteConnection::establish(path).expect("sqlite");
                c.batch_execute("PRAGMA busy_timeout = 10000;")
                    .expect("pragma");
                c.batch_execute(sql)
                    .unwrap_or_else(|e| panic!("{sql}: {e}"));
            }
            Kind::Postgres => {
                let mut c = PgConnection::establish(&self.url).expect("pg");
                c.batch_execute(sql)
                    .unwrap_or_else(|e| panic!("{sql}: {e}"));
            }
        }
    }

    /// A `relay-admin` command on this database.
    pub fn admin(&self) -> std::process::Command {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_relay-admin"));
        cmd.env("RELAY_DATABASE_URL", &self.url)
            .env("RELAY_KEK_FILE", &self.kek_file)
            .env_remove("RELAY_CONFIG")
            .env_remove("RELAY_IMPORT_PAUSE_MS");
        cmd
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        // Close the pool before dropping the database.
        self.store = None;
        if let Some(name) = &self.pg_name {
            if let Ok(mut admin) = PgConnection::establish(&format!("{}/test", pg_base())) {
                let _ =
                    admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
            }
        }
    }
}

/// Runs a test body on one backend.
pub fn run_on(kind: Kind, body: fn(&TestDb)) {
    let db = TestDb::new(kind);
    body(&db);
}

/// Instantiates each named test function (`fn(&TestDb)`) as `<name>::sqlite` and
/// `<name>::postgres`.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[test]
                fn sqlite() {
                    $crate::common::run_on($crate::common::Kind::Sqlite, super::$name)
                }
                #[test]
                fn postgres() {
                    $crate::common::run_on($crate::common::Kind::Postgres, super::$name)
                }
            }
        )*
    };
}

/// The test PKI, generated once per test binary (or reused from certs/out).
pub fn pki() -> &'static certs::Pki {
    static PKI: OnceLock<certs::Pki> = OnceLock::new();
    PKI.get_or_init(|| {
        certs::generate(certs::default_out_dir(), &certs::Options::default()).expect("test PKI")
    })
}

/// The 11-digit resident number the tests give a test resident (`R0007` → `10000000007`).
pub fn resident_number(r: &certs::Resident) -> String {
    let digits: String = r.id.chars().filter(char::is_ascii_digit).collect();
    format!("1{digits:0>10}")
}

pub fn household_number(r: &certs::Resident) -> String {
    let digits: String = r.id.chars().filter(char::is_ascii_digit).collect();
    format!("2{digits:0>6}")
}

pub fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .expect("format")
}

pub const CARD_HEADER: [&str; 13] = [
    "resident_number",
    "household_number",
    "name",
    "auth_ca_key_id",
    "auth_serial",
    "auth_subject",
    "auth_not_before",
    "auth_not_after",
    "sign_ca_key_id",
    "sign_serial",
    "sign_subject",
    "sign_not_before",
    "sign_not_after",
];

/// A card-issuance row for a manifest card (the name column carries the resident's name plus
/// characters outside JIS X 0208, which the relay must accept and not store).
pub fn card_row(card: &certs::Card) -> Vec<String> {
    let c = |x: &certs::CardCert| {
        vec![
            x.ca_key_id.clone(),
            x.serial.clone(),
            x.subject.clone(),
            rfc3339(x.not_before),
            rfc3339(x.not_after),
        ]
    };
    let mut row = vec![
        resident_number(&card.resident),
        household_number(&card.resident),
        format!("{} 𠮷髙", card.resident.name),
    ];
    row.extend(c(&card.auth_cert));
    row.extend(c(&card.sign_cert));
    row
}

pub fn write_csv(path: &Path, header: &[&str], rows: &[Vec<String>]) {
    let mut w = csv::Writer::from_path(path).expect("csv");
    w.write_record(header).expect("header");
    for r in rows {
        w.write_record(r).expect("row");
    }
    w.flush().expect("flush");
}

/// The manifest's cards except the forged one (the municipality never issued it).
pub fn issued_cards() -> Vec<&'static certs::Card> {
    pki()
        .manifest
        .cards
        .iter()
        .filter(|c| c.case != certs::CardCase::Forged)
        .collect()
}

pub fn key_of(cert: &certs::CardCert) -> wsp_relay::CertKey {
    wsp_relay::CertKey::from_hex(&cert.ca_key_id, &cert.serial).expect("key")
}

/// Options for imports in tests: no progress bar, given batch size.
pub fn import_options(batch_size: usize) -> wsp_relay::enroll::ImportOptions {
    wsp_relay::enroll::ImportOptions {
        batch_size,
        progress: false,
        ..Default::default()
    }
}
