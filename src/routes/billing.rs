//! Billing pages and actions: pricing (live from Stripe), checkout, the success page that
//! fulfils eagerly, the billing overview, and the way into Stripe's portal.

use super::input::Form;
use crate::clients::stripe::Stripe;
use crate::ctx::Ctx;
use crate::domain::billing::{Checkout, CheckoutSessionId, CheckoutStatus, Referral};
use crate::domain::keyset::{ledger_key, payment_key, Keyset, LEDGER_PARAMS, PAYMENTS_PARAMS};
use crate::error::AppError;
use crate::rate_limit::{Policy, Subject};
use crate::reply::Reply;
use crate::services::billing::checkout::{self, Started};
use crate::services::billing::{catalog, fulfilment, overview, plan_for};
use crate::views::billing::{BillingPage, PricingPage, SuccessPage};
use crate::views::payments::{history, LEDGER_PER_PAGE, PAYMENTS_PER_PAGE};
use crate::views::render;
use worker::Request;

fn query(req: &Request, name: &str) -> Option<String> {
    let url = req.url().ok()?;
    url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

pub async fn pricing(req: &Request, cx: &Ctx) -> Result<Reply, AppError> {
    let offers = catalog::offers(&cx.config, cx.now_ms, &|m| cx.log("warn", m)).await?;
    let layout = super::layout(cx, "Pricing · GhostTools").await;
    let current = match cx.user().await.ok().flatten() {
        Some(user) => Some(plan_for(cx.db().await?, user.id, cx.now_ms).await?.plan),
        None => None,
    };
    let cancelled = query(req, "checkout").as_deref() == Some("cancelled");
    Ok(Reply::html(render(&PricingPage::new(layout, &offers, current, cancelled))))
}

/// POST /billing/checkout: `price` (one of the offers) and `referral` (Rewardful's id, set by
/// the page's script; optional). Answers 303 to Stripe Checkout, or to the portal for a user
/// who already has a subscription and picks a plan.
pub async fn start_checkout(req: &mut Request, cx: &Ctx) -> Result<Reply, AppError> {
    let form = Form::read(req, cx).await?;
    // The buyer's standing is read with the session check (one round trip).
    let Some((user, standing)) = cx.user_with(checkout::Standing::read).await? else {
        return Ok(Reply::redirect("/signin?next=%2Fpricing"));
    };
    cx.limit(Policy::CheckoutCreation, &cx.subject).await?;
    let price = form.get("price").map(str::trim).filter(|p| !p.is_empty());
    let price = price.ok_or_else(|| AppError::bad_request("price", "Choose a plan or a credit pack."))?;
    let referral = Referral::parse(form.get("referral"))?;
    let offer = catalog::find(&cx.config, cx.now_ms, price, &|m| cx.log("warn", m)).await?;
    let stripe = Stripe::from_config(&cx.config)?;
    let buyer = checkout::Buyer { user, standing };
    let started =
        checkout::start(cx.db().await?, &stripe, cx.site()?, buyer, &offer, referral.as_ref()).await?;
    Ok(match started {
        Started::Checkout { url, session_id } => {
            if !url.starts_with(&cx.config.endpoints.stripe_checkout) {
                cx.log(
                    "warn",
                    &format!("checkout {session_id} is at {url}: not allowed by the CSP's form-action"),
                );
            }
            Reply::redirect(url)
        }
        Started::Portal { url } => Reply::redirect(url),
    })
}

/// GET /billing/success?session_id=…: fulfils at once through the webhook's own function, so
/// the credits show even when the webhook is late. Another user's session is a 404. A checkout
/// already fulfilled is answered from our records; until then each load asks Stripe, at most
/// `checkout_confirmation` times per user and session (Stripe's rate limit is the whole
/// account's: reloads must not spend it for everyone).
pub async fn checkout_success(req: &Request, cx: &Ctx) -> Result<Reply, AppError> {
    let parsed = CheckoutSessionId::parse(query(req, "session_id").as_deref());
    // An id that is not one reads nothing; signed out goes to sign in before it is refused.
    let id = parsed.as_ref().map_or(String::new(), |id| id.as_str().to_string());
    let id = id.as_str();
    // Our record and the balance are read with the session check (one round trip; the route
    // is `SignedInWithReads`): a paid one needs nothing else.
    let read = async |db: &_, user_id| fulfilment::recorded(db, user_id, id).await;
    let (user, recorded) = cx.user_with(read).await?.ok_or(AppError::Unauthenticated)?;
    parsed?;
    let (ours, balance) = recorded?;
    let db = cx.db().await?;
    let confirming = async |ours: &Checkout| -> Result<Reply, AppError> {
        let title = if ours.status == CheckoutStatus::Paid { "Thank you" } else { "Confirming your payment" };
        let layout = super::layout(cx, format!("{title} · GhostTools")).await;
        Ok(Reply::html(render(&SuccessPage::confirming(layout, ours, balance))))
    };
    if ours.status == CheckoutStatus::Paid {
        return confirming(&ours).await;
    }
    match cx.limit(Policy::CheckoutConfirmation, &Subject::checkout(user.id, id)).await {
        Ok(_) => {}
        // The webhook fulfils the session whatever the limiter says: say that, not "error".
        Err(AppError::RateLimiterUnavailable { .. }) => return confirming(&ours).await,
        Err(e) => return Err(e),
    }
    let stripe = Stripe::from_config(&cx.config)?;
    let session = match stripe.retrieve_checkout_session(id).await {
        Ok(s) => s,
        Err(e) if e.is_not_found() => return Err(AppError::NotFound),
        // Stripe unreachable or failing: the customer has most likely paid, and the webhook
        // fulfils the session when it arrives. Say so rather than "something went wrong".
        Err(e) if e.customer_message().is_none() => {
            let detail = format!("checkout {id}: Stripe unavailable on the success page: {e}");
            cx.log("warn", &detail);
            crate::routes::errors::report_to_sentry(cx, "upstream_error", &detail);
            return confirming(&ours).await;
        }
        Err(e) => return Err(e.into()),
    };
    let fulfilled = fulfilment::fulfil(db, &stripe, &cx.config, session, ours, cx.now_ms).await?;
    let Some((row, outcome, status, balance)) = fulfilled else {
        cx.log("warn", &format!("checkout {id}: Stripe's metadata names another user"));
        return Err(AppError::NotFound);
    };
    let layout = super::layout(cx, "Thank you · GhostTools").await;
    Ok(Reply::html(render(&SuccessPage::new(layout, &row, outcome, status, balance))))
}

/// GET /billing: plan, status, dates, notices, balance, and a page each of the payments
/// (`payments_before` / `payments_after`) and the ledger (`ledger_before` / `ledger_after`).
pub async fn overview(req: &Request, cx: &Ctx) -> Result<Reply, AppError> {
    let pairs: Vec<(String, String)> =
        req.url().map(|u| u.query_pairs().into_owned().collect()).unwrap_or_default();
    let bad = |field: &'static str| AppError::bad_request(field, "This page link is malformed.");
    let payments = Keyset::from_query(&pairs, PAYMENTS_PARAMS, payment_key).map_err(bad)?;
    let ledger = Keyset::from_query(&pairs, LEDGER_PARAMS, ledger_key).map_err(bad)?;
    let user = cx.require_user().await?;
    let (db, now) = (cx.db().await?, cx.now_ms);
    let o =
        overview::read(db, user.id, now, (&payments, PAYMENTS_PER_PAGE), (&ledger, LEDGER_PER_PAGE)).await?;
    let history = history(o.pages, &payments, &ledger);
    let layout = super::layout(cx, "Billing · GhostTools").await;
    let mut page = BillingPage::new(
        layout,
        &o.entitlement,
        o.balance,
        history,
        &o.checkouts,
        &o.unsettled,
        o.has_customer,
    );
    if let Some(why) = o.hold {
        page.notices.insert(0, why.to_string());
    }
    Ok(Reply::html(render(&page)))
}

/// POST /billing/portal: 303 to a Stripe billing portal session for the user's customer;
/// refused while the account is on hold.
pub async fn open_portal(cx: &Ctx) -> Result<Reply, AppError> {
    // The standing (hold, customer) is read with the session check (one round trip).
    let (_, standing) = cx.user_with(checkout::Standing::read).await?.ok_or(AppError::Unauthenticated)?;
    let stripe = Stripe::from_config(&cx.config)?;
    let url = checkout::portal(&stripe, cx.site()?, &standing).await?;
    Ok(Reply::redirect(url))
}
