//! Throughput and memory of the IdP (`cargo bench -p idp --bench login`):
//!
//! * complete logins per second on one thread: the card login's challenge check with chain and
//!   CRL, the relay lookup, and the Response (signed assertion, encrypted to the portal, with the
//!   DS token signed and encrypted to the DS) — next to the bare RSA-2048 signing rate measured in
//!   the same run. The cards' signatures are made beforehand (they are the card's work, not the
//!   IdP's);
//! * the process's peak memory growth while 200 logins run concurrently over HTTP.

#[path = "../tests/web_support/mod.rs"]
mod web_support;

use std::time::{Duration, Instant};

use base64::Engine;
use idp::jpki::{ChallengeRequest, LoginKind};
use idp::web::issue::issue_response;
use idp::web::relay::Resolution;
use idp::web::session::{Authn, SsoRequest};
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::sign::Signer;
use schemas::saml::{bindings, nameid_format, SamlXml};
use web_support::*;

fn card_key(fx: &Fixture, number: &str) -> (PKey<Private>, Vec<u8>) {
    let c = card(&fx.pki, number);
    (
        certs::read_key(&c.auth_cert.key_pem).unwrap(),
        std::fs::read(&c.auth_cert.cert_der).unwrap(),
    )
}

fn sign(key: &PKey<Private>, data: &[u8]) -> Vec<u8> {
    let mut s = Signer::new(MessageDigest::sha256(), key).unwrap();
    s.update(data).unwrap();
    s.sign_to_vec().unwrap()
}

fn vm(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn logins_per_second_on_one_thread() {
    let fx = fixture();
    let state = fx.idp.state();
    let (key, cert) = card_key(fx, &fx.cards.a);

    // Bare RSA-2048 signing, same key size as the IdP's.
    let idp_key = {
        let e = fx
            .pki
            .manifest
            .federation
            .iter()
            .find(|e| e.name == "idp")
            .unwrap();
        certs::read_key(&e.keys[0].key_pem).unwrap()
    };
    let t = Instant::now();
    let mut n = 0u32;
    while t.elapsed() < Duration::from_secs(2) {
        sign(&idp_key, b"bench");
        n += 1;
    }
    let rsa_rate = f64::from(n) / t.elapsed().as_secs_f64();

    // Texts issued and signed by the card beforehand.
    let count = 300;
    let now = web_support::now();
    let texts: Vec<(String, Vec<u8>)> = (0..count)
        .map(|_| {
            let c = state
                .verifier
                .challenges()
                .issue(
                    &ChallengeRequest {
                        sp_entity_id: &fx.portal.entity,
                        sp_name_ja: "名張市 住民ポータル",
                        sp_name_en: "Nabari Resident Portal",
                        purpose_ja: "社会保障情報の閲覧",
                        purpose_en: "",
                        kind: LoginKind::Auth,
                    },
                    now,
                )
                .unwrap();
            let s = sign(&key, c.text.as_bytes());
            (c.text, s)
        })
        .collect();
    let req = SsoRequest {
        sp_entity: fx.portal.entity.clone(),
        acs_url: fx.portal.acs.clone(),
        acs_binding: bindings::HTTP_POST.into(),
        in_response_to: Some("_bench".into()),
        relay_state: None,
        force_authn: false,
        is_passive: false,
        name_id_format: nameid_format::PERSISTENT.into(),
        allow_create: true,
        acceptable_classes: vec![idp::jpki::AC_USER_AUTHENTICATION_PIN.into()],
    };
    let t = Instant::now();
    let mut bytes = 0usize;
    for (text, sig) in &texts {
        let card = state
            .verifier
            .verify(text, sig, &cert, now)
            .expect("verified");
        let Resolution::Person(person) = state
            .directory
            .resolve(&card.issuer_key_id, &card.serial, now.unix_timestamp())
            .unwrap()
        else {
            panic!("registered card");
        };
        let authn = Authn {
            person,
            kind: card.kind,
            class: card.authn_context_class().to_string(),
            instant: now,
            cert_fp: String::new(),
        };
        let issued = issue_response(state, &authn, &req, None, now + time::Duration::hours(8))
            .unwrap_or_else(|e| panic!("{e:?}"));
        bytes += issued.xml.len();
    }
    let elapsed = t.elapsed().as_secs_f64();
    let rate = f64::from(count) / elapsed;
    println!(
        "BENCH logins: {count} complete logins in {elapsed:.2} s = {rate:.0}/s on one thread \
         (avg Response {} bytes); bare RSA-2048 sign {rsa_rate:.0}/s; ratio {:.1} RSA signatures' time per login",
        bytes / count as usize,
        rsa_rate / rate
    );
}

async fn peak_memory_with_200_concurrent_logins() {
    let fx = fixture();
    let (key, cert) = card_key(fx, &fx.cards.b);
    let cert_b64 = B64.encode(&cert);
    let before_rss = vm("VmRSS:");
    let before_hwm = vm("VmHWM:");
    let started = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..200 {
        let key = key.clone();
        let cert_b64 = cert_b64.clone();
        set.spawn(async move {
            let fx = fixture();
            let b = Browser::new(&fx.base);
            let req = authn_request(&fx.portal, &fx.sso());
            let r = b
                .get(&format!(
                    "/sso?{}",
                    redirect_query(&req.to_xml(), &fx.portal.key, None)
                ))
                .await;
            let page = open_login(&b, &r.location.unwrap()).await;
            let sig = B64.encode(sign(&key, page.challenge.as_bytes()));
            let r = b
                .post_form(
                    "/login",
                    &[
                        ("tx", &page.tx),
                        ("csrf", &page.csrf),
                        ("kind", "auth"),
                        ("nonce", &page.nonce),
                        ("signature", &sig),
                        ("certificate", &cert_b64),
                    ],
                )
                .await;
            r.saml_response().is_some()
        });
    }
    let mut ok = 0;
    while let Some(r) = set.join_next().await {
        if r.unwrap() {
            ok += 1;
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "BENCH memory: {ok}/200 concurrent logins in {elapsed:.2} s; process RSS {} → {} KiB, peak {} → {} KiB (+{} KiB; IdP, test client and agent share the process)",
        before_rss,
        vm("VmRSS:"),
        before_hwm,
        vm("VmHWM:"),
        vm("VmHWM:").saturating_sub(before_hwm)
    );
    assert_eq!(ok, 200);
}

fn main() {
    logins_per_second_on_one_thread();
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
        .block_on(peak_memory_with_200_concurrent_logins());
}
