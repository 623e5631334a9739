//! The document tree, read through cheap `Element` handles.
//!
//! Storage is flat so that parsing allocates a handful of buffers per document instead of a few
//! per node: every name, value and text lives in one string arena, namespace URIs are interned,
//! attributes and namespace declarations sit in two document-wide lists, and children are linked
//! through sibling indices. The source text is kept as well, with the byte span of every element,
//! so that signing and encryption can splice content in at element boundaries.

use std::collections::HashMap;

use super::XmlError;

/// Index of a node in its document.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(pub(crate) u32);

impl NodeId {
    pub(crate) fn idx(self) -> usize {
        self.0 as usize
    }
}

/// A range of the document's string arena.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Span {
    pub start: u32,
    pub len: u32,
}

/// Index of an interned namespace URI (`NO_NS` for none).
pub(crate) type NsIdx = u32;
pub(crate) const NO_NS: NsIdx = u32::MAX;
const NONE_SPAN: Span = Span {
    start: u32::MAX,
    len: 0,
};

#[derive(Clone, Copy, Debug)]
pub(crate) struct AttrData {
    pub prefix: Span,
    pub local: Span,
    pub ns: NsIdx,
    pub value: Span,
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct DeclData {
    /// `NONE_SPAN` for the default namespace.
    pub prefix: Span,
    /// `NO_NS` when the default namespace is undeclared (`xmlns=""`).
    pub uri: NsIdx,
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct ElementData {
    pub prefix: Span,
    pub local: Span,
    pub ns: NsIdx,
    pub attrs: (u32, u32),
    pub decls: (u32, u32),
    pub first_child: Option<NodeId>,
    pub last_child: Option<NodeId>,
    /// Byte offsets in the source: start of `<`, end of the start tag, end of the element.
    pub span: (usize, usize, usize),
}

#[derive(Clone, Copy, Debug)]
pub(crate) enum NodeData {
    Element(ElementData),
    Text(Span),
    Comment(Span),
    Pi { target: Span, data: Span },
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct Slot {
    pub parent: Option<NodeId>,
    pub next_sibling: Option<NodeId>,
    pub data: NodeData,
}

/// A parsed XML document. Immutable once built.
#[derive(Clone, Debug)]
pub struct Document {
    pub(crate) source: String,
    pub(crate) strings: String,
    pub(crate) namespaces: Vec<Box<str>>,
    pub(crate) nodes: Vec<Slot>,
    pub(crate) attrs: Vec<AttrData>,
    pub(crate) decls: Vec<DeclData>,
    pub(crate) root: NodeId,
    /// Comments and processing instructions outside the document element, and the element, in
    /// document order.
    pub(crate) top_level: Vec<NodeId>,
    pub(crate) ids: HashMap<Box<str>, NodeId>,
}

/// A view of any node.
#[derive(Clone, Copy, Debug)]
pub enum Node<'a> {
    Element(Element<'a>),
    Text(&'a str),
    Comment(&'a str),
    ProcessingInstruction { target: &'a str, data: &'a str },
}

/// One attribute, after attribute-value normalization and with its namespace resolved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Attribute<'a> {
    pub prefix: Option<&'a str>,
    pub local: &'a str,
    pub namespace: Option<&'a str>,
    pub value: &'a str,
}

/// A namespace declaration written on an element (`xmlns` when the prefix is `None`; an empty
/// URI is `xmlns=""`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NsDecl<'a> {
    pub prefix: Option<&'a str>,
    pub uri: &'a str,
}

/// A handle to an element of a document.
#[derive(Clone, Copy)]
pub struct Element<'a> {
    pub(crate) doc: &'a Document,
    pub(crate) id: NodeId,
}

impl std::fmt::Debug for Element<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "<{}", self.qualified_name())?;
        if let Some(ns) = self.namespace() {
            write!(f, " ns={ns}")?;
        }
        write!(f, ">")
    }
}

impl PartialEq for Element<'_> {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self.doc, other.doc) && self.id == other.id
    }
}

pub const XML_NS: &str = "http://www.w3.org/XML/1998/namespace";
pub const XMLNS_NS: &str = "http://www.w3.org/2000/xmlns/";
pub const WSU_NS: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd";

/// Whether an attribute is an XML ID in the dialects the federation speaks: SAML `ID`, XML-DSig and
/// XML-Enc `Id`, the unqualified `id` some SOAP stacks put on `Body`, and `wsu:Id`.
pub(crate) fn is_id_attribute(namespace: Option<&str>, local: &str) -> bool {
    match namespace {
        None => matches!(local, "ID" | "Id" | "id"),
        Some(ns) => ns == WSU_NS && local == "Id",
    }
}

