//! ID-WSF 2.0 message security, both sides (digest: `shared/reference/idwsf-2.0.md` §3–4, §7):
//!
//! - [`token`]: the security tokens the Discovery Service (per WSP) and the IdP (the DS token)
//!   mint — a signed `saml:Assertion`, wrapped in `saml:EncryptedAssertion` to the audience;
//! - [`client`]: the WSC side — build a request around a token ([`client::build_request`]) and
//!   validate the answer ([`client::validate_response`]);
//! - [`server`]: the WSP / DS side — every check of §4.4 in order ([`server::validate_request`]),
//!   each refusal a typed [`server::WsfFault`] with its SOAP fault and `lu:Status`, and the signed
//!   response or fault ([`server::build_response`], [`server::build_fault`]);
//! - [`replay`]: the MessageID replay cache ([`replay::MessageIdCache`]) and a bounded in-memory
//!   implementation storing a 16-byte keyed hash per ID.
//!
//! Bytes in, bytes out: HTTP (POST, `text/xml`, status 500 for faults, SOAPAction ignored) is the
//! services' business.
//!
//! # Profile decisions
//!
//! Where the standards leave a choice, this module makes the following one (the deployment
//! profile cites them):
//!
//! - **SOAP 1.1 only**; anything else named `Envelope` is answered `S:VersionMismatch`.
//! - **Framework**: `sbf:Framework` in `urn:liberty:sb` with `version="2.0"`, in requests *and*
//!   responses. The Danish `urn:liberty:sb:2006-08` spelling counts as absent
//!   (`FrameworkVersionMismatch`), as do a missing header and any other version.
//! - **Mandatory headers**: requests carry Framework, `sb:Sender`, `wsa:MessageID`, `wsa:Action`,
//!   `wsa:To` (written always; checked when present) and `wsse:Security` with a `wsu:Timestamp`;
//!   responses carry Framework, Sender, a new MessageID, `wsa:RelatesTo` (a MUST here, as in TAS3
//!   and ZXID `RELTO_FATAL`) and a Timestamp.
//! - **Every header block has a `wsu:Id`**, and a message signature must cover the Body and every
//!   present §4.3 part (Timestamp, MessageID, RelatesTo, To, Action, ReplyTo, FaultTo, Framework,
//!   Sender, TargetIdentity, UsageDirective, UserInteraction, ProcessingContext, Consent); a
//!   present part without an ID cannot be covered and is refused. References are resolved by ID
//!   only, IDs are unique in the document (the parser refuses duplicates), and the IDs required
//!   are read from the Body and header blocks actually consumed — so a Body moved elsewhere, or a
//!   second Body, is never what was verified.
//! - **Clock skew**: [`DEFAULT_SKEW`] = 180 s on every time check (Timestamp Created/Expires,
//!   token NotBefore/NotOnOrAfter, SubjectConfirmationData). The Timestamp of a message must be
//!   no older than the skew (its Created), whatever its Expires says; ZXID's hours-long slop is
//!   not reproduced.
//! - **Token lifetime**: [`DEFAULT_TOKEN_LIFETIME`] = 5 minutes. **Timestamp lifetime**:
//!   [`DEFAULT_TIMESTAMP_LIFETIME`] = 300 s.
//! - **Replay**: MessageIDs are remembered per (claimed) Sender until the message could no
//!   longer pass the Timestamp check (Created + skew). Tokens are *not* single-use (a DS token is
//!   reused across calls within its lifetime) unless they carry `OneTimeUse`, which is enforced
//!   through the same cache, keyed by issuer and assertion ID.
//! - **Tokens**: exactly one `saml:Assertion` or `saml:EncryptedAssertion` in `wsse:Security`;
//!   by default ([`server::ServerContext::require_encrypted_token`]) only the encrypted form is
//!   accepted (DESIGN §2 principle 2: a pseudonym travels only encrypted to its WSP). The token
//!   signature is enveloped, verified with the keys of the trusted issuers from metadata only —
//!   never `KeyInfo` — and the key that verified must belong to the Issuer named in the verified
//!   bytes. Conditions with NotOnOrAfter and an AudienceRestriction are required; the audience
//!   must equal our provider ID **exactly** (no prefix, no extension, no normalisation).
//! - **Subject**: NameID (or EncryptedID, decrypted with our keys) with NameQualifier = issuer
//!   and SPNameQualifier = our provider ID (for the DS receiving an IdP-issued DS token: the DS).
//! - **Confirmation**: bearer ⇒ TLS (or the explicit test switch); holder-of-key ⇒ the message
//!   signature verifies with a key from the token's `SubjectConfirmationData/ds:KeyInfo` (SAMLV2),
//!   or, for `ClientTLS:peerSAMLV2`, the TLS client certificate has that key. This is the one case
//!   where a key comes from a message: it comes from the *signed* token, after that token's
//!   signature was verified with the issuer's metadata key. Sender-vouches is not supported. A
//!   confirmation naming a presenter (`SubjectConfirmation/NameID`) must name the Sender.
//! - **Mechanisms** are inferred from the transport and the message (a message does not name its
//!   mechanism): peer authentication from [`server::ServerContext::over_tls`] and the TLS client
//!   certificate, message authentication from the token's confirmation and the signature. A
//!   stronger peer level satisfies a weaker one (ClientTLS satisfies TLS). The result must be one
//!   of the endpoint's advertised mechanisms, matched exactly. SAML 1.x (`…:SAML`) mechanisms are
//!   not supported.
//! - **Faults**: every refusal is a SOAP 1.1 fault with `detail/lu:Status`, the top-level code
//!   from the SBF 2.0 list, and, where it helps an implementer find the failed check, a
//!   second-level `lu:Status` named after the WS-Security 1.0 (§12) or WS-Addressing 1.0 fault
//!   ([`code`]). The table is in [`server`]. Fault strings never carry identifiers of the
//!   principal (NameID values) or key material.
//! - **Responses and faults are signed** by the responder's metadata key, covering Body,
//!   RelatesTo, Timestamp, Sender, MessageID and Framework.

