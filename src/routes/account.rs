//! The signed-in home (dashboard), the account page, signing out (here or everywhere) and
//! deleting the account.

use super::input::Form;
use crate::ctx::Ctx;
use crate::domain::billing::Plan;
use crate::domain::calendar::Day;
use crate::error::AppError;
use crate::rate_limit::{Policy, Subject};
use crate::reply::{Body, Reply};
use crate::services::account::{self, Deletion};
use crate::services::billing::entitlement;
use crate::services::billing::reversals;
use crate::services::dashboard;
use crate::views::account::RecentWork;
use crate::views::account::{Account, Dashboard, Deleted, SessionView};
use crate::views::billing::plan_period;
use crate::views::flash::FlashKind;
use crate::views::ledger::ledger_views;
use crate::views::render;
use crate::views::tools::when;
use crate::views::usage;
use worker::Request;

/// `GET /dashboard`: balance, plan, this period's allowance and its renewal, credits spent per
/// day, recent work, recent credit changes, a held account's notice, and what to do next.
pub async fn dashboard(cx: &Ctx) -> Result<Reply, AppError> {
    let user = cx.require_user().await?;
    // One statement for everything below (the session check above is the other round trip).
    let data = dashboard::load(cx.db().await?, user.id).await?;
    let (balance, ledger) = (data.balance, data.ledger);
    let entitlement = entitlement(data.subscriptions, cx.now_ms / 1000);
    let recent_work = data.recent_work.into_iter().map(RecentWork::of).collect();
    let today = Day::of_unix_ms(cx.now_ms as i64);
    let layout = super::layout(cx, "Dashboard · GhostTools").await;
    Ok(Reply::html(render(&Dashboard {
        layout,
        podscribe: cx.config.tools.podscribe_enabled,
        balance,
        plan: entitlement.plan.name().to_string(),
        on_paid_plan: entitlement.plan != Plan::Free,
        past_due: entitlement.is_past_due(),
        recent_work,
        welcomed: ledger.iter().any(|l| l.reason == crate::domain::ledger::Reason::Welcome),
        ledger: ledger_views(&ledger),
        hold: data.hold.map(reversals::notice),
        allowance: usage::allowance(&entitlement, &data.periods, balance),
        period: plan_period(&entitlement),
        spending: usage::spending(&data.usage, today, 30),
    })))
}

/// `GET /account`: email, linked Google account, sessions, deletion.
pub async fn account(cx: &Ctx) -> Result<Reply, AppError> {
    account_page(cx, AccountForms::default()).await.map(Reply::html)
}

/// What the account page's forms show after a refused submission.
#[derive(Debug, Default)]
pub struct AccountForms {
    /// Why the deletion was refused.
    pub delete: Option<String>,
    /// The address typed into "change your address" and why it was refused.
    pub email: Option<(String, String)>,
    /// Why Google was not unlinked.
    pub google: Option<String>,
}

impl AccountForms {
    /// The page again, saying why the deletion was refused.
    fn deletion(message: &str) -> AccountForms {
        AccountForms { delete: Some(message.to_string()), ..AccountForms::default() }
    }
}

pub(super) async fn account_page(cx: &Ctx, forms: AccountForms) -> Result<String, AppError> {
    let user = cx.require_user().await?;
    let account::Settings { google_email, pending_email, sessions } =
        account::settings(cx.db().await?, user.id).await?;
    let pending_email =
        pending_email.map(|p| (p.new_email, crate::sign_in::email_link::clock_time(p.expires_at_ms as u64)));
    let current = cx.session_id();
    let sessions = sessions
        .into_iter()
        .map(|s| SessionView {
            id: s.id,
            current: Some(s.sid.as_str()) == current,
            browser: s.browser,
            place: if s.place.is_empty() { "unknown".into() } else { s.place },
            signed_in: when(s.signed_in_secs * 1000),
            last_seen: when(s.last_seen_secs * 1000),
        })
        .collect();
    let layout = super::layout(cx, "Your account · GhostTools").await;
    let (email_typed, email_error) = forms.email.unzip();
    Ok(render(&Account {
        layout,
        email: user.email.to_string(),
        google_email,
        pending_email,
        email_typed: email_typed.unwrap_or_default(),
        email_error,
        delete_error: forms.delete,
        google_error: forms.google,
        sessions,
    }))
}

/// POST only, with the CSRF token: a link or an image on another site cannot sign you out.
pub async fn sign_out(req: &mut Request, cx: &Ctx) -> Result<Reply, AppError> {
    Form::read(req, cx).await?;
    cx.end_session().await?;
    cx.set_flash(FlashKind::Info, "You are signed out.");
    Ok(Reply::redirect("/"))
}

