//! CRLs per CA key identifier.
//!
//! JPKI publishes one CRL per CA, regenerated daily; all generations of a purpose share one DN,
//! so a CRL is matched to its CA by its **authorityKeyIdentifier** and then **verified with that
//! CA's key** before it is accepted (the rogue root of the test PKI copies the DN and the key
//! identifier of generation 1, and its CRL "revokes" a valid card: it is refused at load).
//!
//! - Sources ([`CrlSource`]): a file (DER or PEM), every file of a folder, an `http://` URL
//!   (downloaded on a thread of its own with a current-thread runtime, so callable from any
//!   context; [`CrlOptions::fetch_timeout`] for the whole request, body capped at
//!   [`CrlOptions::max_bytes`], no redirects, no proxy). **https:// is not available**: the
//!   IdP's `reqwest` is built without a TLS backend (none in the workspace); the CRL's own
//!   signature gives it integrity over plain HTTP, which J-LIS's notices also allow.
//! - [`CrlCache::refresh`] re-reads every source; the service calls it from a timer (a plain
//!   thread or `spawn_blocking`: it blocks while it downloads). A CA's CRL is replaced only by a
//!   **newer** valid one (higher cRLNumber, or later thisUpdate when either has no number): a
//!   failed fetch or an older file never downgrades it, and the old CRL stays until then — even
//!   when stale.
//! - Lookups ([`CrlCache::revocation`]) are O(1): a hash map of serial bytes (minimal big-endian,
//!   no sign byte) → reason and date, behind a read lock.
//! - **Fail closed**: no CRL for the CA → [`JpkiError::CrlUnavailable`]; the newest CRL past its
//!   nextUpdate (plus [`CrlOptions::stale_grace`], default 0) → [`JpkiError::CrlStale`]. A CRL
//!   without nextUpdate is refused at load.
//! - Refused at load: partitioned CRLs (issuingDistributionPoint), delta CRLs, indirect CRLs
//!   (certificateIssuer entries) and unknown critical extensions — using a partition as the CA's
//!   whole list would fail open.
//! - OCSP: out of scope.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use openssl::x509::X509Crl;
use time::{Duration, OffsetDateTime};
use x509_parser::extensions::ParsedExtension;
use x509_parser::prelude::FromDer;
use x509_parser::revocation_list::CertificateRevocationList;

use super::error::{JpkiError, RevocationReason};
use super::hex;
use super::trust::{CertPurpose, TrustAnchors, TrustedRoot};

/// Where CRLs come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CrlSource {
    /// One CRL file, DER or PEM.
    File(PathBuf),
    /// Every regular file of a folder (not recursive, hidden files skipped).
    Directory(PathBuf),
    /// `http://` URL (https is not available in this build, see the module notes).
    Url(String),
}

impl std::fmt::Display for CrlSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CrlSource::File(p) => write!(f, "file {}", p.display()),
            CrlSource::Directory(p) => write!(f, "folder {}", p.display()),
            CrlSource::Url(u) => write!(f, "url {u}"),
        }
    }
}

/// Options of a [`CrlCache`].
#[derive(Debug, Clone)]
pub struct CrlOptions {
    pub sources: Vec<CrlSource>,
    /// Whole-request timeout of a URL fetch (default 10 s).
    pub fetch_timeout: std::time::Duration,
    /// Largest CRL accepted, file or download (default 64 MiB).
    pub max_bytes: usize,
    /// A CRL whose thisUpdate lies further than this in the future is refused (default 5 min).
    pub clock_skew: Duration,
    /// How long past nextUpdate a CRL is still used (default 0: stale at nextUpdate). JPKI's
    /// daily CRL is replaced in a window of a few minutes; an operator may allow that much.
    pub stale_grace: Duration,
}

impl Default for CrlOptions {
    fn default() -> CrlOptions {
        CrlOptions {
            sources: Vec::new(),
            fetch_timeout: std::time::Duration::from_secs(10),
            max_bytes: 64 << 20,
            clock_skew: Duration::minutes(5),
            stale_grace: Duration::ZERO,
        }
    }
}

impl CrlOptions {
    pub fn with_sources(sources: impl IntoIterator<Item = CrlSource>) -> CrlOptions {
        CrlOptions {
            sources: sources.into_iter().collect(),
            ..CrlOptions::default()
        }
    }
}

