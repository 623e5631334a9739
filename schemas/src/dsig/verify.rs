//! Verification. The SignedInfo is canonicalized from the tree, its signature checked, and only
//! then is it parsed again *from the canonical bytes* to learn the references, digests and
//! algorithms; nothing is read from the unverified SignedInfo except what selects its own
//! canonicalization (which is then checked against the verified copy).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use crate::ns::DS;
use crate::xml::c14n::{canonicalize, C14nOptions, EXC_C14N, EXC_C14N_WITH_COMMENTS};
use crate::xml::{parse, Document, Element, Node, XmlError};

use super::{DigestAlgorithm, DsigError, SignatureAlgorithm, TrustedKey, ENVELOPED};

const EC_NS: &str = EXC_C14N;

/// Switches of the verifier. The defaults are the profile; the one switch exists for interop labs.
#[derive(Clone, Copy, Debug, Default)]
pub struct VerifyPolicy {
    /// Accept SHA-1 digests and signatures (off by default).
    pub allow_sha1: bool,
}

/// A verified element: the canonical bytes that were digested, and how.
#[derive(Clone, Debug)]
pub struct VerifiedElement {
    /// The XML ID the signature referenced.
    pub id: String,
    /// Exclusive canonical form of the element, without the enveloped signature: exactly the
    /// bytes the digest covered. Build typed messages from these bytes only.
    pub canonical: Vec<u8>,
    /// Which of the trusted keys verified the signature.
    pub key_index: usize,
    pub signature_algorithm: SignatureAlgorithm,
    pub digest_algorithm: DigestAlgorithm,
}

impl VerifiedElement {
    /// Parses the verified canonical bytes (they are a self-contained document).
    pub fn document(&self) -> Result<Document, XmlError> {
        parse(&self.canonical)
    }
}

struct Transform {
    algorithm: String,
    prefix_list: Option<String>,
}

struct Reference {
    uri: String,
    transforms: Vec<Transform>,
    digest: DigestAlgorithm,
    digest_value: Vec<u8>,
}

struct CheckedSignedInfo {
    algorithm: SignatureAlgorithm,
    references: Vec<Reference>,
    key_index: usize,
}

/// Verifies the enveloped signature of `element` with the trusted `keys`: exactly one
/// `ds:Signature` child, one Reference to `#<element ID>`, enveloped + exclusive c14n.
pub fn verify_enveloped(
    element: Element<'_>,
    keys: &[TrustedKey],
    policy: &VerifyPolicy,
) -> Result<VerifiedElement, DsigError> {
    let id = element.xml_id().ok_or(DsigError::MissingId)?;
    let signatures: Vec<Element<'_>> = element.elements_named(DS, "Signature").collect();
    let signature = match signatures.len() {
        0 => return Err(DsigError::Unsigned),
        1 => signatures[0],
        n => return Err(DsigError::SignatureCount(n)),
    };
    let checked = check_signed_info(signature, keys, policy)?;
    let [reference] = &checked.references[..] else {
        return Err(DsigError::SignedInfoStructure(format!(
            "{} References, exactly one is allowed",
            checked.references.len()
        )));
    };
    let expected = format!("#{id}");
    if reference.uri != expected {
        return Err(DsigError::ReferenceTarget {
            expected: id.to_string(),
            found: reference.uri.clone(),
        });
    }
    let c14n = match &reference.transforms[..] {
        [first, second] if first.algorithm == ENVELOPED => {
            c14n_options(&second.algorithm, second.prefix_list.as_deref())?
        }
        [only] if only.algorithm == ENVELOPED => return Err(DsigError::TransformChain),
        _ => {
            for t in &reference.transforms {
                if t.algorithm != ENVELOPED {
                    c14n_options(&t.algorithm, None)?;
                }
            }
            return Err(DsigError::TransformChain);
        }
    };
    let options = C14nOptions {
        exclude: Some(signature.node_id()),
        ..c14n
    };
    let canonical = canonicalize(element, &options);
    check_digest(reference, &canonical)?;
    Ok(VerifiedElement {
        id: id.to_string(),
        canonical,
        key_index: checked.key_index,
        signature_algorithm: checked.algorithm,
        digest_algorithm: reference.digest,
    })
}

