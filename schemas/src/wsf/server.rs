//! The WSP / Discovery Service side: validate a request (idwsf-2.0.md §4.4, every step in order),
//! answer it ([`build_response`]) or refuse it ([`build_fault`]).
//!
//! # Fault table
//!
//! Every refusal is a [`WsfFault`] whose [`FaultKind`] says which check failed; it maps to a
//! SOAP 1.1 faultcode, a top-level `lu:Status` (SBF 2.0 codes, Lasso `idwsf2_strings.h`) and
//! sometimes a second-level `lu:Status` ([`super::code`]: WS-Security 1.0 / WS-Addressing 1.0
//! fault names) naming the class of failure.
//!
//! | §4.4 | check | [`FaultKind`] | faultcode | lu:Status | second level |
//! |---|---|---|---|---|---|
//! | 1 | not XML, over a limit, DOCTYPE, duplicate IDs, not an envelope, bad structure | `Malformed` | `S:Client` | `IDStarMsgNotUnderstood` | – |
//! | 1 | envelope not SOAP 1.1 | `Malformed(VersionMismatch)` | `S:VersionMismatch` | – | – |
//! | 1 | unknown header with `mustUnderstand="1"` for us | `MustUnderstand` | `S:MustUnderstand` | – | – |
//! | 1 | a known header block malformed or repeated | `Header` | as the block's code (e.g. `ProviderIDNotValid` for `sb:Sender`) | | – |
//! | 1 | two tokens in `wsse:Security` | `Header` | `S:Client` | `InappropriateCredentials` | `InvalidSecurityToken` |
//! | 2 | Framework missing, not 2.0, or in `urn:liberty:sb:2006-08` | `FrameworkVersion` | `S:Client` | `FrameworkVersionMismatch` | – |
//! | 3 | no MessageID | `MissingMessageId` | `S:Client` | `IDStarMsgNotUnderstood` | – |
//! | 3 | MessageID already seen from this Sender | `DuplicateMessage` | `S:Client` | `DuplicateMsg` | – |
//! | 4 | no Timestamp, Created beyond the skew either way, expired | `StaleMessage` | `S:Client` | `StaleMsg` | – |
//! | 5 | no Sender, or not a known provider | `UnknownSender` | `S:Client` | `ProviderIDNotValid` | – |
//! | 5 | affiliationID not a known provider | `UnknownAffiliation` | `S:Client` | `AffiliationIDNotValid` | – |
//! | 5 | Action missing or not served here | `ActionNotSupported` | `S:Client` | `IDStarMsgNotUnderstood` | `ActionNotSupported` |
//! | 5 | To present and not this endpoint | `WrongDestination` | `S:Client` | `IDStarMsgNotUnderstood` | `DestinationUnreachable` |
//! | 5 | ReplyTo / FaultTo not anonymous | `NonAnonymousReply` | `S:Client` | `IDStarMsgNotUnderstood` | `OnlyAnonymousAddressSupported` |
//! | 5 | ProcessingContext not supported here | `ProcessingContext` | `S:Server` | `ProcCtxURINotUnderstood` | – |
//! | 6 | no token, and every mechanism here needs one | `TokenMissing` | `S:Client` | `InappropriateCredentials` | `SecurityTokenUnavailable` |
//! | 6 | token not an assertion, plain where encryption is required, unreadable | `InvalidToken` | `S:Client` | `InappropriateCredentials` | `InvalidSecurityToken` |
//! | 6 | EncryptedAssertion does not decrypt with our keys | `TokenDecryption` | `S:Client` | `InappropriateCredentials` | `FailedCheck` |
//! | 7 | token unsigned, tampered, or not signed by a trusted issuer's metadata key | `TokenSignature` | `S:Client` | `InappropriateCredentials` | `FailedCheck` |
//! | 7 | Issuer not trusted, or not the owner of the key that signed | `UntrustedIssuer` | `S:Client` | `InappropriateCredentials` | `FailedAuthentication` |
//! | 8, 10 | NotBefore / NotOnOrAfter (token or confirmation data) beyond the skew | `TokenTime` | `S:Client` | `InappropriateCredentials` | `InvalidSecurityToken` |
//! | 8 | no AudienceRestriction, or one without our exact provider ID; Recipient not us | `AudienceMismatch` | `S:Client` | `InappropriateCredentials` | `FailedAuthentication` |
//! | 8 | OneTimeUse token seen before | `TokenReplayed` | `S:Client` | `InappropriateCredentials` | `InvalidSecurityToken` |
//! | 9 | no NameID; NameQualifier ≠ issuer; SPNameQualifier ≠ us | `SubjectMismatch` | `S:Client` | `InappropriateCredentials` | `FailedAuthentication` |
//! | 10 | confirmation names another presenter than the Sender | `PresenterMismatch` | `S:Client` | `InappropriateCredentials` | `FailedAuthentication` |
//! | 10 | bearer without TLS | `BearerWithoutTls` | `S:Client` | `InappropriateCredentials` | `FailedAuthentication` |
//! | 10 | holder-of-key without a message signature or matching TLS client certificate | `HolderOfKeyUnproven` | `S:Client` | `InappropriateCredentials` | `InvalidSecurity` |
//! | 10 | no bearer or holder-of-key confirmation (sender-vouches …) | `UnsupportedConfirmation` | `S:Client` | `InappropriateCredentials` | `UnsupportedSecurityToken` |
//! | 10 | message signature absent where needed, incomplete, not covering a part | `MessageSignature` | `S:Client` | `InappropriateCredentials` | `InvalidSecurity` |
//! | 10 | message signature does not verify (wrong key, tampered part) | `MessageSignature` | `S:Client` | `InappropriateCredentials` | `FailedCheck` |
//! | 11 | the mechanism used is not advertised here (fault carries `sb:CredentialsContext`) | `MechanismNotAccepted` | `S:Client` | `InappropriateCredentials` | `UnsupportedSecurityToken` |
//! | 12 | TargetIdentity token fails any token check | `TargetIdentity` | `S:Client` | `TargetIdentityNotValid` | the inner check's |
//! | – | Body without exactly one element | `Malformed` | `S:Client` | `IDStarMsgNotUnderstood` | – |
//!
//! Step 1 includes reading every known header block, so a malformed block (or two tokens) is
//! refused before step 2. Each refusal stops the checks: a message is answered for its first
//! failure in this order. The replay cache records a MessageID at step 3 even when a later check
//! fails, so a corrected message needs a new MessageID (as any resend does).

