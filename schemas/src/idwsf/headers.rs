//! ID-WSF 2.0 SOAP header blocks (SBF 2.0, WS-Addressing 1.0, WS-Security; idwsf-2.0.md §3.1),
//! gathered in [`IdwsfHeaders`].
//!
//! Reading: [`IdwsfHeaders::from_envelope`] reads every block it knows from the direct children of
//! `S:Header`, refuses a known block that appears twice (two MessageIDs or two Security headers
//! are a wrapping vector, not a feature) and leaves unknown blocks to
//! [`crate::soap::Envelope::check_must_understand`] with [`IdwsfHeaders::KNOWN`]. Presence rules
//! are separate checks ([`IdwsfHeaders::check_request`], [`IdwsfHeaders::check_response`]) so
//! that the receiver chooses the order of its faults.
//!
//! Profile choice on `sbf:Framework`: only the `urn:liberty:sb` namespace is the Framework header.
//! A `Framework` in `urn:liberty:sb:2006-08` (Danish stacks) is treated as absent, so the request
//! is answered `FrameworkVersionMismatch`; it is listed in [`IdwsfHeaders::KNOWN`] so that its
//! `mustUnderstand` does not turn that answer into a less helpful `S:MustUnderstand` fault.
//!
//! Writing: [`IdwsfHeaders::write`] writes every present block with its `wsu:Id` (the signature
//! targets of §4.3; [`IdwsfHeaders::assign_ids`] fills in defaults) and, following ZXID
//! (`zxid_wsf_decor`, `zxid_wsc_prep`), `S:actor` = next on every block (this federation has no
//! intermediaries, so that is the ultimate receiver) and `S:mustUnderstand="1"` on the blocks
//! whose silent omission by a receiver would change the meaning of the message: Framework, Sender,
//! MessageID, RelatesTo, Action, To, ReplyTo, FaultTo, Security, TargetIdentity (else the call
//! would act on the invoker), UserInteraction (else a "do not interact" would be ignored),
//! ProcessingContext (else a dry run would be executed), UsageDirective. Advisory blocks
//! (Timeout, Consent, RedirectRequest, CredentialsContext, EndpointUpdate) are written without
//! `mustUnderstand`, so a peer that ignores them still gets the message.

use time::OffsetDateTime;

use super::epr::{EndpointReference, Framework, SamlToken};
use super::read::{self, Seq};
use super::wss::{self, Security};
use super::{Decl, IdwsfError, IdwsfXml, FRAMEWORK_VERSION, NAMESPACES};
use crate::ns;
use crate::soap::{self, Envelope, HeaderAttrs, ACTOR_NEXT};
use crate::xml::{Element, XmlWriter};

/// A header block model.
pub trait HeaderXml: Sized {
    /// Conventional qualified name, as written and in errors.
    const NAME: &'static str;
    const NAMESPACE: &'static str;
    const LOCAL: &'static str;
    /// Whether this crate writes the block with `S:mustUnderstand="1"` (see the module docs).
    const MUST_UNDERSTAND: bool;
    /// The `wsu:Id` [`IdwsfHeaders::assign_ids`] gives the block.
    const DEFAULT_ID: &'static str;

    fn id(&self) -> Option<&str>;
    fn set_id(&mut self, id: String);
    /// Reads the block's own attributes and content (its name has been checked).
    fn read(e: Element<'_>) -> Result<Self, IdwsfError>;
    /// Writes the block's own attributes and content after the start tag.
    fn write_content(&self, w: &mut XmlWriter);
}

/// Reads a header block, mapping any error to the block's status code.
fn read_block<T: HeaderXml>(e: Element<'_>) -> Result<T, IdwsfError> {
    read::expect(e, T::NAMESPACE, T::LOCAL, T::NAME).map_err(IdwsfError::in_header(T::NAME))?;
    T::read(e).map_err(IdwsfError::in_header(T::NAME))
}

fn write_block<T: HeaderXml>(block: &T, w: &mut XmlWriter, decl: Decl) {
    soap::start_header_block(
        w,
        T::NAME,
        HeaderAttrs {
            id: block.id(),
            must_understand: T::MUST_UNDERSTAND,
            actor: Some(ACTOR_NEXT),
        },
    );
    decl.apply(w);
    block.write_content(w);
    w.end();
}

/// What a standalone header block declares (`S` and `wsu` for its header attributes).
const HEADER_NAMESPACES: &[(&str, &str)] = &[
    ("S", ns::SOAP11),
    ("wsu", ns::WSU),
    ("wsa", ns::WSA),
    ("wsse", ns::WSSE),
    ("wsse11", ns::WSSE11),
    ("sbf", ns::SBF),
    ("sb", ns::SB),
    ("disco", ns::DISCO),
    ("sec", ns::SEC),
];

/// [`IdwsfXml`] for header blocks: standalone, a block is written as it stands in `S:Header`.
macro_rules! header_models {
    ($($t:ty),* $(,)?) => {$(
        impl IdwsfXml for $t {
            const NAMESPACES: &'static [(&'static str, &'static str)] = HEADER_NAMESPACES;

            fn from_element(e: Element<'_>) -> Result<Self, IdwsfError> {
                read_block::<$t>(e)
            }

            fn write_with(&self, w: &mut XmlWriter, decl: Decl) {
                write_block(self, w, decl)
            }
        }
    )*};
}

/// `HeaderXml` accessors for a block whose `wsu:Id` is its `id` field.
macro_rules! id_field {
    () => {
        fn id(&self) -> Option<&str> {
            self.id.as_deref()
        }

        fn set_id(&mut self, id: String) {
            self.id = Some(id);
        }
    };
}

/// Blocks whose content is one URI (`AttributedURIType`, `sb:ProcessingContextType`).
macro_rules! uri_header {
    ($(#[$doc:meta])* $name:ident, $qname:literal, $ns:expr, $local:literal,
     id = $default_id:literal, mu = $mu:literal) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq)]
        pub struct $name {
            pub id: Option<String>,
            pub value: String,
        }