/// Verifies a detached signature over several parts of a message (the SOAP header blocks and
/// Body, by `wsu:Id`), each reference with exclusive c14n only. Every ID in `required` must be
/// covered. The signature may not lie inside any element it covers. Returns the verified parts in
/// the order of `required`.
pub fn verify_references(
    signature: Element<'_>,
    keys: &[TrustedKey],
    policy: &VerifyPolicy,
    required: &[&str],
) -> Result<Vec<VerifiedElement>, DsigError> {
    let doc = signature.document();
    let checked = check_signed_info(signature, keys, policy)?;
    let mut verified = Vec::with_capacity(checked.references.len());
    for reference in &checked.references {
        let id = reference
            .uri
            .strip_prefix('#')
            .filter(|id| !id.is_empty())
            .ok_or_else(|| DsigError::ReferenceTarget {
                expected: "#<id>".into(),
                found: reference.uri.clone(),
            })?;
        let target = doc
            .element_by_id(id)
            .ok_or_else(|| DsigError::UnresolvedReference(id.to_string()))?;
        if signature.is_within(&target) {
            return Err(DsigError::ForbiddenTransform(
                "a detached reference covers its own signature".into(),
            ));
        }
        if verified.iter().any(|v: &VerifiedElement| v.id == id) {
            return Err(DsigError::UnresolvedReference(id.to_string()));
        }
        let [transform] = &reference.transforms[..] else {
            return Err(DsigError::TransformChain);
        };
        let options = c14n_options(&transform.algorithm, transform.prefix_list.as_deref())?;
        let canonical = canonicalize(target, &options);
        check_digest(reference, &canonical)?;
        verified.push(VerifiedElement {
            id: id.to_string(),
            canonical,
            key_index: checked.key_index,
            signature_algorithm: checked.algorithm,
            digest_algorithm: reference.digest,
        });
    }
    let mut out = Vec::with_capacity(required.len());
    for id in required {
        let pos = verified
            .iter()
            .position(|v| v.id == *id)
            .ok_or_else(|| DsigError::NotCovered(id.to_string()))?;
        out.push(verified.swap_remove(pos));
    }
    out.extend(verified);
    Ok(out)
}

fn c14n_options<'a>(
    algorithm: &str,
    prefix_list: Option<&'a str>,
) -> Result<C14nOptions<'a>, DsigError> {
    let with_comments = match algorithm {
        EXC_C14N => false,
        EXC_C14N_WITH_COMMENTS => true,
        ENVELOPED => return Err(DsigError::TransformChain),
        other => return Err(DsigError::ForbiddenTransform(other.to_string())),
    };
    let options = C14nOptions {
        with_comments,
        ..Default::default()
    };
    Ok(match prefix_list {
        Some(list) => options.with_prefix_list(list),
        None => options,
    })
}

fn check_digest(reference: &Reference, canonical: &[u8]) -> Result<(), DsigError> {
    let digest = reference.digest.hash(canonical)?;
    if digest.len() == reference.digest_value.len()
        && openssl::memcmp::eq(&digest, &reference.digest_value)
    {
        Ok(())
    } else {
        Err(DsigError::DigestMismatch)
    }
}

/// Child elements of a signature structure, refusing any non-whitespace text, comment or PI.
fn structural_children<'a>(e: Element<'a>, what: &str) -> Result<Vec<Element<'a>>, DsigError> {
    let mut out = Vec::new();
    for child in e.children() {
        match child {
            Node::Element(c) => out.push(c),
            Node::Text(t) if t.chars().all(|c| c.is_ascii_whitespace()) => {}
            _ => {
                return Err(DsigError::SignatureStructure(format!(
                    "unexpected content in {what}"
                )))
            }
        }
    }
    Ok(out)
}

fn base64_text(e: Element<'_>, what: &'static str) -> Result<Vec<u8>, DsigError> {
    let text = e.text().map_err(|_| DsigError::Base64(what))?;
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    STANDARD
        .decode(compact)
        .map_err(|_| DsigError::Base64(what))
}

fn only_ds<'a>(children: &[Element<'a>], what: &str) -> Result<(), DsigError> {
    if let Some(e) = children.iter().find(|e| e.namespace() != Some(DS)) {
        return Err(DsigError::SignatureStructure(format!(
            "foreign element {} in {what}",
            e.qualified_name()
        )));
    }
    Ok(())
}