use std::collections::HashMap;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use openssl::x509::X509;
use time::{Duration, OffsetDateTime};

use crate::dsig::{verify_enveloped, DsigError, Signer, TrustedKey, VerifyPolicy};
use crate::idwsf::headers::{CredentialsContext, RedirectRequest};
use crate::idwsf::status::soap_fault_code_for;
use crate::idwsf::wss::{Security, Timestamp};
use crate::idwsf::{
    code as status, secmech, IdwsfError, IdwsfHeaders, SamlToken, Status, TokenKind, WSA_ANONYMOUS,
};
use crate::ns;
use crate::saml::{confirmation, nameid_format, Assertion, NameId, SamlXml, SubjectId};
use crate::soap::{Envelope, Fault, FaultCode, SoapError};
use crate::xenc::{decrypt_xml, DecryptionKeys, XencError};
use crate::xml::{parse, parse_with, Document, Element, ParseLimits};

use super::client::mechanism_needs;
use super::common::{
    body_element, canonical_body, message_signature, verify_message, write_and_sign,
};
use super::replay::MessageIdCache;
use super::{code, new_message_id, WsfError, DEFAULT_SKEW, DEFAULT_TIMESTAMP_LIFETIME};

/// The anonymous address as the SBF 2.0 errata writes it (wrong namespace, accepted for interop).
const WSA_ANONYMOUS_ERRATA: &str = "http://www.w3.org/2005/03/addressing/role/anonymous";

/// Prefix of the replay-cache "sender" under which OneTimeUse assertion IDs are recorded
/// (a NUL cannot occur in an XML provider ID, so it never meets a real sender).
const ONE_TIME_USE_SCOPE: &str = "\u{0}saml:OneTimeUse\u{0}";

/// The mechanisms an endpoint accepts unless configured otherwise: the two TAS3 requires.
pub const DEFAULT_MECHANISMS: &[&str] = &[secmech::TLS_BEARER, secmech::TLS_SAMLV2];

/// The providers this endpoint knows (from the federation metadata): who may send to it and
/// their signing keys.
pub trait PeerDirectory: Send + Sync {
    /// Whether `provider_id` is a known sender (`sb:Sender@providerID`).
    fn is_known_sender(&self, provider_id: &str) -> bool;
    /// The signing keys of `provider_id` (for `…:X509` messages and signed bearer messages).
    fn signing_keys(&self, provider_id: &str) -> Vec<TrustedKey>;
}

/// A fixed set of providers and their signing keys.
#[derive(Clone, Debug, Default)]
pub struct StaticPeers {
    peers: HashMap<String, Vec<TrustedKey>>,
}

impl StaticPeers {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) a provider.
    pub fn with(mut self, provider_id: impl Into<String>, keys: Vec<TrustedKey>) -> Self {
        self.insert(provider_id, keys);
        self
    }

    pub fn insert(&mut self, provider_id: impl Into<String>, keys: Vec<TrustedKey>) {
        self.peers.insert(provider_id.into(), keys);
    }
}

impl PeerDirectory for StaticPeers {
    fn is_known_sender(&self, provider_id: &str) -> bool {
        self.peers.contains_key(provider_id)
    }

    fn signing_keys(&self, provider_id: &str) -> Vec<TrustedKey> {
        self.peers.get(provider_id).cloned().unwrap_or_default()
    }
}

/// A token issuer this endpoint trusts: the DS (for a WSP) or the IdP (for the DS), with its
/// signing keys from metadata.
#[derive(Clone, Debug)]
pub struct TrustedIssuer {
    pub entity_id: String,
    pub keys: Vec<TrustedKey>,
}

impl TrustedIssuer {
    pub fn new(entity_id: impl Into<String>, keys: Vec<TrustedKey>) -> Self {
        TrustedIssuer {
            entity_id: entity_id.into(),
            keys,
        }
    }
}

/// What the receiving endpoint knows: its identity and configuration (built once) and the
/// transport facts of this request (TLS, client certificate, time).
#[derive(Clone)]
pub struct ServerContext<'a> {
    /// Our provider ID: the audience, SPNameQualifier and Sender of our answers.
    pub own_provider_id: &'a str,
    /// This endpoint's URL, compared exactly with `wsa:To`.
    pub endpoint_url: &'a str,
    /// The `wsa:Action`s served here (none: every request is refused).
    pub allowed_actions: &'a [&'a str],
    /// The mechanisms this endpoint advertises (exact URNs).
    pub accepted_mechanisms: &'a [&'a str],
    pub peers: &'a dyn PeerDirectory,
    pub trusted_issuers: &'a [TrustedIssuer],
    /// Our encryption keys, newest first (EncryptedAssertion, EncryptedID).
    pub decryption_keys: Option<&'a DecryptionKeys>,
    /// Refuse a plain `saml:Assertion` token (default: true).
    pub require_encrypted_token: bool,
    /// `sb:ProcessingContext` URIs this endpoint honours (none by default).
    pub processing_contexts: &'a [&'a str],
    pub now: OffsetDateTime,
    pub skew: Duration,
    /// Whether the request came over TLS.
    pub over_tls: bool,
    /// The TLS client certificate (DER), when the peer authenticated with one.
    pub tls_client_certificate: Option<&'a [u8]>,
    /// Accept a bearer token without TLS (`null:Bearer`; test labs only).
    pub allow_insecure_for_tests: bool,
    pub limits: ParseLimits,
    pub verify_policy: VerifyPolicy,
}

impl<'a> ServerContext<'a> {
    /// A context with the defaults: [`DEFAULT_MECHANISMS`], [`DEFAULT_SKEW`], encrypted tokens
    /// required, over TLS without client certificate, no action allowed yet.
    pub fn new(
        own_provider_id: &'a str,
        endpoint_url: &'a str,
        peers: &'a dyn PeerDirectory,
        trusted_issuers: &'a [TrustedIssuer],
        now: OffsetDateTime,
    ) -> Self {
        ServerContext {
            own_provider_id,
            endpoint_url,
            allowed_actions: &[],
            accepted_mechanisms: DEFAULT_MECHANISMS,
            peers,
            trusted_issuers,
            decryption_keys: None,
            require_encrypted_token: true,
            processing_contexts: &[],
            now,
            skew: DEFAULT_SKEW,
            over_tls: true,
            tls_client_certificate: None,
            allow_insecure_for_tests: false,
            limits: ParseLimits::default(),
            verify_policy: VerifyPolicy::default(),
        }
    }
}

