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
use crate::db::allowance as periods;
use crate::db::credits::{self, Granted, Reason};
use crate::db::Db;
use crate::domain::billing::Plan;
use crate::domain::Credits;
use crate::domain::UserId;
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AllowanceGrant {
    /// `credits` added now (the whole allowance, or an upgrade's difference).
    Granted { credits: Credits, balance: Credits },
    /// The period already holds this much or more (a downgrade, or granted before).
    Covered { level: Credits },
}

impl AllowanceGrant {
    pub fn describe(&self, target: Credits) -> String {
        match self {
            AllowanceGrant::Granted { credits, balance } if *credits == target => {
                format!("allowance of {credits} credits granted (balance {balance})")
            }
            AllowanceGrant::Granted { credits, balance } => {
                format!("upgrade: {credits} credits granted to reach {target} (balance {balance})")
            }
            AllowanceGrant::Covered { level } => {
                format!("the period already holds {level} credits of allowance: nothing granted for {target}")
            }
        }
    }
}

/// Raises the period of `subscription_id` ending at `period_end` to `target` credits of
/// allowance, granting the difference keyed by `invoice_id`. Call inside a transaction.
pub async fn grant(
    db: &Db,
    user_id: UserId,
    subscription_id: &str,
    period_end: Option<i64>,
    target: Credits,
    invoice_id: &str,
    note: &str,
) -> Result<AllowanceGrant, AppError> {
    // Without a period (never seen from Stripe) all such grants share one key: still once.
    let period_end = period_end.unwrap_or(0);
    let level = periods::lock_allowance_period(db, subscription_id, period_end).await?;
    if target <= level {
        return Ok(AllowanceGrant::Covered { level });
    }
    let difference = target - level;
    let reason = Reason::SubscriptionAllowance;
    Ok(match credits::grant(db, user_id, difference, reason, invoice_id, Some(note)).await? {
        Granted::Now { balance } => {
            periods::set_allowance_period(db, subscription_id, period_end, target).await?;
            AllowanceGrant::Granted { credits: difference, balance }
        }
        Granted::Already => AllowanceGrant::Covered { level },
    })
}
