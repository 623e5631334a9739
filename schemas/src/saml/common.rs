//! Parsing and writing helpers shared by every SAML type: the ordered child cursor, attribute
//! readers, xs:dateTime and xs:boolean, and the namespace declarations of a root element.

use std::str::FromStr;

use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

use super::SamlError;
use crate::xml::c14n::{canonicalize, C14nOptions};
use crate::xml::{Element, Node, XmlWriter};

/// Prefix → namespace pairs the writers use.
pub(crate) const NS_SAML: (&str, &str) = ("saml", crate::ns::SAML);
pub(crate) const NS_SAMLP: (&str, &str) = ("samlp", crate::ns::SAMLP);
pub(crate) const NS_MD: (&str, &str) = ("md", crate::ns::MD);
pub(crate) const NS_DS: (&str, &str) = ("ds", crate::ns::DS);
pub(crate) const NS_ALG: (&str, &str) = ("alg", crate::ns::ALG);
pub(crate) const NS_XSI: (&str, &str) = ("xsi", crate::ns::XSI);

/// Opens `qname`; on a root element also declares `namespaces`.
pub(crate) fn open(w: &mut XmlWriter, qname: &str, root: bool, namespaces: &[(&str, &str)]) {
    w.start(qname);
    if root {
        for (prefix, uri) in namespaces {
            w.ns(Some(prefix), uri);
        }
    }
}

/// Name of an element for error messages.
pub(crate) fn name(e: Element<'_>) -> String {
    e.qualified_name()
}

/// Refuses an element that is not `{ns}local`.
pub(crate) fn expect(e: Element<'_>, ns: &str, local: &str) -> Result<(), SamlError> {
    if e.is(ns, local) {
        Ok(())
    } else {
        Err(SamlError::WrongElement {
            expected: format!("{{{ns}}}{local}"),
            found: format!("{{{}}}{}", e.namespace().unwrap_or(""), e.local_name()),
        })
    }
}

/// The exclusive-canonical text of `e`, self-contained with the namespaces it uses.
pub(crate) fn canonical(e: Element<'_>) -> Result<String, SamlError> {
    String::from_utf8(canonicalize(e, &C14nOptions::default()))
        .map_err(|_| SamlError::Xml(crate::xml::XmlError::NotUtf8))
}

fn is_xml_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

/// Reads the child elements of an element-only content model in schema order. Whitespace,
/// comments and processing instructions between children are ignored (they carry nothing); any
/// other text is refused. Every child must be consumed before [`Children::finish`].
pub(crate) struct Children<'a> {
    parent: Element<'a>,
    items: Vec<Element<'a>>,
    pos: usize,
}

impl<'a> Children<'a> {
    pub(crate) fn of(parent: Element<'a>) -> Result<Self, SamlError> {
        let mut items = Vec::new();
        for node in parent.children() {
            match node {
                Node::Element(e) => items.push(e),
                Node::Text(t) if !t.chars().all(is_xml_space) => {
                    return Err(SamlError::UnexpectedText {
                        element: name(parent),
                    })
                }
                _ => {}
            }
        }
        Ok(Children {
            parent,
            items,
            pos: 0,
        })
    }

