//! The IdP's JPKI core against the test PKI: every card case of the manifest, the rogue root,
//! CRL loading/refresh, the challenge's life, and one login through the real card agent.
//!
//! One binary: the PKI is generated once into `target/tmp/idp-jpki-pki` (shared through a
//! `OnceLock`), and PKCS#11 is initialised once per process (the agent test).

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use idp::jpki::{
    AcceptedPolicies, AuthnKind, CertPurpose, ChallengeIssuer, ChallengeRequest, CrlCache,
    CrlError, CrlOptions, CrlSource, JpkiError, JpkiVerifier, LoadOutcome, LoginKind,
    MemoryChallengeStore, RevocationReason, Sex, TrustAnchors, VerifierConfig,
};
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::sign::Signer;
use time::{Duration, OffsetDateTime};

use certs::{CardCase, CardCert, Purpose};

const IDP_ENTITY: &str = "https://idp.nabari.test/idp";
const SP_ENTITY: &str = "https://portal.nabari.test/sp";
const SECRET: [u8; 32] = *b"jpki-test-secret-0123456789abcde";

// ---------------------------------------------------------------------------------------------
// Fixture

struct Fixture {
    pki: certs::Pki,
    anchors: TrustAnchors,
    /// Every CRL of `jpki/crl` loaded (the rogue ones refused).
    crls: Arc<CrlCache>,
    load_report: idp::jpki::RefreshReport,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("idp-jpki-pki");
        let started = std::time::Instant::now();
        let pki = certs::generate(&dir, &certs::Options::default()).expect("test PKI");
        eprintln!(
            "PKI {} in {:.1} s",
            if pki.reused { "reused" } else { "generated" },
            started.elapsed().as_secs_f64()
        );
        let anchors = anchors(&pki);
        let crls = Arc::new(CrlCache::new(
            anchors.clone(),
            CrlOptions::with_sources([CrlSource::Directory(crl_dir(&pki))]),
        ));
        let load_report = crls.refresh(OffsetDateTime::now_utc());
        Fixture {
            pki,
            anchors,
            crls,
            load_report,
        }
    })
}

fn anchors(pki: &certs::Pki) -> TrustAnchors {
    TrustAnchors::from_lists(
        pki.trusted_root_certs(Purpose::UserAuthentication).unwrap(),
        pki.trusted_root_certs(Purpose::Signature).unwrap(),
    )
    .expect("anchors")
}

fn crl_dir(pki: &certs::Pki) -> PathBuf {
    pki.manifest.cas[0].crl.der.parent().unwrap().to_path_buf()
}

fn manifest() -> &'static certs::Manifest {
    &fixture().pki.manifest
}

fn issuer() -> ChallengeIssuer {
    ChallengeIssuer::new(&SECRET, IDP_ENTITY).unwrap()
}

fn verifier_with(crls: Arc<CrlCache>, policies: AcceptedPolicies) -> JpkiVerifier {
    JpkiVerifier::new(VerifierConfig {
        policies,
        ..VerifierConfig::new(
            fixture().anchors.clone(),
            crls,
            issuer(),
            Arc::new(MemoryChallengeStore::default()),
        )
    })
    .expect("verifier")
}

/// A verifier with its own challenge store over the shared CRLs.
fn verifier() -> JpkiVerifier {
    verifier_with(fixture().crls.clone(), AcceptedPolicies::default())
}

fn challenge(kind: LoginKind, now: OffsetDateTime) -> String {
    issuer()
        .issue(
            &ChallengeRequest {
                sp_entity_id: SP_ENTITY,
                sp_name_ja: "名張市 住民ポータル",
                sp_name_en: "Nabari Resident Portal",
                purpose_ja: "社会保障情報の閲覧",
                purpose_en: "Viewing your social security information",
                kind,
            },
            now,
        )
        .expect("challenge")
        .text
}

fn key(cert: &CardCert) -> PKey<Private> {
    certs::read_key(&cert.key_pem).unwrap()
}

fn der(cert: &CardCert) -> Vec<u8> {
    std::fs::read(&cert.cert_der).unwrap()
}

/// PKCS#1 v1.5 SHA-256, as the card does.
fn sign_with(key: &PKey<Private>, text: &str) -> Vec<u8> {
    let mut s = Signer::new(MessageDigest::sha256(), key).unwrap();
    s.update(text.as_bytes()).unwrap();
    s.sign_to_vec().unwrap()
}

fn cert_of(card: &certs::Card, kind: LoginKind) -> &CardCert {
    match kind {
        LoginKind::Sign => &card.sign_cert,
        _ => &card.auth_cert,
    }
}

/// Issues a challenge of `kind` at `now`, signs it with the card's key of that kind, verifies.
fn login(
    v: &JpkiVerifier,
    card: &certs::Card,
    kind: LoginKind,
    now: OffsetDateTime,
) -> Result<idp::jpki::VerifiedCard, JpkiError> {
    let text = challenge(kind, now);
    let cert = cert_of(card, kind);
    v.verify(&text, &sign_with(&key(cert), &text), &der(cert), now)
}

fn one(case: CardCase) -> &'static certs::Card {
    manifest()
        .cards_with_case(case)
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("no {case:?} card"))
}

fn valid_on(ca: &str) -> &'static certs::Card {
    manifest()
        .cards_with_case(CardCase::Valid)
        .into_iter()
        .find(|c| c.auth_cert.ca == ca && c.sign_cert.ca.ends_with(&ca[4..]))
        .unwrap_or_else(|| panic!("no valid card on {ca}"))
}

/// A valid card of `ca` still valid a day after `t`.
fn valid_on_until(ca: &str, t: OffsetDateTime) -> &'static certs::Card {
    manifest()
        .cards_with_case(CardCase::Valid)
        .into_iter()
        .find(|c| {
            c.auth_cert.ca == ca
                && c.sign_cert.ca.ends_with(&ca[4..])
                && c.auth_cert.not_after > t + Duration::days(1)
                && c.sign_cert.not_after > t + Duration::days(1)
        })
        .unwrap_or_else(|| panic!("no valid card on {ca} until {t}"))
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

