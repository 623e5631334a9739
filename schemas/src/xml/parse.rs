//! The one XML parser of the federation, on quick-xml. It builds the tree of `tree.rs` and refuses
//! everything a SAML or SOAP message never needs and attacks rely on: DTDs, entities other than the
//! five predefined ones, non-UTF-8 input, unbound prefixes, oversized or over-deep documents and
//! duplicate XML IDs.

use std::collections::HashMap;

use quick_xml::events::{BytesStart, Event};
use quick_xml::name::QName;
use quick_xml::reader::Reader;
use quick_xml::XmlVersion;

use super::tree::{
    is_id_attribute, Attribute, Document, ElementData, NodeData, NodeId, NsDecl, Slot, XMLNS_NS,
    XML_NS,
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
    Builder::new(text, limits, context).run()
}

struct OpenElement {
    id: NodeId,
    /// Namespace scope entries added by this element (to pop on close).
    scope_len: usize,
}

struct Builder<'s> {
    source: &'s str,
    limits: ParseLimits,
    nodes: Vec<Slot>,
    stack: Vec<OpenElement>,
    /// In-scope bindings, innermost last: (prefix, uri); an empty uri undeclares the default.
    scope: Vec<(Option<Box<str>>, Box<str>)>,
    root: Option<NodeId>,
    top_level: Vec<NodeId>,
    ids: HashMap<Box<str>, NodeId>,
    pending_text: String,
    pending_text_start: usize,
}