    /// The next child, whatever it is, without consuming it.
    pub(crate) fn peek(&self) -> Option<Element<'a>> {
        self.items.get(self.pos).copied()
    }

    /// Consumes and returns the next child, whatever it is.
    pub(crate) fn next_any(&mut self) -> Option<Element<'a>> {
        let e = self.peek()?;
        self.pos += 1;
        Some(e)
    }

    /// Consumes the next child if it is `{ns}local`.
    pub(crate) fn opt(&mut self, ns: &str, local: &str) -> Option<Element<'a>> {
        match self.peek() {
            Some(e) if e.is(ns, local) => {
                self.pos += 1;
                Some(e)
            }
            _ => None,
        }
    }

    /// Consumes the next child, which must be `{ns}local`.
    pub(crate) fn req(&mut self, ns: &str, local: &str) -> Result<Element<'a>, SamlError> {
        if let Some(e) = self.opt(ns, local) {
            return Ok(e);
        }
        // A repeat of the child just read (a second Issuer) is reported as what it is.
        if let (Some(prev), Some(next)) =
            (self.pos.checked_sub(1).map(|i| self.items[i]), self.peek())
        {
            if prev.local_name() == next.local_name() && prev.namespace() == next.namespace() {
                return Err(SamlError::UnexpectedElement {
                    parent: name(self.parent),
                    found: name(next),
                });
            }
        }
        Err(SamlError::MissingElement {
            element: name(self.parent),
            child: local.to_string(),
        })
    }

    /// Consumes every consecutive `{ns}local` child.
    pub(crate) fn many(&mut self, ns: &str, local: &str) -> Vec<Element<'a>> {
        let mut out = Vec::new();
        while let Some(e) = self.opt(ns, local) {
            out.push(e);
        }
        out
    }

    /// As [`Children::many`], requiring at least one.
    pub(crate) fn at_least_one(
        &mut self,
        ns: &str,
        local: &str,
    ) -> Result<Vec<Element<'a>>, SamlError> {
        let v = self.many(ns, local);
        if v.is_empty() {
            return Err(SamlError::MissingElement {
                element: name(self.parent),
                child: local.to_string(),
            });
        }
        Ok(v)
    }

    /// Drops an enveloped `ds:Signature` where the schema allows one: the signature layer has
    /// already checked it, and nothing in it may reach the typed message.
    pub(crate) fn skip_signature(&mut self) {
        self.opt(crate::ns::DS, "Signature");
    }

    /// The children not read yet (for open content models read in any order).
    pub(crate) fn items(self) -> Vec<Element<'a>> {
        self.items[self.pos..].to_vec()
    }

    /// Fails if a child was left unread: it is out of order, repeated or unknown.
    pub(crate) fn finish(self) -> Result<(), SamlError> {
        match self.peek() {
            None => Ok(()),
            Some(e) => Err(SamlError::UnexpectedElement {
                parent: name(self.parent),
                found: name(e),
            }),
        }
    }
}

/// An optional unqualified attribute.
pub(crate) fn opt_attr(e: Element<'_>, attr: &str) -> Option<String> {
    e.attr(attr).map(str::to_string)
}

/// A required unqualified attribute.
pub(crate) fn req_attr(e: Element<'_>, attr: &str) -> Result<String, SamlError> {
    opt_attr(e, attr).ok_or_else(|| SamlError::MissingAttribute {
        element: name(e),
        attribute: attr.to_string(),
    })
}

pub(crate) fn invalid(e: Element<'_>, attr: &str, value: &str, reason: &'static str) -> SamlError {
    SamlError::InvalidValue {
        element: name(e),
        attribute: attr.to_string(),
        value: value.to_string(),
        reason,
    }
}

/// A required `xs:ID`: SAML IDs identify what a signature covers, so an empty or malformed one
/// is refused rather than compared.
pub(crate) fn req_id(e: Element<'_>, attr: &str) -> Result<String, SamlError> {
    let v = req_attr(e, attr)?;
    if !is_ncname(&v) {
        return Err(invalid(e, attr, &v, "not an xs:ID (NCName)"));
    }
    Ok(v)
}

/// An optional `xs:ID` (metadata elements).
pub(crate) fn opt_id(e: Element<'_>, attr: &str) -> Result<Option<String>, SamlError> {
    match e.attr(attr) {
        None => Ok(None),
        Some(_) => req_id(e, attr).map(Some),
    }
}

fn is_ncname(s: &str) -> bool {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) if c.is_alphabetic() || c == '_' => {}
        _ => return false,
    }
    chars.all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | '\u{b7}'))
}

/// Requires `Version="2.0"`.
pub(crate) fn check_version(e: Element<'_>) -> Result<(), SamlError> {
    let v = req_attr(e, "Version")?;
    if v != super::VERSION {
        return Err(SamlError::UnsupportedVersion {
            element: name(e),
            version: v,
        });
    }
    Ok(())
}

