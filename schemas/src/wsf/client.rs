//! The WSC side (idwsf-2.0.md §3.1, §4.2–4.3, §4.4 step 13): build a request around the token
//! of an EPR, and validate what the service answers.
//!
//! A request carries, each with a `wsu:Id` and `S:mustUnderstand="1"`:
//!
//! ```text
//! S:Header
//!   sbf:Framework version=2.0   sb:Sender providerID   wsa:MessageID urn:uuid:…
//!   wsa:Action   wsa:To   sb:TargetIdentity?   sb:UserInteraction interact=DoNotInteract
//!   wsse:Security
//!     wsu:Timestamp (Created, Expires)
//!     saml:Assertion | saml:EncryptedAssertion       the EPR's token, byte-exact
//!     wsse:SecurityTokenReference?                   (plain assertions: KeyIdentifier = its ID)
//!     ds:Signature                                   detached, over Body + every header above
//! S:Body wsu:Id=body
//! ```
//!
//! The message is signed when the mechanism is a holder-of-key one (`…:SAMLV2`: the key the
//! token confirms) or `…:X509`, and whenever a signer is given (ZXID signs every message with its
//! metadata key, and the federation's WSPs verify a present signature).

use time::{Duration, OffsetDateTime};

use crate::dsig::{Signer, TrustedKey, VerifyPolicy};
use crate::idwsf::headers::{
    CredentialsContext, RedirectRequest, TargetIdentity, To, UserInteraction,
};
use crate::idwsf::wss::{Security, SecurityTokenReference, Timestamp};
use crate::idwsf::{interact, secmech, IdwsfHeaders, IdwsfXml, SamlToken, Status, TokenKind};
use crate::ns;
use crate::soap::{Envelope, Fault, SoapError};
use crate::xml::{parse_with, Document, Element, Node, ParseLimits};

use super::common::{body_element, canonical_body, verify_message, write_and_sign};
use super::{new_message_id, WsfError, DEFAULT_SKEW, DEFAULT_TIMESTAMP_LIFETIME};

/// What a mechanism asks of the WSC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MechanismNeeds {
    /// A token goes in `wsse:Security`.
    pub token: bool,
    /// The message is signed (by the confirmed key, or by the WSC's own key for X509).
    pub signature: bool,
}

/// What `mechanism` needs, or `None` when this profile does not support it (unknown URNs and
/// the SAML 1.x `…:SAML` mechanisms).
pub fn mechanism_needs(mechanism: &str) -> Option<MechanismNeeds> {
    if !secmech::is_known(mechanism) || mechanism.ends_with(":SAML") {
        return None;
    }
    let last = mechanism.rsplit(':').next().unwrap_or_default();
    Some(match last {
        "null" => MechanismNeeds {
            token: false,
            signature: false,
        },
        "X509" => MechanismNeeds {
            token: false,
            signature: true,
        },
        "Bearer" | "peerSAMLV2" => MechanismNeeds {
            token: true,
            signature: false,
        },
        "SAMLV2" => MechanismNeeds {
            token: true,
            signature: true,
        },
        _ => return None,
    })
}

/// What goes into a request besides its Body.
#[derive(Clone, Debug)]
pub struct RequestParams<'a> {
    /// Our provider ID (`sb:Sender@providerID`).
    pub sender: &'a str,
    /// The endpoint URL (`wsa:To`; the EPR's `wsa:Address`).
    pub to: &'a str,
    /// `wsa:Action`: `<service namespace>:<Body element>`.
    pub action: &'a str,
    /// The [`secmech`] URN chosen from the EPR's SecurityContext.
    pub mechanism: &'a str,
    /// The EPR's token, copied byte-exact into `wsse:Security`.
    pub token: Option<&'a SamlToken>,
    /// The resource owner's token when it is not the invoker (`sb:TargetIdentity`).
    pub target_identity: Option<&'a SamlToken>,
    /// `wsa:MessageID`; [`RequestParams::new`] makes a random `urn:uuid:` (keep it to check the
    /// response's RelatesTo).
    pub message_id: String,
    pub now: OffsetDateTime,
    /// `wsu:Expires` − `wsu:Created`.
    pub timestamp_lifetime: Duration,
    /// `sb:UserInteraction`; `DoNotInteract` by default (the portal calls WSPs in the
    /// background), `None` to omit the header.
    pub user_interaction: Option<UserInteraction>,
    /// Limits for checking the Body given.
    pub limits: ParseLimits,
}

