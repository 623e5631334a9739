//! CRL import: revocations by (issuer key identifier, serial).
//!
//! A CRL is used only after it is verified against a configured CA certificate: its
//! authorityKeyIdentifier selects the candidate CAs (several JPKI root generations share one DN,
//! and a rogue root can copy both the DN and the key identifier, so neither alone decides), its
//! issuer must equal the CA's subject, the CA's keyUsage (if present) must allow cRLSign, and
//! its signature must verify with the CA's key. Revocations are never undone, so an older CRL
//! imported after a newer one changes nothing. A CRL
//! whose thisUpdate lies in the future is refused; a CRL past its nextUpdate is still imported
//! (its revocations remain true) with a warning.
//!
//! Each entry then marks the certificate (AKI, serial) revoked with the entry's reason and
//! revocation date, in batches like the other imports (scope = the AKI, so each CA's CRLs are
//! separate files). Entries for certificates the relay does not hold count as unchanged.
//! `removeFromCRL` entries (delta CRLs) are ignored; `certificateHold` is recorded as a
//! revocation (JPKI does not use holds).

use std::path::Path;

use openssl::x509::{X509Crl, X509};
use x509_parser::prelude::{FromDer, ParsedExtension};
use x509_parser::revocation_list::CertificateRevocationList;

use super::csvio::InputFile;
use super::runner::{self, ImportKind, ImportOptions, ImportReport, Item, Job, RowOutcome};
use super::{io_err, EnrollError};
use crate::crypto::hex;
use crate::error::StoreError;
use crate::store::persons::{self, StatusChange};
use crate::store::{normalize_serial, now, CertKey, DbConnection, Store};

/// Accepted clock skew for thisUpdate.
const SKEW: i64 = 300;

/// Loads CA certificates (PEM, one or more per file) to verify CRLs against.
pub fn load_trust_anchors(paths: &[impl AsRef<Path>]) -> Result<Vec<X509>, EnrollError> {
    let mut out = Vec::new();
    for path in paths {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(io_err(path))?;
        let certs = X509::stack_from_pem(&bytes).map_err(|e| EnrollError::BadFile {
            path: path.to_path_buf(),
            reason: format!("not a PEM certificate: {e}"),
        })?;
        if certs.is_empty() {
            return Err(EnrollError::BadFile {
                path: path.to_path_buf(),
                reason: "no certificate in the file".into(),
            });
        }
        out.extend(certs);
    }
    Ok(out)
}

pub(crate) struct Entry {
    serial: Vec<u8>,
    revoked_at: i64,
    reason: &'static str,
}

/// RFC 5280 §5.3.1 CRLReason names; `None` for removeFromCRL.
fn reason_name(code: Option<u8>) -> Option<&'static str> {
    Some(match code {
        None | Some(0) => "unspecified",
        Some(1) => "keyCompromise",
        Some(2) => "cACompromise",
        Some(3) => "affiliationChanged",
        Some(4) => "superseded",
        Some(5) => "cessationOfOperation",
        Some(6) => "certificateHold",
        Some(8) => return None,
        Some(9) => "privilegeWithdrawn",
        Some(10) => "aACompromise",
        Some(_) => "unspecified",
    })
}

/// A CA certificate whose keyUsage is present must include cRLSign (RFC 5280 §4.2.1.3).
fn may_sign_crls(ca: &X509) -> Result<bool, EnrollError> {
    let der = ca.to_der().map_err(StoreError::from)?;
    let (_, cert) = x509_parser::certificate::X509Certificate::from_der(&der).map_err(|e| {
        EnrollError::CrlRefused(format!("configured CA certificate unreadable: {e}"))
    })?;
    Ok(match cert.key_usage() {
        Ok(Some(ku)) => ku.value.crl_sign(),
        Ok(None) => true,
        Err(_) => false,
    })
}

