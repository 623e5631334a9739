//! The card agent over real HTTP on 127.0.0.1 with the real SoftHSM2 virtual cards.
//!
//! Every test that touches tokens lives in this one binary (PKCS#11 `C_Initialize` runs once per
//! process); the PKI is generated once into `target/tmp/idp-agent-pki` and shared through a
//! `OnceLock`. Each test uses its own cards, because the PIN try counters are per token and the
//! tests run in parallel.

use std::io::{Read, Write};
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use idp::agent::protocol::{codes, CardsResponse, SignStatus, Status};
use idp::agent::tries::TriesFile;
use idp::agent::{spawn, AgentClient, AgentConfig, Kind, RunningAgent};

const IDP: &str = "https://127.0.0.1:8443";
const OTHER_IDP: &str = "https://idp2.nabari.test";

// ---------------------------------------------------------------------------------------------
// Fixture

struct Fixture {
    pki: certs::Pki,
    logs: Arc<Mutex<Vec<u8>>>,
}

#[derive(Clone)]
struct LogWriter(Arc<Mutex<Vec<u8>>>);

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let logs = Arc::new(Mutex::new(Vec::new()));
        let writer = LogWriter(logs.clone());
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("idp=trace,info"))
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .try_init();
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("idp-agent-pki");
        let started = std::time::Instant::now();
        let pki = certs::generate(&dir, &certs::Options::default()).expect("test PKI");
        eprintln!(
            "PKI {} in {:.1} s",
            if pki.reused { "reused" } else { "generated" },
            started.elapsed().as_secs_f64()
        );
        // Counters of an earlier run start afresh.
        let tries = pki.dir.join(idp::agent::config::PIN_TRIES_FILE);
        let _ = std::fs::remove_file(&tries);
        Fixture { pki, logs }
    })
}

fn card(number: &str) -> &'static certs::Card {
    fixture()
        .pki
        .manifest
        .card(number)
        .expect("card in manifest")
}

fn config() -> AgentConfig {
    AgentConfig::virtual_cards(&fixture().pki.dir, [IDP, OTHER_IDP])
}

fn agent() -> RunningAgent {
    spawn(config()).expect("agent starts")
}

fn demo_agent() -> RunningAgent {
    spawn(AgentConfig {
        demo_pin_from_manifest: true,
        ..config()
    })
    .expect("demo agent starts")
}

fn client(a: &RunningAgent) -> AgentClient {
    AgentClient::new(a.base_url(), IDP)
}

fn http() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

fn wrong_auth_pin(real: &str) -> &'static str {
    if real == "0000" {
        "1111"
    } else {
        "0000"
    }
}

fn wrong_sign_pin(real: &str) -> &'static str {
    if real == "WRONG0PASS" {
        "WRONG1PASS"
    } else {
        "WRONG0PASS"
    }
}

fn tries_file() -> TriesFile {
    TriesFile::new(fixture().pki.dir.join(idp::agent::config::PIN_TRIES_FILE))
}

async fn tries_left(c: &AgentClient, number: &str, kind: Kind) -> (Option<u32>, bool) {
    let cards: CardsResponse = c.cards().await.unwrap();
    let entry = cards
        .cards
        .iter()
        .find(|e| e.card == number)
        .expect("card listed");
    let t = entry
        .tokens
        .iter()
        .find(|t| t.kind == kind)
        .expect("token listed");
    (t.pin.tries_left, t.pin.locked)
}