/// An optional `xs:boolean` attribute (`true`, `false`, `1`, `0`).
pub(crate) fn opt_bool(e: Element<'_>, attr: &str) -> Result<Option<bool>, SamlError> {
    match e.attr(attr) {
        None => Ok(None),
        Some(v) => match v.trim_matches(is_xml_space) {
            "true" | "1" => Ok(Some(true)),
            "false" | "0" => Ok(Some(false)),
            _ => Err(invalid(e, attr, v, "not an xs:boolean")),
        },
    }
}

/// An optional numeric attribute (`xs:unsignedShort`, `xs:nonNegativeInteger`, `xs:int` …).
pub(crate) fn opt_num<T: FromStr>(e: Element<'_>, attr: &str) -> Result<Option<T>, SamlError> {
    match e.attr(attr) {
        None => Ok(None),
        Some(v) => v
            .trim_matches(is_xml_space)
            .parse()
            .map(Some)
            .map_err(|_| invalid(e, attr, v, "not a number in range")),
    }
}

pub(crate) fn req_num<T: FromStr>(e: Element<'_>, attr: &str) -> Result<T, SamlError> {
    opt_num(e, attr)?.ok_or_else(|| SamlError::MissingAttribute {
        element: name(e),
        attribute: attr.to_string(),
    })
}

/// An optional `xs:dateTime` attribute.
pub(crate) fn opt_time(e: Element<'_>, attr: &str) -> Result<Option<OffsetDateTime>, SamlError> {
    match e.attr(attr) {
        None => Ok(None),
        Some(v) => parse_xs_datetime(v)
            .map(Some)
            .ok_or_else(|| SamlError::InvalidDateTime {
                element: name(e),
                attribute: attr.to_string(),
                value: v.to_string(),
            }),
    }
}

pub(crate) fn req_time(e: Element<'_>, attr: &str) -> Result<OffsetDateTime, SamlError> {
    opt_time(e, attr)?.ok_or_else(|| SamlError::MissingAttribute {
        element: name(e),
        attribute: attr.to_string(),
    })
}

/// Text of a simple-content element (comments and PIs inside are refused by `text()`).
pub(crate) fn text(e: Element<'_>) -> Result<String, SamlError> {
    Ok(e.text()?)
}

/// Text of an `xs:anyURI` or token element, surrounding whitespace removed (the schema collapses it).
pub(crate) fn token(e: Element<'_>) -> Result<String, SamlError> {
    Ok(text(e)?.trim_matches(is_xml_space).to_string())
}

/// Base64 content (`xs:base64Binary`), line breaks allowed.
pub(crate) fn base64_text(e: Element<'_>) -> Result<Vec<u8>, SamlError> {
    use base64::Engine;
    let t: String = text(e)?.chars().filter(|c| !is_xml_space(*c)).collect();
    base64::engine::general_purpose::STANDARD
        .decode(t)
        .map_err(|_| SamlError::InvalidBase64 { element: name(e) })
}

pub(crate) fn base64_string(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

pub(crate) fn bool_str(b: bool) -> &'static str {
    if b {
        "true"
    } else {
        "false"
    }
}

/// Writes an optional `xs:dateTime` attribute.
pub(crate) fn attr_time(w: &mut XmlWriter, qname: &str, t: Option<OffsetDateTime>) {
    if let Some(t) = t {
        w.attr(qname, &format_xs_datetime(t));
    }
}

pub(crate) fn attr_bool(w: &mut XmlWriter, qname: &str, b: Option<bool>) {
    if let Some(b) = b {
        w.attr(qname, bool_str(b));
    }
}

pub(crate) fn attr_num<T: ToString>(w: &mut XmlWriter, qname: &str, n: Option<T>) {
    if let Some(n) = n {
        w.attr(qname, &n.to_string());
    }
}

