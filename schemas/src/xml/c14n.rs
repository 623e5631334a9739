//! Exclusive XML Canonicalization 1.0 (<http://www.w3.org/2001/10/xml-exc-c14n#>), with and without
//! comments and with an InclusiveNamespaces PrefixList, of any element of a parsed document or of
//! the whole document. The enveloped-signature transform is an option: the excluded subtree is
//! skipped while writing.

use super::tree::{Attribute, Document, Element, Node, NodeId};

pub const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
pub const EXC_C14N_WITH_COMMENTS: &str = "http://www.w3.org/2001/10/xml-exc-c14n#WithComments";

/// Options of one canonicalization.
#[derive(Clone, Debug, Default)]
pub struct C14nOptions<'a> {
    pub with_comments: bool,
    /// Prefixes treated as in inclusive canonicalization; `None` stands for `#default`.
    pub inclusive_prefixes: Vec<Option<&'a str>>,
    /// A subtree to leave out (the enveloped signature).
    pub exclude: Option<NodeId>,
}

impl<'a> C14nOptions<'a> {
    /// Parses an InclusiveNamespaces `PrefixList` attribute value.
    pub fn with_prefix_list(mut self, list: &'a str) -> Self {
        self.inclusive_prefixes = list
            .split_ascii_whitespace()
            .map(|p| if p == "#default" { None } else { Some(p) })
            .collect();
        self
    }
}

/// Canonical form of `apex` and its subtree.
pub fn canonicalize(apex: Element<'_>, options: &C14nOptions<'_>) -> Vec<u8> {
    let mut out = Vec::with_capacity(apex.source_range().len() + 256);
    canonicalize_into(apex, options, &mut out);
    out
}

/// Canonical form of `apex` appended to `out`.
pub fn canonicalize_into(apex: Element<'_>, options: &C14nOptions<'_>, out: &mut Vec<u8>) {
    // Bindings in scope at the apex, from its ancestors, outermost first.
    let mut ancestors = Vec::new();
    let mut cur = apex.parent();
    while let Some(e) = cur {
        ancestors.push(e);
        cur = e.parent();
    }
    let mut scope: Vec<(Option<&str>, &str)> = Vec::new();
    for e in ancestors.iter().rev() {
        for d in e.namespace_declarations() {
            scope.push((d.prefix, d.uri));
        }
    }
    let mut writer = Writer {
        options,
        out,
        scope,
        rendered: Vec::new(),
        wanted: Vec::new(),
        ns_out: Vec::new(),
        attrs: Vec::new(),
    };
    writer.element(apex);
}

/// Canonical form of the whole document (document element plus top-level comments and PIs).
pub fn canonicalize_document(doc: &Document, options: &C14nOptions<'_>) -> Vec<u8> {
    let mut out = Vec::with_capacity(doc.source().len());
    let mut before_root = true;
    for node in doc.top_level() {
        match node {
            Node::Element(e) => {
                canonicalize_into(e, options, &mut out);
                before_root = false;
            }
            Node::Comment(c) if options.with_comments => {
                if !before_root {
                    out.push(b'\n');
                }
                out.extend_from_slice(b"<!--");
                out.extend_from_slice(c.as_bytes());
                out.extend_from_slice(b"-->");
                if before_root {
                    out.push(b'\n');
                }
            }
            Node::ProcessingInstruction { target, data } => {
                if !before_root {
                    out.push(b'\n');
                }
                write_pi(&mut out, target, data);
                if before_root {
                    out.push(b'\n');
                }
            }
            _ => {}
        }
    }
    out
}

struct Writer<'o, 'd, 'p> {
    options: &'o C14nOptions<'p>,
    out: &'o mut Vec<u8>,
    /// Namespace declarations in scope (document order, innermost last).
    scope: Vec<(Option<&'d str>, &'d str)>,
    /// Namespace nodes rendered by output ancestors (innermost last).
    rendered: Vec<(Option<&'d str>, &'d str)>,
    // Scratch lists for one start tag, reused across elements (the start tag is complete before
    // any child is written).
    wanted: Vec<(Option<&'d str>, &'d str)>,
    ns_out: Vec<(Option<&'d str>, &'d str)>,
    attrs: Vec<Attribute<'d>>,
}

