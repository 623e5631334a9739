//! Deny by default; allow with a rule; the minimum AuthnContext class.

use schemas::idwsf::service_type::{ELIGIBILITY_CHECK, PENSION};
use wsp_relay::authn_context::{PINLESS_ATTESTED, SIGNATURE, USER_AUTHENTICATION_PIN};
use wsp_relay::{Decision, DenyReason, NewRule, StoreError};

use crate::both_backends;
use crate::common::TestDb;

both_backends!(
    deny_by_default_allow_by_rule,
    minimum_authn_context_is_enforced,
    rules_are_validated
);

const PORTAL: &str = "https://portal.nabari.test/sp";
const CLINIC: &str = "https://clinic.nabari.test/sp";

fn rule(
    requester: &str,
    purpose: &str,
    service_type: &str,
    data_class: &str,
    min: &str,
    allow: bool,
) -> NewRule {
    NewRule {
        requester: requester.into(),
        purpose: purpose.into(),
        service_type: service_type.into(),
        data_class: data_class.into(),
        min_authn_context: min.into(),
        allow,
        note: Some("年金記録の閲覧 𠮷".into()),
    }
}

fn deny_by_default_allow_by_rule(db: &TestDb) {
    let store = db.store();
    let d = store
        .decide(
            PORTAL,
            "dashboard",
            PENSION,
            "pension-record",
            USER_AUTHENTICATION_PIN,
        )
        .expect("decide");
    assert_eq!(d, Decision::Deny(DenyReason::NoRule));
    let r = store
        .add_policy_rule(&rule(
            PORTAL,
            "dashboard",
            PENSION,
            "pension-record",
            USER_AUTHENTICATION_PIN,
            true,
        ))
        .expect("add");
    let d = store
        .decide(
            PORTAL,
            "dashboard",
            PENSION,
            "pension-record",
            USER_AUTHENTICATION_PIN,
        )
        .expect("decide");
    assert_eq!(d, Decision::Allow { rule: r.id.clone() });
    // Exact match on all four fields: any other one is still denied.
    for (req, purpose, st, dc) in [
        (CLINIC, "dashboard", PENSION, "pension-record"),
        (PORTAL, "research", PENSION, "pension-record"),
        (PORTAL, "dashboard", ELIGIBILITY_CHECK, "pension-record"),
        (PORTAL, "dashboard", PENSION, "pension-payments"),
    ] {
        let d = store
            .decide(req, purpose, st, dc, USER_AUTHENTICATION_PIN)
            .expect("decide");
        assert_eq!(
            d,
            Decision::Deny(DenyReason::NoRule),
            "{req} {purpose} {st} {dc}"
        );
    }
    // An explicit deny rule.
    let deny = store
        .add_policy_rule(&rule(
            CLINIC,
            "eligibility",
            PENSION,
            "pension-record",
            PINLESS_ATTESTED,
            false,
        ))
        .expect("add");
    let d = store
        .decide(CLINIC, "eligibility", PENSION, "pension-record", SIGNATURE)
        .expect("decide");
    assert_eq!(
        d,
        Decision::Deny(DenyReason::RuleDenies {
            rule: deny.id.clone()
        })
    );
    // Listing and deleting.
    let rules = store.policy_rules().expect("list");
    assert_eq!(rules.len(), 2);
    assert!(rules
        .iter()
        .any(|x| x.note.as_deref() == Some("年金記録の閲覧 𠮷")));
    store.delete_policy_rule(&r.id).expect("delete");
    let d = store
        .decide(
            PORTAL,
            "dashboard",
            PENSION,
            "pension-record",
            USER_AUTHENTICATION_PIN,
        )
        .expect("decide");
    assert_eq!(d, Decision::Deny(DenyReason::NoRule));
    assert!(matches!(
        store.delete_policy_rule(&r.id),
        Err(StoreError::NotFound(_))
    ));
}

fn minimum_authn_context_is_enforced(db: &TestDb) {
    let store = db.store();
    // The clinic may use the PIN-less level for the eligibility check only.
    let elig = store
        .add_policy_rule(&rule(
            CLINIC,
            "eligibility",
            ELIGIBILITY_CHECK,
            "eligibility",
            PINLESS_ATTESTED,
            true,
        ))
        .expect("add");
    let pension = store
        .add_policy_rule(&rule(
            PORTAL,
            "dashboard",
            PENSION,
            "pension-record",
            SIGNATURE,
            true,
        ))
        .expect("add");
    for class in [PINLESS_ATTESTED, SIGNATURE, USER_AUTHENTICATION_PIN] {
        let d = store
            .decide(
                CLINIC,
                "eligibility",
                ELIGIBILITY_CHECK,
                "eligibility",
                class,
            )
            .expect("decide");
        assert_eq!(
            d,
            Decision::Allow {
                rule: elig.id.clone()
            },
            "{class}"
        );
    }
    // signature ≈ user-authentication:pin; pin-less is below both.
    for class in [SIGNATURE, USER_AUTHENTICATION_PIN] {
        let d = store
            .decide(PORTAL, "dashboard", PENSION, "pension-record", class)
            .expect("decide");
        assert!(d.is_allow(), "{class}");
    }
    let d = store
        .decide(
            PORTAL,
            "dashboard",
            PENSION,
            "pension-record",
            PINLESS_ATTESTED,
        )
        .expect("decide");
    assert_eq!(
        d,
        Decision::Deny(DenyReason::AuthnContextTooWeak {
            rule: pension.id.clone(),
            required: SIGNATURE.into(),
            presented: PINLESS_ATTESTED.into(),
        })
    );
    // A class the federation does not define satisfies nothing.
    let d = store
        .decide(
            CLINIC,
            "eligibility",
            ELIGIBILITY_CHECK,
            "eligibility",
            "urn:oasis:names:tc:SAML:2.0:ac:classes:Password",
        )
        .expect("decide");
    assert_eq!(
        d.clone(),
        Decision::Deny(DenyReason::UnknownAuthnContext {
            presented: "urn:oasis:names:tc:SAML:2.0:ac:classes:Password".into()
        })
    );
    if let Decision::Deny(reason) = d {
        assert_eq!(reason.code(), "unknown-authn-context");
    }
}

fn rules_are_validated(db: &TestDb) {
    let store = db.store();
    let bad = store.add_policy_rule(&rule(
        PORTAL,
        "dashboard",
        PENSION,
        "x",
        "urn:nabari:ac:password",
        true,
    ));
    assert!(matches!(bad, Err(StoreError::Invalid { .. })), "{bad:?}");
    let empty = store.add_policy_rule(&rule(PORTAL, " ", PENSION, "x", SIGNATURE, true));
    assert!(
        matches!(empty, Err(StoreError::Invalid { .. })),
        "{empty:?}"
    );
    store
        .add_policy_rule(&rule(PORTAL, "dashboard", PENSION, "x", SIGNATURE, true))
        .expect("add");
    let dup = store.add_policy_rule(&rule(
        PORTAL,
        "dashboard",
        PENSION,
        "x",
        PINLESS_ATTESTED,
        false,
    ));
    assert!(matches!(dup, Err(StoreError::Conflict(_))), "{dup:?}");
    // The database refuses an unknown class even behind the API's back.
    let raw = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        db.exec("INSERT INTO policy_rules (id, requester, purpose, service_type, data_class, min_authn_context, allow, created_at) VALUES ('00000000000000000000000000000001', 'r', 'p', 's', 'd', 'urn:weak', TRUE, 0)")
    }));
    assert!(
        raw.is_err(),
        "CHECK constraint must refuse an unknown AuthnContext class"
    );
}
