//! Everything a request handler needs, built once from the configuration.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use openssl::x509::X509;
use schemas::dsig::TrustedKey;
use schemas::trust::{TrustOptions, TrustStore};
use time::{Duration, OffsetDateTime};

use super::artifact::ArtifactStore;
use super::config::{Config, ConfigError};
use super::keys::IdpKeys;
use super::nameid::IssuedRegistry;
use super::ratelimit::RateLimiter;
use super::relay::RelayDirectory;
use super::session::{Parked, SessionStore, SsoRequest};
use super::slo::LogoutStore;
use super::util::{hex, random_bytes, unhex};
use crate::jpki::{
    AcceptedPolicies, CertPurpose, ChallengeIssuer, CrlCache, CrlOptions, CrlSource, JpkiVerifier,
    MemoryChallengeStore, TrustAnchors, VerifierConfig,
};

/// The shared state of the IdP.
pub struct IdpState {
    pub config: Config,
    pub keys: IdpKeys,
    trust: RwLock<Option<Arc<TrustStore>>>,
    pub trust_anchors: Vec<TrustedKey>,
    pub verifier: Arc<JpkiVerifier>,
    pub directory: Arc<RelayDirectory>,
    pub sessions: SessionStore,
    /// AuthnRequests that arrived by cross-site POST, waiting for the same-site GET.
    pub parked: Parked<SsoRequest>,
    pub artifacts: ArtifactStore,
    pub logouts: LogoutStore,
    pub login_per_ip: RateLimiter,
    pub login_per_cert: RateLimiter,
    pub sso_per_ip: RateLimiter,
    pub issued: IssuedRegistry,
    pub pairwise_secret: Vec<u8>,
    pub http: reqwest::Client,
    metadata_cache: Mutex<Option<(OffsetDateTime, String)>>,
}

impl std::fmt::Debug for IdpState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdpState")
            .field("entity_id", &self.config.entity_id)
            .finish_non_exhaustive()
    }
}

fn invalid(m: impl Into<String>) -> ConfigError {
    ConfigError::Invalid(m.into())
}

fn read_pem_cert(path: &Path) -> Result<X509, ConfigError> {
    let pem = std::fs::read(path).map_err(|e| ConfigError::Read {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    X509::from_pem(&pem).map_err(|e| invalid(format!("{}: {e}", path.display())))
}

/// Reads a secret (hex, at least 32 bytes) or creates it (32 random bytes, mode 0600).
pub fn load_or_create_secret(path: &Path) -> Result<Vec<u8>, ConfigError> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let s = unhex(text.trim())
                .ok_or_else(|| invalid(format!("{}: not hex", path.display())))?;
            if s.len() < 32 {
                return Err(invalid(format!(
                    "{}: a secret needs at least 32 bytes",
                    path.display()
                )));
            }
            Ok(s)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(|e| ConfigError::Read {
                    path: dir.to_path_buf(),
                    message: e.to_string(),
                })?;
            }
            let secret = random_bytes(32);
            write_private(path, format!("{}\n", hex(&secret)).as_bytes())?;
            tracing::warn!(file = %path.display(), "created a new secret");
            Ok(secret)
        }
        Err(e) => Err(ConfigError::Read {
            path: path.to_path_buf(),
            message: e.to_string(),
        }),
    }
}

