//! The municipality's card-issuance file → persons and certificates.
//!
//! Columns (header names; any order; other columns are ignored):
//!
//! | column | required | meaning |
//! |---|---|---|
//! | `resident_number` | yes | 住民番号, 1–20 digits |
//! | `household_number` | no | 世帯番号, 1–20 digits |
//! | `auth_ca_key_id`, `auth_serial` | * | user-authentication certificate: issuing CA's key identifier (the certificate's AKI) and serial, hex |
//! | `auth_subject`, `auth_not_before`, `auth_not_after` | with the above | its subject DN (one line, UTF-8) and validity |
//! | `sign_ca_key_id`, `sign_serial`, `sign_subject`, `sign_not_before`, `sign_not_after` | * | the same for the digital-signature certificate |
//!
//! \* at least one of the two certificates; each is given completely or not at all (a
//! signature certificate is not issued to every resident).
//!
//! What the relay keeps: the resident and household numbers (routing facts the other files are
//! keyed by) and the certificates. Names, kana, addresses, birth dates or card numbers that the
//! municipality's file may carry are not read: the IdP gets personal attributes from the card's
//! certificate itself, and the relay holds routing facts only (principle 1).
//!
//! A row is applied as: the person with this resident number (created if new; the household
//! number updated, version +1, if the row gives a different one), then each certificate added
//! to that person. Rejected: a bad field; a certificate already registered to another person;
//! a resident number or certificate repeated in the file with different data.

use std::collections::HashMap;
use std::path::Path;

use super::csvio::{self, InputFile, Record};
use super::runner::{self, DupKey, ImportKind, ImportOptions, ImportReport, Job, RowOutcome};
use super::EnrollError;
use crate::error::StoreError;
use crate::sensitive::{HouseholdNumber, PersonId, ResidentNumber};
use crate::store::persons::{self, CertInsert, PersonInsert};
use crate::store::{CertKey, CertKind, DbConnection, NewCertificate, PersonStatus, Store};

pub(crate) struct CardCert {
    pub kind: CertKind,
    pub key: CertKey,
    pub subject: String,
    pub not_before: i64,
    pub not_after: i64,
}

pub(crate) struct CardRow {
    resident: ResidentNumber,
    household: Option<HouseholdNumber>,
    certs: Vec<CardCert>,
}

/// One certificate's columns.
pub(crate) struct CertGroup {
    pub key: CertKey,
    pub subject: String,
    pub not_before: i64,
    pub not_after: i64,
}

/// Reads one certificate group (`auth_…`, `sign_…`, `new_…`) of a record.
pub(crate) fn cert_group(rec: &Record<'_>, prefix: &str) -> Result<Option<CertGroup>, String> {
    let col = |name: &str| format!("{prefix}_{name}");
    let fields = [
        rec.get(&col("ca_key_id"))?,
        rec.get(&col("serial"))?,
        rec.get(&col("subject"))?,
        rec.get(&col("not_before"))?,
        rec.get(&col("not_after"))?,
    ];
    if fields.iter().all(Option::is_none) {
        return Ok(None);
    }
    let [Some(ca), Some(serial), Some(subject), Some(nb), Some(na)] = fields else {
        return Err(format!(
            "{prefix} certificate: give all of ca_key_id, serial, subject, not_before, not_after or none"
        ));
    };
    let key = CertKey::from_hex(ca, serial).map_err(|e| format!("{prefix} certificate: {e}"))?;
    let not_before = csvio::parse_time(&col("not_before"), nb)?;
    let not_after = csvio::parse_time(&col("not_after"), na)?;
    if not_after <= not_before {
        return Err(format!(
            "{prefix} certificate: not_after is not after not_before"
        ));
    }
    if subject.chars().any(char::is_control) || subject.len() > 1024 {
        return Err(format!(
            "{prefix}_subject: control character or longer than 1024 bytes"
        ));
    }
    Ok(Some(CertGroup {
        key,
        subject: subject.to_string(),
        not_before,
        not_after,
    }))
}

fn parse(rec: &Record<'_>) -> Result<CardRow, String> {
    let resident =
        ResidentNumber::parse(rec.required("resident_number")?).map_err(|e| e.to_string())?;
    let household = rec
        .get("household_number")?
        .map(HouseholdNumber::parse)
        .transpose()
        .map_err(|e| e.to_string())?;
    let mut certs = Vec::new();
    for (prefix, kind) in [("auth", CertKind::Auth), ("sign", CertKind::Sign)] {
        if let Some(g) = cert_group(rec, prefix)? {
            certs.push(CardCert {
                kind,
                key: g.key,
                subject: g.subject,
                not_before: g.not_before,
                not_after: g.not_after,
            });
        }
    }
    if certs.is_empty() {
        return Err("no certificate (give the auth_… or sign_… columns)".into());
    }
    if certs.len() == 2 && certs[0].key == certs[1].key {
        return Err("the two certificates have the same CA key identifier and serial".into());
    }
    Ok(CardRow {
        resident,
        household,
        certs,
    })
}

struct CardsJob;

impl Job for CardsJob {
    type Row = CardRow;

