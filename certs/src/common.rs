//! Helpers shared by the JPKI, federation and TLS generators: files, keys, names, times,
//! certificate building.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use openssl::asn1::{Asn1Object, Asn1OctetString, Asn1Time};
use openssl::bn::BigNum;
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::{hash, MessageDigest};
use openssl::nid::Nid;
use openssl::pkey::{PKey, PKeyRef, Private};
use openssl::rsa::Rsa;
use openssl::x509::{X509Builder, X509Extension, X509NameRef, X509Ref, X509};
use time::OffsetDateTime;

use crate::{der, Error};

pub(crate) const DAY: i64 = 86_400;
pub(crate) const YEAR: i64 = 365 * DAY;

pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

pub(crate) fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Writes a file (creating parent folders). Private keys get mode 0600.
pub(crate) fn write_file(path: &Path, bytes: &[u8], secret: bool) -> Result<(), Error> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(io_err(parent))?;
    }
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if secret {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = secret;
    let mut file = options.open(path).map_err(io_err(path))?;
    file.write_all(bytes).map_err(io_err(path))?;
    Ok(())
}

/// Layout helper: a path relative to the output folder, plus its absolute twin for writing.
pub(crate) struct OutDir {
    pub root: PathBuf,
}

impl OutDir {
    /// Writes `bytes` at `rel` under the output folder and returns `rel` (for the manifest).
    pub fn write(&self, rel: &str, bytes: &[u8], secret: bool) -> Result<PathBuf, Error> {
        write_file(&self.root.join(rel), bytes, secret)?;
        Ok(PathBuf::from(rel))
    }

    pub fn write_key(&self, rel: &str, key: &PKeyRef<Private>) -> Result<PathBuf, Error> {
        self.write(rel, &key.private_key_to_pem_pkcs8()?, true)
    }
}

/// Generates `count` RSA-2048 keys (e = 65537) on all cores. Key generation is most of the
/// generation time, so it is done up front in parallel; the order of the result is irrelevant.
pub(crate) fn rsa_keys(count: usize) -> Result<Vec<PKey<Private>>, Error> {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 8)
        .min(count.max(1));
    let per_thread = count.div_ceil(threads);
    let results: Vec<Result<Vec<PKey<Private>>, Error>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let n = per_thread.min(count.saturating_sub(t * per_thread));
                scope.spawn(move || -> Result<Vec<PKey<Private>>, Error> {
                    (0..n)
                        .map(|_| Ok(PKey::from_rsa(Rsa::generate(2048)?)?))
                        .collect()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    Err(Error::Internal("key generation thread panicked".into()))
                })
            })
            .collect()
    });
    let mut keys = Vec::with_capacity(count);
    for r in results {
        keys.extend(r?);
    }
    Ok(keys)
}

pub(crate) fn ec_p256_key() -> Result<PKey<Private>, Error> {
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1)?;
    Ok(PKey::from_ec_key(EcKey::generate(&group)?)?)
}

/// A pool of pre-generated keys handed out one by one.
pub(crate) struct KeyPool(Vec<PKey<Private>>);

impl KeyPool {
    pub fn generate(count: usize) -> Result<Self, Error> {
        Ok(KeyPool(rsa_keys(count)?))
    }

    pub fn take(&mut self) -> Result<PKey<Private>, Error> {
        self.0
            .pop()
            .ok_or_else(|| Error::Internal("key pool exhausted (key count miscalculated)".into()))
    }
}

/// RFC 5280 §4.2.1.2 method 1: SHA-1 of the subjectPublicKey bits.
pub(crate) fn key_id<T: openssl::pkey::HasPublic>(key: &PKeyRef<T>) -> Result<Vec<u8>, Error> {
    let spki = key.public_key_to_der()?;
    let bits = der::spki_public_key_bits(&spki)
        .ok_or_else(|| Error::Internal("cannot read SubjectPublicKeyInfo".into()))?;
    Ok(hash(MessageDigest::sha1(), bits)?.to_vec())
}

/// A random positive serial of 3 or 4 bytes (JPKI style), not in `used`.
pub(crate) fn short_serial(used: &std::collections::HashSet<u64>) -> Result<u64, Error> {
    loop {
        let mut buf = [0u8; 5];
        openssl::rand::rand_bytes(&mut buf)?;
        let v = u64::from(u32::from_be_bytes([buf[1], buf[2], buf[3], buf[4]]));
        let serial = if buf[0] & 1 == 0 {
            0x10_0000 + v % (0x80_0000 - 0x10_0000) // 3 bytes, top bit clear
        } else {
            0x80_0000 + v % (0x8000_0000 - 0x80_0000) // 4 bytes, top bit clear
        };
        if !used.contains(&serial) {
            return Ok(serial);
        }
    }
}

