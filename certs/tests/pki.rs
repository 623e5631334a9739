//! Checks of the generated test PKI: JPKI certificate fields (x509-parser and the openssl
//! program), chain building by key identifier across same-DN root generations, CRLs, virtual
//! cards through PKCS#11, federation/TLS material and idempotence.

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use certs::pkcs11::{self as p11, ID_AUTH, ID_AUTH_CA, ID_SIGN, ID_SIGN_CA};
use certs::{CardCase, KeyAlgorithm, KeyUse, Options, Pki, Purpose, RevocationReason};
use common::{fixture, tokens_lock};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::object::{Attribute, AttributeType, ObjectClass};
use cryptoki::session::UserType;
use cryptoki::types::AuthPin;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Public};
use openssl::sign::Verifier;
use openssl::x509::store::{X509Lookup, X509StoreBuilder};
use openssl::x509::verify::{X509VerifyFlags, X509VerifyParam};
use openssl::x509::{X509Crl, X509PurposeId, X509StoreContext, X509VerifyResult, X509};
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::prelude::{FromDer, X509Certificate};

const OID_SHA256_RSA: &str = "1.2.840.113549.1.1.11";

fn pki() -> &'static Pki {
    &fixture().pki
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn cert(path: &Path) -> X509 {
    certs::read_cert(path).unwrap()
}

fn ca_cert(name: &str) -> X509 {
    cert(&pki().manifest.ca(name).unwrap().cert_pem)
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Serial bytes without the DER sign octet.
fn strip_sign(raw: &[u8]) -> &[u8] {
    match raw {
        [0, rest @ ..] if !rest.is_empty() => rest,
        _ => raw,
    }
}

/// Verifies `leaf` against exactly `roots` (and `crls` with CRL checking when given).
fn verify(roots: &[&X509], leaf: &X509, crls: &[&Path]) -> (bool, X509VerifyResult) {
    let mut b = X509StoreBuilder::new().unwrap();
    for r in roots {
        b.add_cert((*r).clone()).unwrap();
    }
    if !crls.is_empty() {
        let lookup = b.add_lookup(X509Lookup::file()).unwrap();
        for crl in crls {
            lookup
                .load_crl_file(crl, openssl::ssl::SslFiletype::PEM)
                .unwrap();
        }
        b.set_flags(X509VerifyFlags::CRL_CHECK).unwrap();
    }
    let store = b.build();
    let chain = openssl::stack::Stack::new().unwrap();
    let mut ctx = X509StoreContext::new().unwrap();
    ctx.init(&store, leaf, &chain, |c| Ok((c.verify_cert()?, c.error())))
        .unwrap()
}

fn openssl_cli(args: &[&str]) -> (bool, String) {
    let out = Command::new("openssl")
        .args(args)
        .output()
        .expect("run openssl");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn cards_with(case: CardCase) -> Vec<&'static certs::Card> {
    pki().manifest.cards_with_case(case)
}

fn other_generation(ca: &str) -> String {
    if let Some(p) = ca.strip_suffix("gen1") {
        format!("{p}gen2")
    } else {
        format!("{}gen1", ca.trim_end_matches("gen2"))
    }
}

// ---------------------------------------------------------------------------------------------
// Manifest

#[test]
fn manifest_covers_every_case_and_is_consistent() {
    let m = &pki().manifest;
    assert_eq!(m.residents, certs::DEFAULT_RESIDENTS);
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
        assert!(!cards_with(case).is_empty(), "no card with case {case:?}");
    }
    assert!(
        cards_with(CardCase::Valid).len() >= 6,
        "most cards are valid"
    );
    // Residents on both generations.
    for generation in ["gen1", "gen2"] {
        assert!(m
            .cards
            .iter()
            .any(|c| c.case == CardCase::Valid && c.auth_cert.ca.ends_with(generation)));
    }
    // Labels: ≤ 32 chars and unique.
    let mut labels = HashSet::new();
    for c in &m.cards {
        for t in [&c.auth_token, &c.sign_token] {
            assert!(t.label.len() <= 32, "{}", t.label);
            assert!(
                labels.insert(t.label.clone()),
                "duplicate label {}",
                t.label
            );
            assert!(!t.serial.is_empty());
        }
        assert!(
            c.auth_token.pin.len() == 4 && c.auth_token.pin.bytes().all(|b| b.is_ascii_digit())
        );
        let pw = &c.sign_token.pin;
        assert!(
            (6..=16).contains(&pw.len())
                && pw
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()),
            "{pw}"
        );
    }
    // Serials: 3–4 bytes, positive, unique per CA; the same serial under two CAs exists.
    let mut per_ca: HashMap<&str, HashSet<&str>> = HashMap::new();
    let mut all: HashMap<&str, Vec<&str>> = HashMap::new();
    for c in &m.cards {
        for cc in [&c.auth_cert, &c.sign_cert] {
            let bytes = unhex(&cc.serial);
            assert!(
                (3..=4).contains(&bytes.len()) && bytes[0] & 0x80 == 0 && bytes[0] != 0,
                "{}",
                cc.serial
            );
            assert!(
                per_ca.entry(&cc.ca).or_default().insert(&cc.serial),
                "serial {} twice under {}",
                cc.serial,
                cc.ca
            );
            all.entry(&cc.serial).or_default().push(&cc.ca);
        }
    }
    assert!(
        all.values()
            .any(|cas| cas.contains(&"auth-gen1") && cas.contains(&"auth-gen2")),
        "expected one serial shared by both user-authentication generations"
    );
    // Renewal links.
    let old = cards_with(CardCase::Superseded)[0];
    let new = m.card(old.replaced_by.as_deref().unwrap()).unwrap();
    assert_eq!(new.case, CardCase::Renewed);
    assert_eq!(new.replaces.as_deref(), Some(old.card_number.as_str()));
    assert_eq!(new.resident, old.resident);
    assert_ne!(new.auth_cert.serial, old.auth_cert.serial);
    // Key ids: the two generations differ, the rogue copies generation 1.
    for purpose in [Purpose::Signature, Purpose::UserAuthentication] {
        let roots = m.trusted_roots(purpose);
        assert_eq!(roots.len(), 2);
        assert_ne!(roots[0].key_id, roots[1].key_id);
        assert_eq!(roots[0].subject, roots[1].subject);
        let rogue = m.rogue_root(purpose).unwrap();
        assert_eq!(rogue.subject, roots[0].subject);
        assert_eq!(
            Some(rogue.key_id.as_str()),
            m.cas
                .iter()
                .find(|c| c.purpose == purpose && c.generation == Some(1))
                .map(|c| c.key_id.as_str())
        );
        assert!(m.ca_by_key_id(&rogue.key_id).is_some_and(|c| !c.rogue));
    }
    // Every path exists; the module and SOFTHSM2_CONF are there.
    m.for_each_path(&mut |p| assert!(p.is_absolute() && p.exists(), "{}", p.display()));
    assert_eq!(
        m.softhsm.module,
        PathBuf::from("/usr/lib/softhsm/libsofthsm2.so")
    );
    pki().check().unwrap();
    // Loading gives the same manifest.
    let loaded = Pki::load(&pki().dir).unwrap();
    assert_eq!(loaded.manifest, pki().manifest);
    // The manifest on disk uses relative paths.
    let raw: serde_json::Value =
        serde_json::from_slice(&read(&pki().dir.join("manifest.json"))).unwrap();
    assert_eq!(raw["cas"][0]["cert_pem"], "jpki/ca/sign-gen1.crt.pem");
    assert_eq!(raw["softhsm"]["conf"], "softhsm/softhsm2.conf");
}

