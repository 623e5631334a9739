//! The IdP's pages (`templates/idp_*.html`): Japanese first, English with `?lang=en`.
//! Every page is rendered with auto-escaping; the only script is the login page's local file,
//! allowed by a per-response CSP nonce.

use askama::Template;

/// Fixed texts of the login page, one language.
pub struct Texts {
    pub lang: &'static str,
    pub other_lang: &'static str,
    pub other_lang_name: &'static str,
    pub login_title: &'static str,
    pub login_lead: &'static str,
    pub application_heading: &'static str,
    pub service: &'static str,
    pub service_id: &'static str,
    pub purpose: &'static str,
    pub date: &'static str,
    pub nonce: &'static str,
    pub time_limit: &'static str,
    pub seconds: &'static str,
    pub full_text: &'static str,
    pub kind_heading: &'static str,
    pub kind_auth: &'static str,
    pub kind_sign: &'static str,
    pub hint_auth: &'static str,
    pub hint_sign: &'static str,
    pub card_heading: &'static str,
    pub card_label: &'static str,
    pub card_searching: &'static str,
    pub sign_button: &'static str,
    pub cancel_button: &'static str,
    pub pinless_heading: &'static str,
    pub pinless_lead: &'static str,
    pub staff_id: &'static str,
    pub face_checked: &'static str,
    pub pinless_button: &'static str,
    pub login_note: &'static str,
    pub js_needed: &'static str,
    pub js_agent_unreachable: &'static str,
    pub js_no_card: &'static str,
    pub js_enter_pin: &'static str,
    pub js_waiting: &'static str,
    pub js_signed: &'static str,
    pub js_failed: &'static str,
    pub js_locked: &'static str,
    pub js_expired: &'static str,
    pub js_reading: &'static str,
    pub retry: &'static str,
    pub back_to_service: &'static str,
    pub footer: &'static str,
}

pub static JA: Texts = Texts {
    lang: "ja",
    other_lang: "en",
    other_lang_name: "English",
    login_title: "名張市 社会保障カード ログイン",
    login_lead: "次のサービスがあなたの本人確認を求めています。申請内容を確認し、カードの電子証明書で申請文に署名してください。暗証番号は、このページではなくカードエージェントの画面に入力します。",
    application_heading: "利用申請の内容",
    service: "申請先",
    service_id: "サービスID",
    purpose: "利用目的",
    date: "申請日時",
    nonce: "申請番号",
    time_limit: "有効時間",
    seconds: "秒",
    full_text: "署名する申請文の全文",
    kind_heading: "使用する電子証明書",
    kind_auth: "マイナンバーカード（利用者証明用電子証明書・暗証番号 数字4桁）",
    kind_sign: "住基カード・署名用電子証明書（署名用パスワード 英数字6〜16文字）",
    hint_auth: "カードをカードリーダーに置き、「カードで署名してログイン」を押してください。カードエージェントの画面が開いたら、数字4桁の暗証番号を入力します。",
    hint_sign: "カードをカードリーダーに置き、「カードで署名してログイン」を押してください。カードエージェントの画面が開いたら、署名用パスワード（英大文字と数字6〜16文字）を入力します。",
    card_heading: "カード",
    card_label: "カードリーダーのカード",
    card_searching: "カードを探しています…",
    sign_button: "カードで署名してログイン",
    cancel_button: "ログインをやめてサービスに戻る",
    pinless_heading: "医療機関の受付（暗証番号なし）",
    pinless_lead: "職員が顔写真で本人を確認したうえで、暗証番号なしで利用者証明用電子証明書を読み取ります。この方法のログインは資格確認にだけ使われます。",
    staff_id: "職員ID",
    face_checked: "カードの顔写真で本人であることを確認しました",
    pinless_button: "カードを読み取る（暗証番号なし）",
    login_note: "このページはカードエージェント（お使いのパソコンの 127.0.0.1）と通信します。暗証番号がこのページや申請先に送られることはありません。",
    js_needed: "このページを使うにはJavaScriptを有効にしてください。",
    js_agent_unreachable: "カードエージェントに接続できません。カードエージェントを起動してから、ページを再読み込みしてください。",
    js_no_card: "カードが見つかりません。カードをカードリーダーに置いて、ページを再読み込みしてください。",
    js_enter_pin: "カードエージェントの画面で暗証番号を入力してください。",
    js_waiting: "署名を待っています…",
    js_signed: "署名しました。ログインしています…",
    js_failed: "署名できませんでした。もう一度お試しください。",
    js_locked: "暗証番号がロックされています。市区町村の窓口で解除の手続きをしてください。",
    js_expired: "時間切れになりました。ページを再読み込みしてやり直してください。",
    js_reading: "カードを読み取っています…",
    retry: "もう一度ログインする",
    back_to_service: "ログインをやめてサービスに戻る",
    footer: "名張市 社会保障カード 認証サーバ",
};

