//! Access records (principle 3, flow E): every token minted, every refusal and every link made
//! for a provider, appended to a hash chain that the resident is shown and that anyone with the
//! database can verify.
//!
//! Each record stores `prev_hash` (the previous record's hash; 32 zero bytes for seq 1) and
//! `hash = SHA-256(canonical encoding of every column but hash)`. The encoding
//! ([`canonical_encoding`]) is length-prefixed, so no two different records encode alike:
//!
//! ```text
//! "nabari-relay access-record v1" 0x00
//! seq (u64 BE) recorded_at (i64 BE)
//! str requester, str purpose, opt provider, opt service_type, opt data_class,
//! str person_id, str outcome, opt detail, prev_hash (32 bytes)
//! str = u32 BE length + UTF-8;  opt = 0x00 (NULL) | 0x01 str
//! ```
//!
//! Appends are serialized: the transaction first updates the single `access_chain` row (a row
//! lock on PostgreSQL; on SQLite the write lock is already held from `BEGIN IMMEDIATE`), then
//! reads the head, inserts and moves the head. Two appenders can therefore never read the same
//! head, and `seq` is gap-free. Verification also compares the last record with the head row, so
//! removing the newest records is detected, not only changes in the middle.
//!
//! What the chain does not stop: someone who can write the database and recomputes every hash
//! after the change, head included. Publishing the head hash elsewhere (not done here) closes
//! that.

use std::fmt;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;

use crate::error::StoreError;
use crate::sensitive::PersonId;
use crate::store::schema::{access_chain, access_records};
use crate::store::{now, DbConnection, Store};

const DOMAIN: &[u8] = b"nabari-relay access-record v1\0";
const GENESIS: [u8; 32] = [0u8; 32];
const PAGE: i64 = 2000;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// A token was minted for the provider.
    Issued,
    /// The request was refused (policy, authentication…); `detail` says why.
    Refused,
    /// The relay linked the person to the provider (pseudonym made for an enrollment import).
    Linked,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Issued => "issued",
            Outcome::Refused => "refused",
            Outcome::Linked => "linked",
        }
    }

    pub fn parse(text: &str) -> Option<Outcome> {
        match text {
            "issued" => Some(Outcome::Issued),
            "refused" => Some(Outcome::Refused),
            "linked" => Some(Outcome::Linked),
            _ => None,
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A record to append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAccessRecord {
    /// Entity ID of who asked (the portal, the clinic application; the relay itself for links).
    pub requester: String,
    pub purpose: String,
    /// Entity ID of the data provider; `None` when refused before any provider was chosen.
    pub provider: Option<String>,
    pub service_type: Option<String>,
    pub data_class: Option<String>,
    pub person: PersonId,
    pub outcome: Outcome,
    /// Refusal reason code, or other short detail (never a sensitive value).
    pub detail: Option<String>,
}

/// A stored record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessRecord {
    pub seq: i64,
    pub recorded_at: i64,
    pub requester: String,
    pub purpose: String,
    pub provider: Option<String>,
    pub service_type: Option<String>,
    pub data_class: Option<String>,
    pub person: PersonId,
    pub outcome: Outcome,
    pub detail: Option<String>,
    pub prev_hash: Vec<u8>,
    pub hash: Vec<u8>,
}

/// The first place where the chain does not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("access-record chain broken at seq {seq}: {reason}")]
pub struct BrokenLink {
    pub seq: i64,
    pub reason: String,
}

/// Why verification did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    #[error(transparent)]
    Broken(#[from] BrokenLink),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<diesel::result::Error> for ChainError {
    fn from(e: diesel::result::Error) -> ChainError {
        ChainError::Store(e.into())
    }
}

/// A verified chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainReport {
    pub records: i64,
    pub head_seq: i64,
    pub head_hash: Option<Vec<u8>>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = access_records)]
