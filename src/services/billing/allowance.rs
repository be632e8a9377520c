//! Plan allowances. What an invoice grants comes from the invoice's own lines (the price it
//! charged for), never from the subscription as it is when the event is processed: a late
//! invoice for Starter grants Starter's allowance even after a switch to Pro.
//!
//! The rule per billing period: the period holds the allowance of the highest plan paid for in
//! it, granted at once. A new period grants its plan's whole allowance; an upgrade's proration
//! invoice grants the difference to the new plan's (once: the period remembers its level); a
//! downgrade grants nothing and takes nothing (the next period grants the new plan's).

use super::catalog::{credits_of, plan_of_price};
use crate::clients::stripe::Stripe;
use crate::clients::stripe_objects::Invoice;
use crate::config::Config;
use crate::domain::billing::Plan;
use crate::domain::Credits;
use crate::error::AppError;

/// The allowance an invoice pays for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoiceAllowance {
    pub price_id: String,
    /// `Free`: a price that is none of our plans.
    pub plan: Plan,
    pub credits: Credits,
    /// The end of the billing period the line covers (the period's key).
    pub period_end: Option<i64>,
}

/// Reads the prices of the invoice's charged lines (credits live in each price's metadata) and
/// answers the one with the largest allowance. Credit lines (negative: unused time on the old
/// plan) buy nothing. `None`: no line buys an allowance.
pub async fn of_invoice(
    stripe: &Stripe,
    config: &Config,
    invoice: &Invoice,
) -> Result<Option<InvoiceAllowance>, AppError> {
    let mut best: Option<InvoiceAllowance> = None;
    for line in invoice.lines.data.iter().filter(|l| l.amount >= 0) {
        let Some(price_id) = line.price_id() else { continue };
        if best.as_ref().is_some_and(|b| b.price_id == price_id) {
            continue;
        }
        let price = stripe.retrieve_price(price_id).await?;
        let Some(credits) = credits_of(&price) else { continue };
        if best.as_ref().is_none_or(|b| credits > b.credits) {
            best = Some(InvoiceAllowance {
                price_id: price.id.clone(),
                plan: plan_of_price(config, &price.id),
                credits,
                period_end: line.period_end().or(invoice.period_end),
            });
        }
    }
    Ok(best)
}

/// What the event log says when a period is raised to `target`: granted it whole, granted the
/// difference, or covered already; `{credits}`, `{balance}` and `{level}` stand for the numbers,
/// filled in by the grant's own statement (`db::plan_event`).
pub fn words(target: Credits) -> [String; 3] {
    [
        "allowance of {credits} credits granted (balance {balance})".into(),
        format!("upgrade: {{credits}} credits granted to reach {target} (balance {{balance}})"),
        format!("the period already holds {{level}} credits of allowance: nothing granted for {target}"),
    ]
}
