//! The `wsse:Security` header as ID-WSF 2.0 uses it (WSS SAML Token Profile 1.1):
//!
//! ```text
//! wsse:Security S:mustUnderstand="1"
//!   wsu:Timestamp wsu:Id   (wsu:Created, wsu:Expires?)
//!   saml:Assertion | saml:EncryptedAssertion           the token, opaque
//!   wsse:SecurityTokenReference wsu:Id wsse11:TokenType=…#SAMLV2.0
//!     wsse:KeyIdentifier ValueType=…#SAMLID            assertion ID
//!   ds:Signature                                        opaque, made by `dsig`
//! ```
//! The children are read in any order (WSS does not fix one) but each at most once; anything else
//! (a `BinarySecurityToken`, a second assertion) is refused: the profile's mechanisms are Bearer
//! and SAMLV2, and an extra token is a place to hide the one that was not checked.

use time::{Duration, OffsetDateTime};

use super::epr::SamlToken;
use super::read::{self, Seq};
use super::{Decl, IdwsfError, IdwsfXml};
use crate::ns;
use crate::xml::{Element, XmlWriter};

/// `wsse11:TokenType` of a SAML 2.0 token.
pub const TOKEN_TYPE_SAML_V2: &str =
    "http://docs.oasis-open.org/wss/oasis-wss-saml-token-profile-1.1#SAMLV2.0";
/// `wsse:KeyIdentifier/@ValueType` naming a SAML 2.0 assertion by its ID.
pub const VALUE_TYPE_SAML_ID: &str =
    "http://docs.oasis-open.org/wss/oasis-wss-saml-token-profile-1.1#SAMLID";

/// Reads an xs:dateTime; a time zone is required (WSS timestamps are UTC), so that the instant is
/// unambiguous.
pub fn parse_date_time(value: &str, what: &'static str) -> Result<OffsetDateTime, IdwsfError> {
    let value = value.trim();
    let zoned = value.ends_with('Z')
        || value
            .get(value.len().saturating_sub(6)..)
            .is_some_and(|z| z.starts_with(['+', '-']));
    crate::saml::parse_xs_datetime(value)
        .filter(|_| zoned)
        .ok_or_else(|| IdwsfError::InvalidValue {
            what,
            value: value.to_string(),
            reason: "not an xs:dateTime with timezone",
        })
}

/// Writes an instant as xs:dateTime in UTC, whole seconds.
pub fn format_date_time(t: OffsetDateTime) -> String {
    crate::saml::format_xs_datetime(t)
}

/// `wsu:Timestamp`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Timestamp {
    pub id: Option<String>,
    pub created: OffsetDateTime,
    pub expires: Option<OffsetDateTime>,
}

impl Timestamp {
    /// Created now, expiring after `lifetime`; seconds resolution (as peers write it).
    pub fn new(now: OffsetDateTime, lifetime: Duration) -> Self {
        let created = now.replace_nanosecond(0).unwrap_or(now);
        Timestamp {
            id: None,
            created,
            expires: Some(created + lifetime),
        }
    }

    /// Refuses a message created more than `window` before or after `now`, or expired more than
    /// `window` ago (`window` absorbs clock skew; 60–300 s, not ZXID's hours).
    pub fn check(&self, now: OffsetDateTime, window: Duration) -> Result<(), IdwsfError> {
        let stale = |why: String| Err(IdwsfError::StaleMessage(why));
        if self.created > now + window {
            return stale(format!(
                "created {} is in the future",
                format_date_time(self.created)
            ));
        }
        if self.created < now - window {
            return stale(format!(
                "created {} is older than {} s",
                format_date_time(self.created),
                window.whole_seconds()
            ));
        }
        if let Some(expires) = self.expires {
            if expires < self.created {
                return stale("expires before it was created".to_string());
            }
            if expires + window <= now {
                return stale(format!("expired at {}", format_date_time(expires)));
            }
        }
        Ok(())
    }