impl ServerContext<'_> {
    /// Whether `provider_id` may send to this endpoint (§4.4 step 5).
    pub fn known_sender(&self, provider_id: &str) -> bool {
        self.peers.is_known_sender(provider_id)
    }
}

/// Which check refused the request (see the module's fault table).
#[derive(Debug, thiserror::Error)]
pub enum FaultKind {
    #[error("message refused: {0}")]
    Malformed(SoapError),
    #[error("{0}")]
    MustUnderstand(String),
    #[error("header refused: {0}")]
    Header(IdwsfError),
    #[error("sbf:Framework 2.0 required (found {})", .0.as_deref().unwrap_or("none"))]
    FrameworkVersion(Option<String>),
    #[error("wsa:MessageID is missing")]
    MissingMessageId,
    #[error("wsa:MessageID was already received")]
    DuplicateMessage,
    #[error("timestamp refused: {0}")]
    StaleMessage(String),
    #[error("sb:Sender {} is not a known provider", .0.as_deref().unwrap_or("(missing)"))]
    UnknownSender(Option<String>),
    #[error("sb:Sender affiliationID {0} is not a known affiliation")]
    UnknownAffiliation(String),
    #[error("wsa:Action {} is not served at this endpoint", .0.as_deref().unwrap_or("(missing)"))]
    ActionNotSupported(Option<String>),
    #[error("wsa:To {0} is not this endpoint")]
    WrongDestination(String),
    #[error("{0} is not anonymous: answers go back on the same connection")]
    NonAnonymousReply(String),
    #[error("sb:ProcessingContext {0} is not supported")]
    ProcessingContext(String),
    #[error("no security token")]
    TokenMissing,
    #[error("security token refused: {0}")]
    InvalidToken(String),
    #[error("security token does not decrypt with this provider's keys: {0}")]
    TokenDecryption(XencError),
    #[error("security token signature refused: {0}")]
    TokenSignature(DsigError),
    #[error("security token issuer {0} is not trusted for this key")]
    UntrustedIssuer(String),
    #[error("security token is not valid now: {0}")]
    TokenTime(String),
    #[error("security token is not addressed to this provider: {0}")]
    AudienceMismatch(String),
    #[error("one-time security token was already used")]
    TokenReplayed,
    #[error("security token subject refused: {0}")]
    SubjectMismatch(String),
    #[error("security token names another presenter than the sender")]
    PresenterMismatch,
    #[error("bearer token presented without TLS")]
    BearerWithoutTls,
    #[error("holder-of-key token without proof of the key: {0}")]
    HolderOfKeyUnproven(String),
    #[error("security token confirmation is not supported: {0}")]
    UnsupportedConfirmation(String),
    #[error("message signature refused: {0}")]
    MessageSignature(DsigError),
    #[error("security mechanism {0} is not accepted at this endpoint")]
    MechanismNotAccepted(String),
    #[error("sb:TargetIdentity refused: {0}")]
    TargetIdentity(Box<FaultKind>),
}

impl FaultKind {
    /// The top-level `lu:Status` code (`None` for the SOAP-level MustUnderstand and
    /// VersionMismatch faults, which carry no detail).
    pub fn status_code(&self) -> Option<&'static str> {
        use FaultKind::*;
        Some(match self {
            Malformed(SoapError::VersionMismatch(_)) | MustUnderstand(_) => return None,
            Malformed(_) | MissingMessageId => status::ID_STAR_MSG_NOT_UNDERSTOOD,
            Header(e) if is_two_tokens(e) => status::INAPPROPRIATE_CREDENTIALS,
            Header(e) => e.status_code(),
            FrameworkVersion(_) => status::FRAMEWORK_VERSION_MISMATCH,
            DuplicateMessage => status::DUPLICATE_MSG,
            StaleMessage(_) => status::STALE_MSG,
            UnknownSender(_) => status::PROVIDER_ID_NOT_VALID,
            UnknownAffiliation(_) => status::AFFILIATION_ID_NOT_VALID,
            ActionNotSupported(_) | WrongDestination(_) | NonAnonymousReply(_) => {
                status::ID_STAR_MSG_NOT_UNDERSTOOD
            }
            ProcessingContext(_) => status::PROC_CTX_URI_NOT_UNDERSTOOD,
            TokenMissing
            | InvalidToken(_)
            | TokenDecryption(_)
            | TokenSignature(_)
            | UntrustedIssuer(_)
            | TokenTime(_)
            | AudienceMismatch(_)
            | TokenReplayed
            | SubjectMismatch(_)
            | PresenterMismatch
            | BearerWithoutTls
            | HolderOfKeyUnproven(_)
            | UnsupportedConfirmation(_)
            | MessageSignature(_)
            | MechanismNotAccepted(_) => status::INAPPROPRIATE_CREDENTIALS,
            TargetIdentity(_) => status::TARGET_IDENTITY_NOT_VALID,
        })
    }

    /// The second-level `lu:Status` code ([`super::code`]), if the check has one.
    pub fn second_level(&self) -> Option<&'static str> {
        use FaultKind::*;
        Some(match self {
            Header(e) if is_two_tokens(e) => code::INVALID_SECURITY_TOKEN,
            ActionNotSupported(_) => code::ACTION_NOT_SUPPORTED,
            WrongDestination(_) => code::DESTINATION_UNREACHABLE,
            NonAnonymousReply(_) => code::ONLY_ANONYMOUS_ADDRESS_SUPPORTED,
            TokenMissing => code::SECURITY_TOKEN_UNAVAILABLE,
            InvalidToken(_) | TokenTime(_) | TokenReplayed => code::INVALID_SECURITY_TOKEN,
            TokenDecryption(_) | TokenSignature(_) => code::FAILED_CHECK,
            UntrustedIssuer(_) | AudienceMismatch(_) | SubjectMismatch(_) | PresenterMismatch
            | BearerWithoutTls => code::FAILED_AUTHENTICATION,
            HolderOfKeyUnproven(_) => code::INVALID_SECURITY,
            UnsupportedConfirmation(_) | MechanismNotAccepted(_) => {
                code::UNSUPPORTED_SECURITY_TOKEN
            }
            MessageSignature(e) => super::common::signature_second_level(e),
            TargetIdentity(inner) => return inner.second_level(),
            _ => return None,
        })
    }

    /// The SOAP 1.1 faultcode.
    pub fn soap_fault_code(&self) -> FaultCode {
        match self {
            FaultKind::Malformed(SoapError::VersionMismatch(_)) => FaultCode::version_mismatch(),
            FaultKind::MustUnderstand(_) => FaultCode::must_understand(),
            FaultKind::Header(e) => e.soap_fault_code(),
            other => soap_fault_code_for(other.status_code().unwrap_or(status::FAILED)),
        }
    }
}