    fn kind(&self) -> ImportKind {
        ImportKind::Cards
    }

    fn scope(&self) -> String {
        String::new()
    }

    fn keys(&self, row: &CardRow) -> Vec<DupKey> {
        let household = row.household.as_ref().map_or("", |h| h.expose());
        let mut keys = vec![DupKey {
            what: "resident number",
            key: row.resident.expose().as_bytes().to_vec(),
            data: household.as_bytes().to_vec(),
        }];
        for c in &row.certs {
            let mut key = c.key.ca_key_id.clone();
            key.push(0xff);
            key.extend_from_slice(&c.key.serial);
            keys.push(DupKey {
                what: "certificate",
                key,
                data: row.resident.expose().as_bytes().to_vec(),
            });
        }
        keys
    }

    fn apply(
        &self,
        conn: &mut DbConnection,
        rows: &[(u64, &CardRow)],
        at: i64,
    ) -> Result<Vec<RowOutcome>, StoreError> {
        let residents: Vec<&str> = rows.iter().map(|(_, r)| r.resident.expose()).collect();
        // resident number → (person ID, household, exists in the database already)
        let mut people: HashMap<String, (PersonId, Option<HouseholdNumber>, bool)> =
            persons::persons_by_residents(conn, &residents)?
                .into_iter()
                .map(|p| {
                    (
                        p.resident_number.expose().to_string(),
                        (p.id, p.household_number, true),
                    )
                })
                .collect();
        let serials: Vec<&[u8]> = rows
            .iter()
            .flat_map(|(_, r)| r.certs.iter().map(|c| c.key.serial.as_slice()))
            .collect();
        // certificate → owner's person ID
        let mut owners: HashMap<CertKey, String> = persons::certs_by_serials(conn, &serials)?
            .into_iter()
            .map(|c| (c.key(), c.person_id))
            .collect();

        let mut new_people: Vec<(PersonId, &ResidentNumber, Option<&HouseholdNumber>)> = Vec::new();
        let mut new_certs: Vec<NewCertificate> = Vec::new();
        let mut outcomes = Vec::with_capacity(rows.len());
        for (_, row) in rows {
            let known = people.get(row.resident.expose());
            let owner_clash = row
                .certs
                .iter()
                .find(|c| match (owners.get(&c.key), known) {
                    (Some(owner), Some((id, _, _))) => owner != id.expose(),
                    (Some(_), None) => true,
                    (None, _) => false,
                });
            if let Some(c) = owner_clash {
                outcomes.push(RowOutcome::Rejected(format!(
                    "{} certificate is already registered to another person",
                    c.kind
                )));
                continue;
            }
            let mut changed = false;
            let person = match people.get_mut(row.resident.expose()) {
                Some((id, household, in_db)) => {
                    if row.household.is_some() && *household != row.household {
                        if *in_db {
                            persons::set_household(conn, id, row.household.as_ref(), at)?;
                        } else if let Some(p) = new_people.iter_mut().find(|p| p.0 == *id) {
                            p.2 = row.household.as_ref();
                        }
                        household.clone_from(&row.household);
                        changed = true;
                    }
                    id.clone()
                }
                None => {
                    let id = PersonId::generate()?;
                    new_people.push((id.clone(), &row.resident, row.household.as_ref()));
                    people.insert(
                        row.resident.expose().to_string(),
                        (id.clone(), row.household.clone(), false),
                    );
                    changed = true;
                    id
                }
            };
            for c in &row.certs {
                if !owners.contains_key(&c.key) {
                    owners.insert(c.key.clone(), person.expose().to_string());
                    new_certs.push(NewCertificate {
                        key: c.key.clone(),
                        person: person.clone(),
                        kind: c.kind,
                        subject_dn: c.subject.clone(),
                        not_before: c.not_before,
                        not_after: c.not_after,
                    });
                    changed = true;
                }
            }
            outcomes.push(if changed {
                RowOutcome::Applied
            } else {
                RowOutcome::Unchanged
            });
        }
        let person_rows: Vec<PersonInsert<'_>> = new_people
            .iter()
            .map(|(id, resident, household)| PersonInsert {
                id: id.expose(),
                resident_number: resident.expose(),
                household_number: household.map(|h| h.expose()),
                status: PersonStatus::Active.as_str(),
                version: 1,
                valid_from: at,
                valid_to: None,
                created_at: at,
                updated_at: at,
            })
            .collect();
        persons::insert_persons(conn, &person_rows)?;
        let cert_rows: Vec<CertInsert<'_>> =
            new_certs.iter().map(|c| CertInsert::new(c, at)).collect();
        persons::insert_certs(conn, &cert_rows)?;
        Ok(outcomes)
    }
}

/// Imports a card-issuance file (see the module documentation for the columns).
pub fn import_cards(
    store: &Store,
    path: &Path,
    options: &ImportOptions,
) -> Result<ImportReport, EnrollError> {
    let file = InputFile::read(path)?;
    let header = csvio::header(&file, &["resident_number"])?;
    runner::run(
        store,
        &CardsJob,
        &file,
        || csvio::items(&file, &header, parse),
        options,
    )
}
