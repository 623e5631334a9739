//! JPKI-shaped CAs, resident certificates and CRLs (profiles from `reference/jpki.md` §1).

use std::collections::HashSet;

use openssl::asn1::Asn1Type;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::x509::extension::{BasicConstraints, KeyUsage};
use openssl::x509::{X509Name, X509NameBuilder, X509};
use time::{Date, Month, UtcOffset};

use crate::common::{
    aki_ext, ext_der, hex, issue, key_id, oneline, serial_hex, short_serial, ski_ext, ts,
    write_cert, CertSpec, KeyPool, OutDir, DAY, YEAR,
};
use crate::crl::{build_crl, CrlSpec, RevokedEntry};
use crate::manifest::{
    Ca, Card, CardCase, CardCert, Crl, CrlEntry, Purpose, Resident, Revocation, RevocationReason,
    Token,
};
use crate::{der, Error};

/// Organisation unit of the issuing body, last RDN of every JPKI root DN.
const JLIS_OU: &str = "Japan Agency for Local Authority Information Systems";
/// certificatePolicies of the signature certificate (署名用, class 20).
pub const POLICY_SIGNATURE: &str = "1.2.392.200149.8.5.1.1.20";
/// certificatePolicies of the user-authentication certificate (利用者証明用, class 30).
pub const POLICY_USER_AUTHENTICATION: &str = "1.2.392.200149.8.5.1.3.30";
/// subjectAltName otherName type-ids (arc 1.2.392.200149.8.5.5).
pub const OID_NAME: &str = "1.2.392.200149.8.5.5.1";
pub const OID_SEX: &str = "1.2.392.200149.8.5.5.3";
pub const OID_BIRTH_DATE: &str = "1.2.392.200149.8.5.5.4";
pub const OID_ADDRESS: &str = "1.2.392.200149.8.5.5.5";
const CPS_URI: &str = "http://www.jpki.go.jp/cps.html";
const PREFECTURE_ROMAJI: &str = "Mie-ken";
const MUNICIPALITY_ROMAJI: &str = "Nabari-shi";
/// 全国地方公共団体コード of Nabari (used in the signature certificate CN's window code).
const NABARI_CODE: &str = "24208";
/// Life of a CRL: JPKI issues daily; the test PKI keeps one for 30 days so that a generated
/// folder can be reused for a while (it is regenerated when the CRLs are about to lapse).
pub const CRL_VALIDITY: i64 = 30 * DAY;
const JST: i64 = 9 * 3600;

pub(crate) fn root_name(purpose: Purpose) -> Result<X509Name, Error> {
    let ou = match purpose {
        Purpose::Signature => "JPKI for digital signature",
        Purpose::UserAuthentication => "JPKI for user authentication",
    };
    let mut b = X509NameBuilder::new()?;
    b.append_entry_by_nid_with_type(Nid::COUNTRYNAME, "JP", Asn1Type::PRINTABLESTRING)?;
    b.append_entry_by_nid_with_type(Nid::ORGANIZATIONNAME, "JPKI", Asn1Type::PRINTABLESTRING)?;
    b.append_entry_by_nid_with_type(Nid::ORGANIZATIONALUNITNAME, ou, Asn1Type::PRINTABLESTRING)?;
    b.append_entry_by_nid_with_type(
        Nid::ORGANIZATIONALUNITNAME,
        JLIS_OU,
        Asn1Type::PRINTABLESTRING,
    )?;
    Ok(b.build())
}

/// A resident of the test city.
struct Person {
    family: &'static str,
    given: &'static str,
    family_kana: &'static str,
    given_kana: &'static str,
    sex: u8,
    birth: (i32, u8, u8),
    /// Address after "三重県名張市".
    address: &'static str,
}