struct RecordRow {
    seq: i64,
    recorded_at: i64,
    requester: String,
    purpose: String,
    provider: Option<String>,
    service_type: Option<String>,
    data_class: Option<String>,
    person_id: String,
    outcome: String,
    detail: Option<String>,
    prev_hash: Vec<u8>,
    hash: Vec<u8>,
}

#[derive(Insertable)]
#[diesel(table_name = access_records)]
struct RecordInsert<'a> {
    seq: i64,
    recorded_at: i64,
    requester: &'a str,
    purpose: &'a str,
    provider: Option<&'a str>,
    service_type: Option<&'a str>,
    data_class: Option<&'a str>,
    person_id: &'a str,
    outcome: &'a str,
    detail: Option<&'a str>,
    prev_hash: &'a [u8],
    hash: &'a [u8],
}

/// The fields that are hashed, borrowed from a stored row or a record being appended.
struct Fields<'a> {
    seq: i64,
    recorded_at: i64,
    requester: &'a str,
    purpose: &'a str,
    provider: Option<&'a str>,
    service_type: Option<&'a str>,
    data_class: Option<&'a str>,
    person_id: &'a str,
    outcome: &'a str,
    detail: Option<&'a str>,
    prev_hash: &'a [u8],
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u32).to_be_bytes());
    out.extend_from_slice(s.as_bytes());
}

fn put_opt(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        None => out.push(0),
        Some(s) => {
            out.push(1);
            put_str(out, s);
        }
    }
}

fn encode(f: &Fields<'_>) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(DOMAIN);
    out.extend_from_slice(&(f.seq as u64).to_be_bytes());
    out.extend_from_slice(&f.recorded_at.to_be_bytes());
    put_str(&mut out, f.requester);
    put_str(&mut out, f.purpose);
    put_opt(&mut out, f.provider);
    put_opt(&mut out, f.service_type);
    put_opt(&mut out, f.data_class);
    put_str(&mut out, f.person_id);
    put_str(&mut out, f.outcome);
    put_opt(&mut out, f.detail);
    out.extend_from_slice(f.prev_hash);
    out
}

impl RecordRow {
    fn fields(&self) -> Fields<'_> {
        Fields {
            seq: self.seq,
            recorded_at: self.recorded_at,
            requester: &self.requester,
            purpose: &self.purpose,
            provider: self.provider.as_deref(),
            service_type: self.service_type.as_deref(),
            data_class: self.data_class.as_deref(),
            person_id: &self.person_id,
            outcome: &self.outcome,
            detail: self.detail.as_deref(),
            prev_hash: &self.prev_hash,
        }
    }

    fn into_model(self) -> Result<AccessRecord, StoreError> {
        Ok(AccessRecord {
            seq: self.seq,
            recorded_at: self.recorded_at,
            outcome: Outcome::parse(&self.outcome).ok_or_else(|| {
                StoreError::Corrupt(format!("unknown outcome {:?}", self.outcome))
            })?,
            requester: self.requester,
            purpose: self.purpose,
            provider: self.provider,
            service_type: self.service_type,
            data_class: self.data_class,
            person: PersonId::from_stored(self.person_id),
            detail: self.detail,
            prev_hash: self.prev_hash,
            hash: self.hash,
        })
    }
}

/// The canonical encoding of a stored record (what its `hash` is the SHA-256 of).
pub fn canonical_encoding(r: &AccessRecord) -> Vec<u8> {
    encode(&Fields {
        seq: r.seq,
        recorded_at: r.recorded_at,
        requester: &r.requester,
        purpose: &r.purpose,
        provider: r.provider.as_deref(),
        service_type: r.service_type.as_deref(),
        data_class: r.data_class.as_deref(),
        person_id: r.person.expose(),
        outcome: r.outcome.as_str(),
        detail: r.detail.as_deref(),
        prev_hash: &r.prev_hash,
    })
}

