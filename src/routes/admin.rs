//! The operator console (`/admin`): users (paged), revenue (with a chart per day),
//! subscriptions, refunds and disputes, welcome credits, AI usage, Stripe events, the audit log
//! of operator actions, and granting credits. One account's page and its actions are in
//! `admin_user`. Only for the addresses in
//! `ADMIN_EMAILS`; everyone else — signed out
//! included — gets the same 404 as a page that does not exist, so the console is not revealed.

use super::input::Form;
use crate::config::Config;
use crate::ctx::Ctx;
use crate::domain::console::Operator;
use crate::domain::credit_change::{CreditChange, MAX_CHANGE};
use crate::domain::keyset::{ledger_key, Keyset, AUDIT_PARAMS};
use crate::domain::money::format_amount;
use crate::domain::User;
use crate::error::AppError;
use crate::reply::Reply;
use crate::services::console;
use crate::services::operator::{self, Grant};
use crate::views::admin::{audit_pages, revenue_days, Console, GrantForm};
use crate::views::flash::FlashKind;
use crate::views::render;
use worker::Request;

pub fn is_admin(config: &Config, user: &User) -> bool {
    config.admin_emails.iter().any(|admin| admin == user.email.as_str())
}

/// The signed-in operator, or a 404 for anyone else.
pub async fn require_admin(cx: &Ctx) -> Result<&User, AppError> {
    match cx.user().await? {
        Some(user) if is_admin(&cx.config, user) => Ok(user),
        _ => Err(AppError::NotFound),
    }
}

/// Who is acting, for the audit log.
pub fn operator(user: &User) -> Operator<'_> {
    Operator { id: user.id, email: user.email.as_str() }
}

fn query(req: &Request, name: &str) -> String {
    req.url()
        .ok()
        .and_then(|u| u.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.trim().to_string()))
        .unwrap_or_default()
}

/// `GET /admin?q=<part of an email>&page=<n>`.
pub async fn console(req: &Request, cx: &Ctx) -> Result<Reply, AppError> {
    let search = query(req, "q");
    if search.contains('\0') {
        // Postgres cannot compare with a NUL: a 400, not a 500 from the database.
        return Err(AppError::bad_request("q", "The search cannot contain a NUL character."));
    }
    let page = match query(req, "page").as_str() {
        "" => 1,
        n => n
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=100_000).contains(n))
            .ok_or_else(|| AppError::bad_request("page", "The page is a whole number from 1."))?,
    };
    let pairs: Vec<(String, String)> =
        req.url().map(|u| u.query_pairs().into_owned().collect()).unwrap_or_default();
    let audit = Keyset::from_query(&pairs, AUDIT_PARAMS, ledger_key)
        .map_err(|field| AppError::bad_request(field, "This page link is malformed."))?;
    let grant = GrantForm { email: query(req, "grant_to"), ..GrantForm::default() };
    console_page(cx, search, (page, &audit), grant).await.map(Reply::html)
}

async fn console_page(
    cx: &Ctx,
    search: String,
    (page, audit_page): (i64, &Keyset<i64>),
    mut grant: GrantForm,
) -> Result<String, AppError> {
    let o = console::overview(cx.db().await?, &search, page, audit_page).await?;
    let (audit, audit_older, audit_newer) =
        audit_pages(o.audit, console::AUDIT_PER_PAGE as usize, audit_page, &search);
    // A fresh reference per rendered form: sending the same form twice grants once.
    grant.reference = crate::security::random_token();
    let today = crate::domain::calendar::Day::of_unix_ms(cx.now_ms as i64);
    let layout = super::layout(cx, "Operator console · GhostTools").await;
    Ok(render(&Console {
        layout,
        search,
        users: o.users,
        revenue: o
            .revenue
            .iter()
            .map(|r| (format_amount(r.all_time, &r.currency), format_amount(r.last_30_days, &r.currency)))
            .collect(),
        subscriptions: o.subscriptions,
        reversals: o.reversals,
        unrecovered: o.unrecovered,
        usage: o.usage,
        events: o.events,
        welcome: o.welcome,
        welcome_credits: cx.config.welcome_credits(),
        grant,
        max_grant: MAX_CHANGE,
        page,
        has_next: o.has_next,
        audit,
        audit_older,
        audit_newer,
        revenue_days: revenue_days(&o.revenue_per_day, today, 30),
    }))
}

