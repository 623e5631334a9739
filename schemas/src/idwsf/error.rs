//! Why an ID-WSF message was refused, and the `lu:Status` code / SOAP fault that answers it.

use super::status::{code, soap_fault_code_for, Status};
use crate::soap::{Fault, FaultCode, SoapError};
use crate::xml::XmlError;

/// A refused ID-WSF element or message.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum IdwsfError {
    #[error(transparent)]
    Xml(#[from] XmlError),
    #[error(transparent)]
    Soap(#[from] SoapError),
    #[error("expected {expected}, found {found}")]
    WrongElement {
        expected: &'static str,
        found: String,
    },
    #[error("{parent} lacks {child}")]
    MissingElement {
        parent: &'static str,
        child: &'static str,
    },
    #[error("unexpected {found} in {parent}")]
    UnexpectedElement { parent: &'static str, found: String },
    #[error("{element} lacks attribute {attribute}")]
    MissingAttribute {
        element: &'static str,
        attribute: &'static str,
    },
    #[error("{what} has invalid value {value:?}: {reason}")]
    InvalidValue {
        what: &'static str,
        value: String,
        reason: &'static str,
    },
    #[error("{0} is empty")]
    EmptyValue(&'static str),
    #[error("character data in {0}")]
    UnexpectedText(&'static str),
    #[error("{parent} holds more than one {child}")]
    TooMany {
        parent: &'static str,
        child: &'static str,
    },
    #[error("token content {0} is neither saml:Assertion nor saml:EncryptedAssertion")]
    UnsupportedToken(String),
    #[error("{0} lacks svcMDID")]
    MissingSvcMdId(&'static str),
    #[error("header {0} appears more than once")]
    DuplicateHeader(&'static str),
    #[error("required header {0} is missing")]
    MissingHeader(&'static str),
    #[error("header {header}: {source}")]
    Header {
        header: &'static str,
        source: Box<IdwsfError>,
    },
    #[error("sbf:Framework version {0:?} is not 2.0")]
    FrameworkVersion(String),
    #[error("message timestamp refused: {0}")]
    StaleMessage(String),
    #[error("wsa:RelatesTo {found:?} does not name the request {expected:?}")]
    RelatesToMismatch { expected: String, found: String },
}

impl IdwsfError {
    /// The ID-WSF status code (`lu:Status@code`) reporting this error: in the `detail` of a
    /// SOAP fault for SOAP-binding errors (SBF 2.0 §3.2 codes), `IDStarMsgNotUnderstood` for a
    /// Body that is not a well-formed ID-WSF message.
    pub fn status_code(&self) -> &'static str {
        match self {
            IdwsfError::Header { header, source } => header_status_code(header, source),
            IdwsfError::MissingHeader(h) => missing_header_status_code(h),
            IdwsfError::FrameworkVersion(_) => code::FRAMEWORK_VERSION_MISMATCH,
            IdwsfError::StaleMessage(_) => code::STALE_MSG,
            IdwsfError::RelatesToMismatch { .. } => code::INVALID_REF_TO_MSG_ID,
            IdwsfError::Soap(SoapError::InvalidMustUnderstand(_)) => code::INVALID_MUST_UNDERSTAND,
            _ => code::ID_STAR_MSG_NOT_UNDERSTOOD,
        }
    }

    /// The SOAP 1.1 faultcode: `S:VersionMismatch` for a non-1.1 envelope, otherwise `S:Client`
    /// or `S:Server` as the status code implies.
    pub fn soap_fault_code(&self) -> FaultCode {
        match self {
            IdwsfError::Soap(e @ SoapError::VersionMismatch(_)) => e.fault_code(),
            _ => soap_fault_code_for(self.status_code()),
        }
    }

    /// The fault answering this error, `detail/lu:Status` set (except for a VersionMismatch,
    /// which has no ID-WSF context). Send it with HTTP 500.
    pub fn to_fault(&self) -> Fault {
        let mut fault = Fault::new(self.soap_fault_code(), self.to_string());
        if !matches!(self, IdwsfError::Soap(SoapError::VersionMismatch(_))) {
            fault.status = Some(Status::new(self.status_code()));
        }
        fault
    }

    /// Wraps an error met while reading header `header`, so that it maps to that header's code.
    pub(crate) fn in_header(header: &'static str) -> impl FnOnce(IdwsfError) -> IdwsfError {
        move |source| match source {
            already @ IdwsfError::Header { .. } => already,
            source => IdwsfError::Header {
                header,
                source: Box::new(source),
            },
        }
    }
}

/// The code for a malformed header: the header's own SBF code where one exists.
fn header_status_code(header: &str, source: &IdwsfError) -> &'static str {
    match header {
        "sbf:Framework" => code::FRAMEWORK_VERSION_MISMATCH,
        "sb:Sender" => match source {
            IdwsfError::EmptyValue("sb:Sender@affiliationID") => code::AFFILIATION_ID_NOT_VALID,
            _ => code::PROVIDER_ID_NOT_VALID,
        },
        "sb:TargetIdentity" => code::TARGET_IDENTITY_NOT_VALID,
        "sb:ProcessingContext" => code::PROC_CTX_URI_NOT_UNDERSTOOD,
        "sb:UsageDirective" => code::CANNOT_HONOUR_USAGE_DIRECTIVE,
        "wsa:RelatesTo" => code::INVALID_REF_TO_MSG_ID,
        "wsse:Security" => match source {
            IdwsfError::StaleMessage(_) => code::STALE_MSG,
            IdwsfError::UnsupportedToken(_) => code::INAPPROPRIATE_CREDENTIALS,
            _ => code::ID_STAR_MSG_NOT_UNDERSTOOD,
        },
        _ => code::ID_STAR_MSG_NOT_UNDERSTOOD,
    }
}

/// The code for a missing header (idwsf-2.0.md §4.4).
fn missing_header_status_code(header: &str) -> &'static str {
    match header {
        "sbf:Framework" => code::FRAMEWORK_VERSION_MISMATCH,
        "sb:Sender" => code::PROVIDER_ID_NOT_VALID,
        "wsu:Timestamp" => code::STALE_MSG,
        "wsse:Security" => code::INAPPROPRIATE_CREDENTIALS,
        "wsa:RelatesTo" => code::INVALID_REF_TO_MSG_ID,
        _ => code::ID_STAR_MSG_NOT_UNDERSTOOD,
    }
}
