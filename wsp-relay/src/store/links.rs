//! Links of persons to providers: pseudonyms and local keys.
//!
//! A pseudonym is drawn at random for each (person, provider) link — never derived from the
//! person ID or from another provider's pseudonym — so two providers comparing their pseudonyms
//! learn nothing (principle 2). The provider's local key is kept as a keyed MAC (to recognise it
//! on re-import and to refuse one key for two persons) and, only for pilot-mode providers, sealed
//! with the KEK, bound to its row (see `crypto`).

use diesel::prelude::*;

use super::providers::provider_by_id;
use super::schema::provider_links;
use super::{now, DbConnection, Store};
use crate::error::StoreError;
use crate::sensitive::{LocalKey, PersonId, Pseudonym};
use crate::store::model::*;

#[derive(Queryable, Selectable, Clone)]
#[diesel(table_name = provider_links)]
pub(crate) struct LinkRow {
    pub person_id: String,
    pub provider_id: String,
    pub pseudonym: String,
    pub local_key_mac: Option<Vec<u8>>,
    pub local_key_enc: Option<Vec<u8>>,
    pub kek_id: Option<String>,
    pub version: i64,
    pub valid_from: i64,
    pub valid_to: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl LinkRow {
    pub(crate) fn into_model(self) -> ProviderLink {
        ProviderLink {
            person: PersonId::from_stored(self.person_id),
            provider: ProviderId(self.provider_id),
            pseudonym: Pseudonym::from_stored(self.pseudonym),
            has_local_key: self.local_key_mac.is_some(),
            local_key_stored: self.local_key_enc.is_some(),
            version: self.version,
            valid_from: self.valid_from,
            valid_to: self.valid_to,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

#[derive(Insertable)]
#[diesel(table_name = provider_links)]
pub(crate) struct LinkInsert<'a> {
    pub person_id: &'a str,
    pub provider_id: &'a str,
    pub pseudonym: &'a str,
    pub local_key_mac: Option<&'a [u8]>,
    pub local_key_enc: Option<&'a [u8]>,
    pub kek_id: Option<&'a str>,
    pub version: i64,
    pub valid_from: i64,
    pub valid_to: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// What setting a local key did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkChange {
    /// A new link (with a new pseudonym) was made.
    Created,
    /// The link existed with another local key (or none): key replaced, version +1.
    Updated,
    /// The link already had this local key.
    Unchanged,
}

/// Additional data sealed with a local key: the row it belongs to.
pub(crate) fn local_key_aad(provider_id: &str, person_id: &str) -> Vec<u8> {
    let mut aad = b"nabari-relay local key v1\0".to_vec();
    aad.extend_from_slice(provider_id.as_bytes());
    aad.push(0);
    aad.extend_from_slice(person_id.as_bytes());
    aad
}

pub(crate) fn link_row(
    conn: &mut DbConnection,
    person_id: &str,
    provider_id: &str,
) -> Result<Option<LinkRow>, StoreError> {
    Ok(provider_links::table
        .find((person_id, provider_id))
        .select(LinkRow::as_select())
        .first(conn)
        .optional()?)
}

/// Links of one provider for a batch of persons.
pub(crate) fn links_for_persons(
    conn: &mut DbConnection,
    provider_id: &str,
    person_ids: &[&str],
) -> Result<Vec<LinkRow>, StoreError> {
    let mut out = Vec::with_capacity(person_ids.len());
    for chunk in person_ids.chunks(500) {
        let rows: Vec<LinkRow> = provider_links::table
            .filter(provider_links::provider_id.eq(provider_id))
            .filter(provider_links::person_id.eq_any(chunk))
            .select(LinkRow::as_select())
            .load(conn)?;
        out.extend(rows);
    }
    Ok(out)
}

/// Links of one provider holding one of these local-key MACs.
pub(crate) fn links_by_macs(
    conn: &mut DbConnection,
    provider_id: &str,
    macs: &[&[u8]],
) -> Result<Vec<LinkRow>, StoreError> {
    let mut out = Vec::with_capacity(macs.len());
    for chunk in macs.chunks(500) {
        let rows: Vec<LinkRow> = provider_links::table
            .filter(provider_links::provider_id.eq(provider_id))
            .filter(provider_links::local_key_mac.eq_any(chunk))
            .select(LinkRow::as_select())
            .load(conn)?;
        out.extend(rows);
    }
    Ok(out)
}

/// One page of a provider's links ordered by person ID, after `after`.
pub(crate) fn links_page(
    conn: &mut DbConnection,
    provider_id: &str,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<LinkRow>, StoreError> {
    let mut query = provider_links::table
        .filter(provider_links::provider_id.eq(provider_id))
        .order(provider_links::person_id)
        .limit(limit)
        .select(LinkRow::as_select())
        .into_boxed();
    if let Some(after) = after {
        query = query.filter(provider_links::person_id.gt(after));
    }
    Ok(query.load(conn)?)
}

pub(crate) fn insert_links(
    conn: &mut DbConnection,
    rows: &[LinkInsert<'_>],
) -> Result<(), StoreError> {
    crate::store::insert_rows!(conn, provider_links::table, rows);
    Ok(())
}

/// Sealed form of a local key for a row, if the provider keeps keys (pilot mode).
pub(crate) struct SealedKey {
    pub mac: Vec<u8>,
    pub enc: Option<(Vec<u8>, String)>,
}

impl Store {
    pub(crate) fn seal_local_key(
        &self,
        provider: &Provider,
        person_id: &str,
        key: &LocalKey,
    ) -> Result<SealedKey, StoreError> {
        let kek = self.kek()?;
        let mac = kek.local_key_mac(provider.id.as_str(), key.expose())?;
        let enc = if provider.pilot_mode {
            let aad = local_key_aad(provider.id.as_str(), person_id);
            Some((
                kek.seal(key.expose().as_bytes(), &aad)?,
                kek.id().to_string(),
            ))
        } else {
            None
        };
        Ok(SealedKey { mac, enc })
    }

    pub(crate) fn open_local_key(&self, row: &LinkRow) -> Result<Option<LocalKey>, StoreError> {
        let Some(sealed) = &row.local_key_enc else {
            return Ok(None);
        };
        let kek = self.kek()?;
        if row.kek_id.as_deref() != Some(kek.id()) {
            // Sealed under another KEK (rotation not finished): refuse rather than guess.
            return Err(StoreError::Decrypt);
        }
        let aad = local_key_aad(&row.provider_id, &row.person_id);
        let clear = kek.open(sealed, &aad)?;
        let text = String::from_utf8(clear).map_err(|_| StoreError::Decrypt)?;
        Ok(Some(LocalKey::from_stored(text)))
    }

    /// The person's pseudonym at the provider, creating the link (with a fresh random
    /// pseudonym) if there is none. Refused for a suspended provider.
    pub fn pseudonym_for(
        &self,
        person: &PersonId,
        provider: &ProviderId,
    ) -> Result<Pseudonym, StoreError> {
        {
            let mut conn = self.conn()?;
            if let Some(row) = link_row(&mut conn, person.expose(), provider.as_str())? {
                return Ok(Pseudonym::from_stored(row.pseudonym));
            }
        }
        let created = self.write(|conn| {
            if let Some(row) = link_row(conn, person.expose(), provider.as_str())? {
                return Ok(Pseudonym::from_stored(row.pseudonym));
            }
            super::persons::person_by_id(conn, person.expose())?
                .ok_or(StoreError::NotFound("person"))?;
            let p = provider_by_id(conn, provider)?.ok_or(StoreError::NotFound("provider"))?;
            if p.status == ProviderStatus::Suspended {
                return Err(StoreError::Conflict("provider is suspended".into()));
            }
            let pseudonym = Pseudonym::generate()?;
            let at = now();
            insert_links(
                conn,
                &[LinkInsert {
                    person_id: person.expose(),
                    provider_id: provider.as_str(),
                    pseudonym: pseudonym.expose(),
                    local_key_mac: None,
                    local_key_enc: None,
                    kek_id: None,
                    version: 1,
                    valid_from: at,
                    valid_to: None,
                    created_at: at,
                    updated_at: at,
                }],
            )?;
            tracing::debug!(%person, provider = %p.entity_id, "pseudonym created");
            Ok(pseudonym)
        });
        match created {
            // PostgreSQL: a concurrent caller inserted the same link first; take theirs.
            Err(StoreError::Db(diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _,
            ))) => {
                let mut conn = self.conn()?;
                link_row(&mut conn, person.expose(), provider.as_str())?
                    .map(|row| Pseudonym::from_stored(row.pseudonym))
                    .ok_or(StoreError::NotFound("link"))
            }
            other => other,
        }
    }

    /// Who a provider's pseudonym stands for.
    pub fn person_for_pseudonym(
        &self,
        provider: &ProviderId,
        pseudonym: &Pseudonym,
    ) -> Result<Option<PersonId>, StoreError> {
        let mut conn = self.conn()?;
        let id: Option<String> = provider_links::table
            .filter(provider_links::provider_id.eq(provider.as_str()))
            .filter(provider_links::pseudonym.eq(pseudonym.expose()))
            .select(provider_links::person_id)
            .first(&mut conn)
            .optional()?;
        Ok(id.map(PersonId::from_stored))
    }

    pub fn link(
        &self,
        person: &PersonId,
        provider: &ProviderId,
    ) -> Result<Option<ProviderLink>, StoreError> {
        let mut conn = self.conn()?;
        Ok(link_row(&mut conn, person.expose(), provider.as_str())?.map(LinkRow::into_model))
    }

    /// Every link of a person (the providers that know them), by provider.
    pub fn links_of(&self, person: &PersonId) -> Result<Vec<ProviderLink>, StoreError> {
        let mut conn = self.conn()?;
        let rows: Vec<LinkRow> = provider_links::table
            .filter(provider_links::person_id.eq(person.expose()))
            .order(provider_links::provider_id)
            .select(LinkRow::as_select())
            .load(&mut conn)?;
        Ok(rows.into_iter().map(LinkRow::into_model).collect())
    }

    /// Records the provider's local key for a person (creating the link if needed). The key is
    /// kept as a MAC, and sealed with the KEK for pilot-mode providers only. `Conflict` if the
    /// key is already linked to another person at this provider.
    pub fn set_local_key(
        &self,
        person: &PersonId,
        provider: &ProviderId,
        key: &LocalKey,
    ) -> Result<LinkChange, StoreError> {
        self.write(|conn| {
            super::persons::person_by_id(conn, person.expose())?
                .ok_or(StoreError::NotFound("person"))?;
            let p = provider_by_id(conn, provider)?.ok_or(StoreError::NotFound("provider"))?;
            if p.status == ProviderStatus::Suspended {
                return Err(StoreError::Conflict("provider is suspended".into()));
            }
            let sealed = self.seal_local_key(&p, person.expose(), key)?;
            let existing = link_row(conn, person.expose(), provider.as_str())?;
            let holders = links_by_macs(conn, provider.as_str(), &[&sealed.mac])?;
            if holders.iter().any(|h| h.person_id != person.expose()) {
                return Err(StoreError::Conflict(
                    "this local key is linked to another person at this provider".into(),
                ));
            }
            apply_local_key(
                conn,
                existing.as_ref(),
                person.expose(),
                provider.as_str(),
                &sealed,
                now(),
            )
        })
    }

    /// The provider's local key for a person, decrypted: `None` if the provider is not in pilot
    /// mode (the relay does not hold its keys) or the link has no key.
    pub fn local_key(
        &self,
        person: &PersonId,
        provider: &ProviderId,
    ) -> Result<Option<LocalKey>, StoreError> {
        let mut conn = self.conn()?;
        match link_row(&mut conn, person.expose(), provider.as_str())? {
            Some(row) => self.open_local_key(&row),
            None => Ok(None),
        }
    }
}

impl LinkRow {
    /// A new link row with a fresh random pseudonym (not yet inserted).
    pub(crate) fn new_with_key(
        person_id: &str,
        provider_id: &str,
        sealed: &SealedKey,
        at: i64,
    ) -> Result<LinkRow, StoreError> {
        Ok(LinkRow {
            person_id: person_id.to_string(),
            provider_id: provider_id.to_string(),
            pseudonym: Pseudonym::generate()?.expose().to_string(),
            local_key_mac: Some(sealed.mac.clone()),
            local_key_enc: sealed.enc.as_ref().map(|(c, _)| c.clone()),
            kek_id: sealed.enc.as_ref().map(|(_, id)| id.clone()),
            version: 1,
            valid_from: at,
            valid_to: None,
            created_at: at,
            updated_at: at,
        })
    }

    pub(crate) fn as_insert(&self) -> LinkInsert<'_> {
        LinkInsert {
            person_id: &self.person_id,
            provider_id: &self.provider_id,
            pseudonym: &self.pseudonym,
            local_key_mac: self.local_key_mac.as_deref(),
            local_key_enc: self.local_key_enc.as_deref(),
            kek_id: self.kek_id.as_deref(),
            version: self.version,
            valid_from: self.valid_from,
            valid_to: self.valid_to,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

/// Creates or updates a link with a sealed local key (inside the caller's transaction).
pub(crate) fn apply_local_key(
    conn: &mut DbConnection,
    existing: Option<&LinkRow>,
    person_id: &str,
    provider_id: &str,
    sealed: &SealedKey,
    at: i64,
) -> Result<LinkChange, StoreError> {
    let enc = sealed.enc.as_ref().map(|(c, _)| c.as_slice());
    let kek_id = sealed.enc.as_ref().map(|(_, id)| id.as_str());
    match existing {
        None => {
            let pseudonym = Pseudonym::generate()?;
            insert_links(
                conn,
                &[LinkInsert {
                    person_id,
                    provider_id,
                    pseudonym: pseudonym.expose(),
                    local_key_mac: Some(&sealed.mac),
                    local_key_enc: enc,
                    kek_id,
                    version: 1,
                    valid_from: at,
                    valid_to: None,
                    created_at: at,
                    updated_at: at,
                }],
            )?;
            Ok(LinkChange::Created)
        }
        Some(row)
            if row.local_key_mac.as_deref() == Some(sealed.mac.as_slice())
                && row.local_key_enc.is_some() == enc.is_some() =>
        {
            Ok(LinkChange::Unchanged)
        }
        Some(_) => {
            diesel::update(provider_links::table.find((person_id, provider_id)))
                .set((
                    provider_links::local_key_mac.eq(Some(&sealed.mac)),
                    provider_links::local_key_enc.eq(enc),
                    provider_links::kek_id.eq(kek_id),
                    provider_links::version.eq(provider_links::version + 1),
                    provider_links::updated_at.eq(at),
                ))
                .execute(conn)?;
            Ok(LinkChange::Updated)
        }
    }
}
