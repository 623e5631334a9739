//! SP side: validating a `Response` at the assertion consumer service (SAML profiles §4.1.4.3 and
//! §4.1.4.5, core §2 and §3.2.2; every row of `attacks.md` that an SP decides).

use time::{Duration, OffsetDateTime};

use super::replay::ReplayCache;
use super::{within_skew, DEFAULT_SKEW};
use crate::dsig::{verify_enveloped, DsigError, TrustedKey, VerifyPolicy};
use crate::ns::{DS, SAML, SAMLP};
use crate::saml::{
    confirmation, nameid_format, Assertion, AssertionItem, Attribute, AttributeItem, NameId,
    Response, SamlError, SamlXml, SubjectId,
};
use crate::xenc::{decrypt_element, decrypt_xml, DecryptionKeys, XencError};
use crate::xml::{parse, parse_with, Document, Element, ParseLimits, XmlError};

/// What the ACS knows when a Response arrives.
pub struct SpContext<'a> {
    /// This SP's entity ID: the audience the assertion must name.
    pub sp_entity: &'a str,
    /// The URL the Response was posted to: `Destination` and `Recipient` must name it.
    pub acs_url: &'a str,
    /// The IdP the SP sent the resident to (entity ID).
    pub expected_idp: &'a str,
    /// That IdP's signing keys, from the trust store (`TrustStore::idp_signing_keys`).
    pub idp_keys: &'a [TrustedKey],
    /// This SP's decryption keys, newest first (rollover: all are tried).
    pub decryption_keys: Option<&'a DecryptionKeys>,
    /// The ID of the AuthnRequest bound to *this* browser session; `None` when the session sent
    /// none (an unsolicited Response, refused unless `allow_unsolicited`).
    pub expected_in_response_to: Option<&'a str>,
    pub allow_unsolicited: bool,
    /// One-time use of assertion IDs (shared across the cluster in production).
    pub replay: &'a dyn ReplayCache,
    pub now: OffsetDateTime,
    /// Tolerated clock skew on every time comparison (default 180 s).
    pub skew: Duration,
    /// The SP's `WantAssertionsSigned`. The federation profile requires a signed assertion in
    /// every case, so `false` relaxes nothing; the field records the metadata value.
    pub want_assertions_signed: bool,
    /// XML signature policy (SHA-1 refused unless switched on for an interop lab).
    pub policy: VerifyPolicy,
    /// Parser limits for the Response.
    pub limits: ParseLimits,
}

impl<'a> SpContext<'a> {
    /// A context with the defaults: solicited only, 180 s skew, SHA-1 off, 256 KiB limit.
    pub fn new(
        sp_entity: &'a str,
        acs_url: &'a str,
        expected_idp: &'a str,
        idp_keys: &'a [TrustedKey],
        replay: &'a dyn ReplayCache,
        now: OffsetDateTime,
    ) -> Self {
        SpContext {
            sp_entity,
            acs_url,
            expected_idp,
            idp_keys,
            decryption_keys: None,
            expected_in_response_to: None,
            allow_unsolicited: false,
            replay,
            now,
            skew: DEFAULT_SKEW,
            want_assertions_signed: true,
            policy: VerifyPolicy::default(),
            limits: ParseLimits::default(),
        }
    }
}

