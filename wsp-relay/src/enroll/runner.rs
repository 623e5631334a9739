//! The batch machinery shared by every import: file bookkeeping, in-file conflict detection,
//! one transaction per batch, skip of committed batches, reject report, progress bar.

use std::collections::{HashMap, HashSet};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

use diesel::prelude::*;

use super::csvio::{write_csv_atomically, InputFile};
use super::EnrollError;
use crate::crypto::hex;
use crate::error::StoreError;
use crate::store::schema::{import_batches, import_files, import_rejects};
use crate::store::{now, write_tx, DbConnection, Store};

/// Default rows per batch.
pub const DEFAULT_BATCH_SIZE: usize = 1000;

/// Which import (stored as `import_files.kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportKind {
    Cards,
    Links,
    Renewals,
    Crl,
}

impl ImportKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ImportKind::Cards => "cards",
            ImportKind::Links => "links",
            ImportKind::Renewals => "renewals",
            ImportKind::Crl => "crl",
        }
    }
}

/// How to run an import.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// Rows per batch (per transaction). Only the first run of a file chooses it.
    pub batch_size: usize,
    /// Where to write the reject report; `None`: next to the input, `<input>.rejects.csv`.
    pub rejects_path: Option<PathBuf>,
    /// Show a progress bar (only drawn when stderr is a terminal).
    pub progress: bool,
    /// Sleep after each committed batch (for the crash test: lets a kill land mid-file).
    pub pause_between_batches: Option<Duration>,
}

impl Default for ImportOptions {
    fn default() -> ImportOptions {
        ImportOptions {
            batch_size: DEFAULT_BATCH_SIZE,
            rejects_path: None,
            progress: true,
            pause_between_batches: None,
        }
    }
}

/// The outcome of an import: totals over every run of this file (so a re-run reports the same
/// numbers), plus what this run did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportReport {
    pub kind: ImportKind,
    pub file_sha256: String,
    pub batch_size: usize,
    pub rows: u64,
    pub batches: u64,
    /// Rows that changed the database.
    pub applied: u64,
    /// Rows the database already reflected (a duplicate, or a CRL entry of another card).
    pub unchanged: u64,
    pub rejected: u64,
    /// Batches this run committed / found already committed.
    pub batches_committed_now: u64,
    pub batches_skipped: u64,
    pub rejects_path: Option<PathBuf>,
}

/// One input row: its number among the data rows (from 1), its line in the file, and the row or
/// why it is invalid.
pub(crate) struct Item<R> {
    pub row_no: u64,
    pub line: u64,
    pub parsed: Result<R, String>,
}

/// A value that must not appear twice in one file with different data: `what` names it in the
/// reject reason, `key` is the value, `data` what must agree between occurrences.
pub(crate) struct DupKey {
    pub what: &'static str,
    pub key: Vec<u8>,
    pub data: Vec<u8>,
}

/// What a row did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RowOutcome {
    Applied,
    Unchanged,
    Rejected(String),
}

/// One kind of import.
pub(crate) trait Job {
    type Row;
    fn kind(&self) -> ImportKind;
    /// Provider entity ID for link files, the CA key ID for CRLs, "" otherwise.
    fn scope(&self) -> String;
    fn keys(&self, _row: &Self::Row) -> Vec<DupKey> {
        Vec::new()
    }
    /// Applies valid rows inside the batch's transaction, one outcome per row, in order.
    fn apply(
        &self,
        conn: &mut DbConnection,
        rows: &[(u64, &Self::Row)],
        at: i64,
    ) -> Result<Vec<RowOutcome>, StoreError>;
}

#[derive(Insertable)]
#[diesel(table_name = import_files)]
struct FileInsert<'a> {
    file_sha256: &'a [u8],
    kind: &'a str,
    scope: &'a str,
    file_name: &'a str,
    batch_size: i64,
    total_rows: i64,
    status: &'a str,
    started_at: i64,
    finished_at: Option<i64>,
}

