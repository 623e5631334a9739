//! The municipality's renewal feed: a new certificate for the same person (renewal, reissue
//! after loss, change of card) replaces an old one.
//!
//! Columns: `old_ca_key_id`, `old_serial` (the certificate being replaced), `new_ca_key_id`,
//! `new_serial`, `new_subject`, `new_not_before`, `new_not_after`. The new certificate gets the
//! old one's person and kind; the old one becomes `superseded` (a revoked one stays revoked and
//! records its successor). Rejected: unknown old certificate, a new certificate registered to
//! another person, an old certificate already superseded by a different one, a certificate
//! repeated in the file with different data.

use std::collections::HashMap;
use std::path::Path;

use super::cards::cert_group;
use super::csvio::{self, InputFile, Record};
use super::runner::{self, DupKey, ImportKind, ImportOptions, ImportReport, Job, RowOutcome};
use super::EnrollError;
use crate::error::StoreError;
use crate::sensitive::PersonId;
use crate::store::persons::{self, CertInsert, CertRow, StatusChange};
use crate::store::{CertKey, CertKind, DbConnection, NewCertificate, Store};

pub(crate) struct RenewalRow {
    old: CertKey,
    new: CertKey,
    subject: String,
    not_before: i64,
    not_after: i64,
}

fn parse(rec: &Record<'_>) -> Result<RenewalRow, String> {
    let old = CertKey::from_hex(rec.required("old_ca_key_id")?, rec.required("old_serial")?)
        .map_err(|e| format!("old certificate: {e}"))?;
    let Some(g) = cert_group(rec, "new")? else {
        return Err("new certificate: missing".into());
    };
    let (new, subject, not_before, not_after) = (g.key, g.subject, g.not_before, g.not_after);
    if new == old {
        return Err("the new certificate is the old one".into());
    }
    Ok(RenewalRow {
        old,
        new,
        subject,
        not_before,
        not_after,
    })
}

fn key_bytes(k: &CertKey) -> Vec<u8> {
    let mut v = k.ca_key_id.clone();
    v.push(0xff);
    v.extend_from_slice(&k.serial);
    v
}

struct RenewJob;

impl Job for RenewJob {
    type Row = RenewalRow;

    fn kind(&self) -> ImportKind {
        ImportKind::Renewals
    }

    fn scope(&self) -> String {
        String::new()
    }

    fn keys(&self, row: &RenewalRow) -> Vec<DupKey> {
        vec![
            DupKey {
                what: "old certificate",
                key: key_bytes(&row.old),
                data: key_bytes(&row.new),
            },
            DupKey {
                what: "new certificate",
                key: key_bytes(&row.new),
                data: key_bytes(&row.old),
            },
        ]
    }

    fn apply(
        &self,
        conn: &mut DbConnection,
        rows: &[(u64, &RenewalRow)],
        at: i64,
    ) -> Result<Vec<RowOutcome>, StoreError> {
        let serials: Vec<&[u8]> = rows
            .iter()
            .flat_map(|(_, r)| [r.old.serial.as_slice(), r.new.serial.as_slice()])
            .collect();
        let mut certs: HashMap<CertKey, CertRow> = persons::certs_by_serials(conn, &serials)?
            .into_iter()
            .map(|c| (c.key(), c))
            .collect();
        let mut outcomes = Vec::with_capacity(rows.len());
        for (_, row) in rows {
            let Some(old) = certs.get(&row.old).cloned() else {
                outcomes.push(RowOutcome::Rejected(
                    "old certificate is not registered".into(),
                ));
                continue;
            };
            if old.superseded_by().is_some_and(|by| by != row.new) {
                outcomes.push(RowOutcome::Rejected(
                    "old certificate was already superseded by another certificate".into(),
                ));
                continue;
            }
            let mut changed = false;
            match certs.get(&row.new) {
                Some(new) if new.person_id != old.person_id => {
                    outcomes.push(RowOutcome::Rejected(
                        "new certificate is registered to another person".into(),
                    ));
                    continue;
                }
                Some(_) => {}
                None => {
                    let new = NewCertificate {
                        key: row.new.clone(),
                        person: PersonId::from_stored(old.person_id.clone()),
                        kind: CertKind::from_db(&old.kind)?,
                        subject_dn: row.subject.clone(),
                        not_before: row.not_before,
                        not_after: row.not_after,
                    };
                    persons::insert_certs(conn, &[CertInsert::new(&new, at)])?;
                    if let Some(inserted) = persons::cert_by_key(conn, &row.new)? {
                        certs.insert(row.new.clone(), inserted);
                    }
                    changed = true;
                }
            }
            if persons::supersede(conn, &old, &row.new, at)? == StatusChange::Changed {
                changed = true;
                if let Some(updated) = persons::cert_by_key(conn, &row.old)? {
                    certs.insert(row.old.clone(), updated);
                }
            }
            outcomes.push(if changed {
                RowOutcome::Applied
            } else {
                RowOutcome::Unchanged
            });
        }
        Ok(outcomes)
    }
}

/// Imports a renewal feed (see the module documentation for the columns).
pub fn import_renewals(
    store: &Store,
    path: &Path,
    options: &ImportOptions,
) -> Result<ImportReport, EnrollError> {
    let file = InputFile::read(path)?;
    let header = csvio::header(
        &file,
        &[
            "old_ca_key_id",
            "old_serial",
            "new_ca_key_id",
            "new_serial",
            "new_subject",
            "new_not_before",
            "new_not_after",
        ],
    )?;
    runner::run(
        store,
        &RenewJob,
        &file,
        || csvio::items(&file, &header, parse),
        options,
    )
}
