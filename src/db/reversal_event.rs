//! A refund's or a dispute's webhook event as steps of one transaction in one round trip
//! (`plan_event::Steps`, `Db::atomically`), like a plan's payments: no statement waits for
//! another's answer.
//!
//! - **The purchase and its owner.** A pack's checkout is found before, with the event's
//!   already-handled check; a subscription invoice's owner is found here (`LINK_SQL`), from our
//!   record of the paid invoice, and kept in the transaction-local `ghosttools.owner` and
//!   `ghosttools.purchase` for the steps after it. Without one, the guard fails the transaction
//!   and nothing is written: the caller then decides between "retry later" and "not ours".
//! - **The settlement** (`SETTLE_SQL`) computes what is owed in SQL (`credits_owed`, migration
//!   V19, held to `services::billing::reversals::owed` by the e2e suite), locks the balance,
//!   takes what it covers and records the rest as unrecovered, and leaves its words for the
//!   event's detail (`format_amount`, the SQL twin of `domain::money::format_amount`).
//! - **A dispute** is saved unless already closed; only a dispute lost now settles, which its
//!   step tells the next ones through `ghosttools.settle`.
//!
//! The charge's reversal row is written first (an upsert: its lock makes two events of one
//! charge take turns), so a settlement always sees what the one before it took.

use super::plan_event::Steps;
use super::Param;
use crate::domain::UserId;
use tokio_postgres::types::Type;

/// The purchase (`$1`) and its owner: `$2` when known (a pack's checkout), else the owner of
/// our record of `$1` as a paid subscription invoice. No row when neither.
const LINK_SQL: &str = "\
SELECT set_config('ghosttools.owner', o.user_id::text, true), set_config('ghosttools.purchase', o.purchase, true)
FROM (
    SELECT $1::text AS purchase, $2::int8 AS user_id WHERE $2 IS NOT NULL
    UNION ALL
    SELECT i.id, i.user_id FROM invoices i
    WHERE $2 IS NULL AND i.id = $1 AND i.status = 'paid' AND i.subscription_id IS NOT NULL
) o
LIMIT 1";

/// Fails the transaction when `LINK_SQL` found no owner: plain SQL cannot raise, so it casts a
/// text to int (the claimed event's row `$1` keeps the planner from folding it).
const GUARD_SQL: &str = "\
SELECT ('purchase not recorded: ' || coalesce(e.object_id, e.id))::int FROM stripe_events e
WHERE e.id = $1 AND coalesce(current_setting('ghosttools.owner', true), '') = ''";

/// The dispute `$1` of charge `$2` saved (amount `$3`, currency `$4`, status `$5`, closed `$6`)
/// unless already closed. Words: `$7` then "already closed: nothing changed", "lost", or `$8`.
/// Only a dispute lost now turns `ghosttools.settle` on.
const DISPUTE_SQL: &str = "\
WITH saved AS (
    INSERT INTO disputes (id, charge_id, user_id, amount, currency, status, closed)
    VALUES ($1, $2, current_setting('ghosttools.owner')::int8, $3, lower($4), $5, $6)
    ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status, closed = EXCLUDED.closed,
        amount = EXCLUDED.amount, updated_at = now()
    WHERE NOT disputes.closed
    RETURNING id
)
SELECT set_config('ghosttools.settle', CASE WHEN EXISTS (SELECT 1 FROM saved) AND $5 = 'lost' THEN 'on' ELSE 'off' END, true),
       set_config('ghosttools.detail', $7 || CASE
           WHEN NOT EXISTS (SELECT 1 FROM saved) THEN 'already closed: nothing changed'
           WHEN $5 = 'lost' THEN 'lost'
           ELSE $8 END, true)";

/// What came back on charge `$1` (amount `$2`, currency `$3`): `$4` refunded in all, or `$5` a
/// dispute lost; when `$6` (a refund) or a dispute lost now. A smaller (older) refunded amount
/// changes nothing; lost is sticky.
const RECORD_SQL: &str = "\
INSERT INTO charge_reversals (charge_id, user_id, purchase, amount, currency, amount_refunded, dispute_lost)
SELECT $1, current_setting('ghosttools.owner')::int8, current_setting('ghosttools.purchase'), $2, lower($3), $4, $5
WHERE $6 OR current_setting('ghosttools.settle', true) = 'on'
ON CONFLICT (charge_id) DO UPDATE SET
    amount_refunded = GREATEST(charge_reversals.amount_refunded, EXCLUDED.amount_refunded),
    dispute_lost = charge_reversals.dispute_lost OR EXCLUDED.dispute_lost, updated_at = now()";

