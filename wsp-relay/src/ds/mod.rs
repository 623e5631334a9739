//! The ID-WSF 2.0 Discovery Service of the relay (idwsf-2.0.md §2, §4.4; PROFILE NBR-DS).
//!
//! [`DiscoveryService::handle`] takes the bytes of a SOAP request and answers the bytes of a
//! signed response or fault, with its HTTP status:
//!
//! 1. every check of §4.4 by [`schemas::wsf::validate_request`] (audience and SPNameQualifier =
//!    the DS, the IdP as only trusted issuer, the DS's decryption keys, known senders = approved
//!    providers and the configured WSCs, the Discovery actions) — a refusal is a signed SOAP
//!    fault (HTTP 500) and discloses nothing;
//! 2. the token's NameID is the person's pseudonym at the DS → the person (unknown: `Failed` /
//!    `NotFound`);
//! 3. `Query`: each `RequestedService` is matched against the approved services (NBR-DS-002),
//!    decided by the policy (NBR-DS-004/005: purpose and data class from the `urn:nabari:`
//!    options), kept if the person is linked to the provider (NBR-DS-003), and each match gets a
//!    fresh token minted for that WSP (NBR-DS-009/010/011) in its EPR (NBR-DS-008); every token
//!    and every refusal is appended to the access records in one transaction *before* the answer
//!    is built; the status is `OK`, `Forbidden` (everything refused) or `NoResults`;
//! 4. `SvcMDQuery` lists the sender's own services; `SvcMDAssociationQuery` the person's
//!    associations; `SvcMDAssociationAdd`/`Delete` are `Forbidden` (NBR-DS-015); `SvcMDRegister`,
//!    `Replace` and `Delete` are not served yet (`Failed`, second level `ActionNotSupported`).
//!
//! [`http`] puts it behind `POST /ds` in actix-web.

pub mod http;
pub mod keys;

use std::collections::BTreeSet;
use std::sync::Arc;

use openssl::x509::X509;
use schemas::dsig::{Signer, TrustedKey};
use schemas::idwsf::disco::{
    action, DiscoRequest, Query, QueryResponse, RequestedService, ResultsType, SvcMD,
    SvcMDAssociationAddResponse, SvcMDAssociationDeleteResponse, SvcMDAssociationQueryResponse,
    SvcMDDeleteResponse, SvcMDQueryResponse, SvcMDRegisterResponse, SvcMDReplaceResponse,
};
use schemas::idwsf::{
    code, secmech, EndpointReference, EprMetadata, Framework, IdwsfXml, SamlToken, SecurityContext,
    Status, Token, FRAMEWORK_VERSION,
};
use schemas::saml::Attribute;
use schemas::wsf::{
    build_fault, build_response, mint_token, validate_request, Confirmation, FaultResponse,
    MessageIdCache, ResponseParams, ServerContext, StaticPeers, TokenParams, TrustedIssuer,
    ValidatedRequest, WsfFault,
};
use schemas::xenc::{DecryptionKeys, Recipient};
use time::{Duration, OffsetDateTime};

use crate::records::{NewAccessRecord, Outcome};
use crate::sensitive::{PersonId, Pseudonym};
use crate::store::{Provider, ProviderService, ProviderStatus, Store};
use crate::StoreError;

pub use keys::{provider_keys, ProviderKeys, ECDSA_SHA256};

/// Option prefix naming the purpose of a RequestedService (NBR-DS-005).
pub const PURPOSE_OPTION: &str = "urn:nabari:purpose:";
/// Option prefix naming the data class of a RequestedService (NBR-DS-005).
pub const DATA_CLASS_OPTION: &str = "urn:nabari:data-class:";
/// The purpose recorded for a refused RequestedService that named none (or several).
pub const NO_PURPOSE: &str = "(none)";
/// Token attribute carrying the purpose the policy decided on (NBR-DS-011).
pub const PURPOSE_ATTRIBUTE: &str = "urn:nabari:attr:purpose";
/// Token attribute carrying the data class the policy decided on (NBR-DS-011).
pub const DATA_CLASS_ATTRIBUTE: &str = "urn:nabari:attr:data-class";

