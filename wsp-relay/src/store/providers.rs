//! Providers (WSPs) and their services: registration, approval, and what Discovery matches on.

use diesel::prelude::*;

use super::schema::{provider_services, providers};
use super::{now, DbConnection, Store};
use crate::crypto::random_id;
use crate::error::StoreError;
use crate::store::model::*;

#[derive(Queryable, Selectable)]
#[diesel(table_name = providers)]
pub(crate) struct ProviderRow {
    id: String,
    entity_id: String,
    name_ja: String,
    name_en: String,
    status: String,
    pilot_mode: bool,
    local_key_scheme: String,
    metadata_xml: Option<String>,
    version: i64,
    created_at: i64,
    updated_at: i64,
    status_changed_at: i64,
}

impl ProviderRow {
    fn into_model(self) -> Result<Provider, StoreError> {
        Ok(Provider {
            id: ProviderId(self.id),
            entity_id: self.entity_id,
            name_ja: self.name_ja,
            name_en: self.name_en,
            status: ProviderStatus::from_db(&self.status)?,
            pilot_mode: self.pilot_mode,
            local_key_scheme: LocalKeyScheme::from_db(&self.local_key_scheme)?,
            metadata_xml: self.metadata_xml,
            version: self.version,
            created_at: self.created_at,
            updated_at: self.updated_at,
            status_changed_at: self.status_changed_at,
        })
    }
}

#[derive(Insertable)]
#[diesel(table_name = providers)]
struct ProviderInsert<'a> {
    id: &'a str,
    entity_id: &'a str,
    name_ja: &'a str,
    name_en: &'a str,
    status: &'a str,
    pilot_mode: bool,
    local_key_scheme: &'a str,
    metadata_xml: Option<&'a str>,
    version: i64,
    created_at: i64,
    updated_at: i64,
    status_changed_at: i64,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = provider_services)]
struct ServiceRow {
    svc_md_id: String,
    provider_id: String,
    service_type: String,
    endpoint: String,
    security_mechs: String,
    abstract_text: Option<String>,
    svc_md_xml: Option<String>,
    created_at: i64,
    updated_at: i64,
}

