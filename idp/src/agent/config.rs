//! The agent's TOML configuration and its validation.
//!
//! ```toml
//! listen = "127.0.0.1:7443"                       # 127.0.0.1 only; port 0 = any free port
//! allowed_origins = ["https://127.0.0.1:8443"]    # exact `Origin` values of the IdP login pages
//! mode = "virtual"                                # or "opensc" for a real card
//! pki_dir = "../certs/out"                        # virtual: folder of the test PKI's manifest.json
//! # pkcs11_module = "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so"   # default by mode
//! # pin_tries_file = "../certs/out/card-agent-pin-tries.json"     # virtual: default next to the manifest
//! # request_ttl_secs = 120
//! # demo_pin_from_manifest = false               # tests and demo only: never wait for a person
//! ```
//!
//! Relative paths are relative to the configuration file's folder.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Default listen address: loopback, plain HTTP (see `idp/AGENT.md` for why not TLS).
pub const DEFAULT_LISTEN: &str = "127.0.0.1:7443";
/// OpenSC's PKCS#11 module on Debian/Ubuntu (amd64).
pub const OPENSC_MODULE: &str = "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so";
/// Requests live at most this long (2 minutes).
pub const MAX_REQUEST_TTL_SECS: u64 = 120;
/// File name of the virtual cards' PIN try counters, next to `manifest.json`.
pub const PIN_TRIES_FILE: &str = "card-agent-pin-tries.json";

/// How the agent reaches cards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// SoftHSM2 virtual cards of the test PKI (`certs`), with try counters kept by the agent.
    Virtual,
    /// A real My Number / Juki card through OpenSC's `opensc-pkcs11.so` (JPKI driver).
    Opensc,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Virtual => "virtual",
            Mode::Opensc => "opensc",
        }
    }
}

fn default_listen() -> String {
    DEFAULT_LISTEN.into()
}
fn default_ttl() -> u64 {
    MAX_REQUEST_TTL_SECS
}
fn default_max_pending() -> usize {
    16
}

/// The configuration file, as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentConfig {
    /// `127.0.0.1:PORT`; nothing else is accepted.
    #[serde(default = "default_listen")]
    pub listen: String,
    /// Exact origins (`scheme://host[:port]`) of the IdP pages allowed to call the API.
    pub allowed_origins: Vec<String>,
    pub mode: Mode,
    /// PKCS#11 module; default SoftHSM2 from the manifest (virtual) or [`OPENSC_MODULE`].
    #[serde(default)]
    pub pkcs11_module: Option<PathBuf>,
    /// Virtual mode: the test PKI folder (holding `manifest.json`).
    #[serde(default)]
    pub pki_dir: Option<PathBuf>,
    /// Virtual mode: where the try counters are kept (default `<pki_dir>/card-agent-pin-tries.json`).
    #[serde(default)]
    pub pin_tries_file: Option<PathBuf>,
    /// Seconds a signing request lives (1–120).
    #[serde(default = "default_ttl")]
    pub request_ttl_secs: u64,
    /// Most signing requests alive at once.
    #[serde(default = "default_max_pending")]
    pub max_pending: usize,
    /// Tests and demo only: take the PIN from the virtual-card manifest instead of asking the
    /// resident. Refused in `opensc` mode.
    #[serde(default)]
    pub demo_pin_from_manifest: bool,
}

/// Why a configuration is refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("cannot read {path}: {message}")]
    Read { path: PathBuf, message: String },
    #[error("invalid TOML: {0}")]
    Toml(String),
    #[error("listen = {0:?} is not an IP address and port")]
    BadListen(String),
    #[error("listen = {0}: the card agent binds to 127.0.0.1 only (it must never be reachable from another machine)")]
    NotLoopback(SocketAddr),
    #[error("allowed_origins is empty: no IdP page could use the agent")]
    NoOrigins,
    #[error("allowed origin {origin:?}: {reason}")]
    BadOrigin {
        origin: String,
        reason: &'static str,
    },
    #[error("request_ttl_secs = {0}: must be between 1 and 120")]
    BadTtl(u64),
    #[error("max_pending = {0}: must be between 1 and 1024")]
    BadMaxPending(usize),
    #[error("mode = \"virtual\" needs pki_dir (the folder of the test PKI's manifest.json)")]
    VirtualNeedsPkiDir,
    #[error("demo_pin_from_manifest needs mode = \"virtual\": a real card's PIN is never stored")]
    DemoNeedsVirtual,
    #[error("{0} applies to mode = \"virtual\" only")]
    VirtualOnly(&'static str),
}