// ---------------------------------------------------------------------------------------------
// Positive

#[test]
fn crl_folder_loads_real_cas_and_refuses_the_rogue_ones() {
    let f = fixture();
    let r = &f.load_report;
    // 4 real CAs × (DER, PEM): each CA installed once, its other encoding unchanged.
    assert_eq!(r.installed(), 4, "{r:?}");
    assert_eq!(r.loaded.len(), 8, "{r:?}");
    assert_eq!(r.errors.len(), 4, "{r:?}");
    for (source, e) in &r.errors {
        assert!(source.contains("rogue"), "{source}: {e}");
        // Same DN and key id as generation 1: matched, then refused on the signature.
        assert!(matches!(e, CrlError::BadSignature { .. }), "{source}: {e}");
    }
    let status = f.crls.status();
    assert_eq!(status.len(), 4);
    for ca in manifest().cas.iter().filter(|c| !c.rogue) {
        let s = status
            .iter()
            .find(|s| s.key_id == ca.key_id)
            .expect("CRL of each real CA");
        assert_eq!(s.entries, ca.crl.entries.len(), "{}", ca.name);
        assert_eq!(
            s.number.as_deref(),
            Some(ca.crl.number.to_string().as_str())
        );
        assert_eq!(s.purpose, CertPurpose::from(ca.purpose));
    }
}

#[test]
fn valid_auth_cards_on_both_generations() {
    let v = verifier();
    for ca in ["auth-gen1", "auth-gen2"] {
        let card = valid_on(ca);
        let t = now();
        let got = login(&v, card, LoginKind::Auth, t).unwrap_or_else(|e| panic!("{ca}: {e}"));
        assert_eq!(got.kind, AuthnKind::UserAuthenticationPin);
        assert_eq!(
            got.authn_context_class(),
            "urn:nabari:ac:jpki:user-authentication:pin"
        );
        assert_eq!(got.purpose, CertPurpose::UserAuthentication);
        assert_eq!(got.issuer_key_id, card.auth_cert.ca_key_id);
        assert_eq!(got.issuer_key_id, manifest().ca(ca).unwrap().key_id);
        assert_eq!(got.serial, unhex(&card.auth_cert.serial));
        assert_eq!(got.serial_hex(), card.auth_cert.serial);
        assert!(got.serial[0] != 0 && got.serial.len() <= 4);
        assert!(got.subject.starts_with("C=JP, CN="), "{}", got.subject);
        assert_eq!(got.not_after, card.auth_cert.not_after);
        assert_eq!(got.attributes, None);
        let ch = got.challenge.unwrap();
        assert_eq!(ch.kind, LoginKind::Auth);
        assert_eq!(ch.sp_entity_id, SP_ENTITY);
        assert_eq!(ch.idp_entity_id, IDP_ENTITY);
    }
    // Card 0001 is the one the rogue CRL "revokes": it stays valid.
    let first = manifest().card("0001").unwrap();
    assert_eq!(first.case, CardCase::Valid);
    login(&v, first, LoginKind::Auth, now()).expect("the rogue CRL was not used");
    login(&v, first, LoginKind::Sign, now()).expect("the rogue CRL was not used");
}

#[test]
fn valid_signature_card_with_its_four_attributes() {
    let v = verifier();
    for ca in ["auth-gen1", "auth-gen2"] {
        let card = valid_on(ca);
        let got = login(&v, card, LoginKind::Sign, now()).unwrap_or_else(|e| panic!("{ca}: {e}"));
        assert_eq!(got.kind, AuthnKind::Signature);
        assert_eq!(got.authn_context_class(), "urn:nabari:ac:jpki:signature");
        assert_eq!(got.purpose, CertPurpose::Signature);
        assert_eq!(got.issuer_key_id, card.sign_cert.ca_key_id);
        assert_eq!(got.serial_hex(), card.sign_cert.serial);
        assert!(
            got.subject.contains("L=Mie-ken") && got.subject.contains("L=Nabari-shi"),
            "{}",
            got.subject
        );
        let a = got
            .attributes
            .expect("attributes of a signature certificate");
        let r = &card.resident;
        assert_eq!(a.name, r.name);
        assert!(a.name.contains('\u{3000}'), "{}", a.name);
        assert_eq!(a.sex.code(), r.sex);
        assert_eq!(a.sex, if r.sex == 1 { Sex::Male } else { Sex::Female });
        assert_eq!(a.birth_date.raw, r.birth_date_jpki);
        assert_eq!(a.birth_date.iso().as_deref(), Some(r.birth_date.as_str()));
        assert_eq!(a.birth_date.era, r.birth_date_jpki.as_bytes()[0] - b'0');
        assert_eq!(a.address, r.address);
        assert!(a.address.starts_with("三重県名張市"));
    }
}

#[test]
fn renewed_card_new_certificates_are_accepted() {
    let v = verifier();
    let renewed = one(CardCase::Renewed);
    let got = login(&v, renewed, LoginKind::Auth, now()).expect("renewed auth");
    assert_eq!(got.serial_hex(), renewed.auth_cert.serial);
    let got = login(&v, renewed, LoginKind::Sign, now()).expect("renewed sign");
    assert_eq!(got.attributes.unwrap().name, renewed.resident.name);
}

#[test]
fn serials_are_per_ca_the_same_serial_revoked_under_another_ca_does_not_matter() {
    let compromised = one(CardCase::KeyCompromise);
    let twin = manifest()
        .cards_with_case(CardCase::Valid)
        .into_iter()
        .find(|c| c.auth_cert.serial == compromised.auth_cert.serial)
        .expect("a valid card sharing the compromised card's serial under another CA");
    assert_ne!(twin.auth_cert.ca_key_id, compromised.auth_cert.ca_key_id);
    let v = verifier();
    let got = login(&v, twin, LoginKind::Auth, now()).expect("not revoked: other CA");
    assert_eq!(got.serial_hex(), compromised.auth_cert.serial);
    assert!(matches!(
        login(&v, compromised, LoginKind::Auth, now()),
        Err(JpkiError::Revoked {
            reason: RevocationReason::KeyCompromise,
            ..
        })
    ));
}