#[test]
fn check_rejects_an_incomplete_pki() {
    let mut broken = pki().clone();
    broken.manifest.cards[0].auth_cert.cert_pem = pki().dir.join("jpki/cards/nope.crt.pem");
    assert!(broken.check().unwrap_err().contains("missing"));
    let mut broken = pki().clone();
    broken.manifest.cards.pop();
    assert!(broken.check().unwrap_err().contains("tokens"));
    let mut broken = pki().clone();
    broken.manifest.cas[0].crl.next_update = time::OffsetDateTime::now_utc();
    assert!(broken.check().unwrap_err().contains("CRL"));
    assert!(matches!(
        certs::generate(
            &pki().dir,
            &Options {
                residents: Some(0),
                force: false
            }
        ),
        Err(certs::Error::InvalidOptions(_))
    ));
    assert!(matches!(
        Pki::load(pki().dir.join("jpki")),
        Err(certs::Error::ManifestMissing(_))
    ));
}

// ---------------------------------------------------------------------------------------------
// Certificates

/// Decodes `[0] EXPLICIT UTF8String` (the value part of a JPKI otherName).
fn explicit_utf8(raw: &[u8]) -> String {
    assert_eq!(raw[0], 0xA0, "otherName value must be [0] EXPLICIT");
    let inner = &raw[2..];
    assert_eq!(raw[1] as usize, inner.len(), "short-form length expected");
    assert_eq!(inner[0], 0x0C, "otherName value must be a UTF8String");
    let (len, body) = if inner[1] < 0x80 {
        (inner[1] as usize, &inner[2..])
    } else {
        assert_eq!(inner[1], 0x81);
        (inner[2] as usize, &inner[3..])
    };
    assert_eq!(len, body.len());
    String::from_utf8(body.to_vec()).unwrap()
}

fn subject_parts(c: &X509Certificate<'_>) -> Vec<(String, String)> {
    c.subject()
        .iter_attributes()
        .map(|a| {
            let oid = a.attr_type().to_id_string();
            let short = match oid.as_str() {
                "2.5.4.6" => "C",
                "2.5.4.7" => "L",
                "2.5.4.3" => "CN",
                "2.5.4.10" => "O",
                "2.5.4.11" => "OU",
                other => panic!("unexpected attribute {other}"),
            };
            (short.to_string(), a.as_str().unwrap().to_string())
        })
        .collect()
}