impl<'a> RequestParams<'a> {
    /// A request with a fresh random MessageID, a [`DEFAULT_TIMESTAMP_LIFETIME`] Timestamp and
    /// `UserInteraction interact="DoNotInteract"`.
    pub fn new(
        sender: &'a str,
        to: &'a str,
        action: &'a str,
        mechanism: &'a str,
        token: Option<&'a SamlToken>,
        now: OffsetDateTime,
    ) -> Self {
        RequestParams {
            sender,
            to,
            action,
            mechanism,
            token,
            target_identity: None,
            message_id: new_message_id(),
            now,
            timestamp_lifetime: DEFAULT_TIMESTAMP_LIFETIME,
            user_interaction: Some(UserInteraction {
                interact: Some(interact::DO_NOT_INTERACT.to_string()),
                ..Default::default()
            }),
            limits: ParseLimits::default(),
        }
    }
}

/// The assertion ID of a plain token (for its SecurityTokenReference).
fn plain_assertion_id(token: &SamlToken) -> Option<String> {
    if token.kind != TokenKind::Assertion {
        return None;
    }
    let doc = crate::xml::parse(token.xml.as_bytes()).ok()?;
    doc.root().attr("ID").map(str::to_string)
}

/// Builds a request: every header with a `wsu:Id`, the token byte-exact in `wsse:Security`,
/// `body_xml` (one element, standalone) in the Body, and — when the mechanism requires it or a
/// signer is given — one detached signature over the Body and every header block.
pub fn build_request(
    params: &RequestParams<'_>,
    body_xml: &str,
    signer: Option<&dyn Signer>,
) -> Result<String, WsfError> {
    let needs = mechanism_needs(params.mechanism)
        .ok_or_else(|| WsfError::UnsupportedMechanism(params.mechanism.to_string()))?;
    if needs.token && params.token.is_none() {
        return Err(WsfError::TokenRequired(params.mechanism.to_string()));
    }
    if needs.signature && signer.is_none() {
        return Err(WsfError::SignerRequired(params.mechanism.to_string()));
    }
    for (what, value) in [
        ("sender", params.sender),
        ("to", params.to),
        ("action", params.action),
        ("message_id", params.message_id.as_str()),
    ] {
        if value.trim().is_empty() {
            return Err(WsfError::InvalidParams(format!("request {what} is empty")));
        }
    }
    let body = body_element(body_xml, &params.limits).map_err(WsfError::Body)?;

    let mut headers = IdwsfHeaders::request(params.sender, &params.message_id, params.action);
    headers.to = Some(To::new(params.to));
    headers.user_interaction = params.user_interaction.clone();
    headers.target_identity = params.target_identity.map(|t| TargetIdentity {
        id: None,
        token: Some(t.clone()),
    });
    headers.security = Some(Security {
        id: None,
        timestamp: Some(Timestamp::new(params.now, params.timestamp_lifetime)),
        token: params.token.cloned(),
        token_reference: params
            .token
            .and_then(plain_assertion_id)
            .map(SecurityTokenReference::saml_assertion_id),
        signature: None,
    });
    headers.assign_ids();
    write_and_sign(&headers, &body, signer)
}

/// What the WSC expects of the response.
#[derive(Clone, Debug)]
pub struct ResponseExpectations<'a> {
    /// The request's `wsa:MessageID` (the response's RelatesTo must name it).
    pub request_message_id: &'a str,
    /// The service called (the EPR's ProviderID): the response's `sb:Sender`.
    pub provider_id: &'a str,
    /// The service's signing keys, from metadata.
    pub signing_keys: &'a [TrustedKey],
    pub now: OffsetDateTime,
    pub skew: Duration,
    /// Refuse a response that is not signed (a present signature is always verified).
    pub require_signature: bool,
    pub limits: ParseLimits,
    pub verify_policy: VerifyPolicy,
}