        impl $name {
            pub fn new(value: impl Into<String>) -> Self {
                $name { id: None, value: value.into() }
            }
        }

        impl HeaderXml for $name {
            const NAME: &'static str = $qname;
            const NAMESPACE: &'static str = $ns;
            const LOCAL: &'static str = $local;
            const MUST_UNDERSTAND: bool = $mu;
            const DEFAULT_ID: &'static str = $default_id;
            id_field!();

            fn read(e: Element<'_>) -> Result<Self, IdwsfError> {
                Ok($name { id: read::wsu_id(e), value: read::token(e, $qname)? })
            }

            fn write_content(&self, w: &mut XmlWriter) {
                w.text(&self.value);
            }
        }
    };
}

uri_header!(
    /// `wsa:MessageID`: unique per message; the replay cache key.
    MessageId, "wsa:MessageID", ns::WSA, "MessageID", id = "hdr-msgid", mu = true
);
uri_header!(
    /// `wsa:Action`: `<service namespace>:<Body element>` (for Discovery, see
    /// [`super::disco::action`]).
    Action, "wsa:Action", ns::WSA, "Action", id = "hdr-action", mu = true
);
uri_header!(
    /// `wsa:To`: the endpoint URL; signed, it binds the message to its recipient.
    To, "wsa:To", ns::WSA, "To", id = "hdr-to", mu = true
);
uri_header!(
    /// `sb:ProcessingContext` (e.g. [`super::PROCESSING_CONTEXT_SIMULATE`]).
    ProcessingContext, "sb:ProcessingContext", ns::SB, "ProcessingContext",
    id = "hdr-procctx", mu = true
);

impl HeaderXml for Framework {
    const NAME: &'static str = "sbf:Framework";
    const NAMESPACE: &'static str = ns::SBF;
    const LOCAL: &'static str = "Framework";
    const MUST_UNDERSTAND: bool = true;
    const DEFAULT_ID: &'static str = "hdr-framework";
    id_field!();

    fn read(e: Element<'_>) -> Result<Self, IdwsfError> {
        Framework::read(e, Self::NAME)
    }

    fn write_content(&self, w: &mut XmlWriter) {
        w.attr("version", &self.version);
    }
}

/// `sb:Sender`: who sent the message (its entity ID). Spec-optional, de facto required.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sender {
    pub id: Option<String>,
    pub provider_id: String,
    pub affiliation_id: Option<String>,
}

impl Sender {
    pub fn new(provider_id: impl Into<String>) -> Self {
        Sender {
            id: None,
            provider_id: provider_id.into(),
            affiliation_id: None,
        }
    }
}

impl HeaderXml for Sender {
    const NAME: &'static str = "sb:Sender";
    const NAMESPACE: &'static str = ns::SB;
    const LOCAL: &'static str = "Sender";
    const MUST_UNDERSTAND: bool = true;
    const DEFAULT_ID: &'static str = "hdr-sender";
    id_field!();

    fn read(e: Element<'_>) -> Result<Self, IdwsfError> {
        Ok(Sender {
            id: read::wsu_id(e),
            provider_id: read::req_attr(e, "providerID", Self::NAME, "sb:Sender@providerID")?,
            affiliation_id: read::opt_attr(e, "affiliationID", "sb:Sender@affiliationID")?,
        })
    }