    fn read(e: Element<'_>) -> Result<Self, IdwsfError> {
        let mut seq = Seq::new(e, "wsu:Timestamp")?;
        let created = seq.req(ns::WSU, "Created", "wsu:Created")?;
        let expires = seq.opt(ns::WSU, "Expires");
        seq.others(ns::WSU);
        seq.end()?;
        Ok(Timestamp {
            id: read::wsu_id(e),
            created: parse_date_time(&created.text()?, "wsu:Created")?,
            expires: expires
                .map(|x| parse_date_time(&x.text()?, "wsu:Expires"))
                .transpose()?,
        })
    }
}

impl IdwsfXml for Timestamp {
    const NAMESPACES: &'static [(&'static str, &'static str)] = &[("wsu", ns::WSU)];

    /// Any problem with the timestamp is answered `StaleMsg` (§4.4 step 4).
    fn from_element(e: Element<'_>) -> Result<Self, IdwsfError> {
        read::expect(e, ns::WSU, "Timestamp", "wsu:Timestamp")?;
        Self::read(e).map_err(|err| match err {
            stale @ IdwsfError::StaleMessage(_) => stale,
            other => IdwsfError::StaleMessage(other.to_string()),
        })
    }

    fn write_with(&self, w: &mut XmlWriter, decl: Decl) {
        w.start("wsu:Timestamp");
        decl.apply(w);
        w.attr_opt("wsu:Id", self.id.as_deref());
        w.leaf("wsu:Created", &format_date_time(self.created));
        if let Some(x) = self.expires {
            w.leaf("wsu:Expires", &format_date_time(x));
        }
        w.end();
    }
}

/// How a `wsse:SecurityTokenReference` names its token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenReference {
    /// `wsse:KeyIdentifier` (for SAML: the assertion ID, ValueType [`VALUE_TYPE_SAML_ID`]).
    KeyIdentifier {
        value: String,
        value_type: Option<String>,
    },
    /// `wsse:Reference URI="#…"`.
    Reference {
        uri: String,
        value_type: Option<String>,
    },
}

/// `wsse:SecurityTokenReference` (one reference).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecurityTokenReference {
    pub id: Option<String>,
    /// `wsse11:TokenType` (Danish stacks add [`TOKEN_TYPE_SAML_V2`]).
    pub token_type: Option<String>,
    pub reference: TokenReference,
}

impl SecurityTokenReference {
    /// The ZXID form: KeyIdentifier with the assertion ID, typed as a SAML 2.0 token.
    pub fn saml_assertion_id(assertion_id: impl Into<String>) -> Self {
        SecurityTokenReference {
            id: None,
            token_type: Some(TOKEN_TYPE_SAML_V2.to_string()),
            reference: TokenReference::KeyIdentifier {
                value: assertion_id.into(),
                value_type: Some(VALUE_TYPE_SAML_ID.to_string()),
            },
        }
    }
}

impl IdwsfXml for SecurityTokenReference {
    const NAMESPACES: &'static [(&'static str, &'static str)] =
        &[("wsse", ns::WSSE), ("wsse11", ns::WSSE11), ("wsu", ns::WSU)];

    fn from_element(e: Element<'_>) -> Result<Self, IdwsfError> {
        const NAME: &str = "wsse:SecurityTokenReference";
        read::expect(e, ns::WSSE, "SecurityTokenReference", NAME)?;
        let mut seq = Seq::new(e, NAME)?;
        let reference = if let Some(k) = seq.opt(ns::WSSE, "KeyIdentifier") {
            TokenReference::KeyIdentifier {
                value: read::token(k, "wsse:KeyIdentifier")?,
                value_type: read::opt_attr(k, "ValueType", "wsse:KeyIdentifier@ValueType")?,
            }
        } else if let Some(r) = seq.opt(ns::WSSE, "Reference") {
            TokenReference::Reference {
                uri: read::req_attr(r, "URI", "wsse:Reference", "wsse:Reference@URI")?,
                value_type: read::opt_attr(r, "ValueType", "wsse:Reference@ValueType")?,
            }
        } else {
            return Err(IdwsfError::MissingElement {
                parent: NAME,
                child: "wsse:KeyIdentifier or wsse:Reference",
            });
        };
        seq.end()?;
        Ok(SecurityTokenReference {
            id: read::wsu_id(e),
            token_type: e
                .attr_ns(ns::WSSE11, "TokenType")
                .map(|t| t.trim().to_string()),
            reference,
        })
    }