/// `POST /account/signout-everywhere`: every session of this user ends, this one included, and a
/// pending address change is cancelled.
pub async fn sign_out_everywhere(cx: &Ctx) -> Result<Reply, AppError> {
    let user = cx.require_user().await?;
    account::sign_out_everywhere(cx.db().await?, user.id).await?;
    cx.end_session().await?;
    cx.set_flash(FlashKind::Info, "You are signed out on every device.");
    Ok(Reply::redirect("/signin"))
}

/// `POST /account/sessions/:id/end`: ends one of the user's sessions ("end this session").
/// Another user's session, or one already ended, is a 404 that changes nothing.
pub async fn end_listed_session(cx: &Ctx, id: &str) -> Result<Reply, AppError> {
    let user = cx.require_user().await?;
    let id: i64 = id.parse().map_err(|_| AppError::NotFound)?;
    account::end_listed_session(cx.db().await?, user.id, id).await?;
    cx.set_flash(FlashKind::Info, "That session has ended; it is signed out.");
    Ok(Reply::redirect("/account"))
}

/// `POST /account/google/unlink`: forgets the linked Google account. The account's address is
/// verified (by a link or by Google), so an emailed sign-in link still reaches it; when no mail
/// is configured no link can be sent, and unlinking is refused (409) rather than locking the
/// account out. Signing in with Google again with that address links it again.
pub async fn unlink_google(cx: &Ctx) -> Result<Reply, AppError> {
    let user = cx.require_user().await?;
    if let Some(refusal) = account::google_unlink_refusal(&cx.config) {
        let forms = AccountForms { google: Some(refusal.to_string()), ..AccountForms::default() };
        return Ok(Reply::html(account_page(cx, forms).await?).with_status(409));
    }
    if account::unlink_google(cx.db().await?, user.id).await? {
        cx.log("info", &format!("account {}: Google unlinked", user.id));
    }
    cx.set_flash(
        FlashKind::Info,
        format!("Google is unlinked. You sign in with a link emailed to {}.", user.email),
    );
    Ok(Reply::redirect("/account"))
}

/// `POST /account/delete`: with the user's own address typed as confirmation.
pub async fn delete(form: Form, cx: &Ctx) -> Result<Reply, AppError> {
    let user = cx.require_user().await?;
    let id = user.id;
    let uploads = crate::clients::uploads::Uploads::of(&cx.env).ok();
    let deletion =
        account::delete(cx.db().await?, &cx.config, id, &user.email, form.text("confirm"), uploads.as_ref())
            .await?;
    let (stripe_customer, erased) = match deletion {
        Deletion::Deleted { stripe_customer, erased } => (stripe_customer, erased),
        Deletion::NotConfirmed => {
            let message = "That is not your account's email address. Type it exactly to delete the account.";
            let html = account_page(cx, AccountForms::deletion(message)).await?;
            return Ok(Reply::html(html).with_status(400));
        }
        Deletion::BillingOpen(e) => {
            crate::routes::errors::report(cx, &e);
            let message = "We could not reach Stripe to cancel your billing, so nothing was deleted. \
                           Please try again in a minute.";
            // The status of any Stripe failure (502, as `report` logs it), with the account page.
            let html = account_page(cx, AccountForms::deletion(message)).await?;
            return Ok(Reply::html(html).with_status(e.status()));
        }
    };
    if let Some(customer) = stripe_customer {
        cx.log("info", &format!("account {id}: Stripe customer {customer} deleted"));
    }
    cx.log("info", &format!("account {id} deleted and anonymized"));
    if erased {
        // Only the request that erased the account says goodbye (a double submit mails once);
        // the address goes with the mail and is kept nowhere.
        cx.wait_until(crate::services::notices::say_goodbye(
            crate::routes::tools::job_env(cx),
            user.email.clone(),
            cx.now_ms,
        ));
    }
    cx.end_session().await?;
    // A fresh layout: the person is no longer signed in.
    let layout =
        crate::views::Layout::new("Account deleted · GhostTools", &cx.nonce).for_site(&cx.config, &cx.path);
    Ok(Reply::html(render(&Deleted { layout })))
}

/// `POST /account/export`: everything we hold about the user as one JSON file. A POST with the
/// form's token (another site cannot make a browser download it) and limited per user
/// (`data_export`): it reads the whole account in one statement.
pub async fn export(cx: &Ctx) -> Result<Reply, AppError> {
    let user = cx.require_user().await?;
    cx.limit(Policy::DataExport, &Subject::user(user.id)).await?;
    let json = account::export(cx.db().await?, user.id, cx.now_ms as i64).await?;
    let date = Day::of_unix_ms(cx.now_ms as i64).iso();
    Ok(Reply::new(200, Body::Bytes { content_type: "application/json".into(), bytes: json.into_bytes() })
        .with_header("Content-Disposition", format!("attachment; filename=\"ghosttools-data-{date}.json\""))
        .no_store())
}