    fn write_content(&self, w: &mut XmlWriter) {
        w.attr("providerID", &self.provider_id)
            .attr_opt("affiliationID", self.affiliation_id.as_deref());
    }
}

/// `wsa:RelatesTo`: in a response, the request's MessageID.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RelatesTo {
    pub id: Option<String>,
    pub value: String,
    /// Absent means `http://www.w3.org/2005/08/addressing/reply`.
    pub relationship_type: Option<String>,
}

impl RelatesTo {
    pub fn new(value: impl Into<String>) -> Self {
        RelatesTo {
            id: None,
            value: value.into(),
            relationship_type: None,
        }
    }
}

impl HeaderXml for RelatesTo {
    const NAME: &'static str = "wsa:RelatesTo";
    const NAMESPACE: &'static str = ns::WSA;
    const LOCAL: &'static str = "RelatesTo";
    const MUST_UNDERSTAND: bool = true;
    const DEFAULT_ID: &'static str = "hdr-relto";
    id_field!();

    fn read(e: Element<'_>) -> Result<Self, IdwsfError> {
        Ok(RelatesTo {
            id: read::wsu_id(e),
            value: read::token(e, Self::NAME)?,
            relationship_type: read::opt_attr(
                e,
                "RelationshipType",
                "wsa:RelatesTo@RelationshipType",
            )?,
        })
    }

    fn write_content(&self, w: &mut XmlWriter) {
        w.attr_opt("RelationshipType", self.relationship_type.as_deref())
            .text(&self.value);
    }
}

/// Blocks of `EndpointReferenceType` (the EPR's `id` is the block's `wsu:Id`).
macro_rules! epr_header {
    ($(#[$doc:meta])* $name:ident, $qname:literal, $local:literal, id = $default_id:literal) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq)]
        pub struct $name(pub EndpointReference);

        impl HeaderXml for $name {
            const NAME: &'static str = $qname;
            const NAMESPACE: &'static str = ns::WSA;
            const LOCAL: &'static str = $local;
            const MUST_UNDERSTAND: bool = true;
            const DEFAULT_ID: &'static str = $default_id;

            fn id(&self) -> Option<&str> {
                self.0.id.as_deref()
            }

            fn set_id(&mut self, id: String) {
                self.0.id = Some(id);
            }

            fn read(e: Element<'_>) -> Result<Self, IdwsfError> {
                EndpointReference::read_content(e, $qname).map($name)
            }

            fn write_content(&self, w: &mut XmlWriter) {
                self.0.write_content(w);
            }
        }
    };
}

epr_header!(
    /// `wsa:ReplyTo` (absent, or [`super::WSA_ANONYMOUS`]: answer on the same connection).
    ReplyTo, "wsa:ReplyTo", "ReplyTo", id = "hdr-replyto"
);
epr_header!(
    /// `wsa:FaultTo`.
    FaultTo, "wsa:FaultTo", "FaultTo", id = "hdr-faultto"
);

/// `sb:TargetIdentity`: the resource owner when it is not the invoker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TargetIdentity {
    pub id: Option<String>,
    pub token: Option<SamlToken>,
}

impl HeaderXml for TargetIdentity {
    const NAME: &'static str = "sb:TargetIdentity";
    const NAMESPACE: &'static str = ns::SB;
    const LOCAL: &'static str = "TargetIdentity";
    const MUST_UNDERSTAND: bool = true;
    const DEFAULT_ID: &'static str = "hdr-tgtid";
    id_field!();

    fn read(e: Element<'_>) -> Result<Self, IdwsfError> {
        let mut seq = Seq::new(e, Self::NAME)?;
        Ok(TargetIdentity {
            id: read::wsu_id(e),
            token: SamlToken::at_most_one(seq.rest(), Self::NAME)?,
        })
    }

    fn write_content(&self, w: &mut XmlWriter) {
        if let Some(t) = &self.token {
            t.write(w);
        }
    }
}

/// `sb:UserInteraction`: may the WSP interact with the user (see [`super::interact`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UserInteraction {
    pub id: Option<String>,
    pub interact: Option<String>,
    /// xs:NMTOKENS, language tags.
    pub language: Option<String>,
    /// Whether the WSC can redirect the user (RedirectRequest).
    pub redirect: Option<bool>,
    /// Seconds.
    pub max_interact_time: Option<u64>,
    pub interaction_services: Vec<EndpointReference>,
}

impl HeaderXml for UserInteraction {
    const NAME: &'static str = "sb:UserInteraction";
    const NAMESPACE: &'static str = ns::SB;
    const LOCAL: &'static str = "UserInteraction";
    const MUST_UNDERSTAND: bool = true;
    const DEFAULT_ID: &'static str = "hdr-ui";
    id_field!();

