//! The IdP's TOML configuration (`idp.example.toml` is the commented reference).
//!
//! Every path is relative to the configuration file's folder. With `pki_dir` pointing at the
//! test PKI (`certs/out`), everything left out is taken from its manifest: the IdP's signing keys
//! (both generations), the relay's metadata-signing certificates as federation trust anchors, the
//! JPKI roots and their CRLs, the Discovery Service's entity ID. The defaults run on
//! `127.0.0.1`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Why a configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("reading {path}: {message}")]
    Read { path: PathBuf, message: String },
    #[error("configuration: {0}")]
    Toml(String),
    #[error("configuration: {0}")]
    Invalid(String),
}

fn invalid(m: impl Into<String>) -> ConfigError {
    ConfigError::Invalid(m.into())
}

/// The whole configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// This IdP's SAML entity ID.
    #[serde(default = "default_entity_id")]
    pub entity_id: String,
    /// Public base URL (scheme, host, port; no trailing slash): endpoints are `<base_url>/sso`,
    /// `/login`, `/artifact`, `/slo`, `/metadata`. Must be `https://` or `http://127.0.0.1`.
    #[serde(default = "default_base_url")]
    pub base_url: String,
    /// Listen address.
    #[serde(default = "default_bind")]
    pub bind: String,
    /// The test PKI (`certs/out`): fills in what is left out (see the module documentation).
    #[serde(default)]
    pub pki_dir: Option<PathBuf>,
    /// Where the IdP keeps its generated secrets and the registry of issued persistent
    /// identifiers (default `idp-state` next to the configuration).
    #[serde(default)]
    pub state_dir: Option<PathBuf>,
    #[serde(default)]
    pub keys: KeysConfig,
    #[serde(default)]
    pub metadata: MetadataConfig,
    #[serde(default)]
    pub jpki: JpkiConfig,
    #[serde(default)]
    pub relay: RelayConfig,
    #[serde(default)]
    pub discovery: DiscoveryConfig,
    #[serde(default)]
    pub agent: AgentOriginConfig,
    #[serde(default)]
    pub session: SessionConfig,
    #[serde(default)]
    pub rate_limits: RateLimitConfig,
    #[serde(default)]
    pub assertion: AssertionConfig,
    #[serde(default)]
    pub secrets: SecretsConfig,
    #[serde(default)]
    pub slo: SloConfig,
    /// Per-SP settings (display names, purposes, IdP-initiated SSO, PIN-less clinic use, DS
    /// token confirmation). An SP of the metadata without an entry gets the defaults.
    #[serde(default, rename = "sp")]
    pub sps: Vec<SpConfig>,
}

fn default_entity_id() -> String {
    "https://idp.nabari.test/idp".into()
}
fn default_base_url() -> String {
    "http://127.0.0.1:8443".into()
}
fn default_bind() -> String {
    "127.0.0.1:8443".into()
}