impl<'s> Builder<'s> {
    fn new(source: &'s str, limits: &ParseLimits, context: &[(Option<&str>, &str)]) -> Self {
        Builder {
            source,
            limits: *limits,
            nodes: Vec::with_capacity(source.len() / 24),
            stack: Vec::new(),
            scope: context
                .iter()
                .map(|(p, u)| (p.map(Into::into), (*u).into()))
                .collect(),
            root: None,
            top_level: Vec::new(),
            ids: HashMap::new(),
            pending_text: String::new(),
            pending_text_start: 0,
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
                        return Err(self.malformed(pos_before, "misplaced XML declaration"));
                    }
                    seen_decl = true;
                    if let Some(enc) = decl.encoding() {
                        let enc = enc.map_err(|e| self.malformed(pos_before, &e.to_string()))?;
                        if !enc.eq_ignore_ascii_case("utf-8") {
                            return Err(XmlError::UnsupportedEncoding(enc.to_string()));
                        }
                    }
                    let version = decl
                        .version()
                        .map_err(|e| self.malformed(pos_before, &e.to_string()))?;
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
                        .ok_or_else(|| self.malformed(pos_before, "unexpected end tag"))?;
                    self.close(open, pos_after);
                }
                Event::Text(t) => {
                    if self.pending_text.is_empty() {
                        self.pending_text_start = pos_before;
                    }
                    self.pending_text.push_str(&t.xml10_content());
                }
                Event::CData(c) => {
                    if self.stack.is_empty() {
                        return Err(self.malformed(pos_before, "CDATA outside the document element"));
                    }
                    if self.pending_text.is_empty() {
                        self.pending_text_start = pos_before;
                    }
                    self.pending_text.push_str(&c.xml10_content());
                }
                Event::GeneralRef(r) => {
                    if self.pending_text.is_empty() {
                        self.pending_text_start = pos_before;
                    }
                    if r.is_char_ref() {
                        match r.resolve_char_ref() {
                            Ok(Some(c)) if is_xml_char(c) => self.pending_text.push(c),
                            _ => return Err(self.malformed(pos_before, "invalid character reference")),
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
                    let text = c.xml10_content().into_owned();
                    self.push_node(NodeData::Comment(text.into()))?;
                }
                Event::PI(pi) => {
                    self.flush_text()?;
                    let target = pi.target().to_string();
                    if target.eq_ignore_ascii_case("xml") {
                        return Err(self.malformed(pos_before, "misplaced XML declaration"));
                    }
                    let data = pi.content().trim_start().to_string();
                    self.push_node(NodeData::Pi {
                        target: target.into(),
                        data: data.into(),
                    })?;
                }
                Event::Eof => break,
            }
        }
        self.flush_text()?;
        if !self.stack.is_empty() {
            return Err(self.malformed(self.source.len(), "unclosed element"));
        }
        let root = self.root.ok_or(XmlError::Empty)?;
        Ok(Document {
            source: self.source.to_string(),
            nodes: self.nodes,
            root,
            top_level: self.top_level,
            ids: self.ids,
        })
    }

    fn malformed(&self, offset: usize, reason: &str) -> XmlError {
        XmlError::Malformed {
            offset,
            reason: reason.to_string(),
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
        self.nodes.push(Slot { parent, data });
        match parent {
            Some(p) => match &mut self.nodes[p.idx()].data {
                NodeData::Element(e) => e.children.push(id),
                _ => unreachable!("only elements are pushed on the stack"),
            },
            None => self.top_level.push(id),
        }
        Ok(id)
    }

    fn flush_text(&mut self) -> Result<(), XmlError> {
        if self.pending_text.is_empty() {
            return Ok(());
        }
        let text = std::mem::take(&mut self.pending_text);
        if self.stack.is_empty() {
            // Outside the document element only white space may stand.
            if text.chars().any(|c| !matches!(c, ' ' | '\t' | '\n' | '\r')) {
                return Err(self.malformed(
                    self.pending_text_start,
                    "text outside the document element",
                ));
            }
            return Ok(());
        }
        if let Some(bad) = text.chars().find(|&c| !is_xml_char(c)) {
            return Err(self.malformed(
                self.pending_text_start,
                &format!("character U+{:04X} is not allowed in XML", bad as u32),
            ));
        }
        self.push_node(NodeData::Text(text.into()))?;
        Ok(())
    }

    fn lookup(&self, prefix: Option<&str>) -> Option<&str> {
        if prefix == Some("xml") {
            return Some(XML_NS);
        }
        self.scope
            .iter()
            .rev()
            .find(|(p, _)| p.as_deref() == prefix)
            .map(|(_, u)| &**u)
            .filter(|u| !u.is_empty())
    }

    fn open(
        &mut self,
        start: &BytesStart<'_>,
        pos_before: usize,
        pos_after: usize,
        empty: bool,
    ) -> Result<(), XmlError> {
        if self.stack.is_empty() && self.root.is_some() {
            return Err(self.malformed(pos_before, "more than one document element"));
        }
        if self.stack.len() >= self.limits.max_depth {
            return Err(XmlError::TooDeep {
                limit: self.limits.max_depth,
            });
        }
        let (prefix, local) = split_qname(start.name(), pos_before)?;
        let scope_len = self.scope.len();

        // First pass: namespace declarations, so that they apply to the element's own name and
        // attributes whatever their order.
        let mut ns_decls = Vec::new();
        let mut raw_attrs: Vec<(Option<Box<str>>, Box<str>, Box<str>)> = Vec::new();
        for attr in start.attributes().with_checks(true) {
            let attr = attr.map_err(|e| self.malformed(pos_before, &e.to_string()))?;
            if ns_decls.len() + raw_attrs.len() >= self.limits.max_attributes {
                return Err(XmlError::TooManyAttributes {
                    limit: self.limits.max_attributes,
                });
            }
            let value = attr
                .normalized_value(XmlVersion::Implicit1_0)
                .map_err(|e| match e {
                    quick_xml::Error::Escape(quick_xml::escape::EscapeError::UnrecognizedEntity(
                        _,
                        name,
                    )) => XmlError::Entity(name),
                    other => self.malformed(pos_before, &other.to_string()),
                })?;
            if let Some(bad) = value.chars().find(|&c| !is_xml_char(c)) {
                return Err(self.malformed(
                    pos_before,
                    &format!("character U+{:04X} is not allowed in XML", bad as u32),
                ));
            }
            let (aprefix, alocal) = split_qname(attr.key, pos_before)?;
            match (aprefix.as_deref(), &*alocal) {
                (None, "xmlns") => {
                    if &*value == XML_NS || &*value == XMLNS_NS {
                        return Err(XmlError::Namespace("reserved namespace as default".into()));
                    }
                    ns_decls.push(NsDecl {
                        prefix: None,
                        uri: value.as_ref().into(),
                    });
                }
                (Some("xmlns"), p) => {
                    if value.is_empty() {
                        return Err(XmlError::Namespace(format!("prefix {p} undeclared")));
                    }
                    if p == "xmlns" || (p == "xml") != (&*value == XML_NS) || &*value == XMLNS_NS {
                        return Err(XmlError::Namespace(format!("reserved prefix or URI for {p}")));
                    }
                    ns_decls.push(NsDecl {
                        prefix: Some(p.into()),
                        uri: value.as_ref().into(),
                    });
                }
                _ => raw_attrs.push((aprefix, alocal, value.as_ref().into())),
            }
        }
        for d in &ns_decls {
            // xmlns:xml="…XML_NS" is allowed but changes nothing; keep it out of the scope.
            if d.prefix.as_deref() != Some("xml") {
                self.scope.push((d.prefix.clone(), d.uri.clone()));
            }
        }

        let namespace = match prefix.as_deref() {
            Some(p) => Some(
                self.lookup(Some(p))
                    .ok_or_else(|| XmlError::UnboundPrefix(p.to_string()))?
                    .into(),
            ),
            None => self.lookup(None).map(Into::into),
        };
        let mut attributes = Vec::with_capacity(raw_attrs.len());
        for (aprefix, alocal, value) in raw_attrs {
            let ans: Option<Box<str>> = match aprefix.as_deref() {
                Some(p) => Some(
                    self.lookup(Some(p))
                        .ok_or_else(|| XmlError::UnboundPrefix(p.to_string()))?
                        .into(),
                ),
                None => None,
            };
            if attributes
                .iter()
                .any(|a: &Attribute| a.local == alocal && a.namespace == ans)
            {
                return Err(XmlError::DuplicateAttribute(alocal.to_string()));
            }
            attributes.push(Attribute {
                prefix: aprefix,
                local: alocal,
                namespace: ans,
                value,
            });
        }

        let id = self.push_node(NodeData::Element(ElementData {
            prefix,
            local,
            namespace,
            ns_decls,
            attributes,
            children: Vec::new(),
            span: (pos_before, pos_after, pos_after),
        }))?;
        if self.stack.is_empty() {
            self.root = Some(id);
        }
        // Register XML IDs; a second element (or attribute) with the same ID is refused.
        if let NodeData::Element(e) = &self.nodes[id.idx()].data {
            for a in e.attributes.iter().filter(|a| is_id_attribute(a)) {
                if self.ids.insert(a.value.clone(), id).is_some_and(|prev| prev != id)
                    || e.attributes
                        .iter()
                        .filter(|b| is_id_attribute(b) && b.value == a.value)
                        .count()
                        > 1
                {
                    return Err(XmlError::DuplicateId(a.value.to_string()));
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

    fn close(&mut self, open: OpenElement, end: usize) {
        self.scope.truncate(open.scope_len);
        if let NodeData::Element(e) = &mut self.nodes[open.id.idx()].data {
            e.span.2 = end;
        }
    }
}

fn split_qname(name: QName<'_>, offset: usize) -> Result<(Option<Box<str>>, Box<str>), XmlError> {
    let raw: &str = name.as_ref();
    let bad = || XmlError::Malformed {
        offset,
        reason: format!("invalid name {raw:?}"),
    };
    match raw.split_once(':') {
        Some((p, l)) => {
            if p.is_empty() || l.is_empty() || l.contains(':') || !is_name(p) || !is_name(l) {
                return Err(bad());
            }
            Ok((Some(p.into()), l.into()))
        }
        None => {
            if !is_name(raw) {
                return Err(bad());
            }
            Ok((None, raw.into()))
        }
    }
}

fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) if c.is_alphabetic() || c == '_' => {}
        _ => return false,
    }
    chars.all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | '\u{b7}'))
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