    fn read(e: Element<'_>) -> Result<Self, IdwsfError> {
        let mut seq = Seq::new(e, Self::NAME)?;
        let services = seq.many(ns::SB, "InteractionService");
        seq.end()?;
        Ok(UserInteraction {
            id: read::wsu_id(e),
            interact: read::opt_attr(e, "interact", "sb:UserInteraction@interact")?,
            language: read::opt_attr(e, "language", "sb:UserInteraction@language")?,
            redirect: e
                .attr("redirect")
                .map(|v| read::boolean(v, "sb:UserInteraction@redirect"))
                .transpose()?,
            max_interact_time: e
                .attr("maxInteractTime")
                .map(|v| read::seconds(v, "sb:UserInteraction@maxInteractTime"))
                .transpose()?,
            interaction_services: read::each(services, |s| {
                EndpointReference::read_content(s, "sb:InteractionService")
            })?,
        })
    }

    fn write_content(&self, w: &mut XmlWriter) {
        w.attr_opt("interact", self.interact.as_deref())
            .attr_opt("language", self.language.as_deref())
            .attr_opt(
                "redirect",
                self.redirect.map(|b| if b { "true" } else { "false" }),
            );
        if let Some(t) = self.max_interact_time {
            w.attr("maxInteractTime", &t.to_string());
        }
        for s in &self.interaction_services {
            w.start("sb:InteractionService");
            w.attr_opt("wsu:Id", s.id.as_deref());
            s.write_content(w);
            w.end();
        }
    }
}

/// `sb:RedirectRequest` (with an `InteractionRequired` fault): send the user there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RedirectRequest {
    pub id: Option<String>,
    pub redirect_url: String,
}

impl HeaderXml for RedirectRequest {
    const NAME: &'static str = "sb:RedirectRequest";
    const NAMESPACE: &'static str = ns::SB;
    const LOCAL: &'static str = "RedirectRequest";
    const MUST_UNDERSTAND: bool = false;
    const DEFAULT_ID: &'static str = "hdr-redirect";
    id_field!();

    fn read(e: Element<'_>) -> Result<Self, IdwsfError> {
        Seq::new(e, Self::NAME)?.end()?;
        Ok(RedirectRequest {
            id: read::wsu_id(e),
            redirect_url: read::req_attr(
                e,
                "redirectURL",
                Self::NAME,
                "sb:RedirectRequest@redirectURL",
            )?,
        })
    }

    fn write_content(&self, w: &mut XmlWriter) {
        w.attr("redirectURL", &self.redirect_url);
    }
}

/// `sb:CredentialsContext` (with an `InappropriateCredentials` fault): what would be accepted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CredentialsContext {
    pub id: Option<String>,
    /// `samlp:RequestedAuthnContext`, opaque.
    pub requested_authn_context: Option<String>,
    pub security_mech_ids: Vec<String>,
}

impl HeaderXml for CredentialsContext {
    const NAME: &'static str = "sb:CredentialsContext";
    const NAMESPACE: &'static str = ns::SB;
    const LOCAL: &'static str = "CredentialsContext";
    const MUST_UNDERSTAND: bool = false;
    const DEFAULT_ID: &'static str = "hdr-credctx";
    id_field!();

    fn read(e: Element<'_>) -> Result<Self, IdwsfError> {
        let mut seq = Seq::new(e, Self::NAME)?;
        let rac = seq
            .opt(ns::SAMLP, "RequestedAuthnContext")
            .map(read::opaque);
        let mechs = seq.many(ns::SB, "SecurityMechID");
        seq.end()?;
        Ok(CredentialsContext {
            id: read::wsu_id(e),
            requested_authn_context: rac,
            security_mech_ids: read::each(mechs, |m| read::token(m, "sb:SecurityMechID"))?,
        })
    }

    fn write_content(&self, w: &mut XmlWriter) {
        if let Some(r) = &self.requested_authn_context {
            w.raw(r);
        }
        for m in &self.security_mech_ids {
            w.leaf("sb:SecurityMechID", m);
        }
    }
}

/// `sb:EndpointUpdate`: the endpoint moved (an EPR, plus [`super::endpoint_update`] type).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndpointUpdate {
    pub update_type: Option<String>,
    /// Its `id` is the block's `wsu:Id`.
    pub endpoint: EndpointReference,
}

impl HeaderXml for EndpointUpdate {
    const NAME: &'static str = "sb:EndpointUpdate";
    const NAMESPACE: &'static str = ns::SB;
    const LOCAL: &'static str = "EndpointUpdate";
    const MUST_UNDERSTAND: bool = false;
    const DEFAULT_ID: &'static str = "hdr-epupdate";

    fn id(&self) -> Option<&str> {
        self.endpoint.id.as_deref()
    }

