//! Federation entity keys (SAML metadata style self-signed certificates, two generations for
//! rollover) and the test TLS CA with its server and clinic client certificates.

use openssl::asn1::Asn1Type;
use openssl::hash::{hash, MessageDigest};
use openssl::nid::Nid;
use openssl::pkcs12::Pkcs12;
use openssl::pkey::{PKey, Private};
use openssl::x509::extension::{
    BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectAlternativeName,
};
use openssl::x509::{X509Name, X509NameBuilder, X509};

use crate::common::{
    aki_ext, ec_p256_key, hex, issue, key_id, oneline, random_serial, serial_hex, ski_ext, ts,
    CertSpec, KeyPool, OutDir, DAY, YEAR,
};
use crate::manifest::{Entity, EntityKey, KeyAlgorithm, KeyUse, Tls, TlsCert};
use crate::Error;

/// (short name, entity ID, role) of every party of the federation.
pub const ENTITIES: [(&str, &str, &str); 9] = [
    (
        "idp",
        "https://idp.nabari.test/idp",
        "SAML identity provider",
    ),
    (
        "relay",
        "https://relay.nabari.test/ds",
        "ID-WSF Discovery Service (relay database)",
    ),
    (
        "portal",
        "https://portal.nabari.test/sp",
        "SAML service provider and WSC (resident portal)",
    ),
    (
        "clinic",
        "https://clinic.nabari.test/app",
        "SAML service provider and WSC (medical institution eligibility check)",
    ),
    (
        "pension",
        "https://pension.nabari.test/wsp",
        "WSP: pension office",
    ),
    (
        "kenpo",
        "https://kenpo.nabari.test/wsp",
        "WSP: employees' health-insurance society",
    ),
    (
        "kokuho",
        "https://kokuho.nabari.test/wsp",
        "WSP: city National Health Insurance",
    ),
    (
        "health",
        "https://health.nabari.test/wsp",
        "WSP: city health section",
    ),
    (
        "kouhi",
        "https://kouhi.nabari.test/wsp",
        "WSP: public-expense medical care",
    ),
];

const ORG: &str = "Nabari Federation (test)";
/// Password of the clinic terminal PKCS#12 file (test value).
pub const CLIENT_P12_PASSWORD: &str = "nabari-clinic";

fn host_of(entity_id: &str) -> &str {
    entity_id
        .trim_start_matches("https://")
        .split('/')
        .next()
        .unwrap_or(entity_id)
}

/// Number of RSA keys [`generate`] takes from the pool.
pub(crate) fn keys_needed() -> usize {
    ENTITIES.len() * 4 + 3
}

fn name(parts: &[(Nid, &str)]) -> Result<X509Name, Error> {
    let mut b = X509NameBuilder::new()?;
    for (nid, value) in parts {
        let ty = if *nid == Nid::COUNTRYNAME {
            Asn1Type::PRINTABLESTRING
        } else {
            Asn1Type::UTF8STRING
        };
        b.append_entry_by_nid_with_type(*nid, value, ty)?;
    }
    Ok(b.build())
}

fn fingerprint(cert: &X509) -> Result<String, Error> {
    Ok(hex(&hash(MessageDigest::sha256(), &cert.to_der()?)?))
}

