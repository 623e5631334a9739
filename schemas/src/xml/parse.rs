//! The one XML parser of the federation, on quick-xml. It builds the tree of `tree.rs` and refuses
//! everything a SAML or SOAP message never needs and attacks rely on: DTDs, entities other than the
//! five predefined ones, non-UTF-8 input, unbound prefixes, oversized or over-deep documents and
//! duplicate XML IDs.

use std::collections::HashMap;

use quick_xml::events::{BytesStart, Event};
use quick_xml::reader::Reader;
use quick_xml::XmlVersion;

use super::tree::{
    is_id_attribute, AttrData, DeclData, Document, ElementData, NodeData, NodeId, NsIdx, Slot,
    Span, NO_NS, XMLNS_NS, XML_NS,
};
use super::XmlError;

/// Bounds on what the parser accepts.
#[derive(Clone, Copy, Debug)]
pub struct ParseLimits {
    /// Largest accepted document, in bytes.
    pub max_bytes: usize,
    /// Deepest accepted element nesting.
    pub max_depth: usize,
    /// Most attributes (including namespace declarations) on one element.
    pub max_attributes: usize,
    /// Most nodes in one document.
    pub max_nodes: usize,
}

impl Default for ParseLimits {
    fn default() -> Self {
        ParseLimits {
            max_bytes: 256 * 1024,
            max_depth: 64,
            max_attributes: 64,
            max_nodes: 50_000,
        }
    }
}

/// Parses a document with the default limits.
pub fn parse(input: &[u8]) -> Result<Document, XmlError> {
    parse_with(input, &ParseLimits::default())
}

/// Parses a document with explicit limits.
pub fn parse_with(input: &[u8], limits: &ParseLimits) -> Result<Document, XmlError> {
    parse_in_context(input, limits, &[])
}

/// Parses a fragment that may use namespace prefixes bound by its original context (a decrypted
/// element is parsed this way, with the bindings in scope where its `EncryptedData` stood).
pub fn parse_in_context(
    input: &[u8],
    limits: &ParseLimits,
    context: &[(Option<&str>, &str)],
) -> Result<Document, XmlError> {
    if input.len() > limits.max_bytes {
        return Err(XmlError::TooLarge {
            limit: limits.max_bytes,
        });
    }
    let text = std::str::from_utf8(input).map_err(|_| XmlError::NotUtf8)?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut builder = Builder::new(text, limits);
    for (prefix, uri) in context {
        let prefix = builder.push_opt_str(*prefix);
        let uri = builder.intern(uri);
        builder.scope.push((prefix, uri));
    }
    builder.run()
}

struct OpenElement {
    id: NodeId,
    /// Length of the namespace scope before this element (to pop on close).
    scope_len: usize,
}

struct Builder<'s> {
    source: &'s str,
    limits: ParseLimits,
    strings: String,
    namespaces: Vec<Box<str>>,
    nodes: Vec<Slot>,
    attrs: Vec<AttrData>,
    decls: Vec<DeclData>,
    stack: Vec<OpenElement>,
    /// In-scope bindings, innermost last: (prefix span or none, interned URI or `NO_NS` when the
    /// default namespace is undeclared).
    scope: Vec<(Span, NsIdx)>,
    root: Option<NodeId>,
    top_level: Vec<NodeId>,
    ids: HashMap<Box<str>, NodeId>,
    pending_text: String,
    pending_text_start: usize,
}

impl<'s> Builder<'s> {
    fn new(source: &'s str, limits: &ParseLimits) -> Self {
        Builder {
            source,
            limits: *limits,
            strings: String::with_capacity(source.len()),
            namespaces: Vec::new(),
            nodes: Vec::with_capacity(source.len() / 32),
            attrs: Vec::with_capacity(source.len() / 64),
            decls: Vec::new(),
            stack: Vec::new(),
            scope: Vec::new(),
            root: None,
            top_level: Vec::new(),
            ids: HashMap::new(),
            pending_text: String::new(),
            pending_text_start: 0,
        }
    }