    fn set_id(&mut self, id: String) {
        self.endpoint.id = Some(id);
    }

    fn read(e: Element<'_>) -> Result<Self, IdwsfError> {
        Ok(EndpointUpdate {
            update_type: read::opt_attr(e, "updateType", "sb:EndpointUpdate@updateType")?,
            endpoint: EndpointReference::read_content(e, Self::NAME)?,
        })
    }

    fn write_content(&self, w: &mut XmlWriter) {
        w.attr_opt("updateType", self.update_type.as_deref());
        self.endpoint.write_content(w);
    }
}

/// `sb:Timeout`: how long the WSC will wait.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Timeout {
    pub id: Option<String>,
    /// Seconds.
    pub max_processing_time: u64,
}

impl HeaderXml for Timeout {
    const NAME: &'static str = "sb:Timeout";
    const NAMESPACE: &'static str = ns::SB;
    const LOCAL: &'static str = "Timeout";
    const MUST_UNDERSTAND: bool = false;
    const DEFAULT_ID: &'static str = "hdr-timeout";
    id_field!();

    fn read(e: Element<'_>) -> Result<Self, IdwsfError> {
        Seq::new(e, Self::NAME)?.end()?;
        let v = e
            .attr("maxProcessingTime")
            .ok_or(IdwsfError::MissingAttribute {
                element: Self::NAME,
                attribute: "maxProcessingTime",
            })?;
        Ok(Timeout {
            id: read::wsu_id(e),
            max_processing_time: read::seconds(v, "sb:Timeout@maxProcessingTime")?,
        })
    }

    fn write_content(&self, w: &mut XmlWriter) {
        w.attr("maxProcessingTime", &self.max_processing_time.to_string());
    }
}

/// `sb:Consent`: the principal's consent was obtained (`uri` says how).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Consent {
    pub id: Option<String>,
    pub uri: String,
    pub timestamp: Option<OffsetDateTime>,
}

impl HeaderXml for Consent {
    const NAME: &'static str = "sb:Consent";
    const NAMESPACE: &'static str = ns::SB;
    const LOCAL: &'static str = "Consent";
    const MUST_UNDERSTAND: bool = false;
    const DEFAULT_ID: &'static str = "hdr-consent";
    id_field!();

    fn read(e: Element<'_>) -> Result<Self, IdwsfError> {
        Seq::new(e, Self::NAME)?.end()?;
        Ok(Consent {
            id: read::wsu_id(e),
            uri: read::req_attr(e, "uri", Self::NAME, "sb:Consent@uri")?,
            timestamp: e
                .attr("timestamp")
                .map(|t| wss::parse_date_time(t, "sb:Consent@timestamp"))
                .transpose()?,
        })
    }

    fn write_content(&self, w: &mut XmlWriter) {
        w.attr("uri", &self.uri);
        if let Some(t) = self.timestamp {
            w.attr("timestamp", &wss::format_date_time(t));
        }
    }
}

/// `sb:UsageDirective`: a policy (foreign elements, opaque) about the element `@ref` names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UsageDirective {
    pub id: Option<String>,
    /// IDREF of the element the directive governs.
    pub reference: String,
    /// One or more policy elements (not in the `sb` namespace), opaque.
    pub policies: Vec<String>,
}

impl HeaderXml for UsageDirective {
    const NAME: &'static str = "sb:UsageDirective";
    const NAMESPACE: &'static str = ns::SB;
    const LOCAL: &'static str = "UsageDirective";
    const MUST_UNDERSTAND: bool = true;
    const DEFAULT_ID: &'static str = "hdr-usage";
    id_field!();

    fn read(e: Element<'_>) -> Result<Self, IdwsfError> {
        let mut seq = Seq::new(e, Self::NAME)?;
        let policies = seq.others(ns::SB);
        seq.end()?;
        if policies.is_empty() {
            return Err(IdwsfError::MissingElement {
                parent: Self::NAME,
                child: "policy element",
            });
        }
        Ok(UsageDirective {
            id: read::wsu_id(e),
            reference: read::req_attr(e, "ref", Self::NAME, "sb:UsageDirective@ref")?,
            policies,
        })
    }

    fn write_content(&self, w: &mut XmlWriter) {
        w.attr("ref", &self.reference);
        for p in &self.policies {
            w.raw(p);
        }
    }
}

impl HeaderXml for Security {
    const NAME: &'static str = "wsse:Security";
    const NAMESPACE: &'static str = ns::WSSE;
    const LOCAL: &'static str = "Security";
    const MUST_UNDERSTAND: bool = true;
    const DEFAULT_ID: &'static str = "hdr-security";
    id_field!();

