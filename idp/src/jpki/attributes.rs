//! The four attributes (基本4情報) of a JPKI signature certificate: subjectAltName otherNames
//! under `1.2.392.200149.8.5.5` (jpki.md §1): `.1` name (family and given name separated by
//! U+3000), `.2` name substitution flags, `.3` sex (1 male, 2 female, 3 unknown), `.4` birth date
//! `EYYYYMMDD` (E = era digit, date Gregorian), `.5` address (prefecture onward), `.6` address
//! substitution flags. Each value is a UTF8String (`otherName.value` is `[0] EXPLICIT`).
//! The user-authentication certificate carries none of them.

use x509_parser::extensions::{GeneralName, ParsedExtension};

/// otherName type-ids.
pub const OID_NAME: &str = "1.2.392.200149.8.5.5.1";
pub const OID_NAME_FLAGS: &str = "1.2.392.200149.8.5.5.2";
pub const OID_SEX: &str = "1.2.392.200149.8.5.5.3";
pub const OID_BIRTH_DATE: &str = "1.2.392.200149.8.5.5.4";
pub const OID_ADDRESS: &str = "1.2.392.200149.8.5.5.5";
pub const OID_ADDRESS_FLAGS: &str = "1.2.392.200149.8.5.5.6";

/// Longest attribute value accepted (the address is ≤ 200 characters).
const MAX_VALUE_BYTES: usize = 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Sex {
    Male,
    Female,
    Unknown,
}

impl Sex {
    /// JPKI code: 1 male, 2 female, 3 unknown.
    pub fn code(self) -> u8 {
        match self {
            Sex::Male => 1,
            Sex::Female => 2,
            Sex::Unknown => 3,
        }
    }

    pub fn from_code(code: &str) -> Option<Sex> {
        match code {
            "1" => Some(Sex::Male),
            "2" => Some(Sex::Female),
            "3" => Some(Sex::Unknown),
            _ => None,
        }
    }
}

/// Birth date as JPKI writes it: `EYYYYMMDD`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BirthDate {
    /// The value as written (`419900102`).
    pub raw: String,
    /// Era digit: 1 明治, 2 大正, 3 昭和, 4 平成, 5 令和, 0 unknown.
    pub era: u8,
    /// The Gregorian date, when it is a real date (`None` for partly unknown dates).
    pub date: Option<time::Date>,
}

impl BirthDate {
    pub fn parse(raw: &str) -> Option<BirthDate> {
        if raw.len() != 9 || !raw.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let era = raw.as_bytes()[0] - b'0';
        if era > 5 {
            return None;
        }
        let year: i32 = raw[1..5].parse().ok()?;
        let month: u8 = raw[5..7].parse().ok()?;
        let day: u8 = raw[7..9].parse().ok()?;
        let date = time::Month::try_from(month)
            .ok()
            .and_then(|m| time::Date::from_calendar_date(year, m, day).ok());
        Some(BirthDate {
            raw: raw.to_string(),
            era,
            date,
        })
    }

    /// `YYYY-MM-DD` when the date is known.
    pub fn iso(&self) -> Option<String> {
        self.date
            .map(|d| format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day()))
    }
}

/// The four attributes of a signature certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureAttributes {
    /// Family and given name separated by U+3000 (ideographic space), as in the certificate.
    pub name: String,
    /// Which characters of the name were substituted (non-JIS), when present.
    pub name_substitution: Option<String>,
    pub sex: Sex,
    pub birth_date: BirthDate,
    /// From the prefecture onward, no postcode.
    pub address: String,
    pub address_substitution: Option<String>,
}

/// Reads one DER TLV at the start of `input`: (tag, content, rest).
fn tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 2 || rest.len() < n {
            return None;
        }
        let mut len = 0usize;
        for &b in &rest[..n] {
            len = (len << 8) | usize::from(b);
        }
        if len < 0x80 || (n == 2 && len < 0x100) {
            return None; // not minimal (DER)
        }
        (len, &rest[n..])
    };
    if rest.len() < len {
        return None;
    }
    Some((tag, &rest[..len], &rest[len..]))
}