pub mod client;
pub mod replay;
pub mod server;
pub mod token;

mod common;

pub use client::{
    build_request, validate_response, RemoteFault, RequestParams, ResponseExpectations,
    ValidatedResponse,
};
pub use replay::{InMemoryMessageIdCache, MessageIdCache};
pub use server::{
    build_fault, build_response, validate_request, FaultKind, FaultResponse, PeerDirectory,
    ResponseParams, ServerContext, StaticPeers, TrustedIssuer, ValidatedRequest, ValidatedToken,
    WsfFault,
};
pub use token::{mint_token, Confirmation, TokenParams};

use time::Duration;

use crate::dsig::DsigError;
use crate::idwsf::IdwsfError;
use crate::saml::SamlError;
use crate::soap::SoapError;
use crate::xenc::XencError;
use crate::xml::XmlError;

/// Clock skew tolerated on every time check.
pub const DEFAULT_SKEW: Duration = Duration::seconds(180);
/// Validity of a minted token.
pub const DEFAULT_TOKEN_LIFETIME: Duration = Duration::minutes(5);
/// `wsu:Expires` − `wsu:Created` of the Timestamps this module writes.
pub const DEFAULT_TIMESTAMP_LIFETIME: Duration = Duration::seconds(300);

/// Second-level `lu:Status` codes this profile puts under the SBF 2.0 code of a fault, so that
/// the sender can tell which check failed. They are the local names of the WS-Security 1.0
/// (§12) and WS-Addressing 1.0 SOAP fault codes.
pub mod code {
    /// WSS: "an error was discovered processing the `wsse:Security` header" — a message
    /// signature that is absent where required, or does not cover what it must.
    pub const INVALID_SECURITY: &str = "InvalidSecurity";
    /// WSS: an invalid security token — malformed, of the wrong form, expired, replayed.
    pub const INVALID_SECURITY_TOKEN: &str = "InvalidSecurityToken";
    /// WSS: the token could not be authenticated or authorised — untrusted issuer, audience,
    /// subject qualifiers, confirmation.
    pub const FAILED_AUTHENTICATION: &str = "FailedAuthentication";
    /// WSS: the signature or decryption was invalid.
    pub const FAILED_CHECK: &str = "FailedCheck";
    /// WSS: a referenced token could not be found — no token where the mechanism needs one.
    pub const SECURITY_TOKEN_UNAVAILABLE: &str = "SecurityTokenUnavailable";
    /// WSS: an unsupported token — a mechanism or confirmation this endpoint does not accept.
    pub const UNSUPPORTED_SECURITY_TOKEN: &str = "UnsupportedSecurityToken";
    /// WS-A: the `wsa:Action` is not supported at this endpoint.
    pub const ACTION_NOT_SUPPORTED: &str = "ActionNotSupported";
    /// WS-A: `wsa:To` does not name this endpoint.
    pub const DESTINATION_UNREACHABLE: &str = "DestinationUnreachable";
    /// WS-A: a non-anonymous `wsa:ReplyTo` / `wsa:FaultTo` (answers go back on the connection).
    pub const ONLY_ANONYMOUS_ADDRESS_SUPPORTED: &str = "OnlyAnonymousAddressSupported";
}