/// `POST /admin/grant`: `email`, `amount` (1–100000), `reason` (the ledger note), `reference`
/// (random, from the form; makes the grant idempotent).
pub async fn grant(req: &mut Request, cx: &Ctx) -> Result<Reply, AppError> {
    let admin = require_admin(cx).await?;
    let form = Form::read(req, cx).await?;
    let input = GrantForm {
        email: form.text("email").trim().to_ascii_lowercase(),
        amount: form.text("amount").trim().to_string(),
        reason: form.text("reason").trim().to_string(),
        ..GrantForm::default()
    };
    let change = match parse_grant(&input, form.get("reference")) {
        Ok(change) => change,
        Err(e) => return refuse(cx, input, e).await,
    };
    let amount = change.amount;
    match operator::grant(cx.db().await?, operator(admin), &input.email, &change).await? {
        Grant::Now { user_id, balance, reference } => {
            cx.log(
                "info",
                &format!("admin {} granted {amount} credits to user {user_id} ({reference})", admin.id),
            );
            cx.set_flash(
                FlashKind::Success,
                format!("Credits added: {amount} to {} (balance now {balance}).", input.email),
            );
        }
        Grant::Already => {
            cx.set_flash(FlashKind::Info, "That grant was made already (the form was sent twice).");
        }
        Grant::NoAccount => {
            let e = AppError::bad_request("email", "No account has that email address.");
            return refuse(cx, input, e).await;
        }
    }
    let q: String = url::form_urlencoded::byte_serialize(input.email.as_bytes()).collect();
    Ok(Reply::redirect(format!("/admin?q={q}")))
}

/// The grant as typed, or a 400 naming the field.
pub fn parse_grant(input: &GrantForm, reference: Option<&str>) -> Result<CreditChange, AppError> {
    if input.email.is_empty() {
        return Err(AppError::bad_request("email", "Enter the email address of the account."));
    }
    CreditChange::parse(&input.amount, &input.reason, reference)
}

async fn refuse(cx: &Ctx, mut input: GrantForm, e: AppError) -> Result<Reply, AppError> {
    input.error_field = e.field().unwrap_or_default().to_string();
    input.error = Some(e.public_message());
    let html = console_page(cx, input.email.clone(), (1, &Keyset::Newest), input).await?;
    Ok(Reply::html(html).with_status(400))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(email: &str, amount: &str, reason: &str) -> GrantForm {
        GrantForm {
            email: email.into(),
            amount: amount.into(),
            reason: reason.into(),
            ..GrantForm::default()
        }
    }

    #[test]
    fn a_grant_names_an_account_and_is_a_credit_change() {
        let r = Some("0123456789abcdef0123");
        assert_eq!(parse_grant(&form("a@b.test", "50", "Refund for outage"), r).unwrap().amount, 50);
        let field = |f: GrantForm, r: Option<&str>| parse_grant(&f, r).unwrap_err().field();
        assert_eq!(field(form("", "50", "x"), r), Some("email"));
        assert_eq!(field(form("a@b.test", "0", "x"), r), Some("amount"));
    }

    #[test]
    fn only_configured_addresses_are_operators() {
        let config = Config::from_lookup(|k| (k == "ADMIN_EMAILS").then(|| "ops@example.test".to_string()));
        // (An empty address, once checked here, can no longer be a user's: `EmailAddress`.)
        let user = |email: &str| User {
            id: crate::domain::UserId::new(1),
            email: crate::domain::EmailAddress::parse(email).unwrap(),
            session_version: 1,
        };
        assert!(is_admin(&config, &user("ops@example.test")));
        assert!(!is_admin(&config, &user("someone@example.test")));
    }
}