// ---------------------------------------------------------------------------------------------
// Negative: certificates

#[test]
fn expired_and_not_yet_valid() {
    let v = verifier();
    let expired = one(CardCase::Expired);
    for kind in [LoginKind::Auth, LoginKind::Sign] {
        match login(&v, expired, kind, now()) {
            Err(JpkiError::Expired { not_after }) => {
                assert_eq!(not_after, cert_of(expired, kind).not_after)
            }
            other => panic!("{kind}: {other:?}"),
        }
    }
    let future = one(CardCase::NotYetValid);
    for kind in [LoginKind::Auth, LoginKind::Sign] {
        match login(&v, future, kind, now()) {
            Err(JpkiError::NotYetValid { not_before }) => {
                assert_eq!(not_before, cert_of(future, kind).not_before)
            }
            other => panic!("{kind}: {other:?}"),
        }
    }
    assert!(matches!(
        v.verify_pinless(&der(&expired.auth_cert), now()),
        Err(JpkiError::Expired { .. })
    ));
}

#[test]
fn revoked_key_compromise_affiliation_changed_and_superseded() {
    let v = verifier();
    let lost = one(CardCase::KeyCompromise);
    for kind in [LoginKind::Auth, LoginKind::Sign] {
        match login(&v, lost, kind, now()) {
            Err(JpkiError::Revoked { reason, revoked_at }) => {
                assert_eq!(reason, RevocationReason::KeyCompromise);
                assert_eq!(
                    Some(revoked_at),
                    cert_of(lost, kind)
                        .revocation
                        .as_ref()
                        .map(|r| r.revoked_at)
                );
            }
            other => panic!("{kind}: {other:?}"),
        }
    }
    // Moved: the signature certificate is revoked (affiliationChanged), the auth one is not.
    let moved = one(CardCase::AffiliationChanged);
    assert!(matches!(
        login(&v, moved, LoginKind::Sign, now()),
        Err(JpkiError::Revoked {
            reason: RevocationReason::AffiliationChanged,
            ..
        })
    ));
    login(&v, moved, LoginKind::Auth, now()).expect("auth certificate of a resident who moved");
    // Renewed: the old card's certificates are superseded; the hint says to use the new card.
    let old = one(CardCase::Superseded);
    assert!(old.replaced_by.is_some());
    for kind in [LoginKind::Auth, LoginKind::Sign] {
        match login(&v, old, kind, now()) {
            Err(
                e @ JpkiError::Revoked {
                    reason: RevocationReason::Superseded,
                    ..
                },
            ) => {
                assert_eq!(e.code(), "revoked");
                let (ja, en) = RevocationReason::Superseded.hint();
                assert!(ja.contains("新しいカード") && en.contains("new card"));
            }
            other => panic!("{kind}: {other:?}"),
        }
    }
}

#[test]
fn forged_card_under_the_rogue_root_fails_on_the_certificate_signature() {
    let forged = one(CardCase::Forged);
    let rogue = manifest().rogue_root(Purpose::UserAuthentication).unwrap();
    let gen1 = manifest().ca("auth-gen1").unwrap();
    // Same DN, same key identifier as generation 1, same subject and serial as card 0001.
    assert_eq!(rogue.key_id, gen1.key_id);
    assert_eq!(rogue.subject, gen1.subject);
    assert_eq!(forged.auth_cert.ca_key_id, gen1.key_id);
    let victim = manifest().card("0001").unwrap();
    assert_eq!(forged.auth_cert.serial, victim.auth_cert.serial);
    assert_eq!(forged.auth_cert.subject, victim.auth_cert.subject);
    let v = verifier();
    for kind in [LoginKind::Auth, LoginKind::Sign] {
        assert_eq!(
            login(&v, forged, kind, now()).unwrap_err(),
            JpkiError::BadCertificateSignature,
            "{kind}"
        );
    }
    assert_eq!(
        v.verify_pinless(&der(&forged.auth_cert), now())
            .unwrap_err(),
        JpkiError::BadCertificateSignature
    );
}

#[test]
fn wrong_purpose_is_refused() {
    let v = verifier();
    let card = valid_on("auth-gen2");
    let t = now();
    // A signature certificate (and its key) where the user-authentication one is required.
    let text = challenge(LoginKind::Auth, t);
    let got = v.verify(
        &text,
        &sign_with(&key(&card.sign_cert), &text),
        &der(&card.sign_cert),
        t,
    );
    assert_eq!(
        got.unwrap_err(),
        JpkiError::WrongKind {
            expected: LoginKind::Auth,
            presented: CertPurpose::Signature
        }
    );
    // And the other way round.
    let text = challenge(LoginKind::Sign, t);
    let got = v.verify(
        &text,
        &sign_with(&key(&card.auth_cert), &text),
        &der(&card.auth_cert),
        t,
    );
    assert_eq!(
        got.unwrap_err(),
        JpkiError::WrongKind {
            expected: LoginKind::Sign,
            presented: CertPurpose::UserAuthentication
        }
    );
    // A PIN-less challenge cannot be used for a signature login.
    let text = challenge(LoginKind::Pinless, t);
    let got = v.verify(
        &text,
        &sign_with(&key(&card.auth_cert), &text),
        &der(&card.auth_cert),
        t,
    );
    assert!(
        matches!(
            got,
            Err(JpkiError::WrongKind {
                expected: LoginKind::Pinless,
                ..
            })
        ),
        "{got:?}"
    );
    // PIN-less accepts only the user-authentication certificate.
    assert_eq!(
        v.verify_pinless(&der(&card.sign_cert), t).unwrap_err(),
        JpkiError::WrongKind {
            expected: LoginKind::Pinless,
            presented: CertPurpose::Signature
        }
    );
}

