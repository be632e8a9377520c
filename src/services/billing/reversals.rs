//! Refunds and disputes: money that goes back to the customer takes back the credits it paid
//! for. A refund takes the refunded share of what the purchase granted (a pack's credits, or
//! the invoice's allowance grant), rounded up; a lost dispute takes all of it. What was already
//! spent cannot be taken: the balance never goes below zero, and the rest is recorded as
//! unrecovered for the operator. While a dispute is open, or after one was lost, the account's
//! paid features (running tools, buying) are on hold.
//!
//! `prepare_*` finds the purchase before the transaction: a pack's checkout by its payment
//! intent (read with the webhook's already-handled check), else the subscription invoice the
//! charge paid (from Stripe). `apply` writes in one round trip (`db::reversal_event`), the
//! invoice's owner read there too.

use crate::clients::stripe::Stripe;
use crate::clients::stripe_charges::{Charge, Dispute};
use crate::db::billing as rows;
use crate::db::plan_event::{Attempt, Steps};
use crate::db::reversal_event::{DisputeState, Purchase, Reversal};
use crate::db::reversals::{self, Hold};
use crate::db::stripe_events::EventMeta;
use crate::db::Db;
use crate::domain::Credits;
use crate::domain::UserId;
use crate::error::AppError;

/// A refund or dispute of one of our purchases, ready to apply.
#[derive(Debug, Clone)]
pub struct Reversed {
    step: Reversal,
    /// The charge, for telling a purchase not recorded yet from one we never sold.
    charge: Charge,
    now_secs: i64,
}

impl Reversed {
    /// What the event is about, for the log: "charge", or "disputed charge".
    pub fn what(&self) -> &'static str {
        match self.step.dispute {
            Some(_) => "disputed charge",
            None => "charge",
        }
    }
}

/// What `apply` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settled {
    Applied {
        detail: String,
        user_id: UserId,
    },
    /// The event was taken by someone else: nothing written.
    Taken,
    /// No purchase of ours is recorded for the charge, and none is coming: nothing written.
    NotOurs,
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
    let pack = match &charge.payment_intent {
        Some(pi) => rows::checkout_paid_by(db, pi).await?,
        None => None,
    };
    let refunded = charge.amount_refunded;
    reversed(db, stripe, charge, pack, now_secs, |_| (refunded, None)).await
}

/// The dispute with its charge (read from Stripe) and purchase; `None`: not ours.
pub async fn prepare_dispute(
    db: &Db,
    stripe: &Stripe,
    dispute: Dispute,
    now_secs: i64,
) -> Result<Option<Reversed>, AppError> {
    let Some(charge_id) = dispute.charge.clone() else { return Ok(None) };
    // The pack's checkout is looked up while Stripe is asked for the charge.
    let by_intent = async {
        match &dispute.payment_intent {
            Some(pi) => rows::checkout_paid_by(db, pi).await,
            None => Ok(None),
        }
    };
    let (charge, pack) = futures_util::future::join(stripe.retrieve_charge(&charge_id), by_intent).await;
    let (charge, mut pack) = (charge?, pack?);
    if let (None, None, Some(pi)) = (&dispute.payment_intent, &pack, &charge.payment_intent) {
        pack = rows::checkout_paid_by(db, pi).await?;
    }
    let status = &dispute.status;
    let state = |c: &Charge| DisputeState {
        head: format!("dispute {} on charge {}: ", dispute.id, c.id),
        words: match dispute.is_closed() {
            true => format!("closed ({status}): paid features back on"),
            false => format!("{status}: paid features on hold"),
        },
        id: dispute.id.clone(),
        amount: dispute.amount,
        currency: dispute.currency.clone(),
        status: status.clone(),
        closed: dispute.is_closed(),
    };
    reversed(db, stripe, charge, pack, now_secs, |c| (0, Some(state(c)))).await
}