pub(crate) fn generate_entities(
    out: &OutDir,
    now: i64,
    keys: &mut KeyPool,
) -> Result<Vec<Entity>, Error> {
    let mut entities = Vec::new();
    for (short, entity_id, role) in ENTITIES {
        let host = host_of(entity_id);
        let mut entity_keys = Vec::new();
        let mut variants: Vec<(KeyUse, u8, KeyAlgorithm)> = Vec::new();
        for generation in [1u8, 2] {
            variants.push((KeyUse::Signing, generation, KeyAlgorithm::Rsa2048));
            variants.push((KeyUse::Encryption, generation, KeyAlgorithm::Rsa2048));
        }
        if short == "relay" {
            variants.push((KeyUse::Signing, 1, KeyAlgorithm::EcP256));
        }
        for (usage, generation, algorithm) in variants {
            let key: PKey<Private> = match algorithm {
                KeyAlgorithm::Rsa2048 => keys.take()?,
                KeyAlgorithm::EcP256 => ec_p256_key()?,
            };
            let usage_name = match usage {
                KeyUse::Signing => "signing",
                KeyUse::Encryption => "encryption",
            };
            let alg_suffix = match algorithm {
                KeyAlgorithm::Rsa2048 => "",
                KeyAlgorithm::EcP256 => "-ec",
            };
            let ou = format!("{usage_name}{alg_suffix} key generation {generation}");
            let subject = name(&[
                (Nid::COUNTRYNAME, "JP"),
                (Nid::ORGANIZATIONNAME, ORG),
                (Nid::ORGANIZATIONALUNITNAME, &ou),
                (Nid::COMMONNAME, host),
            ])?;
            // Generation 1 is current; generation 2 is the next key, published ahead of rollover.
            let (not_before, not_after) = match generation {
                1 => (now - YEAR, now + 3 * YEAR),
                _ => (now - DAY, now + 5 * YEAR),
            };
            let ku = match usage {
                KeyUse::Signing => KeyUsage::new().critical().digital_signature().build()?,
                KeyUse::Encryption => KeyUsage::new()
                    .critical()
                    .key_encipherment()
                    .data_encipherment()
                    .build()?,
            };
            let kid = key_id(&key)?;
            let serial = random_serial()?;
            let cert = issue(CertSpec {
                subject: &subject,
                subject_key: &key,
                issuer: None,
                serial,
                not_before,
                not_after,
                extensions: vec![
                    BasicConstraints::new().critical().build()?,
                    ku,
                    ski_ext(&kid)?,
                ],
            })?;
            let stem = format!("federation/{short}/{usage_name}{alg_suffix}-{generation}");
            let cert_pem = out.write(&format!("{stem}.crt.pem"), &cert.to_pem()?, false)?;
            let key_pem = out.write_key(&format!("{stem}.key.pem"), &key)?;
            entity_keys.push(EntityKey {
                usage,
                generation,
                algorithm,
                subject: oneline(cert.subject_name()),
                serial: serial_hex(serial),
                sha256_fingerprint: fingerprint(&cert)?,
                not_before: ts(not_before)?,
                not_after: ts(not_after)?,
                key_pem,
                cert_pem,
            });
        }
        entities.push(Entity {
            name: short.into(),
            entity_id: entity_id.into(),
            host: host.into(),
            role: role.into(),
            keys: entity_keys,
        });
    }
    Ok(entities)
}

fn tls_info(
    cert: &X509,
    serial: u64,
    not_before: i64,
    not_after: i64,
    cert_pem: std::path::PathBuf,
    key_pem: std::path::PathBuf,
) -> Result<TlsCert, Error> {
    Ok(TlsCert {
        subject: oneline(cert.subject_name()),
        serial: serial_hex(serial),
        not_before: ts(not_before)?,
        not_after: ts(not_after)?,
        cert_pem,
        key_pem,
    })
}