/// `wsse:Security` holding more than one token (read at step 1).
fn is_two_tokens(e: &IdwsfError) -> bool {
    matches!(e, IdwsfError::Header { header: "wsse:Security", source }
        if matches!(**source, IdwsfError::TooMany { child: "token", .. }))
}

/// A refused request.
#[derive(Debug)]
pub struct WsfFault {
    pub kind: FaultKind,
    /// The request's `wsa:MessageID`, when one could be read: the fault's `wsa:RelatesTo`.
    pub request_message_id: Option<String>,
    /// For `InappropriateCredentials` about the mechanism: what this endpoint accepts
    /// (written as `sb:CredentialsContext`).
    pub accepted_mechanisms: Vec<String>,
}

impl std::fmt::Display for WsfFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.kind.fmt(f)
    }
}

impl std::error::Error for WsfFault {}

impl WsfFault {
    pub fn new(kind: FaultKind) -> Self {
        WsfFault {
            kind,
            request_message_id: None,
            accepted_mechanisms: Vec::new(),
        }
    }

    pub fn status_code(&self) -> Option<&'static str> {
        self.kind.status_code()
    }

    pub fn second_level(&self) -> Option<&'static str> {
        self.kind.second_level()
    }

    pub fn soap_fault_code(&self) -> FaultCode {
        self.kind.soap_fault_code()
    }

    /// The SOAP fault: faultcode, faultstring (the check's description, which never holds the
    /// principal's identifiers), `detail/lu:Status` with the second level nested.
    pub fn to_fault(&self) -> Fault {
        let mut fault = Fault::new(self.soap_fault_code(), self.kind.to_string());
        if let Some(top) = self.status_code() {
            let mut s = Status::new(top);
            if let Some(second) = self.second_level() {
                s.details.push(Status::new(second));
            }
            fault.status = Some(s);
        }
        fault
    }

    /// `sb:CredentialsContext` for the fault response, when the refusal is about credentials
    /// this endpoint would accept otherwise.
    pub fn credentials_context(&self) -> Option<CredentialsContext> {
        (!self.accepted_mechanisms.is_empty()).then(|| CredentialsContext {
            id: None,
            requested_authn_context: None,
            security_mech_ids: self.accepted_mechanisms.clone(),
        })
    }
}

/// A validated token: what was verified, read from the verified bytes.
#[derive(Clone, Debug)]
pub struct ValidatedToken {
    /// Parsed from the verified canonical bytes.
    pub assertion: Assertion,
    /// The exclusive canonical bytes the issuer's signature covered (without the signature).
    pub canonical: Vec<u8>,
    pub issuer: String,
    /// The subject (decrypted, if it was an EncryptedID): the principal's pseudonym here.
    pub name_id: NameId,
    pub authn_instant: Option<OffsetDateTime>,
    pub authn_context_class: Option<String>,
    /// Whether the token came as `saml:EncryptedAssertion`.
    pub encrypted: bool,
    /// The confirmation method that was satisfied (`None` for a TargetIdentity token).
    pub confirmed_by: Option<&'static str>,
}

/// A request that passed every check of §4.4.
#[derive(Clone, Debug)]
pub struct ValidatedRequest {
    pub headers: IdwsfHeaders,
    pub message_id: String,
    /// The authenticated sender (`sb:Sender@providerID`).
    pub sender: String,
    pub action: String,
    /// The [`secmech`] URN the request satisfied, among the accepted ones.
    pub mechanism: &'static str,
    /// The invocation token (absent for tokenless mechanisms such as `…:X509`).
    pub token: Option<ValidatedToken>,
    /// The TargetIdentity token, when the resource owner is not the invoker.
    pub target_identity: Option<ValidatedToken>,
    /// Whether a message signature was verified (by the confirmed key or the sender's key).
    pub signed: bool,
    /// Exclusive canonical bytes of `S:Body`: for a signed message exactly the bytes verified.
    pub body_canonical: Vec<u8>,
    /// Those bytes parsed (root `S:Body`, one element child).
    pub body: Document,
}

impl ValidatedRequest {
    /// The subject of the invocation token, if any.
    pub fn name_id(&self) -> Option<&NameId> {
        self.token.as_ref().map(|t| &t.name_id)
    }

    /// The principal the request is about: the TargetIdentity's subject, else the invoker's.
    pub fn target_name_id(&self) -> Option<&NameId> {
        self.target_identity
            .as_ref()
            .or(self.token.as_ref())
            .map(|t| &t.name_id)
    }

    /// The Body's element child (the request message), from the verified bytes.
    pub fn payload(&self) -> Element<'_> {
        self.body
            .root()
            .elements()
            .next()
            .expect("checked when validated")
    }
}

/// A holder-of-key confirmation key, from the verified token.
struct ConfirmedKey {
    key: TrustedKey,
}

/// What the token checks (steps 6–9 and the token half of 10) established.
struct CheckedToken {
    token: ValidatedToken,
    bearer: bool,
    hok: Vec<ConfirmedKey>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    Invocation,
    Target,
}

/// How the message was authenticated (step 10).
#[derive(Clone, Copy, PartialEq, Eq)]
enum MessageAuth {
    Nothing,
    SenderSigned,
    Bearer { sender_signed: bool },
    HolderOfKeySigned,
    PeerHolderOfKey,
}