/// The purchase a charge paid for: a pack checkout (`pack`: by payment intent, stored at
/// fulfilment) or a subscription invoice (named by the charge in older API versions, else found
/// through the invoice's payments at Stripe; its owner is read in the transaction).
async fn reversed(
    db: &Db,
    stripe: &Stripe,
    charge: Charge,
    pack: Option<(String, UserId)>,
    now_secs: i64,
    what: impl FnOnce(&Charge) -> (i64, Option<DisputeState>),
) -> Result<Option<Reversed>, AppError> {
    let purchase = match (pack, &charge.invoice, &charge.payment_intent) {
        (Some((id, user_id)), _, _) => Some(Purchase::Known { id, user_id }),
        (None, Some(invoice), _) => Some(Purchase::Invoice(invoice.clone())),
        (None, None, Some(pi)) => stripe.invoice_paid_by(pi).await?.map(Purchase::Invoice),
        (None, None, None) => None,
    };
    let Some(purchase) = purchase else {
        unexplained(db, &charge, now_secs).await?;
        return Ok(None);
    };
    let (refunded, dispute) = what(&charge);
    let step =
        Reversal::new(charge.id.clone(), charge.amount, charge.currency.clone(), purchase, refunded, dispute);
    Ok(Some(Reversed { step, charge, now_secs }))
}

/// A charge of one of our customers whose purchase is not recorded yet (its own event is late)
/// is an error, so Stripe delivers the event again later — for a day after the charge; after
/// that, and for anyone else's charge, it is not one of our purchases (`Ok`).
async fn unexplained(db: &Db, charge: &Charge, now_secs: i64) -> Result<(), AppError> {
    if let (Some(customer), true) = (&charge.customer, now_secs - charge.created < PURCHASE_GRACE_SECS) {
        if rows::user_of_customer(db, customer).await?.is_some() {
            return Err(AppError::internal(format!(
                "charge {} of our customer {customer}: its purchase is not recorded yet (retry later)",
                charge.id
            )));
        }
    }
    Ok(())
}

/// Applies a refund or dispute with the event claimed and finished, in one round trip.
pub async fn apply(db: &Db, event: &EventMeta<'_>, r: &Reversed) -> Result<Settled, AppError> {
    let (no_owner, no_words): (Option<UserId>, Option<String>) = (None, None);
    let mut steps = Steps::default();
    r.step.steps(&mut steps, &event.id);
    Ok(match steps.attempt(db, Some((event, &no_owner, &no_words))).await? {
        Attempt::Ran(ran) => Settled::Applied {
            detail: ran.detail.unwrap_or_default(),
            user_id: ran.owner.ok_or_else(|| AppError::internal("a reversal applied without its account"))?,
        },
        Attempt::Taken => Settled::Taken,
        Attempt::Guarded => {
            unexplained(db, &r.charge, r.now_secs).await?;
            Settled::NotOurs
        }
    })
}

/// Credits owed back for a charge: the refunded share of what the purchase granted, rounded up
/// (a refund leaves no fraction of a credit behind); all of it for a lost dispute or a full
/// refund. The settlement computes it in SQL (`credits_owed`, migration V19); this is the rule
/// the e2e suite holds that twin to.
pub fn owed(granted: Credits, amount: i64, refunded: i64, lost: bool) -> Credits {
    if granted <= 0 || amount <= 0 {
        return Credits::ZERO;
    }
    if lost || refunded >= amount {
        return granted;
    }
    let (refunded, amount) = (i128::from(refunded.max(0)), i128::from(amount));
    Credits::new(((i128::from(granted.get()) * refunded + amount - 1) / amount) as i64)
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
        assert_eq!(owed(Credits::new(50), 500, 250, false), 25);
        assert_eq!(owed(Credits::new(50), 500, 1, false), 1, "rounded up");
        assert_eq!(owed(Credits::new(50), 500, 500, false), 50);
        assert_eq!(owed(Credits::new(50), 500, 0, true), 50);
        assert_eq!(owed(Credits::new(50), 500, 0, false), 0);
        assert_eq!(owed(Credits::new(0), 500, 500, false), 0, "a purchase that granted nothing owes nothing");
        assert_eq!(owed(Credits::new(100), 300, 100, false), 34);
    }
}
