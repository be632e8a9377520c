//! A subscription's event (created, updated, deleted) applied as one transaction in one round
//! trip (`Db::atomically`): the event claimed, the subscription saved unless a newer read is
//! stored, and the event's outcome written with a detail that says which, from the save's own
//! answer in the same statement.

use super::billing::{save_subscription_sql, subscription_params};
use super::stripe_events::{claim_params, EventMeta, CLAIM_OR_FAIL_SQL, EVENT_TAKEN};
use super::{Db, Param};
use crate::domain::billing::SubscriptionRecord;
use crate::error::AppError;
use tokio_postgres::types::Type;

/// The save (`$1`…`$14`, `billing::subscription_params`) and the event's outcome (`$15` the
/// detail when saved, `$16` when a newer or final state is stored, `$17` the event).
const SAVE_AND_FINISH_SQL: &str = concat!(
    "WITH saved AS (\n",
    save_subscription_sql!(),
    "\n)
UPDATE stripe_events SET outcome = 'applied', user_id = $2, processed_at = now(),
    detail = CASE WHEN EXISTS (SELECT 1 FROM saved) THEN $15 ELSE $16 END
WHERE id = $17
RETURNING detail"
);

/// The event's detail in either case.
pub struct Details<'a> {
    pub saved: &'a str,
    pub stale: &'a str,
}

/// Claims `event`, saves `record` and finishes the event. `None`: the event was handled by
/// someone else and nothing was written; otherwise the detail written.
pub async fn apply(
    db: &Db,
    event: &EventMeta<'_>,
    record: &SubscriptionRecord,
    details: &Details<'_>,
) -> Result<Option<String>, AppError> {
    let claim = claim_params(event);
    let save = subscription_params(record);
    let mut finish: Vec<Param> = save.to_vec();
    finish.extend([
        (&details.saved as _, Type::TEXT),
        (&details.stale as _, Type::TEXT),
        (&event.id as _, Type::TEXT),
    ]);
    let statements: [(&str, &[Param]); 2] = [(CLAIM_OR_FAIL_SQL, &claim), (SAVE_AND_FINISH_SQL, &finish)];
    let answers = match db.atomically(&statements).await {
        Ok(answers) => answers,
        Err(refused) if refused.constraint.as_deref() == Some(EVENT_TAKEN) => return Ok(None),
        Err(refused) => return Err(refused.into()),
    };
    let row = answers.last().and_then(|rows| rows.first());
    let row = row.ok_or_else(|| AppError::internal(format!("event {} vanished", event.id)))?;
    Ok(Some(row.get(0)))
}
