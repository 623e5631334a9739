//! Shared fixtures of the `wsf_*` tests (included by the others with `#[path]`; as a test
//! binary of its own it only checks that the fixtures build).
#![allow(dead_code)]

#[path = "support/mod.rs"]
mod support;

use std::sync::OnceLock;

use openssl::ec::{EcGroup, EcKey};
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::x509::X509;
use schemas::dsig::{KeySigner, SignatureAlgorithm, Signer, TrustedKey};
use schemas::idwsf::{secmech, SamlToken};
use schemas::saml::authn_context;
use schemas::wsf::client::{build_request, RequestParams};
use schemas::wsf::server::{ServerContext, StaticPeers, TrustedIssuer};
use schemas::wsf::token::{mint_token, Confirmation, TokenParams};
use schemas::xenc::{DecryptionKeys, Recipient};
use time::macros::datetime;
use time::OffsetDateTime;

pub const IDP: &str = "https://idp.nabari.example/";
pub const DS: &str = "https://relay.nabari.example/";
pub const DS_ENDPOINT: &str = "https://relay.nabari.example/disco";
pub const PORTAL: &str = "https://portal.nabari.example/";
pub const WSP_A: &str = "https://pension.nabari.example/";
pub const WSP_A_ENDPOINT: &str = "https://pension.nabari.example/soap";
pub const WSP_B: &str = "https://kenpo.nabari.example/";
pub const WSP_B_ENDPOINT: &str = "https://kenpo.nabari.example/soap";
pub const ATTACKER: &str = "https://evil.example/";
pub const PENSION_ACTION: &str = "urn:nabari:idwsf:svc:pension:2010:Query";
pub const HI_ACTION: &str = "urn:nabari:idwsf:svc:hi-eligibility:2010:Query";
pub const PSEUDONYM_A: &str = "pw-a-7f3e19c2";
pub const PSEUDONYM_B: &str = "pw-b-0c55aa81";
pub const CLASS: &str = authn_context::SMARTCARD_PKI;

pub fn now() -> OffsetDateTime {
    datetime!(2010-04-01 09:00:00 UTC)
}

pub fn login_instant() -> OffsetDateTime {
    datetime!(2010-04-01 08:55:00 UTC)
}

pub struct Party {
    pub key: PKey<Private>,
    pub cert: X509,
}

impl Party {
    pub fn trusted(&self) -> TrustedKey {
        TrustedKey::from_certificate(&self.cert).unwrap()
    }

    pub fn signer(&self) -> KeySigner {
        let alg = if self.key.id() == openssl::pkey::Id::EC {
            SignatureAlgorithm::EcdsaSha256
        } else {
            SignatureAlgorithm::RsaSha256
        };
        KeySigner::new(self.key.clone(), alg, Some(&self.cert)).unwrap()
    }

    pub fn cert_der(&self) -> Vec<u8> {
        self.cert.to_der().unwrap()
    }

    pub fn recipient(&self) -> Recipient {
        Recipient::from_certificate(&self.cert).unwrap()
    }

    pub fn decryption_keys(&self) -> DecryptionKeys {
        DecryptionKeys::new(vec![self.key.clone()])
    }
}

fn party(name: &str, key: PKey<Private>) -> Party {
    let cert = support::self_signed_certificate(name, &key);
    Party { cert, key }
}

fn rsa(name: &str) -> Party {
    party(name, PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap())
}

fn p256(name: &str) -> Party {
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
    party(
        name,
        PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap(),
    )
}

macro_rules! party_fn {
    ($name:ident, $make:ident, $cn:literal) => {
        pub fn $name() -> &'static Party {
            static P: OnceLock<Party> = OnceLock::new();
            P.get_or_init(|| $make($cn))
        }
    };
}

party_fn!(idp, rsa, "idp");
// The DS signs WSP tokens with RSA …
party_fn!(ds, rsa, "ds");
// … or with its P-256 key (both in its metadata).
party_fn!(ds_ec, p256, "ds-ec");
party_fn!(portal, rsa, "portal");
party_fn!(portal_ec, p256, "portal-ec");
party_fn!(wsp_a, rsa, "wsp-a");
party_fn!(wsp_b, rsa, "wsp-b");
party_fn!(attacker, rsa, "attacker");

/// The federation metadata as every endpoint sees it: known senders and their signing keys.
pub fn peers() -> &'static StaticPeers {
    static P: OnceLock<StaticPeers> = OnceLock::new();
    P.get_or_init(|| {
        StaticPeers::new()
            .with(PORTAL, vec![portal().trusted(), portal_ec().trusted()])
            .with(DS, vec![ds().trusted(), ds_ec().trusted()])
            .with(WSP_A, vec![wsp_a().trusted()])
            .with(WSP_B, vec![wsp_b().trusted()])
    })
}

/// Token issuers a WSP trusts: the DS (both keys).
pub fn ds_issuer() -> &'static [TrustedIssuer] {
    static I: OnceLock<Vec<TrustedIssuer>> = OnceLock::new();
    I.get_or_init(|| {
        vec![TrustedIssuer::new(
            DS,
            vec![ds().trusted(), ds_ec().trusted()],
        )]
    })
}

/// Token issuers the DS trusts: the IdP.
pub fn idp_issuer() -> &'static [TrustedIssuer] {
    static I: OnceLock<Vec<TrustedIssuer>> = OnceLock::new();
    I.get_or_init(|| vec![TrustedIssuer::new(IDP, vec![idp().trusted()])])
}