    fn push_str(&mut self, s: &str) -> Span {
        let start = self.strings.len() as u32;
        self.strings.push_str(s);
        Span {
            start,
            len: s.len() as u32,
        }
    }

    fn push_opt_str(&mut self, s: Option<&str>) -> Span {
        match s {
            Some(s) => self.push_str(s),
            None => Document::none_span(),
        }
    }

    fn str(&self, span: Span) -> &str {
        let start = span.start as usize;
        &self.strings[start..start + span.len as usize]
    }

    fn intern(&mut self, uri: &str) -> NsIdx {
        match self.namespaces.iter().position(|n| &**n == uri) {
            Some(i) => i as NsIdx,
            None => {
                self.namespaces.push(uri.into());
                (self.namespaces.len() - 1) as NsIdx
            }
        }
    }

    fn run(mut self) -> Result<Document, XmlError> {
        let mut reader = Reader::from_str(self.source);
        let config = reader.config_mut();
        config.check_end_names = true;
        config.check_comments = true;
        config.allow_dangling_amp = false;
        config.allow_unmatched_ends = false;
        config.expand_empty_elements = false;
        config.trim_text(false);
        let mut seen_decl = false;
        loop {
            let pos_before = reader.buffer_position() as usize;
            let event = reader.read_event().map_err(|e| XmlError::Malformed {
                offset: reader.error_position() as usize,
                reason: e.to_string(),
            })?;
            let pos_after = reader.buffer_position() as usize;
            match event {
                Event::Decl(decl) => {
                    if seen_decl || !self.nodes.is_empty() || pos_before != 0 {
                        return Err(malformed(pos_before, "misplaced XML declaration"));
                    }
                    seen_decl = true;
                    if let Some(enc) = decl.encoding() {
                        let enc = enc.map_err(|e| malformed(pos_before, &e.to_string()))?;
                        if !enc.eq_ignore_ascii_case("utf-8") {
                            return Err(XmlError::UnsupportedEncoding(enc.to_string()));
                        }
                    }
                    let version = decl
                        .version()
                        .map_err(|e| malformed(pos_before, &e.to_string()))?;
                    if &*version != "1.0" {
                        return Err(XmlError::UnsupportedVersion(version.to_string()));
                    }
                }
                Event::DocType(_) => return Err(XmlError::Doctype),
                Event::Start(start) => {
                    self.flush_text()?;
                    self.open(&start, pos_before, pos_after, false)?;
                }
                Event::Empty(start) => {
                    self.flush_text()?;
                    self.open(&start, pos_before, pos_after, true)?;
                }
                Event::End(_) => {
                    self.flush_text()?;
                    let open = self
                        .stack
                        .pop()
                        .ok_or_else(|| malformed(pos_before, "unexpected end tag"))?;
                    self.close(open, pos_after);
                }
                Event::Text(t) => {
                    self.start_text(pos_before);
                    self.pending_text.push_str(&t.xml10_content());
                }
                Event::CData(c) => {
                    if self.stack.is_empty() {
                        return Err(malformed(pos_before, "CDATA outside the document element"));
                    }
                    self.start_text(pos_before);
                    self.pending_text.push_str(&c.xml10_content());
                }
                Event::GeneralRef(r) => {
                    self.start_text(pos_before);
                    if r.is_char_ref() {
                        match r.resolve_char_ref() {
                            Ok(Some(c)) if is_xml_char(c) => self.pending_text.push(c),
                            _ => return Err(malformed(pos_before, "invalid character reference")),
                        }
                    } else {
                        let name = r.xml10_content();
                        match predefined_entity(&name) {
                            Some(s) => self.pending_text.push_str(s),
                            None => return Err(XmlError::Entity(name.to_string())),
                        }
                    }
                }
                Event::Comment(c) => {
                    self.flush_text()?;
                    let span = self.push_str(&c.xml10_content());
                    self.push_node(NodeData::Comment(span))?;
                }
                Event::PI(pi) => {
                    self.flush_text()?;
                    if pi.target().eq_ignore_ascii_case("xml") {
                        return Err(malformed(pos_before, "misplaced XML declaration"));
                    }
                    let target = self.push_str(pi.target());
                    let data = self.push_str(pi.content().trim_start());
                    self.push_node(NodeData::Pi { target, data })?;
                }
                Event::Eof => break,
            }
        }
        self.flush_text()?;
        if !self.stack.is_empty() {
            return Err(malformed(self.source.len(), "unclosed element"));
        }
        let root = self.root.ok_or(XmlError::Empty)?;
        Ok(Document {
            source: self.source.to_string(),
            strings: self.strings,
            namespaces: self.namespaces,
            nodes: self.nodes,
            attrs: self.attrs,
            decls: self.decls,
            root,
            top_level: self.top_level,
            ids: self.ids,
        })
    }