/// Why a Response was refused. Each check has its own variant so that tests and the conformance
/// suite can tell them apart.
#[derive(Debug, thiserror::Error)]
pub enum SsoError {
    #[error("no signing key of the IdP is configured")]
    NoIdpKeys,
    #[error("not well-formed: {0}")]
    Xml(#[from] XmlError),
    #[error("the message is {0}, not samlp:Response")]
    NotAResponse(String),
    #[error("SAML version {0:?} is not 2.0")]
    Version(String),
    #[error("does not follow the schema: {0}")]
    Saml(#[from] SamlError),
    #[error("Response signature refused: {0}")]
    ResponseSignature(DsigError),
    #[error("the Response has no Destination")]
    MissingDestination,
    #[error("Destination {found:?} is not this ACS {expected:?}")]
    WrongDestination { expected: String, found: String },
    #[error("the Response has no Issuer (required when signed or encrypted)")]
    MissingIssuer,
    #[error("Response Issuer {found:?} is not the IdP {expected:?}")]
    WrongIssuer { expected: String, found: String },
    #[error("Issuer Format {0:?} is not the entity format")]
    IssuerFormat(String),
    #[error("the Response has no InResponseTo but this session sent request {expected:?}")]
    MissingInResponseTo { expected: String },
    #[error("InResponseTo {found:?} does not name the request of this session ({expected:?})")]
    WrongInResponseTo {
        expected: Option<String>,
        found: String,
    },
    #[error("unsolicited Responses are not accepted")]
    Unsolicited,
    #[error("Response IssueInstant {instant} is not within the skew of {now}")]
    ResponseIssueInstant {
        instant: OffsetDateTime,
        now: OffsetDateTime,
    },
    #[error("IdP status {0} {1:?}: {2:?}")]
    Status(String, Option<String>, Option<String>),
    #[error("the Response carries no assertion")]
    NoAssertion,
    #[error("the Response carries {0} assertions; exactly one is accepted")]
    AssertionCount(usize),
    #[error("the assertion is encrypted and no decryption key is configured")]
    NoDecryptionKeys,
    #[error("decryption failed: {0}")]
    Decrypt(XencError),
    #[error("the EncryptedAssertion does not hold an Assertion")]
    EncryptedNotAssertion,
    #[error("the assertion is not signed (the profile requires a signed assertion)")]
    AssertionUnsigned,
    #[error("assertion signature refused: {0}")]
    AssertionSignature(DsigError),
    #[error("assertion Issuer {found:?} is not the IdP {expected:?}")]
    AssertionIssuer { expected: String, found: String },
    #[error("assertion IssueInstant {instant} is not within the skew of {now}")]
    AssertionIssueInstant {
        instant: OffsetDateTime,
        now: OffsetDateTime,
    },
    #[error("the assertion has no Subject")]
    MissingSubject,
    #[error("the Subject has no NameID")]
    MissingNameId,
    #[error("NameID qualifier {0:?} names another party")]
    NameIdQualifier(String),
    #[error(
        "the Subject has {0} SubjectConfirmations; exactly one bearer confirmation is accepted"
    )]
    SubjectConfirmationCount(usize),
    #[error("SubjectConfirmation method {0:?} is not bearer")]
    NotBearer(String),
    #[error("the bearer confirmation has no SubjectConfirmationData")]
    MissingConfirmationData,
    #[error("the bearer confirmation carries NotBefore")]
    ConfirmationNotBefore,
    #[error("the bearer confirmation has no Recipient")]
    MissingRecipient,
    #[error("Recipient {found:?} is not this ACS {expected:?}")]
    WrongRecipient { expected: String, found: String },
    #[error("the bearer confirmation has no NotOnOrAfter")]
    MissingConfirmationExpiry,
    #[error("the bearer confirmation expired at {0}")]
    ConfirmationExpired(OffsetDateTime),
    #[error("confirmation InResponseTo {found:?} does not name the request of this session ({expected:?})")]
    ConfirmationInResponseTo {
        expected: Option<String>,
        found: Option<String>,
    },
    #[error("the assertion has no Conditions")]
    MissingConditions,
    #[error("the assertion is not valid before {0}")]
    NotYetValid(OffsetDateTime),
    #[error("the assertion expired at {0}")]
    Expired(OffsetDateTime),
    #[error("the assertion has no AudienceRestriction")]
    MissingAudienceRestriction,
    #[error("an AudienceRestriction does not name this SP: {0:?}")]
    WrongAudience(Vec<String>),
    #[error("the assertion has {0} AuthnStatements; exactly one is accepted")]
    AuthnStatementCount(usize),
    #[error("the IdP session ended at {0}")]
    SessionExpired(OffsetDateTime),
    #[error("assertion {0:?} was already used (replay)")]
    Replay(String),
}

/// The assertion of an accepted Response.
#[derive(Clone, Debug)]
pub struct ValidatedAssertion {
    /// The assertion, parsed from the canonical bytes its signature covers.
    pub assertion: Assertion,
    pub response_id: String,
    pub assertion_id: String,
    pub issuer: String,
    /// The subject's identifier (decrypted when it came as `EncryptedID`).
    pub name_id: NameId,
    pub session_index: Option<String>,
    pub authn_instant: OffsetDateTime,
    /// `AuthnContextClassRef`.
    pub authn_context: Option<String>,
    /// Every attribute, encrypted ones decrypted.
    pub attributes: Vec<Attribute>,
    /// The last instant the assertion may be used: the earlier of `Conditions/@NotOnOrAfter`
    /// and the bearer confirmation's `NotOnOrAfter`.
    pub not_on_or_after: OffsetDateTime,
    pub session_not_on_or_after: Option<OffsetDateTime>,
    pub response_signed: bool,
    pub encrypted: bool,
}