pub static EN: Texts = Texts {
    lang: "en",
    other_lang: "ja",
    other_lang_name: "日本語",
    login_title: "Nabari Social Security Card: sign in",
    login_lead: "The service below asks to confirm who you are. Check the application and sign its text with the certificate on your card. You type your PIN into the card agent's window, never into this page.",
    application_heading: "Your application",
    service: "Service",
    service_id: "Service ID",
    purpose: "Purpose",
    date: "Date",
    nonce: "Application number",
    time_limit: "Valid for",
    seconds: "seconds",
    full_text: "Full text you will sign",
    kind_heading: "Certificate to use",
    kind_auth: "My Number card (user-authentication certificate, 4-digit PIN)",
    kind_sign: "Juki card or signature certificate (signature password, 6–16 letters and digits)",
    hint_auth: "Put your card on the reader and press \"Sign in with my card\". When the card agent's window opens, type your 4-digit PIN there.",
    hint_sign: "Put your card on the reader and press \"Sign in with my card\". When the card agent's window opens, type your signature password (6–16 capital letters and digits) there.",
    card_heading: "Card",
    card_label: "Card on the reader",
    card_searching: "Looking for cards…",
    sign_button: "Sign in with my card",
    cancel_button: "Cancel and return to the service",
    pinless_heading: "Clinic reception (no PIN)",
    pinless_lead: "A staff member checks the card's photo against the patient, then the user-authentication certificate is read without a PIN. Such a login is used for eligibility checks only.",
    staff_id: "Staff ID",
    face_checked: "I checked the card's photo against the patient",
    pinless_button: "Read the card (no PIN)",
    login_note: "This page talks to the card agent on your own computer (127.0.0.1). Your PIN is never sent to this page or to the service.",
    js_needed: "Please enable JavaScript to use this page.",
    js_agent_unreachable: "The card agent cannot be reached. Start the card agent, then reload this page.",
    js_no_card: "No card was found. Put your card on the reader and reload this page.",
    js_enter_pin: "Type your PIN in the card agent's window.",
    js_waiting: "Waiting for the signature…",
    js_signed: "Signed. Signing you in…",
    js_failed: "The card could not sign. Please try again.",
    js_locked: "Your PIN is locked. Please ask your city office to unlock it.",
    js_expired: "Time is up. Reload the page to start again.",
    js_reading: "Reading the card…",
    retry: "Try again",
    back_to_service: "Cancel and return to the service",
    footer: "Nabari Social Security Card identity provider",
};

/// The texts for `lang` (`en` or Japanese).
pub fn texts(lang: Option<&str>) -> &'static Texts {
    match lang {
        Some("en") => &EN,
        _ => &JA,
    }
}

#[derive(Template)]
#[template(path = "idp_login.html")]
pub struct LoginPage<'a> {
    pub t: &'static Texts,
    pub tx: &'a str,
    pub csrf: &'a str,
    pub csp_nonce: &'a str,
    pub agent_origin: &'a str,
    pub challenge: &'a str,
    pub challenge_nonce: &'a str,
    pub sp_name: &'a str,
    pub sp_entity: &'a str,
    pub purpose: &'a str,
    pub date: &'a str,
    pub expires_in: i64,
    pub kind: &'a str,
    pub kind_hint: &'a str,
    /// (kind code, label) of the kinds this request allows.
    pub kinds: Vec<(&'static str, &'static str)>,
    /// A PIN login (card signature) is possible for this request.
    pub pin_login: bool,
    pub pinless: bool,
}

