//! Discovery policy, deny by default (principle 4): a rule of (requester entity, purpose, service
//! type, data class) with the weakest AuthnContext class it accepts and allow/deny. No rule, no
//! token. Matching is exact on all four fields — no wildcards — so that the rule table reads as
//! the list of what is allowed; the Discovery Service passes a concrete data class (the one the
//! query's options name, or the service's default).
//!
//! # AuthnContext classes, weakest first
//!
//! | rank | class | how the resident was authenticated |
//! |---|---|---|
//! | 1 | [`authn_context::PINLESS_ATTESTED`] | the clinic terminal read the user-authentication certificate without a PIN and a staff member attested the face check |
//! | 2 | [`authn_context::SIGNATURE`] | signature with the card's digital-signature key (6–16 character password) |
//! | 2 | [`authn_context::USER_AUTHENTICATION_PIN`] | signature with the card's user-authentication key (4-digit PIN) |
//!
//! Both PIN paths prove possession of the card and knowledge of a secret, so they rank equal;
//! the PIN-less path proves only that the card was presented, so a rule must name it explicitly
//! as its minimum for it to be accepted (in the federation: the eligibility check only).

use diesel::prelude::*;

use crate::crypto::random_id;
use crate::error::StoreError;
use crate::store::schema::policy_rules;
use crate::store::{now, Store};

/// The AuthnContext class references of the federation and their order, as `schemas` defines
/// them once for every party.
pub mod authn_context {
    pub use schemas::websso::classes::{
        JPKI_PINLESS_ATTESTED as PINLESS_ATTESTED, JPKI_SIGNATURE as SIGNATURE,
        JPKI_USER_AUTHENTICATION_PIN as USER_AUTHENTICATION_PIN,
    };
    pub use schemas::websso::FEDERATION_CLASSES;

    /// Rank of a class (higher is stronger; equal ranks are equivalent), `None` for a class the
    /// federation does not define.
    pub fn rank(class: &str) -> Option<u8> {
        schemas::websso::authn_context_level(class)
    }

    /// Whether `presented` is at least as strong as `minimum` (unknown classes satisfy nothing).
    pub fn satisfies(presented: &str, minimum: &str) -> bool {
        match (rank(presented), rank(minimum)) {
            (Some(p), Some(m)) => p >= m,
            _ => false,
        }
    }
}

/// A policy rule.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = policy_rules)]
pub struct Rule {
    pub id: String,
    /// Entity ID of the requesting WSC (the portal, the clinic application…).
    pub requester: String,
    pub purpose: String,
    pub service_type: String,
    pub data_class: String,
    /// Weakest AuthnContext class accepted.
    pub min_authn_context: String,
    pub allow: bool,
    pub note: Option<String>,
    pub created_at: i64,
}

/// A rule to add.
#[derive(Debug, Clone)]
pub struct NewRule {
    pub requester: String,
    pub purpose: String,
    pub service_type: String,
    pub data_class: String,
    pub min_authn_context: String,
    pub allow: bool,
    pub note: Option<String>,
}

/// A policy decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Allow { rule: String },
    Deny(DenyReason),
}

impl Decision {
    pub fn is_allow(&self) -> bool {
        matches!(self, Decision::Allow { .. })
    }
}

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DenyReason {
    /// No rule for (requester, purpose, service type, data class).
    NoRule,
    /// A rule says deny.
    RuleDenies { rule: String },
    /// The rule's minimum AuthnContext class is stronger than the login's.
    AuthnContextTooWeak {
        rule: String,
        required: String,
        presented: String,
    },
    /// The login's AuthnContext class is not one the federation defines.
    UnknownAuthnContext { presented: String },
}

impl DenyReason {
    /// Short code for the access record and logs.
    pub fn code(&self) -> &'static str {
        match self {
            DenyReason::NoRule => "no-rule",
            DenyReason::RuleDenies { .. } => "rule-denies",
            DenyReason::AuthnContextTooWeak { .. } => "authn-context-too-weak",
            DenyReason::UnknownAuthnContext { .. } => "unknown-authn-context",
        }
    }
}

#[derive(Insertable)]
#[diesel(table_name = policy_rules)]
struct RuleInsert<'a> {
    id: &'a str,
    requester: &'a str,
    purpose: &'a str,
    service_type: &'a str,
    data_class: &'a str,
    min_authn_context: &'a str,
    allow: bool,
    note: Option<&'a str>,
    created_at: i64,
}

