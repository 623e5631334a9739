//! `lu:Status` (liberty-idwsf-utility-v2.0): a code, an optional reference and comment, and
//! nested second-level statuses; with the codes of Discovery (§2.3) and the SOAP binding (§3.2).

use super::read::{self, Seq};
use super::{Decl, IdwsfError, IdwsfXml};
use crate::ns;
use crate::soap::FaultCode;
use crate::xml::{Element, XmlWriter};

/// Status codes. Discovery answers application outcomes with them in a normal response; the
/// SOAP-binding codes go in a fault's `detail/lu:Status`.
pub mod code {
    // Discovery and generic outcomes.
    pub const OK: &str = "OK";
    pub const FAILED: &str = "Failed";
    /// Refused by policy.
    pub const FORBIDDEN: &str = "Forbidden";
    pub const DUPLICATE: &str = "Duplicate";
    pub const LOGICAL_DUPLICATE: &str = "LogicalDuplicate";
    /// No service matched (Lasso); ZXID answers OK with no EPR instead.
    pub const NO_RESULTS: &str = "NoResults";
    /// Unknown svcMDID.
    pub const NOT_FOUND: &str = "NotFound";

    // SOAP binding, answered with faultcode S:Client.
    pub const INVALID_ACTOR: &str = "InvalidActor";
    pub const INVALID_MUST_UNDERSTAND: &str = "InvalidMustUnderstand";
    pub const STALE_MSG: &str = "StaleMsg";
    pub const DUPLICATE_MSG: &str = "DuplicateMsg";
    pub const INVALID_REF_TO_MSG_ID: &str = "InvalidRefToMsgID";
    pub const PROVIDER_ID_NOT_VALID: &str = "ProviderIDNotValid";
    pub const AFFILIATION_ID_NOT_VALID: &str = "AffiliationIDNotValid";
    pub const TARGET_IDENTITY_NOT_VALID: &str = "TargetIdentityNotValid";
    pub const FRAMEWORK_VERSION_MISMATCH: &str = "FrameworkVersionMismatch";
    pub const ID_STAR_MSG_NOT_UNDERSTOOD: &str = "IDStarMsgNotUnderstood";
    pub const INAPPROPRIATE_CREDENTIALS: &str = "InappropriateCredentials";

    // SOAP binding, answered with faultcode S:Server.
    pub const PROC_CTX_URI_NOT_UNDERSTOOD: &str = "ProcCtxURINotUnderstood";
    pub const PROC_CTX_UNWILLING: &str = "ProcCtxUnwilling";
    pub const CANNOT_HONOUR_USAGE_DIRECTIVE: &str = "CannotHonourUsageDirective";
    pub const ENDPOINT_UPDATED: &str = "EndpointUpdated";
    pub const PROCESSING_TIMEOUT: &str = "ProcessingTimeout";
    pub const INTERACTION_REQUIRED: &str = "InteractionRequired";
    pub const INTERACTION_REQUIRED_FOR_DATA: &str = "InteractionRequiredForData";
    pub const INTERACTION_TIME_NOT_SUFFICIENT: &str = "InteractionTimeNotSufficient";
    pub const INTERACTION_TIMEOUT: &str = "InteractionTimeout";

    /// Codes whose fault is `S:Server` (the receiver could not or would not act; the message
    /// itself was fine). Every other code is the sender's fault: `S:Client`.
    pub const SERVER_SIDE: &[&str] = &[
        PROC_CTX_URI_NOT_UNDERSTOOD,
        PROC_CTX_UNWILLING,
        CANNOT_HONOUR_USAGE_DIRECTIVE,
        ENDPOINT_UPDATED,
        PROCESSING_TIMEOUT,
        INTERACTION_REQUIRED,
        INTERACTION_REQUIRED_FOR_DATA,
        INTERACTION_TIME_NOT_SUFFICIENT,
        INTERACTION_TIMEOUT,
    ];
}

/// The SOAP faultcode that goes with an ID-WSF status code (Lasso `idwsf2_strings.h` split).
pub fn soap_fault_code_for(status_code: &str) -> FaultCode {
    if code::SERVER_SIDE.contains(&status_code) {
        FaultCode::server()
    } else {
        FaultCode::client()
    }
}

/// `lu:Status`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status {
    pub code: String,
    /// `@ref`: the ID of the request item this status is about.
    pub reference: Option<String>,
    pub comment: Option<String>,
    /// Nested statuses: the second level (Lasso reads them only under `Failed`).
    pub details: Vec<Status>,
}

impl Status {
    pub fn new(code: impl Into<String>) -> Self {
        Status {
            code: code.into(),
            reference: None,
            comment: None,
            details: Vec::new(),
        }
    }

    pub fn ok() -> Self {
        Self::new(code::OK)
    }

    /// A top-level code with one second-level code under it.
    pub fn with_detail(code: impl Into<String>, second: impl Into<String>) -> Self {
        let mut s = Self::new(code);
        s.details.push(Status::new(second));
        s
    }

    pub fn is_ok(&self) -> bool {
        self.code == code::OK
    }

    /// The first second-level code, if any.
    pub fn second_level(&self) -> Option<&str> {
        self.details.first().map(|s| s.code.as_str())
    }
}

impl IdwsfXml for Status {
    const NAMESPACES: &'static [(&'static str, &'static str)] = &[("lu", ns::LU)];

    fn from_element(e: Element<'_>) -> Result<Self, IdwsfError> {
        read::expect(e, ns::LU, "Status", "lu:Status")?;
        let mut seq = Seq::new(e, "lu:Status")?;
        let details = read::each(seq.many(ns::LU, "Status"), Status::from_element)?;
        seq.end()?;
        Ok(Status {
            // xs:string, but a code is a name: surrounding whitespace is not part of it.
            code: read::req_attr(e, "code", "lu:Status", "lu:Status@code")?,
            reference: read::opt_string_attr(e, "ref"),
            comment: read::opt_string_attr(e, "comment"),
            details,
        })
    }

    fn write_with(&self, w: &mut XmlWriter, decl: Decl) {
        w.start("lu:Status");
        decl.apply(w);
        w.attr("code", &self.code)
            .attr_opt("ref", self.reference.as_deref())
            .attr_opt("comment", self.comment.as_deref());
        for d in &self.details {
            d.write(w);
        }
        w.end();
    }
}