#[test]
fn signature_over_other_text_or_by_another_key() {
    let v = verifier();
    let card = valid_on("auth-gen1");
    let other = valid_on("auth-gen2");
    let t = now();
    let text = challenge(LoginKind::Auth, t);
    // Over a different text (another challenge, and the same text normalised).
    let other_text = challenge(LoginKind::Auth, t);
    let sig = sign_with(&key(&card.auth_cert), &other_text);
    assert_eq!(
        v.verify(&text, &sig, &der(&card.auth_cert), t).unwrap_err(),
        JpkiError::BadSignature
    );
    let sig = sign_with(&key(&card.auth_cert), &text.replace('\n', "\r\n"));
    assert_eq!(
        v.verify(&text, &sig, &der(&card.auth_cert), t).unwrap_err(),
        JpkiError::BadSignature
    );
    // By another card's key, presented with this card's certificate.
    let sig = sign_with(&key(&other.auth_cert), &text);
    assert_eq!(
        v.verify(&text, &sig, &der(&card.auth_cert), t).unwrap_err(),
        JpkiError::BadSignature
    );
    // Truncated or empty signature.
    let sig = sign_with(&key(&card.auth_cert), &text);
    assert_eq!(
        v.verify(&text, &sig[1..], &der(&card.auth_cert), t)
            .unwrap_err(),
        JpkiError::BadSignature
    );
    assert_eq!(
        v.verify(&text, &[], &der(&card.auth_cert), t).unwrap_err(),
        JpkiError::BadSignature
    );
    // The right one still works: none of the failures burnt the challenge.
    v.verify(&text, &sig, &der(&card.auth_cert), t)
        .expect("valid signature");
}

#[test]
fn garbage_and_unknown_issuers() {
    let v = verifier();
    let t = now();
    let text = challenge(LoginKind::Auth, t);
    let card = valid_on("auth-gen1");
    let sig = sign_with(&key(&card.auth_cert), &text);
    assert!(matches!(
        v.verify(&text, &sig, b"not a certificate", t),
        Err(JpkiError::Malformed(_))
    ));
    let mut trailing = der(&card.auth_cert);
    trailing.push(0);
    assert!(matches!(
        v.verify(&text, &sig, &trailing, t),
        Err(JpkiError::Malformed(_))
    ));
    // The federation's TLS server certificate: another CA entirely.
    let tls = certs::read_cert(&manifest().tls.server.cert_pem)
        .unwrap()
        .to_der()
        .unwrap();
    assert!(matches!(
        v.verify(&text, &sig, &tls, t),
        Err(JpkiError::UnknownIssuer { .. })
    ));
    // A root itself.
    let root = std::fs::read(&manifest().ca("auth-gen1").unwrap().cert_der).unwrap();
    assert!(matches!(
        v.verify(&text, &sig, &root, t),
        Err(JpkiError::UnknownIssuer { .. })
    ));
}

// ---------------------------------------------------------------------------------------------
// Custom certificates under the real CAs (key usage, policies)

struct Custom {
    ca: &'static str,
    key_usage: openssl::x509::extension::KeyUsage,
    policy: &'static str,
    ca_flag: bool,
}

/// A certificate issued by the test CA `ca` (with its real key) for card 0001's auth key.
fn custom_cert(spec: Custom) -> (Vec<u8>, PKey<Private>) {
    use openssl::asn1::{Asn1Object, Asn1OctetString, Asn1Time};
    use openssl::bn::BigNum;
    use openssl::x509::extension::{AuthorityKeyIdentifier, BasicConstraints};
    use openssl::x509::{X509Builder, X509Extension, X509NameBuilder};
    let ca = manifest().ca(spec.ca).unwrap();
    let ca_cert = certs::read_cert(&ca.cert_pem).unwrap();
    let ca_key = certs::read_key(&ca.key_pem).unwrap();
    let subject_key = key(&manifest().card("0001").unwrap().auth_cert);
    let mut b = X509Builder::new().unwrap();
    b.set_version(2).unwrap();
    let mut serial = [0u8; 4];
    openssl::rand::rand_bytes(&mut serial).unwrap();
    serial[0] = 0x70 | (serial[0] & 0x0f);
    b.set_serial_number(
        &BigNum::from_slice(&serial)
            .unwrap()
            .to_asn1_integer()
            .unwrap(),
    )
    .unwrap();
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_text("C", "JP").unwrap();
    name.append_entry_by_text("CN", "CUSTOMTESTCERT").unwrap();
    b.set_subject_name(&name.build()).unwrap();
    b.set_issuer_name(ca_cert.subject_name()).unwrap();
    b.set_pubkey(&subject_key).unwrap();
    b.set_not_before(&Asn1Time::from_unix(now().unix_timestamp() - 3600).unwrap())
        .unwrap();
    b.set_not_after(&Asn1Time::from_unix(now().unix_timestamp() + 86400).unwrap())
        .unwrap();
    b.append_extension(spec.key_usage.build().unwrap()).unwrap();
    if spec.ca_flag {
        b.append_extension(BasicConstraints::new().critical().ca().build().unwrap())
            .unwrap();
    }
    let policies = certs::der::sequence(&[certs::der::sequence(&[
        certs::der::oid(spec.policy).unwrap()
    ])]);
    b.append_extension(
        X509Extension::new_from_der(
            &Asn1Object::from_str("2.5.29.32").unwrap(),
            true,
            &Asn1OctetString::new_from_bytes(&policies).unwrap(),
        )
        .unwrap(),
    )
    .unwrap();
    let aki = AuthorityKeyIdentifier::new()
        .keyid(true)
        .build(&b.x509v3_context(Some(&ca_cert), None))
        .unwrap();
    b.append_extension(aki).unwrap();
    b.sign(&ca_key, MessageDigest::sha256()).unwrap();
    (b.build().to_der().unwrap(), subject_key)
}

fn ku() -> openssl::x509::extension::KeyUsage {
    let mut k = openssl::x509::extension::KeyUsage::new();
    k.critical();
    k
}

