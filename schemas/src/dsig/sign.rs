//! Signing. The element is canonicalized from a parse of the document, the SignedInfo is written
//! directly in canonical form (so no second canonicalization is needed), signed by the `Signer`,
//! and the `ds:Signature` is spliced into the document text at the profile's place.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use crate::ns::{DS, SAML};
use crate::xml::c14n::{canonicalize, escape_attr, C14nOptions, EXC_C14N};
use crate::xml::{parse_with, Element, ParseLimits};

use super::{DigestAlgorithm, DsigError, Signer, ENVELOPED};

/// Choices of the signer.
#[derive(Clone, Debug)]
pub struct SignOptions {
    pub digest: DigestAlgorithm,
    /// Put the signer's certificate in `KeyInfo` as a hint for the peer.
    pub include_certificate: bool,
    /// An InclusiveNamespaces PrefixList for the reference transform. The default lists `xs`, so
    /// that `xsi:type="xs:string"` values keep their binding through exclusive c14n (which drops
    /// bindings used only inside attribute values); a prefix not in scope changes nothing.
    pub inclusive_prefixes: Option<String>,
    /// Limits for parsing the document to sign (our own output can be larger than a request).
    pub limits: ParseLimits,
}

impl Default for SignOptions {
    fn default() -> Self {
        SignOptions {
            digest: DigestAlgorithm::Sha256,
            include_certificate: true,
            inclusive_prefixes: Some("xs".to_string()),
            limits: ParseLimits {
                max_bytes: 16 * 1024 * 1024,
                ..ParseLimits::default()
            },
        }
    }
}

/// Signs the element with XML ID `id` in `xml` with an enveloped signature and returns the new
/// document text. The `ds:Signature` goes right after a leading `saml:Issuer`, else first.
pub fn sign_enveloped(
    xml: &str,
    id: &str,
    signer: &dyn Signer,
    options: &SignOptions,
) -> Result<String, DsigError> {
    let doc = parse_with(xml.as_bytes(), &options.limits)?;
    let element = doc
        .element_by_id(id)
        .ok_or_else(|| DsigError::UnresolvedReference(id.to_string()))?;
    if element.first(DS, "Signature").is_some() {
        return Err(DsigError::SignatureCount(1));
    }
    let c14n = C14nOptions::default();
    let c14n = match &options.inclusive_prefixes {
        Some(list) => c14n.with_prefix_list(list),
        None => c14n,
    };
    let digest = options.digest.hash(&canonicalize(element, &c14n))?;
    let reference = Ref {
        id,
        digest: &digest,
        enveloped: true,
    };
    let signature = signature_xml(&[reference], signer, options)?;
    let at = insertion_point(element)?;
    let mut out = String::with_capacity(xml.len() + signature.len());
    out.push_str(&xml[..at]);
    out.push_str(&signature);
    out.push_str(&xml[at..]);
    Ok(out)
}

/// Signs the elements with the given XML IDs (SOAP header blocks and Body) with one detached
/// signature appended as the last child of the first element named `container` (`wsse:Security`).
pub fn sign_references(
    xml: &str,
    container: (&str, &str),
    ids: &[&str],
    signer: &dyn Signer,
    options: &SignOptions,
) -> Result<String, DsigError> {
    let doc = parse_with(xml.as_bytes(), &options.limits)?;
    let root = doc.root();
    let holder = std::iter::once(root)
        .chain(root.descendants())
        .find(|e| e.is(container.0, container.1))
        .ok_or_else(|| DsigError::UnresolvedReference(container.1.to_string()))?;
    let c14n = C14nOptions::default();
    let c14n = match &options.inclusive_prefixes {
        Some(list) => c14n.with_prefix_list(list),
        None => c14n,
    };
    let mut digests = Vec::with_capacity(ids.len());
    for id in ids {
        let target = doc
            .element_by_id(id)
            .ok_or_else(|| DsigError::UnresolvedReference(id.to_string()))?;
        if holder.is_within(&target) {
            return Err(DsigError::ForbiddenTransform(
                "a detached reference would cover its own signature".into(),
            ));
        }
        digests.push(options.digest.hash(&canonicalize(target, &c14n))?);
    }
    let refs: Vec<Ref<'_>> = ids
        .iter()
        .zip(&digests)
        .map(|(id, digest)| Ref {
            id,
            digest,
            enveloped: false,
        })
        .collect();
    let signature = signature_xml(&refs, signer, options)?;
    let end_tag = end_tag_start(holder)?;
    let mut out = String::with_capacity(xml.len() + signature.len());
    out.push_str(&xml[..end_tag]);
    out.push_str(&signature);
    out.push_str(&xml[end_tag..]);
    Ok(out)
}

