//! The agent's own PIN page (`templates/agent_pin.html`): Japanese first, English on `?lang=en`.
//! It shows who asks (the IdP origin), which certificate, and the full challenge text, so the
//! resident sees what they sign. Everything is inline (no script, no external asset) and the
//! response forbids framing, so an IdP page can neither read it nor overlay it.

use askama::Template;

use super::pin::PinFormatError;
use super::protocol::Kind;

/// Fixed texts of one language.
pub struct Texts {
    pub lang: &'static str,
    pub other_lang: &'static str,
    pub other_lang_name: &'static str,
    pub title: &'static str,
    pub lead: &'static str,
    pub requester: &'static str,
    pub certificate: &'static str,
    pub card: &'static str,
    pub time_limit: &'static str,
    pub challenge_heading: &'static str,
    pub submit: &'static str,
    pub cancel: &'static str,
    pub note: &'static str,
    kind_auth: &'static str,
    kind_sign: &'static str,
    pin_label_auth: &'static str,
    pin_label_sign: &'static str,
    hint_auth: &'static str,
    hint_sign: &'static str,
}

pub static JA: Texts = Texts {
    lang: "ja",
    other_lang: "en",
    other_lang_name: "English",
    title: "電子証明書の暗証番号の入力",
    lead: "次のサービスが、あなたのカードの電子証明書で下の申請文に電子署名することを求めています。内容を確認し、よろしければ暗証番号を入力してください。",
    requester: "要求元",
    certificate: "使用する電子証明書",
    card: "カード",
    time_limit: "入力期限",
    challenge_heading: "署名する申請文(この文字列そのものに署名します)",
    submit: "署名する",
    cancel: "取り消す",
    note: "この画面はお使いのパソコンの中で動くカードエージェント(127.0.0.1)が表示しています。暗証番号はカードの確認だけに使い、ログイン画面や要求元には送りません。要求元に心当たりがないときは「取り消す」を押してください。",
    kind_auth: "利用者証明用電子証明書(暗証番号:数字4桁)",
    kind_sign: "署名用電子証明書(暗証番号:英大文字と数字6〜16文字)",
    pin_label_auth: "利用者証明用電子証明書の暗証番号(数字4桁)",
    pin_label_sign: "署名用電子証明書の暗証番号(英大文字と数字6〜16文字)",
    hint_auth: "3回続けて間違えるとロックされ、市区町村の窓口での手続きが必要になります。",
    hint_sign: "5回続けて間違えるとロックされ、市区町村の窓口での手続きが必要になります。英字は大文字で入力してください。",
};

pub static EN: Texts = Texts {
    lang: "en",
    other_lang: "ja",
    other_lang_name: "日本語",
    title: "Enter your certificate PIN",
    lead: "The service below asks you to sign the application text below with the certificate on your card. Check it, and enter your PIN if you agree.",
    requester: "Requested by",
    certificate: "Certificate",
    card: "Card",
    time_limit: "Time limit",
    challenge_heading: "Text to sign (exactly this text is signed)",
    submit: "Sign",
    cancel: "Cancel",
    note: "This page is shown by the card agent running on your own computer (127.0.0.1). Your PIN is used only to unlock the card; it is never sent to the login page or the requester. If you do not recognise the requester, press Cancel.",
    kind_auth: "User authentication certificate (PIN: 4 digits)",
    kind_sign: "Digital signature certificate (password: 6–16 capital letters and digits)",
    pin_label_auth: "User authentication PIN (4 digits)",
    pin_label_sign: "Digital signature password (6–16 capital letters and digits)",
    hint_auth: "Three wrong PINs in a row lock it; unlocking needs a visit to your city office.",
    hint_sign: "Five wrong passwords in a row lock it; unlocking needs a visit to your city office. Type letters in capitals.",
};

pub fn texts(lang: Option<&str>) -> &'static Texts {
    match lang {
        Some("en") => &EN,
        _ => &JA,
    }
}

/// What the page says about the outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// First display.
    Ask,
    PinFormat(PinFormatError),
    PinIncorrect(Option<u32>),
    PinLocked,
    Done,
    Cancelled,
    Expired,
    Unknown,
    Busy,
    BadForm,
    CardMissing,
    CardError,
}

