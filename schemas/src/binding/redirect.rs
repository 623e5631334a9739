//! HTTP-Redirect binding (SAML bindings §3.4): DEFLATE, base64, URL-encode, and the query
//! signature over `SAMLRequest=…&RelayState=…&SigAlg=…` (or `SAMLResponse=…`), taken from the
//! raw query exactly as received.

use std::io::{Read, Write};

use flate2::read::DeflateDecoder;
use flate2::write::DeflateEncoder;
use flate2::Compression;

use super::params::{decode_base64, decode_text, encode_base64, url_encode, SamlParams};
use super::{
    check_relay_state, BindingError, MessageKind, QuerySigner, QueryVerifier, SigAlg,
    RELAY_STATE_MAX,
};

/// The only `SAMLEncoding` (and the default when it is absent).
const DEFLATE_ENCODING: &str = "urn:oasis:names:tc:SAML:2.0:bindings:URL-Encoding:DEFLATE";

/// Limits and policy of the Redirect decoder.
#[derive(Clone, Debug)]
pub struct RedirectOptions {
    /// Longest accepted raw query string.
    pub max_query: usize,
    /// Largest accepted inflated message; a DEFLATE bomb stops here.
    pub max_inflated: usize,
    /// Longest accepted RelayState.
    pub max_relay_state: usize,
    /// Accept RSA-SHA1 and ECDSA-SHA1 query signatures (off by default).
    pub allow_sha1: bool,
}

impl Default for RedirectOptions {
    fn default() -> Self {
        RedirectOptions {
            max_query: 64 * 1024,
            max_inflated: 64 * 1024,
            max_relay_state: RELAY_STATE_MAX,
            allow_sha1: false,
        }
    }
}

/// The signature of a received query, checked by [`RedirectMessage::verify`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuerySignature {
    pub sig_alg: SigAlg,
    pub signature: Vec<u8>,
    /// The octets that were signed, rebuilt from the raw parameter values in spec order.
    pub signed_octets: Vec<u8>,
}

/// A decoded Redirect message. The XML is not parsed; the signature, if any, is not yet
/// verified: the key depends on the issuer the message names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RedirectMessage {
    pub kind: MessageKind,
    pub xml: Vec<u8>,
    pub relay_state: Option<String>,
    pub signature: Option<QuerySignature>,
}

impl RedirectMessage {
    /// Verifies the query signature with the sender's keys. An unsigned message is an error
    /// here: a caller that asks for verification requires a signature.
    pub fn verify(&self, verifier: &dyn QueryVerifier) -> Result<(), BindingError> {
        let sig = self.signature.as_ref().ok_or(BindingError::Unsigned)?;
        if verifier.verify(sig.sig_alg.uri(), &sig.signed_octets, &sig.signature)? {
            Ok(())
        } else {
            Err(BindingError::BadSignature)
        }
    }
}

/// Encodes a message as a Redirect query string (without the leading `?`), signed when a
/// signer is given. The XML must not carry an enveloped signature (SAML bindings §3.4.4.1).
pub fn encode_redirect(
    kind: MessageKind,
    xml: &[u8],
    relay_state: Option<&str>,
    signer: Option<&dyn QuerySigner>,
) -> Result<String, BindingError> {
    check_relay_state(relay_state, RELAY_STATE_MAX)?;
    let mut enc = DeflateEncoder::new(Vec::with_capacity(xml.len() / 2), Compression::default());
    enc.write_all(xml)
        .map_err(|e| BindingError::Crypto(format!("deflate: {e}")))?;
    let deflated = enc
        .finish()
        .map_err(|e| BindingError::Crypto(format!("deflate: {e}")))?;
    let mut query = format!("{}={}", kind.param(), url_encode(&encode_base64(&deflated)));
    if let Some(rs) = relay_state {
        query.push_str("&RelayState=");
        query.push_str(&url_encode(rs));
    }
    if let Some(signer) = signer {
        query.push_str("&SigAlg=");
        query.push_str(&url_encode(signer.sig_alg()));
        let signature = signer.sign(query.as_bytes())?;
        query.push_str("&Signature=");
        query.push_str(&url_encode(&encode_base64(&signature)));
    }
    Ok(query)
}