struct Ref<'a> {
    id: &'a str,
    digest: &'a [u8],
    enveloped: bool,
}

/// The `ds:Signature` element. SignedInfo is written in exclusive canonical form with its own
/// `xmlns:ds`, which is exactly what a verifier's canonicalization of it produces.
fn signature_xml(
    refs: &[Ref<'_>],
    signer: &dyn Signer,
    options: &SignOptions,
) -> Result<String, DsigError> {
    let alg = signer.algorithm();
    let mut si = String::with_capacity(600 * refs.len());
    si.push_str("<ds:SignedInfo xmlns:ds=\"");
    si.push_str(DS);
    si.push_str("\"><ds:CanonicalizationMethod Algorithm=\"");
    si.push_str(EXC_C14N);
    si.push_str("\"></ds:CanonicalizationMethod><ds:SignatureMethod Algorithm=\"");
    si.push_str(alg.uri());
    si.push_str("\"></ds:SignatureMethod>");
    for r in refs {
        si.push_str("<ds:Reference URI=\"#");
        escape_attr(&mut si, r.id);
        si.push_str("\"><ds:Transforms>");
        if r.enveloped {
            si.push_str("<ds:Transform Algorithm=\"");
            si.push_str(ENVELOPED);
            si.push_str("\"></ds:Transform>");
        }
        si.push_str("<ds:Transform Algorithm=\"");
        si.push_str(EXC_C14N);
        match &options.inclusive_prefixes {
            Some(list) => {
                si.push_str("\"><ec:InclusiveNamespaces xmlns:ec=\"");
                si.push_str(EXC_C14N);
                si.push_str("\" PrefixList=\"");
                escape_attr(&mut si, list);
                si.push_str("\"></ec:InclusiveNamespaces></ds:Transform>");
            }
            None => si.push_str("\"></ds:Transform>"),
        }
        si.push_str("</ds:Transforms><ds:DigestMethod Algorithm=\"");
        si.push_str(options.digest.uri());
        si.push_str("\"></ds:DigestMethod><ds:DigestValue>");
        si.push_str(&STANDARD.encode(r.digest));
        si.push_str("</ds:DigestValue></ds:Reference>");
    }
    si.push_str("</ds:SignedInfo>");
    let value = signer.sign(si.as_bytes())?;

    let mut out = String::with_capacity(si.len() + 2048);
    out.push_str("<ds:Signature xmlns:ds=\"");
    out.push_str(DS);
    out.push_str("\">");
    out.push_str(&si);
    out.push_str("<ds:SignatureValue>");
    out.push_str(&STANDARD.encode(value));
    out.push_str("</ds:SignatureValue>");
    if let (true, Some(cert)) = (options.include_certificate, signer.certificate_der()) {
        out.push_str("<ds:KeyInfo><ds:X509Data><ds:X509Certificate>");
        out.push_str(&STANDARD.encode(cert));
        out.push_str("</ds:X509Certificate></ds:X509Data></ds:KeyInfo>");
    }
    out.push_str("</ds:Signature>");
    Ok(out)
}

/// Where the Signature of `element` goes: after a first-child `saml:Issuer`, else first.
fn insertion_point(element: Element<'_>) -> Result<usize, DsigError> {
    if element.source_range().end == element.content_start() {
        return Err(DsigError::SignatureStructure(
            "cannot sign an element written as an empty tag".into(),
        ));
    }
    match element.elements().next() {
        Some(first) if first.is(SAML, "Issuer") => Ok(first.source_range().end),
        _ => Ok(element.content_start()),
    }
}

fn end_tag_start(element: Element<'_>) -> Result<usize, DsigError> {
    let range = element.source_range();
    if range.end == element.content_start() {
        return Err(DsigError::SignatureStructure(
            "signature container is an empty tag".into(),
        ));
    }
    element
        .source_text()
        .rfind("</")
        .map(|i| range.start + i)
        .ok_or_else(|| DsigError::SignatureStructure("no end tag".into()))
}