/// Why a CRL was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CrlError {
    #[error("reading {path}: {message}")]
    Io { path: PathBuf, message: String },
    #[error("fetching {url}: {message}")]
    Fetch { url: String, message: String },
    #[error("fetching {url}: HTTP {status}")]
    HttpStatus { url: String, status: u16 },
    #[error("URL scheme not supported: {0} (file, folder and http:// only; this build has no TLS backend)")]
    UnsupportedScheme(String),
    #[error("larger than {limit} bytes")]
    TooLarge { limit: usize },
    #[error("not a CRL: {0}")]
    Parse(String),
    #[error("the CRL has no authorityKeyIdentifier: it cannot be matched to one CA generation")]
    NoAuthorityKeyId,
    #[error("no configured root has the key identifier {key_id}")]
    UnknownIssuer { key_id: String },
    #[error("the CRL's issuer name is not the subject of the root with key identifier {key_id}")]
    IssuerNameMismatch { key_id: String },
    #[error("the CRL's signature does not verify with the root with key identifier {key_id}")]
    BadSignature { key_id: String },
    #[error("unsupported CRL: {0}")]
    Unsupported(String),
    #[error("the CRL has no nextUpdate")]
    NoNextUpdate,
    #[error("the CRL's thisUpdate {this_update} is in the future")]
    NotYetValid { this_update: OffsetDateTime },
    #[error("older than the CRL in use for {key_id} (number {offered} < {current})")]
    Older {
        key_id: String,
        current: String,
        offered: String,
    },
}

/// What loading one CRL did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoadOutcome {
    /// Now the CRL in use for the CA `key_id` (hex).
    Installed {
        key_id: String,
        number: Option<String>,
    },
    /// The same CRL (same number) was already in use.
    Unchanged { key_id: String },
}

/// What a [`CrlCache::refresh`] did, source by source.
#[derive(Debug, Clone, Default)]
pub struct RefreshReport {
    /// (source, outcome) of each CRL read.
    pub loaded: Vec<(String, LoadOutcome)>,
    /// (source, error) of each CRL or source that failed; the CRLs in use are kept.
    pub errors: Vec<(String, CrlError)>,
}

impl RefreshReport {
    pub fn installed(&self) -> usize {
        self.loaded
            .iter()
            .filter(|(_, o)| matches!(o, LoadOutcome::Installed { .. }))
            .count()
    }
}

/// The CRL in use for one CA (for health pages and logs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrlStatus {
    pub key_id: String,
    pub purpose: CertPurpose,
    /// cRLNumber (decimal), if any.
    pub number: Option<String>,
    pub this_update: OffsetDateTime,
    pub next_update: OffsetDateTime,
    pub entries: usize,
    pub source: String,
}

#[derive(Debug)]
struct LoadedCrl {
    key_id: Vec<u8>,
    purpose: CertPurpose,
    issuer_spki: Vec<u8>,
    /// cRLNumber, minimal big-endian bytes.
    number: Option<Vec<u8>>,
    number_text: Option<String>,
    this_update: OffsetDateTime,
    next_update: OffsetDateTime,
    revoked: HashMap<Vec<u8>, (RevocationReason, OffsetDateTime)>,
    source: String,
}

/// CRLs of the trusted roots, by key identifier.
pub struct CrlCache {
    anchors: TrustAnchors,
    options: CrlOptions,
    crls: RwLock<HashMap<Vec<u8>, Arc<LoadedCrl>>>,
}

impl std::fmt::Debug for CrlCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CrlCache")
            .field("sources", &self.options.sources)
            .field("crls", &self.status().len())
            .finish()
    }
}

/// Minimal big-endian bytes of a non-negative integer's content octets (no sign byte).
pub(crate) fn minimal(bytes: &[u8]) -> Vec<u8> {
    let start = bytes
        .iter()
        .position(|&b| b != 0)
        .unwrap_or(bytes.len().saturating_sub(1));
    bytes[start..].to_vec()
}

fn asn1_time(t: x509_parser::time::ASN1Time) -> Result<OffsetDateTime, CrlError> {
    OffsetDateTime::from_unix_timestamp(t.timestamp()).map_err(|e| CrlError::Parse(e.to_string()))
}