impl ServiceRow {
    fn into_model(self) -> ProviderService {
        ProviderService {
            svc_md_id: self.svc_md_id,
            provider: ProviderId(self.provider_id),
            service_type: self.service_type,
            endpoint: self.endpoint,
            security_mechs: self
                .security_mechs
                .split_ascii_whitespace()
                .map(str::to_string)
                .collect(),
            abstract_text: self.abstract_text,
            svc_md_xml: self.svc_md_xml,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

#[derive(Insertable)]
#[diesel(table_name = provider_services)]
struct ServiceInsert<'a> {
    svc_md_id: &'a str,
    provider_id: &'a str,
    service_type: &'a str,
    endpoint: &'a str,
    security_mechs: &'a str,
    abstract_text: Option<&'a str>,
    svc_md_xml: Option<&'a str>,
    created_at: i64,
    updated_at: i64,
}

fn check_service(s: &NewService) -> Result<String, StoreError> {
    if s.service_type.trim().is_empty() {
        return Err(StoreError::invalid("service type", "empty"));
    }
    if s.endpoint.trim().is_empty() {
        return Err(StoreError::invalid("endpoint", "empty"));
    }
    if s.security_mechs.is_empty()
        || s.security_mechs
            .iter()
            .any(|m| m.is_empty() || m.contains(char::is_whitespace))
    {
        return Err(StoreError::invalid(
            "security mechanisms",
            "expected one or more URNs without spaces",
        ));
    }
    Ok(s.security_mechs.join(" "))
}

pub(crate) fn provider_by_entity(
    conn: &mut DbConnection,
    entity_id: &str,
) -> Result<Option<Provider>, StoreError> {
    providers::table
        .filter(providers::entity_id.eq(entity_id))
        .select(ProviderRow::as_select())
        .first(conn)
        .optional()?
        .map(ProviderRow::into_model)
        .transpose()
}

pub(crate) fn provider_by_id(
    conn: &mut DbConnection,
    id: &ProviderId,
) -> Result<Option<Provider>, StoreError> {
    providers::table
        .find(id.as_str())
        .select(ProviderRow::as_select())
        .first(conn)
        .optional()?
        .map(ProviderRow::into_model)
        .transpose()
}

impl Store {
    /// Registers a provider; it starts `pending` until the operator approves it.
    /// `Conflict` if the entity ID is already registered.
    pub fn register_provider(&self, new: &NewProvider) -> Result<Provider, StoreError> {
        let entity_id = new.entity_id.trim();
        if entity_id.is_empty() || entity_id.len() > 1024 {
            return Err(StoreError::invalid(
                "entity ID",
                "expected 1–1024 characters",
            ));
        }
        self.write(|conn| {
            if provider_by_entity(conn, entity_id)?.is_some() {
                return Err(StoreError::Conflict("entity ID already registered".into()));
            }
            let id = random_id()?;
            let at = now();
            diesel::insert_into(providers::table)
                .values(ProviderInsert {
                    id: &id,
                    entity_id,
                    name_ja: &new.name_ja,
                    name_en: &new.name_en,
                    status: ProviderStatus::Pending.as_str(),
                    pilot_mode: new.pilot_mode,
                    local_key_scheme: new.local_key_scheme.as_str(),
                    metadata_xml: new.metadata_xml.as_deref(),
                    version: 1,
                    created_at: at,
                    updated_at: at,
                    status_changed_at: at,
                })
                .execute(conn)?;
            provider_by_id(conn, &ProviderId(id))?.ok_or(StoreError::NotFound("provider"))
        })
    }

    pub fn provider(&self, id: &ProviderId) -> Result<Option<Provider>, StoreError> {
        let mut conn = self.conn()?;
        provider_by_id(&mut conn, id)
    }

    pub fn provider_by_entity_id(&self, entity_id: &str) -> Result<Option<Provider>, StoreError> {
        let mut conn = self.conn()?;
        provider_by_entity(&mut conn, entity_id)
    }

    /// All providers, or those with `status`, by entity ID.
    pub fn providers(&self, status: Option<ProviderStatus>) -> Result<Vec<Provider>, StoreError> {
        let mut conn = self.conn()?;
        let mut query = providers::table
            .select(ProviderRow::as_select())
            .order(providers::entity_id)
            .into_boxed();
        if let Some(s) = status {
            query = query.filter(providers::status.eq(s.as_str()));
        }
        query
            .load(&mut conn)?
            .into_iter()
            .map(ProviderRow::into_model)
            .collect()
    }

    /// Approves, suspends or puts back to pending (version +1 when it changes).
    pub fn set_provider_status(
        &self,
        id: &ProviderId,
        status: ProviderStatus,
    ) -> Result<Provider, StoreError> {
        self.write(|conn| {
            let current = provider_by_id(conn, id)?.ok_or(StoreError::NotFound("provider"))?;
            if current.status != status {
                let at = now();
                diesel::update(providers::table.find(id.as_str()))
                    .set((
                        providers::status.eq(status.as_str()),
                        providers::status_changed_at.eq(at),
                        providers::updated_at.eq(at),
                        providers::version.eq(providers::version + 1),
                    ))
                    .execute(conn)?;
                tracing::info!(entity_id = %current.entity_id, from = %current.status, to = %status, "provider status changed");
            }
            provider_by_id(conn, id)?.ok_or(StoreError::NotFound("provider"))
        })
    }

    /// Replaces the registered SAML metadata (e.g. after `SvcMDReplace` or a key rollover).
    pub fn set_provider_metadata(
        &self,
        id: &ProviderId,
        metadata_xml: Option<&str>,
    ) -> Result<Provider, StoreError> {
        self.write(|conn| {
            provider_by_id(conn, id)?.ok_or(StoreError::NotFound("provider"))?;
            diesel::update(providers::table.find(id.as_str()))
                .set((
                    providers::metadata_xml.eq(metadata_xml),
                    providers::updated_at.eq(now()),
                    providers::version.eq(providers::version + 1),
                ))
                .execute(conn)?;
            provider_by_id(conn, id)?.ok_or(StoreError::NotFound("provider"))
        })
    }

    /// Adds a service (one `SvcMD`) to a provider; returns it with its new SvcMDID.
    pub fn add_provider_service(
        &self,
        provider: &ProviderId,
        new: &NewService,
    ) -> Result<ProviderService, StoreError> {
        let mechs = check_service(new)?;
        self.write(|conn| {
            provider_by_id(conn, provider)?.ok_or(StoreError::NotFound("provider"))?;
            let id = random_id()?;
            let at = now();
            diesel::insert_into(provider_services::table)
                .values(ServiceInsert {
                    svc_md_id: &id,
                    provider_id: provider.as_str(),
                    service_type: new.service_type.trim(),
                    endpoint: new.endpoint.trim(),
                    security_mechs: &mechs,
                    abstract_text: new.abstract_text.as_deref(),
                    svc_md_xml: new.svc_md_xml.as_deref(),
                    created_at: at,
                    updated_at: at,
                })
                .execute(conn)?;
            service_by_id(conn, &id)?.ok_or(StoreError::NotFound("service"))
        })
    }

    /// Replaces a service's description (`SvcMDReplace`), keeping its SvcMDID.
    pub fn replace_provider_service(
        &self,
        svc_md_id: &str,
        new: &NewService,
    ) -> Result<ProviderService, StoreError> {
        let mechs = check_service(new)?;
        self.write(|conn| {
            service_by_id(conn, svc_md_id)?.ok_or(StoreError::NotFound("service"))?;
            diesel::update(provider_services::table.find(svc_md_id))
                .set((
                    provider_services::service_type.eq(new.service_type.trim()),
                    provider_services::endpoint.eq(new.endpoint.trim()),
                    provider_services::security_mechs.eq(&mechs),
                    provider_services::abstract_text.eq(new.abstract_text.as_deref()),
                    provider_services::svc_md_xml.eq(new.svc_md_xml.as_deref()),
                    provider_services::updated_at.eq(now()),
                ))
                .execute(conn)?;
            service_by_id(conn, svc_md_id)?.ok_or(StoreError::NotFound("service"))
        })
    }

    /// Deletes a service (`SvcMDDelete`). `NotFound` if there is none with that ID.
    pub fn delete_provider_service(&self, svc_md_id: &str) -> Result<(), StoreError> {
        self.write(|conn| {
            let n = diesel::delete(provider_services::table.find(svc_md_id)).execute(conn)?;
            if n == 0 {
                return Err(StoreError::NotFound("service"));
            }
            Ok(())
        })
    }

    pub fn provider_service(&self, svc_md_id: &str) -> Result<Option<ProviderService>, StoreError> {
        let mut conn = self.conn()?;
        service_by_id(&mut conn, svc_md_id)
    }

    /// A provider's services.
    pub fn provider_services(
        &self,
        provider: &ProviderId,
    ) -> Result<Vec<ProviderService>, StoreError> {
        let mut conn = self.conn()?;
        let rows: Vec<ServiceRow> = provider_services::table
            .filter(provider_services::provider_id.eq(provider.as_str()))
            .order((
                provider_services::service_type,
                provider_services::svc_md_id,
            ))
            .select(ServiceRow::as_select())
            .load(&mut conn)?;
        Ok(rows.into_iter().map(ServiceRow::into_model).collect())
    }

    /// Services of approved providers, optionally of one service type: what a Discovery Query
    /// can return (the DS then keeps those the person is linked to and the policy allows).
    pub fn approved_services(
        &self,
        service_type: Option<&str>,
    ) -> Result<Vec<(Provider, ProviderService)>, StoreError> {
        let mut conn = self.conn()?;
        let mut query = provider_services::table
            .inner_join(providers::table)
            .filter(providers::status.eq(ProviderStatus::Approved.as_str()))
            .select((ProviderRow::as_select(), ServiceRow::as_select()))
            .order((
                providers::entity_id,
                provider_services::service_type,
                provider_services::svc_md_id,
            ))
            .into_boxed();
        if let Some(t) = service_type {
            query = query.filter(provider_services::service_type.eq(t));
        }
        let rows: Vec<(ProviderRow, ServiceRow)> = query.load(&mut conn)?;
        rows.into_iter()
            .map(|(p, s)| Ok((p.into_model()?, s.into_model())))
            .collect()
    }
}

fn service_by_id(conn: &mut DbConnection, id: &str) -> Result<Option<ProviderService>, StoreError> {
    Ok(provider_services::table
        .find(id)
        .select(ServiceRow::as_select())
        .first(conn)
        .optional()?
        .map(ServiceRow::into_model))
}