impl<'d> Writer<'_, 'd, '_> {
    fn in_scope(&self, prefix: Option<&str>) -> &'d str {
        self.scope
            .iter()
            .rev()
            .find(|(p, _)| *p == prefix)
            .map(|(_, u)| *u)
            .unwrap_or("")
    }

    fn rendered_value(&self, prefix: Option<&str>) -> Option<&'d str> {
        self.rendered
            .iter()
            .rev()
            .find(|(p, _)| *p == prefix)
            .map(|(_, u)| *u)
    }

    fn element(&mut self, e: Element<'d>) {
        if Some(e.node_id()) == self.options.exclude {
            return;
        }
        let scope_len = self.scope.len();
        for d in e.namespace_declarations() {
            self.scope.push((d.prefix, d.uri));
        }
        let rendered_len = self.rendered.len();

        // Namespace nodes to render: those visibly utilized (bound to the URI the parser resolved
        // for the name) plus the inclusive prefixes in scope.
        self.attrs.clear();
        self.attrs.extend(e.attributes());
        self.wanted.clear();
        self.wanted.push((e.prefix(), e.namespace().unwrap_or("")));
        for a in &self.attrs {
            if let (Some(p), Some(uri)) = (a.prefix, a.namespace) {
                if !self.wanted.iter().any(|(wp, _)| *wp == Some(p)) {
                    self.wanted.push((Some(p), uri));
                }
            }
        }
        for p in &self.options.inclusive_prefixes {
            // Take the prefix from the scope so that it lives as long as the document.
            let prefix: Option<&'d str> = match p {
                None => None,
                Some(wanted_prefix) => {
                    match self
                        .scope
                        .iter()
                        .rev()
                        .find(|(sp, _)| *sp == Some(*wanted_prefix))
                    {
                        Some((sp, uri)) if !uri.is_empty() => *sp,
                        _ => continue,
                    }
                }
            };
            if !self.wanted.iter().any(|(wp, _)| *wp == prefix) {
                let uri = self.in_scope(prefix);
                self.wanted.push((prefix, uri));
            }
        }
        self.ns_out.clear();
        for i in 0..self.wanted.len() {
            let (p, uri) = self.wanted[i];
            if p == Some("xml") {
                continue;
            }
            let previous = self.rendered_value(p);
            let render = match p {
                None => match previous {
                    Some(prev) => prev != uri,
                    None => !uri.is_empty(),
                },
                Some(_) => previous != Some(uri),
            };
            if render {
                self.ns_out.push((p, uri));
            }
        }
        self.ns_out
            .sort_unstable_by(|a, b| a.0.unwrap_or("").cmp(b.0.unwrap_or("")));

        self.out.push(b'<');
        write_qname(self.out, e.prefix(), e.local_name());
        for &(p, uri) in &self.ns_out {
            match p {
                Some(p) => {
                    self.out.extend_from_slice(b" xmlns:");
                    self.out.extend_from_slice(p.as_bytes());
                }
                None => self.out.extend_from_slice(b" xmlns"),
            }
            self.out.extend_from_slice(b"=\"");
            escape_attr(self.out, uri);
            self.out.push(b'"');
            self.rendered.push((p, uri));
        }
        if self.attrs.len() > 1 {
            self.attrs.sort_unstable_by(|a, b| {
                (a.namespace.unwrap_or(""), a.local).cmp(&(b.namespace.unwrap_or(""), b.local))
            });
        }
        for a in &self.attrs {
            self.out.push(b' ');
            write_qname(self.out, a.prefix, a.local);
            self.out.extend_from_slice(b"=\"");
            escape_attr(self.out, a.value);
            self.out.push(b'"');
        }
        self.out.push(b'>');

        for child in e.children() {
            match child {
                Node::Element(c) => self.element(c),
                Node::Text(t) => escape_text(self.out, t),
                Node::Comment(c) => {
                    if self.options.with_comments {
                        self.out.extend_from_slice(b"<!--");
                        self.out.extend_from_slice(c.as_bytes());
                        self.out.extend_from_slice(b"-->");
                    }
                }
                Node::ProcessingInstruction { target, data } => write_pi(self.out, target, data),
            }
        }

        self.out.extend_from_slice(b"</");
        write_qname(self.out, e.prefix(), e.local_name());
        self.out.push(b'>');
        self.rendered.truncate(rendered_len);
        self.scope.truncate(scope_len);
    }
}

fn write_qname(out: &mut Vec<u8>, prefix: Option<&str>, local: &str) {
    if let Some(p) = prefix {
        out.extend_from_slice(p.as_bytes());
        out.push(b':');
    }
    out.extend_from_slice(local.as_bytes());
}

fn write_pi(out: &mut Vec<u8>, target: &str, data: &str) {
    out.extend_from_slice(b"<?");
    out.extend_from_slice(target.as_bytes());
    if !data.is_empty() {
        out.push(b' ');
        out.extend_from_slice(data.as_bytes());
    }
    out.extend_from_slice(b"?>");
}

/// Where escaped text goes: the canonicalizer writes bytes, the writer a `String`.
pub(crate) trait Sink {
    fn put(&mut self, s: &str);
}

impl Sink for Vec<u8> {
    fn put(&mut self, s: &str) {
        self.extend_from_slice(s.as_bytes());
    }
}

impl Sink for String {
    fn put(&mut self, s: &str) {
        self.push_str(s);
    }
}

/// Escapes character data as canonical XML requires (and as parses back to the same text).
pub(crate) fn escape_text(out: &mut impl Sink, text: &str) {
    escape(out, text, |b| match b {
        b'&' => Some("&amp;"),
        b'<' => Some("&lt;"),
        b'>' => Some("&gt;"),
        b'\r' => Some("&#xD;"),
        _ => None,
    })
}

/// Escapes an attribute value as canonical XML requires (white space as character references,
/// so that attribute-value normalization leaves it intact).
pub(crate) fn escape_attr(out: &mut impl Sink, value: &str) {
    escape(out, value, |b| match b {
        b'&' => Some("&amp;"),
        b'<' => Some("&lt;"),
        b'"' => Some("&quot;"),
        b'\t' => Some("&#x9;"),
        b'\n' => Some("&#xA;"),
        b'\r' => Some("&#xD;"),
        _ => None,
    })
}

fn escape(out: &mut impl Sink, s: &str, replacement: impl Fn(u8) -> Option<&'static str>) {
    let mut last = 0;
    for (i, b) in s.bytes().enumerate() {
        if let Some(rep) = replacement(b) {
            // Every escaped byte is ASCII, so `i` is a character boundary.
            out.put(&s[last..i]);
            out.put(rep);
            last = i + 1;
        }
    }
    out.put(&s[last..]);
}