#[test]
fn resident_certificates_have_the_jpki_profile() {
    let m = &pki().manifest;
    for card in &m.cards {
        for cc in [&card.auth_cert, &card.sign_cert] {
            let der = read(&cc.cert_der);
            assert_eq!(
                cert(&cc.cert_pem).to_der().unwrap(),
                der,
                "PEM and DER differ"
            );
            let (rest, c) = X509Certificate::from_der(&der).unwrap();
            assert!(rest.is_empty());
            let what = format!("card {} {:?}", card.card_number, cc.purpose);
            assert_eq!(c.version().0, 2, "{what}: v3");
            assert_eq!(
                c.signature_algorithm.algorithm.to_id_string(),
                OID_SHA256_RSA,
                "{what}"
            );
            let spki = c.public_key().parsed().unwrap();
            match spki {
                x509_parser::public_key::PublicKey::RSA(rsa) => {
                    assert_eq!(rsa.key_size(), 2048, "{what}");
                    assert_eq!(rsa.exponent, &[1, 0, 1]);
                }
                other => panic!("{what}: {other:?}"),
            }
            // Serial: positive, 3–4 bytes, as in the manifest.
            assert!(c.raw_serial()[0] & 0x80 == 0, "{what}: negative serial");
            let serial = strip_sign(c.raw_serial());
            assert!((3..=4).contains(&serial.len()), "{what}");
            assert_eq!(hex(serial), cc.serial, "{what}");
            // Issuer DN is the root DN of its purpose.
            let ca = m.ca(&cc.ca).unwrap();
            let ca_der = read(&ca.cert_der);
            let (_, ca_x) = X509Certificate::from_der(&ca_der).unwrap();
            assert_eq!(c.issuer().as_raw(), ca_x.subject().as_raw(), "{what}");
            // Subject.
            let subject = subject_parts(&c);
            match cc.purpose {
                Purpose::UserAuthentication => {
                    assert_eq!(subject.len(), 2, "{what}: C and CN only");
                    assert_eq!(subject[0], ("C".into(), "JP".into()));
                    assert_eq!(subject[1].0, "CN");
                    assert!(
                        (21..=23).contains(&subject[1].1.len()),
                        "{what}: CN {}",
                        subject[1].1
                    );
                    assert!(subject[1].1.bytes().all(|b| b.is_ascii_alphanumeric()));
                }
                Purpose::Signature => {
                    let keys: Vec<&str> = subject.iter().map(|(k, _)| k.as_str()).collect();
                    assert_eq!(keys, ["C", "L", "L", "CN"], "{what}");
                    assert_eq!(subject[1].1, "Mie-ken");
                    assert_eq!(subject[2].1, "Nabari-shi");
                }
            }
            // keyUsage: critical, exact bits.
            let ku = c.key_usage().unwrap().expect("keyUsage");
            assert!(ku.critical, "{what}: keyUsage critical");
            assert!(ku.value.digital_signature());
            assert_eq!(
                ku.value.non_repudiation(),
                cc.purpose == Purpose::Signature,
                "{what}"
            );
            assert!(
                !ku.value.key_encipherment() && !ku.value.key_cert_sign() && !ku.value.crl_sign()
            );
            // Extensions by content.
            let mut policy = None;
            let mut san = None;
            let mut aki = None;
            let mut issuer_alt = None;
            for ext in c.extensions() {
                match ext.parsed_extension() {
                    ParsedExtension::CertificatePolicies(p) => {
                        policy = Some(
                            p.iter()
                                .map(|i| i.policy_id.to_id_string())
                                .collect::<Vec<_>>(),
                        )
                    }
                    ParsedExtension::SubjectAlternativeName(s) => {
                        san = Some(s.general_names.clone())
                    }
                    ParsedExtension::AuthorityKeyIdentifier(a) => {
                        aki = a.key_identifier.as_ref().map(|k| k.0.to_vec())
                    }
                    ParsedExtension::IssuerAlternativeName(i) => {
                        issuer_alt = Some(i.general_names.clone())
                    }
                    _ => {}
                }
            }
            let expected_policy = match cc.purpose {
                Purpose::UserAuthentication => "1.2.392.200149.8.5.1.3.30",
                Purpose::Signature => "1.2.392.200149.8.5.1.1.20",
            };
            assert_eq!(policy.unwrap(), vec![expected_policy.to_string()], "{what}");
            // AKI keyid = issuer SKI = manifest key id.
            let ca_ski = ca_x
                .extensions()
                .iter()
                .find_map(|e| match e.parsed_extension() {
                    ParsedExtension::SubjectKeyIdentifier(k) => Some(k.0.to_vec()),
                    _ => None,
                })
                .unwrap();
            assert_eq!(
                aki.as_deref(),
                Some(&ca_ski[..]),
                "{what}: AKI = issuer SKI"
            );
            assert_eq!(hex(&ca_ski), cc.ca_key_id);
            // issuerAltName DirName O=公的個人認証サービス.
            let ian = issuer_alt.expect("issuerAltName");
            match &ian[0] {
                GeneralName::DirectoryName(n) => {
                    let o: Vec<_> = n
                        .iter_organization()
                        .map(|a| a.as_str().unwrap().to_string())
                        .collect();
                    assert_eq!(o, ["公的個人認証サービス"]);
                }
                other => panic!("{what}: {other:?}"),
            }
            // Personal data only in the signature certificate.
            match cc.purpose {
                Purpose::UserAuthentication => assert!(
                    san.is_none(),
                    "{what}: auth cert must not carry personal data"
                ),
                Purpose::Signature => {
                    let mut values = BTreeMap::new();
                    for gn in san.expect("subjectAltName") {
                        match gn {
                            GeneralName::OtherName(oid, raw) => {
                                values.insert(oid.to_id_string(), explicit_utf8(raw));
                            }
                            other => panic!("{what}: unexpected {other:?}"),
                        }
                    }
                    let r = &card.resident;
                    assert_eq!(values["1.2.392.200149.8.5.5.1"], r.name);
                    assert!(
                        r.name.contains('\u{3000}'),
                        "family and given separated by U+3000"
                    );
                    assert_eq!(values["1.2.392.200149.8.5.5.3"], r.sex.to_string());
                    assert_eq!(values["1.2.392.200149.8.5.5.4"], r.birth_date_jpki);
                    assert_eq!(values["1.2.392.200149.8.5.5.5"], r.address);
                    assert!(r.address.starts_with("三重県名張市"));
                    assert_eq!(values.len(), 4);
                }
            }
        }
    }
    // Era digits of the boundary residents.
    let by_birth = |d: &str| {
        m.cards
            .iter()
            .find(|c| c.resident.birth_date == d)
            .map(|c| c.resident.birth_date_jpki.clone())
    };
    assert_eq!(by_birth("1989-01-07").as_deref(), Some("319890107"));
    assert_eq!(by_birth("1989-01-08").as_deref(), Some("419890108"));
    assert_eq!(by_birth("1924-08-10").as_deref(), Some("219240810"));
}

#[test]
fn roots_are_jpki_shaped() {
    for ca in &pki().manifest.cas {
        let der = read(&ca.cert_der);
        let (_, c) = X509Certificate::from_der(&der).unwrap();
        assert_eq!(
            c.subject().as_raw(),
            c.issuer().as_raw(),
            "{} self-signed",
            ca.name
        );
        let bc = c.basic_constraints().unwrap().expect("basicConstraints");
        assert!(bc.critical && bc.value.ca, "{}", ca.name);
        let ku = c.key_usage().unwrap().expect("keyUsage");
        assert!(ku.value.key_cert_sign() && ku.value.crl_sign() && !ku.value.digital_signature());
        let subject: Vec<_> = subject_parts(&c);
        let ou = match ca.purpose {
            Purpose::Signature => "JPKI for digital signature",
            Purpose::UserAuthentication => "JPKI for user authentication",
        };
        assert_eq!(
            subject,
            [
                ("C".to_string(), "JP".to_string()),
                ("O".into(), "JPKI".into()),
                ("OU".into(), ou.into()),
                (
                    "OU".into(),
                    "Japan Agency for Local Authority Information Systems".into()
                )
            ]
        );
        // Every root, the rogue one included, is self-signed with its own key.
        let x = cert(&ca.cert_pem);
        assert!(x.verify(&x.public_key().unwrap()).unwrap(), "{}", ca.name);
        assert_eq!(x.public_key().unwrap().bits(), 2048);
    }
}