/// Newer-than order of cRLNumbers (minimal big-endian).
fn number_cmp(a: &[u8], b: &[u8]) -> std::cmp::Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

const OID_AKI: &str = "2.5.29.35";
const OID_CRL_NUMBER: &str = "2.5.29.20";
const OID_DELTA: &str = "2.5.29.27";
const OID_IDP: &str = "2.5.29.28";
const OID_FRESHEST: &str = "2.5.29.46";
const OID_REASON: &str = "2.5.29.21";
const OID_INVALIDITY: &str = "2.5.29.24";
const OID_CERT_ISSUER: &str = "2.5.29.29";

/// One `http://` download, capped at `limit` bytes.
async fn fetch_one(client: &reqwest::Client, url: &str, limit: usize) -> Result<Vec<u8>, CrlError> {
    let lower = url.to_ascii_lowercase();
    if !lower.starts_with("http://") {
        let scheme = lower.split(':').next().unwrap_or("").to_string();
        return Err(CrlError::UnsupportedScheme(scheme));
    }
    let fetch_err = |e: reqwest::Error| CrlError::Fetch {
        url: url.to_string(),
        message: e.to_string(),
    };
    let mut resp = client.get(url).send().await.map_err(fetch_err)?;
    if !resp.status().is_success() {
        return Err(CrlError::HttpStatus {
            url: url.to_string(),
            status: resp.status().as_u16(),
        });
    }
    if resp.content_length().is_some_and(|n| n > limit as u64) {
        return Err(CrlError::TooLarge { limit });
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(fetch_err)? {
        if body.len() + chunk.len() > limit {
            return Err(CrlError::TooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

impl CrlCache {
    /// An empty cache for the CAs of `anchors` (nothing is read until [`CrlCache::refresh`] or
    /// a `load_*` call).
    pub fn new(anchors: TrustAnchors, options: CrlOptions) -> CrlCache {
        CrlCache {
            anchors,
            options,
            crls: RwLock::new(HashMap::new()),
        }
    }

    pub fn options(&self) -> &CrlOptions {
        &self.options
    }

    pub fn anchors(&self) -> &TrustAnchors {
        &self.anchors
    }

    /// Reads every configured source and installs each CRL that is valid and newer than the one
    /// in use. Errors are reported, never fatal; what is in use stays in use. Blocks for the
    /// downloads (at most [`CrlOptions::fetch_timeout`] each): call it from a timer thread or
    /// `spawn_blocking`, not from an async task.
    pub fn refresh(&self, now: OffsetDateTime) -> RefreshReport {
        let urls: Vec<String> = self
            .options
            .sources
            .iter()
            .filter_map(|s| match s {
                CrlSource::Url(u) => Some(u.clone()),
                _ => None,
            })
            .collect();
        let mut downloads = self.fetch_all(&urls).into_iter();
        let mut report = RefreshReport::default();
        for source in &self.options.sources {
            match source {
                CrlSource::File(path) => {
                    let name = source.to_string();
                    match self.load_file(path, now) {
                        Ok(o) => report.loaded.push((name, o)),
                        Err(e) => report.errors.push((name, e)),
                    }
                }
                CrlSource::Directory(dir) => match Self::list_dir(dir) {
                    Ok(files) => {
                        for path in files {
                            let name = format!("file {}", path.display());
                            match self.load_file(&path, now) {
                                Ok(o) => report.loaded.push((name, o)),
                                Err(e) => report.errors.push((name, e)),
                            }
                        }
                    }
                    Err(e) => report.errors.push((source.to_string(), e)),
                },
                CrlSource::Url(_) => {
                    let name = source.to_string();
                    let result = downloads
                        .next()
                        .unwrap_or_else(|| {
                            Err(CrlError::Fetch {
                                url: name.clone(),
                                message: "not fetched".into(),
                            })
                        })
                        .and_then(|bytes| self.load_bytes(&bytes, &name, now));
                    match result {
                        Ok(o) => report.loaded.push((name, o)),
                        Err(e) => report.errors.push((name, e)),
                    }
                }
            }
        }
        report
    }

    fn list_dir(dir: &Path) -> Result<Vec<PathBuf>, CrlError> {
        let io = |e: std::io::Error| CrlError::Io {
            path: dir.to_path_buf(),
            message: e.to_string(),
        };
        let mut files = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(io)? {
            let entry = entry.map_err(io)?;
            let path = entry.path();
            let hidden = entry.file_name().to_string_lossy().starts_with('.');
            if !hidden
                && std::fs::metadata(&path)
                    .map(|m| m.is_file())
                    .unwrap_or(false)
            {
                files.push(path);
            }
        }
        files.sort();
        Ok(files)
    }

    /// Downloads `urls` one after the other on a thread of its own with a current-thread Tokio
    /// runtime, so that it works from any caller (no runtime of the caller's is needed or
    /// disturbed).
    fn fetch_all(&self, urls: &[String]) -> Vec<Result<Vec<u8>, CrlError>> {
        if urls.is_empty() {
            return Vec::new();
        }
        let failed = |message: String| -> Vec<Result<Vec<u8>, CrlError>> {
            urls.iter()
                .map(|u| {
                    Err(CrlError::Fetch {
                        url: u.clone(),
                        message: message.clone(),
                    })
                })
                .collect()
        };
        let timeout = self.options.fetch_timeout;
        let limit = self.options.max_bytes;
        let joined = std::thread::scope(|scope| {
            scope
                .spawn(|| -> Result<Vec<Result<Vec<u8>, CrlError>>, String> {
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .map_err(|e| e.to_string())?;
                    let client = reqwest::Client::builder()
                        .timeout(timeout)
                        .connect_timeout(timeout)
                        .redirect(reqwest::redirect::Policy::none())
                        .no_proxy()
                        .build()
                        .map_err(|e| e.to_string())?;
                    Ok(rt.block_on(async {
                        let mut out = Vec::new();
                        for url in urls {
                            out.push(fetch_one(&client, url, limit).await);
                        }
                        out
                    }))
                })
                .join()
        });
        match joined {
            Ok(Ok(results)) => results,
            Ok(Err(message)) => failed(message),
            Err(_) => failed("download thread panicked".into()),
        }
    }

    /// Loads one CRL file (DER or PEM).
    pub fn load_file(&self, path: &Path, now: OffsetDateTime) -> Result<LoadOutcome, CrlError> {
        let io = |e: std::io::Error| CrlError::Io {
            path: path.to_path_buf(),
            message: e.to_string(),
        };
        let limit = self.options.max_bytes;
        let file = std::fs::File::open(path).map_err(io)?;
        let mut bytes = Vec::new();
        file.take(limit as u64 + 1)
            .read_to_end(&mut bytes)
            .map_err(io)?;
        if bytes.len() > limit {
            return Err(CrlError::TooLarge { limit });
        }
        self.load_bytes(&bytes, &format!("file {}", path.display()), now)
    }

    /// Fetches one CRL over `http://` now and loads it (blocking, like [`CrlCache::refresh`]).
    pub fn load_url(&self, url: &str, now: OffsetDateTime) -> Result<LoadOutcome, CrlError> {
        let bytes = self
            .fetch_all(&[url.to_string()])
            .pop()
            .unwrap_or_else(|| {
                Err(CrlError::Fetch {
                    url: url.into(),
                    message: "not fetched".into(),
                })
            })?;
        self.load_bytes(&bytes, &format!("url {url}"), now)
    }

    /// Checks one CRL (DER or PEM) and installs it if it is newer than the one in use for its
    /// CA. `source` is kept for the status page.
    pub fn load_bytes(
        &self,
        bytes: &[u8],
        source: &str,
        now: OffsetDateTime,
    ) -> Result<LoadOutcome, CrlError> {
        if bytes.len() > self.options.max_bytes {
            return Err(CrlError::TooLarge {
                limit: self.options.max_bytes,
            });
        }
        let loaded = self.parse_and_verify(bytes, source, now)?;
        let key_id_hex = hex(&loaded.key_id);
        let mut crls = self.crls.write().unwrap_or_else(|e| e.into_inner());
        if let Some(current) = crls.get(&loaded.key_id) {
            let order = match (&current.number, &loaded.number) {
                (Some(c), Some(n)) => number_cmp(n, c),
                _ => loaded.this_update.cmp(&current.this_update),
            };
            match order {
                std::cmp::Ordering::Less => {
                    return Err(CrlError::Older {
                        key_id: key_id_hex,
                        current: current
                            .number_text
                            .clone()
                            .unwrap_or_else(|| current.this_update.to_string()),
                        offered: loaded
                            .number_text
                            .clone()
                            .unwrap_or_else(|| loaded.this_update.to_string()),
                    })
                }
                std::cmp::Ordering::Equal => {
                    return Ok(LoadOutcome::Unchanged { key_id: key_id_hex })
                }
                std::cmp::Ordering::Greater => {}
            }
        }
        let number = loaded.number_text.clone();
        crls.insert(loaded.key_id.clone(), Arc::new(loaded));
        Ok(LoadOutcome::Installed {
            key_id: key_id_hex,
            number,
        })
    }

    fn parse_and_verify(
        &self,
        bytes: &[u8],
        source: &str,
        now: OffsetDateTime,
    ) -> Result<LoadedCrl, CrlError> {
        let parse_err = |e: &dyn std::fmt::Display| CrlError::Parse(e.to_string());
        let trimmed = bytes.trim_ascii_start();
        let crl = if trimmed.starts_with(b"-----BEGIN") {
            X509Crl::from_pem(trimmed).map_err(|e| parse_err(&e))?
        } else {
            X509Crl::from_der(bytes).map_err(|e| parse_err(&e))?
        };
        let der = crl.to_der().map_err(|e| parse_err(&e))?;
        if !trimmed.starts_with(b"-----BEGIN") && der != bytes {
            return Err(CrlError::Parse("not DER, or trailing data".into()));
        }
        let (rest, parsed) =
            CertificateRevocationList::from_der(&der).map_err(|e| parse_err(&e))?;
        if !rest.is_empty() {
            return Err(CrlError::Parse("trailing data".into()));
        }

        // The CA: by authorityKeyIdentifier, then name, then signature.
        let mut key_id = None;
        let mut number = None;
        for ext in parsed.extensions() {
            let oid = ext.oid.to_id_string();
            match (oid.as_str(), ext.parsed_extension()) {
                (OID_AKI, ParsedExtension::AuthorityKeyIdentifier(aki)) => {
                    if key_id.is_some() {
                        return Err(CrlError::Parse(
                            "two authorityKeyIdentifier extensions".into(),
                        ));
                    }
                    key_id = aki.key_identifier.as_ref().map(|k| k.0.to_vec());
                }
                (OID_CRL_NUMBER, ParsedExtension::CRLNumber(n)) => {
                    if number.is_some() {
                        return Err(CrlError::Parse("two cRLNumber extensions".into()));
                    }
                    number = Some((minimal(&n.to_bytes_be()), n.to_string()));
                }
                (OID_DELTA, _) => return Err(CrlError::Unsupported("delta CRL".into())),
                (OID_IDP, _) => {
                    return Err(CrlError::Unsupported(
                        "partitioned CRL (issuingDistributionPoint)".into(),
                    ))
                }
                (OID_FRESHEST, _) => {}
                (_, ParsedExtension::ParseError { error }) => {
                    return Err(CrlError::Parse(format!("extension {oid}: {error}")))
                }
                _ if ext.critical => {
                    return Err(CrlError::Unsupported(format!("critical extension {oid}")))
                }
                _ => {}
            }
        }
        let key_id = key_id.ok_or(CrlError::NoAuthorityKeyId)?;
        let key_id_hex = hex(&key_id);
        let root: &TrustedRoot =
            self.anchors
                .by_key_id(&key_id)
                .ok_or_else(|| CrlError::UnknownIssuer {
                    key_id: key_id_hex.clone(),
                })?;
        let same_name = crl
            .issuer_name()
            .try_cmp(root.cert.subject_name())
            .map(|o| o.is_eq())
            .unwrap_or(false);
        if !same_name {
            return Err(CrlError::IssuerNameMismatch { key_id: key_id_hex });
        }
        if !crl.verify(&root.public_key).unwrap_or(false) {
            return Err(CrlError::BadSignature { key_id: key_id_hex });
        }

        // Times.
        let this_update = asn1_time(parsed.last_update())?;
        let next_update = asn1_time(parsed.next_update().ok_or(CrlError::NoNextUpdate)?)?;
        if this_update > now + self.options.clock_skew {
            return Err(CrlError::NotYetValid { this_update });
        }
        if next_update < this_update {
            return Err(CrlError::Parse("nextUpdate before thisUpdate".into()));
        }

        // Entries.
        let mut revoked = HashMap::new();
        for entry in parsed.iter_revoked_certificates() {
            let mut reason = RevocationReason::Unspecified;
            for ext in entry.iter_extensions() {
                let oid = ext.oid.to_id_string();
                match (oid.as_str(), ext.parsed_extension()) {
                    (OID_REASON, ParsedExtension::ReasonCode(code)) => {
                        reason = RevocationReason::from_code(code.0)
                    }
                    (OID_INVALIDITY, _) => {}
                    (OID_CERT_ISSUER, _) => {
                        return Err(CrlError::Unsupported(
                            "indirect CRL (certificateIssuer)".into(),
                        ))
                    }
                    (_, ParsedExtension::ParseError { error }) => {
                        return Err(CrlError::Parse(format!("entry extension {oid}: {error}")))
                    }
                    _ if ext.critical => {
                        return Err(CrlError::Unsupported(format!(
                            "critical entry extension {oid}"
                        )))
                    }
                    _ => {}
                }
            }
            let serial = entry.raw_serial();
            if serial.first().is_some_and(|b| b & 0x80 != 0) {
                return Err(CrlError::Parse("negative serial number".into()));
            }
            let at = asn1_time(entry.revocation_date)?;
            revoked.insert(minimal(serial), (reason, at));
        }
        let (number, number_text) = match number {
            Some((n, t)) => (Some(n), Some(t)),
            None => (None, None),
        };
        Ok(LoadedCrl {
            key_id,
            purpose: root.purpose,
            issuer_spki: root.spki_der.clone(),
            number,
            number_text,
            this_update,
            next_update,
            revoked,
            source: source.to_string(),
        })
    }

    /// Whether `serial` (minimal big-endian) of a certificate issued by `root` is revoked at
    /// `now`: `Ok(None)` not listed, `Ok(Some(..))` listed; `Err` when no usable CRL.
    pub fn revocation(
        &self,
        root: &TrustedRoot,
        serial: &[u8],
        now: OffsetDateTime,
    ) -> Result<Option<(RevocationReason, OffsetDateTime)>, JpkiError> {
        let key_id = || hex(&root.key_id);
        let crl = {
            let crls = self.crls.read().unwrap_or_else(|e| e.into_inner());
            crls.get(&root.key_id).cloned()
        };
        // The CRL must have been verified with this very root's key.
        let crl = match crl {
            Some(c) if c.issuer_spki == root.spki_der => c,
            _ => return Err(JpkiError::CrlUnavailable { key_id: key_id() }),
        };
        if now > crl.next_update + self.options.stale_grace {
            return Err(JpkiError::CrlStale {
                key_id: key_id(),
                next_update: crl.next_update,
            });
        }
        Ok(crl.revoked.get(serial).copied())
    }

    /// The CRL in use for each CA.
    pub fn status(&self) -> Vec<CrlStatus> {
        let crls = self.crls.read().unwrap_or_else(|e| e.into_inner());
        let mut out: Vec<CrlStatus> = crls
            .values()
            .map(|c| CrlStatus {
                key_id: hex(&c.key_id),
                purpose: c.purpose,
                number: c.number_text.clone(),
                this_update: c.this_update,
                next_update: c.next_update,
                entries: c.revoked.len(),
                source: c.source.clone(),
            })
            .collect();
        out.sort_by(|a, b| a.key_id.cmp(&b.key_id));
        out
    }

    /// Forgets the CRL of one CA (operator action; lookups then fail closed).
    pub fn remove(&self, key_id: &[u8]) -> bool {
        self.crls
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key_id)
            .is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimal_serials_and_numbers() {
        assert_eq!(minimal(&[0, 0x80, 1]), vec![0x80, 1]);
        assert_eq!(minimal(&[0x12]), vec![0x12]);
        assert_eq!(minimal(&[0, 0]), vec![0]);
        assert_eq!(number_cmp(&[2], &[1, 0]), std::cmp::Ordering::Less);
        assert_eq!(number_cmp(&[3, 0xe9], &[7, 0xd1]), std::cmp::Ordering::Less);
    }
}