/// Parses an `xs:dateTime`: `YYYY-MM-DDThh:mm:ss[.fff…][Z|±hh:mm]`. A value without a time zone
/// is read as UTC (SAML core §1.3.3 says SAML times are UTC with no time zone component). Anything
/// else — missing fields, out-of-range values, trailing text — gives `None`.
pub fn parse_xs_datetime(s: &str) -> Option<OffsetDateTime> {
    let b = s.as_bytes();
    // Fixed part: 19 bytes.
    if b.len() < 19
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        let part = &b[r];
        if part.iter().all(u8::is_ascii_digit) {
            std::str::from_utf8(part).ok()?.parse().ok()
        } else {
            None
        }
    };
    let year = i32::try_from(num(0..4)?).ok()?;
    let month = Month::try_from(u8::try_from(num(5..7)?).ok()?).ok()?;
    let day = u8::try_from(num(8..10)?).ok()?;
    let hour = u8::try_from(num(11..13)?).ok()?;
    let minute = u8::try_from(num(14..16)?).ok()?;
    let second = u8::try_from(num(17..19)?).ok()?;
    let mut rest = &b[19..];
    let mut nanos: u32 = 0;
    if let Some((b'.', frac)) = rest.split_first() {
        let digits = frac.iter().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 {
            return None;
        }
        // Keep nanosecond precision; further digits are read and dropped.
        for (i, d) in frac[..digits].iter().enumerate().take(9) {
            nanos += u32::from(d - b'0') * 10u32.pow(8 - i as u32);
        }
        rest = &frac[digits..];
    }
    let offset = match rest {
        [] | [b'Z'] => UtcOffset::UTC,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let digits = [*h1, *h2, *m1, *m2];
            if !digits.iter().all(u8::is_ascii_digit) {
                return None;
            }
            let h = ((h1 - b'0') * 10 + (h2 - b'0')) as i8;
            let m = ((m1 - b'0') * 10 + (m2 - b'0')) as i8;
            if h > 14 || m > 59 || (h == 14 && m != 0) {
                return None;
            }
            let (h, m) = if *sign == b'-' { (-h, -m) } else { (h, m) };
            UtcOffset::from_hms(h, m, 0).ok()?
        }
        _ => return None,
    };
    let date = Date::from_calendar_date(year, month, day).ok()?;
    let time = Time::from_hms_nano(hour, minute, second, nanos).ok()?;
    Some(
        PrimitiveDateTime::new(date, time)
            .assume_offset(offset)
            .to_offset(UtcOffset::UTC),
    )
}

/// Formats a time as SAML and WS-Security write it: UTC, whole seconds, `YYYY-MM-DDThh:mm:ssZ`
/// (SAML core §1.3.3: no party should rely on finer resolution, and some peers choke on it).
pub fn format_xs_datetime(t: OffsetDateTime) -> String {
    let t = t.to_offset(UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datetime_forms() {
        let base = parse_xs_datetime("2024-03-01T12:00:00Z").unwrap();
        assert_eq!(parse_xs_datetime("2024-03-01T12:00:00").unwrap(), base);
        assert_eq!(
            parse_xs_datetime("2024-03-01T21:00:00+09:00").unwrap(),
            base
        );
        assert_eq!(
            parse_xs_datetime("2024-03-01T11:30:00-00:30").unwrap(),
            base
        );
        let frac = parse_xs_datetime("2024-03-01T12:00:00.123456789123Z").unwrap();
        assert_eq!(frac.nanosecond(), 123_456_789);
        assert_eq!(format_xs_datetime(frac), "2024-03-01T12:00:00Z");
        for bad in [
            "",
            "2024-03-01",
            "2024-03-01 12:00:00Z",
            "2024-13-01T12:00:00Z",
            "2024-02-30T12:00:00Z",
            "2024-03-01T24:00:00Z",
            "2024-03-01T12:00:60Z",
            "2024-03-01T12:00:00.Z",
            "2024-03-01T12:00:00ZZ",
            "2024-03-01T12:00:00+0900",
            "2024-03-01T12:00:00+15:00",
            "+024-03-01T12:00:00Z",
            "2024-03-01T12:00:00Z ",
            "yesterday",
        ] {
            assert!(parse_xs_datetime(bad).is_none(), "{bad:?} accepted");
        }
    }
}