impl AgentConfig {
    /// A virtual-card configuration for tests and the demo: any free port on 127.0.0.1, the PKI
    /// in `pki_dir`, the given origins, demo mode off.
    pub fn virtual_cards<I, S>(pki_dir: impl Into<PathBuf>, allowed_origins: I) -> AgentConfig
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        AgentConfig {
            listen: "127.0.0.1:0".into(),
            allowed_origins: allowed_origins.into_iter().map(Into::into).collect(),
            mode: Mode::Virtual,
            pkcs11_module: None,
            pki_dir: Some(pki_dir.into()),
            pin_tries_file: None,
            request_ttl_secs: MAX_REQUEST_TTL_SECS,
            max_pending: default_max_pending(),
            demo_pin_from_manifest: false,
        }
    }

    /// Parses TOML; relative paths are resolved against `base` when given.
    pub fn from_toml(text: &str, base: Option<&Path>) -> Result<AgentConfig, ConfigError> {
        let mut config: AgentConfig =
            toml::from_str(text).map_err(|e| ConfigError::Toml(e.message().to_string()))?;
        if let Some(base) = base {
            for p in [
                &mut config.pkcs11_module,
                &mut config.pki_dir,
                &mut config.pin_tries_file,
            ]
            .into_iter()
            .flatten()
            {
                if p.is_relative() {
                    *p = base.join(&*p);
                }
            }
        }
        Ok(config)
    }

    /// Reads and validates a configuration file.
    pub fn load(path: &Path) -> Result<AgentConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        let config = AgentConfig::from_toml(&text, path.parent())?;
        config.validate()?;
        Ok(config)
    }

    /// The listen address, checked to be 127.0.0.1.
    pub fn listen_addr(&self) -> Result<SocketAddr, ConfigError> {
        let addr: SocketAddr = self
            .listen
            .trim()
            .parse()
            .map_err(|_| ConfigError::BadListen(self.listen.clone()))?;
        if addr.ip() != IpAddr::V4(Ipv4Addr::LOCALHOST) {
            return Err(ConfigError::NotLoopback(addr));
        }
        Ok(addr)
    }

    /// Checks everything that can be checked without touching a card.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.listen_addr()?;
        if self.allowed_origins.is_empty() {
            return Err(ConfigError::NoOrigins);
        }
        for origin in &self.allowed_origins {
            check_origin(origin).map_err(|reason| ConfigError::BadOrigin {
                origin: origin.clone(),
                reason,
            })?;
        }
        if !(1..=MAX_REQUEST_TTL_SECS).contains(&self.request_ttl_secs) {
            return Err(ConfigError::BadTtl(self.request_ttl_secs));
        }
        if !(1..=1024).contains(&self.max_pending) {
            return Err(ConfigError::BadMaxPending(self.max_pending));
        }
        match self.mode {
            Mode::Virtual => {
                if self.pki_dir.is_none() {
                    return Err(ConfigError::VirtualNeedsPkiDir);
                }
            }
            Mode::Opensc => {
                if self.demo_pin_from_manifest {
                    return Err(ConfigError::DemoNeedsVirtual);
                }
                if self.pki_dir.is_some() {
                    return Err(ConfigError::VirtualOnly("pki_dir"));
                }
                if self.pin_tries_file.is_some() {
                    return Err(ConfigError::VirtualOnly("pin_tries_file"));
                }
            }
        }
        Ok(())
    }
}

/// An origin as browsers serialize it: `http` or `https`, a lower-case host, an optional port,
/// nothing else (no path, no trailing slash, no user info, no wildcard, not `null`).
fn check_origin(origin: &str) -> Result<(), &'static str> {
    if origin == "*" || origin == "null" {
        return Err("wildcards and null are not origins");
    }
    let rest = if let Some(r) = origin.strip_prefix("https://") {
        r
    } else if let Some(r) = origin.strip_prefix("http://") {
        r
    } else {
        return Err("must start with https:// or http://");
    };
    if rest.is_empty() {
        return Err("no host");
    }
    if rest.contains(['/', '?', '#', '@', '*', ' ']) {
        return Err("an origin has no path, query, user info or wildcard (and no trailing slash)");
    }
    if rest
        .chars()
        .any(|c| c.is_ascii_uppercase() || !c.is_ascii())
    {
        return Err("browsers send the host in lower case ASCII (punycode)");
    }
    let (host, port) = match rest.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => (h, Some(p)),
        _ => (rest, None),
    };
    if host.is_empty() {
        return Err("no host");
    }
    if let Some(port) = port {
        match port.parse::<u16>() {
            Ok(p) if p > 0 && !port.starts_with('0') => {}
            _ => return Err("bad port"),
        }
        let default = if origin.starts_with("https://") {
            "443"
        } else {
            "80"
        };
        if port == default {
            return Err("browsers omit the default port: write the origin without it");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins() {
        for ok in [
            "https://127.0.0.1:8443",
            "https://idp.nabari.test",
            "http://localhost:8080",
            "https://[::1]:8443",
        ] {
            assert_eq!(check_origin(ok), Ok(()), "{ok}");
        }
        for bad in [
            "*",
            "null",
            "https://127.0.0.1:8443/",
            "https://IdP.example",
            "ftp://x",
            "https://",
            "https://x:0",
            "https://x:443",
            "https://x:08443",
            "https://a@b",
            "https://*.nabari.test",
        ] {
            assert!(check_origin(bad).is_err(), "{bad}");
        }
    }
}
