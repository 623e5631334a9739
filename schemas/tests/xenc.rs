//! XML Encryption: round trips for every algorithm pair, interop with libxmlsec1 both ways, key
//! rollover, tampering, and the encrypted-but-unsigned assertion that must still be refused.

mod support;

use std::process::Command;

use schemas::dsig::{verify_enveloped, DsigError, VerifyPolicy};
use schemas::xenc::{
    decrypt_xml, encrypt_element, ContentAlgorithm, DecryptionKeys, EncryptOptions, KeyTransport,
    Recipient, XencError,
};
use schemas::xml::c14n::{canonicalize, C14nOptions};
use schemas::xml::{parse, ParseLimits};
use support::*;

/// The SP's encryption key pair (the IdP key type is reused: RSA-2048).
fn sp_key() -> &'static TestKey {
    attacker_key()
}

fn wrap(encrypted_data: &str) -> String {
    format!(
        "<saml:EncryptedAssertion xmlns:saml=\"{SAML}\">{encrypted_data}</saml:EncryptedAssertion>"
    )
}

fn keys(list: &[&TestKey]) -> DecryptionKeys {
    DecryptionKeys::new(list.iter().map(|k| k.key.clone()).collect())
}

fn encrypt(xml: &str, options: &EncryptOptions) -> String {
    let recipient = Recipient::from_certificate(&sp_key().cert).unwrap();
    wrap(&encrypt_element(xml, &recipient, options).unwrap())
}

const ALL_CONTENT: [ContentAlgorithm; 4] = [
    ContentAlgorithm::Aes128Gcm,
    ContentAlgorithm::Aes256Gcm,
    ContentAlgorithm::Aes128Cbc,
    ContentAlgorithm::Aes256Cbc,
];

#[test]
fn every_algorithm_pair_round_trips() {
    let plain = assertion("a1", "alice");
    let original = canonicalize(
        parse(plain.as_bytes()).unwrap().root(),
        &C14nOptions::default(),
    );
    for content in ALL_CONTENT {
        for transport in [KeyTransport::OaepMgf1Sha1, KeyTransport::OaepSha256] {
            let enc = encrypt(&plain, &EncryptOptions { content, transport });
            assert!(!enc.contains("alice"));
            let doc = decrypt_xml(&enc, &keys(&[sp_key()]), &ParseLimits::default()).unwrap();
            assert!(doc.root().is(SAML, "Assertion"));
            assert_eq!(canonicalize(doc.root(), &C14nOptions::default()), original);
        }
    }
}

