//! Signing in by email: the form, sending the link, the link's confirm page and spending it.

use super::input::Form;
use crate::ctx::Ctx;
use crate::domain::email_links::LinkState;
use crate::domain::{EmailAddress, NextPath};
use crate::error::AppError;
use crate::mail::sign_in::{self as mail, SignInMail};
use crate::reply::Reply;
use crate::sign_in::{abuse, email_link};
use crate::views::auth::{CheckEmail, Confirm, Problem, SignIn};
use crate::views::render;
use worker::Request;

/// `GET /signin?next=/path`: the form (a signed-in visitor goes straight on).
pub async fn form(req: &Request, cx: &Ctx) -> Result<Reply, AppError> {
    let next = NextPath::parse_or_default(query(req, "next").as_deref());
    if cx.user().await?.is_some() {
        return Ok(Reply::redirect(next.as_str()));
    }
    page(cx, "", &next, None).await
}

/// `POST /signin`: parse the address, check the limits, send the link. The answer is the same
/// whether or not the address has an account.
pub async fn submit(req: &mut Request, cx: &Ctx) -> Result<Reply, AppError> {
    let form = Form::read(req, cx).await?;
    let typed = form.text("email");
    let next = NextPath::parse_or_default(form.get("next"));
    let email = match EmailAddress::parse(typed) {
        Ok(email) => email,
        Err(why) => {
            return Ok(page(cx, typed, &next, Some(why.to_string())).await?.with_status(400));
        }
    };
    match abuse::check_sign_in_email(cx, &email).await {
        Ok(()) => {}
        Err(AppError::TooManyRequests { retry_after_secs }) => {
            let minutes = retry_after_secs.div_ceil(60);
            let message = format!(
                "We have sent several sign-in links to this address recently. Use the newest email, or try again in {minutes} minute{}.",
                if minutes == 1 { "" } else { "s" }
            );
            return Ok(page(cx, email.as_str(), &next, Some(message))
                .await?
                .with_status(429)
                .with_header("Retry-After", retry_after_secs.to_string()));
        }
        Err(other) => return Err(other),
    }
    let origin = coarse_origin(req);
    let write = |letter: &email_link::Letter| {
        let mail = SignInMail {
            to: letter.to,
            link: letter.link,
            minutes: letter.minutes,
            expires_at: letter.expires_at,
            origin: &origin,
            site: letter.site,
        };
        mail::sign_in_message(letter.from, &mail, letter.now_secs, letter.message_id)
    };
    match email_link::request(cx, &email, &next, write).await? {
        email_link::Requested::Sent => {
            let minutes = cx
                .config
                .email_link_ttl_minutes
                .clone()
                .unwrap_or(crate::config::DEFAULT_EMAIL_LINK_TTL_MINUTES);
            let layout = super::layout(cx, "Check your email · GhostTools").await;
            Ok(Reply::html(render(&CheckEmail { layout, email: email.to_string(), minutes })))
        }
        email_link::Requested::NotSent => {
            let message = "We couldn't send the email just now. Please try again in a minute.".to_string();
            Ok(page(cx, email.as_str(), &next, Some(message)).await?.with_status(503))
        }
    }
}

/// `GET /signin/confirm?token=…`: names the account the link signs in and shows a button;
/// opening the link spends nothing (mail scanners open links too). A forwarded link would sign
/// the reader into someone else's account (login CSRF: their uploads and purchases would land
/// there), so the page says whose account it is, and asks first when another is signed in.
pub async fn confirm_page(req: &Request, cx: &Ctx) -> Result<Reply, AppError> {
    let token = query(req, "token").unwrap_or_default();
    let reply = match email_link::inspect(cx, &token).await? {
        LinkState::Usable { email } => confirm_form(cx, token, email).await?,
        state => problem(cx, &state).await,
    };
    // The token is in this page's URL: never send it to another site in a Referer. Not
    // `no-referrer`: under that policy browsers send `Origin: null` with the page's own form
    // POST, which the CSRF check rightly refuses (found by the browser tests).
    Ok(reply.with_header("Referrer-Policy", "same-origin"))
}