#[derive(Insertable)]
#[diesel(table_name = import_batches)]
struct BatchInsert<'a> {
    file_sha256: &'a [u8],
    kind: &'a str,
    scope: &'a str,
    batch_no: i64,
    first_row: i64,
    row_count: i64,
    applied: i64,
    unchanged: i64,
    rejected: i64,
    committed_at: i64,
}

#[derive(Insertable)]
#[diesel(table_name = import_rejects)]
struct RejectInsert<'a> {
    file_sha256: &'a [u8],
    kind: &'a str,
    scope: &'a str,
    row_no: i64,
    line: i64,
    reason: &'a str,
}

fn short_hash(parts: &[&[u8]]) -> [u8; 16] {
    let mut h = openssl::sha::Sha256::new();
    for p in parts {
        h.update(&(p.len() as u64).to_be_bytes());
        h.update(p);
    }
    let full = h.finish();
    let mut out = [0u8; 16];
    out.copy_from_slice(&full[..16]);
    out
}

/// Pass 1: rows that repeat a key of an earlier row with different data (first occurrence wins).
/// Keys are kept as 128-bit hashes to bound memory on large files.
fn in_file_conflicts<J: Job>(
    job: &J,
    items: impl Iterator<Item = Item<J::Row>>,
) -> (u64, HashMap<u64, String>) {
    let mut seen: HashMap<[u8; 16], (u64, [u8; 16])> = HashMap::new();
    let mut conflicts = HashMap::new();
    let mut rows = 0;
    for item in items {
        rows = item.row_no;
        let Ok(row) = &item.parsed else { continue };
        let keys = job.keys(row);
        let hashed: Vec<([u8; 16], [u8; 16], &'static str)> = keys
            .iter()
            .map(|k| {
                (
                    short_hash(&[k.what.as_bytes(), &k.key]),
                    short_hash(&[&k.data]),
                    k.what,
                )
            })
            .collect();
        let clash = hashed
            .iter()
            .find_map(|(key, data, what)| match seen.get(key) {
                Some((line, d)) if d != data => Some(format!(
                    "{what} also on line {line} with different data (first occurrence kept)"
                )),
                _ => None,
            });
        match clash {
            Some(reason) => {
                conflicts.insert(item.row_no, reason);
            }
            None => {
                for (key, data, _) in hashed {
                    seen.entry(key).or_insert((item.line, data));
                }
            }
        }
    }
    (rows, conflicts)
}

struct FileKey<'a> {
    sha: &'a [u8],
    kind: &'a str,
    scope: &'a str,
}

/// Registers the file (or finds it) and returns its batch size and committed batch numbers.
fn open_file(
    store: &Store,
    key: &FileKey<'_>,
    name: &str,
    batch_size: usize,
    rows: u64,
) -> Result<(usize, HashSet<i64>), StoreError> {
    store.write(|conn| {
        let existing: Option<(i64, i64)> = import_files::table
            .find((key.sha, key.kind, key.scope))
            .select((import_files::batch_size, import_files::total_rows))
            .first(conn)
            .optional()?;
        let size = match existing {
            Some((size, total)) => {
                if total != rows as i64 {
                    return Err(StoreError::Corrupt(format!(
                        "import_files says {total} rows for this file, found {rows}"
                    )));
                }
                if size as usize != batch_size {
                    tracing::warn!(
                        kept = size,
                        requested = batch_size,
                        "file already partly imported with another batch size; keeping the first"
                    );
                }
                size as usize
            }
            None => {
                diesel::insert_into(import_files::table)
                    .values(FileInsert {
                        file_sha256: key.sha,
                        kind: key.kind,
                        scope: key.scope,
                        file_name: name,
                        batch_size: batch_size as i64,
                        total_rows: rows as i64,
                        status: "in_progress",
                        started_at: now(),
                        finished_at: None,
                    })
                    .execute(conn)?;
                batch_size
            }
        };
        let done: Vec<i64> = import_batches::table
            .filter(import_batches::file_sha256.eq(key.sha))
            .filter(import_batches::kind.eq(key.kind))
            .filter(import_batches::scope.eq(key.scope))
            .select(import_batches::batch_no)
            .load(conn)?;
        Ok((size, done.into_iter().collect()))
    })
}