#[test]
fn key_usage_basic_constraints_and_policies() {
    use idp::jpki::{POLICY_SIGNATURE, POLICY_USER_AUTHENTICATION};
    let v = verifier();
    let try_auth = |v: &JpkiVerifier, der: &[u8], key: &PKey<Private>| {
        let t = now();
        let text = challenge(LoginKind::Auth, t);
        v.verify(&text, &sign_with(key, &text), der, t)
    };
    // Control: a well-formed custom certificate passes (its serial is on no CRL).
    let (good, k) = custom_cert(Custom {
        ca: "auth-gen2",
        key_usage: {
            let mut x = ku();
            x.digital_signature();
            x
        },
        policy: POLICY_USER_AUTHENTICATION,
        ca_flag: false,
    });
    try_auth(&v, &good, &k).expect("control certificate");
    // keyUsage without digitalSignature.
    let (der, k) = custom_cert(Custom {
        ca: "auth-gen2",
        key_usage: {
            let mut x = ku();
            x.key_encipherment();
            x
        },
        policy: POLICY_USER_AUTHENTICATION,
        ca_flag: false,
    });
    assert!(matches!(
        try_auth(&v, &der, &k),
        Err(JpkiError::WrongKeyUsage(_))
    ));
    // A CA certificate.
    let (der, k) = custom_cert(Custom {
        ca: "auth-gen2",
        key_usage: {
            let mut x = ku();
            x.digital_signature();
            x
        },
        policy: POLICY_USER_AUTHENTICATION,
        ca_flag: true,
    });
    assert!(matches!(
        try_auth(&v, &der, &k),
        Err(JpkiError::WrongKeyUsage(_))
    ));
    // A signature certificate without nonRepudiation.
    let (der, k) = custom_cert(Custom {
        ca: "sign-gen2",
        key_usage: {
            let mut x = ku();
            x.digital_signature();
            x
        },
        policy: POLICY_SIGNATURE,
        ca_flag: false,
    });
    let t = now();
    let text = challenge(LoginKind::Sign, t);
    assert!(matches!(
        v.verify(&text, &sign_with(&k, &text), &der, t),
        Err(JpkiError::WrongKeyUsage(_))
    ));
    // An auth certificate carrying the signature policy.
    let (der, k) = custom_cert(Custom {
        ca: "auth-gen2",
        key_usage: {
            let mut x = ku();
            x.digital_signature();
            x
        },
        policy: POLICY_SIGNATURE,
        ca_flag: false,
    });
    assert_eq!(
        try_auth(&v, &der, &k).unwrap_err(),
        JpkiError::WrongPolicy {
            purpose: CertPurpose::UserAuthentication
        }
    );
    // A test policy OID: refused by default, accepted when configured.
    let (der, k) = custom_cert(Custom {
        ca: "auth-gen1",
        key_usage: {
            let mut x = ku();
            x.digital_signature();
            x
        },
        policy: "1.2.392.200149.8.5.1.0.30",
        ca_flag: false,
    });
    assert!(matches!(
        try_auth(&v, &der, &k),
        Err(JpkiError::WrongPolicy { .. })
    ));
    let test_policies = AcceptedPolicies::default()
        .add(CertPurpose::UserAuthentication, "1.2.392.200149.8.5.1.0.30")
        .unwrap()
        .add(CertPurpose::Signature, idp::jpki::POLICY_SIGNATURE_TEST)
        .unwrap();
    let tv = verifier_with(fixture().crls.clone(), test_policies);
    try_auth(&tv, &der, &k).expect("test OID configured");
    assert!(AcceptedPolicies::default()
        .add(CertPurpose::Signature, "1.2.x")
        .is_err());
}

// ---------------------------------------------------------------------------------------------
// Negative: the challenge

#[test]
fn replayed_challenge() {
    let v = verifier();
    let card = valid_on("auth-gen2");
    let t = now();
    let text = challenge(LoginKind::Auth, t);
    let sig = sign_with(&key(&card.auth_cert), &text);
    v.verify(&text, &sig, &der(&card.auth_cert), t)
        .expect("first use");
    assert_eq!(
        v.verify(&text, &sig, &der(&card.auth_cert), t + Duration::seconds(5))
            .unwrap_err(),
        JpkiError::ChallengeReplayed
    );
}

#[test]
fn stale_challenge() {
    let v = verifier();
    let card = valid_on("auth-gen1");
    let t = now();
    let text = challenge(LoginKind::Auth, t);
    let sig = sign_with(&key(&card.auth_cert), &text);
    assert_eq!(
        v.verify(
            &text,
            &sig,
            &der(&card.auth_cert),
            t + Duration::seconds(121)
        )
        .unwrap_err(),
        JpkiError::ChallengeExpired
    );
    // Not burnt by the refusal; still usable within its 120 s.
    v.verify(
        &text,
        &sig,
        &der(&card.auth_cert),
        t + Duration::seconds(120),
    )
    .expect("at 120 s");
}

#[test]
fn forged_challenge() {
    let v = verifier();
    let card = valid_on("auth-gen1");
    let t = now();
    let text = challenge(LoginKind::Auth, t);
    // An edited text, validly signed by the card: the HMAC does not match.
    for edited in [
        text.replace(SP_ENTITY, "https://evil.example/sp"),
        text.replace("住民ポータル", "住民ポータル（偽）"),
        text.replacen("iat=", "iat=1", 1),
    ] {
        assert_ne!(edited, text);
        let sig = sign_with(&key(&card.auth_cert), &edited);
        assert_eq!(
            v.verify(&edited, &sig, &der(&card.auth_cert), t)
                .unwrap_err(),
            JpkiError::ChallengeForged
        );
    }
    // A text made by someone with another secret.
    let other = ChallengeIssuer::new(&[9u8; 32], IDP_ENTITY).unwrap();
    let foreign = other
        .issue(
            &ChallengeRequest {
                sp_entity_id: SP_ENTITY,
                sp_name_ja: "x",
                sp_name_en: "x",
                purpose_ja: "",
                purpose_en: "",
                kind: LoginKind::Auth,
            },
            t,
        )
        .unwrap()
        .text;
    let sig = sign_with(&key(&card.auth_cert), &foreign);
    assert_eq!(
        v.verify(&foreign, &sig, &der(&card.auth_cert), t)
            .unwrap_err(),
        JpkiError::ChallengeForged
    );
    // Not the format at all.
    let sig = sign_with(&key(&card.auth_cert), "ログイン");
    assert!(matches!(
        v.verify("ログイン", &sig, &der(&card.auth_cert), t),
        Err(JpkiError::Malformed(_))
    ));
}

