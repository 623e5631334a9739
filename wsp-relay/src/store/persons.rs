//! Persons and their certificates; the IdP's lookup by (CA key identifier, serial).

use diesel::prelude::*;

use super::schema::{certificates, persons};
use super::{now, DbConnection, Store};
use crate::error::StoreError;
use crate::sensitive::{HouseholdNumber, PersonId, ResidentNumber};
use crate::store::model::*;

#[derive(Queryable, Selectable)]
#[diesel(table_name = persons)]
pub(crate) struct PersonRow {
    id: String,
    resident_number: String,
    household_number: Option<String>,
    status: String,
    version: i64,
    valid_from: i64,
    valid_to: Option<i64>,
    created_at: i64,
    updated_at: i64,
}

impl PersonRow {
    pub(crate) fn into_model(self) -> Result<Person, StoreError> {
        Ok(Person {
            id: PersonId::from_stored(self.id),
            resident_number: ResidentNumber::from_stored(self.resident_number),
            household_number: self.household_number.map(HouseholdNumber::from_stored),
            status: PersonStatus::from_db(&self.status)?,
            version: self.version,
            valid_from: self.valid_from,
            valid_to: self.valid_to,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

#[derive(Insertable)]
#[diesel(table_name = persons)]
pub(crate) struct PersonInsert<'a> {
    pub id: &'a str,
    pub resident_number: &'a str,
    pub household_number: Option<&'a str>,
    pub status: &'a str,
    pub version: i64,
    pub valid_from: i64,
    pub valid_to: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Queryable, Selectable, Clone)]
#[diesel(table_name = certificates)]
pub(crate) struct CertRow {
    pub ca_key_id: Vec<u8>,
    pub serial: Vec<u8>,
    pub person_id: String,
    pub kind: String,
    pub subject_dn: String,
    pub not_before: i64,
    pub not_after: i64,
    pub status: String,
    pub status_reason: Option<String>,
    pub status_at: Option<i64>,
    pub superseded_by_ca_key_id: Option<Vec<u8>>,
    pub superseded_by_serial: Option<Vec<u8>>,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

fn cert_status(
    status: &str,
    reason: Option<String>,
    at: Option<i64>,
    by: Option<CertKey>,
) -> Result<CertStatus, StoreError> {
    let at = || at.ok_or_else(|| StoreError::Corrupt("certificate status without time".into()));
    Ok(match status {
        "active" => CertStatus::Active,
        "revoked" => CertStatus::Revoked {
            reason: reason.unwrap_or_else(|| "unspecified".into()),
            at: at()?,
        },
        "superseded" => CertStatus::Superseded { at: at()?, by },
        other => {
            return Err(StoreError::Corrupt(format!(
                "unknown certificate status {other:?}"
            )))
        }
    })
}

impl CertRow {
    pub(crate) fn key(&self) -> CertKey {
        CertKey {
            ca_key_id: self.ca_key_id.clone(),
            serial: self.serial.clone(),
        }
    }

    pub(crate) fn superseded_by(&self) -> Option<CertKey> {
        match (&self.superseded_by_ca_key_id, &self.superseded_by_serial) {
            (Some(ca), Some(serial)) => Some(CertKey {
                ca_key_id: ca.clone(),
                serial: serial.clone(),
            }),
            _ => None,
        }
    }

    pub(crate) fn into_model(self) -> Result<Certificate, StoreError> {
        let by = self.superseded_by();
        Ok(Certificate {
            key: self.key(),
            status: cert_status(&self.status, self.status_reason, self.status_at, by.clone())?,
            person: PersonId::from_stored(self.person_id),
            kind: CertKind::from_db(&self.kind)?,
            subject_dn: self.subject_dn,
            not_before: self.not_before,
            not_after: self.not_after,
            superseded_by: by,
            version: self.version,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

#[derive(Insertable)]
#[diesel(table_name = certificates)]
pub(crate) struct CertInsert<'a> {
    pub ca_key_id: &'a [u8],
    pub serial: &'a [u8],
    pub person_id: &'a str,
    pub kind: &'a str,
    pub subject_dn: &'a str,
    pub not_before: i64,
    pub not_after: i64,
    pub status: &'a str,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

impl<'a> CertInsert<'a> {
    pub(crate) fn new(c: &'a NewCertificate, at: i64) -> CertInsert<'a> {
        CertInsert {
            ca_key_id: &c.key.ca_key_id,
            serial: &c.key.serial,
            person_id: c.person.expose(),
            kind: c.kind.as_str(),
            subject_dn: &c.subject_dn,
            not_before: c.not_before,
            not_after: c.not_after,
            status: "active",
            version: 1,
            created_at: at,
            updated_at: at,
        }
    }
}

// ---- connection-level operations (shared with the enrollment imports, inside their batches) ----

pub(crate) fn person_by_id(
    conn: &mut DbConnection,
    id: &str,
) -> Result<Option<Person>, StoreError> {
    persons::table
        .find(id)
        .select(PersonRow::as_select())
        .first(conn)
        .optional()?
        .map(PersonRow::into_model)
        .transpose()
}

pub(crate) fn person_by_resident(
    conn: &mut DbConnection,
    resident: &ResidentNumber,
) -> Result<Option<Person>, StoreError> {
    persons::table
        .filter(persons::resident_number.eq(resident.expose()))
        .select(PersonRow::as_select())
        .first(conn)
        .optional()?
        .map(PersonRow::into_model)
        .transpose()
}

/// Persons by resident number, for a batch.
pub(crate) fn persons_by_residents(
    conn: &mut DbConnection,
    residents: &[&str],
) -> Result<Vec<Person>, StoreError> {
    let mut out = Vec::with_capacity(residents.len());
    for chunk in residents.chunks(500) {
        let rows: Vec<PersonRow> = persons::table
            .filter(persons::resident_number.eq_any(chunk))
            .select(PersonRow::as_select())
            .load(conn)?;
        for row in rows {
            out.push(row.into_model()?);
        }
    }
    Ok(out)
}

pub(crate) fn insert_person(
    conn: &mut DbConnection,
    new: &NewPerson,
    at: i64,
) -> Result<Person, StoreError> {
    let id = PersonId::generate()?;
    let valid_from = new.valid_from.unwrap_or(at);
    insert_persons(
        conn,
        &[PersonInsert {
            id: id.expose(),
            resident_number: new.resident_number.expose(),
            household_number: new.household_number.as_ref().map(|h| h.expose()),
            status: PersonStatus::Active.as_str(),
            version: 1,
            valid_from,
            valid_to: None,
            created_at: at,
            updated_at: at,
        }],
    )?;
    Ok(Person {
        id,
        resident_number: new.resident_number.clone(),
        household_number: new.household_number.clone(),
        status: PersonStatus::Active,
        version: 1,
        valid_from,
        valid_to: None,
        created_at: at,
        updated_at: at,
    })
}

pub(crate) fn insert_persons(
    conn: &mut DbConnection,
    rows: &[PersonInsert<'_>],
) -> Result<(), StoreError> {
    // Chunks keep every statement under SQLite's and PostgreSQL's bind-parameter limits.
    crate::store::insert_rows!(conn, persons::table, rows);
    Ok(())
}

pub(crate) fn set_household(
    conn: &mut DbConnection,
    id: &PersonId,
    household: Option<&HouseholdNumber>,
    at: i64,
) -> Result<(), StoreError> {
    diesel::update(persons::table.find(id.expose()))
        .set((
            persons::household_number.eq(household.map(|h| h.expose())),
            persons::version.eq(persons::version + 1),
            persons::updated_at.eq(at),
        ))
        .execute(conn)?;
    Ok(())
}

pub(crate) fn cert_by_key(
    conn: &mut DbConnection,
    key: &CertKey,
) -> Result<Option<CertRow>, StoreError> {
    Ok(certificates::table
        .find((&key.ca_key_id, &key.serial))
        .select(CertRow::as_select())
        .first(conn)
        .optional()?)
}

/// Certificates whose serial is one of `serials` (callers filter on the CA key identifier).
pub(crate) fn certs_by_serials(
    conn: &mut DbConnection,
    serials: &[&[u8]],
) -> Result<Vec<CertRow>, StoreError> {
    let mut out = Vec::with_capacity(serials.len());
    for chunk in serials.chunks(500) {
        let rows: Vec<CertRow> = certificates::table
            .filter(certificates::serial.eq_any(chunk))
            .select(CertRow::as_select())
            .load(conn)?;
        out.extend(rows);
    }
    Ok(out)
}

pub(crate) fn insert_certs(
    conn: &mut DbConnection,
    rows: &[CertInsert<'_>],
) -> Result<(), StoreError> {
    crate::store::insert_rows!(conn, certificates::table, rows);
    Ok(())
}

/// What a status change did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusChange {
    Changed,
    Unchanged,
}

/// Marks `old` superseded by `new` (which must already exist, for the same person). A revoked
/// certificate stays revoked but records its successor.
pub(crate) fn supersede(
    conn: &mut DbConnection,
    old: &CertRow,
    new: &CertKey,
    at: i64,
) -> Result<StatusChange, StoreError> {
    if let Some(by) = old.superseded_by() {
        return if &by == new {
            Ok(StatusChange::Unchanged)
        } else {
            Err(StoreError::Conflict(
                "the old certificate was already superseded by another one".into(),
            ))
        };
    }
    let target = certificates::table.find((&old.ca_key_id, &old.serial));
    if old.status == "active" {
        diesel::update(target)
            .set((
                certificates::status.eq("superseded"),
                certificates::status_reason.eq("renewed"),
                certificates::status_at.eq(at),
                certificates::superseded_by_ca_key_id.eq(&new.ca_key_id),
                certificates::superseded_by_serial.eq(&new.serial),
                certificates::version.eq(certificates::version + 1),
                certificates::updated_at.eq(at),
            ))
            .execute(conn)?;
    } else {
        diesel::update(target)
            .set((
                certificates::superseded_by_ca_key_id.eq(&new.ca_key_id),
                certificates::superseded_by_serial.eq(&new.serial),
                certificates::version.eq(certificates::version + 1),
                certificates::updated_at.eq(at),
            ))
            .execute(conn)?;
    }
    Ok(StatusChange::Changed)
}

/// Marks a certificate revoked (`reason`: RFC 5280 CRLReason name; `at`: revocation date).
pub(crate) fn revoke(
    conn: &mut DbConnection,
    cert: &CertRow,
    reason: &str,
    revoked_at: i64,
    now: i64,
) -> Result<StatusChange, StoreError> {
    if cert.status == "revoked" {
        return Ok(StatusChange::Unchanged);
    }
    diesel::update(certificates::table.find((&cert.ca_key_id, &cert.serial)))
        .set((
            certificates::status.eq("revoked"),
            certificates::status_reason.eq(reason),
            certificates::status_at.eq(revoked_at),
            certificates::version.eq(certificates::version + 1),
            certificates::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(StatusChange::Changed)
}

// ---- the Store API ----

impl Store {
    /// Creates a person. Fails with `Conflict` if the resident number is already known.
    pub fn create_person(&self, new: &NewPerson) -> Result<Person, StoreError> {
        self.write(|conn| {
            if person_by_resident(conn, &new.resident_number)?.is_some() {
                return Err(StoreError::Conflict(
                    "resident number already registered".into(),
                ));
            }
            insert_person(conn, new, now())
        })
    }

    pub fn person(&self, id: &PersonId) -> Result<Option<Person>, StoreError> {
        let mut conn = self.conn()?;
        person_by_id(&mut conn, id.expose())
    }

    pub fn person_by_resident_number(
        &self,
        resident: &ResidentNumber,
    ) -> Result<Option<Person>, StoreError> {
        let mut conn = self.conn()?;
        person_by_resident(&mut conn, resident)
    }

    /// Changes a person's household number (management version +1).
    pub fn set_household_number(
        &self,
        id: &PersonId,
        household: Option<&HouseholdNumber>,
    ) -> Result<Person, StoreError> {
        self.write(|conn| {
            person_by_id(conn, id.expose())?.ok_or(StoreError::NotFound("person"))?;
            set_household(conn, id, household, now())?;
            person_by_id(conn, id.expose())?.ok_or(StoreError::NotFound("person"))
        })
    }

    /// Changes a person's status (management version +1; `Closed` ends the validity now).
    pub fn set_person_status(
        &self,
        id: &PersonId,
        status: PersonStatus,
    ) -> Result<Person, StoreError> {
        self.write(|conn| {
            let person = person_by_id(conn, id.expose())?.ok_or(StoreError::NotFound("person"))?;
            if person.status != status {
                let at = now();
                let valid_to = match status {
                    PersonStatus::Closed => Some(at.max(person.valid_from + 1)),
                    _ => None,
                };
                diesel::update(persons::table.find(id.expose()))
                    .set((
                        persons::status.eq(status.as_str()),
                        persons::valid_to.eq(valid_to),
                        persons::version.eq(persons::version + 1),
                        persons::updated_at.eq(at),
                    ))
                    .execute(conn)?;
            }
            person_by_id(conn, id.expose())?.ok_or(StoreError::NotFound("person"))
        })
    }

    /// Adds a certificate to an existing person. `Conflict` if the (CA key id, serial) is taken.
    pub fn add_certificate(&self, new: &NewCertificate) -> Result<Certificate, StoreError> {
        if new.not_after <= new.not_before {
            return Err(StoreError::invalid(
                "certificate validity",
                "notAfter is not after notBefore",
            ));
        }
        self.write(|conn| {
            person_by_id(conn, new.person.expose())?.ok_or(StoreError::NotFound("person"))?;
            if cert_by_key(conn, &new.key)?.is_some() {
                return Err(StoreError::Conflict(
                    "certificate already registered".into(),
                ));
            }
            insert_certs(conn, &[CertInsert::new(new, now())])?;
            cert_by_key(conn, &new.key)?
                .ok_or(StoreError::NotFound("certificate"))?
                .into_model()
        })
    }

    pub fn certificate(&self, key: &CertKey) -> Result<Option<Certificate>, StoreError> {
        let mut conn = self.conn()?;
        cert_by_key(&mut conn, key)?
            .map(CertRow::into_model)
            .transpose()
    }

    pub fn certificates_of(&self, person: &PersonId) -> Result<Vec<Certificate>, StoreError> {
        let mut conn = self.conn()?;
        let rows: Vec<CertRow> = certificates::table
            .filter(certificates::person_id.eq(person.expose()))
            .order((
                certificates::created_at,
                certificates::ca_key_id,
                certificates::serial,
            ))
            .select(CertRow::as_select())
            .load(&mut conn)?;
        rows.into_iter().map(CertRow::into_model).collect()
    }

    /// The IdP's lookup: which person a certificate belongs to and the certificate's status.
    /// One primary-key read. `serial` may carry a DER sign byte; it is normalized.
    pub fn lookup_certificate(
        &self,
        ca_key_id: &[u8],
        serial: &[u8],
    ) -> Result<Option<(PersonId, CertStatus)>, StoreError> {
        let key = CertKey::new(ca_key_id, serial)?;
        Ok(self
            .lookup_certificate_detail(&key)?
            .map(|l| (l.person, l.status)))
    }

    /// The IdP's lookup with the person's status, the certificate's kind and validity (one
    /// primary-key read joined to the person).
    pub fn lookup_certificate_detail(
        &self,
        key: &CertKey,
    ) -> Result<Option<CertLookup>, StoreError> {
        let mut conn = self.conn()?;
        let row: Option<(CertRow, String)> = certificates::table
            .inner_join(persons::table)
            .filter(certificates::ca_key_id.eq(&key.ca_key_id))
            .filter(certificates::serial.eq(&key.serial))
            .select((CertRow::as_select(), persons::status))
            .first(&mut conn)
            .optional()?;
        let Some((row, person_status)) = row else {
            return Ok(None);
        };
        let cert = row.into_model()?;
        Ok(Some(CertLookup {
            person: cert.person,
            person_status: PersonStatus::from_db(&person_status)?,
            kind: cert.kind,
            status: cert.status,
            not_before: cert.not_before,
            not_after: cert.not_after,
        }))
    }

    /// Links `new` (added for the same person if absent) as the successor of `old` and retires
    /// `old` (status superseded; a revoked `old` keeps its revocation). Idempotent.
    pub fn supersede_certificate(
        &self,
        old: &CertKey,
        new: &NewCertificate,
    ) -> Result<StatusChange, StoreError> {
        self.write(|conn| {
            let at = now();
            let old_row = cert_by_key(conn, old)?.ok_or(StoreError::NotFound("old certificate"))?;
            if old_row.person_id != new.person.expose() {
                return Err(StoreError::Conflict(
                    "the new certificate is for another person".into(),
                ));
            }
            match cert_by_key(conn, &new.key)? {
                Some(existing) if existing.person_id != old_row.person_id => {
                    return Err(StoreError::Conflict(
                        "the new certificate is registered to another person".into(),
                    ))
                }
                Some(_) => {}
                None => insert_certs(conn, &[CertInsert::new(new, at)])?,
            }
            supersede(conn, &old_row, &new.key, at)
        })
    }

    /// Marks a certificate revoked. Idempotent (`Unchanged` if it already was).
    pub fn revoke_certificate(
        &self,
        key: &CertKey,
        reason: &str,
        revoked_at: i64,
    ) -> Result<StatusChange, StoreError> {
        self.write(|conn| {
            let row = cert_by_key(conn, key)?.ok_or(StoreError::NotFound("certificate"))?;
            revoke(conn, &row, reason, revoked_at, now())
        })
    }

    /// Number of persons and of certificates (for reports and tests).
    pub fn counts(&self) -> Result<Counts, StoreError> {
        use super::schema::{access_records, provider_links, providers};
        let mut conn = self.conn()?;
        Ok(Counts {
            persons: persons::table.count().get_result(&mut conn)?,
            certificates: certificates::table.count().get_result(&mut conn)?,
            providers: providers::table.count().get_result(&mut conn)?,
            links: provider_links::table.count().get_result(&mut conn)?,
            access_records: access_records::table.count().get_result(&mut conn)?,
        })
    }
}

/// Row counts of the main tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub persons: i64,
    pub certificates: i64,
    pub providers: i64,
    pub links: i64,
    pub access_records: i64,
}