fn progress_bar(options: &ImportOptions, rows: u64, kind: ImportKind) -> indicatif::ProgressBar {
    if !options.progress || !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(rows);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{prefix} [{elapsed_precise}] {wide_bar} {pos}/{len} rows, {rate}, eta {eta}",
    ) {
        bar.set_style(style.with_key(
            "rate",
            |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = write!(w, "{:.0} rows/s", state.per_sec());
            },
        ));
    }
    bar.set_prefix(kind.as_str());
    bar
}

/// Runs an import of `file` (for the hash and name) over the items `items()` yields (called
/// twice: once for the in-file checks, once to apply).
pub(crate) fn run<J, I>(
    store: &Store,
    job: &J,
    file: &InputFile,
    items: impl Fn() -> I,
    options: &ImportOptions,
) -> Result<ImportReport, EnrollError>
where
    J: Job,
    I: Iterator<Item = Item<J::Row>>,
{
    let kind = job.kind();
    let scope = job.scope();
    let key = FileKey {
        sha: &file.sha256,
        kind: kind.as_str(),
        scope: &scope,
    };
    let (rows, conflicts) = in_file_conflicts(job, items());
    let (batch_size, done) = open_file(store, &key, &file.name, options.batch_size.max(1), rows)?;
    let batches = rows.div_ceil(batch_size as u64);
    tracing::info!(
        kind = kind.as_str(),
        file = %file.name,
        sha256 = %hex(&file.sha256),
        rows,
        batches,
        already_committed = done.len(),
        "import started"
    );

    let bar = progress_bar(options, rows, kind);
    let mut committed_now = 0u64;
    let mut skipped = 0u64;
    let mut batch: Vec<Item<J::Row>> = Vec::with_capacity(batch_size);
    let mut conn = store.conn()?;
    let mut flush =
        |batch: &mut Vec<Item<J::Row>>, conn: &mut DbConnection| -> Result<(), EnrollError> {
            let Some(first) = batch.first() else {
                return Ok(());
            };
            let batch_no = ((first.row_no - 1) / batch_size as u64) as i64;
            let count = batch.len() as u64;
            if done.contains(&batch_no) {
                skipped += 1;
            } else {
                apply_batch(job, conn, &key, batch_no, batch, &conflicts)?;
                committed_now += 1;
                if let Some(pause) = options.pause_between_batches {
                    std::thread::sleep(pause);
                }
            }
            bar.inc(count);
            batch.clear();
            Ok(())
        };
    for item in items() {
        let batch_no = (item.row_no - 1) / batch_size as u64;
        if batch
            .first()
            .is_some_and(|f| (f.row_no - 1) / batch_size as u64 != batch_no)
        {
            flush(&mut batch, &mut conn)?;
        }
        batch.push(item);
    }
    flush(&mut batch, &mut conn)?;
    bar.finish_and_clear();

    diesel::update(import_files::table.find((key.sha, key.kind, key.scope)))
        .set((
            import_files::status.eq("complete"),
            import_files::finished_at.eq(Some(now())),
        ))
        .execute(&mut *conn)
        .map_err(StoreError::from)?;

    let totals: Vec<(i64, i64, i64)> = import_batches::table
        .filter(import_batches::file_sha256.eq(key.sha))
        .filter(import_batches::kind.eq(key.kind))
        .filter(import_batches::scope.eq(key.scope))
        .select((
            import_batches::applied,
            import_batches::unchanged,
            import_batches::rejected,
        ))
        .load(&mut *conn)
        .map_err(StoreError::from)?;
    let sum = |f: fn(&(i64, i64, i64)) -> i64| totals.iter().map(f).sum::<i64>() as u64;
    let rejected = sum(|t| t.2);
    let rejects_path = if rejected > 0 {
        let path = options
            .rejects_path
            .clone()
            .unwrap_or_else(|| PathBuf::from(format!("{}.rejects.csv", file.name)));
        write_rejects(&mut conn, &key, &path)?;
        Some(path)
    } else {
        None
    };
    let report = ImportReport {
        kind,
        file_sha256: hex(&file.sha256),
        batch_size,
        rows,
        batches,
        applied: sum(|t| t.0),
        unchanged: sum(|t| t.1),
        rejected,
        batches_committed_now: committed_now,
        batches_skipped: skipped,
        rejects_path,
    };
    tracing::info!(
        kind = kind.as_str(),
        rows,
        applied = report.applied,
        unchanged = report.unchanged,
        rejected = report.rejected,
        committed_now,
        skipped,
        "import finished"
    );
    Ok(report)
}