/// `openssl` CLI: verify `sig` over `data` with the certificate's public key, and recover the
/// DigestInfo the card signed.
fn openssl_verify(cert_der: &[u8], data: &[u8], sig: &[u8]) -> (bool, Vec<u8>) {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n);
    std::fs::write(p("cert.der"), cert_der).unwrap();
    std::fs::write(p("data.bin"), data).unwrap();
    std::fs::write(p("sig.bin"), sig).unwrap();
    let out = Command::new("openssl")
        .args(["x509", "-inform", "DER", "-in"])
        .arg(p("cert.der"))
        .args(["-pubkey", "-noout", "-out"])
        .arg(p("pub.pem"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let verify = Command::new("openssl")
        .args(["dgst", "-sha256", "-verify"])
        .arg(p("pub.pem"))
        .arg("-signature")
        .arg(p("sig.bin"))
        .arg(p("data.bin"))
        .output()
        .unwrap();
    let recovered = Command::new("openssl")
        .args(["pkeyutl", "-verifyrecover", "-pubin", "-inkey"])
        .arg(p("pub.pem"))
        .arg("-in")
        .arg(p("sig.bin"))
        .output()
        .unwrap();
    // With the wrong key the padding check fails and nothing is recovered.
    let recovered = if recovered.status.success() {
        recovered.stdout
    } else {
        Vec::new()
    };
    (verify.status.success(), recovered)
}

fn sha256_digest_info(data: &[u8]) -> Vec<u8> {
    certs::pkcs11::sha256_digest_info(data).unwrap()
}

/// A raw HTTP/1.1 request (to set `Host` freely); returns (status, response text).
fn raw_http(addr: std::net::SocketAddr, request: &str) -> (u16, String) {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    let status = out
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, out)
}

// ---------------------------------------------------------------------------------------------
// Cards and certificates

#[tokio::test]
async fn cards_are_listed_with_their_tokens() {
    let a = agent();
    let c = client(&a);
    let cards = c.cards().await.unwrap();
    assert_eq!(cards.mode, "virtual");
    assert_eq!(cards.cards.len(), fixture().pki.manifest.cards.len());
    let e = cards.cards.iter().find(|e| e.card == "0001").unwrap();
    assert_eq!(e.kinds, vec![Kind::Auth, Kind::Sign]);
    assert_eq!(e.tokens[0].label, card("0001").auth_token.label);
    assert_eq!(e.tokens[1].label, card("0001").sign_token.label);
    assert_eq!(e.tokens[0].pin.max_tries, 3);
    assert_eq!(e.tokens[1].pin.max_tries, 5);
}

#[tokio::test]
async fn certificate_is_read_without_pin_and_matches_the_manifest() {
    let a = agent();
    let c = client(&a);
    for number in ["0001", "0003", "9001"] {
        let der = c.certificate(number, Kind::Auth).await.unwrap();
        assert_eq!(
            der,
            std::fs::read(&card(number).auth_cert.cert_der).unwrap(),
            "card {number}"
        );
    }
    // The signature certificate is private on the card: it needs the password.
    let e = c.certificate("0001", Kind::Sign).await.unwrap_err();
    assert_eq!(e.code(), Some(codes::PIN_REQUIRED));
    let e = c.certificate("7777", Kind::Auth).await.unwrap_err();
    assert_eq!(e.code(), Some(codes::UNKNOWN_CARD));
    // Reading needs no PIN and costs no try.
    assert_eq!(tries_left(&c, "0001", Kind::Auth).await, (Some(3), false));
}

// ---------------------------------------------------------------------------------------------
// Signatures

#[tokio::test]
async fn demo_mode_signs_unattended_and_signatures_verify_with_openssl() {
    let a = demo_agent();
    let c = client(&a);
    // CRLF, trailing blanks and full-width text: signed byte for byte, no normalisation.
    let challenge = "名張市 社会保障カード 利用申請\r\n要求元: https://portal.nabari.test  \n\
                     日時: 2026-11-22T12:00:00+09:00\nnonce: 6f1d2c3b4a59\t末尾 ";
    let started = c.start_sign("0001", Kind::Auth, challenge).await.unwrap();
    assert!(started.demo);
    assert_eq!(started.status, Status::Done);
    assert!(started
        .pin_url
        .starts_with(&format!("{}/pin/", a.base_url())));
    let s = c.wait(&started.request_id, None).await.unwrap();
    assert_eq!(
        s.certificate,
        std::fs::read(&card("0001").auth_cert.cert_der).unwrap()
    );
    let (ok, recovered) = openssl_verify(&s.certificate, challenge.as_bytes(), &s.signature);
    assert!(ok, "openssl dgst -verify with the auth certificate");
    assert_eq!(
        recovered,
        sha256_digest_info(challenge.as_bytes()),
        "DigestInfo of exactly the UTF-8 bytes"
    );
    // The same signature does not verify over a normalised text.
    let (ok, _) = openssl_verify(
        &s.certificate,
        challenge.replace("\r\n", "\n").as_bytes(),
        &s.signature,
    );
    assert!(!ok);

    // The signature key, with the signature certificate (readable only after the password).
    let s = c
        .sign_and_wait("0001", Kind::Sign, challenge, None)
        .await
        .unwrap();
    assert_eq!(
        s.certificate,
        std::fs::read(&card("0001").sign_cert.cert_der).unwrap()
    );
    let (ok, recovered) = openssl_verify(&s.certificate, challenge.as_bytes(), &s.signature);
    assert!(ok, "openssl dgst -verify with the sign certificate");
    assert_eq!(recovered, sha256_digest_info(challenge.as_bytes()));
    // And not with the other certificate.
    let auth = std::fs::read(&card("0001").auth_cert.cert_der).unwrap();
    assert!(!openssl_verify(&auth, challenge.as_bytes(), &s.signature).0);
}