fn write_private(path: &Path, data: &[u8]) -> Result<(), ConfigError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| ConfigError::Read {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
    f.write_all(data).map_err(|e| ConfigError::Read {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

/// The CRL sources of the configuration.
fn crl_sources(config: &Config) -> Vec<CrlSource> {
    config
        .jpki
        .crls
        .iter()
        .map(|s| {
            if s.starts_with("http://") || s.starts_with("https://") {
                CrlSource::Url(s.clone())
            } else if Path::new(s).is_dir() {
                CrlSource::Directory(PathBuf::from(s))
            } else {
                CrlSource::File(PathBuf::from(s))
            }
        })
        .collect()
}

impl IdpState {
    /// Builds the state: keys, JPKI verifier (CRLs loaded once), relay, metadata (loaded once
    /// when it is a file). Blocking; call it outside an async runtime.
    pub fn build(config: Config) -> Result<IdpState, ConfigError> {
        config.validate()?;
        let state_dir = config
            .state_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from("idp-state"));
        let keys = IdpKeys::load(&config)?;

        // Federation trust anchors.
        let trust_anchors = config
            .metadata
            .trust_anchors
            .iter()
            .map(|p| {
                let c = read_pem_cert(p)?;
                TrustedKey::from_certificate(&c)
                    .map_err(|e| invalid(format!("{}: {e}", p.display())))
            })
            .collect::<Result<Vec<_>, _>>()?;

        // JPKI.
        let read_all = |paths: &[PathBuf]| -> Result<Vec<X509>, ConfigError> {
            paths.iter().map(|p| read_pem_cert(p)).collect()
        };
        let anchors = TrustAnchors::from_lists(
            read_all(&config.jpki.auth_roots)?,
            read_all(&config.jpki.sign_roots)?,
        )
        .map_err(|e| invalid(format!("JPKI roots: {e}")))?;
        let crls = Arc::new(CrlCache::new(
            anchors.clone(),
            CrlOptions::with_sources(crl_sources(&config)),
        ));
        let report = crls.refresh(OffsetDateTime::now_utc());
        for (source, e) in &report.errors {
            tracing::warn!(%source, error = %e, "CRL not loaded");
        }
        tracing::info!(installed = report.installed(), "CRLs loaded");
        let challenge_secret = load_or_create_secret(
            &config
                .secrets
                .challenge_secret_file
                .clone()
                .unwrap_or_else(|| state_dir.join("challenge.secret")),
        )?;
        let challenges = ChallengeIssuer::new(&challenge_secret, &config.entity_id)
            .and_then(|c| c.with_lifetime(Duration::seconds(config.jpki.challenge_lifetime_secs)))
            .map_err(|e| invalid(format!("challenges: {e}")))?;
        let mut policies = AcceptedPolicies::default();
        for oid in &config.jpki.extra_signature_policies {
            policies = policies
                .add(CertPurpose::Signature, oid)
                .map_err(|e| invalid(e.to_string()))?;
        }
        let verifier = JpkiVerifier::new(VerifierConfig {
            policies,
            ..VerifierConfig::new(
                anchors,
                crls,
                challenges,
                Arc::new(MemoryChallengeStore::default()),
            )
        })
        .map_err(|e| invalid(format!("JPKI verifier: {e}")))?;

        // Relay.
        let ds_entity = config.discovery.entity_id.clone().unwrap_or_default();
        let directory = RelayDirectory::open(
            config.relay.database_url.as_deref().unwrap_or_default(),
            config.relay.pool_size.unwrap_or(4),
            &ds_entity,
        )
        .map_err(|e| invalid(format!("relay: {e}")))?;

        let pairwise_secret = load_or_create_secret(
            &config
                .secrets
                .pairwise_secret_file
                .clone()
                .unwrap_or_else(|| state_dir.join("pairwise.secret")),
        )?;
        std::fs::create_dir_all(&state_dir).map_err(|e| ConfigError::Read {
            path: state_dir.clone(),
            message: e.to_string(),
        })?;
        let issued = IssuedRegistry::open(&state_dir.join("issued-nameids"))
            .map_err(|e| invalid(format!("issued-nameids: {e}")))?;

        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(
                config.slo.soap_timeout_secs.max(1),
            ))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| invalid(format!("HTTP client: {e}")))?;

        let state = IdpState {
            sessions: SessionStore::new(
                config.session.max_sessions,
                Duration::seconds(config.session.lifetime_secs),
                Duration::seconds(config.session.anonymous_lifetime_secs),
            ),
            parked: Parked::new(Duration::seconds(120), 100_000),
            artifacts: ArtifactStore::new(
                Duration::seconds(config.assertion.artifact_lifetime_secs),
                100_000,
            ),
            logouts: LogoutStore::new(Duration::minutes(10), 100_000),
            login_per_ip: RateLimiter::new(config.rate_limits.login_per_ip),
            login_per_cert: RateLimiter::new(config.rate_limits.login_per_certificate),
            sso_per_ip: RateLimiter::new(config.rate_limits.sso_per_ip),
            issued,
            pairwise_secret,
            http,
            keys,
            trust: RwLock::new(None),
            trust_anchors,
            verifier: Arc::new(verifier),
            directory: Arc::new(directory),
            metadata_cache: Mutex::new(None),
            config,
        };
        // A file aggregate is read now; a URL at the first refresh.
        if let Some(agg) = state.config.metadata.aggregate.clone() {
            if !agg.contains("://") {
                match std::fs::read(&agg) {
                    Ok(bytes) => match state.install_metadata(&bytes, OffsetDateTime::now_utc()) {
                        Ok(n) => tracing::info!(entities = n, "federation metadata loaded"),
                        Err(e) => tracing::warn!(error = %e, "federation metadata refused"),
                    },
                    Err(e) => {
                        tracing::warn!(file = %agg, error = %e, "federation metadata unreadable")
                    }
                }
            }
        }
        Ok(state)
    }

    /// The current trust store (`None` until a valid aggregate was loaded).
    pub fn trust(&self) -> Option<Arc<TrustStore>> {
        self.trust.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Verifies and installs a new aggregate; on error the old store stays.
    pub fn install_metadata(
        &self,
        bytes: &[u8],
        now: OffsetDateTime,
    ) -> Result<usize, schemas::trust::TrustError> {
        let options = TrustOptions {
            max_validity: Some(Duration::days(self.config.metadata.max_validity_days)),
            ..TrustOptions::default()
        };
        let store = TrustStore::load_with(bytes, self.trust_anchors.clone(), now, options)?;
        let n = store.len();
        *self.trust.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(store));
        Ok(n)
    }

    /// Reads the aggregate from its source (file or URL) and installs it.
    pub async fn refresh_metadata(&self) -> Result<usize, String> {
        let Some(source) = self.config.metadata.aggregate.clone() else {
            return Err("no metadata.aggregate configured".into());
        };
        let bytes = if source.starts_with("http://") || source.starts_with("https://") {
            let r = self
                .http
                .get(&source)
                .send()
                .await
                .map_err(|e| format!("fetch: {e}"))?;
            if !r.status().is_success() {
                return Err(format!("fetch: HTTP {}", r.status().as_u16()));
            }
            r.bytes().await.map_err(|e| format!("fetch: {e}"))?.to_vec()
        } else {
            std::fs::read(&source).map_err(|e| format!("read {source}: {e}"))?
        };
        self.install_metadata(&bytes, OffsetDateTime::now_utc())
            .map_err(|e| e.to_string())
    }

    /// The signed own metadata, regenerated daily.
    pub fn own_metadata(&self) -> Result<String, schemas::dsig::DsigError> {
        let now = super::util::now();
        let mut cache = self
            .metadata_cache
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some((at, xml)) = cache.as_ref() {
            if now - *at < Duration::days(1) {
                return Ok(xml.clone());
            }
        }
        let xml = super::metadata::signed_metadata(&self.config, &self.keys, now)?;
        *cache = Some((now, xml.clone()));
        Ok(xml)
    }

    pub fn sso_url(&self) -> String {
        self.config.url(super::paths::SSO)
    }
}