/// Validates a request: every check of idwsf-2.0.md §4.4, in order (see the module's fault
/// table for the order and the answer to each failure).
pub fn validate_request(
    bytes: &[u8],
    ctx: &ServerContext<'_>,
    replay: &dyn MessageIdCache,
) -> Result<ValidatedRequest, WsfFault> {
    // 1. Envelope parses (one parser, limits, no DOCTYPE, unique IDs); SOAP 1.1;
    //    mustUnderstand honoured; every known header block readable.
    let doc = parse_with(bytes, &ctx.limits)
        .map_err(|e| WsfFault::new(FaultKind::Malformed(e.into())))?;
    let env = Envelope::from_document(&doc).map_err(|e| WsfFault::new(FaultKind::Malformed(e)))?;
    // From here on a fault relates to the request's MessageID when it can be read at all.
    let raw_message_id = env
        .headers_named(ns::WSA, "MessageID")
        .next()
        .and_then(|b| b.element.text().ok())
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty());
    let fail = |kind: FaultKind| WsfFault {
        kind,
        request_message_id: raw_message_id.clone(),
        accepted_mechanisms: Vec::new(),
    };
    env.check_must_understand(IdwsfHeaders::KNOWN)
        .map_err(|f| fail(FaultKind::MustUnderstand(f.string)))?;
    let headers = IdwsfHeaders::from_envelope(&env).map_err(|e| fail(FaultKind::Header(e)))?;

    // 2. Framework 2.0 (in urn:liberty:sb).
    headers.check_framework().map_err(|e| {
        fail(FaultKind::FrameworkVersion(match e {
            IdwsfError::FrameworkVersion(v) => Some(v),
            _ => None,
        }))
    })?;

    // 3. MessageID present and not seen from this (claimed) Sender while it could still pass
    //    step 4: until Created + skew (Created clamped to the window, so a far-future Timestamp
    //    cannot pin an entry).
    let message_id = headers
        .require_message_id()
        .map_err(|_| fail(FaultKind::MissingMessageId))?;
    let claimed_sender = headers
        .sender
        .as_ref()
        .map(|s| s.provider_id.as_str())
        .unwrap_or("");
    let remember_until = match headers.security.as_ref().and_then(|s| s.timestamp.as_ref()) {
        Some(ts) => ts.created.clamp(ctx.now - ctx.skew, ctx.now + ctx.skew) + ctx.skew,
        None => ctx.now + ctx.skew,
    };
    if !replay.check_and_insert(claimed_sender, message_id, remember_until) {
        return Err(fail(FaultKind::DuplicateMessage));
    }

    // 4. Timestamp Created present and within the skew; Expires honoured.
    headers
        .require_timestamp()
        .and_then(|ts| ts.check(ctx.now, ctx.skew))
        .map_err(|e| {
            fail(FaultKind::StaleMessage(match e {
                IdwsfError::StaleMessage(why) => why,
                other => other.to_string(),
            }))
        })?;

    // 5. Sender known; Action served here; To is this endpoint; replies on this connection.
    let sender = headers
        .require_sender()
        .map_err(|_| fail(FaultKind::UnknownSender(None)))?;
    if !ctx.known_sender(sender) {
        return Err(fail(FaultKind::UnknownSender(Some(sender.to_string()))));
    }
    if let Some(aff) = headers
        .sender
        .as_ref()
        .and_then(|s| s.affiliation_id.as_deref())
    {
        if !ctx.known_sender(aff) {
            return Err(fail(FaultKind::UnknownAffiliation(aff.to_string())));
        }
    }
    let action = match &headers.action {
        Some(a) if ctx.allowed_actions.contains(&a.value.as_str()) => a.value.clone(),
        other => {
            return Err(fail(FaultKind::ActionNotSupported(
                other.as_ref().map(|a| a.value.clone()),
            )))
        }
    };
    if let Some(to) = &headers.to {
        if to.value != ctx.endpoint_url {
            return Err(fail(FaultKind::WrongDestination(to.value.clone())));
        }
    }
    for (name, epr) in [
        ("wsa:ReplyTo", headers.reply_to.as_ref().map(|r| &r.0)),
        ("wsa:FaultTo", headers.fault_to.as_ref().map(|r| &r.0)),
    ] {
        if let Some(epr) = epr {
            if epr.address != WSA_ANONYMOUS && epr.address != WSA_ANONYMOUS_ERRATA {
                return Err(fail(FaultKind::NonAnonymousReply(name.to_string())));
            }
        }
    }
    if let Some(pc) = &headers.processing_context {
        if !ctx.processing_contexts.contains(&pc.value.as_str()) {
            return Err(fail(FaultKind::ProcessingContext(pc.value.clone())));
        }
    }

    // 6–9. The token: decrypted, signed by a trusted issuer, valid now, for us, about a subject
    //      we qualify; and the token half of 10 (presenter, confirmation data).
    let token = headers.security.as_ref().and_then(|s| s.token.as_ref());
    let tokenless_accepted = ctx
        .accepted_mechanisms
        .iter()
        .any(|m| mechanism_needs(m).is_some_and(|n| !n.token));
    if token.is_none() && !tokenless_accepted {
        let mut f = fail(FaultKind::TokenMissing);
        f.accepted_mechanisms = ctx
            .accepted_mechanisms
            .iter()
            .map(|m| m.to_string())
            .collect();
        return Err(f);
    }
    let checked = token
        .map(|t| check_token(t, ctx, replay, Role::Invocation, Some(sender)))
        .transpose()
        .map_err(&fail)?;

    // 10. Confirmation: bearer ⇒ TLS; holder-of-key ⇒ the message signature verifies with the
    //     confirmed key (or the TLS client certificate is that key). A message signature that
    //     is present is always verified, covering Body and every present header.
    let signature_present = message_signature(&env).is_some();
    let sender_signed = |keys: Vec<TrustedKey>| {
        verify_message(&env, &headers, &keys, &ctx.verify_policy)
            .map_err(|e| fail(FaultKind::MessageSignature(e)))
    };
    let (auth, body_canonical, confirmed_by) = match &checked {
        Some(c) if !c.hok.is_empty() && signature_present => {
            let keys: Vec<TrustedKey> = c.hok.iter().map(|k| k.key.clone()).collect();
            (
                MessageAuth::HolderOfKeySigned,
                sender_signed(keys)?,
                Some(confirmation::HOLDER_OF_KEY),
            )
        }
        Some(c) if !c.hok.is_empty() && client_certificate_matches(ctx, &c.hok) => (
            MessageAuth::PeerHolderOfKey,
            canonical_body(&env),
            Some(confirmation::HOLDER_OF_KEY),
        ),
        Some(c) if c.bearer => {
            if !ctx.over_tls && !ctx.allow_insecure_for_tests {
                return Err(fail(FaultKind::BearerWithoutTls));
            }
            if signature_present {
                (
                    MessageAuth::Bearer {
                        sender_signed: true,
                    },
                    sender_signed(ctx.peers.signing_keys(sender))?,
                    Some(confirmation::BEARER),
                )
            } else {
                (
                    MessageAuth::Bearer {
                        sender_signed: false,
                    },
                    canonical_body(&env),
                    Some(confirmation::BEARER),
                )
            }
        }
        Some(c) if !c.hok.is_empty() => {
            return Err(fail(FaultKind::HolderOfKeyUnproven(
                "no message signature and no matching TLS client certificate".into(),
            )))
        }
        Some(_) => unreachable!("check_token refuses a token without usable confirmation"),
        None if signature_present => (
            MessageAuth::SenderSigned,
            sender_signed(ctx.peers.signing_keys(sender))?,
            None,
        ),
        None => (MessageAuth::Nothing, canonical_body(&env), None),
    };

    // 11. The mechanism used is one this endpoint advertises.
    let mechanism = match accepted_mechanism(ctx, auth) {
        Ok(m) => m,
        Err(used) => {
            let mut f = fail(FaultKind::MechanismNotAccepted(used));
            f.accepted_mechanisms = ctx
                .accepted_mechanisms
                .iter()
                .map(|m| m.to_string())
                .collect();
            return Err(f);
        }
    };

    // 12. TargetIdentity validated like the token (no confirmation: the invoker presents it).
    let target_identity = headers
        .target_identity
        .as_ref()
        .and_then(|t| t.token.as_ref())
        .map(|t| check_token(t, ctx, replay, Role::Target, None))
        .transpose()
        .map_err(|k| fail(FaultKind::TargetIdentity(Box::new(k))))?
        .map(|c| c.token);

    // The Body, from the verified (or canonicalized) bytes: exactly one element.
    let body = parse_with(&body_canonical, &ctx.limits)
        .map_err(|e| fail(FaultKind::Malformed(e.into())))?;
    {
        let root = body.root();
        let mut n = 0;
        for node in root.children() {
            match node {
                crate::xml::Node::Element(_) => n += 1,
                crate::xml::Node::Text(t) if !t.trim().is_empty() => {
                    return Err(fail(FaultKind::Malformed(SoapError::UnexpectedText(
                        "Body",
                    ))))
                }
                _ => {}
            }
        }
        if n != 1 {
            return Err(fail(FaultKind::Malformed(SoapError::BodyChildCount(n))));
        }
    }

    let token = checked.map(|mut c| {
        c.token.confirmed_by = confirmed_by;
        c.token
    });
    Ok(ValidatedRequest {
        message_id: message_id.to_string(),
        sender: sender.to_string(),
        action,
        mechanism,
        token,
        target_identity,
        signed: matches!(
            auth,
            MessageAuth::HolderOfKeySigned
                | MessageAuth::SenderSigned
                | MessageAuth::Bearer {
                    sender_signed: true
                }
        ),
        body_canonical,
        body,
        headers,
    })
}