/// Appends a query to an endpoint URL, which may already have a query of its own.
pub fn redirect_url(endpoint: &str, query: &str) -> String {
    let sep = if endpoint.contains('?') { '&' } else { '?' };
    format!("{endpoint}{sep}{query}")
}

/// Decodes a raw query string (without the leading `?`, exactly as received: not re-encoded by a
/// framework). Refuses duplicated SAML parameters, a `SigAlg` without `Signature` or the reverse,
/// unknown or (unless allowed) SHA-1 algorithms, bad base64 and messages inflating beyond the
/// cap.
pub fn decode_redirect(
    raw_query: &str,
    opts: &RedirectOptions,
) -> Result<RedirectMessage, BindingError> {
    let p = SamlParams::parse(raw_query, opts.max_query)?;
    let (kind, raw_message) = p.message()?;
    if let Some(enc) = p.saml_encoding {
        let enc = decode_text(enc, "SAMLEncoding")?;
        if enc != DEFLATE_ENCODING {
            return Err(BindingError::UnsupportedEncoding(enc));
        }
    }
    let relay_state = p
        .relay_state
        .map(|r| decode_text(r, "RelayState"))
        .transpose()?;
    check_relay_state(relay_state.as_deref(), opts.max_relay_state)?;

    let signature = match (p.sig_alg, p.signature) {
        (None, None) => None,
        (Some(_), None) => return Err(BindingError::SigAlgWithoutSignature),
        (None, Some(_)) => return Err(BindingError::SignatureWithoutSigAlg),
        (Some(raw_alg), Some(raw_sig)) => {
            let uri = decode_text(raw_alg, "SigAlg")?;
            let sig_alg =
                SigAlg::lookup(&uri).ok_or_else(|| BindingError::UnsupportedSigAlg(uri.clone()))?;
            if sig_alg.is_sha1() && !opts.allow_sha1 {
                return Err(BindingError::Sha1Refused(uri));
            }
            // Signed octets from the raw values in spec order, whatever order they came in.
            let mut signed = format!("{}={}", kind.param(), raw_message);
            if let Some(rs) = p.relay_state {
                signed.push_str("&RelayState=");
                signed.push_str(rs);
            }
            signed.push_str("&SigAlg=");
            signed.push_str(raw_alg);
            Some(QuerySignature {
                sig_alg,
                // A signature is at most a few hundred bytes; 8 KiB leaves room for any key.
                signature: decode_base64(raw_sig, "Signature", 8 * 1024)?,
                signed_octets: signed.into_bytes(),
            })
        }
    };

    // The compressed size is bounded by the query limit; the inflated size by `max_inflated`.
    let deflated = decode_base64(raw_message, kind.param(), opts.max_query)?;
    let xml = inflate_capped(&deflated, opts.max_inflated)?;
    Ok(RedirectMessage {
        kind,
        xml,
        relay_state,
        signature,
    })
}

/// Inflates raw DEFLATE data, reading at most `cap + 1` bytes of output so that a bomb costs no
/// more than the cap in memory.
fn inflate_capped(data: &[u8], cap: usize) -> Result<Vec<u8>, BindingError> {
    let mut out = Vec::with_capacity(cap.min(data.len().saturating_mul(4)).min(64 * 1024));
    let limit = u64::try_from(cap).unwrap_or(u64::MAX).saturating_add(1);
    DeflateDecoder::new(data)
        .take(limit)
        .read_to_end(&mut out)
        .map_err(|_| BindingError::InvalidDeflate)?;
    if out.is_empty() {
        return Err(BindingError::InvalidDeflate);
    }
    if out.len() > cap {
        return Err(BindingError::InflatedTooLarge { limit: cap });
    }
    Ok(out)
}