impl Outcome {
    /// The machine-readable result in `body[data-result]`.
    pub fn code(self) -> &'static str {
        use super::protocol::codes;
        match self {
            Outcome::Ask => "ask",
            Outcome::PinFormat(_) => codes::PIN_FORMAT,
            Outcome::PinIncorrect(_) => codes::PIN_INCORRECT,
            Outcome::PinLocked => codes::PIN_LOCKED,
            Outcome::Done => "done",
            Outcome::Cancelled => codes::CANCELLED,
            Outcome::Expired => codes::REQUEST_EXPIRED,
            Outcome::Unknown => codes::UNKNOWN_REQUEST,
            Outcome::Busy => codes::BUSY,
            Outcome::BadForm => codes::BAD_REQUEST,
            Outcome::CardMissing => codes::UNKNOWN_CARD,
            Outcome::CardError => codes::CARD_ERROR,
        }
    }

    /// Whether the form is still offered after this outcome.
    pub fn form_again(self) -> bool {
        matches!(
            self,
            Outcome::Ask
                | Outcome::PinFormat(_)
                | Outcome::PinIncorrect(_)
                | Outcome::Busy
                | Outcome::BadForm
                | Outcome::CardMissing
                | Outcome::CardError
        )
    }

    fn message(self, ja: bool) -> (String, &'static str) {
        let m = |j: &str, e: &str| if ja { j.to_string() } else { e.to_string() };
        match self {
            Outcome::Ask => (String::new(), "info"),
            Outcome::PinFormat(f) => (
                if ja { f.message_ja().to_string() } else { format!("{f}.") },
                "error",
            ),
            Outcome::PinIncorrect(Some(n)) => (
                if ja {
                    format!("暗証番号が違います。残り{n}回です。あと{n}回間違えるとロックされます。")
                } else {
                    format!("Wrong PIN. {n} {} left before the card locks.", if n == 1 { "try" } else { "tries" })
                },
                "error",
            ),
            Outcome::PinIncorrect(None) => (
                m(
                    "暗証番号が違います。残りの入力回数が少なくなっています。",
                    "Wrong PIN. Few tries are left before the card locks.",
                ),
                "error",
            ),
            Outcome::PinLocked => (
                m(
                    "暗証番号がロックされています。この電子証明書は使えません。お住まいの市区町村の窓口で暗証番号の初期化(再設定)の手続きをしてください。",
                    "The PIN is locked. This certificate cannot be used until the PIN is reset at your city office.",
                ),
                "error",
            ),
            Outcome::Done => (
                m(
                    "署名しました。このウィンドウを閉じて、ログイン画面に戻ってください。",
                    "Signed. You can close this window and return to the login page.",
                ),
                "ok",
            ),
            Outcome::Cancelled => (
                m("取り消しました。署名はしていません。", "Cancelled. Nothing was signed."),
                "info",
            ),
            Outcome::Expired => (
                m(
                    "この要求は有効期限(2分)が切れました。ログイン画面からやり直してください。",
                    "This request has expired (2 minutes). Start again from the login page.",
                ),
                "error",
            ),
            Outcome::Unknown => (
                m(
                    "この要求は見つかりません。使用済みか、有効期限が切れています。",
                    "This request does not exist: it was already used or has expired.",
                ),
                "error",
            ),
            Outcome::Busy => (
                m("カードで処理中です。少し待ってください。", "The card is busy. Please wait a moment."),
                "info",
            ),
            Outcome::BadForm => (
                m(
                    "入力画面が古くなっています。もう一度入力してください。",
                    "This form is out of date. Please enter the PIN again.",
                ),
                "error",
            ),
            Outcome::CardMissing => (
                m(
                    "カードが見つかりません。カードをリーダーに置いてから、もう一度入力してください。",
                    "The card was not found. Place it on the reader and try again.",
                ),
                "error",
            ),
            Outcome::CardError => (
                m(
                    "カードを読み取れませんでした。カードの置き方を確かめて、もう一度入力してください。",
                    "The card could not be read. Check the card on the reader and try again.",
                ),
                "error",
            ),
        }
    }
}

/// What the page shows of the request (absent for unknown or expired requests).
pub struct Details<'a> {
    pub origin: &'a str,
    pub kind: Kind,
    pub card: &'a str,
    pub challenge: &'a str,
    pub form_token: &'a str,
    pub seconds_left: u64,
}

#[derive(Template)]
#[template(path = "agent_pin.html")]
struct PinPage<'a> {
    t: &'static Texts,
    status: &'static str,
    result: &'static str,
    tries_left: String,
    pin_id: &'a str,
    details: bool,
    origin: &'a str,
    kind_name: &'static str,
    card: &'a str,
    time_left: String,
    challenge: &'a str,
    message: String,
    message_class: &'static str,
    show_form: bool,
    form_token: &'a str,
    pin_label: &'static str,
    pin_hint: &'static str,
    inputmode: &'static str,
    pattern: &'static str,
    min_len: u8,
    max_len: u8,
}

/// Renders the page.
pub fn render(
    t: &'static Texts,
    pin_id: &str,
    details: Option<&Details<'_>>,
    outcome: Outcome,
) -> Result<String, askama::Error> {
    let ja = t.lang == "ja";
    let (message, message_class) = outcome.message(ja);
    let kind = details.map(|d| d.kind).unwrap_or(Kind::Auth);
    let (kind_name, pin_label, pin_hint, inputmode, pattern, min_len, max_len) = match kind {
        Kind::Auth => (
            t.kind_auth,
            t.pin_label_auth,
            t.hint_auth,
            "numeric",
            "[0-9]{4}",
            4,
            4,
        ),
        Kind::Sign => (
            t.kind_sign,
            t.pin_label_sign,
            t.hint_sign,
            "text",
            "[A-Z0-9]{6,16}",
            6,
            16,
        ),
    };
    let status = match outcome {
        Outcome::Done => "done",
        o if o.form_again() && details.is_some() => "pending",
        _ => "failed",
    };
    let tries_left = match outcome {
        Outcome::PinIncorrect(Some(n)) => n.to_string(),
        Outcome::PinLocked => "0".into(),
        _ => String::new(),
    };
    let secs = details.map(|d| d.seconds_left).unwrap_or(0);
    PinPage {
        t,
        status,
        result: outcome.code(),
        tries_left,
        pin_id,
        details: details.is_some(),
        origin: details.map(|d| d.origin).unwrap_or(""),
        kind_name,
        card: details.map(|d| d.card).unwrap_or(""),
        time_left: if ja {
            format!("あと約{secs}秒")
        } else {
            format!("about {secs} seconds left")
        },
        challenge: details.map(|d| d.challenge).unwrap_or(""),
        message,
        message_class,
        show_form: details.is_some() && outcome.form_again(),
        form_token: details.map(|d| d.form_token).unwrap_or(""),
        pin_label,
        pin_hint,
        inputmode,
        pattern,
        min_len,
        max_len,
    }
    .render()
}