impl<'a> ResponseExpectations<'a> {
    /// Expectations with the default skew and limits, signature required.
    pub fn new(
        request_message_id: &'a str,
        provider_id: &'a str,
        signing_keys: &'a [TrustedKey],
        now: OffsetDateTime,
    ) -> Self {
        ResponseExpectations {
            request_message_id,
            provider_id,
            signing_keys,
            now,
            skew: DEFAULT_SKEW,
            require_signature: true,
            limits: ParseLimits::default(),
            verify_policy: VerifyPolicy::default(),
        }
    }
}

/// A response that passed every check.
#[derive(Clone, Debug)]
pub struct ValidatedResponse {
    pub headers: IdwsfHeaders,
    pub message_id: String,
    pub sender: String,
    /// Whether the response was signed (and the signature verified).
    pub signed: bool,
    /// Exclusive canonical bytes of `S:Body`: for a signed response, exactly the bytes the
    /// signature covered.
    pub body_canonical: Vec<u8>,
    /// Those bytes parsed: the root is `S:Body`, with exactly one element child.
    pub body: Document,
    /// The `lu:Status` child of the Body element, if it has one (Discovery and DST responses
    /// report their outcome there).
    pub status: Option<Status>,
}

impl ValidatedResponse {
    /// The Body's element child (the response message).
    pub fn payload(&self) -> Element<'_> {
        self.body
            .root()
            .elements()
            .next()
            .expect("checked when validated")
    }
}

/// A SOAP fault the service answered with.
#[derive(Clone, Debug)]
pub struct RemoteFault {
    pub fault: Fault,
    /// Whether the fault passed the same checks as a response (RelatesTo, Sender, Timestamp,
    /// signature). An unauthenticated fault says only "the call failed": do not act on its
    /// content (a RedirectRequest, a CredentialsContext).
    pub authenticated: bool,
    /// Why it is not authenticated.
    pub not_authenticated_because: Option<String>,
    /// `sb:CredentialsContext` header (with `InappropriateCredentials`).
    pub credentials_context: Option<CredentialsContext>,
    /// `sb:RedirectRequest` header (with `InteractionRequired`).
    pub redirect_request: Option<RedirectRequest>,
}

impl RemoteFault {
    /// The ID-WSF code of the fault (`detail/lu:Status@code`, or an ID-WSF faultcode).
    pub fn code(&self) -> Option<&str> {
        self.fault.idwsf_code()
    }

    /// The second-level `lu:Status` code, if any.
    pub fn second_level(&self) -> Option<&str> {
        self.fault.status.as_ref().and_then(Status::second_level)
    }
}

impl std::fmt::Display for RemoteFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {} ({}{})",
            self.fault.code,
            self.code().unwrap_or("-"),
            self.fault.string,
            if self.authenticated {
                ""
            } else {
                ", not authenticated"
            }
        )
    }
}