impl Document {
    /// The document element.
    pub fn root(&self) -> Element<'_> {
        Element {
            doc: self,
            id: self.root,
        }
    }

    /// The source text the document was parsed from.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The element carrying this XML ID (IDs are unique: the parser refuses duplicates).
    pub fn element_by_id(&self, id: &str) -> Option<Element<'_>> {
        self.ids.get(id).map(|&id| Element { doc: self, id })
    }

    /// Top-level nodes (comments and PIs outside the document element, and the element itself).
    pub fn top_level(&self) -> impl Iterator<Item = Node<'_>> {
        self.top_level.iter().map(move |&id| self.node(id))
    }

    pub(crate) fn str(&self, span: Span) -> &str {
        let start = span.start as usize;
        &self.strings[start..start + span.len as usize]
    }

    pub(crate) fn opt_str(&self, span: Span) -> Option<&str> {
        (span.start != u32::MAX).then(|| self.str(span))
    }

    pub(crate) fn ns(&self, idx: NsIdx) -> Option<&str> {
        (idx != NO_NS).then(|| &*self.namespaces[idx as usize])
    }

    pub(crate) fn node(&self, id: NodeId) -> Node<'_> {
        match self.nodes[id.idx()].data {
            NodeData::Element(_) => Node::Element(Element { doc: self, id }),
            NodeData::Text(t) => Node::Text(self.str(t)),
            NodeData::Comment(c) => Node::Comment(self.str(c)),
            NodeData::Pi { target, data } => Node::ProcessingInstruction {
                target: self.str(target),
                data: self.str(data),
            },
        }
    }

    pub(crate) fn element_data(&self, id: NodeId) -> &ElementData {
        match &self.nodes[id.idx()].data {
            NodeData::Element(e) => e,
            _ => unreachable!("element handle always points at an element"),
        }
    }

    pub(crate) fn none_span() -> Span {
        NONE_SPAN
    }
}

/// Child nodes of an element, in document order.
pub struct Children<'a> {
    doc: &'a Document,
    next: Option<NodeId>,
}

impl<'a> Iterator for Children<'a> {
    type Item = Node<'a>;

    fn next(&mut self) -> Option<Node<'a>> {
        let id = self.next?;
        self.next = self.doc.nodes[id.idx()].next_sibling;
        Some(self.doc.node(id))
    }
}