#[test]
fn nonce_is_burnt_only_after_a_valid_signature() {
    let v = verifier();
    let card = valid_on("auth-gen2");
    let t = now();
    let text = challenge(LoginKind::Auth, t);
    // Someone who saw the text on the login page tries first: a bad signature, then a valid
    // signature by a revoked card, then a forged card's.
    let junk = vec![0x42u8; 256];
    assert_eq!(
        v.verify(&text, &junk, &der(&card.auth_cert), t)
            .unwrap_err(),
        JpkiError::BadSignature
    );
    let lost = one(CardCase::KeyCompromise);
    assert!(matches!(
        v.verify(
            &text,
            &sign_with(&key(&lost.auth_cert), &text),
            &der(&lost.auth_cert),
            t
        ),
        Err(JpkiError::Revoked { .. })
    ));
    let forged = one(CardCase::Forged);
    assert_eq!(
        v.verify(
            &text,
            &sign_with(&key(&forged.auth_cert), &text),
            &der(&forged.auth_cert),
            t
        )
        .unwrap_err(),
        JpkiError::BadCertificateSignature
    );
    // The resident's own signature still works, once.
    let sig = sign_with(&key(&card.auth_cert), &text);
    v.verify(&text, &sig, &der(&card.auth_cert), t)
        .expect("challenge still usable");
    assert_eq!(
        v.verify(&text, &sig, &der(&card.auth_cert), t).unwrap_err(),
        JpkiError::ChallengeReplayed
    );
}

// ---------------------------------------------------------------------------------------------
// CRLs

