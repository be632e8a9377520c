//! Driving the sign-in flows the way a browser does: the form (and its CSRF token), the email
//! the SMTP sink received and the link in it, the confirm page, and the Google round trip
//! through the fake provider.

use super::fakes::google::Account;
use super::session::csrf_in;
use super::smtp::Mail;
use super::Stack;
use mail_parser::MessageParser;

/// Opens the sign-in page and returns the form's CSRF token (the browser keeps the
/// pre-session cookie).
pub async fn sign_in_form_csrf(s: &Stack, browser: &reqwest::Client) -> String {
    let res = browser.get(s.url("/signin")).send().await.unwrap();
    assert_eq!(res.status(), 200, "GET /signin");
    csrf_in(&res.text().await.unwrap()).expect("the sign-in form has a csrf field")
}

/// Submits the sign-in form for `email` (with `next`, when given).
pub async fn request_link(
    s: &Stack,
    browser: &reqwest::Client,
    email: &str,
    next: Option<&str>,
) -> reqwest::Response {
    let csrf = sign_in_form_csrf(s, browser).await;
    let mut form = vec![("csrf", csrf.as_str()), ("email", email)];
    if let Some(next) = next {
        form.push(("next", next));
    }
    browser.post(s.url("/signin")).form(&form).send().await.unwrap()
}

/// The plain-text part of a recorded message, decoded.
pub fn text_of(mail: &Mail) -> String {
    let msg = MessageParser::default().parse(mail.data.as_bytes()).expect("the mail parses as MIME");
    msg.body_text(0).expect("a text part").into_owned()
}

pub fn html_of(mail: &Mail) -> String {
    let msg = MessageParser::default().parse(mail.data.as_bytes()).expect("the mail parses as MIME");
    msg.body_html(0).expect("an html part").into_owned()
}

/// The sign-in link in the mail's text part.
pub fn link_in(mail: &Mail) -> String {
    let text = text_of(mail);
    let start = text.find("http").unwrap_or_else(|| panic!("no link in the mail:\n{text}"));
    text[start..].split_whitespace().next().unwrap().to_string()
}

pub fn token_of(link: &str) -> String {
    let url = reqwest::Url::parse(link).expect("link is a URL");
    url.query_pairs().find(|(k, _)| k == "token").map(|(_, v)| v.into_owned()).expect("token in link")
}

/// Asks for a link for `email` and returns the token from the mail that arrived.
pub async fn emailed_token(s: &Stack, browser: &reqwest::Client, email: &str, next: Option<&str>) -> String {
    let before = s.fakes.smtp.mails_to(email).len();
    let res = request_link(s, browser, email, next).await;
    assert_eq!(res.status(), 200, "POST /signin: {}", res.text().await.unwrap_or_default());
    for _ in 0..200 {
        let mails = s.fakes.smtp.mails_to(email);
        if mails.len() > before {
            return token_of(&link_in(mails.last().unwrap()));
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("no sign-in mail reached {email}");
}

/// Returns once every mail the Worker sent before this call has reached the SMTP sink: a
/// marker mail, asked for afterwards (from a client of its own, so no limit of the caller's is
/// spent), has arrived. Then "no mail came" is a fact, not a guess after a sleep.
pub async fn mail_settled(s: &Stack) {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(1);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let browser = s.browser_from(&format!("198.51.100.{}", n % 250 + 1));
    emailed_token(s, &browser, &super::session::unique_email("marker"), None).await;
}

/// Opens the confirm page for `token` and presses its button (when another account is signed
/// in, the one that switches accounts).
pub async fn confirm(s: &Stack, browser: &reqwest::Client, token: &str) -> reqwest::Response {
    let page = browser.get(s.url(&format!("/signin/confirm?token={token}"))).send().await.unwrap();
    assert_eq!(page.status(), 200, "confirm page for a usable token");
    let html = page.text().await.unwrap();
    let csrf = csrf_in(&html).expect("confirm form has a csrf field");
    let mut form = vec![("csrf", csrf.as_str()), ("token", token)];
    if html.contains("name=\"switch\" value=\"yes\"") {
        form.push(("switch", "yes"));
    }
    browser.post(s.url("/signin/confirm")).form(&form).send().await.unwrap()
}

/// A full email sign-in for `email` in a fresh browser; returns the browser, signed in.
pub async fn sign_in_by_email(s: &Stack, email: &str) -> reqwest::Client {
    let browser = s.browser();
    let token = emailed_token(s, &browser, email, None).await;
    let res = confirm(s, &browser, &token).await;
    assert_eq!(res.status(), 303, "confirm signs in");
    browser
}

/// Presses "Continue with Google" and returns the provider's authorization URL.
pub async fn google_authorize_url(s: &Stack, browser: &reqwest::Client, next: Option<&str>) -> String {
    let csrf = sign_in_form_csrf(s, browser).await;
    let mut form = vec![("csrf", csrf.as_str())];
    if let Some(next) = next {
        form.push(("next", next));
    }
    let res = browser.post(s.url("/signin/google")).form(&form).send().await.unwrap();
    assert_eq!(res.status(), 303, "POST /signin/google redirects to Google");
    res.headers()["location"].to_str().unwrap().to_string()
}

/// At the fake provider, "signs in" as `account`; returns the callback URL it redirects to.
pub async fn google_consent(s: &Stack, authorize_url: &str, account: Account) -> String {
    let key = s.fakes.google.add_account(account);
    let res = s.http.get(format!("{authorize_url}&login_as={key}")).send().await.unwrap();
    assert_eq!(
        res.status(),
        303,
        "the fake provider redirects back: {}",
        res.text().await.unwrap_or_default()
    );
    res.headers()["location"].to_str().unwrap().to_string()
}

/// The whole Google round trip in `browser`; returns the callback's response.
pub async fn google_sign_in(s: &Stack, browser: &reqwest::Client, account: Account) -> reqwest::Response {
    let authorize = google_authorize_url(s, browser, None).await;
    let callback = google_consent(s, &authorize, account).await;
    browser.get(callback).send().await.unwrap()
}

/// The session cookie a response sets, if any.
pub fn session_cookie_set(res: &reqwest::Response) -> Option<String> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .map(|c| c.to_str().unwrap().to_string())
        .find(|c| c.starts_with("gt_session=") && !c.starts_with("gt_session=;"))
}
