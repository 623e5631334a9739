//! The raw parameter reader shared by both bindings, and the strict URL and base64 codecs.

use base64::alphabet::STANDARD;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine;
use percent_encoding::{percent_decode_str, percent_encode, AsciiSet, NON_ALPHANUMERIC};

use super::BindingError;

/// The SAML parameters of a query string or form body, as raw (still URL-encoded) values: the
/// redirect signature is computed over these exact bytes.
#[derive(Debug, Default)]
pub(crate) struct SamlParams<'a> {
    pub saml_request: Option<&'a str>,
    pub saml_response: Option<&'a str>,
    pub relay_state: Option<&'a str>,
    pub sig_alg: Option<&'a str>,
    pub signature: Option<&'a str>,
    pub saml_encoding: Option<&'a str>,
}

impl<'a> SamlParams<'a> {
    /// Splits `raw` (`a=1&b=2`, no leading `?`) in order. Parameters that are not SAML's are
    /// ignored (an endpoint URL may carry its own); a SAML parameter seen twice is refused.
    pub(crate) fn parse(raw: &'a str, max_len: usize) -> Result<Self, BindingError> {
        if raw.len() > max_len {
            return Err(BindingError::TooLarge { limit: max_len });
        }
        let mut p = SamlParams::default();
        for pair in raw.split('&').filter(|s| !s.is_empty()) {
            let (raw_name, value) = pair.split_once('=').unwrap_or((pair, ""));
            // Names are compared decoded, so `SAML%52equest` counts as a second SAMLRequest.
            let Ok(name) = decode_text(raw_name, "name") else {
                continue;
            };
            let slot = match name.as_str() {
                "SAMLRequest" => &mut p.saml_request,
                "SAMLResponse" => &mut p.saml_response,
                "RelayState" => &mut p.relay_state,
                "SigAlg" => &mut p.sig_alg,
                "Signature" => &mut p.signature,
                "SAMLEncoding" => &mut p.saml_encoding,
                _ => continue,
            };
            if slot.is_some() {
                return Err(BindingError::DuplicateParameter(name));
            }
            *slot = Some(value);
        }
        Ok(p)
    }

    /// The message parameter, exactly one of `SAMLRequest` and `SAMLResponse`.
    pub(crate) fn message(&self) -> Result<(super::MessageKind, &'a str), BindingError> {
        match (self.saml_request, self.saml_response) {
            (Some(v), None) => Ok((super::MessageKind::Request, v)),
            (None, Some(v)) => Ok((super::MessageKind::Response, v)),
            (Some(_), Some(_)) => Err(BindingError::BothMessages),
            (None, None) => Err(BindingError::MissingMessage),
        }
    }
}

/// Percent-decoding that refuses a `%` not followed by two hex digits (instead of passing it
/// through, as lenient decoders do). With `plus_is_space`, `+` is a space (form encoding).
fn percent_decode(
    raw: &str,
    plus_is_space: bool,
    param: &'static str,
) -> Result<Vec<u8>, BindingError> {
    let b = raw.as_bytes();
    for (i, _) in raw.match_indices('%') {
        let hex = b
            .get(i + 1..i + 3)
            .ok_or(BindingError::InvalidPercentEncoding(param))?;
        if !hex.iter().all(u8::is_ascii_hexdigit) {
            return Err(BindingError::InvalidPercentEncoding(param));
        }
    }
    if plus_is_space && raw.contains('+') {
        Ok(percent_decode_str(&raw.replace('+', " ")).collect())
    } else {
        Ok(percent_decode_str(raw).collect())
    }
}

/// A text parameter (RelayState, SigAlg) in form encoding.
pub(crate) fn decode_text(raw: &str, param: &'static str) -> Result<String, BindingError> {
    String::from_utf8(percent_decode(raw, true, param)?).map_err(|_| BindingError::NotUtf8(param))
}

fn base64_engine() -> GeneralPurpose {
    // Padding is optional on input: some senders strip it; the data is the same.
    GeneralPurpose::new(
        &STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    )
}

/// A base64 parameter. `+` stays `+`: it is a base64 character, and senders that fail to
/// percent-encode it would otherwise be read as sending a space. Line breaks are allowed; the
/// encoded length is checked against `max_decoded` before decoding.
pub(crate) fn decode_base64(
    raw: &str,
    param: &'static str,
    max_decoded: usize,
) -> Result<Vec<u8>, BindingError> {
    // Cheap bound first (percent-encoding and line breaks stay well under 5×), so that a huge
    // value is refused before it is copied.
    if raw.len() / 5 > max_decoded {
        return Err(BindingError::MessageTooLarge { limit: max_decoded });
    }
    let bytes = percent_decode(raw, false, param)?;
    let compact: Vec<u8> = bytes
        .into_iter()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    if compact.len() / 4 * 3 > max_decoded.saturating_add(3) {
        return Err(BindingError::MessageTooLarge { limit: max_decoded });
    }
    let out = base64_engine()
        .decode(&compact)
        .map_err(|_| BindingError::InvalidBase64(param))?;
    if out.len() > max_decoded {
        return Err(BindingError::MessageTooLarge { limit: max_decoded });
    }
    Ok(out)
}

pub(crate) fn encode_base64(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(data)
}

/// Everything but RFC 3986 unreserved characters is percent-encoded.
const URL_ENCODE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

pub(crate) fn url_encode(value: &str) -> String {
    percent_encode(value.as_bytes(), URL_ENCODE).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_percent_decoding() {
        assert_eq!(decode_text("a%20b+c", "x").unwrap(), "a b c");
        assert!(decode_text("a%2", "x").is_err());
        assert!(decode_text("a%zz", "x").is_err());
        assert!(decode_text("%FF", "x").is_err());
    }

    #[test]
    fn names_are_decoded_before_duplicate_check() {
        let err = SamlParams::parse("SAMLRequest=a&SAML%52equest=b", 1000).unwrap_err();
        assert_eq!(err, BindingError::DuplicateParameter("SAMLRequest".into()));
        let p = SamlParams::parse("foo=1&foo=2&SAMLResponse=x", 1000).unwrap();
        assert_eq!(p.saml_response, Some("x"));
    }
}