#[test]
fn stale_crl_is_refused() {
    let v = verifier();
    let next_update = manifest().ca("auth-gen2").unwrap().crl.next_update;
    let card = valid_on_until("auth-gen2", next_update);
    // At nextUpdate: still fine; a second later: stale, fail closed.
    login(&v, card, LoginKind::Auth, next_update).expect("at nextUpdate");
    let t = next_update + Duration::seconds(1);
    match login(&v, card, LoginKind::Auth, t) {
        Err(e @ JpkiError::CrlStale { .. }) => {
            assert!(e.is_service_problem());
            assert_eq!(
                e,
                JpkiError::CrlStale {
                    key_id: card.auth_cert.ca_key_id.clone(),
                    next_update
                }
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        v.verify_pinless(&der(&card.auth_cert), t),
        Err(JpkiError::CrlStale { .. })
    ));
    // With a grace period configured by the operator.
    let crls = Arc::new(CrlCache::new(
        fixture().anchors.clone(),
        CrlOptions {
            stale_grace: Duration::minutes(10),
            ..CrlOptions::with_sources([CrlSource::File(
                manifest().ca("auth-gen2").unwrap().crl.der.clone(),
            )])
        },
    ));
    assert_eq!(crls.refresh(now()).installed(), 1);
    let gv = verifier_with(crls, AcceptedPolicies::default());
    login(&gv, card, LoginKind::Auth, t).expect("within the grace period");
}

#[test]
fn rogue_crl_is_refused_at_load() {
    let crls = CrlCache::new(fixture().anchors.clone(), CrlOptions::default());
    let t = now();
    for purpose in [Purpose::UserAuthentication, Purpose::Signature] {
        let rogue = manifest().rogue_root(purpose).unwrap();
        for path in [&rogue.crl.der, &rogue.crl.pem] {
            match crls.load_file(path, t) {
                Err(CrlError::BadSignature { key_id }) => assert_eq!(key_id, rogue.key_id),
                other => panic!("{}: {other:?}", path.display()),
            }
        }
    }
    assert!(crls.status().is_empty());
    // A CRL of a CA nobody configured (a cache that trusts only generation 2).
    let gen2_only = TrustAnchors::from_lists(
        [certs::read_cert(&manifest().ca("auth-gen2").unwrap().cert_pem).unwrap()],
        [certs::read_cert(&manifest().ca("sign-gen2").unwrap().cert_pem).unwrap()],
    )
    .unwrap();
    let c2 = CrlCache::new(gen2_only, CrlOptions::default());
    assert!(matches!(
        c2.load_file(&manifest().ca("auth-gen1").unwrap().crl.der, t),
        Err(CrlError::UnknownIssuer { .. })
    ));
    assert!(matches!(
        c2.load_bytes(b"garbage", "test", t),
        Err(CrlError::Parse(_))
    ));
}

#[test]
fn missing_crl_for_a_ca_is_unavailable() {
    // Only generation 1's CRLs are loaded.
    let crls = Arc::new(CrlCache::new(
        fixture().anchors.clone(),
        CrlOptions::with_sources([
            CrlSource::File(manifest().ca("auth-gen1").unwrap().crl.der.clone()),
            CrlSource::File(manifest().ca("sign-gen1").unwrap().crl.pem.clone()),
        ]),
    ));
    let report = crls.refresh(now());
    assert_eq!(report.installed(), 2, "{report:?}");
    let v = verifier_with(crls.clone(), AcceptedPolicies::default());
    login(&v, valid_on("auth-gen1"), LoginKind::Auth, now()).expect("gen1 has its CRL");
    let card = valid_on("auth-gen2");
    assert_eq!(
        login(&v, card, LoginKind::Auth, now()).unwrap_err(),
        JpkiError::CrlUnavailable {
            key_id: card.auth_cert.ca_key_id.clone()
        }
    );
    assert!(matches!(
        login(&v, card, LoginKind::Sign, now()),
        Err(JpkiError::CrlUnavailable { .. })
    ));
    // An operator removing a CRL makes that CA fail closed too.
    assert!(crls.remove(&unhex(&manifest().ca("auth-gen1").unwrap().key_id)));
    assert!(matches!(
        login(&v, valid_on("auth-gen1"), LoginKind::Auth, now()),
        Err(JpkiError::CrlUnavailable { .. })
    ));
}

/// A CRL of `ca_name` signed with its real key.
fn build_crl(
    ca_name: &str,
    number: u64,
    this_update: i64,
    next_update: i64,
    revoke: &[(u64, u8)],
) -> Vec<u8> {
    let ca = manifest().ca(ca_name).unwrap();
    let cert = certs::read_cert(&ca.cert_pem).unwrap();
    let key = certs::read_key(&ca.key_pem).unwrap();
    let entries: Vec<certs::crl::RevokedEntry> = revoke
        .iter()
        .map(|&(serial, reason)| certs::crl::RevokedEntry {
            serial,
            revoked_at: this_update - 60,
            reason,
        })
        .collect();
    certs::crl::build_crl(&certs::crl::CrlSpec {
        issuer: cert.subject_name(),
        issuer_key_id: &unhex(&ca.key_id),
        issuer_key: &key,
        this_update,
        next_update,
        crl_number: number,
        entries: &entries,
    })
    .unwrap()
    .to_der()
    .unwrap()
}

#[test]
fn refresh_installs_newer_crls_and_never_downgrades() {
    let dir = tempfile::tempdir().unwrap();
    let ca = manifest().ca("auth-gen2").unwrap();
    let file = dir.path().join("auth-gen2.crl");
    std::fs::copy(&ca.crl.der, &file).unwrap();
    let crls = Arc::new(CrlCache::new(
        fixture().anchors.clone(),
        CrlOptions::with_sources([CrlSource::Directory(dir.path().to_path_buf())]),
    ));
    let t = now();
    assert_eq!(crls.refresh(t).installed(), 1);
    let v = verifier_with(crls.clone(), AcceptedPolicies::default());
    let card = valid_on("auth-gen2");
    login(&v, card, LoginKind::Auth, t).expect("valid before");
    // A newer CRL (higher number) that revokes the card appears in the folder.
    let serial = u64::from_str_radix(&card.auth_cert.serial, 16).unwrap();
    let ts = t.unix_timestamp();
    let newer = build_crl(
        "auth-gen2",
        ca.crl.number + 1,
        ts - 60,
        ts + 86400,
        &[(serial, 6)],
    );
    std::fs::write(&file, &newer).unwrap();
    let report = crls.refresh(t);
    assert_eq!(report.installed(), 1, "{report:?}");
    assert!(matches!(
        login(&v, card, LoginKind::Auth, t),
        Err(JpkiError::Revoked {
            reason: RevocationReason::CertificateHold,
            ..
        })
    ));
    // The old file comes back (e.g. a mirror serving yesterday's CRL): refused, the newer stays.
    std::fs::copy(&ca.crl.der, &file).unwrap();
    let report = crls.refresh(t);
    assert_eq!(report.installed(), 0);
    assert!(
        matches!(report.errors[0].1, CrlError::Older { .. }),
        "{report:?}"
    );
    assert!(matches!(
        login(&v, card, LoginKind::Auth, t),
        Err(JpkiError::Revoked { .. })
    ));
    // A failed source (file gone) keeps what is in use.
    std::fs::remove_file(&file).unwrap();
    let report = crls.refresh(t);
    assert_eq!(report.loaded.len(), 0);
    assert_eq!(
        crls.status()[0].number.as_deref(),
        Some((ca.crl.number + 1).to_string().as_str())
    );
    // Same number again: unchanged.
    assert_eq!(
        crls.load_bytes(&newer, "again", t).unwrap(),
        LoadOutcome::Unchanged {
            key_id: ca.key_id.clone()
        }
    );
    // A CRL from the future or without a valid signature is refused.
    let future = build_crl("auth-gen2", ca.crl.number + 5, ts + 3600, ts + 86400, &[]);
    assert!(matches!(
        crls.load_bytes(&future, "future", t),
        Err(CrlError::NotYetValid { .. })
    ));
    let mut tampered = build_crl("auth-gen2", ca.crl.number + 6, ts - 60, ts + 86400, &[]);
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    assert!(matches!(
        crls.load_bytes(&tampered, "tampered", t),
        Err(CrlError::BadSignature { .. })
    ));
}

/// Serves `routes` (path → (status, body)) over HTTP/1.1 on 127.0.0.1 until the test ends.
fn http_server(routes: Vec<(&'static str, u16, Vec<u8>)>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut buf = [0u8; 4096];
            let mut req = Vec::new();
            while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => req.extend_from_slice(&buf[..n]),
                }
            }
            let line = String::from_utf8_lossy(&req)
                .lines()
                .next()
                .unwrap_or("")
                .to_string();
            let path = line.split(' ').nth(1).unwrap_or("/").to_string();
            let (status, body) = routes
                .iter()
                .find(|(p, _, _)| *p == path)
                .map(|(_, s, b)| (*s, b.clone()))
                .unwrap_or((404, b"not found".to_vec()));
            let head = format!(
                "HTTP/1.1 {status} X\r\nContent-Type: application/pkix-crl\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&body);
        }
    });
    format!("http://{addr}")
}

