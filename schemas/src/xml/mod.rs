//! XML: the single parser, the tree it builds, exclusive canonicalization and a writer.

pub mod c14n;
mod parse;
mod tree;
mod write;

pub use parse::{parse, parse_in_context, parse_with, ParseLimits};
pub use tree::{Attribute, Document, Element, Node, NodeId, NsDecl, WSU_NS, XML_NS};
pub use write::XmlWriter;

/// Why a document was refused.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum XmlError {
    #[error("document is larger than {limit} bytes")]
    TooLarge { limit: usize },
    #[error("elements nest deeper than {limit} levels")]
    TooDeep { limit: usize },
    #[error("an element has more than {limit} attributes")]
    TooManyAttributes { limit: usize },
    #[error("document has more than {limit} nodes")]
    TooManyNodes { limit: usize },
    #[error("document is not UTF-8")]
    NotUtf8,
    #[error("encoding {0:?} is not accepted (UTF-8 only)")]
    UnsupportedEncoding(String),
    #[error("XML version {0:?} is not accepted (1.0 only)")]
    UnsupportedVersion(String),
    #[error("a DOCTYPE is not accepted")]
    Doctype,
    #[error("entity &{0}; is not accepted (only the five predefined entities are)")]
    Entity(String),
    #[error("namespace prefix {0:?} is not bound")]
    UnboundPrefix(String),
    #[error("namespace error: {0}")]
    Namespace(String),
    #[error("attribute {0:?} appears twice")]
    DuplicateAttribute(String),
    #[error("XML ID {0:?} appears more than once")]
    DuplicateId(String),
    #[error("element {element} must hold text only")]
    MixedContent { element: String },
    #[error("document is empty")]
    Empty,
    #[error("malformed XML at byte {offset}: {reason}")]
    Malformed { offset: usize, reason: String },
}