const PEOPLE: [Person; 12] = [
    Person {
        family: "山本",
        given: "一郎",
        family_kana: "ヤマモト",
        given_kana: "イチロウ",
        sex: 1,
        birth: (1958, 4, 12),
        address: "桔梗が丘三番町２街区１５番地",
    },
    Person {
        family: "中西",
        given: "花子",
        family_kana: "ナカニシ",
        given_kana: "ハナコ",
        sex: 2,
        birth: (1962, 11, 3),
        address: "百合が丘西五番町１２５番地",
    },
    Person {
        family: "森",
        given: "健太",
        family_kana: "モリ",
        given_kana: "ケンタ",
        sex: 1,
        birth: (1985, 7, 21),
        address: "つつじが丘北三番町１８７番地",
    },
    // Born on the first day of Heisei: era digit 4.
    Person {
        family: "奥田",
        given: "美咲",
        family_kana: "オクダ",
        given_kana: "ミサキ",
        sex: 2,
        birth: (1989, 1, 8),
        address: "すずらん台東一番町２０３番地",
    },
    Person {
        family: "福田",
        given: "翔",
        family_kana: "フクダ",
        given_kana: "ショウ",
        sex: 1,
        birth: (1999, 2, 28),
        address: "梅が丘南二番町３１１番地",
    },
    Person {
        family: "吉岡",
        given: "由美子",
        family_kana: "ヨシオカ",
        given_kana: "ユミコ",
        sex: 2,
        birth: (1947, 9, 15),
        address: "赤目町丈六１２３番地",
    },
    Person {
        family: "松本",
        given: "大輔",
        family_kana: "マツモト",
        given_kana: "ダイスケ",
        sex: 1,
        birth: (1976, 12, 5),
        address: "蔵持町原出８５６番地",
    },
    // Born on the last day of Showa: era digit 3.
    Person {
        family: "田中",
        given: "恵",
        family_kana: "タナカ",
        given_kana: "メグミ",
        sex: 2,
        birth: (1989, 1, 7),
        address: "元町３６５番地",
    },
    // Born in Taisho: era digit 2.
    Person {
        family: "岡本",
        given: "ハル",
        family_kana: "オカモト",
        given_kana: "ハル",
        sex: 2,
        birth: (1924, 8, 10),
        address: "丸之内８３番地",
    },
    Person {
        family: "藤井",
        given: "さくら",
        family_kana: "フジイ",
        given_kana: "サクラ",
        sex: 2,
        birth: (2005, 4, 1),
        address: "夏見１２３４番地",
    },
    Person {
        family: "西村",
        given: "浩二",
        family_kana: "ニシムラ",
        given_kana: "コウジ",
        sex: 1,
        birth: (1968, 6, 18),
        address: "平尾３１７６番地",
    },
    Person {
        family: "前田",
        given: "幸子",
        family_kana: "マエダ",
        given_kana: "サチコ",
        sex: 2,
        birth: (1953, 1, 20),
        address: "南町８２２番地の２",
    },
];

/// Extra residents beyond the twelve above are combined from these lists.
const EXTRA_FAMILY: [(&str, &str); 8] = [
    ("北川", "キタガワ"),
    ("辻", "ツジ"),
    ("中村", "ナカムラ"),
    ("上田", "ウエダ"),
    ("杉本", "スギモト"),
    ("坂口", "サカグチ"),
    ("谷口", "タニグチ"),
    ("今井", "イマイ"),
];
const EXTRA_GIVEN: [(&str, &str, u8); 6] = [
    ("誠", "マコト", 1),
    ("陽子", "ヨウコ", 2),
    ("隆", "タカシ", 1),
    ("直美", "ナオミ", 2),
    ("修", "オサム", 1),
    ("久美子", "クミコ", 2),
];
const EXTRA_TOWNS: [&str; 6] = [
    "新町５７８番地",
    "瀬古口２４０番地",
    "美旗中村２３６１番地",
    "青蓮寺５１２番地",
    "鴻之台二番町４３番地",
    "東町１８８０番地",
];

/// Era digit of a Gregorian date (1 明治, 2 大正, 3 昭和, 4 平成, 5 令和).
pub fn era_digit(year: i32, month: u8, day: u8) -> u8 {
    let d = (year, month, day);
    if d >= (2019, 5, 1) {
        5
    } else if d >= (1989, 1, 8) {
        4
    } else if d >= (1926, 12, 25) {
        3
    } else if d >= (1912, 7, 30) {
        2
    } else if d >= (1868, 10, 23) {
        1
    } else {
        0
    }
}

fn resident(index: usize) -> Resident {
    let (family, given, family_kana, given_kana, sex, birth, address) = if index < PEOPLE.len() {
        let p = &PEOPLE[index];
        (
            p.family,
            p.given,
            p.family_kana,
            p.given_kana,
            p.sex,
            p.birth,
            p.address,
        )
    } else {
        let k = index - PEOPLE.len();
        let (f, fk) = EXTRA_FAMILY[k % EXTRA_FAMILY.len()];
        let (g, gk, sex) = EXTRA_GIVEN[(k / EXTRA_FAMILY.len() + k) % EXTRA_GIVEN.len()];
        let year = 1940 + (k * 7 % 65) as i32;
        let month = (k * 5 % 12 + 1) as u8;
        let day = (k * 11 % 28 + 1) as u8;
        (
            f,
            g,
            fk,
            gk,
            sex,
            (year, month, day),
            EXTRA_TOWNS[k % EXTRA_TOWNS.len()],
        )
    };
    let (y, m, d) = birth;
    Resident {
        id: format!("R{:04}", index + 1),
        name: format!("{family}\u{3000}{given}"),
        display_name: format!("{family} {given}"),
        name_kana: format!("{family_kana} {given_kana}"),
        sex,
        birth_date: format!("{y:04}-{m:02}-{d:02}"),
        birth_date_jpki: format!("{}{y:04}{m:02}{d:02}", era_digit(y, m, d)),
        address: format!("三重県名張市{address}"),
        prefecture_romaji: PREFECTURE_ROMAJI.into(),
        municipality_romaji: MUNICIPALITY_ROMAJI.into(),
    }
}