#[test]
fn libxmlsec1_decrypts_ours() {
    let plain = assertion("a1", "alice");
    for content in ALL_CONTENT {
        // libxmlsec1 1.2.37 knows only rsa-oaep-mgf1p; the XML Encryption 1.1 rsa-oaep form came
        // with 1.3, so it is covered by the round trip above only.
        for transport in [KeyTransport::OaepMgf1Sha1] {
            let enc = encrypt(&plain, &EncryptOptions { content, transport });
            let file = tmp_file(
                &format!("enc-{content:?}-{transport:?}.xml"),
                enc.as_bytes(),
            );
            let out = Command::new("xmlsec1")
                .arg("--decrypt")
                .arg("--privkey-pem")
                .arg(&sp_key().key_pem)
                .arg(&file)
                .output()
                .expect("xmlsec1 runs");
            assert!(
                out.status.success(),
                "libxmlsec1 cannot decrypt {content:?}/{transport:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(String::from_utf8_lossy(&out.stdout).contains(">alice</saml:NameID>"));
        }
    }
}

#[test]
fn ours_decrypts_libxmlsec1() {
    let data = tmp_file("xenc-data.xml", assertion("a1", "alice").as_bytes());
    for (session, uri) in [
        ("aes-256-gcm", "http://www.w3.org/2009/xmlenc11#aes256-gcm"),
        ("aes-128-gcm", "http://www.w3.org/2009/xmlenc11#aes128-gcm"),
        ("aes-128-cbc", "http://www.w3.org/2001/04/xmlenc#aes128-cbc"),
        ("aes-256-cbc", "http://www.w3.org/2001/04/xmlenc#aes256-cbc"),
    ] {
        let template = wrap(&format!(
            "<xenc:EncryptedData xmlns:xenc=\"http://www.w3.org/2001/04/xmlenc#\" Type=\"http://www.w3.org/2001/04/xmlenc#Element\"><xenc:EncryptionMethod Algorithm=\"{uri}\"/><ds:KeyInfo xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"><xenc:EncryptedKey><xenc:EncryptionMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p\"/><xenc:CipherData><xenc:CipherValue/></xenc:CipherData></xenc:EncryptedKey></ds:KeyInfo><xenc:CipherData><xenc:CipherValue/></xenc:CipherData></xenc:EncryptedData>"
        ));
        let tmpl = tmp_file(&format!("xenc-tmpl-{session}.xml"), template.as_bytes());
        let out_file = tmpl.with_extension("out.xml");
        let out = Command::new("xmlsec1")
            .arg("--encrypt")
            .arg("--pubkey-cert-pem")
            .arg(&sp_key().cert_pem)
            .arg("--session-key")
            .arg(session)
            .arg("--xml-data")
            .arg(&data)
            .arg("--output")
            .arg(&out_file)
            .arg(&tmpl)
            .output()
            .expect("xmlsec1 runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let produced = std::fs::read_to_string(&out_file).unwrap();
        // With --xml-data, xmlsec1 puts the EncryptedData in place of the data's root element.
        let doc = parse(produced.as_bytes()).unwrap();
        assert!(doc.root().local_name() == "EncryptedData", "{produced}");
        let decrypted = decrypt_xml(
            &wrap(doc.root().source_text()),
            &keys(&[sp_key()]),
            &ParseLimits::default(),
        )
        .unwrap_or_else(|e| panic!("{session}: {e}"));
        let name_id = decrypted
            .root()
            .descendants()
            .into_iter()
            .find(|e| e.local_name() == "NameID")
            .unwrap();
        assert_eq!(name_id.text().unwrap(), "alice");
    }
}

#[test]
fn every_configured_key_is_tried_for_rollover() {
    let enc = encrypt(&assertion("a1", "alice"), &EncryptOptions::default());
    let ok = decrypt_xml(&enc, &keys(&[idp_key(), sp_key()]), &ParseLimits::default());
    assert!(ok.is_ok());
    let wrong = decrypt_xml(&enc, &keys(&[idp_key()]), &ParseLimits::default());
    assert!(matches!(wrong, Err(XencError::NoMatchingKey)));
}

#[test]
fn tampered_ciphertext_is_refused() {
    for content in ALL_CONTENT {
        let enc = encrypt(
            &assertion("a1", "alice"),
            &EncryptOptions {
                content,
                ..Default::default()
            },
        );
        // Flip one base64 character in the middle of the content CipherValue (the last one).
        let start = enc.rfind("<xenc:CipherValue>").unwrap() + "<xenc:CipherValue>".len() + 40;
        let mut bytes = enc.into_bytes();
        bytes[start] = if bytes[start] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(bytes).unwrap();
        let result = decrypt_xml(&tampered, &keys(&[sp_key()]), &ParseLimits::default());
        // GCM authenticates; CBC garbles the block into text that is no longer the assertion.
        match content {
            ContentAlgorithm::Aes128Gcm | ContentAlgorithm::Aes256Gcm => {
                assert!(matches!(result, Err(XencError::NoMatchingKey)))
            }
            _ => assert!(
                result.is_err() || {
                    let doc = result.unwrap();
                    verify_enveloped(doc.root(), &[idp_key().trusted()], &VerifyPolicy::default())
                        .is_err()
                }
            ),
        }
    }
}

#[test]
fn encrypted_but_unsigned_assertion_is_refused_after_decryption() {
    // Anyone can encrypt to the SP's public key: decryption proves nothing about the issuer.
    let enc = encrypt(&assertion("a1", "mallory"), &EncryptOptions::default());
    let doc = decrypt_xml(&enc, &keys(&[sp_key()]), &ParseLimits::default()).unwrap();
    assert!(matches!(
        verify_enveloped(doc.root(), &[idp_key().trusted()], &VerifyPolicy::default()),
        Err(DsigError::Unsigned)
    ));
    // Signed by the IdP, then encrypted: verifies after decryption.
    let signed = sign(&assertion("a1", "alice"), "a1", idp_key());
    let enc = encrypt(&signed, &EncryptOptions::default());
    let doc = decrypt_xml(&enc, &keys(&[sp_key()]), &ParseLimits::default()).unwrap();
    let verified =
        verify_enveloped(doc.root(), &[idp_key().trusted()], &VerifyPolicy::default()).unwrap();
    assert!(String::from_utf8_lossy(&verified.canonical).contains(">alice<"));
}

#[test]
fn decrypted_fragment_may_use_prefixes_bound_by_its_context() {
    let signed = sign(&assertion("a1", "alice"), "a1", idp_key());
    // The plaintext relies on xmlns:saml declared on the EncryptedAssertion (as some IdPs do).
    let fragment = signed.replacen(&format!(" xmlns:saml=\"{SAML}\""), "", 1);
    assert!(parse(fragment.as_bytes()).is_err());
    let enc = encrypt(&fragment, &EncryptOptions::default());
    let doc = decrypt_xml(&enc, &keys(&[sp_key()]), &ParseLimits::default()).unwrap();
    assert!(verify_enveloped(doc.root(), &[idp_key().trusted()], &VerifyPolicy::default()).is_ok());
}

#[test]
fn encrypted_key_as_sibling_of_encrypted_data_is_found() {
    let enc = encrypt(&assertion("a1", "alice"), &EncryptOptions::default());
    let ki_start = enc.find("<ds:KeyInfo xmlns:ds").unwrap();
    let ek_start = enc.find("<xenc:EncryptedKey>").unwrap();
    let ek_end = enc.find("</xenc:EncryptedKey>").unwrap() + "</xenc:EncryptedKey>".len();
    let ki_end = enc[ek_end..].find("</ds:KeyInfo>").unwrap() + ek_end + "</ds:KeyInfo>".len();
    let ek = enc[ek_start..ek_end].replace(
        "<xenc:EncryptedKey>",
        "<xenc:EncryptedKey xmlns:xenc=\"http://www.w3.org/2001/04/xmlenc#\" xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\">",
    );
    let moved = format!("{}{}", &enc[..ki_start], &enc[ki_end..]).replace(
        "</saml:EncryptedAssertion>",
        &format!("{ek}</saml:EncryptedAssertion>"),
    );
    let doc = decrypt_xml(&moved, &keys(&[sp_key()]), &ParseLimits::default()).unwrap();
    assert!(doc.root().is(SAML, "Assertion"));
}

#[test]
fn weak_or_unknown_algorithms_are_refused() {
    let enc = encrypt(&assertion("a1", "alice"), &EncryptOptions::default());
    let rsa15 = enc.replace(
        "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p",
        "http://www.w3.org/2001/04/xmlenc#rsa-1_5",
    );
    assert!(matches!(
        decrypt_xml(&rsa15, &keys(&[sp_key()]), &ParseLimits::default()),
        Err(XencError::UnsupportedAlgorithm(a)) if a.ends_with("rsa-1_5")
    ));
    let des = enc.replace(
        "http://www.w3.org/2009/xmlenc11#aes256-gcm",
        "http://www.w3.org/2001/04/xmlenc#tripledes-cbc",
    );
    assert!(matches!(
        decrypt_xml(&des, &keys(&[sp_key()]), &ParseLimits::default()),
        Err(XencError::UnsupportedAlgorithm(_))
    ));
}

#[test]
fn plaintext_that_is_not_one_element_is_refused() {
    let recipient = Recipient::from_certificate(&sp_key().cert).unwrap();
    for junk in ["not xml at all", "<a/><b/>", "<!DOCTYPE x><x/>"] {
        let enc = wrap(&encrypt_element(junk, &recipient, &EncryptOptions::default()).unwrap());
        assert!(matches!(
            decrypt_xml(&enc, &keys(&[sp_key()]), &ParseLimits::default()),
            Err(XencError::Plaintext(_))
        ));
    }
}

#[test]
fn missing_parts_get_specific_errors() {
    let no_data = wrap("");
    assert!(matches!(
        decrypt_xml(&no_data, &keys(&[sp_key()]), &ParseLimits::default()),
        Err(XencError::NoEncryptedData)
    ));
    let enc = encrypt(&assertion("a1", "alice"), &EncryptOptions::default());
    let ki_start = enc.find("<ds:KeyInfo xmlns:ds").unwrap();
    let ki_end = enc.rfind("</ds:KeyInfo>").unwrap() + "</ds:KeyInfo>".len();
    let no_key = format!("{}{}", &enc[..ki_start], &enc[ki_end..]);
    assert!(matches!(
        decrypt_xml(&no_key, &keys(&[sp_key()]), &ParseLimits::default()),
        Err(XencError::NoEncryptedKey)
    ));
}

#[test]
fn encrypted_data_must_name_its_algorithm() {
    let enc = encrypt(&assertion("a1", "alice"), &EncryptOptions::default());
    let unnamed = enc.replacen(
        "<xenc:EncryptionMethod Algorithm=\"http://www.w3.org/2009/xmlenc11#aes256-gcm\"/>",
        "",
        1,
    );
    assert_ne!(unnamed, enc);
    assert!(matches!(
        decrypt_xml(&unnamed, &keys(&[sp_key()]), &ParseLimits::default()),
        Err(XencError::Structure(_))
    ));
}