/// The accepted mechanism the message satisfies (strongest peer authentication first), or the
/// strongest mechanism it satisfies when none is accepted.
fn accepted_mechanism(ctx: &ServerContext<'_>, auth: MessageAuth) -> Result<&'static str, String> {
    let peers: &[&str] = match (ctx.over_tls, ctx.tls_client_certificate.is_some()) {
        (false, _) => &["null"],
        (true, false) => &["TLS", "null"],
        (true, true) => &["ClientTLS", "TLS", "null"],
    };
    let messages: &[(&str, &str)] = match auth {
        MessageAuth::Nothing => &[("2005-02", "null")],
        MessageAuth::SenderSigned => &[("2005-02", "X509")],
        MessageAuth::Bearer {
            sender_signed: false,
        } => &[("2005-02", "Bearer")],
        MessageAuth::Bearer {
            sender_signed: true,
        } => &[("2005-02", "Bearer"), ("2005-02", "X509")],
        MessageAuth::HolderOfKeySigned => &[("2006-08", "SAMLV2")],
        MessageAuth::PeerHolderOfKey => &[("2006-08", "peerSAMLV2")],
    };
    let mut satisfied = Vec::new();
    for peer in peers {
        for (date, msg) in messages {
            if *msg == "peerSAMLV2" && *peer != "ClientTLS" {
                continue;
            }
            let urn = format!("urn:liberty:security:{date}:{peer}:{msg}");
            if let Some(known) = secmech::ALL.iter().find(|m| **m == urn) {
                satisfied.push(*known);
            }
        }
    }
    satisfied
        .iter()
        .find(|m| ctx.accepted_mechanisms.contains(m))
        .copied()
        .ok_or_else(|| satisfied.first().map(|m| m.to_string()).unwrap_or_default())
}

/// Whether the TLS client certificate carries one of the confirmed keys (peerSAMLV2).
fn client_certificate_matches(ctx: &ServerContext<'_>, keys: &[ConfirmedKey]) -> bool {
    let Some(der) = ctx.tls_client_certificate.filter(|_| ctx.over_tls) else {
        return false;
    };
    let Ok(client) = X509::from_der(der).and_then(|c| c.public_key()) else {
        return false;
    };
    keys.iter().any(|k| k.key.public_key().public_eq(&client))
}

/// Steps 6–9 (and the token half of 10) for one token.
fn check_token(
    token: &SamlToken,
    ctx: &ServerContext<'_>,
    replay: &dyn MessageIdCache,
    role: Role,
    sender: Option<&str>,
) -> Result<CheckedToken, FaultKind> {
    // 6. An Assertion, or an EncryptedAssertion decrypted with our keys.
    let (doc, encrypted) = match token.kind {
        TokenKind::EncryptedAssertion => {
            let keys = ctx
                .decryption_keys
                .ok_or(FaultKind::TokenDecryption(XencError::NoMatchingKey))?;
            let doc =
                decrypt_xml(&token.xml, keys, &ctx.limits).map_err(FaultKind::TokenDecryption)?;
            (doc, true)
        }
        TokenKind::Assertion if ctx.require_encrypted_token => {
            return Err(FaultKind::InvalidToken(
                "a plain saml:Assertion: this profile requires saml:EncryptedAssertion".into(),
            ))
        }
        TokenKind::Assertion => (
            parse_with(token.xml.as_bytes(), &ctx.limits)
                .map_err(|e| FaultKind::InvalidToken(e.to_string()))?,
            false,
        ),
    };
    let root = doc.root();
    if !root.is(ns::SAML, "Assertion") {
        return Err(FaultKind::InvalidToken(format!(
            "decrypted content is {}, not saml:Assertion",
            root.qualified_name()
        )));
    }

    // 7. Signed by a trusted issuer's metadata key; the Issuer (read from the verified bytes)
    //    is trusted and owns that key.
    let all_keys: Vec<TrustedKey> = ctx
        .trusted_issuers
        .iter()
        .flat_map(|i| i.keys.iter().cloned())
        .collect();
    let verified =
        verify_enveloped(root, &all_keys, &ctx.verify_policy).map_err(FaultKind::TokenSignature)?;
    let verified_doc = verified
        .document()
        .map_err(|e| FaultKind::InvalidToken(e.to_string()))?;
    let assertion = Assertion::from_element(verified_doc.root())
        .map_err(|e| FaultKind::InvalidToken(e.to_string()))?;
    let signing_key = all_keys[verified.key_index].public_key();
    let issuer = assertion.issuer.value.clone();
    let issuer_ok = assertion
        .issuer
        .format
        .as_deref()
        .is_none_or(|f| f == nameid_format::ENTITY)
        && ctx.trusted_issuers.iter().any(|i| {
            i.entity_id == issuer && i.keys.iter().any(|k| k.public_key().public_eq(signing_key))
        });
    if !issuer_ok {
        return Err(FaultKind::UntrustedIssuer(issuer));
    }

    // 8. Conditions: validity (with skew), audience = us exactly, OneTimeUse.
    let now = ctx.now;
    let skew = ctx.skew;
    let conditions = assertion.conditions.as_ref().ok_or_else(|| {
        FaultKind::InvalidToken("no Conditions (validity and audience are required)".into())
    })?;
    if let Some(nb) = conditions.not_before {
        if now + skew < nb {
            return Err(FaultKind::TokenTime("NotBefore is in the future".into()));
        }
    }
    let not_on_or_after = conditions
        .not_on_or_after
        .ok_or_else(|| FaultKind::TokenTime("no NotOnOrAfter".into()))?;
    if now - skew >= not_on_or_after {
        return Err(FaultKind::TokenTime("expired (NotOnOrAfter)".into()));
    }
    if conditions.audience_restrictions.is_empty() {
        return Err(FaultKind::AudienceMismatch("no AudienceRestriction".into()));
    }
    for restriction in &conditions.audience_restrictions {
        // Exact string equality: no trimming, case folding, prefix or URL normalisation.
        if !restriction
            .audiences
            .iter()
            .any(|a| a == ctx.own_provider_id)
        {
            return Err(FaultKind::AudienceMismatch(format!(
                "audience {:?} does not include {}",
                restriction.audiences, ctx.own_provider_id
            )));
        }
    }
    if conditions.one_time_use {
        let scope = format!("{ONE_TIME_USE_SCOPE}{issuer}");
        if !replay.check_and_insert(&scope, &assertion.id, not_on_or_after + skew) {
            return Err(FaultKind::TokenReplayed);
        }
    }
    // ProxyRestriction limits assertions *issued on the basis of* this one: nothing to check on
    // acceptance. The DS reads it from `ValidatedToken::assertion` before minting WSP tokens.

    // 9. Subject: NameID (EncryptedID decrypted), NameQualifier = issuer, SPNameQualifier = us.
    let subject = assertion
        .subject
        .as_ref()
        .ok_or_else(|| FaultKind::SubjectMismatch("no Subject".into()))?;
    let name_id = match &subject.id {
        Some(SubjectId::NameId(n)) => n.clone(),
        Some(SubjectId::Encrypted(enc)) => {
            let keys = ctx
                .decryption_keys
                .ok_or(FaultKind::TokenDecryption(XencError::NoMatchingKey))?;
            let plain =
                decrypt_xml(&enc.xml, keys, &ctx.limits).map_err(FaultKind::TokenDecryption)?;
            NameId::from_element(plain.root())
                .map_err(|e| FaultKind::SubjectMismatch(format!("EncryptedID: {e}")))?
        }
        None => return Err(FaultKind::SubjectMismatch("no NameID".into())),
    };
    if name_id.name_qualifier.as_deref() != Some(issuer.as_str()) {
        return Err(FaultKind::SubjectMismatch(
            "NameQualifier is not the issuer".into(),
        ));
    }
    if name_id.sp_name_qualifier.as_deref() != Some(ctx.own_provider_id) {
        return Err(FaultKind::SubjectMismatch(
            "SPNameQualifier is not this provider".into(),
        ));
    }

    // 10 (token half). Presenter = Sender; confirmation data valid now and for us; the methods
    //    this profile supports, with the keys holder-of-key confirms.
    let mut bearer = false;
    let mut hok = Vec::new();
    let mut other_methods = Vec::new();
    if role == Role::Invocation {
        for sc in &subject.confirmations {
            match &sc.id {
                Some(SubjectId::NameId(presenter)) if Some(presenter.value.as_str()) != sender => {
                    return Err(FaultKind::PresenterMismatch);
                }
                Some(SubjectId::Encrypted(_)) => {
                    return Err(FaultKind::UnsupportedConfirmation(
                        "encrypted presenter identifier".into(),
                    ))
                }
                Some(SubjectId::NameId(_)) | None => {}
            }
            if let Some(data) = &sc.data {
                if data.not_before.is_some_and(|nb| now + skew < nb) {
                    return Err(FaultKind::TokenTime(
                        "SubjectConfirmationData NotBefore is in the future".into(),
                    ));
                }
                if data.not_on_or_after.is_some_and(|t| now - skew >= t) {
                    return Err(FaultKind::TokenTime(
                        "SubjectConfirmationData expired".into(),
                    ));
                }
                if let Some(r) = &data.recipient {
                    if r != ctx.own_provider_id && r != ctx.endpoint_url {
                        return Err(FaultKind::AudienceMismatch(format!(
                            "SubjectConfirmationData Recipient {r} is not this endpoint"
                        )));
                    }
                }
            }
            match sc.method.as_str() {
                confirmation::BEARER => bearer = true,
                confirmation::HOLDER_OF_KEY => {
                    let key_infos = sc
                        .data
                        .as_ref()
                        .filter(|d| d.key_info_type)
                        .map(|d| d.key_infos.as_slice())
                        .unwrap_or_default();
                    let keys = confirmed_keys(key_infos)?;
                    if keys.is_empty() {
                        return Err(FaultKind::InvalidToken(
                            "holder-of-key confirmation without an X509Certificate".into(),
                        ));
                    }
                    hok.extend(keys);
                }
                other => other_methods.push(other.to_string()),
            }
        }
        if !bearer && hok.is_empty() {
            return Err(FaultKind::UnsupportedConfirmation(
                if other_methods.is_empty() {
                    "no SubjectConfirmation".into()
                } else {
                    other_methods.join(" ")
                },
            ));
        }
    }

    let authn = assertion.authn_statements().next();
    let token = ValidatedToken {
        issuer,
        name_id,
        authn_instant: authn.map(|a| a.authn_instant),
        authn_context_class: authn.and_then(|a| a.authn_context.class_ref.clone()),
        encrypted,
        confirmed_by: None,
        canonical: verified.canonical,
        assertion,
    };
    Ok(CheckedToken { token, bearer, hok })
}

/// The keys of the `ds:X509Certificate`s in holder-of-key `ds:KeyInfo`s. They come from the
/// token, whose signature has been verified with the issuer's metadata key: the issuer vouches
/// for them. Other KeyInfo forms (KeyValue, KeyName) are not used by this profile.
fn confirmed_keys(key_infos: &[String]) -> Result<Vec<ConfirmedKey>, FaultKind> {
    let mut out = Vec::new();
    for ki in key_infos {
        let doc = parse(ki.as_bytes()).map_err(|e| FaultKind::InvalidToken(e.to_string()))?;
        for cert in doc
            .root()
            .descendants()
            .into_iter()
            .filter(|e| e.is(ns::DS, "X509Certificate"))
        {
            let text = cert
                .text()
                .map_err(|e| FaultKind::InvalidToken(e.to_string()))?;
            let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
            let der = STANDARD
                .decode(compact)
                .map_err(|_| FaultKind::InvalidToken("confirmation certificate base64".into()))?;
            let key = TrustedKey::from_certificate_der(&der)
                .map_err(|e| FaultKind::InvalidToken(format!("confirmation certificate: {e}")))?;
            out.push(ConfirmedKey { key });
        }
    }
    Ok(out)
}

/// What a response (or fault) carries besides its Body.
#[derive(Clone, Debug)]
pub struct ResponseParams<'a> {
    /// The request's MessageID (`wsa:RelatesTo`); `None` only for a fault to a request whose
    /// MessageID could not be read.
    pub request_message_id: Option<String>,
    /// Our provider ID (`sb:Sender`).
    pub own_provider_id: &'a str,
    pub now: OffsetDateTime,
    /// A fresh random `urn:uuid:` by default.
    pub message_id: String,
    pub timestamp_lifetime: Duration,
    pub limits: ParseLimits,
}

