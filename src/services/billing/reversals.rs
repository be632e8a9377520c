//! Refunds and disputes: money that goes back to the customer takes back the credits it paid
//! for. A refund takes the refunded share of what the purchase granted (a pack's credits, or
//! the invoice's allowance grant), rounded up; a lost dispute takes all of it. What was already
//! spent cannot be taken: the balance never goes below zero, and the rest is recorded as
//! unrecovered for the operator. While a dispute is open, or after one was lost, the account's
//! paid features (running tools, buying) are on hold.
//!
//! `prepare` finds the purchase (reading from Stripe) before the transaction; `apply` writes.

use crate::clients::stripe::Stripe;
use crate::clients::stripe_charges::{Charge, Dispute};
use crate::db::billing as rows;
use crate::db::credits::{self, Reason};
use crate::db::reversals::{self, ChargeRecord, DisputeRecord, Hold, Reversal};
use crate::db::Db;
use crate::domain::money::format_amount;
use crate::domain::Credits;
use crate::domain::UserId;
use crate::error::AppError;

#[derive(Debug, Clone)]
pub enum Reversed {
    /// `amount_refunded` is cumulative over all refunds of the charge.
    Refund {
        charge: ChargeRecord,
        amount_refunded: i64,
    },
    Dispute {
        dispute: Dispute,
        charge: ChargeRecord,
    },
}

/// How long a charge of one of our customers may wait for its purchase to be recorded before
/// it is taken for one we never sold (an invoice made by hand in Stripe's dashboard, say). The
/// purchase's own event comes within seconds or hours; failing for Stripe's whole three days of
/// retries would raise webhook-failure alerts and risk Stripe disabling the endpoint.
const PURCHASE_GRACE_SECS: i64 = 24 * 60 * 60;

/// The refunded charge and its purchase; `None`: not a GhostTools purchase.
pub async fn prepare_refund(
    db: &Db,
    stripe: &Stripe,
    charge: Charge,
    now_secs: i64,
) -> Result<Option<Reversed>, AppError> {
    let amount_refunded = charge.amount_refunded;
    Ok(link(db, stripe, &charge, now_secs).await?.map(|charge| Reversed::Refund { charge, amount_refunded }))
}

/// The dispute with its charge (read from Stripe) and purchase; `None`: not ours.
pub async fn prepare_dispute(
    db: &Db,
    stripe: &Stripe,
    dispute: Dispute,
    now_secs: i64,
) -> Result<Option<Reversed>, AppError> {
    let Some(charge_id) = dispute.charge.clone() else { return Ok(None) };
    let charge = stripe.retrieve_charge(&charge_id).await?;
    Ok(link(db, stripe, &charge, now_secs).await?.map(|charge| Reversed::Dispute { dispute, charge }))
}

/// The purchase a charge paid for: a pack checkout (by payment intent, stored at fulfilment)
/// or a subscription invoice (named by the charge in older API versions, else found through
/// the invoice's payments). A charge of one of our customers whose purchase is not recorded
/// yet (its own event is late) is an error, so Stripe delivers the event again later — for a
/// day after the charge; after that it is not one of our purchases.
async fn link(
    db: &Db,
    stripe: &Stripe,
    charge: &Charge,
    now_secs: i64,
) -> Result<Option<ChargeRecord>, AppError> {
    let record = |purchase: String, user_id: UserId| ChargeRecord {
        charge_id: charge.id.clone(),
        user_id,
        purchase,
        amount: charge.amount,
        currency: charge.currency.clone(),
    };
    if let Some(pi) = &charge.payment_intent {
        if let Some((session, user_id)) = rows::checkout_paid_by(db, pi).await? {
            return Ok(Some(record(session, user_id)));
        }
    }
    let invoice = match (&charge.invoice, &charge.payment_intent) {
        (Some(id), _) => Some(id.clone()),
        (None, Some(pi)) => stripe.invoice_paid_by(pi).await?,
        (None, None) => None,
    };
    if let Some(invoice) = invoice {
        if let Some(user_id) = rows::paid_invoice_owner(db, &invoice).await? {
            return Ok(Some(record(invoice, user_id)));
        }
    }
    if let (Some(customer), true) = (&charge.customer, now_secs - charge.created < PURCHASE_GRACE_SECS) {
        if rows::user_of_customer(db, customer).await?.is_some() {
            return Err(AppError::internal(format!(
                "charge {} of our customer {customer}: its purchase is not recorded yet (retry later)",
                charge.id
            )));
        }
    }
    Ok(None)
}

