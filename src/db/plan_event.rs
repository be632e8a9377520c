//! A plan's payments (its invoices, its first checkout) and a subscription's own events written
//! as one transaction in one round trip (`Db::atomically`), the webhook's event claimed and
//! finished in the same transaction.
//!
//! These writes used to look at each other's answers (was the invoice's state new? was a newer
//! subscription stored? did the period already hold its allowance?) to choose what to write
//! next and what the event's detail says. Here each step carries its condition in SQL, and
//! leaves its words for the detail in a transaction-local setting (`set_config(…, true)`,
//! gone at `COMMIT`), which the finish writes: no statement waits for another's answer.
//!
//! `Steps` also carries a refund's or dispute's steps (`db::reversal_event`: `push`, and a
//! `guard` that fails the transaction on purpose when the purchase's owner is not found).

use super::billing::InvoiceRecord;
use super::billing::{
    record_invoice_params, record_invoice_sql, save_subscription_sql, subscription_params,
    SAVE_SUBSCRIPTION_SQL, SET_CHECKOUT_STATUS_SQL,
};
use super::credits::grant_ctes;
use super::payments::{InvoiceDetails, SAVE_INVOICE_DETAILS_SQL};
use super::stripe_events::{claim_params, EventMeta, CLAIM_OR_FAIL_SQL, EVENT_TAKEN};
use super::{Db, Param};
use crate::domain::billing::{CheckoutStatus, Plan, SubscriptionRecord};
use crate::domain::ledger::Reason;
use crate::domain::{Credits, UserId};
use crate::error::AppError;
use tokio_postgres::types::{ToSql, Type};

/// Appends the text expression in `{}` to the event's detail (`; ` between parts).
macro_rules! append_detail {
    ($part:literal) => {
        concat!(
            "SELECT set_config('ghosttools.detail', concat_ws('; ', ",
            "nullif(current_setting('ghosttools.detail', true), ''), ",
            $part,
            "), true)"
        )
    };
}

/// The invoice recorded (`$1`…`$10`, `billing::record_invoice_params`); when `$11`, a
/// failed-payment notice if the invoice's state is new (`$12` the plan); words `$13` when its
/// state was new, `$14` when not.
const INVOICE_SQL: &str = concat!(
    "WITH rec AS (\n",
    record_invoice_sql!(),
    "\n), notice AS (
    INSERT INTO customer_notices (kind, about, user_id, plan, amount, currency)
    SELECT 'payment_failed', $1, $2, $12, $6, $8 WHERE $11 AND EXISTS (SELECT 1 FROM rec)
    ON CONFLICT ON CONSTRAINT customer_notices_once DO NOTHING
)\n",
    append_detail!("CASE WHEN EXISTS (SELECT 1 FROM rec) THEN $13 ELSE $14 END")
);

/// The subscription saved (`$1`…`$14`), with words `$15` when stored, `$16` when a newer or
/// final state is.
const SUBSCRIPTION_SQL: &str = concat!(
    "WITH saved AS (\n",
    save_subscription_sql!(),
    "\n)\n",
    append_detail!("CASE WHEN EXISTS (SELECT 1 FROM saved) THEN $15 ELSE $16 END")
);

/// The period's row, so that the grant can lock it (`$1` subscription, `$2` period end).
const PERIOD_ROW_SQL: &str = "INSERT INTO allowance_periods (subscription_id, period_end, credits)
VALUES ($1, to_timestamp($2), 0) ON CONFLICT DO NOTHING";

/// Raises the period (`$1`, `$2`) to `$3` credits of allowance, granting the difference to user
/// `$4` once (ledger reason `$5`, keyed by the invoice `$6`, note `$7`); when `$11`, a renewal
/// notice (plan `$8`, amount `$9`, currency `$10`, period end `$15`). The period's row is
/// locked first, so two grants for one period take turns. Words: `$12` when granted the whole
/// target, `$13` when a difference, `$14` when covered (`{credits}`, `{balance}`, `{level}`
/// replaced). Answers the detail's words and, when granted, the credits and the balance.
const ALLOWANCE_SQL: &str = concat!(
    "WITH period AS (
    SELECT credits AS level FROM allowance_periods
    WHERE subscription_id = $1 AND period_end = to_timestamp($2) FOR UPDATE
), wanted AS (
    SELECT $3 - level AS credits FROM period WHERE level < $3
), ",
    grant_ctes!("SELECT $4, credits, $5, $6, $7 FROM wanted", "$4"),
    ", raised AS (
    UPDATE allowance_periods SET credits = $3, updated_at = now()
    WHERE subscription_id = $1 AND period_end = to_timestamp($2) AND EXISTS (SELECT 1 FROM entry)
), renewal AS (
    INSERT INTO customer_notices (kind, about, user_id, plan, amount, currency, credits, balance, period_end)
    SELECT 'plan_renewed', $6, $4, $8, $9, $10, e.delta, g.balance, $15 FROM entry e, granted g WHERE $11
    ON CONFLICT ON CONSTRAINT customer_notices_once DO NOTHING
), words AS (
    SELECT CASE
        WHEN EXISTS (SELECT 1 FROM granted) THEN
            replace(replace(CASE WHEN (SELECT delta FROM entry) = $3 THEN $12 ELSE $13 END,
                '{credits}', (SELECT delta FROM entry)::text), '{balance}', (SELECT balance FROM granted)::text)
        ELSE replace($14, '{level}', (SELECT level FROM period)::text)
    END AS part
)
SELECT set_config('ghosttools.detail',
           concat_ws('; ', nullif(current_setting('ghosttools.detail', true), ''), (SELECT part FROM words)), true),
       (SELECT delta FROM entry), (SELECT balance FROM granted)"
);