/// Why a token could not be minted, a request built, or a response accepted (WSC side).
#[derive(Debug, thiserror::Error)]
pub enum WsfError {
    #[error("invalid parameter: {0}")]
    InvalidParams(String),
    #[error("security mechanism {0:?} is not supported by this profile")]
    UnsupportedMechanism(String),
    #[error("security mechanism {0} signs the message: a signer is required")]
    SignerRequired(String),
    #[error("security mechanism {0} presents a token: a token is required")]
    TokenRequired(String),
    #[error("body: {0}")]
    Body(XmlError),
    #[error(transparent)]
    Saml(#[from] SamlError),
    #[error("signing: {0}")]
    Sign(DsigError),
    #[error(transparent)]
    Xenc(#[from] XencError),
    #[error(transparent)]
    Xml(#[from] XmlError),

    // Response validation (WSC side).
    #[error("response envelope refused: {0}")]
    Envelope(SoapError),
    #[error("response header {0} is marked mustUnderstand and is not understood")]
    MustUnderstand(String),
    #[error("response refused: {0}")]
    Header(IdwsfError),
    #[error("response sb:Sender {found:?} is not the service called ({expected:?})")]
    WrongSender {
        expected: String,
        found: Option<String>,
    },
    #[error("response is not signed")]
    Unsigned,
    #[error("response signature refused: {0}")]
    ResponseSignature(DsigError),
    #[error("the service answered with a fault: {0}")]
    Fault(Box<RemoteFault>),
}

impl WsfError {
    /// The ID-WSF status code naming a refused response (for logs and the conformance report),
    /// or the code the service sent in its fault.
    pub fn status_code(&self) -> Option<&str> {
        use crate::idwsf::code;
        Some(match self {
            WsfError::Envelope(_) | WsfError::MustUnderstand(_) => code::ID_STAR_MSG_NOT_UNDERSTOOD,
            WsfError::Header(e) => e.status_code(),
            WsfError::WrongSender { .. } => code::PROVIDER_ID_NOT_VALID,
            WsfError::Unsigned | WsfError::ResponseSignature(_) => code::INAPPROPRIATE_CREDENTIALS,
            WsfError::Fault(f) => return f.code(),
            _ => return None,
        })
    }

    /// The second-level code, as [`code`] names them, for a refused response.
    pub fn second_level(&self) -> Option<&str> {
        match self {
            WsfError::Unsigned => Some(code::INVALID_SECURITY),
            WsfError::ResponseSignature(e) => Some(common::signature_second_level(e)),
            WsfError::Fault(f) => f.second_level(),
            _ => None,
        }
    }
}

/// A fresh `wsa:MessageID`: `urn:uuid:` and a random (version 4) UUID.
pub fn new_message_id() -> String {
    format!("urn:uuid:{}", common::uuid_v4())
}

/// A fresh XML ID for an assertion: `_` and 32 random hex digits (an NCName, 128 bits).
pub fn new_assertion_id() -> String {
    let mut b = [0u8; 16];
    common::random(&mut b);
    let mut s = String::with_capacity(33);
    s.push('_');
    for x in b {
        s.push_str(&format!("{x:02x}"));
    }
    s
}