    fn read(e: Element<'_>) -> Result<Self, IdwsfError> {
        Security::read(e)
    }

    fn write_content(&self, w: &mut XmlWriter) {
        self.write_content(w);
    }
}

header_models!(
    MessageId,
    Action,
    To,
    ProcessingContext,
    Sender,
    RelatesTo,
    ReplyTo,
    FaultTo,
    TargetIdentity,
    UserInteraction,
    RedirectRequest,
    CredentialsContext,
    EndpointUpdate,
    Timeout,
    Consent,
    UsageDirective,
    Security,
);

/// `wsu:Id` given to the Timestamp by [`IdwsfHeaders::assign_ids`].
pub const TIMESTAMP_ID: &str = "hdr-ts";
/// `wsu:Id` this crate's callers give the Body by convention.
pub const BODY_ID: &str = "body";

/// Every ID-WSF header block of a message.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IdwsfHeaders {
    pub framework: Option<Framework>,
    pub sender: Option<Sender>,
    pub message_id: Option<MessageId>,
    pub relates_to: Option<RelatesTo>,
    pub action: Option<Action>,
    pub to: Option<To>,
    pub reply_to: Option<ReplyTo>,
    pub fault_to: Option<FaultTo>,
    pub target_identity: Option<TargetIdentity>,
    pub user_interaction: Option<UserInteraction>,
    pub redirect_request: Option<RedirectRequest>,
    pub credentials_context: Option<CredentialsContext>,
    pub endpoint_update: Option<EndpointUpdate>,
    pub timeout: Option<Timeout>,
    pub processing_context: Option<ProcessingContext>,
    pub consent: Option<Consent>,
    pub usage_directives: Vec<UsageDirective>,
    pub security: Option<Security>,
}

/// Applies `$m!(field, Type)` to every single-occurrence block, in writing order.
macro_rules! each_single_block {
    ($m:ident) => {
        $m!(framework, Framework);
        $m!(sender, Sender);
        $m!(message_id, MessageId);
        $m!(relates_to, RelatesTo);
        $m!(action, Action);
        $m!(to, To);
        $m!(reply_to, ReplyTo);
        $m!(fault_to, FaultTo);
        $m!(target_identity, TargetIdentity);
        $m!(user_interaction, UserInteraction);
        $m!(redirect_request, RedirectRequest);
        $m!(credentials_context, CredentialsContext);
        $m!(endpoint_update, EndpointUpdate);
        $m!(timeout, Timeout);
        $m!(processing_context, ProcessingContext);
        $m!(consent, Consent);
    };
}

