//! A paid credit pack fulfilled as one transaction in one round trip (`Db::atomically`): the
//! payment recorded, the checkout marked paid, the credits granted once (keyed by the session),
//! and, for a webhook, the event claimed and its outcome written in the same transaction.
//!
//! No statement looks at another's answer, so each condition is in the SQL: the claim fails
//! the transaction when the event is taken (a unique violation), the grant does nothing for a
//! session granted before (by the success page or an earlier delivery), and the event's detail
//! says which of the two happened from the grant's own answer.

use super::billing::{RECORD_CHECKOUT_PAYMENT_SQL, SET_CHECKOUT_STATUS_SQL};
use super::credits::{grant_ctes, Reason, GRANT_SQL};
use super::states::{column, words};
use super::stripe_events::{claim_params, EventMeta, CLAIM_OR_FAIL_SQL, EVENT_TAKEN};
use super::{Db, Param};
use crate::domain::billing::{Checkout, CheckoutMode, CheckoutStatus};
use crate::error::AppError;
use tokio_postgres::types::Type;

/// What paid for the pack, from Stripe's Checkout Session.
pub struct PackPayment<'a> {
    pub checkout: &'a Checkout,
    pub payment_intent: Option<&'a str>,
    /// After discounts.
    pub amount_paid: Option<i64>,
    pub invoice: Option<&'a str>,
}

/// The event's detail in either case: `{balance}` stands for the balance after the grant.
pub struct Details<'a> {
    pub granted: &'a str,
    pub already: &'a str,
}

/// What the transaction did and left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Done {
    /// Granted by this transaction (false: granted before, by the success page or an earlier
    /// delivery).
    pub granted_now: bool,
    /// The checkout's status and its owner's balance afterwards.
    pub status: CheckoutStatus,
    pub balance: i64,
}

/// The grant (`$1`…`$5` as `credits::GRANT_SQL`) and the event's outcome (`$6` its id, `$7`
/// the detail when granted, `{balance}` replaced, `$8` when granted before), in one statement.
const GRANT_AND_FINISH_SQL: &str = concat!(
    "WITH ",
    grant_ctes!(),
    "
UPDATE stripe_events SET outcome = 'applied', user_id = $1, processed_at = now(),
    detail = coalesce((SELECT replace($7, '{balance}', balance::text) FROM granted), $8)
WHERE id = $6
RETURNING (SELECT balance FROM granted)"
);

/// The checkout's status and its owner's balance, read after the writes (`$1` the session).
const AFTER_SQL: &str = "SELECT s.status,
    coalesce((SELECT b.balance FROM credit_balances b WHERE b.user_id = s.user_id), 0)
FROM checkout_sessions s WHERE s.id = $1";

/// Fulfils a paid pack: for the webhook with its `event` claimed and finished (`details`), for
/// the success page without. `None`: the event was handled by someone else, nothing written.
pub async fn fulfil(
    db: &Db,
    pay: &PackPayment<'_>,
    event: Option<(&EventMeta<'_>, &Details<'_>)>,
) -> Result<Option<Done>, AppError> {
    let c = pay.checkout;
    if c.mode != CheckoutMode::Payment || c.credits <= 0 {
        return Err(AppError::internal(format!("checkout {} is not a credit pack", c.id)));
    }
    let reason = Reason::Purchase;
    let note = Some(c.item_name.as_str());
    let paid = CheckoutStatus::Paid;
    let from = words(paid.reachable_from());
    let session: [Param; 1] = [(&c.id, Type::TEXT)];
    let record: [Param; 4] = [
        (&c.id, Type::TEXT),
        (&pay.payment_intent, Type::TEXT),
        (&pay.amount_paid, Type::INT8),
        (&pay.invoice, Type::TEXT),
    ];
    let status: [Param; 3] = [(&c.id, Type::TEXT), (&paid, Type::TEXT), (&from, Type::TEXT_ARRAY)];
    let grant: [Param; 5] = [
        (&c.user_id, Type::INT8),
        (&c.credits, Type::INT8),
        (&reason, Type::TEXT),
        (&c.id, Type::TEXT),
        (&note, Type::TEXT),
    ];
    let mut statements: Vec<(&str, &[Param])> =
        vec![(RECORD_CHECKOUT_PAYMENT_SQL, &record), (SET_CHECKOUT_STATUS_SQL, &status)];
    let (claim, finish): ([Param; 5], [Param; 8]);
    match event {
        Some((e, details)) => {
            claim = claim_params(e);
            finish = [
                (&c.user_id, Type::INT8),
                (&c.credits, Type::INT8),
                (&reason, Type::TEXT),
                (&c.id, Type::TEXT),
                (&note, Type::TEXT),
                (&e.id, Type::TEXT),
                (&details.granted, Type::TEXT),
                (&details.already, Type::TEXT),
            ];
            statements.insert(0, (CLAIM_OR_FAIL_SQL, &claim));
            statements.push((GRANT_AND_FINISH_SQL, &finish));
        }
        None => statements.push((GRANT_SQL, &grant)),
    }
    statements.push((AFTER_SQL, &session));
    let answers = match db.atomically(&statements).await {
        Ok(answers) => answers,
        Err(refused) if event.is_some() && refused.constraint.as_deref() == Some(EVENT_TAKEN) => {
            return Ok(None);
        }
        Err(refused) => return Err(refused.into()),
    };
    // The grant's answer is the second to last: a row with the new balance when granted now
    // (the webhook's statement answers a row either way, its balance NULL when granted before).
    let granted = answers.get(answers.len() - 2).and_then(|rows| rows.first());
    let balance: Option<i64> = granted.map(|row| column(row, 0)).transpose()?.flatten();
    let after = answers.last().and_then(|rows| rows.first());
    let after = after.ok_or_else(|| AppError::internal(format!("checkout {} vanished", c.id)))?;
    Ok(Some(Done { granted_now: balance.is_some(), status: column(after, 0)?, balance: column(after, 1)? }))
}