#[test]
fn openssl_program_parses_every_certificate() {
    let m = &pki().manifest;
    let mut pems: Vec<(PathBuf, Vec<String>)> = Vec::new();
    for ca in &m.cas {
        pems.push((
            ca.cert_pem.clone(),
            vec!["CA:TRUE".into(), "Certificate Sign, CRL Sign".into()],
        ));
    }
    for card in &m.cards {
        pems.push((
            card.auth_cert.cert_pem.clone(),
            vec![
                "Digital Signature".into(),
                "1.2.392.200149.8.5.1.3.30".into(),
                "sha256WithRSAEncryption".into(),
            ],
        ));
        pems.push((
            card.sign_cert.cert_pem.clone(),
            vec![
                "Digital Signature, Non Repudiation".into(),
                "1.2.392.200149.8.5.1.1.20".into(),
                card.resident.name.clone(),
                card.resident.address.clone(),
                format!("1.2.392.200149.8.5.5.4::{}", card.resident.birth_date_jpki),
            ],
        ));
    }
    for e in &m.federation {
        for k in &e.keys {
            pems.push((k.cert_pem.clone(), vec![e.host.clone()]));
        }
    }
    for t in [&m.tls.ca, &m.tls.server, &m.tls.client] {
        pems.push((t.cert_pem.clone(), vec![]));
    }
    for (path, expected) in pems {
        let (ok, text) = openssl_cli(&["x509", "-noout", "-text", "-in", path.to_str().unwrap()]);
        assert!(ok, "{}: {text}", path.display());
        for e in expected {
            assert!(
                text.contains(&e),
                "{}: {e:?} not in\n{text}",
                path.display()
            );
        }
    }
    // DER files too.
    let der = &m.cards[0].auth_cert.cert_der;
    let (ok, text) = openssl_cli(&[
        "x509",
        "-inform",
        "DER",
        "-noout",
        "-serial",
        "-in",
        der.to_str().unwrap(),
    ]);
    assert!(ok, "{text}");
    assert!(text.to_lowercase().contains(&m.cards[0].auth_cert.serial));
}

// ---------------------------------------------------------------------------------------------
// Chains

#[test]
fn chains_pick_the_generation_by_key_identifier() {
    let m = &pki().manifest;
    let mut checked = 0;
    for card in m.cards.iter().filter(|c| {
        matches!(
            c.case,
            CardCase::Valid | CardCase::Renewed | CardCase::AffiliationChanged
        )
    }) {
        for cc in [&card.auth_cert, &card.sign_cert] {
            let what = format!("card {} {}", card.card_number, cc.ca);
            let leaf = cert(&cc.cert_pem);
            let right = ca_cert(&cc.ca);
            let other = ca_cert(&other_generation(&cc.ca));
            let rogue = cert(&m.rogue_root(cc.purpose).unwrap().cert_pem);
            assert_eq!(
                right.subject_name().to_der().unwrap(),
                other.subject_name().to_der().unwrap()
            );

            // Both generations in the store (same DN): the right one is found by AKI.
            let (ok, err) = verify(&[&right, &other], &leaf, &[]);
            assert!(ok, "{what}: {}", err.error_string());
            let (ok, err) = verify(&[&other, &right], &leaf, &[]);
            assert!(ok, "{what} (other order): {}", err.error_string());
            let (ok, _) = verify(&[&right], &leaf, &[]);
            assert!(ok, "{what}");
            // The other generation alone: same DN, wrong key id → no issuer.
            let (ok, err) = verify(&[&other], &leaf, &[]);
            assert!(!ok, "{what} must not verify against the other generation");
            assert_eq!(
                err.as_raw(),
                openssl_sys::X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY,
                "{what}: {}",
                err.error_string()
            );
            // The rogue root: same DN. For generation 1 it also has the same key id, so only the
            // signature check can reject it.
            let (ok, err) = verify(&[&rogue], &leaf, &[]);
            assert!(!ok, "{what} must not verify against the rogue root");
            if cc.ca.ends_with("gen1") {
                assert_eq!(
                    err.as_raw(),
                    openssl_sys::X509_V_ERR_CERT_SIGNATURE_FAILURE,
                    "{what}: {}",
                    err.error_string()
                );
            }
            checked += 1;
        }
    }
    assert!(checked >= 14);
}

#[test]
fn time_and_forgery_cases_fail_verification() {
    let m = &pki().manifest;
    for (case, code) in [
        (CardCase::Expired, openssl_sys::X509_V_ERR_CERT_HAS_EXPIRED),
        (
            CardCase::NotYetValid,
            openssl_sys::X509_V_ERR_CERT_NOT_YET_VALID,
        ),
    ] {
        for card in cards_with(case) {
            for cc in [&card.auth_cert, &card.sign_cert] {
                let (ok, err) = verify(&[&ca_cert(&cc.ca)], &cert(&cc.cert_pem), &[]);
                assert!(!ok, "{case:?}");
                assert_eq!(err.as_raw(), code, "{case:?}: {}", err.error_string());
            }
        }
    }
    // Forged: the rogue root copied the DN and key id of generation 1 and the victim's subject
    // and serial; against the real roots the signature check rejects it.
    for card in cards_with(CardCase::Forged) {
        let victim = &m.cards[0];
        for (cc, real) in [
            (&card.auth_cert, &victim.auth_cert),
            (&card.sign_cert, &victim.sign_cert),
        ] {
            assert_eq!(cc.serial, real.serial);
            assert_eq!(cc.subject, real.subject);
            assert_eq!(
                cc.ca_key_id, real.ca_key_id,
                "forged AKI copies the real one"
            );
            let roots = pki().trusted_root_certs(cc.purpose).unwrap();
            let refs: Vec<&X509> = roots.iter().collect();
            let (ok, err) = verify(&refs, &cert(&cc.cert_pem), &[]);
            assert!(!ok);
            assert_eq!(
                err.as_raw(),
                openssl_sys::X509_V_ERR_CERT_SIGNATURE_FAILURE,
                "{}",
                err.error_string()
            );
        }
    }
}