impl IdwsfHeaders {
    /// Header blocks this model understands, for
    /// [`crate::soap::Envelope::check_must_understand`]. Includes `sb:Framework` (see the module
    /// docs: understood as "not this profile's Framework").
    pub const KNOWN: &'static [(&'static str, &'static str)] = &[
        (ns::SBF, "Framework"),
        (ns::SB, "Framework"),
        (ns::SB, "Sender"),
        (ns::WSA, "MessageID"),
        (ns::WSA, "RelatesTo"),
        (ns::WSA, "Action"),
        (ns::WSA, "To"),
        (ns::WSA, "ReplyTo"),
        (ns::WSA, "FaultTo"),
        (ns::SB, "TargetIdentity"),
        (ns::SB, "UserInteraction"),
        (ns::SB, "RedirectRequest"),
        (ns::SB, "CredentialsContext"),
        (ns::SB, "EndpointUpdate"),
        (ns::SB, "Timeout"),
        (ns::SB, "ProcessingContext"),
        (ns::SB, "Consent"),
        (ns::SB, "UsageDirective"),
        (ns::WSSE, "Security"),
    ];

    /// The headers of a request: Framework 2.0, Sender, MessageID and Action, with default IDs.
    /// Add the Security header (timestamp, token) and optional blocks before writing.
    pub fn request(
        sender: impl Into<String>,
        message_id: impl Into<String>,
        action: impl Into<String>,
    ) -> Self {
        let mut h = IdwsfHeaders {
            framework: Some(Framework::v2()),
            sender: Some(Sender::new(sender)),
            message_id: Some(MessageId::new(message_id)),
            action: Some(Action::new(action)),
            ..Default::default()
        };
        h.assign_ids();
        h
    }

    /// The headers of a response to a request whose MessageID was `request_message_id`:
    /// Framework 2.0, Sender, a new MessageID and RelatesTo, with default IDs.
    pub fn response(
        sender: impl Into<String>,
        message_id: impl Into<String>,
        request_message_id: impl Into<String>,
    ) -> Self {
        let mut h = IdwsfHeaders {
            framework: Some(Framework::v2()),
            sender: Some(Sender::new(sender)),
            message_id: Some(MessageId::new(message_id)),
            relates_to: Some(RelatesTo::new(request_message_id)),
            ..Default::default()
        };
        h.assign_ids();
        h
    }

    /// Reads every known header block of `env`.
    pub fn from_envelope(env: &Envelope<'_>) -> Result<Self, IdwsfError> {
        fn put<T: HeaderXml>(slot: &mut Option<T>, e: Element<'_>) -> Result<(), IdwsfError> {
            if slot.is_some() {
                return Err(IdwsfError::DuplicateHeader(T::NAME));
            }
            *slot = Some(read_block(e)?);
            Ok(())
        }
        let mut h = IdwsfHeaders::default();
        for block in &env.headers {
            let e = block.element;
            match (block.namespace(), block.local_name()) {
                (ns::SBF, "Framework") => put(&mut h.framework, e)?,
                (ns::SB, "Sender") => put(&mut h.sender, e)?,
                (ns::WSA, "MessageID") => put(&mut h.message_id, e)?,
                (ns::WSA, "RelatesTo") => put(&mut h.relates_to, e)?,
                (ns::WSA, "Action") => put(&mut h.action, e)?,
                (ns::WSA, "To") => put(&mut h.to, e)?,
                (ns::WSA, "ReplyTo") => put(&mut h.reply_to, e)?,
                (ns::WSA, "FaultTo") => put(&mut h.fault_to, e)?,
                (ns::SB, "TargetIdentity") => put(&mut h.target_identity, e)?,
                (ns::SB, "UserInteraction") => put(&mut h.user_interaction, e)?,
                (ns::SB, "RedirectRequest") => put(&mut h.redirect_request, e)?,
                (ns::SB, "CredentialsContext") => put(&mut h.credentials_context, e)?,
                (ns::SB, "EndpointUpdate") => put(&mut h.endpoint_update, e)?,
                (ns::SB, "Timeout") => put(&mut h.timeout, e)?,
                (ns::SB, "ProcessingContext") => put(&mut h.processing_context, e)?,
                (ns::SB, "Consent") => put(&mut h.consent, e)?,
                (ns::SB, "UsageDirective") => h.usage_directives.push(read_block(e)?),
                (ns::WSSE, "Security") => put(&mut h.security, e)?,
                // Not ours (including sb:Framework, see the module docs).
                _ => {}
            }
        }
        Ok(h)
    }

    /// Writes every present block (inside `S:Header`, with the prefixes of [`NAMESPACES`] and
    /// `S`/`wsu` bound, as [`envelope`] does).
    pub fn write(&self, w: &mut XmlWriter) {
        macro_rules! write_single {
            ($field:ident, $t:ty) => {
                if let Some(b) = &self.$field {
                    write_block(b, w, Decl::NONE);
                }
            };
        }
        each_single_block!(write_single);
        for u in &self.usage_directives {
            write_block(u, w, Decl::NONE);
        }
        if let Some(s) = &self.security {
            write_block(s, w, Decl::NONE);
        }
    }

    /// Gives every present block (and the Security timestamp) without a `wsu:Id` its default
    /// one, so that all of them can be signature targets.
    pub fn assign_ids(&mut self) {
        fn fill<T: HeaderXml>(block: &mut T, id: String) {
            if block.id().is_none() {
                block.set_id(id);
            }
        }
        macro_rules! assign_single {
            ($field:ident, $t:ty) => {
                if let Some(b) = &mut self.$field {
                    fill(b, <$t as HeaderXml>::DEFAULT_ID.to_string());
                }
            };
        }
        each_single_block!(assign_single);
        for (i, u) in self.usage_directives.iter_mut().enumerate() {
            fill(u, format!("{}-{}", UsageDirective::DEFAULT_ID, i + 1));
        }
        if let Some(s) = &mut self.security {
            fill(s, Security::DEFAULT_ID.to_string());
            if let Some(ts) = &mut s.timestamp {
                ts.id.get_or_insert_with(|| TIMESTAMP_ID.to_string());
            }
        }
    }

    /// The `wsu:Id`s of the present parts a message signature must cover (§4.3, ZXID
    /// `zxid_add_header_refs`), the Body aside: Timestamp, MessageID, RelatesTo, To, Action,
    /// ReplyTo, FaultTo, Framework, Sender, TargetIdentity, UsageDirective, UserInteraction,
    /// ProcessingContext, Consent. A present part without an ID cannot be covered: refused.
    pub fn signature_targets(&self) -> Result<Vec<&str>, IdwsfError> {
        fn push_id<'a, T: HeaderXml>(
            block: &'a T,
            out: &mut Vec<&'a str>,
        ) -> Result<(), IdwsfError> {
            out.push(block.id().ok_or(IdwsfError::MissingAttribute {
                element: T::NAME,
                attribute: "wsu:Id",
            })?);
            Ok(())
        }
        fn id_of<'a, T: HeaderXml>(
            block: &'a Option<T>,
            out: &mut Vec<&'a str>,
        ) -> Result<(), IdwsfError> {
            block.as_ref().map_or(Ok(()), |b| push_id(b, out))
        }
        let mut out = Vec::new();
        if let Some(ts) = self.security.as_ref().and_then(|s| s.timestamp.as_ref()) {
            out.push(ts.id.as_deref().ok_or(IdwsfError::MissingAttribute {
                element: "wsu:Timestamp",
                attribute: "wsu:Id",
            })?);
        }
        id_of(&self.message_id, &mut out)?;
        id_of(&self.relates_to, &mut out)?;
        id_of(&self.to, &mut out)?;
        id_of(&self.action, &mut out)?;
        id_of(&self.reply_to, &mut out)?;
        id_of(&self.fault_to, &mut out)?;
        id_of(&self.framework, &mut out)?;
        id_of(&self.sender, &mut out)?;
        id_of(&self.target_identity, &mut out)?;
        for u in &self.usage_directives {
            push_id(u, &mut out)?;
        }
        id_of(&self.user_interaction, &mut out)?;
        id_of(&self.processing_context, &mut out)?;
        id_of(&self.consent, &mut out)?;
        Ok(out)
    }

    /// `sbf:Framework` present with version 2.0, else `FrameworkVersionMismatch`.
    pub fn check_framework(&self) -> Result<&Framework, IdwsfError> {
        let f = self
            .framework
            .as_ref()
            .ok_or(IdwsfError::MissingHeader("sbf:Framework"))?;
        if f.version != FRAMEWORK_VERSION {
            return Err(IdwsfError::FrameworkVersion(f.version.clone()));
        }
        Ok(f)
    }

    /// The MessageID, else `IDStarMsgNotUnderstood`.
    pub fn require_message_id(&self) -> Result<&str, IdwsfError> {
        self.message_id
            .as_ref()
            .map(|m| m.value.as_str())
            .ok_or(IdwsfError::MissingHeader("wsa:MessageID"))
    }

    /// The Sender's providerID, else `ProviderIDNotValid`.
    pub fn require_sender(&self) -> Result<&str, IdwsfError> {
        self.sender
            .as_ref()
            .map(|s| s.provider_id.as_str())
            .ok_or(IdwsfError::MissingHeader("sb:Sender"))
    }

    /// The Security timestamp, else `StaleMsg` (missing Security: `InappropriateCredentials`).
    pub fn require_timestamp(&self) -> Result<&wss::Timestamp, IdwsfError> {
        let sec = self
            .security
            .as_ref()
            .ok_or(IdwsfError::MissingHeader("wsse:Security"))?;
        sec.timestamp
            .as_ref()
            .ok_or(IdwsfError::MissingHeader("wsu:Timestamp"))
    }

    /// The presence rules of a request, in the order of §4.4: Framework 2.0, MessageID,
    /// Security with a Timestamp, Sender. Freshness, replay, sender trust, Action/To fit and the
    /// token are the receiver's checks.
    pub fn check_request(&self) -> Result<(), IdwsfError> {
        self.check_framework()?;
        self.require_message_id()?;
        self.require_timestamp()?;
        self.require_sender()?;
        Ok(())
    }

    /// The presence rules of a response to the request with MessageID `request_message_id`:
    /// Framework 2.0, MessageID, RelatesTo naming the request (else `InvalidRefToMsgID`), Sender.
    pub fn check_response(&self, request_message_id: &str) -> Result<(), IdwsfError> {
        self.check_framework()?;
        self.require_message_id()?;
        let relates_to = self
            .relates_to
            .as_ref()
            .ok_or(IdwsfError::MissingHeader("wsa:RelatesTo"))?;
        if relates_to.value != request_message_id {
            return Err(IdwsfError::RelatesToMismatch {
                expected: request_message_id.to_string(),
                found: relates_to.value.clone(),
            });
        }
        self.require_sender()?;
        Ok(())
    }
}

/// Writes an ID-WSF SOAP envelope: `headers` in `S:Header` and `body` writing the Body content
/// (a model's `write`, or a fault's), the Body carrying `body_id` as `wsu:Id` (by convention
/// [`BODY_ID`]). Every ID-WSF prefix is declared once on `S:Envelope`.
pub fn envelope(
    headers: &IdwsfHeaders,
    body_id: Option<&str>,
    body: &dyn Fn(&mut XmlWriter),
) -> String {
    soap::write_envelope(NAMESPACES, Some(&|w| headers.write(w)), body_id, body)
}
