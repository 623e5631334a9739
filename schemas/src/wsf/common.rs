//! What both sides share: randomness, writing and signing an envelope, finding and verifying a
//! message signature with the parts it must cover.

use crate::dsig::{
    sign_references, verify_references, DsigError, SignOptions, Signer, TrustedKey,
    VerifiedElement, VerifyPolicy,
};
use crate::idwsf::headers::BODY_ID;
use crate::idwsf::{envelope, IdwsfHeaders};
use crate::ns;
use crate::soap::Envelope;
use crate::xml::c14n::{canonicalize, C14nOptions};
use crate::xml::{parse_with, Element, ParseLimits, XmlError};

use super::code;

/// Fills `buf` with random bytes from OpenSSL's CSPRNG.
pub(crate) fn random(buf: &mut [u8]) {
    // Only fails if the CSPRNG cannot be seeded, in which case nothing here is safe to do.
    openssl::rand::rand_bytes(buf).expect("OpenSSL CSPRNG unavailable");
}

/// A random (version 4) UUID in its canonical text form.
pub(crate) fn uuid_v4() -> String {
    let mut b = [0u8; 16];
    random(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// Checks that `body_xml` is one well-formed element and returns its text without any prolog.
pub(crate) fn body_element(body_xml: &str, limits: &ParseLimits) -> Result<String, XmlError> {
    let doc = parse_with(body_xml.as_bytes(), limits)?;
    Ok(doc.root().source_text().to_string())
}

/// Writes the envelope (Body `wsu:Id` = [`BODY_ID`]) and, with a signer, signs the Body and every
/// present §4.3 part with one detached signature appended to `wsse:Security`.
pub(crate) fn write_and_sign(
    headers: &IdwsfHeaders,
    body: &str,
    signer: Option<&dyn Signer>,
) -> Result<String, super::WsfError> {
    let xml = envelope(headers, Some(BODY_ID), &|w| {
        w.raw(body);
    });
    let Some(signer) = signer else {
        return Ok(xml);
    };
    let targets = headers
        .signature_targets()
        .map_err(|e| super::WsfError::InvalidParams(e.to_string()))?;
    let mut ids = Vec::with_capacity(targets.len() + 1);
    ids.push(BODY_ID);
    ids.extend(targets);
    sign_references(
        &xml,
        (ns::WSSE, "Security"),
        &ids,
        signer,
        &SignOptions::default(),
    )
    .map_err(super::WsfError::Sign)
}

/// The `ds:Signature` of the message: the one in the (single) `wsse:Security` header block.
pub(crate) fn message_signature<'a>(env: &Envelope<'a>) -> Option<Element<'a>> {
    env.headers_named(ns::WSSE, "Security")
        .next()
        .and_then(|b| b.element.first(ns::DS, "Signature"))
}

/// Verifies the message signature with `keys`, requiring it to cover the Body and every present
/// §4.3 part of `headers` (by the IDs of the elements actually consumed), and returns the
/// verified canonical bytes of the Body.
pub(crate) fn verify_message(
    env: &Envelope<'_>,
    headers: &IdwsfHeaders,
    keys: &[TrustedKey],
    policy: &VerifyPolicy,
) -> Result<Vec<u8>, DsigError> {
    let signature = message_signature(env).ok_or(DsigError::Unsigned)?;
    let body_id = env
        .body_id()
        .ok_or_else(|| DsigError::NotCovered("S:Body (it has no ID)".into()))?;
    let targets = headers
        .signature_targets()
        .map_err(|e| DsigError::NotCovered(e.to_string()))?;
    let mut required = Vec::with_capacity(targets.len() + 1);
    required.push(body_id);
    required.extend(targets);
    let mut verified: Vec<VerifiedElement> = verify_references(signature, keys, policy, &required)?;
    // Belt and braces: the first verified part is the element that is this envelope's Body.
    let body = verified.swap_remove(0);
    let doc = signature.document();
    match doc.element_by_id(&body.id) {
        Some(e) if e == env.body => Ok(body.canonical),
        _ => Err(DsigError::NotCovered("S:Body".into())),
    }
}

/// The Body's exclusive canonical form, for a message that is not signed.
pub(crate) fn canonical_body(env: &Envelope<'_>) -> Vec<u8> {
    canonicalize(env.body, &C14nOptions::default())
}

/// The second-level code for a refused signature: a wrong value or digest is `FailedCheck`;
/// a missing, incomplete or malformed signature is `InvalidSecurity`.
pub(crate) fn signature_second_level(e: &DsigError) -> &'static str {
    match e {
        DsigError::BadSignature | DsigError::DigestMismatch => code::FAILED_CHECK,
        _ => code::INVALID_SECURITY,
    }
}