/// Every Discovery request action the DS serves.
pub const DS_ACTIONS: &[&str] = &[
    action::QUERY,
    action::SVC_MD_REGISTER,
    action::SVC_MD_QUERY,
    action::SVC_MD_REPLACE,
    action::SVC_MD_DELETE,
    action::SVC_MD_ASSOCIATION_ADD,
    action::SVC_MD_ASSOCIATION_DELETE,
    action::SVC_MD_ASSOCIATION_QUERY,
];

/// The mechanisms the DS endpoint accepts.
///
/// `TLS:X509` (no token, the message signed by the sender's metadata key) is how a WSP manages
/// its own service metadata; the other three carry the DS token of a principal.
pub const DS_MECHANISMS: &[&str] = &[
    secmech::TLS_X509,
    secmech::TLS_BEARER,
    secmech::TLS_SAMLV2,
    secmech::CLIENT_TLS_PEER_SAMLV2,
];

/// The default data class of a service type (NBR-SVC-003).
pub fn default_data_class(service_type: &str) -> Option<&'static str> {
    use schemas::idwsf::service_type as st;
    Some(match service_type {
        st::PENSION => "pension-record",
        st::HI_ELIGIBILITY => "hi-eligibility",
        st::MEDICAL_EXPENSE => "medical-expense-notice",
        st::CHECKUP => "checkup-result",
        st::PUBLIC_EXPENSE => "public-expense-eligibility",
        st::VACCINATION => "vaccination-record",
        st::CITY_NOTICE => "city-notice",
        st::ELIGIBILITY_CHECK => "eligibility-result",
        _ => return None,
    })
}

/// A WSC the DS knows besides the registered providers (the portal, the clinic application):
/// its entity ID and its metadata signing certificates.
#[derive(Clone)]
pub struct KnownWsc {
    pub entity_id: String,
    pub signing_certificates: Vec<X509>,
}

/// The DS's identity, keys and trust.
pub struct DsConfig {
    /// The DS entity ID: audience and SPNameQualifier of DS tokens, Issuer of WSP tokens. The
    /// DS must be registered in the store as a provider (its pseudonyms are the DS tokens').
    pub entity_id: String,
    /// The endpoint URL (`wsa:To`).
    pub endpoint_url: String,
    /// The IdP, the only trusted issuer of DS tokens.
    pub idp: TrustedIssuer,
    /// The DS encryption keys, newest first.
    pub decryption_keys: DecryptionKeys,
    /// Signs responses and, for WSPs without ECDSA, tokens (RSA-SHA256).
    pub rsa_signer: Arc<dyn Signer>,
    /// Signs tokens for WSPs whose metadata advertises ECDSA-SHA256.
    pub ec_signer: Option<Arc<dyn Signer>>,
    /// WSCs that are not registered providers.
    pub wscs: Vec<KnownWsc>,
    /// Life of minted tokens (default 5 minutes).
    pub token_lifetime: Duration,
    /// Accept bearer tokens without TLS (test labs only).
    pub allow_insecure_for_tests: bool,
}

/// Transport facts of one request.
#[derive(Clone, Debug, Default)]
pub struct TransportInfo {
    pub over_tls: bool,
    /// The TLS client certificate (DER), when the peer presented one.
    pub client_cert: Option<Vec<u8>>,
}

/// The answer: HTTP status and the SOAP envelope (text/xml).
#[derive(Clone, Debug)]
pub struct DsOutcome {
    pub http_status: u16,
    pub body: String,
}

/// The Discovery Service over a [`Store`].
pub struct DiscoveryService {
    store: Store,
    config: DsConfig,
    replay: Box<dyn MessageIdCache>,
}

/// A provider with the keys of its metadata.
struct KnownProvider {
    provider: Provider,
    keys: ProviderKeys,
}

/// Why the DS could not answer normally (beyond WSF faults).
#[derive(Debug, thiserror::Error)]
enum Internal {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Other(String),
}

/// One endpoint matched by a RequestedService.
struct Match<'a> {
    provider: &'a KnownProvider,
    service: &'a ProviderService,
    /// The mechanisms of the endpoint offered to this request, in the provider's order.
    mechanisms: Vec<String>,
}

