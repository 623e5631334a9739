//! The federation's authentication context classes, their order, and the selection rule for a
//! `RequestedAuthnContext` (SAML core §3.3.2.2.1).
//!
//! Order (weakest first):
//!
//! | level | class | how the resident was authenticated |
//! |---|---|---|
//! | 1 | `urn:nabari:ac:jpki:pinless-attested` | the user-authentication certificate read without a PIN at a clinic reception terminal, a staff member attesting the face check (flow B; eligibility only) |
//! | 2 | `urn:nabari:ac:jpki:user-authentication:pin` | the card's user-authentication key signed the IdP challenge after the 4-digit PIN |
//! | 2 | `urn:nabari:ac:jpki:signature` | the card's signature key signed the challenge after the signature PIN |
//!
//! **Choice:** the two PIN-based classes stand at the same level. Both prove possession of the
//! card's private key *and* knowledge of a PIN, checked by the card itself, with a certificate
//! validated to a JPKI root with revocation; the signature certificate's longer PIN and legal
//! weight (it signs documents) add nothing to the strength of an *authentication*, and ranking
//! it higher would let an SP that asks `minimum signature` refuse residents who only know their
//! 4-digit PIN for no gain in assurance. An SP that needs one of them specifically asks `exact`.
//!
//! Classes outside the table have no level: they match only under `exact`.

use crate::saml::{AuthnContextComparison, RequestedAuthnContext, RequestedAuthnContextRefs};

/// The federation's class URIs.
pub mod classes {
    /// PIN-less read of the user-authentication certificate, face check attested by staff.
    pub const JPKI_PINLESS_ATTESTED: &str = "urn:nabari:ac:jpki:pinless-attested";
    /// Challenge signed with the card's signature key (signature PIN).
    pub const JPKI_SIGNATURE: &str = "urn:nabari:ac:jpki:signature";
    /// Challenge signed with the card's user-authentication key (4-digit PIN).
    pub const JPKI_USER_AUTHENTICATION_PIN: &str = "urn:nabari:ac:jpki:user-authentication:pin";
}

/// Every federation class, weakest first (the two PIN classes share a level).
pub const FEDERATION_CLASSES: [&str; 3] = [
    classes::JPKI_PINLESS_ATTESTED,
    classes::JPKI_USER_AUTHENTICATION_PIN,
    classes::JPKI_SIGNATURE,
];

/// The strength of a federation class; `None` for a class outside the federation's order.
pub fn authn_context_level(class: &str) -> Option<u8> {
    match class {
        classes::JPKI_PINLESS_ATTESTED => Some(1),
        classes::JPKI_USER_AUTHENTICATION_PIN | classes::JPKI_SIGNATURE => Some(2),
        _ => None,
    }
}

/// The classes of `available` (what the IdP can assert for this login) that satisfy the request,
/// best first:
///
/// * no request: every available class, in the IdP's order;
/// * `exact`: the requested classes that are available, in the order the SP listed them (its
///   order of preference, SAML core §3.3.2.2.1);
/// * `minimum`: classes at least as strong as one requested class (level ≥ the lowest requested
///   level), strongest first;
/// * `better`: classes stronger than every requested class (level > the highest requested level:
///   "stronger than any one of" read as "than each of"), strongest first;
/// * `maximum`: classes not stronger than the strongest requested class, strongest first ("as
///   strong as possible without exceeding").
///
/// Ties keep the order of `available`. Declaration references (`AuthnContextDeclRef`) are not
/// supported by the federation: nothing satisfies them. Under the three ordered comparisons,
/// requested classes outside the federation's order are ignored; if none is left, nothing
/// satisfies the request.
pub fn acceptable_authn_contexts<'a>(
    requested: Option<&RequestedAuthnContext>,
    available: &[&'a str],
) -> Vec<&'a str> {
    let Some(requested) = requested else {
        // No request: every class is acceptable, strongest first, so that the preferred class is
        // never the PIN-less level by accident (ties keep the order of `available`).
        let mut all = available.to_vec();
        all.sort_by_key(|a| std::cmp::Reverse(authn_context_level(a).unwrap_or(0)));
        return all;
    };
    let RequestedAuthnContextRefs::Class(refs) = &requested.refs else {
        return Vec::new();
    };
    if requested.comparison == AuthnContextComparison::Exact {
        return refs
            .iter()
            .filter_map(|r| available.iter().find(|a| **a == r.as_str()).copied())
            .fold(Vec::new(), |mut acc, a| {
                if !acc.contains(&a) {
                    acc.push(a);
                }
                acc
            });
    }
    let levels: Vec<u8> = refs.iter().filter_map(|r| authn_context_level(r)).collect();
    let (Some(&lowest), Some(&highest)) = (levels.iter().min(), levels.iter().max()) else {
        return Vec::new();
    };
    let fits = |level: u8| match requested.comparison {
        AuthnContextComparison::Minimum => level >= lowest,
        AuthnContextComparison::Better => level > highest,
        AuthnContextComparison::Maximum => level <= highest,
        AuthnContextComparison::Exact => unreachable!("handled above"),
    };
    let mut out: Vec<(u8, usize, &'a str)> = available
        .iter()
        .enumerate()
        .filter_map(|(i, a)| authn_context_level(a).map(|l| (l, i, *a)))
        .filter(|(l, _, _)| fits(*l))
        .collect();
    // Strongest first; ties in the IdP's order.
    out.sort_by(|x, y| y.0.cmp(&x.0).then(x.1.cmp(&y.1)));
    out.into_iter().map(|(_, _, a)| a).collect()
}

/// The class the IdP asserts: the first of [`acceptable_authn_contexts`], or `None` when the
/// request cannot be met (answer `NoAuthnContext`).
pub fn select_authn_context<'a>(
    requested: Option<&RequestedAuthnContext>,
    available: &[&'a str],
) -> Option<&'a str> {
    acceptable_authn_contexts(requested, available)
        .into_iter()
        .next()
}