/// Applies a refund or dispute; answers the detail for the event record and the user.
pub async fn apply(db: &Db, reversed: &Reversed) -> Result<(String, UserId), AppError> {
    match reversed {
        Reversed::Refund { charge, amount_refunded } => {
            let r = reversals::record(db, charge, *amount_refunded, false).await?;
            let refunded = format_amount(r.amount_refunded, &charge.currency);
            let settled = settle(db, charge, &r).await?;
            Ok((format!("charge {} refunded {refunded} in all; {settled}", charge.charge_id), charge.user_id))
        }
        Reversed::Dispute { dispute, charge } => {
            let changed = reversals::save_dispute(
                db,
                &DisputeRecord {
                    id: &dispute.id,
                    charge_id: &charge.charge_id,
                    user_id: charge.user_id,
                    amount: dispute.amount,
                    currency: &dispute.currency,
                    status: &dispute.status,
                    closed: dispute.is_closed(),
                },
            )
            .await?;
            let mut detail = format!("dispute {} on charge {}: ", dispute.id, charge.charge_id);
            if !changed {
                detail.push_str("already closed: nothing changed");
            } else if dispute.status == "lost" {
                let r = reversals::record(db, charge, 0, true).await?;
                detail.push_str(&format!("lost; {}", settle(db, charge, &r).await?));
            } else if dispute.is_closed() {
                detail.push_str(&format!("closed ({}): paid features back on", dispute.status));
            } else {
                detail.push_str(&format!("{}: paid features on hold", dispute.status));
            }
            Ok((detail, charge.user_id))
        }
    }
}

/// Credits owed back for a charge: the refunded share of what the purchase granted, rounded up
/// (a refund leaves no fraction of a credit behind); all of it for a lost dispute or a full
/// refund.
pub fn owed(granted: Credits, r: &Reversal) -> Credits {
    if granted <= 0 || r.amount <= 0 {
        return Credits::ZERO;
    }
    if r.dispute_lost || r.amount_refunded >= r.amount {
        return granted;
    }
    let (refunded, amount) = (i128::from(r.amount_refunded.max(0)), i128::from(r.amount));
    Credits::new(((i128::from(granted.get()) * refunded + amount - 1) / amount) as i64)
}

/// Takes back what is owed and not yet taken (or recorded as unrecovered), never more than the
/// balance. Call inside the transaction that recorded `r` (its row is locked).
async fn settle(db: &Db, c: &ChargeRecord, r: &Reversal) -> Result<String, AppError> {
    let granted = reversals::credits_granted(db, &c.purchase).await?;
    let owed = owed(granted, r);
    let due = owed - r.credits_taken - r.credits_unrecovered;
    if due <= 0 {
        return Ok(format!("{owed} of {granted} credits owed back: nothing more to take"));
    }
    let balance = credits::balance_locked(db, c.user_id).await?;
    let taken = due.min(balance);
    if taken > 0 {
        let paid = format_amount(r.amount, &c.currency);
        let (reason, note) = if r.dispute_lost {
            (Reason::DisputeLost, format!("payment of {paid} charged back"))
        } else {
            let refunded = format_amount(r.amount_refunded, &c.currency);
            (Reason::PaymentRefunded, format!("{refunded} of {paid} refunded"))
        };
        let reference = format!("{}:{owed}", c.charge_id);
        credits::spend(db, c.user_id, taken, reason, &reference, Some(&note)).await?;
    }
    reversals::add_taken(db, &c.charge_id, taken, due - taken).await?;
    Ok(format!("{taken} credits taken back, {} unrecovered ({owed} of {granted} owed)", due - taken))
}