#[tokio::test]
async fn the_resident_types_the_pin_on_the_agent_page() {
    let a = agent();
    let c = client(&a);
    let challenge = "ログイン申請 nonce=a1b2c3";
    let started = c.start_sign("0001", Kind::Auth, challenge).await.unwrap();
    assert_eq!(started.status, Status::Pending);
    assert!(!started.demo);
    assert_eq!(started.expires_in, 120);
    let st = c.status(&started.request_id).await.unwrap();
    assert_eq!(st.status, Status::Pending);
    assert!(st.signature.is_none());
    let out = c
        .enter_pin(&started.pin_url, &card("0001").auth_token.pin)
        .await
        .unwrap();
    assert_eq!(
        (out.http_status, out.result.as_str(), out.status.as_str()),
        (200, "done", "done")
    );
    let s = c
        .wait(&started.request_id, Some(Duration::from_secs(5)))
        .await
        .unwrap();
    let (ok, recovered) = openssl_verify(&s.certificate, challenge.as_bytes(), &s.signature);
    assert!(ok);
    assert_eq!(recovered, sha256_digest_info(challenge.as_bytes()));
}

// ---------------------------------------------------------------------------------------------
// PIN tries

#[tokio::test]
async fn wrong_pins_count_down_then_lock_and_a_locked_card_refuses_the_right_pin() {
    let number = "0002";
    let real = card(number).auth_token.pin.clone();
    let wrong = wrong_auth_pin(&real);
    let a = agent();
    let c = client(&a);
    let first = c.start_sign(number, Kind::Auth, "申請A").await.unwrap();
    // A second request made while the card still worked.
    let second = c.start_sign(number, Kind::Auth, "申請B").await.unwrap();

    for expected in [2u32, 1] {
        let out = c.enter_pin(&first.pin_url, wrong).await.unwrap();
        assert_eq!(out.result, codes::PIN_INCORRECT);
        assert_eq!(out.tries_left, Some(expected));
        assert_eq!(out.status, "pending", "the resident may try again");
        assert!(
            out.html.contains(&format!("残り{expected}回")),
            "the page says how many tries are left"
        );
        let st: SignStatus = c.status(&first.request_id).await.unwrap();
        assert_eq!(st.status, Status::Pending);
        let err = st.error.unwrap();
        assert_eq!(
            (err.error.as_str(), err.tries_left),
            (codes::PIN_INCORRECT, Some(expected))
        );
        assert_eq!(
            tries_left(&c, number, Kind::Auth).await,
            (Some(expected), false)
        );
    }
    let out = c.enter_pin(&first.pin_url, wrong).await.unwrap();
    assert_eq!(
        (out.http_status, out.result.as_str()),
        (423, codes::PIN_LOCKED)
    );
    assert_eq!(out.tries_left, Some(0));
    assert!(
        out.html.contains("ロックされています"),
        "plain words on the page"
    );
    let st = c.status(&first.request_id).await.unwrap();
    assert_eq!(st.status, Status::Failed);
    assert_eq!(st.error.unwrap().error, codes::PIN_LOCKED);
    assert_eq!(tries_left(&c, number, Kind::Auth).await, (Some(0), true));

    // Locked: even the right PIN is refused, without touching the token.
    let out = c.enter_pin(&second.pin_url, &real).await.unwrap();
    assert_eq!(out.result, codes::PIN_LOCKED);
    assert_eq!(
        c.status(&second.request_id).await.unwrap().status,
        Status::Failed
    );
    let e = c.start_sign(number, Kind::Auth, "申請C").await.unwrap_err();
    assert!(
        matches!(e, idp::agent::ClientError::Api { status: 423, .. }),
        "{e}"
    );
    assert_eq!(e.code(), Some(codes::PIN_LOCKED));
    let demo = demo_agent();
    let e = client(&demo)
        .start_sign(number, Kind::Auth, "申請D")
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(codes::PIN_LOCKED));
    // The other PIN of the card is independent.
    assert_eq!(tries_left(&c, number, Kind::Sign).await, (Some(5), false));

    // What the city office does.
    tries_file().reset(&card(number).auth_token.label).unwrap();
    assert_eq!(tries_left(&c, number, Kind::Auth).await, (Some(3), false));
    assert!(client(&demo)
        .sign_and_wait(number, Kind::Auth, "申請E", None)
        .await
        .is_ok());
}