    fn start_text(&mut self, pos: usize) {
        if self.pending_text.is_empty() {
            self.pending_text_start = pos;
        }
    }

    fn push_node(&mut self, data: NodeData) -> Result<NodeId, XmlError> {
        if self.nodes.len() >= self.limits.max_nodes {
            return Err(XmlError::TooManyNodes {
                limit: self.limits.max_nodes,
            });
        }
        let id = NodeId(self.nodes.len() as u32);
        let parent = self.stack.last().map(|o| o.id);
        self.nodes.push(Slot {
            parent,
            next_sibling: None,
            data,
        });
        match parent {
            Some(p) => {
                let previous = match &mut self.nodes[p.idx()].data {
                    NodeData::Element(e) => {
                        let previous = e.last_child.replace(id);
                        if previous.is_none() {
                            e.first_child = Some(id);
                        }
                        previous
                    }
                    _ => unreachable!("only elements are pushed on the stack"),
                };
                if let Some(prev) = previous {
                    self.nodes[prev.idx()].next_sibling = Some(id);
                }
            }
            None => self.top_level.push(id),
        }
        Ok(id)
    }

    fn flush_text(&mut self) -> Result<(), XmlError> {
        if self.pending_text.is_empty() {
            return Ok(());
        }
        if self.stack.is_empty() {
            // Outside the document element only white space may stand.
            if self
                .pending_text
                .bytes()
                .any(|c| !matches!(c, b' ' | b'\t' | b'\n' | b'\r'))
            {
                return Err(malformed(
                    self.pending_text_start,
                    "text outside the document element",
                ));
            }
            self.pending_text.clear();
            return Ok(());
        }
        if let Some(bad) = first_non_xml_char(&self.pending_text) {
            return Err(malformed(
                self.pending_text_start,
                &format!("character U+{:04X} is not allowed in XML", bad as u32),
            ));
        }
        let start = self.strings.len() as u32;
        self.strings.push_str(&self.pending_text);
        let span = Span {
            start,
            len: self.pending_text.len() as u32,
        };
        self.pending_text.clear();
        self.push_node(NodeData::Text(span))?;
        Ok(())
    }

    /// The in-scope URI of `prefix` (`None` = default namespace), `NO_NS` when unbound.
    fn lookup(&self, prefix: Option<&str>) -> NsIdx {
        self.scope
            .iter()
            .rev()
            .find(|(p, _)| match prefix {
                Some(wanted) => p.start != u32::MAX && self.str(*p) == wanted,
                None => p.start == u32::MAX,
            })
            .map(|(_, uri)| *uri)
            .unwrap_or(NO_NS)
    }

    fn resolve_prefix(&mut self, prefix: &str) -> Result<NsIdx, XmlError> {
        if prefix == "xml" {
            return Ok(self.intern(XML_NS));
        }
        match self.lookup(Some(prefix)) {
            NO_NS => Err(XmlError::UnboundPrefix(prefix.to_string())),
            ns => Ok(ns),
        }
    }