/// The end of the 5th birthday after `issued` (23:59:59 JST), the JPKI validity rule.
fn fifth_birthday_after(issued: i64, birth: (i32, u8, u8)) -> Result<i64, Error> {
    let issued_jst = ts(issued + JST)?;
    let (_, bm, bd) = birth;
    let month = Month::try_from(bm).map_err(|e| Error::Internal(e.to_string()))?;
    let birthday_in = |year: i32| -> Result<Date, Error> {
        Date::from_calendar_date(year, month, bd)
            .or_else(|_| Date::from_calendar_date(year, month, bd - 1)) // 29 Feb → 28 Feb
            .map_err(|e| Error::Internal(e.to_string()))
    };
    let mut first = birthday_in(issued_jst.year())?;
    if first <= issued_jst.date() {
        first = birthday_in(issued_jst.year() + 1)?;
    }
    let fifth = birthday_in(first.year() + 4)?;
    let end = fifth
        .with_hms(23, 59, 59)
        .map_err(|e| Error::Internal(e.to_string()))?
        .assume_offset(UtcOffset::UTC);
    Ok(end.unix_timestamp() - JST)
}

fn random_chars(alphabet: &[u8], n: usize) -> Result<String, Error> {
    let mut buf = vec![0u8; n];
    openssl::rand::rand_bytes(&mut buf)?;
    Ok(buf
        .iter()
        .map(|b| alphabet[usize::from(*b) % alphabet.len()] as char)
        .collect())
}

const DIGITS: &[u8] = b"0123456789";
const UPPER: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const UPPER_DIGITS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/// Opaque user-authentication CN in the shape of a real card's (`997794E9AGCIEG13221003A`).
fn auth_cn() -> Result<String, Error> {
    Ok(format!(
        "{}{}{}{}{}",
        random_chars(DIGITS, 6)?,
        random_chars(UPPER_DIGITS, 2)?,
        random_chars(UPPER, 6)?,
        random_chars(DIGITS, 8)?,
        random_chars(UPPER, 1)?
    ))
}

/// Signature CN: issue-request time (JST, YYYYMMDDhhmmss) + sequence + reception window code.
fn sign_cn(issued: i64, seq: usize) -> Result<String, Error> {
    let t = ts(issued + JST)?;
    Ok(format!(
        "{:04}{:02}{:02}{:02}{:02}{:02}{:03}{NABARI_CODE}{}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        seq % 1000,
        random_chars(UPPER, 1)?
    ))
}

/// PIN of the user-authentication token: 4 digits.
fn auth_pin() -> Result<String, Error> {
    random_chars(DIGITS, 4)
}

/// Signature password: 6–16 upper-case letters and digits, at least one of each.
fn sign_password() -> Result<String, Error> {
    let mut len = [0u8; 1];
    openssl::rand::rand_bytes(&mut len)?;
    let n = 6 + usize::from(len[0]) % 11;
    loop {
        let p = random_chars(UPPER_DIGITS, n)?;
        if p.bytes().any(|b| b.is_ascii_digit()) && p.bytes().any(|b| b.is_ascii_uppercase()) {
            return Ok(p);
        }
    }
}

/// An issued root with everything needed to issue under it.
pub(crate) struct IssuedCa {
    pub name: String,
    pub purpose: Purpose,
    pub generation: Option<u8>,
    pub cert: X509,
    pub key: PKey<Private>,
    pub key_id: Vec<u8>,
    pub not_before: i64,
    pub not_after: i64,
    serials: HashSet<u64>,
    revoked: Vec<RevokedEntry>,
    paths: (std::path::PathBuf, std::path::PathBuf, std::path::PathBuf),
}

impl IssuedCa {
    fn take_serial(&mut self, wanted: Option<u64>) -> Result<u64, Error> {
        let serial = match wanted {
            Some(s) if !self.serials.contains(&s) => s,
            _ => short_serial(&self.serials)?,
        };
        self.serials.insert(serial);
        Ok(serial)
    }
}

fn make_root(
    out: &OutDir,
    purpose: Purpose,
    generation: Option<u8>,
    key: PKey<Private>,
    copy_key_id: Option<&[u8]>,
    not_before: i64,
    not_after: i64,
) -> Result<IssuedCa, Error> {
    let name = root_name(purpose)?;
    let own_id = key_id(&key)?;
    let key_id = copy_key_id.map(<[u8]>::to_vec).unwrap_or(own_id);
    let label = match generation {
        Some(g) => format!("{}-gen{g}", purpose.short()),
        None => format!("{}-rogue", purpose.short()),
    };
    let extensions = vec![
        BasicConstraints::new().critical().ca().build()?,
        KeyUsage::new()
            .critical()
            .key_cert_sign()
            .crl_sign()
            .build()?,
        ski_ext(&key_id)?,
    ];
    let cert = issue(CertSpec {
        subject: &name,
        subject_key: &key,
        issuer: None,
        serial: u64::from(generation.unwrap_or(1)),
        not_before,
        not_after,
        extensions,
    })?;
    let stem = format!("jpki/ca/{label}");
    let (pem, der_path) = write_cert(out, &stem, &cert)?;
    let key_path = out.write_key(&format!("{stem}.key.pem"), &key)?;
    Ok(IssuedCa {
        name: label,
        purpose,
        generation,
        cert,
        key,
        key_id,
        not_before,
        not_after,
        serials: HashSet::new(),
        revoked: Vec::new(),
        paths: (pem, der_path, key_path),
    })
}