#[tokio::test]
async fn a_correct_pin_resets_the_counter() {
    let number = "0009";
    let real = card(number).auth_token.pin.clone();
    let a = agent();
    let c = client(&a);
    let r = c.start_sign(number, Kind::Auth, "申請").await.unwrap();
    assert_eq!(
        c.enter_pin(&r.pin_url, wrong_auth_pin(&real))
            .await
            .unwrap()
            .tries_left,
        Some(2)
    );
    assert_eq!(c.enter_pin(&r.pin_url, &real).await.unwrap().result, "done");
    assert!(c
        .wait(&r.request_id, Some(Duration::from_secs(5)))
        .await
        .is_ok());
    assert_eq!(tries_left(&c, number, Kind::Auth).await, (Some(3), false));
    let r = c.start_sign(number, Kind::Auth, "申請2").await.unwrap();
    assert_eq!(
        c.enter_pin(&r.pin_url, wrong_auth_pin(&real))
            .await
            .unwrap()
            .tries_left,
        Some(2),
        "counted from 3 again"
    );
    assert_eq!(c.enter_pin(&r.pin_url, &real).await.unwrap().result, "done");
}

#[tokio::test]
async fn the_signature_password_has_five_tries() {
    let number = "0011";
    let real = card(number).sign_token.pin.clone();
    let a = agent();
    let c = client(&a);
    let r = c.start_sign(number, Kind::Sign, "署名申請").await.unwrap();
    for expected in [4u32, 3] {
        let out = c
            .enter_pin(&r.pin_url, wrong_sign_pin(&real))
            .await
            .unwrap();
        assert_eq!(
            (out.result.as_str(), out.tries_left),
            (codes::PIN_INCORRECT, Some(expected))
        );
    }
    assert_eq!(c.enter_pin(&r.pin_url, &real).await.unwrap().result, "done");
    let s = c
        .wait(&r.request_id, Some(Duration::from_secs(5)))
        .await
        .unwrap();
    assert_eq!(
        s.certificate,
        std::fs::read(&card(number).sign_cert.cert_der).unwrap()
    );
    assert_eq!(tries_left(&c, number, Kind::Sign).await, (Some(5), false));
}

