//! Signing through PKCS#11 with a SoftHSM2 token (the same code path reaches a real card through
//! OpenSC): the signature verifies in ours and in libxmlsec1; a wrong PIN is refused.
//!
//! One test function: a PKCS#11 module is initialized once per process, and SOFTHSM2_CONF must be
//! set before that.

mod support;

use std::process::Command;

use schemas::dsig::{
    sign_enveloped, verify_enveloped, DsigError, Pkcs11Token, SignOptions, SignatureAlgorithm,
    VerifyPolicy,
};
use schemas::xml::parse;
use support::*;

const MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";

fn softhsm(args: &[&str]) {
    let out = Command::new("softhsm2-util")
        .args(args)
        .output()
        .expect("softhsm2-util is installed by scripts/setup.sh");
    assert!(
        out.status.success(),
        "softhsm2-util {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn softhsm_token_signs_assertions_that_verify_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("tokens");
    std::fs::create_dir_all(&tokens).unwrap();
    let conf = dir.path().join("softhsm2.conf");
    std::fs::write(
        &conf,
        format!(
            "directories.tokendir = {}\nobjectstore.backend = file\n",
            tokens.display()
        ),
    )
    .unwrap();
    // Set before the module is loaded; this binary has no other test that could race it.
    std::env::set_var("SOFTHSM2_CONF", &conf);

    softhsm(&[
        "--init-token",
        "--free",
        "--label",
        "idp-signing",
        "--so-pin",
        "87654321",
        "--pin",
        "1234",
    ]);
    let rsa = idp_key();
    let ec = ec_key();
    for (key, id) in [(rsa, "01"), (ec, "02")] {
        softhsm(&[
            "--import",
            key.key_pem.to_str().unwrap(),
            "--token",
            "idp-signing",
            "--label",
            id,
            "--id",
            id,
            "--pin",
            "1234",
        ]);
    }

    for (key, id, alg) in [
        (rsa, [1u8], SignatureAlgorithm::RsaSha256),
        (ec, [2u8], SignatureAlgorithm::EcdsaSha256),
    ] {
        let signer = Pkcs11Token::open(MODULE, "idp-signing", "1234")
            .unwrap()
            .signer(&id, alg, Some(key.cert.to_der().unwrap()))
            .unwrap();
        let signed = sign_enveloped(
            &assertion("a1", "alice"),
            "a1",
            &signer,
            &SignOptions::default(),
        )
        .unwrap();
        let doc = parse(signed.as_bytes()).unwrap();
        verify_enveloped(doc.root(), &[key.trusted()], &VerifyPolicy::default())
            .unwrap_or_else(|e| panic!("{alg:?}: {e}"));
        assert!(matches!(
            verify_enveloped(
                doc.root(),
                &[attacker_key().trusted()],
                &VerifyPolicy::default()
            ),
            Err(DsigError::BadSignature)
        ));
        let file = tmp_file(&format!("pkcs11-{alg:?}.xml"), signed.as_bytes());
        assert!(xmlsec1_verifies(
            &file,
            &key.cert_pem,
            "ID",
            "urn:oasis:names:tc:SAML:2.0:assertion:Assertion",
            None
        ));
    }

    let wrong = Pkcs11Token::open(MODULE, "idp-signing", "9999");
    assert!(matches!(wrong, Err(DsigError::PinIncorrect)));
    let missing = Pkcs11Token::open(MODULE, "no-such-token", "1234");
    assert!(matches!(missing, Err(DsigError::Pkcs11(m)) if m.contains("no token")));
    let no_key = Pkcs11Token::open(MODULE, "idp-signing", "1234")
        .unwrap()
        .signer(&[9], SignatureAlgorithm::RsaSha256, None);
    assert!(no_key.is_err());
}