    fn open(
        &mut self,
        start: &BytesStart<'_>,
        pos_before: usize,
        pos_after: usize,
        empty: bool,
    ) -> Result<(), XmlError> {
        if self.stack.is_empty() && self.root.is_some() {
            return Err(malformed(pos_before, "more than one document element"));
        }
        if self.stack.len() >= self.limits.max_depth {
            return Err(XmlError::TooDeep {
                limit: self.limits.max_depth,
            });
        }
        let qname = start.name();
        let raw_name: &str = qname.as_ref();
        let (prefix, local) = split_qname(raw_name, pos_before)?;
        let scope_len = self.scope.len();
        let attrs_start = self.attrs.len() as u32;
        let decls_start = self.decls.len() as u32;

        // Namespace declarations go into the scope as they come; ordinary attributes are stored
        // with their namespace resolved after the loop, once every declaration is known.
        let mut count = 0;
        for attr in start.attributes().with_checks(true) {
            let attr = attr.map_err(|e| malformed(pos_before, &e.to_string()))?;
            count += 1;
            if count > self.limits.max_attributes {
                return Err(XmlError::TooManyAttributes {
                    limit: self.limits.max_attributes,
                });
            }
            let value = attr
                .normalized_value(XmlVersion::Implicit1_0)
                .map_err(|e| match e {
                    quick_xml::Error::Escape(
                        quick_xml::escape::EscapeError::UnrecognizedEntity(_, name),
                    ) => XmlError::Entity(name),
                    other => malformed(pos_before, &other.to_string()),
                })?;
            if let Some(bad) = first_non_xml_char(&value) {
                return Err(malformed(
                    pos_before,
                    &format!("character U+{:04X} is not allowed in XML", bad as u32),
                ));
            }
            let key: &str = attr.key.as_ref();
            let (aprefix, alocal) = split_qname(key, pos_before)?;
            match (aprefix, alocal) {
                (None, "xmlns") => {
                    if value == XML_NS || value == XMLNS_NS {
                        return Err(XmlError::Namespace("reserved namespace as default".into()));
                    }
                    let uri = if value.is_empty() {
                        NO_NS
                    } else {
                        self.intern(&value)
                    };
                    self.declare(Document::none_span(), uri);
                }
                (Some("xmlns"), p) => {
                    if value.is_empty() {
                        return Err(XmlError::Namespace(format!("prefix {p} undeclared")));
                    }
                    if p == "xmlns" || (p == "xml") != (value == XML_NS) || value == XMLNS_NS {
                        return Err(XmlError::Namespace(format!(
                            "reserved prefix or URI for {p}"
                        )));
                    }
                    let prefix = self.push_str(p);
                    let uri = self.intern(&value);
                    if p == "xml" {
                        // xmlns:xml="…XML_NS" is allowed and changes nothing; keep it out of the
                        // scope and the declarations.
                        continue;
                    }
                    self.declare(prefix, uri);
                }
                _ => {
                    let prefix = self.push_opt_str(aprefix);
                    let local = self.push_str(alocal);
                    let value = self.push_str(&value);
                    self.attrs.push(AttrData {
                        prefix,
                        local,
                        ns: NO_NS,
                        value,
                    });
                }
            }
        }
        let attrs_end = self.attrs.len() as u32;
        let decls_end = self.decls.len() as u32;

        let ns = match prefix {
            Some(p) => self.resolve_prefix(p)?,
            None => self.lookup(None),
        };
        for i in attrs_start as usize..attrs_end as usize {
            let a = self.attrs[i];
            if a.prefix.start != u32::MAX {
                let p = self.str(a.prefix).to_string();
                self.attrs[i].ns = self.resolve_prefix(&p)?;
            }
            let (ns_i, local_i) = (self.attrs[i].ns, self.str(a.local));
            let duplicate = self.attrs[attrs_start as usize..i]
                .iter()
                .any(|b| b.ns == ns_i && self.str(b.local) == local_i);
            if duplicate {
                return Err(XmlError::DuplicateAttribute(local_i.to_string()));
            }
        }

        let prefix = self.push_opt_str(prefix);
        let local = self.push_str(local);
        let id = self.push_node(NodeData::Element(ElementData {
            prefix,
            local,
            ns,
            attrs: (attrs_start, attrs_end),
            decls: (decls_start, decls_end),
            first_child: None,
            last_child: None,
            span: (pos_before, pos_after, pos_after),
        }))?;
        if self.stack.is_empty() {
            self.root = Some(id);
        }
        // Register XML IDs; a second element or attribute with the same ID is refused.
        for i in attrs_start as usize..attrs_end as usize {
            let a = self.attrs[i];
            let ns = (a.ns != NO_NS).then(|| &*self.namespaces[a.ns as usize]);
            if is_id_attribute(ns, self.str(a.local)) {
                let value: Box<str> = self.str(a.value).into();
                if self.ids.insert(value.clone(), id).is_some() {
                    return Err(XmlError::DuplicateId(value.into()));
                }
            }
        }
        let open = OpenElement { id, scope_len };
        if empty {
            self.close(open, pos_after);
        } else {
            self.stack.push(open);
        }
        Ok(())
    }