impl<'a> Element<'a> {
    fn data(&self) -> &'a ElementData {
        self.doc.element_data(self.id)
    }

    pub fn document(&self) -> &'a Document {
        self.doc
    }

    pub fn node_id(&self) -> NodeId {
        self.id
    }

    pub fn local_name(&self) -> &'a str {
        self.doc.str(self.data().local)
    }

    pub fn prefix(&self) -> Option<&'a str> {
        self.doc.opt_str(self.data().prefix)
    }

    /// The namespace URI of the element, if any.
    pub fn namespace(&self) -> Option<&'a str> {
        self.doc.ns(self.data().ns)
    }

    pub fn qualified_name(&self) -> String {
        match self.prefix() {
            Some(p) => format!("{p}:{}", self.local_name()),
            None => self.local_name().to_string(),
        }
    }

    /// Whether this element has the given namespace URI and local name.
    pub fn is(&self, namespace: &str, local: &str) -> bool {
        self.local_name() == local && self.namespace() == Some(namespace)
    }

    /// Attributes in document order (namespace declarations excluded).
    pub fn attributes(&self) -> impl ExactSizeIterator<Item = Attribute<'a>> + 'a {
        let doc = self.doc;
        let (start, end) = self.data().attrs;
        doc.attrs[start as usize..end as usize]
            .iter()
            .map(move |a| Attribute {
                prefix: doc.opt_str(a.prefix),
                local: doc.str(a.local),
                namespace: doc.ns(a.ns),
                value: doc.str(a.value),
            })
    }

    /// The value of an attribute without namespace.
    pub fn attr(&self, local: &str) -> Option<&'a str> {
        self.attributes()
            .find(|a| a.namespace.is_none() && a.local == local)
            .map(|a| a.value)
    }

    /// The value of a namespace-qualified attribute.
    pub fn attr_ns(&self, namespace: &str, local: &str) -> Option<&'a str> {
        self.attributes()
            .find(|a| a.namespace == Some(namespace) && a.local == local)
            .map(|a| a.value)
    }

    /// Namespace declarations written on this element.
    pub fn namespace_declarations(&self) -> impl ExactSizeIterator<Item = NsDecl<'a>> + 'a {
        let doc = self.doc;
        let (start, end) = self.data().decls;
        doc.decls[start as usize..end as usize]
            .iter()
            .map(move |d| NsDecl {
                prefix: doc.opt_str(d.prefix),
                uri: doc.ns(d.uri).unwrap_or(""),
            })
    }

    /// The XML ID of this element, if it carries one.
    pub fn xml_id(&self) -> Option<&'a str> {
        self.attributes()
            .find(|a| is_id_attribute(a.namespace, a.local))
            .map(|a| a.value)
    }

    pub fn parent(&self) -> Option<Element<'a>> {
        let parent = self.doc.nodes[self.id.idx()].parent?;
        Some(Element {
            doc: self.doc,
            id: parent,
        })
    }

    /// All child nodes in document order.
    pub fn children(&self) -> Children<'a> {
        Children {
            doc: self.doc,
            next: self.data().first_child,
        }
    }

    /// Child elements in document order.
    pub fn elements(&self) -> impl Iterator<Item = Element<'a>> + 'a {
        self.children().filter_map(|n| match n {
            Node::Element(e) => Some(e),
            _ => None,
        })
    }

    /// Child elements with this namespace and local name.
    pub fn elements_named(
        &self,
        namespace: &'a str,
        local: &'a str,
    ) -> impl Iterator<Item = Element<'a>> + 'a {
        self.elements().filter(move |e| e.is(namespace, local))
    }

    /// The first child element with this namespace and local name.
    pub fn first(&self, namespace: &str, local: &str) -> Option<Element<'a>> {
        self.elements().find(|e| e.is(namespace, local))
    }

    /// Every element below this one (not including it), in document order.
    pub fn descendants(&self) -> Vec<Element<'a>> {
        let mut out = Vec::new();
        let mut stack: Vec<Element<'a>> = self.elements().collect();
        stack.reverse();
        while let Some(e) = stack.pop() {
            out.push(e);
            let before = stack.len();
            stack.extend(e.elements());
            stack[before..].reverse();
        }
        out
    }

    /// Whether `self` is `other` or lies inside it.
    pub fn is_within(&self, other: &Element<'_>) -> bool {
        if !std::ptr::eq(self.doc, other.doc) {
            return false;
        }
        let mut cur = Some(*self);
        while let Some(e) = cur {
            if e.id == other.id {
                return true;
            }
            cur = e.parent();
        }
        false
    }

    /// The text content of an element that may hold only text. Comments, processing instructions
    /// and child elements are refused, so `a<!---->b` can never be read as `a` (comment injection).
    pub fn text(&self) -> Result<String, XmlError> {
        let mut out = String::new();
        for child in self.children() {
            match child {
                Node::Text(t) => out.push_str(t),
                _ => {
                    return Err(XmlError::MixedContent {
                        element: self.qualified_name(),
                    })
                }
            }
        }
        Ok(out)
    }

    /// The in-scope namespace URI bound to `prefix` (`None` for the default namespace).
    pub fn lookup_namespace(&self, prefix: Option<&str>) -> Option<&'a str> {
        if prefix == Some("xml") {
            return Some(XML_NS);
        }
        let mut cur = Some(*self);
        while let Some(e) = cur {
            if let Some(d) = e.namespace_declarations().find(|d| d.prefix == prefix) {
                return if d.uri.is_empty() { None } else { Some(d.uri) };
            }
            cur = e.parent();
        }
        None
    }

    /// Every namespace binding in scope here, innermost first wins (prefix `None` = default).
    pub fn in_scope_namespaces(&self) -> Vec<(Option<&'a str>, &'a str)> {
        let mut seen: Vec<(Option<&'a str>, &'a str)> = Vec::new();
        let mut cur = Some(*self);
        while let Some(e) = cur {
            for d in e.namespace_declarations() {
                if !seen.iter().any(|(sp, _)| *sp == d.prefix) {
                    seen.push((d.prefix, d.uri));
                }
            }
            cur = e.parent();
        }
        seen.retain(|(_, uri)| !uri.is_empty());
        seen
    }

    /// Resolves a QName-valued attribute or text (such as `xsi:type="xs:string"`) in this scope.
    pub fn resolve_qname(&self, qname: &'a str) -> Option<(Option<&'a str>, &'a str)> {
        match qname.split_once(':') {
            Some((p, local)) => Some((Some(self.lookup_namespace(Some(p))?), local)),
            None => Some((self.lookup_namespace(None), qname)),
        }
    }

    /// Byte range of the whole element in the document source.
    pub fn source_range(&self) -> std::ops::Range<usize> {
        let (start, _, end) = self.data().span;
        start..end
    }

    /// Byte offset just after the start tag (where a first child would go).
    pub fn content_start(&self) -> usize {
        self.data().span.1
    }

    /// The element's source text, exactly as it stands in the document.
    pub fn source_text(&self) -> &'a str {
        &self.doc.source[self.source_range()]
    }
}