impl ValidatedAssertion {
    /// The first attribute with this name.
    pub fn attribute(&self, name: &str) -> Option<&Attribute> {
        self.attributes.iter().find(|a| a.name == name)
    }
}

/// Validates a `samlp:Response` (the decoded `SAMLResponse` of the POST binding).
pub fn validate_response(xml: &[u8], ctx: &SpContext<'_>) -> Result<ValidatedAssertion, SsoError> {
    if ctx.idp_keys.is_empty() {
        return Err(SsoError::NoIdpKeys);
    }
    // One parser, no DOCTYPE or entities, duplicate IDs refused (attacks.md "Parser
    // differential", "libxml2 entity quirk").
    let doc = parse_with(xml, &ctx.limits)?;
    let root = doc.root();
    if !root.is(SAMLP, "Response") {
        return Err(SsoError::NotAResponse(root.qualified_name()));
    }
    let version = root.attr("Version").unwrap_or("");
    if version != crate::saml::VERSION {
        return Err(SsoError::Version(version.to_string()));
    }

    // The Response signature is optional in SAML; when present it must verify with the IdP's
    // metadata keys, and the Response is then read only from the canonical bytes it covers
    // (XSW1/XSW2/XSW10 are refused by the signature layer's structure rules).
    let response_signed = root.first(DS, "Signature").is_some();
    let verified_doc: Document;
    let working = if response_signed {
        let v = verify_enveloped(root, ctx.idp_keys, &ctx.policy)
            .map_err(SsoError::ResponseSignature)?;
        verified_doc = parse_with(&v.canonical, &ctx.limits)?;
        verified_doc.root()
    } else {
        root
    };
    let response = Response::from_element(working)?;
    let h = &response.header;

    // Destination (profile decision 2; SAML bindings §3.5.5.2): a Response for another ACS or SP
    // is never accepted here (attacks.md "Audience/Recipient/Destination").
    match h.destination.as_deref() {
        None => return Err(SsoError::MissingDestination),
        Some(d) if d != ctx.acs_url => {
            return Err(SsoError::WrongDestination {
                expected: ctx.acs_url.to_string(),
                found: d.to_string(),
            })
        }
        Some(_) => {}
    }
    // Issuer (SAML profiles §4.1.4.2: required when signed or when the assertion is encrypted;
    // when present it must be the IdP the resident was sent to).
    let has_encrypted = response
        .assertions
        .iter()
        .any(|a| matches!(a, AssertionItem::Encrypted(_)));
    match &h.issuer {
        Some(i) => check_issuer(i, ctx.expected_idp, |found| SsoError::WrongIssuer {
            expected: ctx.expected_idp.to_string(),
            found,
        })?,
        None if response_signed || has_encrypted => return Err(SsoError::MissingIssuer),
        None => {}
    }
    // InResponseTo binds the Response to the request of this browser session (attacks.md
    // "InResponseTo"; SAML profiles §4.1.4.3).
    match (ctx.expected_in_response_to, h.in_response_to.as_deref()) {
        (Some(e), Some(f)) if e == f => {}
        (Some(e), None) => {
            return Err(SsoError::MissingInResponseTo {
                expected: e.to_string(),
            })
        }
        (e, Some(f)) => {
            return Err(SsoError::WrongInResponseTo {
                expected: e.map(str::to_string),
                found: f.to_string(),
            })
        }
        (None, None) if !ctx.allow_unsolicited => return Err(SsoError::Unsolicited),
        (None, None) => {}
    }
    // Freshness (profile decision 5).
    if !within_skew(h.issue_instant, ctx.now, ctx.skew) {
        return Err(SsoError::ResponseIssueInstant {
            instant: h.issue_instant,
            now: ctx.now,
        });
    }
    // A non-Success status is the answer, whatever else the Response carries (attacks.md
    // "Status": an assertion next to an error status is never used).
    if !h.status.is_success() {
        return Err(SsoError::Status(
            h.status.code.value.clone(),
            h.status.second_level().map(str::to_string),
            h.status.message.clone(),
        ));
    }

    // Exactly one assertion, counted over the whole document (profile decision 3). An assertion
    // inside another one is part of that assertion's signed content (the ID-WSF Discovery
    // bootstrap carries the DS token in an AttributeValue), so only outermost ones count; a second
    // one anywhere else (Extensions, Status, beside it) is refused.
    let is_assertion =
        |e: &Element<'_>| e.is(SAML, "Assertion") || e.is(SAML, "EncryptedAssertion");
    let found: Vec<Element<'_>> = working
        .descendants()
        .into_iter()
        .filter(|e| is_assertion(e))
        .filter(|e| {
            let mut up = e.parent();
            while let Some(a) = up {
                if is_assertion(&a) {
                    return false;
                }
                up = a.parent();
            }
            true
        })
        .collect();
    match (found.len(), response.assertions.len()) {
        (0, _) => return Err(SsoError::NoAssertion),
        (1, 1) => {}
        (n, m) => return Err(SsoError::AssertionCount(n.max(m))),
    }
    let item = found[0];
    let encrypted = item.is(SAML, "EncryptedAssertion");

    // Decrypt, then verify like any assertion: decryption proves nothing about the sender
    // (attacks.md "Encrypted-assertion path").
    let decrypted: Document;
    let assertion_el = if encrypted {
        let keys = ctx.decryption_keys.ok_or(SsoError::NoDecryptionKeys)?;
        decrypted = decrypt_element(item, keys, &ctx.limits).map_err(SsoError::Decrypt)?;
        if !decrypted.root().is(SAML, "Assertion") {
            return Err(SsoError::EncryptedNotAssertion);
        }
        decrypted.root()
    } else {
        item
    };
    // The assertion signature is required in every case (profile decision 1; attacks.md
    // "Signature exclusion", "Partial coverage"), and the assertion is parsed only from the
    // canonical bytes it covers (XSW3–XSW8, comment injection: comments are not in them).
    if assertion_el.first(DS, "Signature").is_none() {
        return Err(SsoError::AssertionUnsigned);
    }
    let va = verify_enveloped(assertion_el, ctx.idp_keys, &ctx.policy)
        .map_err(SsoError::AssertionSignature)?;
    let adoc = parse(&va.canonical)?;
    let assertion = Assertion::from_element(adoc.root())?;

    check_issuer(&assertion.issuer, ctx.expected_idp, |found| {
        SsoError::AssertionIssuer {
            expected: ctx.expected_idp.to_string(),
            found,
        }
    })?;
    if !within_skew(assertion.issue_instant, ctx.now, ctx.skew) {
        return Err(SsoError::AssertionIssueInstant {
            instant: assertion.issue_instant,
            now: ctx.now,
        });
    }

    // Subject: one bearer confirmation, for this ACS, this request, still in time (SAML
    // profiles §4.1.4.2).
    let subject = assertion.subject.as_ref().ok_or(SsoError::MissingSubject)?;
    let [sc] = subject.confirmations.as_slice() else {
        return Err(SsoError::SubjectConfirmationCount(
            subject.confirmations.len(),
        ));
    };
    if sc.method != confirmation::BEARER {
        return Err(SsoError::NotBearer(sc.method.clone()));
    }
    let scd = sc.data.as_ref().ok_or(SsoError::MissingConfirmationData)?;
    if scd.not_before.is_some() {
        return Err(SsoError::ConfirmationNotBefore);
    }
    match scd.recipient.as_deref() {
        None => return Err(SsoError::MissingRecipient),
        Some(r) if r != ctx.acs_url => {
            return Err(SsoError::WrongRecipient {
                expected: ctx.acs_url.to_string(),
                found: r.to_string(),
            })
        }
        Some(_) => {}
    }
    let confirmation_until = scd
        .not_on_or_after
        .ok_or(SsoError::MissingConfirmationExpiry)?;
    if confirmation_until <= ctx.now - ctx.skew {
        return Err(SsoError::ConfirmationExpired(confirmation_until));
    }
    if scd.in_response_to.as_deref() != ctx.expected_in_response_to {
        return Err(SsoError::ConfirmationInResponseTo {
            expected: ctx.expected_in_response_to.map(str::to_string),
            found: scd.in_response_to.clone(),
        });
    }

    // Conditions (SAML core §2.5): validity window and audience, by exact string equality, in
    // every AudienceRestriction (a token for SP A is never accepted at SP B, nor at an SP whose
    // ID merely starts with or extends A's).
    let conditions = assertion
        .conditions
        .as_ref()
        .ok_or(SsoError::MissingConditions)?;
    if let Some(nb) = conditions.not_before {
        if nb > ctx.now + ctx.skew {
            return Err(SsoError::NotYetValid(nb));
        }
    }
    if let Some(noa) = conditions.not_on_or_after {
        if noa <= ctx.now - ctx.skew {
            return Err(SsoError::Expired(noa));
        }
    }
    if conditions.audience_restrictions.is_empty() {
        return Err(SsoError::MissingAudienceRestriction);
    }
    if let Some(ar) = conditions
        .audience_restrictions
        .iter()
        .find(|ar| !ar.audiences.iter().any(|a| a == ctx.sp_entity))
    {
        return Err(SsoError::WrongAudience(ar.audiences.clone()));
    }

    // One AuthnStatement (profile decision 4; SAML profiles §4.1.4.2 requires at least one).
    let authn: Vec<_> = assertion.authn_statements().collect();
    let [authn] = authn.as_slice() else {
        return Err(SsoError::AuthnStatementCount(authn.len()));
    };
    if let Some(until) = authn.session_not_on_or_after {
        if until <= ctx.now - ctx.skew {
            return Err(SsoError::SessionExpired(until));
        }
    }

    // The identifier: plain or EncryptedID (the ciphertext is covered by the signature).
    let name_id = match &subject.id {
        None => return Err(SsoError::MissingNameId),
        Some(SubjectId::NameId(n)) => n.clone(),
        Some(SubjectId::Encrypted(enc)) => {
            let keys = ctx.decryption_keys.ok_or(SsoError::NoDecryptionKeys)?;
            let d = decrypt_xml(&enc.xml, keys, &ctx.limits).map_err(SsoError::Decrypt)?;
            NameId::from_element(d.root())?
        }
    };
    // A pairwise identifier qualified for another SP or by another IdP is not this SP's
    // (DESIGN principle 2).
    if let Some(q) = name_id.sp_name_qualifier.as_deref() {
        if q != ctx.sp_entity {
            return Err(SsoError::NameIdQualifier(q.to_string()));
        }
    }
    if let Some(q) = name_id.name_qualifier.as_deref() {
        if q != ctx.expected_idp {
            return Err(SsoError::NameIdQualifier(q.to_string()));
        }
    }

    let mut attributes = Vec::new();
    for statement in assertion.attribute_statements() {
        for item in &statement.items {
            match item {
                AttributeItem::Plain(a) => attributes.push(a.clone()),
                AttributeItem::Encrypted(enc) => {
                    let keys = ctx.decryption_keys.ok_or(SsoError::NoDecryptionKeys)?;
                    let d = decrypt_xml(&enc.xml, keys, &ctx.limits).map_err(SsoError::Decrypt)?;
                    attributes.push(Attribute::from_element(d.root())?);
                }
            }
        }
    }

    // One-time use, last, so that a refused assertion does not occupy the cache (profile
    // decision 6). The entry lives as long as the assertion could be accepted.
    let not_on_or_after = conditions
        .not_on_or_after
        .map_or(confirmation_until, |c| c.min(confirmation_until));
    if !ctx
        .replay
        .check_and_insert(&assertion.id, not_on_or_after + ctx.skew)
    {
        return Err(SsoError::Replay(assertion.id.clone()));
    }

    Ok(ValidatedAssertion {
        response_id: h.id.clone(),
        assertion_id: assertion.id.clone(),
        issuer: assertion.issuer.value.clone(),
        name_id,
        session_index: authn.session_index.clone(),
        authn_instant: authn.authn_instant,
        authn_context: authn.authn_context.class_ref.clone(),
        session_not_on_or_after: authn.session_not_on_or_after,
        attributes,
        not_on_or_after,
        response_signed,
        encrypted,
        assertion,
    })
}

/// An Issuer names the expected entity, with the entity format or none (SAML core §8.3.6,
/// profiles §4.1.4.2).
fn check_issuer(
    issuer: &NameId,
    expected: &str,
    wrong: impl FnOnce(String) -> SsoError,
) -> Result<(), SsoError> {
    if let Some(f) = issuer.format.as_deref() {
        if f != nameid_format::ENTITY {
            return Err(SsoError::IssuerFormat(f.to_string()));
        }
    }
    if issuer.value != expected {
        return Err(wrong(issuer.value.clone()));
    }
    Ok(())
}