/// One batch in one transaction: changes, rejects and the batch row together.
fn apply_batch<J: Job>(
    job: &J,
    conn: &mut DbConnection,
    key: &FileKey<'_>,
    batch_no: i64,
    batch: &[Item<J::Row>],
    conflicts: &HashMap<u64, String>,
) -> Result<(), EnrollError> {
    let mut rejects: Vec<(u64, u64, String)> = Vec::new();
    let mut valid: Vec<(u64, &J::Row)> = Vec::with_capacity(batch.len());
    let mut lines = HashMap::with_capacity(batch.len());
    for item in batch {
        lines.insert(item.row_no, item.line);
        match (&item.parsed, conflicts.get(&item.row_no)) {
            (Err(reason), _) => rejects.push((item.row_no, item.line, reason.clone())),
            (Ok(_), Some(reason)) => rejects.push((item.row_no, item.line, reason.clone())),
            (Ok(row), None) => valid.push((item.row_no, row)),
        }
    }
    let at = now();
    write_tx(conn, |conn| -> Result<(), StoreError> {
        let outcomes = job.apply(conn, &valid, at)?;
        if outcomes.len() != valid.len() {
            return Err(StoreError::Corrupt(
                "import job returned a wrong number of outcomes".into(),
            ));
        }
        let mut applied = 0i64;
        let mut unchanged = 0i64;
        for ((row_no, _), outcome) in valid.iter().zip(outcomes) {
            match outcome {
                RowOutcome::Applied => applied += 1,
                RowOutcome::Unchanged => unchanged += 1,
                RowOutcome::Rejected(reason) => {
                    rejects.push((*row_no, lines.get(row_no).copied().unwrap_or(0), reason))
                }
            }
        }
        rejects.sort_by_key(|r| r.0);
        let reject_rows: Vec<RejectInsert<'_>> = rejects
            .iter()
            .map(|(row_no, line, reason)| RejectInsert {
                file_sha256: key.sha,
                kind: key.kind,
                scope: key.scope,
                row_no: *row_no as i64,
                line: *line as i64,
                reason,
            })
            .collect();
        crate::store::insert_rows!(conn, import_rejects::table, reject_rows);
        let first_row = batch.first().map_or(1, |i| i.row_no) as i64;
        diesel::insert_into(import_batches::table)
            .values(BatchInsert {
                file_sha256: key.sha,
                kind: key.kind,
                scope: key.scope,
                batch_no,
                first_row,
                row_count: batch.len() as i64,
                applied,
                unchanged,
                rejected: rejects.len() as i64,
                committed_at: at,
            })
            .execute(conn)?;
        Ok(())
    })?;
    Ok(())
}

fn write_rejects(
    conn: &mut DbConnection,
    key: &FileKey<'_>,
    path: &std::path::Path,
) -> Result<(), EnrollError> {
    let rows: Vec<(i64, i64, String)> = import_rejects::table
        .filter(import_rejects::file_sha256.eq(key.sha))
        .filter(import_rejects::kind.eq(key.kind))
        .filter(import_rejects::scope.eq(key.scope))
        .order(import_rejects::row_no)
        .select((
            import_rejects::row_no,
            import_rejects::line,
            import_rejects::reason,
        ))
        .load(conn)
        .map_err(StoreError::from)?;
    write_csv_atomically(path, false, |w| {
        let err = super::csvio::csv_err(path);
        w.write_record(["row", "line", "reason"]).map_err(&err)?;
        for (row, line, reason) in &rows {
            w.write_record([row.to_string(), line.to_string(), reason.clone()])
                .map_err(&err)?;
        }
        Ok(())
    })
}