/// Parses and verifies a CRL; returns its AKI and entries.
fn verified_entries(
    der: &[u8],
    anchors: &[X509],
    now: i64,
) -> Result<(Vec<u8>, Vec<Item<Entry>>), EnrollError> {
    let refused = |reason: String| EnrollError::CrlRefused(reason);
    let (rest, crl) =
        CertificateRevocationList::from_der(der).map_err(|e| refused(format!("not a CRL: {e}")))?;
    if !rest.is_empty() {
        return Err(refused("trailing bytes after the CRL".into()));
    }
    let aki = crl
        .extensions()
        .iter()
        .find_map(|ext| match ext.parsed_extension() {
            ParsedExtension::AuthorityKeyIdentifier(aki) => {
                aki.key_identifier.as_ref().map(|k| k.0.to_vec())
            }
            _ => None,
        })
        .ok_or_else(|| {
            refused("no authorityKeyIdentifier: cannot tell which CA issued it".into())
        })?;

    let ossl =
        X509Crl::from_der(der).map_err(|e| refused(format!("OpenSSL cannot read it: {e}")))?;
    let issuer_der = ossl.issuer_name().to_der().map_err(StoreError::from)?;
    let mut candidates = 0;
    let mut verified = false;
    for ca in anchors {
        if ca.subject_key_id().map(|k| k.as_slice()) != Some(aki.as_slice()) {
            continue;
        }
        candidates += 1;
        let subject = ca.subject_name().to_der().map_err(StoreError::from)?;
        if subject != issuer_der || !may_sign_crls(ca)? {
            continue;
        }
        let key = ca.public_key().map_err(StoreError::from)?;
        if ossl.verify(&key).unwrap_or(false) {
            verified = true;
            break;
        }
    }
    if candidates == 0 {
        return Err(refused(format!(
            "no configured CA has key identifier {}",
            hex(&aki)
        )));
    }
    if !verified {
        return Err(refused(format!(
            "signature does not verify with the configured CA whose key identifier is {} (wrong or rogue issuer)",
            hex(&aki)
        )));
    }

    let this_update = crl.last_update().timestamp();
    if this_update > now + SKEW {
        return Err(refused("thisUpdate is in the future".into()));
    }
    if let Some(next) = crl.next_update() {
        if next.timestamp() < now {
            tracing::warn!(ca = %hex(&aki), "CRL is past its nextUpdate; importing its revocations anyway");
        }
    }

    let mut items = Vec::new();
    for (i, entry) in crl.iter_revoked_certificates().enumerate() {
        let row_no = i as u64 + 1;
        let code = entry.reason_code().map(|(_, rc)| rc.0);
        let parsed = match reason_name(code) {
            None => Err("removeFromCRL entry (delta CRLs are not supported)".into()),
            Some(reason) => {
                let serial = normalize_serial(entry.raw_serial());
                if serial.is_empty() || serial.len() > 20 {
                    Err("serial is empty or longer than 20 bytes".into())
                } else {
                    Ok(Entry {
                        serial,
                        revoked_at: entry.revocation_date.timestamp(),
                        reason,
                    })
                }
            }
        };
        items.push(Item {
            row_no,
            line: row_no,
            parsed,
        });
    }
    Ok((aki, items))
}

struct CrlJob {
    aki: Vec<u8>,
}

impl Job for CrlJob {
    type Row = Entry;

    fn kind(&self) -> ImportKind {
        ImportKind::Crl
    }

    fn scope(&self) -> String {
        hex(&self.aki)
    }

    fn apply(
        &self,
        conn: &mut DbConnection,
        rows: &[(u64, &Entry)],
        at: i64,
    ) -> Result<Vec<RowOutcome>, StoreError> {
        let serials: Vec<&[u8]> = rows.iter().map(|(_, e)| e.serial.as_slice()).collect();
        let certs: std::collections::HashMap<CertKey, persons::CertRow> =
            persons::certs_by_serials(conn, &serials)?
                .into_iter()
                .filter(|c| c.ca_key_id == self.aki)
                .map(|c| (c.key(), c))
                .collect();
        let mut outcomes = Vec::with_capacity(rows.len());
        for (_, entry) in rows {
            let key = CertKey {
                ca_key_id: self.aki.clone(),
                serial: entry.serial.clone(),
            };
            outcomes.push(match certs.get(&key) {
                None => RowOutcome::Unchanged,
                Some(cert) => {
                    match persons::revoke(conn, cert, entry.reason, entry.revoked_at, at)? {
                        StatusChange::Changed => RowOutcome::Applied,
                        StatusChange::Unchanged => RowOutcome::Unchanged,
                    }
                }
            });
        }
        Ok(outcomes)
    }
}

/// Verifies a CRL (DER or PEM) against `anchors` and marks its certificates revoked. Nothing
/// changes if the CRL is refused.
pub fn import_crl(
    store: &Store,
    path: &Path,
    anchors: &[X509],
    options: &ImportOptions,
) -> Result<ImportReport, EnrollError> {
    let file = InputFile::read(path)?;
    let der = if file.bytes.starts_with(b"-----BEGIN") {
        X509Crl::from_pem(&file.bytes)
            .and_then(|c| c.to_der())
            .map_err(|e| EnrollError::CrlRefused(format!("not a PEM CRL: {e}")))?
    } else {
        file.bytes.clone()
    };
    let (aki, items) = verified_entries(&der, anchors, now())?;
    tracing::info!(ca = %hex(&aki), entries = items.len(), "CRL verified");
    let job = CrlJob { aki };
    let mut options = options.clone();
    if options.rejects_path.is_none() {
        options.rejects_path = Some(format!("{}.rejects.csv", file.name).into());
    }
    // Items are rebuilt per pass from the verified list (the runner walks them twice).
    let rebuild = || {
        items.iter().map(|i| Item {
            row_no: i.row_no,
            line: i.line,
            parsed: match &i.parsed {
                Ok(e) => Ok(Entry {
                    serial: e.serial.clone(),
                    revoked_at: e.revoked_at,
                    reason: e.reason,
                }),
                Err(r) => Err(r.clone()),
            },
        })
    };
    runner::run(store, &job, &file, rebuild, &options)
}