impl<'a> ResponseParams<'a> {
    pub fn new(
        request_message_id: Option<&str>,
        own_provider_id: &'a str,
        now: OffsetDateTime,
    ) -> Self {
        ResponseParams {
            request_message_id: request_message_id.map(str::to_string),
            own_provider_id,
            now,
            message_id: new_message_id(),
            timestamp_lifetime: DEFAULT_TIMESTAMP_LIFETIME,
            limits: ParseLimits::default(),
        }
    }

    /// The answer to a validated request.
    pub fn for_request(
        request: &ValidatedRequest,
        own_provider_id: &'a str,
        now: OffsetDateTime,
    ) -> Self {
        Self::new(Some(&request.message_id), own_provider_id, now)
    }

    /// The answer to a refused request.
    pub fn for_fault(fault: &WsfFault, own_provider_id: &'a str, now: OffsetDateTime) -> Self {
        Self::new(fault.request_message_id.as_deref(), own_provider_id, now)
    }

    fn headers(&self) -> IdwsfHeaders {
        let mut h = match &self.request_message_id {
            Some(r) => IdwsfHeaders::response(self.own_provider_id, &self.message_id, r),
            None => {
                let mut h = IdwsfHeaders::response(self.own_provider_id, &self.message_id, "");
                h.relates_to = None;
                h
            }
        };
        h.security = Some(Security {
            timestamp: Some(Timestamp::new(self.now, self.timestamp_lifetime)),
            ..Default::default()
        });
        h.assign_ids();
        h
    }
}