#[tokio::test]
async fn pin_format_is_checked_before_the_card_is_touched() {
    let number = "0010";
    let a = agent();
    let c = client(&a);
    let r = c.start_sign(number, Kind::Auth, "申請").await.unwrap();
    for bad in ["123", "12a4", "abcd", "12345", ""] {
        let out = c.enter_pin(&r.pin_url, bad).await.unwrap();
        assert_eq!(
            (out.http_status, out.result.as_str()),
            (400, codes::PIN_FORMAT),
            "{bad:?}"
        );
        assert!(out.html.contains("数字4桁"));
    }
    assert_eq!(
        tries_left(&c, number, Kind::Auth).await,
        (Some(3), false),
        "no try was spent"
    );
    assert_eq!(
        c.status(&r.request_id).await.unwrap().error.unwrap().error,
        codes::PIN_FORMAT
    );
    assert_eq!(
        c.enter_pin(&r.pin_url, &card(number).auth_token.pin)
            .await
            .unwrap()
            .result,
        "done"
    );

    let r = c.start_sign(number, Kind::Sign, "署名申請").await.unwrap();
    let real = card(number).sign_token.pin.clone();
    for bad in [
        real.to_lowercase(),
        "ABC12".to_string(),
        "ABCDEFGHIJ1234567".to_string(),
        "ABC 123".to_string(),
    ] {
        let out = c.enter_pin(&r.pin_url, &bad).await.unwrap();
        assert_eq!(out.result, codes::PIN_FORMAT, "{bad:?}");
    }
    assert_eq!(
        tries_left(&c, number, Kind::Sign).await,
        (Some(5), false),
        "no try was spent"
    );
    assert_eq!(c.enter_pin(&r.pin_url, &real).await.unwrap().result, "done");
}

// ---------------------------------------------------------------------------------------------
// Requests: expiry, single use, origin binding, limits

