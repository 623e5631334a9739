//! The insurer's link file → links (pseudonyms and local keys); the link export for a WSP.
//!
//! Import columns: `resident_number` (住民番号), `local_key` (the provider's own key for the
//! person, UTF-8, 1–256 bytes: insurer symbol/number and card number, NHI card number, pension
//! number…). Other columns are ignored.
//!
//! A row links the person with this resident number to the provider: a random pseudonym is made
//! if there was no link; the local key is recorded as a keyed MAC and, for a pilot-mode provider
//! only, sealed with the KEK. A new link is also appended to the access records (outcome
//! `linked`), since the export discloses it to the provider. Rejected: unknown resident number,
//! a local key already linked to another person at this provider, a resident number or local key
//! repeated in the file with different data. A row with another local key for an already linked
//! person replaces it (version +1): the insurer is the authority on its own keys.
//!
//! Export columns: `pseudonym`, `local_key` — what the WSP needs to map the tokens it receives to
//! its records. For a pilot-mode provider the keys come from the relay; for the others the relay
//! never held them, so the export re-reads the insurer's link file and checks each key against
//! the stored MAC.

use std::collections::HashMap;
use std::path::Path;

use super::csvio::{self, csv_err, write_csv_atomically, InputFile, Record};
use super::runner::{self, DupKey, ImportKind, ImportOptions, ImportReport, Job, RowOutcome};
use super::{EnrollError, ENROLLMENT_PURPOSE, ENROLLMENT_REQUESTER};
use crate::error::StoreError;
use crate::records::{append_in_tx, NewAccessRecord, Outcome};
use crate::sensitive::{LocalKey, ResidentNumber};
use crate::store::links::{self as store_links, apply_local_key, LinkRow};
use crate::store::persons;
use crate::store::providers::provider_by_entity;
use crate::store::{DbConnection, LinkChange, Provider, ProviderStatus, Store};

pub(crate) struct LinkFileRow {
    resident: ResidentNumber,
    local_key: LocalKey,
}

fn parse(rec: &Record<'_>) -> Result<LinkFileRow, String> {
    Ok(LinkFileRow {
        resident: ResidentNumber::parse(rec.required("resident_number")?)
            .map_err(|e| e.to_string())?,
        local_key: LocalKey::parse(rec.required("local_key")?).map_err(|e| e.to_string())?,
    })
}

struct LinksJob<'s> {
    store: &'s Store,
    provider: Provider,
}

impl Job for LinksJob<'_> {
    type Row = LinkFileRow;

    fn kind(&self) -> ImportKind {
        ImportKind::Links
    }

    fn scope(&self) -> String {
        self.provider.entity_id.clone()
    }

    fn keys(&self, row: &LinkFileRow) -> Vec<DupKey> {
        vec![
            DupKey {
                what: "resident number",
                key: row.resident.expose().as_bytes().to_vec(),
                data: row.local_key.expose().as_bytes().to_vec(),
            },
            DupKey {
                what: "local key",
                key: row.local_key.expose().as_bytes().to_vec(),
                data: row.resident.expose().as_bytes().to_vec(),
            },
        ]
    }

    fn apply(
        &self,
        conn: &mut DbConnection,
        rows: &[(u64, &LinkFileRow)],
        at: i64,
    ) -> Result<Vec<RowOutcome>, StoreError> {
        let provider_id = self.provider.id.as_str();
        let kek = self.store.kek()?;
        let residents: Vec<&str> = rows.iter().map(|(_, r)| r.resident.expose()).collect();
        let people: HashMap<String, String> = persons::persons_by_residents(conn, &residents)?
            .into_iter()
            .map(|p| {
                (
                    p.resident_number.expose().to_string(),
                    p.id.expose().to_string(),
                )
            })
            .collect();
        let person_ids: Vec<&str> = people.values().map(String::as_str).collect();
        let mut links: HashMap<String, LinkRow> =
            store_links::links_for_persons(conn, provider_id, &person_ids)?
                .into_iter()
                .map(|l| (l.person_id.clone(), l))
                .collect();
        let macs: Vec<Vec<u8>> = rows
            .iter()
            .map(|(_, r)| kek.local_key_mac(provider_id, r.local_key.expose()))
            .collect::<Result<_, _>>()?;
        let mac_refs: Vec<&[u8]> = macs.iter().map(Vec::as_slice).collect();
        // MAC → person holding it
        let mut holders: HashMap<Vec<u8>, String> =
            store_links::links_by_macs(conn, provider_id, &mac_refs)?
                .into_iter()
                .filter_map(|l| l.local_key_mac.clone().map(|m| (m, l.person_id)))
                .collect();

        let mut records = Vec::new();
        let mut new_links: Vec<LinkRow> = Vec::new();
        let mut outcomes = Vec::with_capacity(rows.len());
        for ((_, row), mac) in rows.iter().zip(&macs) {
            let Some(person_id) = people.get(row.resident.expose()) else {
                outcomes.push(RowOutcome::Rejected(
                    "no person with this resident number (import the card file first)".into(),
                ));
                continue;
            };
            if holders.get(mac).is_some_and(|holder| holder != person_id) {
                outcomes.push(RowOutcome::Rejected(
                    "this local key is already linked to another person at this provider".into(),
                ));
                continue;
            }
            let sealed = self
                .store
                .seal_local_key(&self.provider, person_id, &row.local_key)?;
            let change = match links.get(person_id) {
                // New links are inserted together at the end of the batch (one statement per
                // 200 rows on PostgreSQL instead of a round trip per row).
                None => {
                    let link = LinkRow::new_with_key(person_id, provider_id, &sealed, at)?;
                    new_links.push(link.clone());
                    links.insert(person_id.clone(), link);
                    LinkChange::Created
                }
                Some(existing) => {
                    let old_mac = existing.local_key_mac.clone();
                    let change =
                        apply_local_key(conn, Some(existing), person_id, provider_id, &sealed, at)?;
                    if change == LinkChange::Updated {
                        if let Some(old) = old_mac {
                            holders.remove(&old);
                        }
                        if let Some(link) = links.get_mut(person_id) {
                            link.local_key_mac = Some(sealed.mac.clone());
                            link.local_key_enc = sealed.enc.as_ref().map(|(c, _)| c.clone());
                            link.kek_id = sealed.enc.as_ref().map(|(_, id)| id.clone());
                            link.version += 1;
                        }
                    }
                    change
                }
            };
            if change != LinkChange::Unchanged {
                holders.insert(mac.clone(), person_id.clone());
            }
            if change == LinkChange::Created {
                records.push(NewAccessRecord {
                    requester: ENROLLMENT_REQUESTER.into(),
                    purpose: ENROLLMENT_PURPOSE.into(),
                    provider: Some(self.provider.entity_id.clone()),
                    service_type: None,
                    data_class: None,
                    person: crate::sensitive::PersonId::from_stored(person_id.clone()),
                    outcome: Outcome::Linked,
                    detail: Some("import-links".into()),
                });
            }
            outcomes.push(match change {
                LinkChange::Unchanged => RowOutcome::Unchanged,
                _ => RowOutcome::Applied,
            });
        }
        let inserts: Vec<_> = new_links.iter().map(LinkRow::as_insert).collect();
        store_links::insert_links(conn, &inserts)?;
        append_in_tx(conn, &records, at)?;
        Ok(outcomes)
    }
}