/// One card to issue.
struct CardPlan {
    number: String,
    case: CardCase,
    person: usize,
    /// CA generation (1 or 2); `None` = the rogue root.
    generation: Option<u8>,
    issued: i64,
    auth_revocation: Option<(RevocationReason, i64)>,
    sign_revocation: Option<(RevocationReason, i64)>,
    replaces: Option<String>,
    replaced_by: Option<String>,
    /// Reuse the auth-certificate serial of this earlier card (under another CA).
    reuse_auth_serial_of: Option<usize>,
    /// Copy subject and serials of this earlier card (forged card).
    impersonate: Option<usize>,
    note: String,
}

fn plan_cards(residents: usize, now: i64) -> Vec<CardPlan> {
    let mut plans: Vec<CardPlan> = Vec::new();
    let jitter = |i: usize| ((i as i64) * 3571) % DAY;
    let mut next_number = 1usize;
    let mut number = || {
        let n = format!("{next_number:04}");
        next_number += 1;
        n
    };
    let base = |number: String, case, person, generation: u8, issued: i64, note: &str| CardPlan {
        number,
        case,
        person,
        generation: Some(generation),
        issued,
        auth_revocation: None,
        sign_revocation: None,
        replaces: None,
        replaced_by: None,
        reuse_auth_serial_of: None,
        impersonate: None,
        note: note.to_string(),
    };
    let mut key_compromise_card = None;
    for i in 0..residents {
        let j = jitter(i);
        match i {
            2 => plans.push(base(
                number(),
                CardCase::Expired,
                i,
                1,
                now - 5 * YEAR - 200 * DAY + j,
                "both certificates expired (notAfter in the past), not on any CRL",
            )),
            3 => plans.push(base(
                number(),
                CardCase::NotYetValid,
                i,
                2,
                now + YEAR + j,
                "both certificates become valid a year after generation",
            )),
            4 => {
                let mut p = base(
                    number(),
                    CardCase::KeyCompromise,
                    i,
                    1,
                    now - 900 * DAY + j,
                    "card reported lost: both certificates revoked (keyCompromise)",
                );
                p.auth_revocation = Some((RevocationReason::KeyCompromise, now - 20 * DAY));
                p.sign_revocation = Some((RevocationReason::KeyCompromise, now - 20 * DAY));
                key_compromise_card = Some(plans.len());
                plans.push(p);
            }
            5 => {
                let mut p = base(number(), CardCase::AffiliationChanged, i, 2, now - 300 * DAY + j,
                    "resident moved within Nabari: signature certificate revoked (affiliationChanged), user-authentication certificate still valid");
                p.sign_revocation = Some((RevocationReason::AffiliationChanged, now - 12 * DAY));
                plans.push(p);
            }
            6 => {
                let old_number = number();
                let new_number = number();
                let mut old = base(
                    old_number.clone(),
                    CardCase::Superseded,
                    i,
                    1,
                    now - 3 * YEAR + j,
                    "old card of a renewed resident: both certificates revoked (superseded)",
                );
                old.auth_revocation = Some((RevocationReason::Superseded, now - 5 * DAY));
                old.sign_revocation = Some((RevocationReason::Superseded, now - 5 * DAY));
                old.replaced_by = Some(new_number.clone());
                let mut new = base(new_number, CardCase::Renewed, i, 2, now - 5 * DAY + 3600,
                    "new card of the same resident after renewal: new keys, serials and CNs, generation 2");
                new.replaces = Some(old_number);
                plans.push(old);
                plans.push(new);
            }
            _ => {
                let generation = if i % 2 == 0 { 1 } else { 2 };
                let issued = if generation == 1 {
                    now - (400 + (i as i64 * 53) % 900) * DAY + j
                } else {
                    now - (20 + (i as i64 * 47) % 600) * DAY + j
                };
                let mut p = base(
                    number(),
                    CardCase::Valid,
                    i,
                    generation,
                    issued,
                    "valid card",
                );
                if i == 7 {
                    if let Some(k) = key_compromise_card {
                        p.reuse_auth_serial_of = Some(k);
                        p.note = "valid card whose user-authentication serial equals the revoked (keyCompromise) generation-1 card's: serials are unique per CA only".into();
                    }
                }
                plans.push(p);
            }
        }
    }
    if let Some(first) = plans.first() {
        let issued = first.issued;
        let person = first.person;
        plans.push(CardPlan {
            number: "9001".into(),
            case: CardCase::Forged,
            person,
            generation: None,
            issued,
            auth_revocation: None,
            sign_revocation: None,
            replaces: None,
            replaced_by: None,
            reuse_auth_serial_of: None,
            impersonate: Some(0),
            note: "forged card: issued by the rogue root (same DN and key identifier as generation 1), copying card 0001's subjects and serials".into(),
        });
    }
    plans
}