/// `otherName.value`: `[0] EXPLICIT UTF8String` (PrintableString accepted for the ASCII
/// attributes).
fn other_name_string(value: &[u8]) -> Result<String, String> {
    let (tag, inner, rest) = tlv(value).ok_or("otherName value is not DER")?;
    if tag != 0xA0 || !rest.is_empty() {
        return Err("otherName value is not [0] EXPLICIT".into());
    }
    let (tag, content, rest) = tlv(inner).ok_or("otherName value is not DER")?;
    if !rest.is_empty() || !matches!(tag, 0x0C | 0x13) {
        return Err("otherName value is not a UTF8String".into());
    }
    if content.len() > MAX_VALUE_BYTES {
        return Err("otherName value too long".into());
    }
    let s = std::str::from_utf8(content).map_err(|_| "otherName value is not UTF-8")?;
    if s.chars().any(char::is_control) {
        return Err("control character in an attribute".into());
    }
    Ok(s.to_string())
}

/// The attributes of a parsed certificate: `Ok(None)` when it has no JPKI otherName at all,
/// `Err` when some are there but incomplete, repeated or malformed.
pub fn from_certificate(
    cert: &x509_parser::certificate::X509Certificate<'_>,
) -> Result<Option<SignatureAttributes>, String> {
    let mut values: [Option<String>; 6] = Default::default();
    let oids = [
        OID_NAME,
        OID_NAME_FLAGS,
        OID_SEX,
        OID_BIRTH_DATE,
        OID_ADDRESS,
        OID_ADDRESS_FLAGS,
    ];
    for ext in cert.extensions() {
        let ParsedExtension::SubjectAlternativeName(san) = ext.parsed_extension() else {
            continue;
        };
        for name in &san.general_names {
            let GeneralName::OtherName(oid, value) = name else {
                continue;
            };
            let oid = oid.to_id_string();
            let Some(i) = oids.iter().position(|o| *o == oid) else {
                continue;
            };
            if values[i].is_some() {
                return Err(format!("attribute {oid} appears twice"));
            }
            values[i] = Some(other_name_string(value)?);
        }
    }
    if values.iter().all(Option::is_none) {
        return Ok(None);
    }
    let [name, name_flags, sex, birth, address, address_flags] = values;
    let name = name.ok_or("no name attribute")?;
    let sex = sex.ok_or("no sex attribute")?;
    let sex = Sex::from_code(&sex).ok_or_else(|| format!("sex attribute {sex:?}"))?;
    let birth = birth.ok_or("no birth date attribute")?;
    let birth_date = BirthDate::parse(&birth).ok_or_else(|| format!("birth date {birth:?}"))?;
    let address = address.ok_or("no address attribute")?;
    Ok(Some(SignatureAttributes {
        name,
        name_substitution: name_flags,
        sex,
        birth_date,
        address,
        address_substitution: address_flags,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn birth_dates() {
        let b = BirthDate::parse("419890108").unwrap();
        assert_eq!(b.era, 4);
        assert_eq!(b.iso().as_deref(), Some("1989-01-08"));
        let b = BirthDate::parse("000000000").unwrap();
        assert_eq!(b.era, 0);
        assert_eq!(b.date, None);
        assert!(BirthDate::parse("91989010").is_none());
        assert!(BirthDate::parse("919890108").is_none());
    }

    #[test]
    fn other_name_values() {
        // [0] { UTF8String "山本" }
        let v = [0xA0, 0x08, 0x0C, 0x06, 0xE5, 0xB1, 0xB1, 0xE6, 0x9C, 0xAC];
        assert_eq!(other_name_string(&v).unwrap(), "山本");
        assert!(other_name_string(&v[..9]).is_err());
        let v = [0xA0, 0x03, 0x04, 0x01, 0x31];
        assert!(other_name_string(&v).is_err());
    }
}
