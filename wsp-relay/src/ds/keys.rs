//! The keys of a provider, read from the SAML metadata it registered with (NBR-MD-010): the
//! signing and encryption certificates of its role descriptor (of any type, found by
//! `md:KeyDescriptor`) and whether its `alg:SigningMethod`s include ECDSA-SHA256.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use schemas::ns;
use schemas::xml::parse;

/// `alg:SigningMethod@Algorithm` for ECDSA P-256 with SHA-256.
pub const ECDSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256";

/// What the DS needs of a provider's metadata.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProviderKeys {
    /// DER certificates usable for signing (`use="signing"` or no `use`).
    pub signing: Vec<Vec<u8>>,
    /// DER certificates usable for encryption (`use="encryption"` or no `use`), in order.
    pub encryption: Vec<Vec<u8>>,
    /// The metadata advertises `ecdsa-sha256` among its signing methods.
    pub ecdsa_sha256: bool,
}

/// Reads the keys of `metadata_xml` (an `md:EntityDescriptor`). Unreadable metadata has no keys.
pub fn provider_keys(metadata_xml: &str) -> ProviderKeys {
    let mut out = ProviderKeys::default();
    let Ok(doc) = parse(metadata_xml.as_bytes()) else {
        return out;
    };
    let root = doc.root();
    let mut all = vec![root];
    all.extend(root.descendants());
    for e in all {
        if e.is(ns::MD, "KeyDescriptor") {
            let key_use = e.attr("use").map(str::trim);
            let certs: Vec<Vec<u8>> = e
                .descendants()
                .into_iter()
                .filter(|c| c.is(ns::DS, "X509Certificate"))
                .filter_map(|c| c.text().ok())
                .filter_map(|t| {
                    let b64: String = t.chars().filter(|c| !c.is_ascii_whitespace()).collect();
                    STANDARD.decode(b64).ok()
                })
                .collect();
            if key_use != Some("encryption") {
                out.signing.extend(certs.iter().cloned());
            }
            if key_use != Some("signing") {
                out.encryption.extend(certs);
            }
        } else if e.local_name() == "SigningMethod"
            && e.attr("Algorithm").map(str::trim) == Some(ECDSA_SHA256)
        {
            out.ecdsa_sha256 = true;
        }
    }
    out
}