#[derive(Template)]
#[template(path = "idp_message.html")]
pub struct MessagePage<'a> {
    pub lang: &'a str,
    pub code: &'a str,
    pub class: &'a str,
    pub title: &'a str,
    pub paragraphs: Vec<String>,
    pub retry_url: Option<String>,
    pub retry_label: &'a str,
    /// (tx, csrf) of the pending request, to cancel it.
    pub cancel: Option<(String, String)>,
    pub cancel_label: &'a str,
    pub footer: &'a str,
}

#[derive(Template)]
#[template(path = "idp_post.html")]
pub struct PostPage<'a> {
    pub form: &'a str,
    pub csp_nonce: &'a str,
}

/// What a message page says (title, paragraphs, class) for an outcome code.
pub fn message(code: &str, ja: bool) -> (&'static str, Vec<&'static str>, &'static str) {
    let pick = |j: &'static str, e: &'static str| if ja { j } else { e };
    match code {
        "unknown_certificate" => (
            pick("利用登録が必要です", "Registration needed"),
            vec![
                pick(
                    "このカードは、名張市の社会保障カードサービスにまだ登録されていません。",
                    "This card is not yet registered for the Nabari social security card service.",
                ),
                pick(
                    "ご利用には、カードと本人確認書類をお持ちのうえ、名張市役所 窓口（本庁または各支所）で利用登録の手続きをしてください。登録が済むとログインできます。",
                    "To use the service, bring the card and an identity document to a Nabari City Office counter (名張市役所 窓口: the main office or a branch office) and register it. Once registered, you can sign in.",
                ),
            ],
            "info",
        ),
        "revoked" => (
            pick("ログインできません", "Sign-in refused"),
            vec![pick(
                "この電子証明書は失効しているため、ログインに使えません。紛失・盗難の届出をした場合や、内容に変更があった場合は、名張市役所 窓口にご相談ください。",
                "This certificate has been revoked and cannot be used to sign in. If you reported the card lost or stolen, or your details changed, please contact the Nabari City Office counter.",
            )],
            "error",
        ),
        "superseded" => (
            pick("新しいカードをお使いください", "Please use your new card"),
            vec![pick(
                "このカードは更新され、新しいカードに切り替わっています。新しいカードでログインしてください。",
                "This card has been renewed and replaced by a new one. Please sign in with your new card.",
            )],
            "error",
        ),
        "affiliation_changed" => (
            pick("ログインできません", "Sign-in refused"),
            vec![pick(
                "氏名・住所などの変更により署名用電子証明書が失効しています。利用者証明用電子証明書（マイナンバーカード）でログインするか、名張市役所 窓口で再発行を受けてください。",
                "Your signature certificate was revoked after a change of name or address. Sign in with the user-authentication certificate (My Number card), or have it reissued at the Nabari City Office counter.",
            )],
            "error",
        ),
        "expired" => (
            pick("電子証明書の有効期限切れ", "Certificate expired"),
            vec![pick(
                "このカードの電子証明書は有効期限が切れています。名張市役所 窓口で電子証明書の更新手続きをしてください。",
                "The certificate on this card has expired. Please renew it at the Nabari City Office counter.",
            )],
            "error",
        ),
        "not_yet_valid" => (
            pick("まだ使えない電子証明書です", "Certificate not yet valid"),
            vec![pick(
                "この電子証明書はまだ有効期間になっていません。",
                "This certificate is not valid yet.",
            )],
            "error",
        ),
        "invalid_card" => (
            pick("カードを確認できませんでした", "The card could not be verified"),
            vec![pick(
                "このカードの電子証明書は、公的個人認証サービスの正しい電子証明書として確認できませんでした。名張市が発行したカードをお使いください。",
                "The certificate on this card could not be verified as a genuine public certification (JPKI) certificate. Please use the card issued to you.",
            )],
            "error",
        ),
        "wrong_kind" => (
            pick("証明書の種類が違います", "Wrong certificate"),
            vec![pick(
                "選んだ方法と違う種類の電子証明書で署名されました。方法を選び直して、もう一度お試しください。",
                "The card signed with another certificate than the one chosen. Choose again and retry.",
            )],
            "error",
        ),
        "bad_signature" => (
            pick("署名を確認できませんでした", "The signature could not be verified"),
            vec![pick(
                "カードの署名を確認できませんでした。もう一度お試しください。",
                "The card's signature could not be verified. Please try again.",
            )],
            "error",
        ),
        "challenge_used" => (
            pick("もう一度お試しください", "Please try again"),
            vec![pick(
                "申請文の有効期限が切れたか、すでに使われています。新しい申請文でもう一度ログインしてください。",
                "The application text has expired or was already used. Please sign in again with a new one.",
            )],
            "error",
        ),
        "inactive" => (
            pick("ログインできません", "Sign-in refused"),
            vec![pick(
                "現在このカードではログインできません。名張市役所 窓口にお問い合わせください。",
                "You cannot sign in with this card at the moment. Please contact the Nabari City Office.",
            )],
            "error",
        ),
        "service_unavailable" => (
            pick("ただいまログインできません", "Sign-in unavailable"),
            vec![pick(
                "電子証明書の失効情報を確認できないため、ただいまログインできません。しばらくしてからお試しください。",
                "Revocation data cannot be checked right now, so sign-in is unavailable. Please try again later.",
            )],
            "error",
        ),
        "pinless_refused" => (
            pick("暗証番号なしのログインはできません", "No-PIN sign-in refused"),
            vec![pick(
                "このサービスでは暗証番号なしのログインは使えないか、職員の確認（職員IDと顔写真の確認）がありません。",
                "This service does not accept sign-in without a PIN, or the staff attestation (staff ID and photo check) is missing.",
            )],
            "error",
        ),
        "session_expired" => (
            pick("ログインの有効期限切れ", "Sign-in expired"),
            vec![pick(
                "ログインの受付時間が過ぎたか、この画面は使えなくなりました。利用するサービスに戻って、最初からやり直してください。",
                "The sign-in has timed out or this page is no longer valid. Please return to the service and start again.",
            )],
            "error",
        ),
        "request_refused" => (
            pick("このログイン要求は受け付けられません", "This sign-in request is refused"),
            vec![pick(
                "サービスからのログイン要求を確認できませんでした。利用するサービスのページから、もう一度お試しください。",
                "The sign-in request from the service could not be accepted. Please start again from the service's page.",
            )],
            "error",
        ),
        "metadata_unavailable" => (
            pick("ただいまログインできません", "Sign-in unavailable"),
            vec![pick(
                "連携サービスの情報を確認できないため、ただいまログインできません。しばらくしてからお試しください。",
                "The federation's service information cannot be checked right now. Please try again later.",
            )],
            "error",
        ),
        "rate_limited" => (
            pick("しばらくお待ちください", "Please wait"),
            vec![pick(
                "短い時間に多くのログインが試みられました。しばらく待ってからお試しください。",
                "Too many sign-in attempts in a short time. Please wait a while and try again.",
            )],
            "error",
        ),
        "forbidden" => (
            pick("この操作は受け付けられません", "Refused"),
            vec![pick(
                "画面の有効期限が切れたか、正しくない操作です。ページを読み込み直してください。",
                "The page has expired or the request is not valid. Please reload the page.",
            )],
            "error",
        ),
        "signed_out" => (
            pick("ログアウトしました", "Signed out"),
            vec![pick(
                "認証サーバからログアウトしました。ブラウザを閉じてください。",
                "You are signed out of the identity provider. You may close the browser.",
            )],
            "ok",
        ),
        "partial_logout" => (
            pick("一部のサービスからログアウトできませんでした", "Not signed out everywhere"),
            vec![pick(
                "認証サーバからはログアウトしましたが、一部のサービスからログアウトできませんでした。安全のためブラウザを閉じてください。",
                "You are signed out of the identity provider, but some services could not be signed out. Please close the browser.",
            )],
            "error",
        ),
        "idp_initiated_refused" => (
            pick("このサービスには直接ログインできません", "Direct sign-in not available"),
            vec![pick(
                "このサービスは、サービスのページからのログインだけを受け付けます。",
                "This service accepts sign-in only from its own pages.",
            )],
            "error",
        ),
        _ => (
            pick("エラー", "Error"),
            vec![pick(
                "処理できませんでした。最初からやり直してください。",
                "The request could not be processed. Please start again.",
            )],
            "error",
        ),
    }
}