fn usable_provider(store: &Store, entity_id: &str) -> Result<Provider, EnrollError> {
    let mut conn = store.conn()?;
    let provider = provider_by_entity(&mut conn, entity_id)?
        .ok_or_else(|| EnrollError::UnknownProvider(entity_id.to_string()))?;
    if provider.status == ProviderStatus::Suspended {
        return Err(EnrollError::ProviderSuspended(entity_id.to_string()));
    }
    Ok(provider)
}

/// Imports an insurer's link file for the provider `entity_id` (pending or approved).
pub fn import_links(
    store: &Store,
    entity_id: &str,
    path: &Path,
    options: &ImportOptions,
) -> Result<ImportReport, EnrollError> {
    // Checked before reading anything: without the KEK nothing can be linked.
    store.kek()?;
    let provider = usable_provider(store, entity_id)?;
    let file = InputFile::read(path)?;
    let header = csvio::header(&file, &["resident_number", "local_key"])?;
    let job = LinksJob { store, provider };
    runner::run(
        store,
        &job,
        &file,
        || csvio::items(&file, &header, parse),
        options,
    )
}

/// What an export wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportReport {
    pub rows: u64,
    /// Links (pilot mode) or link-file rows (otherwise) that could not be exported: no local
    /// key held, no link, or a key that differs from the one imported.
    pub skipped: u64,
}

/// Writes the link file for a provider: `pseudonym,local_key` (readable by the owner only).
/// `links_file` is the insurer's link file, needed for a provider not in pilot mode.
pub fn export_links(
    store: &Store,
    entity_id: &str,
    out: &Path,
    links_file: Option<&Path>,
) -> Result<ExportReport, EnrollError> {
    let kek = store.kek()?.clone();
    let provider = usable_provider(store, entity_id)?;
    let provider_id = provider.id.as_str().to_string();
    let mut conn = store.conn()?;
    let mut report = ExportReport {
        rows: 0,
        skipped: 0,
    };
    let err = csv_err(out);
    if provider.pilot_mode {
        write_csv_atomically(out, true, |w| {
            w.write_record(["pseudonym", "local_key"]).map_err(&err)?;
            let mut after: Option<String> = None;
            loop {
                let page =
                    store_links::links_page(&mut conn, &provider_id, after.as_deref(), 1000)?;
                let Some(last) = page.last() else { break };
                after = Some(last.person_id.clone());
                for link in &page {
                    match store.open_local_key(link)? {
                        Some(key) => {
                            w.write_record([link.pseudonym.as_str(), key.expose()])
                                .map_err(&err)?;
                            report.rows += 1;
                        }
                        None => report.skipped += 1,
                    }
                }
            }
            Ok(())
        })?;
    } else {
        let source = links_file.ok_or_else(|| EnrollError::NeedLinkFile(entity_id.to_string()))?;
        let file = InputFile::read(source)?;
        let header = csvio::header(&file, &["resident_number", "local_key"])?;
        write_csv_atomically(out, true, |w| {
            w.write_record(["pseudonym", "local_key"]).map_err(&err)?;
            for item in csvio::items(&file, &header, parse) {
                let Ok(row) = item.parsed else {
                    report.skipped += 1;
                    continue;
                };
                let link = match persons::person_by_resident(&mut conn, &row.resident)? {
                    Some(p) => store_links::link_row(&mut conn, p.id.expose(), &provider_id)?,
                    None => None,
                };
                let mac = kek.local_key_mac(&provider_id, row.local_key.expose())?;
                match link {
                    Some(l) if l.local_key_mac.as_deref() == Some(mac.as_slice()) => {
                        w.write_record([l.pseudonym.as_str(), row.local_key.expose()])
                            .map_err(&err)?;
                        report.rows += 1;
                    }
                    _ => report.skipped += 1,
                }
            }
            Ok(())
        })?;
    }
    tracing::info!(
        provider = entity_id,
        rows = report.rows,
        skipped = report.skipped,
        "links exported"
    );
    Ok(report)
}