/// A random serial for non-JPKI certificates (positive, 8 bytes).
pub(crate) fn random_serial() -> Result<u64, Error> {
    let mut buf = [0u8; 8];
    openssl::rand::rand_bytes(&mut buf)?;
    buf[0] &= 0x7F;
    buf[0] |= 0x01;
    Ok(u64::from_be_bytes(buf))
}

/// Minimal big-endian hex of a serial (what the manifest and the relay store).
pub(crate) fn serial_hex(serial: u64) -> String {
    let bytes = serial.to_be_bytes();
    let skip = bytes.iter().take_while(|b| **b == 0).count().min(7);
    hex(&bytes[skip..])
}

pub(crate) fn ts(unix: i64) -> Result<OffsetDateTime, Error> {
    OffsetDateTime::from_unix_timestamp(unix)
        .map_err(|e| Error::Internal(format!("time out of range: {e}")))
}

/// "C=JP, O=JPKI, OU=…" (OpenSSL oneline order, RFC 4514-ish escaping is not needed here).
pub(crate) fn oneline(name: &X509NameRef) -> String {
    name.entries()
        .map(|e| {
            let key = e.object().nid().short_name().unwrap_or("?");
            let value = e.data().to_string().unwrap_or_else(|_| "?".into());
            format!("{key}={value}")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

pub(crate) fn ext_der(oid: &str, critical: bool, value: &[u8]) -> Result<X509Extension, Error> {
    let obj = Asn1Object::from_str(oid)?;
    let value = Asn1OctetString::new_from_bytes(value)?;
    Ok(X509Extension::new_from_der(&obj, critical, &value)?)
}

/// subjectKeyIdentifier extension with the given key id (the rogue root copies a real one).
pub(crate) fn ski_ext(key_id: &[u8]) -> Result<X509Extension, Error> {
    ext_der("2.5.29.14", false, &der::tlv(0x04, key_id))
}

/// authorityKeyIdentifier with keyIdentifier only (JPKI style).
pub(crate) fn aki_ext(key_id: &[u8]) -> Result<X509Extension, Error> {
    ext_der(
        "2.5.29.35",
        false,
        &der::sequence(&[der::context_primitive(0, key_id)]),
    )
}

/// Everything needed to issue one certificate.
pub(crate) struct CertSpec<'a> {
    pub subject: &'a X509NameRef,
    /// The subject's key (its public half goes into the certificate).
    pub subject_key: &'a PKeyRef<Private>,
    /// `None` = self-signed with `subject_key`.
    pub issuer: Option<(&'a X509Ref, &'a PKeyRef<Private>)>,
    pub serial: u64,
    pub not_before: i64,
    pub not_after: i64,
    pub extensions: Vec<X509Extension>,
}

/// Builds a v3 certificate signed with SHA-256 (RSA PKCS#1 v1.5 or ECDSA by key type).
pub(crate) fn issue(spec: CertSpec<'_>) -> Result<X509, Error> {
    let mut b = X509Builder::new()?;
    b.set_version(2)?;
    let serial = BigNum::from_dec_str(&spec.serial.to_string())?.to_asn1_integer()?;
    b.set_serial_number(&serial)?;
    b.set_subject_name(spec.subject)?;
    match spec.issuer {
        Some((cert, _)) => b.set_issuer_name(cert.subject_name())?,
        None => b.set_issuer_name(spec.subject)?,
    }
    b.set_pubkey(spec.subject_key)?;
    let not_before = Asn1Time::from_unix(spec.not_before as _)?;
    let not_after = Asn1Time::from_unix(spec.not_after as _)?;
    b.set_not_before(&not_before)?;
    b.set_not_after(&not_after)?;
    for ext in spec.extensions {
        b.append_extension(ext)?;
    }
    let signer = spec.issuer.map(|(_, k)| k).unwrap_or(spec.subject_key);
    b.sign(signer, MessageDigest::sha256())?;
    let cert = b.build();
    // Re-parse so the value holds exactly the bytes written to disk.
    Ok(X509::from_der(&cert.to_der()?)?)
}

/// Writes a certificate as PEM and DER; returns (pem, der) relative paths.
pub(crate) fn write_cert(
    out: &OutDir,
    stem: &str,
    cert: &X509Ref,
) -> Result<(PathBuf, PathBuf), Error> {
    let pem = out.write(&format!("{stem}.crt.pem"), &cert.to_pem()?, false)?;
    let der = out.write(&format!("{stem}.crt.der"), &cert.to_der()?, false)?;
    Ok((pem, der))
}