pub fn keys_a() -> &'static DecryptionKeys {
    static K: OnceLock<DecryptionKeys> = OnceLock::new();
    K.get_or_init(|| wsp_a().decryption_keys())
}

pub fn keys_b() -> &'static DecryptionKeys {
    static K: OnceLock<DecryptionKeys> = OnceLock::new();
    K.get_or_init(|| wsp_b().decryption_keys())
}

pub fn keys_ds() -> &'static DecryptionKeys {
    static K: OnceLock<DecryptionKeys> = OnceLock::new();
    K.get_or_init(|| ds().decryption_keys())
}

pub const WSP_MECHS: &[&str] = &[secmech::TLS_BEARER, secmech::TLS_SAMLV2];

/// WSP A's endpoint (pension): DS-issued tokens, Bearer and SAMLV2 over TLS.
pub fn ctx_a() -> ServerContext<'static> {
    let mut c = ServerContext::new(WSP_A, WSP_A_ENDPOINT, peers(), ds_issuer(), now());
    c.allowed_actions = &[PENSION_ACTION];
    c.accepted_mechanisms = WSP_MECHS;
    c.decryption_keys = Some(keys_a());
    c
}

/// WSP B's endpoint (health insurance).
pub fn ctx_b() -> ServerContext<'static> {
    let mut c = ServerContext::new(WSP_B, WSP_B_ENDPOINT, peers(), ds_issuer(), now());
    c.allowed_actions = &[HI_ACTION, PENSION_ACTION];
    c.accepted_mechanisms = WSP_MECHS;
    c.decryption_keys = Some(keys_b());
    c
}

/// The Discovery Service's endpoint: IdP-issued DS tokens.
pub fn ctx_ds() -> ServerContext<'static> {
    let mut c = ServerContext::new(DS, DS_ENDPOINT, peers(), idp_issuer(), now());
    c.allowed_actions = &[schemas::idwsf::disco::action::QUERY];
    c.accepted_mechanisms = WSP_MECHS;
    c.decryption_keys = Some(keys_ds());
    c
}

/// Token parameters for a DS-issued token to WSP A about the principal.
pub fn params_a(confirmation: Confirmation) -> TokenParams<'static> {
    TokenParams::new(
        DS,
        WSP_A,
        PSEUDONYM_A,
        login_instant(),
        CLASS,
        confirmation,
        now(),
    )
}

pub fn hok_portal() -> Confirmation {
    Confirmation::HolderOfKey {
        certificate_der: portal().cert_der(),
    }
}

/// A bearer token for WSP A, signed by the DS (RSA) and encrypted to WSP A.
pub fn bearer_token_a() -> SamlToken {
    mint_token(
        &params_a(Confirmation::Bearer),
        &ds().signer(),
        Some(&wsp_a().recipient()),
    )
    .unwrap()
}

/// A holder-of-key token for WSP A confirming the portal's key.
pub fn hok_token_a() -> SamlToken {
    mint_token(
        &params_a(hok_portal()),
        &ds().signer(),
        Some(&wsp_a().recipient()),
    )
    .unwrap()
}

pub fn pension_query() -> &'static str {
    r#"<pen:Query xmlns:pen="urn:nabari:idwsf:svc:pension:2010"><pen:Select>history</pen:Select></pen:Query>"#
}

pub fn pension_response() -> &'static str {
    r#"<pen:QueryResponse xmlns:pen="urn:nabari:idwsf:svc:pension:2010" xmlns:lu="urn:liberty:util:2006-08"><lu:Status code="OK"/><pen:Record months="480">basic pension</pen:Record></pen:QueryResponse>"#
}

/// Request parameters to WSP A.
pub fn request_a<'a>(mechanism: &'a str, token: &'a SamlToken) -> RequestParams<'a> {
    RequestParams::new(
        PORTAL,
        WSP_A_ENDPOINT,
        PENSION_ACTION,
        mechanism,
        Some(token),
        now(),
    )
}

/// A bearer request to WSP A, not signed.
pub fn bearer_request_a(token: &SamlToken) -> (String, String) {
    let p = request_a(secmech::TLS_BEARER, token);
    let xml = build_request(&p, pension_query(), None).unwrap();
    (xml, p.message_id)
}

/// A holder-of-key request to WSP A, signed by `signer`.
pub fn hok_request_a(token: &SamlToken, signer: &dyn Signer) -> (String, String) {
    let p = request_a(secmech::TLS_SAMLV2, token);
    let xml = build_request(&p, pension_query(), Some(signer)).unwrap();
    (xml, p.message_id)
}

/// `xml` with the first element starting with `start` (e.g. `<wsa:MessageID`) removed.
pub fn remove_element(xml: &str, start: &str, end_tag: &str) -> String {
    let i = xml
        .find(start)
        .unwrap_or_else(|| panic!("{start} not in message"));
    let j = i + xml[i..].find(end_tag).unwrap() + end_tag.len();
    format!("{}{}", &xml[..i], &xml[j..])
}

/// `xml` with `from` replaced once (which must occur).
pub fn replace_once(xml: &str, from: &str, to: &str) -> String {
    assert!(xml.contains(from), "{from:?} not in message");
    xml.replacen(from, to, 1)
}

#[test]
fn fixtures_build() {
    use schemas::wsf::server::PeerDirectory;
    let t = bearer_token_a();
    assert!(t.xml.starts_with("<saml:EncryptedAssertion"));
    assert!(!peers().signing_keys(PORTAL).is_empty());
}