    fn write_with(&self, w: &mut XmlWriter, decl: Decl) {
        w.start("wsse:SecurityTokenReference");
        decl.apply(w);
        w.attr_opt("wsu:Id", self.id.as_deref())
            .attr_opt("wsse11:TokenType", self.token_type.as_deref());
        match &self.reference {
            TokenReference::KeyIdentifier { value, value_type } => {
                w.start("wsse:KeyIdentifier")
                    .attr_opt("ValueType", value_type.as_deref())
                    .text(value)
                    .end();
            }
            TokenReference::Reference { uri, value_type } => {
                w.start("wsse:Reference")
                    .attr("URI", uri)
                    .attr_opt("ValueType", value_type.as_deref())
                    .end();
            }
        }
        w.end();
    }
}

/// `wsse:Security`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Security {
    pub id: Option<String>,
    pub timestamp: Option<Timestamp>,
    /// The invocation token (from `sec:Token` of the EPR, forwarded as is).
    pub token: Option<SamlToken>,
    pub token_reference: Option<SecurityTokenReference>,
    /// `ds:Signature`, opaque: made and checked by `crate::dsig`.
    pub signature: Option<String>,
}

impl Security {
    /// A Security header with a fresh timestamp and a token.
    pub fn with_token(timestamp: Timestamp, token: SamlToken) -> Self {
        Security {
            timestamp: Some(timestamp),
            token: Some(token),
            ..Default::default()
        }
    }

    /// Reads the content of `wsse:Security` (the header attributes are the envelope's).
    pub(crate) fn read(e: Element<'_>) -> Result<Self, IdwsfError> {
        const NAME: &str = "wsse:Security";
        let mut sec = Security {
            id: read::wsu_id(e),
            ..Default::default()
        };
        let mut tokens = Vec::new();
        let mut seq = Seq::new(e, NAME)?;
        for child in seq.rest() {
            let twice = |child| IdwsfError::TooMany {
                parent: NAME,
                child,
            };
            if child.is(ns::WSU, "Timestamp") {
                if sec.timestamp.is_some() {
                    return Err(twice("wsu:Timestamp"));
                }
                sec.timestamp = Some(Timestamp::from_element(child)?);
            } else if child.is(ns::SAML, "Assertion") || child.is(ns::SAML, "EncryptedAssertion") {
                tokens.push(child);
            } else if child.is(ns::WSSE, "SecurityTokenReference") {
                if sec.token_reference.is_some() {
                    return Err(twice("wsse:SecurityTokenReference"));
                }
                sec.token_reference = Some(SecurityTokenReference::from_element(child)?);
            } else if child.is(ns::DS, "Signature") {
                if sec.signature.is_some() {
                    return Err(twice("ds:Signature"));
                }
                sec.signature = Some(read::opaque(child));
            } else {
                return Err(IdwsfError::UnexpectedElement {
                    parent: NAME,
                    found: crate::soap::clark(child),
                });
            }
        }
        sec.token = SamlToken::at_most_one(tokens, NAME)?;
        Ok(sec)
    }

    /// Writes the content, in the order a receiver processes it.
    pub(crate) fn write_content(&self, w: &mut XmlWriter) {
        if let Some(ts) = &self.timestamp {
            ts.write(w);
        }
        if let Some(t) = &self.token {
            t.write(w);
        }
        if let Some(r) = &self.token_reference {
            r.write(w);
        }
        if let Some(s) = &self.signature {
            w.raw(s);
        }
    }
}
