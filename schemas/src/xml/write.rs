//! A small XML writer for the typed messages: it escapes text and attribute values so that what is
//! written parses back to the same values, including tabs and line breaks in attributes.

use super::c14n::{escape_attr, escape_text};

/// Writes elements in order; start tags stay open for attributes until content or `end` follows.
#[derive(Default)]
pub struct XmlWriter {
    out: String,
    open: Vec<String>,
    start_tag_open: bool,
}

impl XmlWriter {
    pub fn new() -> Self {
        XmlWriter {
            out: String::with_capacity(2048),
            open: Vec::new(),
            start_tag_open: false,
        }
    }

    fn close_start_tag(&mut self) {
        if self.start_tag_open {
            self.out.push('>');
            self.start_tag_open = false;
        }
    }

    /// Opens an element `qname` (`prefix:local` or `local`).
    pub fn start(&mut self, qname: &str) -> &mut Self {
        self.close_start_tag();
        self.out.push('<');
        self.out.push_str(qname);
        self.open.push(qname.to_string());
        self.start_tag_open = true;
        self
    }

    /// Declares a namespace on the element just opened (`None` declares the default namespace).
    pub fn ns(&mut self, prefix: Option<&str>, uri: &str) -> &mut Self {
        match prefix {
            Some(p) => self.attr(&format!("xmlns:{p}"), uri),
            None => self.attr("xmlns", uri),
        }
    }

    /// Adds an attribute to the element just opened.
    pub fn attr(&mut self, qname: &str, value: &str) -> &mut Self {
        debug_assert!(self.start_tag_open, "attribute written outside a start tag");
        self.out.push(' ');
        self.out.push_str(qname);
        self.out.push_str("=\"");
        escape_attr(&mut self.out, value);
        self.out.push('"');
        self
    }

    /// Adds an attribute when there is a value.
    pub fn attr_opt(&mut self, qname: &str, value: Option<&str>) -> &mut Self {
        if let Some(v) = value {
            self.attr(qname, v);
        }
        self
    }

    /// Writes character data.
    pub fn text(&mut self, text: &str) -> &mut Self {
        self.close_start_tag();
        escape_text(&mut self.out, text);
        self
    }

    /// Writes an already serialized, well-formed element (a signed assertion, a token forwarded
    /// byte-exact).
    pub fn raw(&mut self, xml: &str) -> &mut Self {
        self.close_start_tag();
        self.out.push_str(xml);
        self
    }

    /// Closes the innermost open element.
    pub fn end(&mut self) -> &mut Self {
        let name = self.open.pop().expect("end() without an open element");
        if self.start_tag_open {
            self.out.push_str("/>");
            self.start_tag_open = false;
        } else {
            self.out.push_str("</");
            self.out.push_str(&name);
            self.out.push('>');
        }
        self
    }

    /// `<qname>text</qname>`.
    pub fn leaf(&mut self, qname: &str, text: &str) -> &mut Self {
        self.start(qname).text(text).end()
    }

    /// The document written so far; every element must be closed.
    pub fn finish(mut self) -> String {
        self.close_start_tag();
        debug_assert!(self.open.is_empty(), "unclosed elements: {:?}", self.open);
        self.out
    }
}