/// Takes back what charge `$1` owes and was not yet taken (or recorded unrecovered), never more
/// than the balance; when `$2` (a refund, whose words start with the refunded total) or a
/// dispute lost now.
const SETTLE_SQL: &str = "\
WITH o AS (
    SELECT r.*, g.granted, credits_owed(g.granted, r.amount, r.amount_refunded, r.dispute_lost) AS owed,
           format_amount(r.amount, r.currency) AS paid, format_amount(r.amount_refunded, r.currency) AS refunded
    FROM charge_reversals r,
    LATERAL (SELECT coalesce(sum(delta), 0)::int8 AS granted FROM credit_ledger
             WHERE reason IN ('purchase', 'subscription_allowance') AND reference = r.purchase) g
    WHERE r.charge_id = $1 AND ($2 OR current_setting('ghosttools.settle', true) = 'on')
), due AS (
    SELECT o.*, o.owed - o.credits_taken - o.credits_unrecovered AS due FROM o
), locked AS (
    SELECT b.balance FROM credit_balances b, due WHERE b.user_id = due.user_id AND due.due > 0
    FOR UPDATE OF b
), t AS (
    SELECT due.*, least(due.due, coalesce((SELECT balance FROM locked), 0)) AS taken FROM due WHERE due.due > 0
), charged AS (
    UPDATE credit_balances b SET balance = b.balance - t.taken, updated_at = now()
    FROM t WHERE b.user_id = t.user_id AND t.taken > 0
    RETURNING b.balance
), entry AS (
    INSERT INTO credit_ledger (user_id, delta, reason, reference, note)
    SELECT t.user_id, -t.taken,
           CASE WHEN t.dispute_lost THEN 'dispute_lost' ELSE 'payment_refunded' END,
           t.charge_id || ':' || t.owed,
           CASE WHEN t.dispute_lost THEN 'payment of ' || t.paid || ' charged back'
                ELSE t.refunded || ' of ' || t.paid || ' refunded' END
    FROM t, charged
), kept AS (
    UPDATE charge_reversals c SET credits_taken = c.credits_taken + t.taken,
        credits_unrecovered = c.credits_unrecovered + (t.due - t.taken), updated_at = now()
    FROM t WHERE c.charge_id = t.charge_id
), words AS (
    SELECT concat_ws('; ',
        CASE WHEN $2 THEN 'charge ' || o.charge_id || ' refunded ' || o.refunded || ' in all' END,
        CASE WHEN t.charge_id IS NULL
             THEN o.owed || ' of ' || o.granted || ' credits owed back: nothing more to take'
             ELSE t.taken || ' credits taken back, ' || (t.due - t.taken) || ' unrecovered ('
                  || o.owed || ' of ' || o.granted || ' owed)' END) AS part
    FROM o LEFT JOIN t ON true
)
SELECT set_config('ghosttools.detail',
           concat_ws('; ', nullif(current_setting('ghosttools.detail', true), ''), part), true)
FROM words";

/// The purchase a charge paid for, as far as it is known before the transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Purchase {
    /// A pack's checkout (`cs_…`) and its buyer, or a purchase found statement by statement.
    Known { id: String, user_id: UserId },
    /// A subscription invoice (`in_…`): its owner is our record of it, read in the transaction.
    Invoice(String),
}

/// A dispute's state, with the words for the event's detail.
#[derive(Debug, Clone)]
pub struct DisputeState {
    pub id: String,
    pub amount: i64,
    pub currency: String,
    pub status: String,
    pub closed: bool,
    /// "dispute … on charge …: ", then the words when saved and not lost.
    pub head: String,
    pub words: String,
}

/// What came back on a charge: the values the steps send (owned here, borrowed by them).
#[derive(Debug, Clone)]
pub struct Reversal {
    pub charge_id: String,
    pub amount: i64,
    pub currency: String,
    pub purchase: String,
    pub owner: Option<UserId>,
    /// Cumulative over the charge's refunds (0 for a dispute).
    pub amount_refunded: i64,
    /// `None`: a refund.
    pub dispute: Option<DisputeState>,
    refund: bool,
    lost: bool,
}

impl Reversal {
    pub fn new(
        charge_id: String,
        amount: i64,
        currency: String,
        purchase: Purchase,
        amount_refunded: i64,
        dispute: Option<DisputeState>,
    ) -> Reversal {
        let (purchase, owner) = match purchase {
            Purchase::Known { id, user_id } => (id, Some(user_id)),
            Purchase::Invoice(id) => (id, None),
        };
        let refund = dispute.is_none();
        let lost = dispute.as_ref().is_some_and(|d| d.status == "lost");
        let amount_refunded = if refund { amount_refunded } else { 0 };
        Reversal { charge_id, amount, currency, purchase, owner, amount_refunded, dispute, refund, lost }
    }

    /// The steps, after the event's claim (`event_id`, which the guard reads).
    pub fn steps<'a>(&'a self, steps: &mut Steps<'a>, event_id: &'a &'a str) {
        steps.push(LINK_SQL, vec![(&self.purchase as _, Type::TEXT), (&self.owner as _, Type::INT8)]);
        steps.guard(GUARD_SQL, vec![(event_id as _, Type::TEXT)]);
        if let Some(d) = &self.dispute {
            let params: Vec<Param> = vec![
                (&d.id as _, Type::TEXT),
                (&self.charge_id as _, Type::TEXT),
                (&d.amount as _, Type::INT8),
                (&d.currency as _, Type::TEXT),
                (&d.status as _, Type::TEXT),
                (&d.closed as _, Type::BOOL),
                (&d.head as _, Type::TEXT),
                (&d.words as _, Type::TEXT),
            ];
            steps.push(DISPUTE_SQL, params);
        }
        let record: Vec<Param> = vec![
            (&self.charge_id as _, Type::TEXT),
            (&self.amount as _, Type::INT8),
            (&self.currency as _, Type::TEXT),
            (&self.amount_refunded as _, Type::INT8),
            (&self.lost as _, Type::BOOL),
            (&self.refund as _, Type::BOOL),
        ];
        steps.push(RECORD_SQL, record);
        steps.push(SETTLE_SQL, vec![(&self.charge_id as _, Type::TEXT), (&self.refund as _, Type::BOOL)]);
    }
}
