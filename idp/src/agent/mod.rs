//! The local card agent: the counterpart of JPKI's client software on a resident's PC or a
//! clinic's reception terminal (binary `card-agent`, documentation in `idp/AGENT.md`).
//!
//! It listens on 127.0.0.1 only and answers only the configured IdP origins. It reads the
//! user-authentication certificate without a PIN, and signs a challenge (the IdP's access
//! application text) with the user-authentication key (4-digit PIN) or the signature key (6–16
//! character password) through PKCS#11: SoftHSM2 virtual cards of the test PKI (`mode =
//! "virtual"`) or a real My Number / Juki card through OpenSC's JPKI driver (`mode = "opensc"`).
//! The PIN is typed into the agent's own page, never into the IdP's page; a demo/test mode takes
//! it from the virtual-card manifest.
//!
//! Rust entry points for the IdP and its tests:
//!
//! - [`spawn`] an agent on its own thread from an [`AgentConfig`] (e.g.
//!   [`AgentConfig::virtual_cards`] with `demo_pin_from_manifest = true` for unattended logins);
//! - drive it like the login page does with [`AgentClient`] ([`AgentClient::sign_and_wait`],
//!   [`AgentClient::certificate`]), or type a PIN like the resident with
//!   [`AgentClient::enter_pin`];
//! - the wire types are in [`protocol`].

pub mod card;
pub mod client;
pub mod config;
pub mod page;
pub mod pin;
pub mod protocol;
pub mod redact;
pub mod requests;
pub mod server;
pub mod tries;

pub use card::{CardError, CardReader, Signed};
pub use client::{AgentClient, ClientError, PinOutcome, Signature};
pub use config::{AgentConfig, ConfigError, Mode};
pub use protocol::{check_challenge, ChallengeError, Kind, MAX_CHALLENGE_BYTES};
pub use server::{build, run, spawn, AgentError, RunningAgent};