impl DiscoveryService {
    pub fn new(store: Store, config: DsConfig, replay: Box<dyn MessageIdCache>) -> Self {
        DiscoveryService {
            store,
            config,
            replay,
        }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn config(&self) -> &DsConfig {
        &self.config
    }

    /// Handles one request (bytes of a SOAP envelope) at time `now`.
    pub fn handle(
        &self,
        bytes: &[u8],
        transport: &TransportInfo,
        now: OffsetDateTime,
    ) -> DsOutcome {
        let mut message_id = None;
        match self.handle_inner(bytes, transport, now, &mut message_id) {
            Ok(outcome) => outcome,
            Err(e) => {
                tracing::error!(error = %e, "discovery service failure");
                self.internal_failure(message_id.as_deref(), now)
            }
        }
    }

    /// A signed `S:Server` fault with `lu:Status code="Failed"`: nothing is disclosed when the
    /// DS cannot record or mint (a store or signing failure).
    fn internal_failure(&self, message_id: Option<&str>, now: OffsetDateTime) -> DsOutcome {
        let fault = schemas::soap::Fault::idwsf(code::FAILED, "the discovery service failed");
        let params = ResponseParams::new(message_id, &self.config.entity_id, now);
        let body = build_fault(
            &FaultResponse::new(fault),
            &params,
            Some(self.config.rsa_signer.as_ref()),
        )
        .unwrap_or_default();
        DsOutcome {
            http_status: 500,
            body,
        }
    }

    fn fault(&self, fault: &WsfFault, now: OffsetDateTime) -> Result<DsOutcome, Internal> {
        let params = ResponseParams::for_fault(fault, &self.config.entity_id, now);
        let body = build_fault(
            &FaultResponse::from(fault),
            &params,
            Some(self.config.rsa_signer.as_ref()),
        )
        .map_err(|e| Internal::Other(e.to_string()))?;
        Ok(DsOutcome {
            http_status: 500,
            body,
        })
    }

    fn respond(
        &self,
        req: &ValidatedRequest,
        body_xml: &str,
        now: OffsetDateTime,
    ) -> Result<DsOutcome, Internal> {
        let params = ResponseParams::for_request(req, &self.config.entity_id, now);
        let body = build_response(&params, body_xml, Some(self.config.rsa_signer.as_ref()))
            .map_err(|e| Internal::Other(e.to_string()))?;
        Ok(DsOutcome {
            http_status: 200,
            body,
        })
    }

    /// Approved providers with their metadata keys.
    fn approved_providers(&self) -> Result<Vec<KnownProvider>, Internal> {
        Ok(self
            .store
            .providers(Some(ProviderStatus::Approved))?
            .into_iter()
            .map(|provider| {
                let keys = provider
                    .metadata_xml
                    .as_deref()
                    .map(provider_keys)
                    .unwrap_or_default();
                KnownProvider { provider, keys }
            })
            .collect())
    }

    fn handle_inner(
        &self,
        bytes: &[u8],
        transport: &TransportInfo,
        now: OffsetDateTime,
        message_id: &mut Option<String>,
    ) -> Result<DsOutcome, Internal> {
        let providers = self.approved_providers()?;
        let mut peers = StaticPeers::new();
        for p in &providers {
            let keys = p
                .keys
                .signing
                .iter()
                .filter_map(|der| TrustedKey::from_certificate_der(der).ok())
                .collect();
            peers.insert(p.provider.entity_id.clone(), keys);
        }
        for w in &self.config.wscs {
            let keys = w
                .signing_certificates
                .iter()
                .filter_map(|c| TrustedKey::from_certificate(c).ok())
                .collect();
            peers.insert(w.entity_id.clone(), keys);
        }
        let issuers = [self.config.idp.clone()];
        let mut ctx = ServerContext::new(
            &self.config.entity_id,
            &self.config.endpoint_url,
            &peers,
            &issuers,
            now,
        );
        ctx.allowed_actions = DS_ACTIONS;
        ctx.accepted_mechanisms = DS_MECHANISMS;
        ctx.decryption_keys = Some(&self.config.decryption_keys);
        ctx.over_tls = transport.over_tls;
        ctx.tls_client_certificate = transport.client_cert.as_deref();
        ctx.allow_insecure_for_tests = self.config.allow_insecure_for_tests;

        let req = match validate_request(bytes, &ctx, self.replay.as_ref()) {
            Ok(r) => r,
            Err(fault) => {
                tracing::info!(fault = %fault.kind, "discovery request refused");
                return self.fault(&fault, now);
            }
        };
        *message_id = Some(req.message_id.clone());
        let message = match DiscoRequest::from_element(req.payload()) {
            Ok(m) if m.action() == req.action => m,
            Ok(_) | Err(_) => {
                // The Body does not hold the message the Action names.
                let status = Status::with_detail(code::FAILED, code::ID_STAR_MSG_NOT_UNDERSTOOD);
                let body = QueryResponse {
                    status,
                    endpoint_references: vec![],
                }
                .to_xml();
                return self.respond(&req, &body, now);
            }
        };
        let body = match message {
            DiscoRequest::Query(q) => self.query(&req, &q, &providers, transport, now)?,
            DiscoRequest::SvcMDQuery(q) => self.svc_md_query(&req, &q.svc_md_ids, &providers)?,
            DiscoRequest::SvcMDAssociationQuery(q) => {
                self.association_query(&req, &q.svc_md_ids, &providers)?
            }
            DiscoRequest::SvcMDAssociationAdd(_) => SvcMDAssociationAddResponse {
                status: Status::new(code::FORBIDDEN),
            }
            .to_xml(),
            DiscoRequest::SvcMDAssociationDelete(_) => SvcMDAssociationDeleteResponse {
                status: Status::new(code::FORBIDDEN),
            }
            .to_xml(),
            DiscoRequest::SvcMDRegister(_) => SvcMDRegisterResponse {
                status: not_served(),
                svc_md_ids: vec![],
                keys: vec![],
            }
            .to_xml(),
            DiscoRequest::SvcMDReplace(_) => SvcMDReplaceResponse {
                status: not_served(),
            }
            .to_xml(),
            DiscoRequest::SvcMDDelete(d) => self.svc_md_delete(&req, &d.svc_md_ids, &providers)?,
        };
        self.respond(&req, &body, now)
    }

    /// The person the request's token is about, via the DS pseudonym.
    fn person(&self, req: &ValidatedRequest) -> Result<Option<PersonId>, Internal> {
        let Some(name_id) = req.name_id() else {
            return Ok(None);
        };
        let Some(ds) = self.store.provider_by_entity_id(&self.config.entity_id)? else {
            return Err(Internal::Other(
                "the DS is not registered as a provider in the store".into(),
            ));
        };
        let Ok(pseudonym) = Pseudonym::parse(&name_id.value) else {
            return Ok(None);
        };
        Ok(self.store.person_for_pseudonym(&ds.id, &pseudonym)?)
    }

    fn query(
        &self,
        req: &ValidatedRequest,
        query: &Query,
        providers: &[KnownProvider],
        transport: &TransportInfo,
        now: OffsetDateTime,
    ) -> Result<String, Internal> {
        let Some(person) = self.person(req)? else {
            return Ok(QueryResponse {
                status: Status::with_detail(code::FAILED, code::NOT_FOUND),
                endpoint_references: vec![],
            }
            .to_xml());
        };
        let token = req
            .token
            .as_ref()
            .ok_or_else(|| Internal::Other("validated Query without token".into()))?;
        let authn_class = token.authn_context_class.clone().unwrap_or_default();
        let authn_instant = token.authn_instant.unwrap_or(token.assertion.issue_instant);

        // Every approved service, with what its SvcMD offers.
        let mut services: Vec<(&KnownProvider, ProviderService)> = Vec::new();
        for (p, s) in self.store.approved_services(None)? {
            if let Some(kp) = providers.iter().find(|k| k.provider.id == p.id) {
                services.push((kp, s));
            }
        }

        // A Query without RequestedService asks for everything, without a purpose: refused by
        // policy (NBR-DS-005).
        let requested: Vec<RequestedService> = if query.requested_services.is_empty() {
            vec![RequestedService {
                service_types: vec![],
                provider_ids: vec![],
                options: vec![],
                security_mech_ids: vec![],
                frameworks: vec![],
                actions: vec![],
                extensions: vec![],
                req_id: None,
                results_type: None,
            }]
        } else {
            query.requested_services.clone()
        };

        let mut records: Vec<NewAccessRecord> = Vec::new();
        let mut eprs: Vec<EndpointReference> = Vec::new();
        let mut refused_refs: Vec<Option<String>> = Vec::new();
        let mut refused_any = false;

        for rs in &requested {
            let options: Vec<&str> = rs
                .options
                .iter()
                .flat_map(|o| o.options.iter().map(String::as_str))
                .collect();
            let purposes: Vec<&str> = options
                .iter()
                .filter_map(|o| o.strip_prefix(PURPOSE_OPTION))
                .collect();
            let data_classes: Vec<&str> = options
                .iter()
                .filter_map(|o| o.strip_prefix(DATA_CLASS_OPTION))
                .collect();
            let service_options: Vec<&str> = options
                .iter()
                .copied()
                .filter(|o| !o.starts_with(PURPOSE_OPTION) && !o.starts_with(DATA_CLASS_OPTION))
                .collect();

            let matches: Vec<Match<'_>> = services
                .iter()
                .filter_map(|(kp, s)| match_service(rs, &service_options, kp, s))
                .collect();
            if matches.is_empty() {
                continue;
            }
            let purpose = if purposes.len() == 1 {
                Some(purposes[0])
            } else {
                None
            };
            let mut allowed: Vec<(&Match<'_>, String)> = Vec::new();
            let mut refused_here = false;
            // Decide once per service type among the matches.
            let types: BTreeSet<&str> = matches
                .iter()
                .map(|m| m.service.service_type.as_str())
                .collect();
            for st in types {
                let data_class = match data_classes.as_slice() {
                    [] => default_data_class(st).map(str::to_string),
                    [one] => Some(one.to_string()),
                    _ => None,
                };
                let decision = match (purpose, data_class.as_deref()) {
                    (Some(p), Some(dc)) => {
                        self.store.decide(&req.sender, p, st, dc, &authn_class)?
                    }
                    _ => crate::Decision::Deny(crate::DenyReason::NoRule),
                };
                let of_type = matches.iter().filter(|m| m.service.service_type == st);
                if let crate::Decision::Deny(reason) = decision {
                    refused_here = true;
                    records.push(NewAccessRecord {
                        requester: req.sender.clone(),
                        purpose: purpose.unwrap_or(NO_PURPOSE).to_string(),
                        provider: None,
                        service_type: Some(st.to_string()),
                        data_class: data_class.clone(),
                        person: person.clone(),
                        outcome: Outcome::Refused,
                        detail: Some(
                            if purpose.is_none() {
                                "no-purpose"
                            } else {
                                reason.code()
                            }
                            .to_string(),
                        ),
                    });
                } else {
                    let dc = data_class.clone().unwrap_or_default();
                    allowed.extend(of_type.map(|m| (m, dc.clone())));
                }
            }
            if refused_here {
                refused_any = true;
                refused_refs.push(rs.req_id.clone());
            }
            // Only providers the person is linked to (NBR-DS-003).
            let mut linked = Vec::new();
            for (m, dc) in allowed {
                if let Some(link) = self.store.link(&person, &m.provider.provider.id)? {
                    if link.valid_to.is_none_or(|t| t > now.unix_timestamp()) {
                        linked.push((m, dc, link.pseudonym));
                    }
                }
            }
            let keep = match rs.results_type {
                Some(ResultsType::Best) | Some(ResultsType::OnlyOne) => 1,
                _ => usize::MAX,
            };
            for (m, dc, pseudonym) in linked.into_iter().take(keep) {
                let purpose = purpose.unwrap_or("");
                let epr = self.mint_epr(
                    req,
                    m,
                    &pseudonym,
                    purpose,
                    &dc,
                    authn_instant,
                    &authn_class,
                    transport,
                    now,
                )?;
                let Some((epr, assertion_id)) = epr else {
                    continue;
                };
                records.push(NewAccessRecord {
                    requester: req.sender.clone(),
                    purpose: purpose.to_string(),
                    provider: Some(m.provider.provider.entity_id.clone()),
                    service_type: Some(m.service.service_type.clone()),
                    data_class: Some(dc.clone()),
                    person: person.clone(),
                    outcome: Outcome::Issued,
                    detail: Some(assertion_id),
                });
                eprs.push(epr);
            }
        }

        // Nothing is disclosed unless it is recorded first.
        if !records.is_empty() {
            self.store.append_access_records(&records)?;
        }
        let status = if !eprs.is_empty() {
            let mut s = Status::ok();
            for r in refused_refs {
                let mut d = Status::new(code::FORBIDDEN);
                d.reference = r;
                s.details.push(d);
            }
            s
        } else if refused_any {
            Status::new(code::FORBIDDEN)
        } else {
            Status::new(code::NO_RESULTS)
        };
        Ok(QueryResponse {
            status,
            endpoint_references: eprs,
        }
        .to_xml())
    }

    /// Mints the token of one matched endpoint and builds its EPR; `None` when the provider's
    /// metadata gives no usable encryption key or no mechanism can be served.
    #[allow(clippy::too_many_arguments)]
    fn mint_epr(
        &self,
        req: &ValidatedRequest,
        m: &Match<'_>,
        pseudonym: &Pseudonym,
        purpose: &str,
        data_class: &str,
        authn_instant: OffsetDateTime,
        authn_class: &str,
        transport: &TransportInfo,
        now: OffsetDateTime,
    ) -> Result<Option<(EndpointReference, String)>, Internal> {
        let wsp = &m.provider;
        let Some(recipient) = wsp
            .keys
            .encryption
            .iter()
            .find_map(|der| Recipient::from_certificate_der(der).ok())
        else {
            tracing::warn!(provider = %wsp.provider.entity_id, "no encryption key in metadata");
            return Ok(None);
        };
        let signer: &dyn Signer = match (&self.config.ec_signer, wsp.keys.ecdsa_sha256) {
            (Some(ec), true) => ec.as_ref(),
            _ => self.config.rsa_signer.as_ref(),
        };
        // The first offered mechanism the DS can confirm for this WSC.
        let mut chosen = None;
        for mech in &m.mechanisms {
            let confirmation = match mech.as_str() {
                secmech::TLS_BEARER => Some(Confirmation::Bearer),
                secmech::TLS_SAMLV2 => self
                    .wsc_signing_certificate(&req.sender)
                    .map(|certificate_der| Confirmation::HolderOfKey { certificate_der }),
                secmech::CLIENT_TLS_PEER_SAMLV2 => transport
                    .client_cert
                    .clone()
                    .map(|certificate_der| Confirmation::HolderOfKey { certificate_der }),
                _ => None,
            };
            if let Some(c) = confirmation {
                chosen = Some((mech.clone(), c));
                break;
            }
        }
        let Some((mech, confirmation)) = chosen else {
            return Ok(None);
        };
        let mut params = TokenParams::new(
            &self.config.entity_id,
            &wsp.provider.entity_id,
            pseudonym.expose(),
            authn_instant,
            authn_class,
            confirmation,
            now,
        );
        params.not_on_or_after = params.not_before + self.config.token_lifetime;
        params.presenter = Some(&req.sender);
        params.attributes = vec![
            Attribute::uri(PURPOSE_ATTRIBUTE, &[purpose]),
            Attribute::uri(DATA_CLASS_ATTRIBUTE, &[data_class]),
        ];
        let assertion_id = params.assertion_id.clone();
        let token: SamlToken = mint_token(&params, signer, Some(&recipient))
            .map_err(|e| Internal::Other(format!("minting a token: {e}")))?;
        let epr = EndpointReference {
            id: None,
            address: m.service.endpoint.clone(),
            reference_parameters: vec![],
            metadata: Some(EprMetadata {
                abstract_text: Some(
                    m.service
                        .abstract_text
                        .clone()
                        .unwrap_or_else(|| wsp.provider.name_en.clone()),
                ),
                provider_id: Some(wsp.provider.entity_id.clone()),
                service_types: vec![m.service.service_type.clone()],
                frameworks: vec![Framework::v2()],
                security_contexts: vec![SecurityContext {
                    security_mech_ids: vec![mech],
                    tokens: vec![Token::security_token(token)],
                }],
                extensions: vec![],
            }),
            extensions: vec![],
        };
        Ok(Some((epr, assertion_id)))
    }

    /// The first metadata signing certificate of a WSC (holder-of-key confirmation).
    fn wsc_signing_certificate(&self, entity_id: &str) -> Option<Vec<u8>> {
        if let Some(w) = self.config.wscs.iter().find(|w| w.entity_id == entity_id) {
            return w.signing_certificates.first().and_then(|c| c.to_der().ok());
        }
        let p = self.store.provider_by_entity_id(entity_id).ok()??;
        provider_keys(p.metadata_xml.as_deref()?)
            .signing
            .into_iter()
            .next()
    }

    /// `SvcMDQuery`: the sender's own services (all, or those named).
    fn svc_md_query(
        &self,
        req: &ValidatedRequest,
        ids: &[String],
        providers: &[KnownProvider],
    ) -> Result<String, Internal> {
        let own = providers
            .iter()
            .find(|p| p.provider.entity_id == req.sender);
        // Only a provider, authenticated by its own message signature, sees its metadata.
        let Some(own) = own.filter(|_| req.mechanism == secmech::TLS_X509 && req.signed) else {
            return Ok(SvcMDQueryResponse {
                status: Status::new(code::FORBIDDEN),
                svc_mds: vec![],
            }
            .to_xml());
        };
        let services = self.store.provider_services(&own.provider.id)?;
        let mut out = Vec::new();
        for id in ids {
            if !services.iter().any(|s| &s.svc_md_id == id) {
                return Ok(SvcMDQueryResponse {
                    status: Status::new(code::NOT_FOUND),
                    svc_mds: vec![],
                }
                .to_xml());
            }
        }
        for s in services {
            if ids.is_empty() || ids.contains(&s.svc_md_id) {
                out.push(svc_md_of(&own.provider, &s));
            }
        }
        Ok(SvcMDQueryResponse {
            status: Status::ok(),
            svc_mds: out,
        }
        .to_xml())
    }

    /// `SvcMDDelete`: removes the sender's own services (all named IDs must be its own, else
    /// `NotFound` and nothing is deleted).
    fn svc_md_delete(
        &self,
        req: &ValidatedRequest,
        ids: &[String],
        providers: &[KnownProvider],
    ) -> Result<String, Internal> {
        let own = providers
            .iter()
            .find(|p| p.provider.entity_id == req.sender)
            .filter(|_| req.mechanism == secmech::TLS_X509 && req.signed);
        let status = match own {
            None => Status::new(code::FORBIDDEN),
            Some(own) => {
                let services = self.store.provider_services(&own.provider.id)?;
                if ids
                    .iter()
                    .all(|id| services.iter().any(|s| &s.svc_md_id == id))
                {
                    for id in ids {
                        self.store.delete_provider_service(id)?;
                    }
                    Status::ok()
                } else {
                    Status::new(code::NOT_FOUND)
                }
            }
        };
        Ok(SvcMDDeleteResponse { status }.to_xml())
    }

    /// `SvcMDAssociationQuery`: the svcMDIDs of the approved services the person is linked to.
    fn association_query(
        &self,
        req: &ValidatedRequest,
        ids: &[String],
        providers: &[KnownProvider],
    ) -> Result<String, Internal> {
        let Some(person) = self.person(req)? else {
            return Ok(SvcMDAssociationQueryResponse {
                status: Status::with_detail(code::FAILED, code::NOT_FOUND),
                svc_md_ids: vec![],
            }
            .to_xml());
        };
        let mut out = Vec::new();
        for link in self.store.links_of(&person)? {
            if !providers.iter().any(|p| p.provider.id == link.provider)
                || self
                    .store
                    .provider_by_entity_id(&self.config.entity_id)?
                    .is_some_and(|ds| ds.id == link.provider)
            {
                continue;
            }
            for s in self.store.provider_services(&link.provider)? {
                if ids.is_empty() || ids.contains(&s.svc_md_id) {
                    out.push(s.svc_md_id);
                }
            }
        }
        Ok(SvcMDAssociationQueryResponse {
            status: Status::ok(),
            svc_md_ids: out,
        }
        .to_xml())
    }
}

fn not_served() -> Status {
    Status::with_detail(code::FAILED, schemas::wsf::code::ACTION_NOT_SUPPORTED)
}

/// The registered SvcMD of a service, or one made from its columns.
fn svc_md_of(provider: &Provider, s: &ProviderService) -> SvcMD {
    if let Some(mut md) = s.svc_md_xml.as_deref().and_then(parse_svc_md) {
        md.svc_md_id = Some(s.svc_md_id.clone());
        return md;
    }
    SvcMD {
        svc_md_id: Some(s.svc_md_id.clone()),
        abstract_text: s
            .abstract_text
            .clone()
            .unwrap_or_else(|| provider.name_en.clone()),
        provider_id: provider.entity_id.clone(),
        service_contexts: vec![schemas::idwsf::disco::ServiceContext {
            service_types: vec![s.service_type.clone()],
            options: vec![],
            endpoint_contexts: vec![schemas::idwsf::disco::EndpointContext {
                addresses: vec![s.endpoint.clone()],
                frameworks: vec![Framework::v2()],
                security_mech_ids: s.security_mechs.clone(),
                actions: vec![],
            }],
        }],
    }
}

fn parse_svc_md(xml: &str) -> Option<SvcMD> {
    let doc = schemas::xml::parse(xml.as_bytes()).ok()?;
    SvcMD::from_element(doc.root()).ok()
}

/// Whether a service endpoint matches a RequestedService (NBR-DS-002); the mechanisms offered.
fn match_service<'a>(
    rs: &RequestedService,
    service_options: &[&str],
    kp: &'a KnownProvider,
    s: &'a ProviderService,
) -> Option<Match<'a>> {
    if !rs.service_types.is_empty() && !rs.service_types.iter().any(|t| t == &s.service_type) {
        return None;
    }
    if !rs.provider_ids.is_empty() && !rs.provider_ids.contains(&kp.provider.entity_id) {
        return None;
    }
    // What the registered SvcMD says beyond the columns.
    let md = s.svc_md_xml.as_deref().and_then(parse_svc_md);
    let (offered_options, frameworks, actions): (Vec<String>, Vec<String>, Vec<String>) = match &md
    {
        Some(md) => {
            let ctxs = md
                .service_contexts
                .iter()
                .filter(|c| c.service_types.contains(&s.service_type));
            let mut o = Vec::new();
            let mut f = Vec::new();
            let mut a = Vec::new();
            for c in ctxs {
                o.extend(c.options.iter().flat_map(|x| x.options.iter().cloned()));
                for e in &c.endpoint_contexts {
                    f.extend(e.frameworks.iter().map(|x| x.version.clone()));
                    a.extend(e.actions.iter().cloned());
                }
            }
            if f.is_empty() {
                f.push(FRAMEWORK_VERSION.to_string());
            }
            (o, f, a)
        }
        None => (vec![], vec![FRAMEWORK_VERSION.to_string()], vec![]),
    };
    if !service_options
        .iter()
        .all(|o| offered_options.iter().any(|x| x == o))
    {
        return None;
    }
    let fw_ok = if rs.frameworks.is_empty() {
        frameworks.iter().any(|v| v == FRAMEWORK_VERSION)
    } else {
        rs.frameworks
            .iter()
            .any(|f| frameworks.contains(&f.version))
    };
    if !fw_ok {
        return None;
    }
    if !rs.actions.is_empty()
        && !actions.is_empty()
        && !rs.actions.iter().any(|a| actions.contains(a))
    {
        return None;
    }
    let mechanisms: Vec<String> = s
        .security_mechs
        .iter()
        .filter(|m| rs.security_mech_ids.is_empty() || rs.security_mech_ids.contains(m))
        .cloned()
        .collect();
    if mechanisms.is_empty() {
        return None;
    }
    Some(Match {
        provider: kp,
        service: s,
        mechanisms,
    })
}