fn check(r: &NewAccessRecord) -> Result<(), StoreError> {
    if r.requester.trim().is_empty() {
        return Err(StoreError::invalid("requester", "empty"));
    }
    if r.purpose.trim().is_empty() {
        return Err(StoreError::invalid("purpose", "empty"));
    }
    Ok(())
}

/// Appends records inside the caller's write transaction (one lock for all of them).
pub(crate) fn append_in_tx(
    conn: &mut DbConnection,
    records: &[NewAccessRecord],
    at: i64,
) -> Result<Vec<AccessRecord>, StoreError> {
    if records.is_empty() {
        return Ok(Vec::new());
    }
    for r in records {
        check(r)?;
    }
    // Lock the head first: concurrent appenders queue here (see the module comment).
    let locked = diesel::update(access_chain::table.find(1))
        .set(access_chain::head_seq.eq(access_chain::head_seq))
        .execute(conn)?;
    if locked != 1 {
        return Err(StoreError::Corrupt(
            "access_chain head row is missing".into(),
        ));
    }
    let (head_seq, head_hash): (i64, Option<Vec<u8>>) = access_chain::table
        .find(1)
        .select((access_chain::head_seq, access_chain::head_hash))
        .first(conn)?;
    let mut prev = head_hash.unwrap_or_else(|| GENESIS.to_vec());
    let mut out = Vec::with_capacity(records.len());
    for (i, r) in records.iter().enumerate() {
        let seq = head_seq + 1 + i as i64;
        let fields = Fields {
            seq,
            recorded_at: at,
            requester: r.requester.trim(),
            purpose: r.purpose.trim(),
            provider: r.provider.as_deref(),
            service_type: r.service_type.as_deref(),
            data_class: r.data_class.as_deref(),
            person_id: r.person.expose(),
            outcome: r.outcome.as_str(),
            detail: r.detail.as_deref(),
            prev_hash: &prev,
        };
        let hash = openssl::sha::sha256(&encode(&fields)).to_vec();
        out.push(AccessRecord {
            seq,
            recorded_at: at,
            requester: fields.requester.to_string(),
            purpose: fields.purpose.to_string(),
            provider: r.provider.clone(),
            service_type: r.service_type.clone(),
            data_class: r.data_class.clone(),
            person: r.person.clone(),
            outcome: r.outcome,
            detail: r.detail.clone(),
            prev_hash: prev,
            hash: hash.clone(),
        });
        prev = hash;
    }
    let rows: Vec<RecordInsert<'_>> = out
        .iter()
        .map(|r| RecordInsert {
            seq: r.seq,
            recorded_at: r.recorded_at,
            requester: &r.requester,
            purpose: &r.purpose,
            provider: r.provider.as_deref(),
            service_type: r.service_type.as_deref(),
            data_class: r.data_class.as_deref(),
            person_id: r.person.expose(),
            outcome: r.outcome.as_str(),
            detail: r.detail.as_deref(),
            prev_hash: &r.prev_hash,
            hash: &r.hash,
        })
        .collect();
    crate::store::insert_rows!(conn, access_records::table, rows);
    let last = out.last().map(|r| (r.seq, r.hash.clone()));
    if let Some((seq, hash)) = last {
        diesel::update(access_chain::table.find(1))
            .set((
                access_chain::head_seq.eq(seq),
                access_chain::head_hash.eq(Some(hash)),
            ))
            .execute(conn)?;
    }
    Ok(out)
}

impl Store {
    /// Appends one record and returns it with its seq and hash.
    pub fn append_access_record(
        &self,
        record: &NewAccessRecord,
    ) -> Result<AccessRecord, StoreError> {
        let mut out = self.append_access_records(std::slice::from_ref(record))?;
        out.pop()
            .ok_or(StoreError::Corrupt("append returned no record".into()))
    }

    /// Appends several records in one transaction, in order (e.g. the tokens of one Query).
    pub fn append_access_records(
        &self,
        records: &[NewAccessRecord],
    ) -> Result<Vec<AccessRecord>, StoreError> {
        self.write(|conn| append_in_tx(conn, records, now()))
    }