/// Builds a response: Framework, Sender, a new MessageID, RelatesTo, a Timestamp, `body_xml`
/// (one standalone element) in the Body, and — with a signer (the federation always gives one)
/// — one detached signature over the Body and every header block.
pub fn build_response(
    params: &ResponseParams<'_>,
    body_xml: &str,
    signer: Option<&dyn Signer>,
) -> Result<String, WsfError> {
    if params.request_message_id.is_none() {
        return Err(WsfError::InvalidParams(
            "a response needs the request's MessageID".into(),
        ));
    }
    let body = body_element(body_xml, &params.limits).map_err(WsfError::Body)?;
    write_and_sign(&params.headers(), &body, signer)
}

/// A fault to send back, with the headers that go with some codes.
#[derive(Clone, Debug)]
pub struct FaultResponse {
    pub fault: Fault,
    /// With `InappropriateCredentials`: what would be accepted.
    pub credentials_context: Option<CredentialsContext>,
    /// With `InteractionRequired`: where to send the user.
    pub redirect_request: Option<RedirectRequest>,
}

impl FaultResponse {
    pub fn new(fault: Fault) -> Self {
        FaultResponse {
            fault,
            credentials_context: None,
            redirect_request: None,
        }
    }
}

impl From<&WsfFault> for FaultResponse {
    fn from(f: &WsfFault) -> Self {
        FaultResponse {
            fault: f.to_fault(),
            credentials_context: f.credentials_context(),
            redirect_request: None,
        }
    }
}

/// Builds a fault response (SOAP 1.1 `S:Fault` with `detail/lu:Status`, sent with HTTP 500),
/// with the same headers as a response (RelatesTo when the request's MessageID is known) and,
/// with a signer, signed the same way so that the WSC can trust it.
pub fn build_fault(
    fault: &FaultResponse,
    params: &ResponseParams<'_>,
    signer: Option<&dyn Signer>,
) -> Result<String, WsfError> {
    let mut headers = params.headers();
    headers.credentials_context = fault.credentials_context.clone();
    headers.redirect_request = fault.redirect_request.clone();
    headers.assign_ids();
    write_and_sign(&headers, &fault.fault.to_xml(), signer)
}