/// Material of one card kept in memory for the token writer.
pub(crate) struct CardMaterial {
    pub card: Card,
    pub auth_key: PKey<Private>,
    pub sign_key: PKey<Private>,
    pub auth_cert: X509,
    pub sign_cert: X509,
    pub auth_ca: X509,
    pub sign_ca: X509,
}

pub(crate) struct JpkiOutput {
    pub cas: Vec<Ca>,
    pub cards: Vec<CardMaterial>,
}

/// Number of RSA keys [`generate`] will take from the pool.
pub(crate) fn keys_needed(residents: usize) -> usize {
    6 + 2 * plan_cards(residents, 0).len()
}

fn name_of(parts: &[(Nid, &str, Asn1Type)]) -> Result<X509Name, Error> {
    let mut b = X509NameBuilder::new()?;
    for (nid, value, ty) in parts {
        b.append_entry_by_nid_with_type(*nid, value, *ty)?;
    }
    Ok(b.build())
}

/// issuerAltName: DirName `C=JP, O=公的個人認証サービス`.
fn issuer_alt_name() -> Result<openssl::x509::X509Extension, Error> {
    let dir = name_of(&[
        (Nid::COUNTRYNAME, "JP", Asn1Type::PRINTABLESTRING),
        (
            Nid::ORGANIZATIONNAME,
            "公的個人認証サービス",
            Asn1Type::UTF8STRING,
        ),
    ])?;
    // GeneralNames ::= SEQUENCE OF GeneralName; directoryName [4] EXPLICIT Name (CHOICE).
    let value = der::sequence(&[der::context_constructed(4, &dir.to_der()?)]);
    ext_der("2.5.29.18", false, &value)
}

/// certificatePolicies with one policy and a CPS pointer (marked critical as in JPKI dumps).
fn policies(policy: &str) -> Result<openssl::x509::X509Extension, Error> {
    let oid = |s: &str| der::oid(s).ok_or_else(|| Error::Internal(format!("bad OID {s}")));
    let qualifier = der::sequence(&[oid("1.3.6.1.5.5.7.2.1")?, der::ia5_string(CPS_URI)]);
    let info = der::sequence(&[oid(policy)?, der::sequence(&[qualifier])]);
    ext_der("2.5.29.32", true, &der::sequence(&[info]))
}

/// cRLDistributionPoints as a DirectoryName partitioned by locality (indicative, jpki.md §1).
fn crl_distribution_point(purpose: Purpose) -> Result<openssl::x509::X509Extension, Error> {
    let ou = match purpose {
        Purpose::Signature => "JPKI for digital signature",
        Purpose::UserAuthentication => "JPKI for user authentication",
    };
    let dir = name_of(&[
        (Nid::COUNTRYNAME, "JP", Asn1Type::PRINTABLESTRING),
        (Nid::ORGANIZATIONNAME, "JPKI", Asn1Type::PRINTABLESTRING),
        (Nid::ORGANIZATIONALUNITNAME, ou, Asn1Type::PRINTABLESTRING),
        (
            Nid::ORGANIZATIONALUNITNAME,
            "CRL Distribution Points",
            Asn1Type::PRINTABLESTRING,
        ),
        (
            Nid::ORGANIZATIONALUNITNAME,
            PREFECTURE_ROMAJI,
            Asn1Type::PRINTABLESTRING,
        ),
        (
            Nid::COMMONNAME,
            MUNICIPALITY_ROMAJI,
            Asn1Type::PRINTABLESTRING,
        ),
    ])?;
    // DistributionPoint { distributionPoint [0] { fullName [0] GeneralNames { [4] Name } } }
    let full_name = der::context_constructed(0, &der::context_constructed(4, &dir.to_der()?));
    let dp = der::sequence(&[der::context_constructed(0, &full_name)]);
    ext_der("2.5.29.31", false, &der::sequence(&[dp]))
}

/// subjectAltName of the signature certificate: the four attributes as otherName UTF8Strings.
fn personal_data_san(r: &Resident) -> Result<openssl::x509::X509Extension, Error> {
    let other_name = |oid_s: &str, value: &str| -> Result<Vec<u8>, Error> {
        let oid = der::oid(oid_s).ok_or_else(|| Error::Internal(format!("bad OID {oid_s}")))?;
        // otherName [0] IMPLICIT SEQUENCE { type-id OID, value [0] EXPLICIT UTF8String }
        Ok(der::context_constructed(
            0,
            &[oid, der::context_constructed(0, &der::utf8_string(value))].concat(),
        ))
    };
    let names = der::sequence(&[
        other_name(OID_NAME, &r.name)?,
        other_name(OID_SEX, &r.sex.to_string())?,
        other_name(OID_BIRTH_DATE, &r.birth_date_jpki)?,
        other_name(OID_ADDRESS, &r.address)?,
    ]);
    ext_der("2.5.29.17", false, &names)
}