/// The confirm page for a usable link to `email`: with the question, when another account is
/// signed in in this browser.
async fn confirm_form(cx: &Ctx, token: String, email: String) -> Result<Reply, AppError> {
    let signed_in_as = cx.user().await?.map(|u| u.email.to_string()).filter(|current| *current != email);
    let mut layout = super::layout(cx, "Sign in · GhostTools").await;
    layout.csrf = cx.csrf_token()?;
    Ok(Reply::html(render(&Confirm { layout, token, email, signed_in_as })))
}

/// `POST /signin/confirm`: spends the token (once), signs in, goes to the return path. When
/// another account is signed in here, only with the page's answer to "switch accounts?"
/// (`switch=yes`); without it the question is shown again and nothing is spent.
pub async fn confirm(req: &mut Request, cx: &Ctx) -> Result<Reply, AppError> {
    let form = Form::read(req, cx).await?;
    let token = form.text("token");
    if form.get("switch") != Some("yes") {
        // Only a browser signed in already may be switching accounts: look at the link then.
        if let Some(user) = cx.user().await? {
            if let LinkState::Usable { email } = email_link::inspect(cx, token).await? {
                if user.email.as_str() != email {
                    return Ok(confirm_form(cx, token.to_string(), email).await?.with_status(409));
                }
            }
        }
    }
    match email_link::spend(cx, token).await? {
        Ok((user, next)) => {
            cx.start_session(&user, &coarse_origin(req)).await?;
            Ok(Reply::redirect(next.as_str()))
        }
        Err(state) => Ok(problem(cx, &state).await),
    }
}

/// The sign-in form; with Google's button, its CSP lets the form lead to the provider.
async fn page(cx: &Ctx, email: &str, next: &NextPath, error: Option<String>) -> Result<Reply, AppError> {
    let mut layout = super::layout(cx, "Sign in · GhostTools").await;
    layout.csrf = cx.csrf_token()?;
    let next = next.to_string();
    let provider = crate::sign_in::google::authorization_origin(cx).await;
    let html = render(&SignIn { layout, email: email.to_string(), next, error, google: provider.is_some() });
    Ok(Reply::html(html).with_form_action(provider))
}

async fn problem(cx: &Ctx, state: &LinkState) -> Reply {
    let (heading, message, status) = match state {
        LinkState::Used => (
            "This link was already used",
            "Each sign-in link works once. Ask for a new one and we'll email it right away.",
            410,
        ),
        LinkState::Expired => (
            "This link has expired",
            "Sign-in links work for a short time only. Ask for a new one and we'll email it right away.",
            410,
        ),
        LinkState::Unknown | LinkState::Usable { .. } => (
            "This link doesn't work",
            "It may have been copied incompletely, or replaced by a newer link. Ask for a new one and we'll email it right away.",
            404,
        ),
    };
    let layout = super::layout(cx, format!("{heading} · GhostTools")).await;
    let action = ("/signin", "Get a new sign-in link");
    Reply::html(render(&Problem { layout, heading, message, action })).with_status(status)
}

/// One query parameter, decoded.
pub fn query(req: &Request, name: &str) -> Option<String> {
    let url = req.url().ok()?;
    url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

/// Where the request came from, as coarsely as Cloudflare tells us (`Berlin, DE`), for the
/// email and the account page's list of sessions: enough for someone to notice a request that was not theirs, nothing more.
pub(crate) fn coarse_origin(req: &Request) -> String {
    let clean = |s: Option<String>| {
        s.map(|s| s.chars().filter(|c| !c.is_control()).take(60).collect::<String>())
            .filter(|s| !s.trim().is_empty())
    };
    let cf = req.cf();
    let city = clean(cf.and_then(|cf| cf.city()));
    let country = clean(cf.and_then(|cf| cf.country()));
    match (city, country) {
        (Some(city), Some(country)) => format!("{city}, {country}"),
        (None, Some(country)) => country,
        (Some(city), None) => city,
        (None, None) => "unknown".into(),
    }
}