#[tokio::test]
async fn expired_and_reused_requests_are_refused() {
    let number = "0012";
    let short = spawn(AgentConfig {
        request_ttl_secs: 1,
        ..config()
    })
    .unwrap();
    let c = client(&short);
    let r = c.start_sign(number, Kind::Auth, "申請").await.unwrap();
    assert_eq!(r.expires_in, 1);
    tokio::time::sleep(Duration::from_millis(1300)).await;
    let out = c.enter_pin(&r.pin_url, &card(number).auth_token.pin).await;
    // The page of an expired request has no form any more.
    assert!(out.is_err(), "no form on an expired request");
    let page = http().get(&r.pin_url).send().await.unwrap();
    assert_eq!(page.status().as_u16(), 410);
    assert!(page.text().await.unwrap().contains("有効期限"));
    let e = c.status(&r.request_id).await.unwrap_err();
    assert!(matches!(
        e,
        idp::agent::ClientError::Api { status: 410, .. }
    ));
    assert_eq!(e.code(), Some(codes::REQUEST_EXPIRED));
    assert_eq!(
        c.status(&r.request_id).await.unwrap_err().code(),
        Some(codes::UNKNOWN_REQUEST)
    );

    let demo = demo_agent();
    let c = client(&demo);
    let r = c.start_sign(number, Kind::Auth, "申請").await.unwrap();
    // Another allowed origin cannot collect it.
    let other = AgentClient::new(demo.base_url(), OTHER_IDP);
    assert_eq!(
        other.status(&r.request_id).await.unwrap_err().code(),
        Some(codes::UNKNOWN_REQUEST)
    );
    assert_eq!(c.status(&r.request_id).await.unwrap().status, Status::Done);
    let e = c.status(&r.request_id).await.unwrap_err();
    assert!(matches!(
        e,
        idp::agent::ClientError::Api { status: 404, .. }
    ));
    assert_eq!(e.code(), Some(codes::UNKNOWN_REQUEST), "single use");
    assert_eq!(
        c.status("not-a-request").await.unwrap_err().code(),
        Some(codes::UNKNOWN_REQUEST)
    );
    // Its PIN page is gone too.
    assert_eq!(
        http()
            .get(&r.pin_url)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        404
    );

    // A finished request's page cannot be used again.
    let plain = agent();
    let c = client(&plain);
    let r = c.start_sign(number, Kind::Auth, "申請").await.unwrap();
    let html = http()
        .get(&r.pin_url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        c.enter_pin(&r.pin_url, &card(number).auth_token.pin)
            .await
            .unwrap()
            .result,
        "done"
    );
    let token = html
        .split("name=\"form_token\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    let again = http()
        .post(&r.pin_url)
        .header("Origin", plain.base_url())
        .form(&[
            ("form_token", token),
            ("pin", card(number).auth_token.pin.as_str()),
        ])
        .send()
        .await
        .unwrap();
    let out = idp::agent::client::pin_outcome(again).await.unwrap();
    assert_eq!(out.result, codes::UNKNOWN_REQUEST);
    // And a forged form token is refused.
    let r = c.start_sign(number, Kind::Auth, "申請").await.unwrap();
    let forged = http()
        .post(&r.pin_url)
        .header("Origin", plain.base_url())
        .form(&[
            ("form_token", "forged"),
            ("pin", card(number).auth_token.pin.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        idp::agent::client::pin_outcome(forged)
            .await
            .unwrap()
            .result,
        codes::BAD_REQUEST
    );
    assert_eq!(
        c.status(&r.request_id).await.unwrap().status,
        Status::Pending
    );
}

#[tokio::test]
async fn challenge_limits() {
    let a = demo_agent();
    let c = client(&a);
    let max = "a".repeat(4096);
    let s = c
        .sign_and_wait("0013", Kind::Auth, &max, None)
        .await
        .unwrap();
    assert!(openssl_verify(&s.certificate, max.as_bytes(), &s.signature).0);
    let e = c
        .start_sign("0013", Kind::Auth, &"a".repeat(4097))
        .await
        .unwrap_err();
    assert!(
        matches!(e, idp::agent::ClientError::Api { status: 413, .. }),
        "{e}"
    );
    assert_eq!(e.code(), Some(codes::CHALLENGE_TOO_LONG));
    // Counted in UTF-8 bytes: 1366 × 3 = 4098.
    let e = c
        .start_sign("0013", Kind::Auth, &"あ".repeat(1366))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(codes::CHALLENGE_TOO_LONG));
    assert_eq!(
        c.start_sign("0013", Kind::Auth, "")
            .await
            .unwrap_err()
            .code(),
        Some(codes::CHALLENGE_EMPTY)
    );
    for bad in ["abc\u{202E}fed", "nul\u{0}", "bell\u{7}", "iso\u{2066}x"] {
        let e = c.start_sign("0013", Kind::Auth, bad).await.unwrap_err();
        assert_eq!(e.code(), Some(codes::CHALLENGE_INVALID), "{bad:?}");
    }
    let e = c.start_sign("7777", Kind::Auth, "申請").await.unwrap_err();
    assert_eq!(e.code(), Some(codes::UNKNOWN_CARD));
    // Malformed bodies.
    let r = http()
        .post(format!("{}/v1/sign", a.base_url()))
        .header("Origin", IDP)
        .header("Content-Type", "application/json")
        .body(r#"{"card":"0013","kind":"admin","challenge":"x"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    assert_eq!(r.headers()["access-control-allow-origin"], IDP);
}

// ---------------------------------------------------------------------------------------------
// Origin, CORS, Host

#[tokio::test]
async fn only_the_configured_origins_are_answered() {
    let a = agent();
    let base = a.base_url();
    let h = http();
    let urls = [
        format!("{base}/v1/cards"),
        format!("{base}/v1/certificate?card=0001&kind=auth"),
        format!("{base}/v1/sign/xyz"),
    ];
    for url in &urls {
        let r = h.get(url).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 403, "no Origin: {url}");
        assert!(r.headers().get("access-control-allow-origin").is_none());
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body["error"], codes::ORIGIN_NOT_ALLOWED);
        for origin in [
            "https://evil.example",
            "https://127.0.0.1:8443/",
            "http://127.0.0.1:8443",
            "https://127.0.0.1:8444",
            "HTTPS://127.0.0.1:8443",
            "null",
            base.as_str(),
        ] {
            let r = h.get(url).header("Origin", origin).send().await.unwrap();
            assert_eq!(r.status().as_u16(), 403, "{origin} {url}");
            assert!(r.headers().get("access-control-allow-origin").is_none());
        }
    }
    let r = h
        .post(format!("{base}/v1/sign"))
        .header("Origin", "https://evil.example")
        .json(&serde_json::json!({"card": "0001", "kind": "auth", "challenge": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);

    // The exact origin: answered, CORS echoes exactly that origin.
    for origin in [IDP, OTHER_IDP] {
        let r = h
            .get(&urls[0])
            .header("Origin", origin)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        let hd = r.headers();
        assert_eq!(hd["access-control-allow-origin"], origin);
        assert_eq!(hd["vary"], "Origin");
        assert!(hd.get("access-control-allow-credentials").is_none());
        assert_eq!(hd["cache-control"], "no-store");
        assert!(hd.get("x-request-id").is_some());
    }

    // Preflight.
    let pre = |origin: &str, method: &str, headers: Option<&str>| {
        let mut rb = h
            .request(reqwest::Method::OPTIONS, format!("{base}/v1/sign"))
            .header("Origin", origin)
            .header("Access-Control-Request-Method", method);
        if let Some(v) = headers {
            rb = rb.header("Access-Control-Request-Headers", v);
        }
        rb.header("Access-Control-Request-Private-Network", "true")
            .send()
    };
    let r = pre(IDP, "POST", Some("content-type")).await.unwrap();
    assert_eq!(r.status().as_u16(), 204);
    let hd = r.headers();
    assert_eq!(hd["access-control-allow-origin"], IDP);
    assert_eq!(hd["access-control-allow-methods"], "GET, POST");
    assert_eq!(hd["access-control-allow-headers"], "Content-Type");
    assert_eq!(hd["access-control-allow-private-network"], "true");
    assert_eq!(hd["vary"], "Origin");
    assert!(hd.get("access-control-allow-credentials").is_none());
    for (origin, method, headers) in [
        ("https://evil.example", "POST", Some("content-type")),
        (IDP, "DELETE", None),
        (IDP, "POST", Some("content-type, x-forwarded-pin")),
    ] {
        let r = pre(origin, method, headers).await.unwrap();
        assert_eq!(r.status().as_u16(), 403, "{origin} {method} {headers:?}");
        assert!(r.headers().get("access-control-allow-origin").is_none());
    }

    // DNS rebinding: a Host that is not the agent is refused even with a good Origin.
    let (status, _) = raw_http(
        a.addr(),
        &format!("GET /v1/cards HTTP/1.1\r\nHost: rebind.evil.example:{}\r\nOrigin: {IDP}\r\nConnection: close\r\n\r\n", a.addr().port()),
    );
    assert_eq!(status, 403);
    let (status, text) = raw_http(
        a.addr(),
        &format!("GET /v1/cards HTTP/1.1\r\nHost: localhost:{}\r\nOrigin: {IDP}\r\nConnection: close\r\n\r\n", a.addr().port()),
    );
    assert_eq!(status, 200, "{text}");

    // The PIN page: same-origin only (navigation without Origin, or the agent's own origin).
    let r = client(&a)
        .start_sign("0001", Kind::Auth, "申請")
        .await
        .unwrap();
    assert_eq!(
        h.get(&r.pin_url).send().await.unwrap().status().as_u16(),
        200
    );
    assert_eq!(
        h.get(&r.pin_url)
            .header("Origin", &base)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        200
    );
    let from_idp = h
        .get(&r.pin_url)
        .header("Origin", IDP)
        .send()
        .await
        .unwrap();
    assert_eq!(
        from_idp.status().as_u16(),
        403,
        "the IdP page cannot read the PIN page"
    );
    let post_from_idp = h
        .post(&r.pin_url)
        .header("Origin", IDP)
        .form(&[("form_token", "x"), ("pin", "1234")])
        .send()
        .await
        .unwrap();
    assert_eq!(
        post_from_idp.status().as_u16(),
        403,
        "the IdP page cannot submit a PIN"
    );
}

// ---------------------------------------------------------------------------------------------
// The PIN page

#[tokio::test]
async fn pin_page_shows_the_escaped_challenge_and_loads_nothing_external() {
    let a = agent();
    let c = client(&a);
    let challenge =
        "利用申請 <script>alert('x')</script> & \"quoted\"\n<img src=https://evil.example/x.png>";
    let r = c.start_sign("0013", Kind::Auth, challenge).await.unwrap();
    let resp = http().get(&r.pin_url).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let hd = resp.headers().clone();
    assert!(hd["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let csp = hd["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    assert_eq!(hd["x-frame-options"], "DENY");
    assert!(hd.get("access-control-allow-origin").is_none());
    let html = resp.text().await.unwrap();
    assert!(html.starts_with("<!DOCTYPE html>\n<html lang=\"ja\">"));
    assert!(
        html.contains("&#60;script&#62;alert(&#39;x&#39;)&#60;/script&#62; &#38; &#34;quoted&#34;"),
        "{html}"
    );
    assert!(html.contains("&#60;img src=https://evil.example/x.png&#62;"));
    let lower = html.to_lowercase();
    for forbidden in [
        "<script", "<img", "<link", "<iframe", "<object", "<embed", "src=\"", "url(", "@import",
    ] {
        assert!(!lower.contains(forbidden), "page contains {forbidden}");
    }
    for attr in ["href=\"", "action=\""] {
        for (i, _) in html.match_indices(attr) {
            assert!(
                html[i + attr.len()..].starts_with('/'),
                "{attr} must be local"
            );
        }
    }
    assert!(html.contains(IDP), "the requesting origin is shown");
    assert!(html.contains("利用者証明用電子証明書"));
    assert!(html.contains("pattern=\"[0-9]{4}\""));
    assert!(html.contains("type=\"password\""));

    // English.
    let en = http()
        .get(format!("{}?lang=en", r.pin_url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(en.contains("<html lang=\"en\">"));
    assert!(en.contains("Enter your certificate PIN"));
    assert!(en.contains("&#60;script&#62;"));
    assert!(en.contains("日本語"), "a way back to Japanese");

    // Cancel.
    let token = html
        .split("name=\"form_token\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    let resp = http()
        .post(format!("{}/cancel", r.pin_url))
        .form(&[("form_token", token), ("lang", "ja")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let st = c.status(&r.request_id).await.unwrap();
    assert_eq!(st.status, Status::Failed);
    assert_eq!(st.error.unwrap().error, codes::CANCELLED);

    // The signature-password page asks for the other format.
    let r = c.start_sign("0013", Kind::Sign, "署名").await.unwrap();
    let html = http()
        .get(&r.pin_url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("pattern=\"[A-Z0-9]{6,16}\""));
    assert!(html.contains("署名用電子証明書"));
}

// ---------------------------------------------------------------------------------------------
// Logs

#[tokio::test]
async fn logs_carry_no_pin_challenge_serial_or_card_number() {
    let number = "0004";
    let marker = "SECRET-CHALLENGE-MARKER-7f3a";
    let a = agent();
    let c = client(&a);
    let sign_pin = card(number).sign_token.pin.clone();
    let r = c
        .start_sign(number, Kind::Sign, &format!("申請 {marker}"))
        .await
        .unwrap();
    c.enter_pin(&r.pin_url, wrong_sign_pin(&sign_pin))
        .await
        .unwrap();
    assert_eq!(
        c.enter_pin(&r.pin_url, &sign_pin).await.unwrap().result,
        "done"
    );
    c.wait(&r.request_id, Some(Duration::from_secs(5)))
        .await
        .unwrap();
    c.certificate(number, Kind::Auth).await.unwrap();
    let logs = String::from_utf8_lossy(&fixture().logs.lock().unwrap()).into_owned();
    assert!(
        logs.contains("signed on the card"),
        "logging is captured:\n{logs}"
    );
    assert!(logs.contains("req_id="), "request ids are logged");
    for secret in [
        sign_pin.as_str(),
        wrong_sign_pin(&sign_pin),
        marker,
        card(number).auth_cert.serial.as_str(),
        card(number).sign_cert.serial.as_str(),
        &r.request_id,
    ] {
        assert!(!logs.contains(secret), "{secret} in the logs");
    }
    for pattern in [
        format!("={number}"),
        format!("\"{number}\""),
        format!("card={number}"),
        format!("AUTH {number}"),
        format!("SIGN {number}"),
    ] {
        assert!(!logs.contains(&pattern), "{pattern} in the logs");
    }
}
