//! Reading helpers shared by every ID-WSF model: a cursor that walks an element's children in
//! schema order, typed text and attribute readers, and opaque capture of foreign content.

use super::IdwsfError;
use crate::ns;
use crate::soap::clark;
use crate::xml::{c14n, Element, Node};

/// Checks that `e` is `{namespace}local`; `name` is the conventional `prefix:local` for errors.
pub(crate) fn expect(
    e: Element<'_>,
    namespace: &str,
    local: &str,
    name: &'static str,
) -> Result<(), IdwsfError> {
    if e.is(namespace, local) {
        Ok(())
    } else {
        Err(IdwsfError::WrongElement {
            expected: name,
            found: clark(e),
        })
    }
}

/// Text of a text-only element, as written (xs:string).
pub(crate) fn string(e: Element<'_>) -> Result<String, IdwsfError> {
    Ok(e.text()?)
}

/// Text of an xs:anyURI / xs:string identifier element: whitespace-collapsed at the ends (the
/// anyURI facet) and required to be non-empty, since an empty identifier never names anything.
pub(crate) fn token(e: Element<'_>, what: &'static str) -> Result<String, IdwsfError> {
    let text = e.text()?;
    nonempty(text.trim(), what)
}

fn nonempty(value: &str, what: &'static str) -> Result<String, IdwsfError> {
    if value.is_empty() {
        Err(IdwsfError::EmptyValue(what))
    } else {
        Ok(value.to_string())
    }
}

/// A required identifier-like attribute (trimmed, non-empty). `what` is `prefix:Element@attr`.
pub(crate) fn req_attr(
    e: Element<'_>,
    attr: &'static str,
    element: &'static str,
    what: &'static str,
) -> Result<String, IdwsfError> {
    let v = e.attr(attr).ok_or(IdwsfError::MissingAttribute {
        element,
        attribute: attr,
    })?;
    nonempty(v.trim(), what)
}

/// An optional identifier-like attribute: trimmed, present-but-empty refused.
pub(crate) fn opt_attr(
    e: Element<'_>,
    attr: &str,
    what: &'static str,
) -> Result<Option<String>, IdwsfError> {
    e.attr(attr).map(|v| nonempty(v.trim(), what)).transpose()
}

/// An optional free-text attribute (xs:string), kept as written.
pub(crate) fn opt_string_attr(e: Element<'_>, attr: &str) -> Option<String> {
    e.attr(attr).map(str::to_string)
}

/// The element's `wsu:Id`, the handle signatures reference.
pub(crate) fn wsu_id(e: Element<'_>) -> Option<String> {
    e.attr_ns(ns::WSU, "Id").map(str::to_string)
}

/// xs:boolean.
pub(crate) fn boolean(value: &str, what: &'static str) -> Result<bool, IdwsfError> {
    match value.trim() {
        "1" | "true" => Ok(true),
        "0" | "false" => Ok(false),
        _ => Err(IdwsfError::InvalidValue {
            what,
            value: value.to_string(),
            reason: "not an xs:boolean",
        }),
    }
}

/// xs:integer restricted to what a time limit can be (seconds, non-negative).
pub(crate) fn seconds(value: &str, what: &'static str) -> Result<u64, IdwsfError> {
    value
        .trim()
        .strip_prefix('+')
        .unwrap_or(value.trim())
        .parse()
        .map_err(|_| IdwsfError::InvalidValue {
            what,
            value: value.to_string(),
            reason: "not a non-negative integer",
        })
}

/// A self-contained exclusive-canonical copy of `e`: every namespace it uses is declared on
/// it, so it can be stored, forwarded and re-inserted anywhere (tokens, signatures, metadata).
pub(crate) fn opaque(e: Element<'_>) -> String {
    let bytes = c14n::canonicalize(e, &c14n::C14nOptions::default());
    // Canonical XML of a UTF-8 document is UTF-8; lossy conversion never alters it.
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Walks the element children of a parent in schema (sequence) order.
pub(crate) struct Seq<'a> {
    parent: &'static str,
    items: Vec<Element<'a>>,
    pos: usize,
}

impl<'a> Seq<'a> {
    /// Refuses character data in element-only content (whitespace aside); comments and PIs are
    /// skipped (they carry nothing and exclusive c14n drops them).
    pub(crate) fn new(e: Element<'a>, parent: &'static str) -> Result<Self, IdwsfError> {
        for node in e.children() {
            if matches!(node, Node::Text(t) if !t.trim().is_empty()) {
                return Err(IdwsfError::UnexpectedText(parent));
            }
        }
        Ok(Seq {
            parent,
            items: e.elements().collect(),
            pos: 0,
        })
    }

    fn peek_is(&self, namespace: &str, local: &str) -> bool {
        self.items
            .get(self.pos)
            .is_some_and(|e| e.is(namespace, local))
    }

    /// The next child if it is `{namespace}local` (0..1).
    pub(crate) fn opt(&mut self, namespace: &str, local: &str) -> Option<Element<'a>> {
        if self.peek_is(namespace, local) {
            self.pos += 1;
            Some(self.items[self.pos - 1])
        } else {
            None
        }
    }

    /// The next child, which must be `{namespace}local` (1..1).
    pub(crate) fn req(
        &mut self,
        namespace: &str,
        local: &str,
        name: &'static str,
    ) -> Result<Element<'a>, IdwsfError> {
        self.opt(namespace, local)
            .ok_or(IdwsfError::MissingElement {
                parent: self.parent,
                child: name,
            })
    }

    /// All consecutive children named `{namespace}local` (0..n).
    pub(crate) fn many(&mut self, namespace: &str, local: &str) -> Vec<Element<'a>> {
        let mut out = Vec::new();
        while let Some(e) = self.opt(namespace, local) {
            out.push(e);
        }
        out
    }

    /// As [`Seq::many`] but at least one (1..n).
    pub(crate) fn many1(
        &mut self,
        namespace: &str,
        local: &str,
        name: &'static str,
    ) -> Result<Vec<Element<'a>>, IdwsfError> {
        let out = self.many(namespace, local);
        if out.is_empty() {
            Err(IdwsfError::MissingElement {
                parent: self.parent,
                child: name,
            })
        } else {
            Ok(out)
        }
    }

    /// Consecutive children outside `namespace` (an `xs:any namespace="##other"` extension
    /// point), kept opaque.
    pub(crate) fn others(&mut self, namespace: &str) -> Vec<String> {
        let mut out = Vec::new();
        while let Some(e) = self.items.get(self.pos) {
            if e.namespace() == Some(namespace) || e.namespace().is_none() {
                break;
            }
            out.push(opaque(*e));
            self.pos += 1;
        }
        out
    }

    /// Every remaining child (an `xs:any namespace="##any"` extension point).
    pub(crate) fn rest(&mut self) -> Vec<Element<'a>> {
        let out = self.items[self.pos..].to_vec();
        self.pos = self.items.len();
        out
    }

    /// Refuses whatever is left: content the schema does not allow at this point.
    pub(crate) fn end(self) -> Result<(), IdwsfError> {
        match self.items.get(self.pos) {
            None => Ok(()),
            Some(e) => Err(IdwsfError::UnexpectedElement {
                parent: self.parent,
                found: clark(*e),
            }),
        }
    }
}

/// Reads each element with `f` (for lists of text or of child models).
pub(crate) fn each<'a, T>(
    items: Vec<Element<'a>>,
    f: impl Fn(Element<'a>) -> Result<T, IdwsfError>,
) -> Result<Vec<T>, IdwsfError> {
    items.into_iter().map(f).collect()
}