fn check_signed_info(
    signature: Element<'_>,
    keys: &[TrustedKey],
    policy: &VerifyPolicy,
) -> Result<CheckedSignedInfo, DsigError> {
    if keys.is_empty() {
        return Err(DsigError::NoTrustedKeys);
    }
    let children = structural_children(signature, "Signature")?;
    only_ds(&children, "Signature")?;
    let names: Vec<&str> = children.iter().map(|e| e.local_name()).collect();
    let (signed_info, signature_value) = match names[..] {
        ["SignedInfo", "SignatureValue"] | ["SignedInfo", "SignatureValue", "KeyInfo"] => {
            (children[0], children[1])
        }
        _ => return Err(DsigError::SignatureStructure(names.join(", "))),
    };

    // Canonicalize SignedInfo as its CanonicalizationMethod says, then verify those bytes.
    let method = signed_info
        .first(DS, "CanonicalizationMethod")
        .ok_or_else(|| DsigError::SignedInfoStructure("no CanonicalizationMethod".into()))?;
    let c14n_uri = method.attr("Algorithm").unwrap_or_default();
    let prefix_list = inclusive_prefix_list(method)?;
    let options = c14n_options(c14n_uri, prefix_list)?;
    let canonical = canonicalize(signed_info, &options);
    let verified_si = parse(&canonical)?;
    let si = verified_si.root();

    let si_children = structural_children(si, "SignedInfo")?;
    only_ds(&si_children, "SignedInfo")?;
    let si_names: Vec<&str> = si_children.iter().map(|e| e.local_name()).collect();
    if si_names.len() < 3
        || si_names[0] != "CanonicalizationMethod"
        || si_names[1] != "SignatureMethod"
        || si_names[2..].iter().any(|n| *n != "Reference")
    {
        return Err(DsigError::SignedInfoStructure(si_names.join(", ")));
    }
    let verified_c14n = si_children[0].attr("Algorithm").unwrap_or_default();
    if verified_c14n != c14n_uri || inclusive_prefix_list(si_children[0])? != prefix_list {
        return Err(DsigError::SignedInfoStructure(
            "canonicalization changed under the signature".into(),
        ));
    }
    let sig_method = si_children[1];
    if !structural_children(sig_method, "SignatureMethod")?.is_empty() {
        // HMACOutputLength and any other parameter have no place in the profile.
        return Err(DsigError::SignedInfoStructure(
            "SignatureMethod takes no parameters".into(),
        ));
    }
    let algorithm = SignatureAlgorithm::from_uri(
        sig_method.attr("Algorithm").unwrap_or_default(),
        policy.allow_sha1,
    )?;
    let references = si_children[2..]
        .iter()
        .map(|r| parse_reference(*r, policy))
        .collect::<Result<Vec<_>, _>>()?;

    let value = base64_text(signature_value, "SignatureValue")?;
    let key_index = keys
        .iter()
        .position(|k| k.verify(algorithm, &canonical, &value).unwrap_or(false))
        .ok_or(DsigError::BadSignature)?;
    Ok(CheckedSignedInfo {
        algorithm,
        references,
        key_index,
    })
}

/// The PrefixList of an `ec:InclusiveNamespaces` child, refusing any other child.
fn inclusive_prefix_list(method: Element<'_>) -> Result<Option<&str>, DsigError> {
    let children = structural_children(method, "transform")?;
    match &children[..] {
        [] => Ok(None),
        [inc] if inc.is(EC_NS, "InclusiveNamespaces") => {
            Ok(Some(inc.attr("PrefixList").unwrap_or("")))
        }
        _ => Err(DsigError::SignedInfoStructure(
            "transform parameters other than InclusiveNamespaces".into(),
        )),
    }
}

fn parse_reference(r: Element<'_>, policy: &VerifyPolicy) -> Result<Reference, DsigError> {
    if r.attr("Type").is_some_and(|t| !t.is_empty()) {
        return Err(DsigError::SignedInfoStructure(
            "Reference Type is not allowed".into(),
        ));
    }
    let uri = r
        .attr("URI")
        .ok_or_else(|| DsigError::SignedInfoStructure("Reference without URI".into()))?
        .to_string();
    let children = structural_children(r, "Reference")?;
    only_ds(&children, "Reference")?;
    let (transforms_el, digest_method, digest_value) = match &children[..] {
        [t, m, v] if t.local_name() == "Transforms" => (Some(*t), *m, *v),
        [m, v] => (None, *m, *v),
        _ => return Err(DsigError::SignedInfoStructure("Reference content".into())),
    };
    if digest_method.local_name() != "DigestMethod" || digest_value.local_name() != "DigestValue" {
        return Err(DsigError::SignedInfoStructure("Reference content".into()));
    }
    let mut transforms = Vec::new();
    if let Some(t) = transforms_el {
        let list = structural_children(t, "Transforms")?;
        only_ds(&list, "Transforms")?;
        for tr in list {
            if tr.local_name() != "Transform" {
                return Err(DsigError::SignedInfoStructure("Transforms content".into()));
            }
            let algorithm = tr.attr("Algorithm").unwrap_or_default().to_string();
            if algorithm != ENVELOPED
                && algorithm != EXC_C14N
                && algorithm != EXC_C14N_WITH_COMMENTS
            {
                return Err(DsigError::ForbiddenTransform(algorithm));
            }
            let prefix_list = inclusive_prefix_list(tr)?.map(str::to_string);
            if algorithm == ENVELOPED && prefix_list.is_some() {
                return Err(DsigError::TransformChain);
            }
            transforms.push(Transform {
                algorithm,
                prefix_list,
            });
        }
    }
    if !structural_children(digest_method, "DigestMethod")?.is_empty() {
        return Err(DsigError::SignedInfoStructure(
            "DigestMethod takes no parameters".into(),
        ));
    }
    let digest = DigestAlgorithm::from_uri(
        digest_method.attr("Algorithm").unwrap_or_default(),
        policy.allow_sha1,
    )?;
    let digest_value = base64_text(digest_value, "DigestValue")?;
    Ok(Reference {
        uri,
        transforms,
        digest,
        digest_value,
    })
}