/// The single element child of a Body, refusing character data.
fn single_child(body: Element<'_>) -> Result<Element<'_>, SoapError> {
    let mut only = None;
    let mut count = 0;
    for n in body.children() {
        match n {
            Node::Element(e) => {
                count += 1;
                only.get_or_insert(e);
            }
            Node::Text(t) if !t.trim().is_empty() => return Err(SoapError::UnexpectedText("Body")),
            _ => {}
        }
    }
    match (only, count) {
        (Some(e), 1) => Ok(e),
        _ => Err(SoapError::BodyChildCount(count)),
    }
}

/// The checks a response (or a fault) must pass: headers, RelatesTo, Sender, Timestamp and
/// signature. Returns the Body's canonical bytes (verified ones when signed).
fn check_response(
    env: &Envelope<'_>,
    headers: &IdwsfHeaders,
    expected: &ResponseExpectations<'_>,
) -> Result<(Vec<u8>, bool), WsfError> {
    headers
        .check_response(expected.request_message_id)
        .map_err(WsfError::Header)?;
    let sender = headers.require_sender().map_err(WsfError::Header)?;
    if sender != expected.provider_id {
        return Err(WsfError::WrongSender {
            expected: expected.provider_id.to_string(),
            found: Some(sender.to_string()),
        });
    }
    headers
        .require_timestamp()
        .and_then(|ts| ts.check(expected.now, expected.skew))
        .map_err(WsfError::Header)?;
    if super::common::message_signature(env).is_some() {
        let body = verify_message(env, headers, expected.signing_keys, &expected.verify_policy)
            .map_err(WsfError::ResponseSignature)?;
        Ok((body, true))
    } else if expected.require_signature {
        Err(WsfError::Unsigned)
    } else {
        Ok((canonical_body(env), false))
    }
}

/// Validates a response (idwsf-2.0.md §4.4 step 13): SOAP 1.1, no unknown mustUnderstand
/// header, Framework 2.0, MessageID, RelatesTo = the request (else `InvalidRefToMsgID`), Sender =
/// the service called (else `ProviderIDNotValid`), a fresh Timestamp (`StaleMsg`), and the
/// signature, verified with the service's metadata keys over Body, RelatesTo, Timestamp, Sender
/// and every other present header, when present (required by `require_signature`). The Body is
/// taken from the verified canonical bytes.
///
/// A SOAP fault comes back as [`WsfError::Fault`], built from the verified bytes and marked
/// authenticated when it passed the same checks; otherwise built from the message as received
/// and marked unauthenticated, with the reason.
pub fn validate_response(
    bytes: &[u8],
    expected: &ResponseExpectations<'_>,
) -> Result<ValidatedResponse, WsfError> {
    let doc = parse_with(bytes, &expected.limits).map_err(|e| WsfError::Envelope(e.into()))?;
    let env = Envelope::from_document(&doc).map_err(WsfError::Envelope)?;
    let is_fault = env.fault().is_some();
    let checked = env
        .check_must_understand(IdwsfHeaders::KNOWN)
        .map_err(|f| WsfError::MustUnderstand(f.string))
        .and_then(|()| IdwsfHeaders::from_envelope(&env).map_err(WsfError::Header))
        .and_then(|headers| {
            let (body, signed) = check_response(&env, &headers, expected)?;
            Ok((headers, body, signed))
        });

    if is_fault {
        return Err(fault_error(&env, checked, &expected.limits));
    }
    let (headers, body_canonical, signed) = checked?;
    let body = parse_with(&body_canonical, &expected.limits)?;
    let payload = single_child(body.root()).map_err(WsfError::Envelope)?;
    let status = payload
        .first(ns::LU, "Status")
        .map(Status::from_element)
        .transpose()
        .map_err(WsfError::Header)?;
    Ok(ValidatedResponse {
        message_id: headers
            .require_message_id()
            .map_err(WsfError::Header)?
            .to_string(),
        sender: headers
            .require_sender()
            .map_err(WsfError::Header)?
            .to_string(),
        headers,
        signed,
        body_canonical,
        body,
        status,
    })
}

fn fault_error(
    env: &Envelope<'_>,
    checked: Result<(IdwsfHeaders, Vec<u8>, bool), WsfError>,
    limits: &ParseLimits,
) -> WsfError {
    let from_tree = || match env.fault() {
        Some(Ok(f)) => Ok(f),
        Some(Err(e)) => Err(WsfError::Envelope(e)),
        None => unreachable!("called for a fault"),
    };
    match checked {
        Ok((headers, body, signed)) => {
            // Read the fault from the verified bytes.
            let fault = parse_with(&body, limits)
                .map_err(WsfError::from)
                .and_then(|doc| {
                    let child = single_child(doc.root()).map_err(WsfError::Envelope)?;
                    Fault::from_element(child).map_err(WsfError::Envelope)
                });
            match fault {
                Ok(fault) => WsfError::Fault(Box::new(RemoteFault {
                    fault,
                    authenticated: signed,
                    not_authenticated_because: (!signed)
                        .then(|| "the fault is not signed".to_string()),
                    credentials_context: headers.credentials_context,
                    redirect_request: headers.redirect_request,
                })),
                Err(e) => e,
            }
        }
        Err(why) => match from_tree() {
            Ok(fault) => WsfError::Fault(Box::new(RemoteFault {
                fault,
                authenticated: false,
                not_authenticated_because: Some(why.to_string()),
                credentials_context: None,
                redirect_request: None,
            })),
            Err(e) => e,
        },
    }
}