/// What the user reads while a dispute holds the account (the 403, and the billing page).
pub const ON_HOLD: &str = "Paid features are on hold while a payment of yours is disputed with your bank. \
                           Write to support and we will sort it out.";

/// What the user reads while an operator has suspended the account.
pub const SUSPENDED: &str = "Your account is suspended: you can sign in and read your work, but not run \
                             tools or buy. Write to support and we will sort it out.";

/// What the user reads about a hold.
pub fn notice(hold: Hold) -> &'static str {
    match hold {
        Hold::Suspended => SUSPENDED,
        Hold::Dispute => ON_HOLD,
    }
}

/// Why the account's paid features are held (what the user reads), if they are.
pub async fn hold_notice(db: &Db, user_id: UserId) -> Result<Option<&'static str>, AppError> {
    Ok(reversals::hold(db, user_id).await?.map(notice))
}

/// The balance, and why paid features are held if they are (one statement: the tool pages).
pub async fn balance_and_notice(
    db: &Db,
    user_id: UserId,
) -> Result<(Credits, Option<&'static str>), AppError> {
    let (balance, hold) = reversals::balance_and_hold(db, user_id).await?;
    Ok((balance, hold.map(notice)))
}

/// What a tool's start would refuse, from `balance_and_notice` read earlier: on hold, or fewer
/// credits than `needed`. Checked before the account's AI limit is counted, so a refusal spends
/// none of it; the start checks both again in its transaction.
pub fn ensure_can_pay(
    (balance, hold): (Credits, Option<&'static str>),
    needed: Credits,
) -> Result<(), AppError> {
    if let Some(why) = hold {
        return Err(AppError::Forbidden(why.into()));
    }
    if balance < needed {
        return Err(AppError::InsufficientCredits { needed: needed.get(), balance: balance.get() });
    }
    Ok(())
}

/// Refuses paid features (running a tool, buying) while a dispute or a suspension holds the
/// account, saying which.
pub async fn ensure_not_on_hold(db: &Db, user_id: UserId) -> Result<(), AppError> {
    match hold_notice(db, user_id).await? {
        Some(why) => Err(AppError::Forbidden(why.into())),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rev(amount: i64, refunded: i64, lost: bool) -> Reversal {
        Reversal {
            amount,
            amount_refunded: refunded,
            dispute_lost: lost,
            credits_taken: Credits::ZERO,
            credits_unrecovered: Credits::ZERO,
        }
    }

    #[test]
    fn a_start_is_refused_on_hold_or_short_of_credits_and_allowed_otherwise() {
        assert!(ensure_can_pay((Credits::new(5), None), Credits::new(5)).is_ok());
        assert!(matches!(
            ensure_can_pay((Credits::new(4), None), Credits::new(5)),
            Err(AppError::InsufficientCredits { needed: 5, balance: 4 })
        ));
        assert!(matches!(
            ensure_can_pay((Credits::new(50), Some(SUSPENDED)), Credits::new(5)),
            Err(AppError::Forbidden(_))
        ));
    }

    #[test]
    fn a_refund_owes_its_share_rounded_up_and_a_loss_owes_everything() {
        assert_eq!(owed(Credits::new(50), &rev(500, 250, false)), 25);
        assert_eq!(owed(Credits::new(50), &rev(500, 1, false)), 1, "rounded up");
        assert_eq!(owed(Credits::new(50), &rev(500, 500, false)), 50);
        assert_eq!(owed(Credits::new(50), &rev(500, 0, true)), 50);
        assert_eq!(owed(Credits::new(50), &rev(500, 0, false)), 0);
        assert_eq!(
            owed(Credits::new(0), &rev(500, 500, false)),
            0,
            "a purchase that granted nothing owes nothing"
        );
        assert_eq!(owed(Credits::new(100), &rev(300, 100, false)), 34);
    }
}