/// One signing key (a generation).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SigningKeyConfig {
    /// The certificate (PEM) published in the metadata.
    pub cert_pem: PathBuf,
    /// The private key (PEM). Absent for a key on a PKCS#11 token or a key that is only
    /// published (the next generation before a rollover).
    #[serde(default)]
    pub key_pem: Option<PathBuf>,
    /// PKCS#11 token holding the key (HSM, SoftHSM2).
    #[serde(default)]
    pub pkcs11_module: Option<PathBuf>,
    #[serde(default)]
    pub token_label: Option<String>,
    /// CKA_ID of the private key (hex).
    #[serde(default)]
    pub key_id: Option<String>,
    /// Name of the environment variable holding the token's user PIN.
    #[serde(default)]
    pub pin_env: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeysConfig {
    /// Signing keys, each generation once; all are published (rollover: old and new).
    #[serde(default)]
    pub signing: Vec<SigningKeyConfig>,
    /// Index into `signing` of the key that signs (default 0).
    #[serde(default)]
    pub active: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetadataConfig {
    /// The signed federation aggregate: a file path or an `http://` URL.
    #[serde(default)]
    pub aggregate: Option<String>,
    /// Certificates (PEM) of the federation metadata signers.
    #[serde(default)]
    pub trust_anchors: Vec<PathBuf>,
    /// Refresh interval of the aggregate (default 3600 s; the profile asks for at most 6 h).
    #[serde(default = "default_refresh")]
    pub refresh_secs: u64,
    /// Largest accepted distance of the aggregate's validUntil (days, default 14).
    #[serde(default = "default_max_validity_days")]
    pub max_validity_days: i64,
    /// validUntil of the IdP's own metadata (days after it is produced, default 7).
    #[serde(default = "default_valid_days")]
    pub valid_days: i64,
    /// `WantAuthnRequestsSigned` in the IdP's own metadata (default true).
    #[serde(default = "yes")]
    pub want_authn_requests_signed: bool,
}

impl Default for MetadataConfig {
    fn default() -> Self {
        MetadataConfig {
            aggregate: None,
            trust_anchors: Vec::new(),
            refresh_secs: default_refresh(),
            max_validity_days: default_max_validity_days(),
            valid_days: default_valid_days(),
            want_authn_requests_signed: true,
        }
    }
}

fn default_refresh() -> u64 {
    3600
}
fn default_max_validity_days() -> i64 {
    14
}
fn default_valid_days() -> i64 {
    7
}
fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JpkiConfig {
    /// Roots of the user-authentication certificates (PEM), every generation in use.
    #[serde(default)]
    pub auth_roots: Vec<PathBuf>,
    /// Roots of the signature certificates (PEM).
    #[serde(default)]
    pub sign_roots: Vec<PathBuf>,
    /// CRL sources: files, folders, or `http://` URLs.
    #[serde(default)]
    pub crls: Vec<String>,
    /// CRL refresh interval (default 3600 s).
    #[serde(default = "default_refresh")]
    pub crl_refresh_secs: u64,
    /// Life of an access application text (default 300 s).
    #[serde(default = "default_challenge_lifetime")]
    pub challenge_lifetime_secs: i64,
    /// Extra certificatePolicies OIDs accepted for signature certificates (J-LIS test cards).
    #[serde(default)]
    pub extra_signature_policies: Vec<String>,
}

impl Default for JpkiConfig {
    fn default() -> Self {
        JpkiConfig {
            auth_roots: Vec::new(),
            sign_roots: Vec::new(),
            crls: Vec::new(),
            crl_refresh_secs: default_refresh(),
            challenge_lifetime_secs: default_challenge_lifetime(),
            extra_signature_policies: Vec::new(),
        }
    }
}

fn default_challenge_lifetime() -> i64 {
    300
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RelayConfig {
    /// The relay database (`sqlite://…` or `postgres://…`), read for certificate → person and
    /// the person's pseudonym at the Discovery Service.
    #[serde(default)]
    pub database_url: Option<String>,
    /// Connections in the pool (default 4).
    #[serde(default)]
    pub pool_size: Option<u32>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiscoveryConfig {
    /// The Discovery Service's entity ID (its ProviderID, the DS token's audience). Default: the
    /// relay of the test PKI.
    #[serde(default)]
    pub entity_id: Option<String>,
    /// The DS SOAP endpoint (`wsa:Address` of the bootstrap EPR).
    #[serde(default)]
    pub endpoint: Option<String>,
    /// `disco:Abstract`.
    #[serde(default = "default_abstract")]
    pub abstract_text: String,
    /// Certificate (PEM) to encrypt the DS token to; default: the DS's encryption key in the
    /// federation metadata.
    #[serde(default)]
    pub encryption_cert_pem: Option<PathBuf>,
    /// Life of the DS token (default 300 s).
    #[serde(default = "default_token_lifetime")]
    pub token_lifetime_secs: i64,
}

impl Default for DiscoveryConfig {
    fn default() -> Self {
        DiscoveryConfig {
            entity_id: None,
            endpoint: None,
            abstract_text: default_abstract(),
            encryption_cert_pem: None,
            token_lifetime_secs: default_token_lifetime(),
        }
    }
}

fn default_abstract() -> String {
    "Nabari relay: discovery of your records".into()
}
fn default_token_lifetime() -> i64 {
    300
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentOriginConfig {
    /// Origin of the local card agent the login page calls (`http://127.0.0.1:7443`).
    #[serde(default = "default_agent_origin")]
    pub origin: String,
}

impl Default for AgentOriginConfig {
    fn default() -> Self {
        AgentOriginConfig {
            origin: default_agent_origin(),
        }
    }
}

fn default_agent_origin() -> String {
    "http://127.0.0.1:7443".into()
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionConfig {
    /// Life of the IdP session after the card login (default 8 h).
    #[serde(default = "default_session")]
    pub lifetime_secs: i64,
    /// Idle limit of a session without a login (a pending request), default 15 min.
    #[serde(default = "default_anonymous")]
    pub anonymous_lifetime_secs: i64,
    /// Name of the session cookie (must start with `__Host-`).
    #[serde(default = "default_cookie")]
    pub cookie_name: String,
    /// Most sessions held (fail closed beyond).
    #[serde(default = "default_max_sessions")]
    pub max_sessions: usize,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            lifetime_secs: default_session(),
            anonymous_lifetime_secs: default_anonymous(),
            cookie_name: default_cookie(),
            max_sessions: default_max_sessions(),
        }
    }
}

fn default_session() -> i64 {
    8 * 3600
}
fn default_anonymous() -> i64 {
    900
}
fn default_cookie() -> String {
    "__Host-nabari-idp".into()
}
fn default_max_sessions() -> usize {
    200_000
}

/// A token bucket: `burst` requests at once, refilled at `per_minute`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Bucket {
    pub burst: u32,
    pub per_minute: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitConfig {
    /// Login attempts (`POST /login`, `/login/pinless`) per client IP.
    #[serde(default = "default_login_ip")]
    pub login_per_ip: Bucket,
    /// Login attempts per certificate.
    #[serde(default = "default_login_cert")]
    pub login_per_certificate: Bucket,
    /// Requests to `/sso`, `/start` and `/login` pages per client IP.
    #[serde(default = "default_sso_ip")]
    pub sso_per_ip: Bucket,
    /// Take the client IP from `X-Forwarded-For` (only behind a trusted reverse proxy).
    #[serde(default)]
    pub trust_forwarded_for: bool,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        RateLimitConfig {
            login_per_ip: default_login_ip(),
            login_per_certificate: default_login_cert(),
            sso_per_ip: default_sso_ip(),
            trust_forwarded_for: false,
        }
    }
}

fn default_login_ip() -> Bucket {
    Bucket {
        burst: 20,
        per_minute: 20,
    }
}
fn default_login_cert() -> Bucket {
    Bucket {
        burst: 5,
        per_minute: 5,
    }
}
fn default_sso_ip() -> Bucket {
    Bucket {
        burst: 120,
        per_minute: 240,
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssertionConfig {
    /// `Conditions/@NotOnOrAfter` − now (default 300 s).
    #[serde(default = "default_assertion_lifetime")]
    pub lifetime_secs: i64,
    /// Bearer confirmation life (default 300 s).
    #[serde(default = "default_assertion_lifetime")]
    pub confirmation_secs: i64,
    /// Artifacts live this long (default 60 s) and resolve once.
    #[serde(default = "default_artifact")]
    pub artifact_lifetime_secs: i64,
}

impl Default for AssertionConfig {
    fn default() -> Self {
        AssertionConfig {
            lifetime_secs: default_assertion_lifetime(),
            confirmation_secs: default_assertion_lifetime(),
            artifact_lifetime_secs: default_artifact(),
        }
    }
}

fn default_assertion_lifetime() -> i64 {
    300
}
fn default_artifact() -> i64 {
    60
}

/// Secrets: hex in the file (64+ hex digits). Absent files are created with 32 random bytes
/// (mode 0600) in the state folder, so that pairwise identifiers survive restarts.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretsConfig {
    /// Key of the pairwise persistent NameIDs. Changing it changes every resident's NameID at
    /// every SP.
    #[serde(default)]
    pub pairwise_secret_file: Option<PathBuf>,
    /// Key of the access application texts' HMAC (shared by every node of one IdP).
    #[serde(default)]
    pub challenge_secret_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SloConfig {
    /// Publish and answer Single Logout (default true).
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Timeout of one back-channel (SOAP) LogoutRequest (default 5 s).
    #[serde(default = "default_soap_timeout")]
    pub soap_timeout_secs: u64,
}

impl Default for SloConfig {
    fn default() -> Self {
        SloConfig {
            enabled: true,
            soap_timeout_secs: default_soap_timeout(),
        }
    }
}

fn default_soap_timeout() -> u64 {
    5
}

/// How the DS token in the bootstrap EPR is confirmed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum DsConfirmation {
    /// `urn:liberty:security:2005-02:TLS:Bearer`.
    #[default]
    Bearer,
    /// `urn:liberty:security:2006-08:TLS:SAMLV2`, to the SP's metadata signing certificate.
    HolderOfKey,
}

/// Settings of one SP.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpConfig {
    pub entity_id: String,
    /// Names shown on the login page and in the access application text (default: the
    /// metadata's Organization display names, else the entity ID).
    #[serde(default)]
    pub name_ja: Option<String>,
    #[serde(default)]
    pub name_en: Option<String>,
    #[serde(default)]
    pub purpose_ja: Option<String>,
    #[serde(default)]
    pub purpose_en: Option<String>,
    /// Allow `GET /start?sp=<entity>` (IdP-initiated SSO) for this SP (default false).
    #[serde(default)]
    pub allow_idp_initiated: bool,
    /// A clinic SP whose requests may use the PIN-less staff-attested path (default false).
    #[serde(default)]
    pub pinless: bool,
    /// Put the DiscoveryEPR bootstrap into this SP's assertions (default true).
    #[serde(default = "yes")]
    pub discovery_bootstrap: bool,
    /// Confirmation of the DS token (default bearer).
    #[serde(default)]
    pub ds_confirmation: DsConfirmation,
}

impl SpConfig {
    pub fn new(entity_id: impl Into<String>) -> Self {
        SpConfig {
            entity_id: entity_id.into(),
            name_ja: None,
            name_en: None,
            purpose_ja: None,
            purpose_en: None,
            allow_idp_initiated: false,
            pinless: false,
            discovery_bootstrap: true,
            ds_confirmation: DsConfirmation::Bearer,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        toml::from_str("").expect("an empty configuration takes every default")
    }
}

impl Config {
    /// Parses TOML; relative paths are resolved against `base`.
    pub fn from_toml(text: &str, base: Option<&Path>) -> Result<Config, ConfigError> {
        let mut c: Config =
            toml::from_str(text).map_err(|e| ConfigError::Toml(e.message().to_string()))?;
        if let Some(base) = base {
            c.resolve_paths(base);
        }
        Ok(c)
    }

    /// Reads a configuration file (relative paths against its folder), fills the test-PKI
    /// defaults and validates.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        let base = path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        let mut c = Config::from_toml(&text, Some(&base))?;
        if c.state_dir.is_none() {
            c.state_dir = Some(base.join("idp-state"));
        }
        c.fill_from_pki()?;
        c.validate()?;
        Ok(c)
    }

    fn resolve_paths(&mut self, base: &Path) {
        let fix = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        if let Some(p) = &mut self.pki_dir {
            fix(p);
        }
        if let Some(p) = &mut self.state_dir {
            fix(p);
        }
        for k in &mut self.keys.signing {
            fix(&mut k.cert_pem);
            if let Some(p) = &mut k.key_pem {
                fix(p);
            }
        }
        if let Some(a) = &mut self.metadata.aggregate {
            if !a.contains("://") {
                let mut p = PathBuf::from(&*a);
                fix(&mut p);
                *a = p.display().to_string();
            }
        }
        for p in &mut self.metadata.trust_anchors {
            fix(p);
        }
        for p in self
            .jpki
            .auth_roots
            .iter_mut()
            .chain(self.jpki.sign_roots.iter_mut())
        {
            fix(p);
        }
        for s in &mut self.jpki.crls {
            if !s.contains("://") {
                let mut p = PathBuf::from(&*s);
                fix(&mut p);
                *s = p.display().to_string();
            }
        }
        if let Some(p) = &mut self.discovery.encryption_cert_pem {
            fix(p);
        }
        for p in [
            &mut self.secrets.pairwise_secret_file,
            &mut self.secrets.challenge_secret_file,
        ]
        .into_iter()
        .flatten()
        {
            fix(p);
        }
    }

    /// Fills what is left out from the test PKI's manifest (when `pki_dir` is set).
    pub fn fill_from_pki(&mut self) -> Result<(), ConfigError> {
        let Some(dir) = self.pki_dir.clone() else {
            return Ok(());
        };
        let pki = certs::Pki::load(&dir).map_err(|e| invalid(format!("pki_dir: {e}")))?;
        let m = &pki.manifest;
        let entity = |name: &str| m.federation.iter().find(|e| e.name == name);
        if let Some(idp) = entity("idp") {
            if self.keys.signing.is_empty() {
                let mut keys: Vec<_> = idp
                    .keys
                    .iter()
                    .filter(|k| k.usage == certs::KeyUse::Signing)
                    .collect();
                keys.sort_by_key(|k| k.generation);
                self.keys.signing = keys
                    .into_iter()
                    .map(|k| SigningKeyConfig {
                        cert_pem: k.cert_pem.clone(),
                        key_pem: Some(k.key_pem.clone()),
                        ..Default::default()
                    })
                    .collect();
            }
        }
        if let Some(relay) = entity("relay") {
            if self.metadata.trust_anchors.is_empty() {
                self.metadata.trust_anchors = relay
                    .keys
                    .iter()
                    .filter(|k| k.usage == certs::KeyUse::Signing)
                    .map(|k| k.cert_pem.clone())
                    .collect();
            }
            if self.discovery.entity_id.is_none() {
                self.discovery.entity_id = Some(relay.entity_id.clone());
            }
            if self.discovery.endpoint.is_none() {
                self.discovery.endpoint = Some(format!("https://{}/ds", relay.host));
            }
        }
        if self.jpki.auth_roots.is_empty() && self.jpki.sign_roots.is_empty() {
            for ca in m.cas.iter().filter(|c| !c.rogue) {
                match ca.purpose {
                    certs::Purpose::UserAuthentication => {
                        self.jpki.auth_roots.push(ca.cert_pem.clone())
                    }
                    certs::Purpose::Signature => self.jpki.sign_roots.push(ca.cert_pem.clone()),
                }
            }
        }
        if self.jpki.crls.is_empty() {
            self.jpki.crls = m
                .cas
                .iter()
                .filter(|c| !c.rogue)
                .map(|c| c.crl.der.display().to_string())
                .collect();
        }
        Ok(())
    }

    /// Checks what can be checked without reading keys.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.entity_id.trim().is_empty() || self.entity_id.len() > 256 {
            return Err(invalid("entity_id is empty or longer than 256 bytes"));
        }
        let base = self.base_url.trim_end_matches('/');
        if base != self.base_url {
            return Err(invalid("base_url must not end with '/'"));
        }
        if !schemas::websso::is_safe_endpoint(&format!("{base}/sso")) {
            return Err(invalid(
                "base_url must be https:// or http://127.0.0.1 (plain HTTP on loopback only)",
            ));
        }
        self.bind_addr()?;
        if self.keys.signing.is_empty() {
            return Err(invalid("no signing key ([[keys.signing]] or pki_dir)"));
        }
        if self.keys.active >= self.keys.signing.len() {
            return Err(invalid("keys.active is not an index of keys.signing"));
        }
        let active = &self.keys.signing[self.keys.active];
        if active.key_pem.is_none() && active.token_label.is_none() {
            return Err(invalid(
                "the active signing key needs key_pem or a PKCS#11 token_label",
            ));
        }
        if self.metadata.trust_anchors.is_empty() {
            return Err(invalid("metadata.trust_anchors is empty"));
        }
        if self.metadata.refresh_secs == 0 || self.metadata.refresh_secs > 6 * 3600 {
            return Err(invalid("metadata.refresh_secs must be 1–21600"));
        }
        if !(1..=14).contains(&self.metadata.valid_days) {
            return Err(invalid("metadata.valid_days must be 1–14"));
        }
        if self.jpki.auth_roots.is_empty() || self.jpki.sign_roots.is_empty() {
            return Err(invalid(
                "jpki.auth_roots and jpki.sign_roots must both be configured",
            ));
        }
        if !(1..=600).contains(&self.jpki.challenge_lifetime_secs) {
            return Err(invalid("jpki.challenge_lifetime_secs must be 1–600"));
        }
        if self.relay.database_url.is_none() {
            return Err(invalid("relay.database_url is required"));
        }
        if self.discovery.entity_id.is_none() || self.discovery.endpoint.is_none() {
            return Err(invalid(
                "discovery.entity_id and discovery.endpoint are required",
            ));
        }
        if !self.session.cookie_name.starts_with("__Host-") {
            return Err(invalid("session.cookie_name must start with __Host-"));
        }
        if self.session.lifetime_secs < 60 || self.assertion.lifetime_secs < 10 {
            return Err(invalid("session or assertion lifetime too short"));
        }
        if !(1..=300).contains(&self.assertion.artifact_lifetime_secs) {
            return Err(invalid("assertion.artifact_lifetime_secs must be 1–300"));
        }
        let origin = &self.agent.origin;
        if !(origin.starts_with("http://127.0.0.1:") || origin.starts_with("http://localhost:"))
            || origin.ends_with('/')
        {
            return Err(invalid(
                "agent.origin must be http://127.0.0.1:PORT (the agent listens on loopback)",
            ));
        }
        for b in [
            self.rate_limits.login_per_ip,
            self.rate_limits.login_per_certificate,
            self.rate_limits.sso_per_ip,
        ] {
            if b.burst == 0 {
                return Err(invalid("a rate limit burst of 0 would refuse everything"));
            }
        }
        let mut seen = std::collections::HashSet::new();
        for sp in &self.sps {
            if !seen.insert(sp.entity_id.as_str()) {
                return Err(invalid(format!("[[sp]] {} appears twice", sp.entity_id)));
            }
        }
        Ok(())
    }

    pub fn bind_addr(&self) -> Result<SocketAddr, ConfigError> {
        self.bind
            .parse()
            .map_err(|_| invalid(format!("bind {:?} is not an address:port", self.bind)))
    }

    /// The settings of an SP (its entry, or the defaults).
    pub fn sp(&self, entity_id: &str) -> SpConfig {
        self.sps
            .iter()
            .find(|s| s.entity_id == entity_id)
            .cloned()
            .unwrap_or_else(|| SpConfig::new(entity_id))
    }

    /// The origin of `base_url` (scheme://host:port).
    pub fn origin(&self) -> String {
        let rest = self
            .base_url
            .split_once("://")
            .map(|(s, r)| (s, r.split('/').next().unwrap_or("")));
        match rest {
            Some((scheme, host)) => format!("{scheme}://{host}"),
            None => self.base_url.clone(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base_url, path)
    }
}