/// Issues every JPKI object and writes the files. `now` is the generation time (unix).
pub(crate) fn generate(
    out: &OutDir,
    residents: usize,
    now: i64,
    keys: &mut KeyPool,
) -> Result<JpkiOutput, Error> {
    // Roots: a new generation about every 4 years, 10-year life (jpki.md §1).
    let mut cas: Vec<IssuedCa> = Vec::new();
    for purpose in [Purpose::Signature, Purpose::UserAuthentication] {
        let g1 = make_root(
            out,
            purpose,
            Some(1),
            keys.take()?,
            None,
            now - 6 * YEAR,
            now + 4 * YEAR + 2 * DAY,
        )?;
        let g2 = make_root(
            out,
            purpose,
            Some(2),
            keys.take()?,
            None,
            now - 2 * YEAR,
            now + 8 * YEAR + 2 * DAY,
        )?;
        let copied = g1.key_id.clone();
        let rogue = make_root(
            out,
            purpose,
            None,
            keys.take()?,
            Some(&copied),
            now - YEAR,
            now + 9 * YEAR,
        )?;
        cas.extend([g1, g2, rogue]);
    }
    let ca_index = |purpose: Purpose, generation: Option<u8>| -> Result<usize, Error> {
        cas.iter()
            .position(|c| c.purpose == purpose && c.generation == generation)
            .ok_or_else(|| Error::Internal("missing CA".into()))
    };
    let index_of = [
        (
            Purpose::Signature,
            Some(1u8),
            ca_index(Purpose::Signature, Some(1))?,
        ),
        (
            Purpose::Signature,
            Some(2),
            ca_index(Purpose::Signature, Some(2))?,
        ),
        (
            Purpose::Signature,
            None,
            ca_index(Purpose::Signature, None)?,
        ),
        (
            Purpose::UserAuthentication,
            Some(1),
            ca_index(Purpose::UserAuthentication, Some(1))?,
        ),
        (
            Purpose::UserAuthentication,
            Some(2),
            ca_index(Purpose::UserAuthentication, Some(2))?,
        ),
        (
            Purpose::UserAuthentication,
            None,
            ca_index(Purpose::UserAuthentication, None)?,
        ),
    ];
    let lookup = |purpose: Purpose, generation: Option<u8>| -> Result<usize, Error> {
        index_of
            .iter()
            .find(|(p, g, _)| *p == purpose && *g == generation)
            .map(|(_, _, i)| *i)
            .ok_or_else(|| Error::Internal("missing CA".into()))
    };

    let plans = plan_cards(residents, now);
    let mut cards: Vec<CardMaterial> = Vec::new();
    for (seq, plan) in plans.iter().enumerate() {
        let resident = resident(plan.person);
        let birth = {
            let p = plan.person;
            let r = &resident;
            let y: i32 = r.birth_date[0..4]
                .parse()
                .map_err(|_| Error::Internal(format!("birth date of {p}")))?;
            let m: u8 = r.birth_date[5..7]
                .parse()
                .map_err(|_| Error::Internal(format!("birth date of {p}")))?;
            let d: u8 = r.birth_date[8..10]
                .parse()
                .map_err(|_| Error::Internal(format!("birth date of {p}")))?;
            (y, m, d)
        };
        let impersonated = plan.impersonate.and_then(|i| cards.get(i));
        let mut certs = Vec::new();
        for purpose in [Purpose::UserAuthentication, Purpose::Signature] {
            let ci = lookup(purpose, plan.generation)?;
            let key = keys.take()?;
            let (subject, wanted_serial) = match impersonated {
                Some(victim) => {
                    let (cert, info) = match purpose {
                        Purpose::UserAuthentication => (&victim.auth_cert, &victim.card.auth_cert),
                        Purpose::Signature => (&victim.sign_cert, &victim.card.sign_cert),
                    };
                    let serial = u64::from_str_radix(&info.serial, 16)
                        .map_err(|e| Error::Internal(e.to_string()))?;
                    (cert.subject_name().to_owned()?, Some(serial))
                }
                None => {
                    let subject = match purpose {
                        Purpose::UserAuthentication => name_of(&[
                            (Nid::COUNTRYNAME, "JP", Asn1Type::PRINTABLESTRING),
                            (Nid::COMMONNAME, &auth_cn()?, Asn1Type::PRINTABLESTRING),
                        ])?,
                        Purpose::Signature => name_of(&[
                            (Nid::COUNTRYNAME, "JP", Asn1Type::PRINTABLESTRING),
                            (
                                Nid::LOCALITYNAME,
                                PREFECTURE_ROMAJI,
                                Asn1Type::PRINTABLESTRING,
                            ),
                            (
                                Nid::LOCALITYNAME,
                                MUNICIPALITY_ROMAJI,
                                Asn1Type::PRINTABLESTRING,
                            ),
                            (
                                Nid::COMMONNAME,
                                &sign_cn(plan.issued, seq)?,
                                Asn1Type::PRINTABLESTRING,
                            ),
                        ])?,
                    };
                    let wanted = match (purpose, plan.reuse_auth_serial_of) {
                        (Purpose::UserAuthentication, Some(k)) => match cards.get(k) {
                            Some(c) => Some(
                                u64::from_str_radix(&c.card.auth_cert.serial, 16)
                                    .map_err(|e| Error::Internal(e.to_string()))?,
                            ),
                            None => None,
                        },
                        _ => None,
                    };
                    (subject, wanted)
                }
            };
            let ca = &mut cas[ci];
            let serial = ca.take_serial(wanted_serial)?;
            let not_before = plan.issued;
            let not_after = fifth_birthday_after(plan.issued, birth)?.min(ca.not_after - DAY);
            let mut extensions = vec![match purpose {
                Purpose::UserAuthentication => {
                    KeyUsage::new().critical().digital_signature().build()?
                }
                Purpose::Signature => KeyUsage::new()
                    .critical()
                    .digital_signature()
                    .non_repudiation()
                    .build()?,
            }];
            extensions.push(policies(match purpose {
                Purpose::UserAuthentication => POLICY_USER_AUTHENTICATION,
                Purpose::Signature => POLICY_SIGNATURE,
            })?);
            if purpose == Purpose::Signature {
                extensions.push(personal_data_san(&resident)?);
            }
            extensions.push(issuer_alt_name()?);
            extensions.push(crl_distribution_point(purpose)?);
            extensions.push(aki_ext(&ca.key_id)?);
            extensions.push(ski_ext(&key_id(&key)?)?);
            let cert = issue(CertSpec {
                subject: &subject,
                subject_key: &key,
                issuer: Some((&ca.cert, &ca.key)),
                serial,
                not_before,
                not_after,
                extensions,
            })?;
            let revocation = match purpose {
                Purpose::UserAuthentication => plan.auth_revocation,
                Purpose::Signature => plan.sign_revocation,
            };
            if let Some((reason, at)) = revocation {
                ca.revoked.push(RevokedEntry {
                    serial,
                    revoked_at: at,
                    reason: reason.code(),
                });
            }
            let stem = format!("jpki/cards/{}/{}", plan.number, purpose.short());
            let (pem, der_path) = write_cert(out, &stem, &cert)?;
            let key_path = out.write_key(&format!("{stem}.key.pem"), &key)?;
            let info = CardCert {
                purpose,
                serial: serial_hex(serial),
                ca: ca.name.clone(),
                ca_key_id: hex(&ca.key_id),
                subject: oneline(cert.subject_name()),
                not_before: ts(not_before)?,
                not_after: ts(not_after)?,
                revocation: match revocation {
                    Some((reason, at)) => Some(Revocation {
                        reason,
                        revoked_at: ts(at)?,
                    }),
                    None => None,
                },
                pkcs11_id: match purpose {
                    Purpose::UserAuthentication => "01".into(),
                    Purpose::Signature => "02".into(),
                },
                cert_pem: pem,
                cert_der: der_path,
                key_pem: key_path,
            };
            certs.push((key, cert, info, ca.cert.clone()));
        }
        let (sign_key, sign_cert, sign_info, sign_ca) = certs
            .pop()
            .ok_or_else(|| Error::Internal("missing sign cert".into()))?;
        let (auth_key, auth_cert, auth_info, auth_ca) = certs
            .pop()
            .ok_or_else(|| Error::Internal("missing auth cert".into()))?;
        let card = Card {
            card_number: plan.number.clone(),
            case: plan.case,
            resident,
            auth_token: Token {
                label: format!("JPKI-AUTH {}", plan.number),
                serial: String::new(), // filled in when the token exists
                pin: auth_pin()?,
            },
            sign_token: Token {
                label: format!("JPKI-SIGN {}", plan.number),
                serial: String::new(),
                pin: sign_password()?,
            },
            auth_cert: auth_info,
            sign_cert: sign_info,
            replaces: plan.replaces.clone(),
            replaced_by: plan.replaced_by.clone(),
            note: plan.note.clone(),
        };
        cards.push(CardMaterial {
            card,
            auth_key,
            sign_key,
            auth_cert,
            sign_cert,
            auth_ca,
            sign_ca,
        });
    }

    // The rogue CRL "revokes" a valid generation-1 card under the copied key identifier: a
    // verifier that does not check CRL signatures would wrongly reject that card.
    if let Some(victim) = cards
        .iter()
        .find(|c| c.card.case == CardCase::Valid && c.card.auth_cert.ca.ends_with("gen1"))
    {
        for (purpose, info) in [
            (Purpose::UserAuthentication, &victim.card.auth_cert),
            (Purpose::Signature, &victim.card.sign_cert),
        ] {
            let serial = u64::from_str_radix(&info.serial, 16)
                .map_err(|e| Error::Internal(e.to_string()))?;
            let ri = lookup(purpose, None)?;
            cas[ri].revoked.push(RevokedEntry {
                serial,
                revoked_at: now - 2 * DAY,
                reason: RevocationReason::KeyCompromise.code(),
            });
        }
    }

    // One CRL per CA.
    let this_update = now - 3600;
    let next_update = this_update + CRL_VALIDITY;
    let mut manifest_cas = Vec::new();
    for ca in &mut cas {
        ca.revoked.sort_by_key(|e| e.serial);
        let crl_number = match ca.generation {
            Some(g) => 1000 * u64::from(g) + 1,
            None => 1,
        };
        let crl = build_crl(&CrlSpec {
            issuer: ca.cert.subject_name(),
            issuer_key_id: &ca.key_id,
            issuer_key: &ca.key,
            this_update,
            next_update,
            crl_number,
            entries: &ca.revoked,
        })?;
        let stem = format!("jpki/crl/{}", ca.name);
        let der_path = out.write(&format!("{stem}.crl.der"), &crl.to_der()?, false)?;
        let pem_path = out.write(&format!("{stem}.crl.pem"), &crl.to_pem()?, false)?;
        let mut entries = Vec::new();
        for e in &ca.revoked {
            entries.push(CrlEntry {
                serial: serial_hex(e.serial),
                reason: RevocationReason::from_code(e.reason)
                    .ok_or_else(|| Error::Internal("unknown reason".into()))?,
                revoked_at: ts(e.revoked_at)?,
            });
        }
        manifest_cas.push(Ca {
            name: ca.name.clone(),
            purpose: ca.purpose,
            generation: ca.generation,
            rogue: ca.generation.is_none(),
            subject: oneline(ca.cert.subject_name()),
            key_id: hex(&ca.key_id),
            not_before: ts(ca.not_before)?,
            not_after: ts(ca.not_after)?,
            cert_pem: ca.paths.0.clone(),
            cert_der: ca.paths.1.clone(),
            key_pem: ca.paths.2.clone(),
            crl: Crl {
                der: der_path,
                pem: pem_path,
                number: crl_number,
                this_update: ts(this_update)?,
                next_update: ts(next_update)?,
                entries,
            },
        });
    }
    // Order: sign-gen1, sign-gen2, sign-rogue, auth-gen1, auth-gen2, auth-rogue.
    Ok(JpkiOutput {
        cas: manifest_cas,
        cards,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn era_digits() {
        assert_eq!(era_digit(1989, 1, 7), 3);
        assert_eq!(era_digit(1989, 1, 8), 4);
        assert_eq!(era_digit(2019, 4, 30), 4);
        assert_eq!(era_digit(2019, 5, 1), 5);
        assert_eq!(era_digit(1926, 12, 24), 2);
        assert_eq!(era_digit(1912, 7, 29), 1);
    }

    #[test]
    fn fifth_birthday() {
        // Issued 2020-06-01 12:00 JST, born 1980-07-15: first birthday after = 2020-07-15,
        // fifth = 2024-07-15 23:59:59 JST.
        let issued = time::macros::datetime!(2020-06-01 03:00 UTC).unix_timestamp();
        let end = fifth_birthday_after(issued, (1980, 7, 15)).unwrap();
        assert_eq!(
            ts(end).unwrap(),
            time::macros::datetime!(2024-07-15 14:59:59 UTC)
        );
        // Issued on the birthday itself: the birthday of issue does not count.
        let issued = time::macros::datetime!(2020-07-15 03:00 UTC).unix_timestamp();
        let end = fifth_birthday_after(issued, (1980, 7, 15)).unwrap();
        assert_eq!(
            ts(end).unwrap(),
            time::macros::datetime!(2025-07-15 14:59:59 UTC)
        );
        // 29 February falls back to 28 February in common years.
        let issued = time::macros::datetime!(2021-01-01 03:00 UTC).unix_timestamp();
        let end = fifth_birthday_after(issued, (1988, 2, 29)).unwrap();
        assert_eq!(
            ts(end).unwrap(),
            time::macros::datetime!(2025-02-28 14:59:59 UTC)
        );
    }

    #[test]
    fn plan_covers_every_case_with_twelve_residents() {
        let plans = plan_cards(12, 1_800_000_000);
        for case in [
            CardCase::Valid,
            CardCase::Expired,
            CardCase::NotYetValid,
            CardCase::KeyCompromise,
            CardCase::AffiliationChanged,
            CardCase::Superseded,
            CardCase::Renewed,
            CardCase::Forged,
        ] {
            assert!(plans.iter().any(|p| p.case == case), "{case:?}");
        }
        assert_eq!(plans.len(), 14);
        assert!(plans.iter().filter(|p| p.case == CardCase::Valid).count() >= 6);
    }

    #[test]
    fn pins_have_the_jpki_shape() {
        for _ in 0..50 {
            let pin = auth_pin().unwrap();
            assert!(pin.len() == 4 && pin.bytes().all(|b| b.is_ascii_digit()));
            let pw = sign_password().unwrap();
            assert!((6..=16).contains(&pw.len()));
            assert!(pw
                .bytes()
                .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase()));
        }
        assert_eq!(auth_cn().unwrap().len(), 23);
    }
}