    fn declare(&mut self, prefix: Span, uri: NsIdx) {
        self.decls.push(DeclData { prefix, uri });
        self.scope.push((prefix, uri));
    }

    fn close(&mut self, open: OpenElement, end: usize) {
        self.scope.truncate(open.scope_len);
        if let NodeData::Element(e) = &mut self.nodes[open.id.idx()].data {
            e.span.2 = end;
        }
    }
}

fn malformed(offset: usize, reason: &str) -> XmlError {
    XmlError::Malformed {
        offset,
        reason: reason.to_string(),
    }
}

fn split_qname(raw: &str, offset: usize) -> Result<(Option<&str>, &str), XmlError> {
    let bad = || XmlError::Malformed {
        offset,
        reason: format!("invalid name {raw:?}"),
    };
    match raw.split_once(':') {
        Some((p, l)) => {
            if l.contains(':') || !is_name(p) || !is_name(l) {
                return Err(bad());
            }
            Ok((Some(p), l))
        }
        None => {
            if !is_name(raw) {
                return Err(bad());
            }
            Ok((None, raw))
        }
    }
}

/// An NCName check with an ASCII fast path (almost every name in practice).
fn is_name(s: &str) -> bool {
    let bytes = s.as_bytes();
    match bytes.first() {
        None => false,
        Some(b) if b.is_ascii() => {
            if !(b.is_ascii_alphabetic() || *b == b'_') {
                return false;
            }
            if bytes
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
            {
                return true;
            }
            is_name_unicode(s)
        }
        Some(_) => is_name_unicode(s),
    }
}

fn is_name_unicode(s: &str) -> bool {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) if c.is_alphabetic() || c == '_' => {}
        _ => return false,
    }
    chars.all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | '\u{b7}'))
}

/// The first character XML 1.0 forbids, checking bytes first: in valid UTF-8 only C0 controls,
/// U+FFFE and U+FFFF (bytes EF BF BE/BF) can be forbidden, so plain text needs no char decoding.
fn first_non_xml_char(s: &str) -> Option<char> {
    let suspicious = s
        .bytes()
        .any(|b| (b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r')) || b == 0xEF);
    if !suspicious {
        return None;
    }
    s.chars().find(|&c| !is_xml_char(c))
}

fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}' | '\u{10000}'..)
}

fn predefined_entity(name: &str) -> Option<&'static str> {
    Some(match name {
        "lt" => "<",
        "gt" => ">",
        "amp" => "&",
        "apos" => "'",
        "quot" => "\"",
        _ => return None,
    })
}