#[test]
fn openssl_verify_program_agrees() {
    let m = &pki().manifest;
    let gen1 = m
        .cards
        .iter()
        .find(|c| c.case == CardCase::Valid && c.auth_cert.ca == "auth-gen1")
        .unwrap();
    let gen2 = m
        .cards
        .iter()
        .find(|c| c.case == CardCase::Valid && c.auth_cert.ca == "auth-gen2")
        .unwrap();
    let path = |p: &Path| p.to_str().unwrap().to_string();
    for card in [gen1, gen2] {
        for cc in [&card.auth_cert, &card.sign_cert] {
            let right = path(&m.ca(&cc.ca).unwrap().cert_pem);
            let other = path(&m.ca(&other_generation(&cc.ca)).unwrap().cert_pem);
            let rogue = path(&m.rogue_root(cc.purpose).unwrap().cert_pem);
            let leaf = path(&cc.cert_pem);
            let (ok, text) = openssl_cli(&["verify", "-CAfile", &right, &leaf]);
            assert!(ok, "{text}");
            for bad in [&other, &rogue] {
                let (ok, text) = openssl_cli(&["verify", "-CAfile", bad, &leaf]);
                assert!(!ok, "{leaf} verified against {bad}: {text}");
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// CRLs

#[test]
fn crls_list_exactly_the_revoked_serials() {
    let m = &pki().manifest;
    let mut seen_reasons = HashSet::new();
    for ca in &m.cas {
        // Expected entries from the cards (independent of the CRL section of the manifest).
        let expected: BTreeSet<(String, u8)> = if ca.rogue {
            ca.crl
                .entries
                .iter()
                .map(|e| (e.serial.clone(), e.reason.code()))
                .collect()
        } else {
            m.cards
                .iter()
                .flat_map(|c| [&c.auth_cert, &c.sign_cert])
                .filter(|cc| cc.ca == ca.name)
                .filter_map(|cc| {
                    cc.revocation
                        .as_ref()
                        .map(|r| (cc.serial.clone(), r.reason.code()))
                })
                .collect()
        };
        let manifest_entries: BTreeSet<(String, u8)> = ca
            .crl
            .entries
            .iter()
            .map(|e| (e.serial.clone(), e.reason.code()))
            .collect();
        assert_eq!(manifest_entries, expected, "{}", ca.name);

        // x509-parser
        let der = read(&ca.crl.der);
        let (rest, crl) =
            x509_parser::revocation_list::CertificateRevocationList::from_der(&der).unwrap();
        assert!(rest.is_empty());
        assert_eq!(crl.version().map(|v| v.0), Some(1), "{}: v2", ca.name);
        assert_eq!(
            crl.signature_algorithm.algorithm.to_id_string(),
            OID_SHA256_RSA
        );
        let ca_der = read(&ca.cert_der);
        let (_, ca_x) = X509Certificate::from_der(&ca_der).unwrap();
        assert_eq!(crl.issuer().as_raw(), ca_x.subject().as_raw());
        assert!(crl.next_update().is_some());
        assert_eq!(
            crl.last_update().timestamp(),
            ca.crl.this_update.unix_timestamp()
        );
        assert_eq!(
            crl.crl_number().map(|n| n.to_string()),
            Some(ca.crl.number.to_string())
        );
        let aki = crl
            .extensions()
            .iter()
            .find_map(|e| match e.parsed_extension() {
                ParsedExtension::AuthorityKeyIdentifier(a) => {
                    a.key_identifier.as_ref().map(|k| hex(k.0))
                }
                _ => None,
            })
            .expect("CRL AKI");
        assert_eq!(aki, ca.key_id);
        let parsed: BTreeSet<(String, u8)> = crl
            .iter_revoked_certificates()
            .map(|r| {
                let (critical, reason) = r.reason_code().expect("reasonCode on every entry");
                assert!(!critical);
                (hex(strip_sign(r.raw_serial())), reason.0)
            })
            .collect();
        assert_eq!(parsed, expected, "{}: x509-parser", ca.name);
        seen_reasons.extend(parsed.iter().map(|(_, r)| *r));

        // PEM = DER
        let pem_crl = X509Crl::from_pem(&read(&ca.crl.pem)).unwrap();
        assert_eq!(pem_crl.to_der().unwrap(), der);

        // openssl program
        let (ok, text) = openssl_cli(&[
            "crl",
            "-noout",
            "-text",
            "-in",
            ca.crl.pem.to_str().unwrap(),
        ]);
        assert!(ok, "{text}");
        assert_eq!(
            text.matches("Serial Number:").count(),
            expected.len(),
            "{}: {text}",
            ca.name
        );
        for (serial, reason) in &expected {
            assert!(
                text.contains(&format!("Serial Number: {}", serial.to_uppercase())),
                "{serial} in {text}"
            );
            let label = match RevocationReason::from_code(*reason).unwrap() {
                RevocationReason::KeyCompromise => "Key Compromise",
                RevocationReason::AffiliationChanged => "Affiliation Changed",
                RevocationReason::Superseded => "Superseded",
            };
            assert!(text.contains(label), "{label} in {text}");
        }
        let (ok, text) = openssl_cli(&[
            "crl",
            "-noout",
            "-in",
            ca.crl.pem.to_str().unwrap(),
            "-CAfile",
            ca.cert_pem.to_str().unwrap(),
        ]);
        assert!(ok, "{text}");

        // Signature: verifies with this CA's key only. The rogue CRL carries generation 1's
        // name and key id, but not its signature.
        let crl_x = X509Crl::from_der(&der).unwrap();
        let own_key = cert(&ca.cert_pem).public_key().unwrap();
        assert!(crl_x.verify(&own_key).unwrap(), "{}", ca.name);
        let gen1 = m
            .cas
            .iter()
            .find(|c| c.purpose == ca.purpose && c.generation == Some(1))
            .unwrap();
        let gen2 = m
            .cas
            .iter()
            .find(|c| c.purpose == ca.purpose && c.generation == Some(2))
            .unwrap();
        for other in [gen1, gen2].into_iter().filter(|o| o.name != ca.name) {
            let key = cert(&other.cert_pem).public_key().unwrap();
            assert!(
                !crl_x.verify(&key).unwrap(),
                "{} CRL must not verify with {}",
                ca.name,
                other.name
            );
        }
    }
    for reason in [
        RevocationReason::KeyCompromise,
        RevocationReason::AffiliationChanged,
        RevocationReason::Superseded,
    ] {
        assert!(seen_reasons.contains(&reason.code()), "{reason:?}");
    }
    // The rogue CRL "revokes" a valid card.
    let rogue = m.rogue_root(Purpose::UserAuthentication).unwrap();
    assert!(rogue.crl.entries.iter().any(|e| m
        .cards
        .iter()
        .any(|c| c.case == CardCase::Valid && c.auth_cert.serial == e.serial)));
}

#[test]
fn revocation_checking_uses_issuer_and_serial() {
    let m = &pki().manifest;
    let crls = |purpose: Purpose| -> Vec<PathBuf> {
        m.trusted_roots(purpose)
            .iter()
            .map(|c| c.crl.pem.clone())
            .collect()
    };
    for card in &m.cards {
        if matches!(
            card.case,
            CardCase::Expired | CardCase::NotYetValid | CardCase::Forged
        ) {
            continue;
        }
        for cc in [&card.auth_cert, &card.sign_cert] {
            let roots = pki().trusted_root_certs(cc.purpose).unwrap();
            let refs: Vec<&X509> = roots.iter().collect();
            let crl_paths = crls(cc.purpose);
            let crl_refs: Vec<&Path> = crl_paths.iter().map(PathBuf::as_path).collect();
            let (ok, err) = verify(&refs, &cert(&cc.cert_pem), &crl_refs);
            let what = format!(
                "card {} ({:?}) {:?}",
                card.card_number, card.case, cc.purpose
            );
            if cc.revocation.is_some() {
                assert!(!ok, "{what} is revoked");
                assert_eq!(
                    err.as_raw(),
                    openssl_sys::X509_V_ERR_CERT_REVOKED,
                    "{what}: {}",
                    err.error_string()
                );
            } else {
                assert!(ok, "{what}: {}", err.error_string());
            }
        }
    }
    // The valid generation-2 card whose serial equals a revoked generation-1 serial passes.
    let shared = m
        .cards
        .iter()
        .find(|c| {
            c.case == CardCase::Valid
                && c.auth_cert.ca == "auth-gen2"
                && m.ca("auth-gen1")
                    .unwrap()
                    .crl
                    .entries
                    .iter()
                    .any(|e| e.serial == c.auth_cert.serial)
        })
        .expect("a valid gen2 card sharing a revoked gen1 serial");
    assert!(shared.auth_cert.revocation.is_none());
    // AffiliationChanged: signature revoked, authentication still valid.
    let moved = cards_with(CardCase::AffiliationChanged)[0];
    assert_eq!(
        moved.sign_cert.revocation.as_ref().map(|r| r.reason),
        Some(RevocationReason::AffiliationChanged)
    );
    assert!(moved.auth_cert.revocation.is_none());
    // A CRL signed by the rogue root (same issuer name and key id as generation 1) is refused.
    let victim = m
        .cards
        .iter()
        .find(|c| c.case == CardCase::Valid && c.auth_cert.ca == "auth-gen1")
        .unwrap();
    let roots = pki()
        .trusted_root_certs(Purpose::UserAuthentication)
        .unwrap();
    let refs: Vec<&X509> = roots.iter().collect();
    let rogue_crl = m
        .rogue_root(Purpose::UserAuthentication)
        .unwrap()
        .crl
        .pem
        .clone();
    let (ok, err) = verify(&refs, &cert(&victim.auth_cert.cert_pem), &[&rogue_crl]);
    assert!(!ok);
    assert_eq!(
        err.as_raw(),
        openssl_sys::X509_V_ERR_CRL_SIGNATURE_FAILURE,
        "{}",
        err.error_string()
    );
}

// ---------------------------------------------------------------------------------------------
// Virtual cards

fn pin(s: &str) -> AuthPin {
    AuthPin::from(s.to_string())
}

fn public_key(c: &certs::CardCert) -> PKey<Public> {
    cert(&c.cert_pem).public_key().unwrap()
}

#[test]
fn tokens_match_the_manifest() {
    let _g = tokens_lock();
    let pkcs11 = pki().pkcs11().unwrap();
    for card in &pki().manifest.cards {
        for t in [&card.auth_token, &card.sign_token] {
            let slot = pki().token_slot(t).unwrap();
            let info = pkcs11.get_token_info(slot).unwrap();
            assert_eq!(info.serial_number().trim(), t.serial);
            assert!(info.login_required() && info.user_pin_initialized());
        }
    }
    assert!(matches!(
        p11::find_token(pkcs11, "JPKI-AUTH 0000"),
        Err(certs::Error::TokenNotFound(_))
    ));
}

#[test]
fn auth_certificate_is_readable_without_login() {
    let _g = tokens_lock();
    let card = &cards_with(CardCase::Valid)[0];
    let pkcs11 = pki().pkcs11().unwrap();
    let session = pkcs11
        .open_ro_session(pki().token_slot(&card.auth_token).unwrap())
        .unwrap();
    let der = p11::read_certificate(&session, &ID_AUTH)
        .unwrap()
        .expect("auth cert visible without login");
    assert_eq!(der, read(&card.auth_cert.cert_der));
    let ca = p11::read_certificate(&session, &ID_AUTH_CA)
        .unwrap()
        .expect("auth CA cert");
    assert_eq!(
        ca,
        read(&pki().manifest.ca(&card.auth_cert.ca).unwrap().cert_der)
    );
    assert!(p11::read_certificate(&session, &ID_SIGN_CA)
        .unwrap()
        .is_some());
    // Labels as OpenSC's pkcs15-jpki.
    let h = p11::find_one(
        &session,
        &[
            Attribute::Class(ObjectClass::CERTIFICATE),
            Attribute::Id(ID_AUTH.to_vec()),
        ],
    )
    .unwrap()
    .unwrap();
    let attrs = session
        .get_attributes(h, &[AttributeType::Label, AttributeType::Private])
        .unwrap();
    assert!(attrs.contains(&Attribute::Label(
        b"User Authentication Certificate".to_vec()
    )));
    assert!(attrs.contains(&Attribute::Private(false)));
    // No private key without login; public key is.
    assert!(session
        .find_objects(&[Attribute::Class(ObjectClass::PRIVATE_KEY)])
        .unwrap()
        .is_empty());
    assert_eq!(
        session
            .find_objects(&[
                Attribute::Class(ObjectClass::PUBLIC_KEY),
                Attribute::Id(ID_AUTH.to_vec())
            ])
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn sign_certificate_is_readable_only_after_login() {
    let _g = tokens_lock();
    let card = &cards_with(CardCase::Valid)[1];
    let pkcs11 = pki().pkcs11().unwrap();
    let session = pkcs11
        .open_ro_session(pki().token_slot(&card.sign_token).unwrap())
        .unwrap();
    assert!(
        p11::read_certificate(&session, &ID_SIGN).unwrap().is_none(),
        "sign cert must be private"
    );
    assert!(
        p11::read_certificate(&session, &ID_SIGN_CA)
            .unwrap()
            .is_some(),
        "CA cert is public"
    );
    session
        .login(UserType::User, Some(&pin(&card.sign_token.pin)))
        .unwrap();
    let der = p11::read_certificate(&session, &ID_SIGN)
        .unwrap()
        .expect("sign cert after login");
    assert_eq!(der, read(&card.sign_cert.cert_der));
    session.logout().unwrap();
    assert!(p11::read_certificate(&session, &ID_SIGN).unwrap().is_none());
}

#[test]
fn card_signatures_verify_with_openssl() {
    let _g = tokens_lock();
    let pkcs11 = pki().pkcs11().unwrap();
    let data = "名張市 SAML login challenge nonce=8f1c2e time=2026-11-22T12:00:00Z sp=https://portal.nabari.test/sp".as_bytes();
    for card in [
        cards_with(CardCase::Valid)[2],
        cards_with(CardCase::Renewed)[0],
    ] {
        for (token, id, cc, label) in [
            (
                &card.auth_token,
                &ID_AUTH,
                &card.auth_cert,
                "User Authentication Key",
            ),
            (
                &card.sign_token,
                &ID_SIGN,
                &card.sign_cert,
                "Digital Signature Key",
            ),
        ] {
            let session = pkcs11
                .open_ro_session(pki().token_slot(token).unwrap())
                .unwrap();
            session
                .login(UserType::User, Some(&pin(&token.pin)))
                .unwrap();
            // The raw mechanism over a DigestInfo, as the card does.
            let digest_info = p11::sha256_digest_info(data).unwrap();
            assert_eq!(
                &digest_info[..19],
                &hex_bytes("3031300d060960864801650304020105000420")[..]
            );
            let key = p11::find_one(
                &session,
                &[
                    Attribute::Class(ObjectClass::PRIVATE_KEY),
                    Attribute::Id(id.to_vec()),
                ],
            )
            .unwrap()
            .unwrap();
            let attrs = session
                .get_attributes(
                    key,
                    &[
                        AttributeType::Label,
                        AttributeType::Sensitive,
                        AttributeType::Extractable,
                        AttributeType::Private,
                        AttributeType::Sign,
                        AttributeType::PrivateExponent,
                    ],
                )
                .unwrap();
            assert!(attrs.contains(&Attribute::Label(label.as_bytes().to_vec())));
            assert!(attrs.contains(&Attribute::Sensitive(true)));
            assert!(attrs.contains(&Attribute::Extractable(false)));
            assert!(attrs.contains(&Attribute::Private(true)));
            assert!(
                !attrs
                    .iter()
                    .any(|a| matches!(a, Attribute::PrivateExponent(_))),
                "private exponent must not be readable"
            );
            let sig = session
                .sign(&cryptoki::mechanism::Mechanism::RsaPkcs, key, &digest_info)
                .unwrap();
            assert_eq!(sig.len(), 256);
            assert_eq!(
                sig,
                p11::sign_sha256(&session, id, data).unwrap(),
                "PKCS#1 v1.5 is deterministic"
            );
            // openssl: sha256WithRSAEncryption over the data with the certificate's key.
            let pk = public_key(cc);
            let mut v = Verifier::new(MessageDigest::sha256(), &pk).unwrap();
            v.update(data).unwrap();
            assert!(v.verify(&sig).unwrap(), "card {} {label}", card.card_number);
            // Real negative checks: other data, other card's certificate.
            let mut v = Verifier::new(MessageDigest::sha256(), &pk).unwrap();
            v.update(b"another challenge").unwrap();
            assert!(!v.verify(&sig).unwrap());
            let other = public_key(&cards_with(CardCase::Valid)[0].auth_cert);
            let mut v = Verifier::new(MessageDigest::sha256(), &other).unwrap();
            v.update(data).unwrap();
            assert!(!v.verify(&sig).unwrap());
            session.logout().unwrap();
        }
    }
}

fn hex_bytes(s: &str) -> Vec<u8> {
    unhex(s)
}

#[test]
fn signing_requires_login_and_wrong_pins_fail() {
    let _g = tokens_lock();
    let card = cards_with(CardCase::Valid)[3];
    let pkcs11 = pki().pkcs11().unwrap();
    for token in [&card.auth_token, &card.sign_token] {
        let session = pkcs11
            .open_ro_session(pki().token_slot(token).unwrap())
            .unwrap();
        // Change the first character: a digit of the PIN, a letter or digit of the password.
        let first = token.pin.as_bytes()[0];
        let replacement = if first == b'1' { '2' } else { '1' };
        let wrong = format!("{replacement}{}", &token.pin[1..]);
        assert_ne!(wrong, token.pin);
        match session.login(UserType::User, Some(&pin(&wrong))) {
            Err(CkError::Pkcs11(RvError::PinIncorrect, _)) => {}
            other => panic!("{}: expected CKR_PIN_INCORRECT, got {other:?}", token.label),
        }
        // Not logged in: no private key to sign with.
        assert!(matches!(
            p11::sign_sha256(&session, &ID_AUTH, b"x"),
            Err(certs::Error::TokenObjectMissing(_))
        ));
        session
            .login(UserType::User, Some(&pin(&token.pin)))
            .unwrap();
        session.logout().unwrap();
    }
    // The auth PIN does not open the signature token.
    let session = pkcs11
        .open_ro_session(pki().token_slot(&card.sign_token).unwrap())
        .unwrap();
    assert!(matches!(
        session.login(UserType::User, Some(&pin(&card.auth_token.pin))),
        Err(CkError::Pkcs11(RvError::PinIncorrect, _))
    ));
}

// ---------------------------------------------------------------------------------------------
// Federation and TLS

#[test]
fn federation_keys_match_their_certificates() {
    let m = &pki().manifest;
    let names: Vec<&str> = m.federation.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(
        names,
        ["idp", "relay", "portal", "clinic", "pension", "kenpo", "kokuho", "health", "kouhi"]
    );
    assert_eq!(
        m.entity("idp").unwrap().entity_id,
        "https://idp.nabari.test/idp"
    );
    assert_eq!(
        m.entity("relay").unwrap().entity_id,
        "https://relay.nabari.test/ds"
    );
    for e in &m.federation {
        for usage in [KeyUse::Signing, KeyUse::Encryption] {
            for generation in [1, 2] {
                assert!(
                    e.key(usage, generation).is_some(),
                    "{} {usage:?} {generation}",
                    e.name
                );
            }
        }
        assert_eq!(e.ec_signing_key().is_some(), e.name == "relay");
        let mut fingerprints = HashSet::new();
        for k in &e.keys {
            let c = cert(&k.cert_pem);
            let key = certs::read_key(&k.key_pem).unwrap();
            assert!(
                c.public_key().unwrap().public_eq(&key),
                "{} key/cert mismatch",
                e.name
            );
            assert!(c.verify(&key).unwrap(), "self-signed");
            match k.algorithm {
                KeyAlgorithm::Rsa2048 => assert_eq!(key.rsa().unwrap().size(), 256),
                KeyAlgorithm::EcP256 => assert_eq!(
                    key.ec_key().unwrap().group().curve_name(),
                    Some(openssl::nid::Nid::X9_62_PRIME256V1)
                ),
            }
            let der = c.to_der().unwrap();
            let fp = openssl::hash::hash(MessageDigest::sha256(), &der).unwrap();
            assert_eq!(hex(&fp), k.sha256_fingerprint);
            assert!(fingerprints.insert(k.sha256_fingerprint.clone()));
            let (_, x) = X509Certificate::from_der(&der).unwrap();
            let ku = x.key_usage().unwrap().unwrap().value;
            match k.usage {
                KeyUse::Signing => assert!(ku.digital_signature() && !ku.key_encipherment()),
                KeyUse::Encryption => assert!(ku.key_encipherment() && !ku.digital_signature()),
            }
            let cn: Vec<_> = x
                .subject()
                .iter_common_name()
                .map(|a| a.as_str().unwrap())
                .collect();
            assert_eq!(cn, [e.host.as_str()]);
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let mode = std::fs::metadata(&k.key_pem).unwrap().permissions().mode();
                assert_eq!(mode & 0o077, 0, "private key readable by others");
            }
        }
    }
}

#[test]
fn tls_certificates_verify_for_every_name() {
    let tls = &pki().manifest.tls;
    let ca = cert(&tls.ca.cert_pem);
    let server = cert(&tls.server.cert_pem);
    let client = cert(&tls.client.cert_pem);
    let check =
        |leaf: &X509, host: Option<&str>, ip: Option<&str>, purpose: X509PurposeId| -> bool {
            let mut b = X509StoreBuilder::new().unwrap();
            b.add_cert(ca.clone()).unwrap();
            let mut param = X509VerifyParam::new().unwrap();
            if let Some(h) = host {
                param.set_host(h).unwrap();
            }
            if let Some(ip) = ip {
                param.set_ip(ip.parse().unwrap()).unwrap();
            }
            b.set_param(&param).unwrap();
            b.set_purpose(purpose).unwrap();
            let store = b.build();
            let mut ctx = X509StoreContext::new().unwrap();
            ctx.init(&store, leaf, &openssl::stack::Stack::new().unwrap(), |c| {
                c.verify_cert()
            })
            .unwrap()
        };
    assert!(tls.server_names.contains(&"localhost".to_string()));
    for name in &tls.server_names {
        if name == "127.0.0.1" {
            assert!(check(&server, None, Some(name), X509PurposeId::SSL_SERVER));
        } else {
            assert!(
                check(&server, Some(name), None, X509PurposeId::SSL_SERVER),
                "{name}"
            );
        }
    }
    for e in &pki().manifest.federation {
        assert!(tls.server_names.contains(&e.host), "{}", e.host);
    }
    assert!(!check(
        &server,
        Some("evil.example"),
        None,
        X509PurposeId::SSL_SERVER
    ));
    assert!(!check(
        &server,
        None,
        Some("127.0.0.2"),
        X509PurposeId::SSL_SERVER
    ));
    assert!(check(&client, None, None, X509PurposeId::SSL_CLIENT));
    assert!(
        !check(&client, None, None, X509PurposeId::SSL_SERVER),
        "client cert is not a server cert"
    );
    assert!(
        !check(&server, None, None, X509PurposeId::SSL_CLIENT),
        "server cert is not a client cert"
    );
    let p12 = openssl::pkcs12::Pkcs12::from_der(&read(&tls.client_p12)).unwrap();
    let parsed = p12.parse2(&tls.client_p12_password).unwrap();
    assert_eq!(
        parsed.cert.unwrap().to_der().unwrap(),
        client.to_der().unwrap()
    );
    assert!(p12.parse2("wrong").is_err());
    let chain = X509::stack_from_pem(&read(&tls.server_chain_pem)).unwrap();
    assert_eq!(chain.len(), 2);
}

// ---------------------------------------------------------------------------------------------
// Idempotence

fn snapshot(dir: &Path) -> BTreeMap<PathBuf, (u64, std::time::SystemTime)> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let entry = entry.unwrap();
            let meta = entry.metadata().unwrap();
            if meta.is_dir() {
                stack.push(entry.path());
            } else {
                out.insert(entry.path(), (meta.len(), meta.modified().unwrap()));
            }
        }
    }
    out
}

#[test]
fn generating_again_changes_nothing() {
    let _g = tokens_lock();
    let dir = &pki().dir;
    let before = snapshot(dir);
    assert!(before.len() > 200, "{} files", before.len());
    let again = certs::generate(dir, &Options::default()).unwrap();
    assert!(again.reused);
    assert_eq!(again.manifest, pki().manifest, "same serials, keys, tokens");
    let again = certs::generate(
        dir,
        &Options {
            residents: Some(certs::DEFAULT_RESIDENTS),
            force: false,
        },
    )
    .unwrap();
    assert!(again.reused);
    // The binary, in another process.
    let out = Command::new(env!("CARGO_BIN_EXE_certs"))
        .args(["generate", "--out", dir.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("nothing to do"));
    let after = snapshot(dir);
    assert_eq!(before, after, "files, sizes and mtimes unchanged");
}