#[test]
fn crls_from_http_urls() {
    let gen2 = manifest().ca("auth-gen2").unwrap();
    let rogue = manifest().rogue_root(Purpose::UserAuthentication).unwrap();
    let base = http_server(vec![
        ("/auth-gen2.crl", 200, std::fs::read(&gen2.crl.der).unwrap()),
        (
            "/sign-gen2.crl",
            200,
            std::fs::read(&manifest().ca("sign-gen2").unwrap().crl.pem).unwrap(),
        ),
        ("/rogue.crl", 200, std::fs::read(&rogue.crl.der).unwrap()),
        ("/huge.crl", 200, vec![0x30; 300_000]),
    ]);
    let crls = Arc::new(CrlCache::new(
        fixture().anchors.clone(),
        CrlOptions {
            max_bytes: 256 * 1024,
            fetch_timeout: std::time::Duration::from_secs(5),
            ..CrlOptions::with_sources([
                CrlSource::Url(format!("{base}/auth-gen2.crl")),
                CrlSource::Url(format!("{base}/sign-gen2.crl")),
                CrlSource::Url(format!("{base}/rogue.crl")),
                CrlSource::Url(format!("{base}/huge.crl")),
                CrlSource::Url(format!("{base}/missing.crl")),
                CrlSource::Url("https://crl.example.invalid/auth.crl".into()),
            ])
        },
    ));
    let report = crls.refresh(now());
    assert_eq!(report.installed(), 2, "{report:?}");
    let errs: Vec<&CrlError> = report.errors.iter().map(|(_, e)| e).collect();
    assert!(matches!(errs[0], CrlError::BadSignature { .. }), "{errs:?}");
    assert!(matches!(errs[1], CrlError::TooLarge { .. }), "{errs:?}");
    assert!(
        matches!(errs[2], CrlError::HttpStatus { status: 404, .. }),
        "{errs:?}"
    );
    assert!(
        matches!(errs[3], CrlError::UnsupportedScheme(s) if s == "https"),
        "{errs:?}"
    );
    let v = verifier_with(crls.clone(), AcceptedPolicies::default());
    login(&v, valid_on("auth-gen2"), LoginKind::Auth, now()).expect("CRL from HTTP");
    login(&v, valid_on("auth-gen2"), LoginKind::Sign, now()).expect("PEM CRL from HTTP");
    assert!(matches!(
        login(&v, valid_on("auth-gen1"), LoginKind::Auth, now()),
        Err(JpkiError::CrlUnavailable { .. })
    ));
    // load_url: same outcome on demand; unreachable host → Fetch error.
    assert!(matches!(
        crls.load_url(&format!("{base}/auth-gen2.crl"), now()),
        Ok(LoadOutcome::Unchanged { .. })
    ));
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    assert!(matches!(
        crls.load_url(&format!("http://{closed}/x.crl"), now()),
        Err(CrlError::Fetch { .. })
    ));
}

// ---------------------------------------------------------------------------------------------
// PIN-less

#[test]
fn pinless_reception() {
    let v = verifier();
    let t = now();
    for ca in ["auth-gen1", "auth-gen2"] {
        let card = valid_on(ca);
        let got = v.verify_pinless(&der(&card.auth_cert), t).expect("pinless");
        assert_eq!(got.kind, AuthnKind::PinlessAttested);
        assert_eq!(
            got.authn_context_class(),
            "urn:nabari:ac:jpki:pinless-attested"
        );
        assert_eq!(got.authn_context_class(), idp::jpki::AC_PINLESS_ATTESTED);
        assert_eq!(got.serial_hex(), card.auth_cert.serial);
        assert_eq!(got.issuer_key_id, card.auth_cert.ca_key_id);
        assert_eq!(got.challenge, None);
    }
    assert!(matches!(
        v.verify_pinless(&der(&one(CardCase::Superseded).auth_cert), t),
        Err(JpkiError::Revoked {
            reason: RevocationReason::Superseded,
            ..
        })
    ));
    assert!(matches!(
        v.verify_pinless(&der(&one(CardCase::NotYetValid).auth_cert), t),
        Err(JpkiError::NotYetValid { .. })
    ));
}

// ---------------------------------------------------------------------------------------------
// Through the real card agent (SoftHSM2 virtual cards, demo PIN)

#[tokio::test]
async fn login_through_the_card_agent() {
    use idp::agent::{spawn, AgentClient, AgentConfig, Kind};
    let f = fixture();
    const ORIGIN: &str = "https://127.0.0.1:8443";
    let agent = spawn(AgentConfig {
        demo_pin_from_manifest: true,
        ..AgentConfig::virtual_cards(&f.pki.dir, [ORIGIN])
    })
    .expect("agent");
    let client = AgentClient::new(agent.base_url(), ORIGIN);
    let v = verifier();
    for (number, kind, agent_kind) in [
        (
            valid_on("auth-gen1").card_number.clone(),
            LoginKind::Auth,
            Kind::Auth,
        ),
        (
            valid_on("auth-gen2").card_number.clone(),
            LoginKind::Sign,
            Kind::Sign,
        ),
    ] {
        let t = now();
        let text = challenge(kind, t);
        idp::agent::check_challenge(&text).expect("the agent accepts the text");
        let signed = client
            .sign_and_wait(&number, agent_kind, &text, None)
            .await
            .expect("card signature");
        let card = manifest().card(&number).unwrap();
        assert_eq!(signed.certificate, der(cert_of(card, kind)));
        let got = v
            .verify(&text, &signed.signature, &signed.certificate, now())
            .expect("verified");
        assert_eq!(got.serial_hex(), cert_of(card, kind).serial);
        assert_eq!(
            got.kind,
            if kind == LoginKind::Auth {
                AuthnKind::UserAuthenticationPin
            } else {
                AuthnKind::Signature
            }
        );
        assert_eq!(
            v.verify(&text, &signed.signature, &signed.certificate, now())
                .unwrap_err(),
            JpkiError::ChallengeReplayed
        );
    }
    // The PIN-less read of a clinic terminal: the certificate without a PIN.
    let number = valid_on("auth-gen2").card_number.clone();
    let der_read = client
        .certificate(&number, Kind::Auth)
        .await
        .expect("certificate without PIN");
    let got = v
        .verify_pinless(&der_read, now())
        .expect("pinless via agent");
    assert_eq!(got.kind, AuthnKind::PinlessAttested);
    agent.stop();
}
