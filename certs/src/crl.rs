//! Building X.509 v2 CRLs.
//!
//! Choice of method: `openssl` 0.10.82 (the workspace floor) ships `X509CrlBuilder` and
//! `X509RevokedBuilder`, so the CRL itself is built with the safe API — no `openssl ca -gencrl`
//! (which would need an `index.txt` database, an openssl.cnf, a process per CA and text parsing)
//! and no hand-declared `extern` block. The one thing the safe API lacks is an extension on a
//! revoked entry, and JPKI CRLs carry a `reasonCode` on each entry (keyCompromise,
//! affiliationChanged, superseded…). That single call, `X509_REVOKED_add_ext`, is already declared
//! by `openssl-sys` (which links libcrypto) and is wrapped in [`add_entry_extension`] below.
//! Extension values (authorityKeyIdentifier, cRLNumber, reasonCode) are DER-encoded by
//! [`crate::der`] and wrapped with the safe `X509Extension::new_from_der`.

use openssl::asn1::{Asn1Object, Asn1OctetString, Asn1Time};
use openssl::bn::BigNum;
use openssl::error::ErrorStack;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKeyRef, Private};
use openssl::x509::{
    X509Crl, X509CrlBuilder, X509Extension, X509NameRef, X509Revoked, X509RevokedBuilder,
};

use crate::der;

/// One revoked certificate.
pub struct RevokedEntry {
    pub serial: u64,
    /// Unix time of revocation.
    pub revoked_at: i64,
    /// CRLReason code (RFC 5280 §5.3.1): 1 keyCompromise, 3 affiliationChanged, 4 superseded…
    pub reason: u8,
}

/// What goes into one CRL.
pub struct CrlSpec<'a> {
    pub issuer: &'a X509NameRef,
    /// Issuer's subject key identifier, written as the CRL's authorityKeyIdentifier keyid: with
    /// several CA generations under one DN this is how a verifier picks the right CRL.
    pub issuer_key_id: &'a [u8],
    pub issuer_key: &'a PKeyRef<Private>,
    pub this_update: i64,
    pub next_update: i64,
    pub crl_number: u64,
    pub entries: &'a [RevokedEntry],
}

fn extension(oid: &str, critical: bool, value_der: &[u8]) -> Result<X509Extension, ErrorStack> {
    let obj = Asn1Object::from_str(oid)?;
    let value = Asn1OctetString::new_from_bytes(value_der)?;
    X509Extension::new_from_der(&obj, critical, &value)
}

/// Appends an extension to a revoked entry (the safe API has no setter for entry extensions).
fn add_entry_extension(revoked: &X509Revoked, ext: &X509Extension) -> Result<(), ErrorStack> {
    use foreign_types::ForeignType;
    // SAFETY: both pointers come from live owned values that outlive the call;
    // X509_REVOKED_add_ext (X509v3_add_ext) stores a *copy* of the extension, so ownership of
    // `ext` stays with us and it is freed normally on drop. Returns 1 on success, 0 on error.
    let rc = unsafe { openssl_sys::X509_REVOKED_add_ext(revoked.as_ptr(), ext.as_ptr(), -1) };
    if rc == 1 {
        Ok(())
    } else {
        Err(ErrorStack::get())
    }
}

/// Builds and signs (sha256WithRSAEncryption) a v2 CRL with AKI (keyid) and cRLNumber, each
/// entry carrying a reasonCode.
pub fn build_crl(spec: &CrlSpec<'_>) -> Result<X509Crl, ErrorStack> {
    let mut builder = X509CrlBuilder::new()?; // sets version v2
    builder.set_issuer_name(spec.issuer)?;
    let this_update = Asn1Time::from_unix(spec.this_update as _)?;
    let next_update = Asn1Time::from_unix(spec.next_update as _)?;
    builder.set_last_update(&this_update)?;
    builder.set_next_update(&next_update)?;
    for entry in spec.entries {
        let mut rev = X509RevokedBuilder::new()?;
        let serial = BigNum::from_dec_str(&entry.serial.to_string())?.to_asn1_integer()?;
        let revoked_at = Asn1Time::from_unix(entry.revoked_at as _)?;
        rev.set_serial_number(&serial)?;
        rev.set_revocation_date(&revoked_at)?;
        let rev = rev.build();
        // reasonCode ::= ENUMERATED (RFC 5280 §5.3.1), never critical.
        let reason = extension(
            "2.5.29.21",
            false,
            &der::enumerated(u64::from(entry.reason)),
        )?;
        add_entry_extension(&rev, &reason)?;
        builder.add_revoked(rev)?;
    }
    // authorityKeyIdentifier ::= SEQUENCE { keyIdentifier [0] IMPLICIT OCTET STRING }
    let aki = der::sequence(&[der::context_primitive(0, spec.issuer_key_id)]);
    builder.append_extension(extension("2.5.29.35", false, &aki)?)?;
    builder.append_extension(extension(
        "2.5.29.20",
        false,
        &der::integer(spec.crl_number),
    )?)?;
    builder.sort()?; // entries in serial order, as `openssl ca -gencrl` writes them
    builder.sign(spec.issuer_key, MessageDigest::sha256())?;
    let crl = builder.build()?;
    // Round-trip through DER so the returned value holds exactly the bytes written to disk.
    X509Crl::from_der(&crl.to_der()?)
}