impl Store {
    /// Adds a rule. `Conflict` if one exists for the same four fields (change it by deleting
    /// and adding, so that every change is an explicit operator action).
    pub fn add_policy_rule(&self, new: &NewRule) -> Result<Rule, StoreError> {
        for (field, value) in [
            ("requester", &new.requester),
            ("purpose", &new.purpose),
            ("service type", &new.service_type),
            ("data class", &new.data_class),
        ] {
            if value.trim().is_empty() {
                return Err(StoreError::invalid(field, "empty"));
            }
        }
        if authn_context::rank(&new.min_authn_context).is_none() {
            return Err(StoreError::invalid(
                "minimum AuthnContext class",
                format!(
                    "not one of {}",
                    authn_context::FEDERATION_CLASSES.join(", ")
                ),
            ));
        }
        self.write(|conn| {
            let exists: i64 = policy_rules::table
                .filter(policy_rules::requester.eq(new.requester.trim()))
                .filter(policy_rules::purpose.eq(new.purpose.trim()))
                .filter(policy_rules::service_type.eq(new.service_type.trim()))
                .filter(policy_rules::data_class.eq(new.data_class.trim()))
                .count()
                .get_result(conn)?;
            if exists > 0 {
                return Err(StoreError::Conflict(
                    "a rule for this requester, purpose, service type and data class exists".into(),
                ));
            }
            let id = random_id()?;
            diesel::insert_into(policy_rules::table)
                .values(RuleInsert {
                    id: &id,
                    requester: new.requester.trim(),
                    purpose: new.purpose.trim(),
                    service_type: new.service_type.trim(),
                    data_class: new.data_class.trim(),
                    min_authn_context: &new.min_authn_context,
                    allow: new.allow,
                    note: new.note.as_deref(),
                    created_at: now(),
                })
                .execute(conn)?;
            Ok(policy_rules::table
                .find(&id)
                .select(Rule::as_select())
                .first(conn)?)
        })
    }

    /// Every rule, ordered by requester, purpose, service type, data class.
    pub fn policy_rules(&self) -> Result<Vec<Rule>, StoreError> {
        let mut conn = self.conn()?;
        Ok(policy_rules::table
            .order((
                policy_rules::requester,
                policy_rules::purpose,
                policy_rules::service_type,
                policy_rules::data_class,
            ))
            .select(Rule::as_select())
            .load(&mut conn)?)
    }

    /// Deletes a rule. `NotFound` if there is none with that ID.
    pub fn delete_policy_rule(&self, id: &str) -> Result<(), StoreError> {
        self.write(|conn| {
            let n = diesel::delete(policy_rules::table.find(id)).execute(conn)?;
            if n == 0 {
                return Err(StoreError::NotFound("policy rule"));
            }
            Ok(())
        })
    }

    /// Decides a discovery: deny unless a rule for exactly these four fields allows it and the
    /// login's AuthnContext class is at least the rule's minimum.
    pub fn decide(
        &self,
        requester: &str,
        purpose: &str,
        service_type: &str,
        data_class: &str,
        authn_class: &str,
    ) -> Result<Decision, StoreError> {
        if authn_context::rank(authn_class).is_none() {
            return Ok(Decision::Deny(DenyReason::UnknownAuthnContext {
                presented: authn_class.to_string(),
            }));
        }
        let mut conn = self.conn()?;
        let rule: Option<Rule> = policy_rules::table
            .filter(policy_rules::requester.eq(requester))
            .filter(policy_rules::purpose.eq(purpose))
            .filter(policy_rules::service_type.eq(service_type))
            .filter(policy_rules::data_class.eq(data_class))
            .select(Rule::as_select())
            .first(&mut conn)
            .optional()?;
        let decision = match rule {
            None => Decision::Deny(DenyReason::NoRule),
            Some(rule) if !rule.allow => Decision::Deny(DenyReason::RuleDenies { rule: rule.id }),
            Some(rule) if !authn_context::satisfies(authn_class, &rule.min_authn_context) => {
                Decision::Deny(DenyReason::AuthnContextTooWeak {
                    rule: rule.id,
                    required: rule.min_authn_context,
                    presented: authn_class.to_string(),
                })
            }
            Some(rule) => Decision::Allow { rule: rule.id },
        };
        tracing::debug!(
            requester,
            purpose,
            service_type,
            data_class,
            authn_class,
            ?decision,
            "policy decision"
        );
        Ok(decision)
    }
}

#[cfg(test)]
mod tests {
    use super::authn_context::*;

    #[test]
    fn authn_context_order() {
        assert!(satisfies(SIGNATURE, PINLESS_ATTESTED));
        assert!(satisfies(USER_AUTHENTICATION_PIN, PINLESS_ATTESTED));
        assert!(satisfies(SIGNATURE, USER_AUTHENTICATION_PIN));
        assert!(satisfies(USER_AUTHENTICATION_PIN, SIGNATURE));
        assert!(!satisfies(PINLESS_ATTESTED, SIGNATURE));
        assert!(!satisfies(PINLESS_ATTESTED, USER_AUTHENTICATION_PIN));
        assert!(satisfies(PINLESS_ATTESTED, PINLESS_ATTESTED));
        assert!(!satisfies(
            "urn:oasis:names:tc:SAML:2.0:ac:classes:Password",
            PINLESS_ATTESTED
        ));
    }
}