pub(crate) fn generate_tls(out: &OutDir, now: i64, keys: &mut KeyPool) -> Result<Tls, Error> {
    // CA
    let ca_key = keys.take()?;
    let ca_name = name(&[
        (Nid::COUNTRYNAME, "JP"),
        (Nid::ORGANIZATIONNAME, ORG),
        (Nid::COMMONNAME, "Nabari Federation Test TLS CA"),
    ])?;
    let ca_kid = key_id(&ca_key)?;
    let (ca_nb, ca_na) = (now - YEAR, now + 10 * YEAR);
    let ca_serial = random_serial()?;
    let ca = issue(CertSpec {
        subject: &ca_name,
        subject_key: &ca_key,
        issuer: None,
        serial: ca_serial,
        not_before: ca_nb,
        not_after: ca_na,
        extensions: vec![
            BasicConstraints::new().critical().ca().pathlen(0).build()?,
            KeyUsage::new()
                .critical()
                .key_cert_sign()
                .crl_sign()
                .build()?,
            ski_ext(&ca_kid)?,
        ],
    })?;
    let ca_pem = out.write("tls/ca.crt.pem", &ca.to_pem()?, false)?;
    let ca_key_pem = out.write_key("tls/ca.key.pem", &ca_key)?;

    // Server: every host of the federation plus localhost / 127.0.0.1. Validity stays under
    // 398 days so that browsers accept it.
    let mut server_names: Vec<String> = vec!["localhost".into(), "127.0.0.1".into()];
    server_names.extend(ENTITIES.iter().map(|(_, id, _)| host_of(id).to_string()));
    server_names.dedup();
    let server_key = keys.take()?;
    let server_name = name(&[
        (Nid::COUNTRYNAME, "JP"),
        (Nid::ORGANIZATIONNAME, ORG),
        (Nid::COMMONNAME, "localhost"),
    ])?;
    let (s_nb, s_na) = (now - DAY, now + 390 * DAY);
    let s_serial = random_serial()?;
    let san = {
        let mut b = SubjectAlternativeName::new();
        b.ip("127.0.0.1");
        for n in &server_names {
            if n != "127.0.0.1" {
                b.dns(n);
            }
        }
        let builder = openssl::x509::X509Builder::new()?;
        b.build(&builder.x509v3_context(Some(&ca), None))?
    };
    let server = issue(CertSpec {
        subject: &server_name,
        subject_key: &server_key,
        issuer: Some((&ca, &ca_key)),
        serial: s_serial,
        not_before: s_nb,
        not_after: s_na,
        extensions: vec![
            BasicConstraints::new().critical().build()?,
            KeyUsage::new()
                .critical()
                .digital_signature()
                .key_encipherment()
                .build()?,
            ExtendedKeyUsage::new().server_auth().build()?,
            san,
            aki_ext(&ca_kid)?,
            ski_ext(&key_id(&server_key)?)?,
        ],
    })?;
    let server_pem = out.write("tls/server.crt.pem", &server.to_pem()?, false)?;
    let server_key_pem = out.write_key("tls/server.key.pem", &server_key)?;
    let chain = [server.to_pem()?, ca.to_pem()?].concat();
    let chain_pem = out.write("tls/server.chain.pem", &chain, false)?;

    // Clinic reception terminal client certificate.
    let client_key = keys.take()?;
    let client_name = name(&[
        (Nid::COUNTRYNAME, "JP"),
        (Nid::ORGANIZATIONNAME, "Nabari Clinic (test)"),
        (Nid::ORGANIZATIONALUNITNAME, "reception"),
        (Nid::COMMONNAME, "clinic-reception-terminal-01"),
    ])?;
    let (c_nb, c_na) = (now - DAY, now + 2 * YEAR);
    let c_serial = random_serial()?;
    let client = issue(CertSpec {
        subject: &client_name,
        subject_key: &client_key,
        issuer: Some((&ca, &ca_key)),
        serial: c_serial,
        not_before: c_nb,
        not_after: c_na,
        extensions: vec![
            BasicConstraints::new().critical().build()?,
            KeyUsage::new().critical().digital_signature().build()?,
            ExtendedKeyUsage::new().client_auth().build()?,
            aki_ext(&ca_kid)?,
            ski_ext(&key_id(&client_key)?)?,
        ],
    })?;
    let client_pem = out.write("tls/clinic-terminal.crt.pem", &client.to_pem()?, false)?;
    let client_key_pem = out.write_key("tls/clinic-terminal.key.pem", &client_key)?;
    let mut ca_stack = openssl::stack::Stack::new()?;
    ca_stack.push(ca.clone())?;
    let p12 = Pkcs12::builder()
        .name("clinic-reception-terminal-01")
        .pkey(&client_key)
        .cert(&client)
        .ca(ca_stack)
        .build2(CLIENT_P12_PASSWORD)?;
    let p12_path = out.write("tls/clinic-terminal.p12", &p12.to_der()?, true)?;

    Ok(Tls {
        ca: tls_info(&ca, ca_serial, ca_nb, ca_na, ca_pem, ca_key_pem)?,
        server: tls_info(&server, s_serial, s_nb, s_na, server_pem, server_key_pem)?,
        server_chain_pem: chain_pem,
        server_names,
        client: tls_info(&client, c_serial, c_nb, c_na, client_pem, client_key_pem)?,
        client_p12: p12_path,
        client_p12_password: CLIENT_P12_PASSWORD.into(),
    })
}