    /// A person's records, oldest first.
    pub fn access_records_for(&self, person: &PersonId) -> Result<Vec<AccessRecord>, StoreError> {
        let mut conn = self.conn()?;
        let rows: Vec<RecordRow> = access_records::table
            .filter(access_records::person_id.eq(person.expose()))
            .order(access_records::seq)
            .select(RecordRow::as_select())
            .load(&mut conn)?;
        rows.into_iter().map(RecordRow::into_model).collect()
    }

    /// Verifies the whole chain in one snapshot: seq gap-free from 1, each `prev_hash` equal to
    /// the previous `hash`, each `hash` equal to the hash of the row's contents, the last record
    /// equal to the head. Returns the first broken link.
    pub fn verify_chain(&self) -> Result<ChainReport, ChainError> {
        let mut conn = self.conn()?;
        (*conn).transaction(|conn| {
            if let DbConnection::Pg(pg) = conn {
                // One snapshot for the head and every page (READ COMMITTED would take one per
                // statement and could see appends made meanwhile).
                pg.batch_execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")?;
            }
            verify(conn)
        })
    }
}

fn verify(conn: &mut DbConnection) -> Result<ChainReport, ChainError> {
    let (head_seq, head_hash): (i64, Option<Vec<u8>>) = access_chain::table
        .find(1)
        .select((access_chain::head_seq, access_chain::head_hash))
        .first(conn)
        .optional()?
        .ok_or_else(|| BrokenLink {
            seq: 1,
            reason: "the chain head row is missing".into(),
        })?;
    let mut expected = 1i64;
    let mut prev = GENESIS.to_vec();
    loop {
        let page: Vec<RecordRow> = access_records::table
            .filter(access_records::seq.ge(expected))
            .order(access_records::seq)
            .limit(PAGE)
            .select(RecordRow::as_select())
            .load(conn)?;
        if page.is_empty() {
            break;
        }
        for row in &page {
            if row.seq > head_seq {
                return Err(BrokenLink {
                    seq: if expected <= head_seq {
                        expected
                    } else {
                        row.seq
                    },
                    reason: if expected <= head_seq {
                        format!("records {expected}..={head_seq} are missing")
                    } else {
                        format!("record beyond the chain head (head is seq {head_seq})")
                    },
                }
                .into());
            }
            if row.seq != expected {
                return Err(BrokenLink {
                    seq: expected,
                    reason: format!("record missing (the next one present is seq {})", row.seq),
                }
                .into());
            }
            if row.prev_hash != prev {
                return Err(BrokenLink {
                    seq: row.seq,
                    reason: "prev_hash differs from the previous record's hash".into(),
                }
                .into());
            }
            let hash = openssl::sha::sha256(&encode(&row.fields()));
            if row.hash != hash {
                return Err(BrokenLink {
                    seq: row.seq,
                    reason: "hash does not match the record's contents".into(),
                }
                .into());
            }
            if Outcome::parse(&row.outcome).is_none() {
                return Err(BrokenLink {
                    seq: row.seq,
                    reason: "unknown outcome".into(),
                }
                .into());
            }
            prev = row.hash.clone();
            expected += 1;
        }
    }
    let last = expected - 1;
    if last != head_seq {
        return Err(BrokenLink {
            seq: expected,
            reason: format!(
                "records {expected}..={head_seq} are missing (the head says {head_seq})"
            ),
        }
        .into());
    }
    let head_matches = match &head_hash {
        None => last == 0,
        Some(h) => last > 0 && *h == prev,
    };
    if !head_matches {
        return Err(BrokenLink {
            seq: head_seq.max(1),
            reason: "the chain head's hash differs from the last record's".into(),
        }
        .into());
    }
    Ok(ChainReport {
        records: last,
        head_seq,
        head_hash,
    })
}
