//! Changing the account's email address: asking (`POST /account/email`), the link's confirm
//! page (`GET /account/email/confirm`, which changes nothing: mail scanners open links) and the
//! confirmation (`POST /account/email/confirm`, from a session of the same account).

use super::account::{account_page, AccountForms};
use super::input::Form;
use super::sign_in::{coarse_origin, query};
use crate::ctx::Ctx;
use crate::domain::email_links::{ChangeState, Refused};
use crate::domain::EmailAddress;
use crate::error::AppError;
use crate::rate_limit::{Policy, Subject};
use crate::reply::Reply;
use crate::sign_in::email_change::{self, Requested, TTL_MINUTES};
use crate::views::account::EmailConfirm;
use crate::views::auth::Problem;
use crate::views::flash::FlashKind;
use crate::views::render;
use worker::Request;

/// `POST /account/email`: mails a confirmation link to the new address and a notice to the
/// current one. Limited per user (`email_change`) and per new address (`signin_email_per_address`,
/// the inbox limit sign-in links count against too). The answer is the same whether or not the
/// new address has an account.
pub async fn request_change(req: &mut Request, cx: &Ctx) -> Result<Reply, AppError> {
    let form = Form::read(req, cx).await?;
    let user = cx.require_user().await?;
    let typed = form.text("email").trim();
    let refuse = async |message: String, status: u16| -> Result<Reply, AppError> {
        let forms = AccountForms { email: Some((typed.to_string(), message)), ..AccountForms::default() };
        Ok(Reply::html(account_page(cx, forms).await?).with_status(status))
    };
    let new_email = match EmailAddress::parse(typed) {
        Ok(email) => email,
        Err(why) => return refuse(why.to_string(), 400).await,
    };
    if new_email == user.email {
        return refuse("That is already your address.".into(), 400).await;
    }
    for (policy, subject) in [
        (Policy::EmailChange, Subject::user(user.id)),
        (Policy::SignInEmailPerAddress, Subject::email(new_email.as_str())),
    ] {
        match cx.limit(policy, &subject).await {
            Err(AppError::TooManyRequests { retry_after_secs }) => {
                let minutes = retry_after_secs.div_ceil(60);
                let message = format!(
                    "You have asked for several address changes recently. Try again in {minutes} minute{}.",
                    if minutes == 1 { "" } else { "s" }
                );
                return Ok(refuse(message, 429)
                    .await?
                    .with_header("Retry-After", retry_after_secs.to_string()));
            }
            other => other.map(drop)?,
        }
    }
    match email_change::request(cx, user, &new_email, &coarse_origin(req)).await? {
        Requested::Sent => {
            cx.set_flash(
                FlashKind::Info,
                format!(
                    "We emailed a link to {new_email}. Open it within {TTL_MINUTES} minutes, in a browser signed in to this account, to make it your address. Until then your address stays {}; we told it about the request.",
                    user.email
                ),
            );
            Ok(Reply::redirect("/account"))
        }
        Requested::NotSent => {
            refuse("We couldn't send the email just now. Please try again in a minute.".into(), 503).await
        }
    }
}

/// `GET /account/email/confirm?token=…`: what the link would do, and the button that does it.
/// Only a session of the account that asked can confirm: a link forwarded to, or opened by,
/// anyone else changes nothing.
pub async fn confirm_page(req: &Request, cx: &Ctx) -> Result<Reply, AppError> {
    let token = query(req, "token").unwrap_or_default();
    let reply = match email_change::inspect(cx, &token).await? {
        ChangeState::Usable { user_id, new_email } => match cx.user().await? {
            None => problem(cx, SIGN_IN_FIRST).await,
            Some(user) if user.id != user_id => problem(cx, OTHER_ACCOUNT).await,
            Some(user) => {
                let mut layout = super::layout(cx, "Confirm your new address · GhostTools").await;
                layout.csrf = cx.csrf_token()?;
                let old_email = user.email.to_string();
                Reply::html(render(&EmailConfirm { layout, token, old_email, new_email }))
            }
        },
        state => problem(cx, link_problem(&state)).await,
    };
    // The token is in the URL: it must never leave in a Referer (see `sign_in::confirm_page`).
    Ok(reply.with_header("Referrer-Policy", "same-origin"))
}

/// `POST /account/email/confirm`: spends the link and changes the address, signs out every
/// other session, and tells Stripe the new address.
pub async fn confirm(form: Form, cx: &Ctx) -> Result<Reply, AppError> {
    let user = cx.require_user().await?;
    let sid = cx.session_id().ok_or(AppError::Unauthenticated)?;
    let changed = match email_change::confirm(cx, user, sid, form.text("token")).await? {
        Ok(changed) => changed,
        Err(Refused::Link(state)) => return Ok(problem(cx, link_problem(&state)).await),
        Err(Refused::OtherAccount) => return Ok(problem(cx, OTHER_ACCOUNT).await),
        Err(Refused::Taken) => return Ok(problem(cx, TAKEN).await),
    };
    if let Err(e) = email_change::update_billing_email(cx, user.id, &changed.new_email).await {
        crate::routes::errors::report(cx, &e);
    }
    let others = match changed.sessions_ended {
        0 => String::new(),
        1 => " Your other session was signed out.".into(),
        n => format!(" Your {n} other sessions were signed out."),
    };
    cx.set_flash(
        FlashKind::Info,
        format!(
            "Your email address is now {}. Sign-in links go there from now on.{others}",
            changed.new_email
        ),
    );
    Ok(Reply::redirect("/account"))
}

/// The page for a link that cannot be used: (heading, message, status).
type Says = (&'static str, &'static str, u16);

const SIGN_IN_FIRST: Says = (
        "Sign in to confirm your new address",
        "This link changes the email address of a GhostTools account. Sign in to that account in this browser (with its current address or Google), then open the link again.",
    200,
);
const OTHER_ACCOUNT: Says = (
        "This link is for another account",
        "The account signed in here did not ask for this change, so nothing was changed. Sign out, sign in to the account that asked, and open the link again.",
    403,
);
const TAKEN: Says = (
        "That address already has an account",
        "Another GhostTools account has had this address since the link was sent, so nothing was changed. One address belongs to one account.",
    409,
);

fn link_problem(state: &ChangeState) -> Says {
    match state {
        ChangeState::Used => (
            "This link was already used",
            "Each address-change link works once. If your address did not change, ask again on your account page.",
            410,
        ),
        ChangeState::Expired => (
            "This link has expired",
            "Address-change links work for an hour. Ask again on your account page and we'll email a new one.",
            410,
        ),
        ChangeState::Unknown | ChangeState::Usable { .. } => (
            "This link doesn't work",
            "It may have been copied incompletely, or replaced by a newer request. Ask again on your account page.",
            404,
        ),
    }
}

async fn problem(cx: &Ctx, (heading, message, status): Says) -> Reply {
    let layout = super::layout(cx, format!("{heading} · GhostTools")).await;
    let action = match status {
        200 => ("/signin", "Sign in"),
        _ => ("/account", "Go to your account"),
    };
    Reply::html(render(&Problem { layout, heading, message, action })).with_status(status)
}