/// Every allowance is granted with this reason.
static ALLOWANCE_REASON: Reason = Reason::SubscriptionAllowance;

/// The event applied (`$1`), its account `$2` (when null, the one a step found:
/// `ghosttools.owner`), its detail the steps' words and `$3` after them.
const FINISH_SQL: &str = "\
UPDATE stripe_events SET outcome = 'applied', processed_at = now(),
    user_id = coalesce($2, nullif(current_setting('ghosttools.owner', true), '')::int8),
    detail = concat_ws('; ', nullif(current_setting('ghosttools.detail', true), ''), $3)
WHERE id = $1
RETURNING detail, user_id";

/// An allowance to grant (see `services::billing::allowance`), keyed by the invoice that paid
/// for it.
pub struct Allowance {
    pub user_id: UserId,
    pub subscription_id: String,
    /// The period's key (0 when Stripe gave none).
    pub period_key: i64,
    pub target: Credits,
    pub invoice_id: String,
    pub note: String,
    /// A renewal's notice: its plan, amount, currency and the period's end.
    pub renewal: bool,
    pub plan: Plan,
    pub amount: i64,
    pub currency: String,
    pub period_end: Option<i64>,
    /// Words: granted the whole target, granted a difference, covered.
    pub words: [String; 3],
}

/// What the steps wrote, from their answers.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Ran {
    /// The event's detail as written (with an event).
    pub detail: Option<String>,
    /// The event's account as written (with an event).
    pub owner: Option<UserId>,
    /// The allowance granted now: (credits, balance after).
    pub granted: Option<(Credits, Credits)>,
}

/// How a transaction of steps ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    Ran(Ran),
    /// The event was taken by someone else: nothing was written.
    Taken,
    /// The guard step refused: nothing was written.
    Guarded,
}

/// The event to claim first and finish last: its account (null: the one a step found) and
/// the words after the steps'.
pub type EventSteps<'a, 'e> = (&'a EventMeta<'e>, &'a (dyn ToSql + Sync), &'a Option<String>);

/// The steps of one transaction, in order; `run` sends them.
#[derive(Default)]
pub struct Steps<'a> {
    statements: Vec<(&'static str, Vec<Param<'a>>)>,
    allowance_at: Option<usize>,
    guard_at: Option<usize>,
}

impl<'a> Steps<'a> {
    /// A step of another module's (its SQL carries its own condition).
    pub fn push(&mut self, sql: &'static str, params: Vec<Param<'a>>) {
        self.statements.push((sql, params));
    }

    /// A step that fails the transaction on purpose when what the next steps need is missing
    /// (`Attempt::Guarded`); at most one.
    pub fn guard(&mut self, sql: &'static str, params: Vec<Param<'a>>) {
        self.guard_at = Some(self.statements.len());
        self.statements.push((sql, params));
    }

    /// The invoice recorded; a failed one's notice when `notify` and its state is new. `words`:
    /// when its state was new, when not.
    pub fn invoice(
        &mut self,
        r: &'a InvoiceRecord,
        notify: &'a bool,
        plan: &'a Plan,
        words: &'a [String; 2],
    ) {
        let mut params = record_invoice_params(r).to_vec();
        params.extend([
            (notify as _, Type::BOOL),
            (plan as _, Type::TEXT),
            (&words[0] as _, Type::TEXT),
            (&words[1] as _, Type::TEXT),
        ]);
        self.statements.push((INVOICE_SQL, params));
    }

    pub fn invoice_details(&mut self, d: &'a InvoiceDetails) {
        self.statements.push((SAVE_INVOICE_DETAILS_SQL, d.params().to_vec()));
    }

    /// The subscription saved unless a newer or final state is stored; `words` (stored, not)
    /// for the detail, or none.
    pub fn subscription(&mut self, r: &'a SubscriptionRecord, words: Option<&'a [String; 2]>) {
        let mut params = subscription_params(r).to_vec();
        match words {
            Some(words) => {
                params.extend([(&words[0] as _, Type::TEXT), (&words[1] as _, Type::TEXT)]);
                self.statements.push((SUBSCRIPTION_SQL, params));
            }
            None => self.statements.push((SAVE_SUBSCRIPTION_SQL, params)),
        }
    }

    pub fn allowance(&mut self, a: &'a Allowance) {
        let period: Vec<Param> =
            vec![(&a.subscription_id as _, Type::TEXT), (&a.period_key as _, Type::INT8)];
        self.statements.push((PERIOD_ROW_SQL, period));
        let params: Vec<Param> = vec![
            (&a.subscription_id as _, Type::TEXT),
            (&a.period_key as _, Type::INT8),
            (&a.target as _, Type::INT8),
            (&a.user_id as _, Type::INT8),
            (&ALLOWANCE_REASON as _, Type::TEXT),
            (&a.invoice_id as _, Type::TEXT),
            (&a.note as _, Type::TEXT),
            (&a.plan as _, Type::TEXT),
            (&a.amount as _, Type::INT8),
            (&a.currency as _, Type::TEXT),
            (&a.renewal as _, Type::BOOL),
            (&a.words[0] as _, Type::TEXT),
            (&a.words[1] as _, Type::TEXT),
            (&a.words[2] as _, Type::TEXT),
            (&a.period_end as _, Type::INT8),
        ];
        self.allowance_at = Some(self.statements.len());
        self.statements.push((ALLOWANCE_SQL, params));
    }

    /// Checkout `id` moved to `status` (from the statuses `from` names).
    pub fn checkout(&mut self, id: &'a String, status: &'a CheckoutStatus, from: &'a Vec<String>) {
        let params: Vec<Param> =
            vec![(id as _, Type::TEXT), (status as _, Type::TEXT), (from as _, Type::TEXT_ARRAY)];
        self.statements.push((SET_CHECKOUT_STATUS_SQL, params));
    }

    /// Sends the steps as one transaction; with `event` (and its account and the words after the
    /// steps'), claimed first and finished last. `None`: the event was taken by someone else, and
    /// nothing was written.
    pub async fn run(self, db: &Db, event: Option<EventSteps<'a, '_>>) -> Result<Option<Ran>, AppError> {
        match self.attempt(db, event).await? {
            Attempt::Ran(ran) => Ok(Some(ran)),
            Attempt::Taken => Ok(None),
            Attempt::Guarded => Err(AppError::internal("a step's guard refused")),
        }
    }

    /// `run`, telling a refusal of the guard step apart.
    pub async fn attempt(self, db: &Db, event: Option<EventSteps<'a, '_>>) -> Result<Attempt, AppError> {
        let Steps { mut statements, mut allowance_at, mut guard_at } = self;
        if let Some((e, user_id, last)) = event {
            statements.insert(0, (CLAIM_OR_FAIL_SQL, claim_params(e).to_vec()));
            allowance_at = allowance_at.map(|i| i + 1);
            guard_at = guard_at.map(|i| i + 1);
            statements.push((
                FINISH_SQL,
                vec![(&e.id as _, Type::TEXT), (user_id, Type::INT8), (last as _, Type::TEXT)],
            ));
        }
        let sent: Vec<(&str, &[Param])> = statements.iter().map(|(sql, p)| (*sql, p.as_slice())).collect();
        let answers = match db.atomically(&sent).await {
            Ok(answers) => answers,
            Err(refused) if event.is_some() && refused.constraint.as_deref() == Some(EVENT_TAKEN) => {
                return Ok(Attempt::Taken)
            }
            Err(refused) if guard_at.is_some() && refused.index == guard_at => return Ok(Attempt::Guarded),
            Err(refused) => return Err(refused.into()),
        };
        let granted = match allowance_at.and_then(|i| answers.get(i)).and_then(|rows| rows.first()) {
            Some(row) => match (row.try_get(1)?, row.try_get(2)?) {
                (Some(credits), Some(balance)) => Some((credits, balance)),
                _ => None,
            },
            None => None,
        };
        let finished = event.and_then(|_| answers.last()).and_then(|rows| rows.first());
        let detail = finished.map(|row| row.get(0));
        let owner = finished.and_then(|row| row.get(1));
        Ok(Attempt::Ran(Ran { detail, owner, granted }))
    }
}
