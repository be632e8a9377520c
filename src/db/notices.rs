//! Mail owed to customers (`customer_notices`): billing notices recorded in the transaction that
//! handles a Stripe event (once per invoice and kind), "transcript ready" recorded as a PodScribe
//! run finishes (once per transcript, due a while later); then claimed by a sender, and marked
//! sent, failed or dropped. The address is read from `users` at claim time, never stored here.

use super::states::Stored;
use super::Db;
use crate::domain::billing::Plan;
use crate::domain::Credits;
use crate::domain::UserId;
use crate::error::AppError;
use tokio_postgres::types::Type;

/// What a notice is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoticeKind {
    PaymentFailed,
    PlanRenewed,
    /// A transcript finished (`about` is its id).
    TranscriptReady,
}

impl NoticeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            NoticeKind::PaymentFailed => "payment_failed",
            NoticeKind::PlanRenewed => "plan_renewed",
            NoticeKind::TranscriptReady => "transcript_ready",
        }
    }

    pub fn parse(s: &str) -> Option<NoticeKind> {
        [NoticeKind::PaymentFailed, NoticeKind::PlanRenewed, NoticeKind::TranscriptReady]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

/// A notice as recorded (and as a sender reads it back).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub kind: NoticeKind,
    /// The Stripe invoice it is about.
    pub about: String,
    pub user_id: UserId,
    /// Stored as its word (`starter`, `pro`, or `other` for Free).
    pub plan: Plan,
    pub amount: i64,
    pub currency: String,
    /// The allowance granted (a renewal).
    pub credits: Option<Credits>,
    pub balance: Option<Credits>,
    /// When the period ends (unix seconds).
    pub period_end: Option<i64>,
}

/// One notice a sender holds now, with where it goes (`None`: the account was deleted).
#[derive(Debug, Clone)]
pub struct Due {
    pub id: i64,
    pub notice: Notice,
    pub attempts: i32,
    pub email: Option<String>,
    /// For "transcript ready": the transcript's file name and whether its owner has seen it
    /// (`None`: it was deleted).
    pub transcript: Option<(String, bool)>,
}

/// How long a sender holds a claimed notice: longer than one SMTP conversation may take.
pub const HOLD_SECS: i64 = 60;
/// After this many failed attempts, or this long, a notice is dropped.
pub const MAX_ATTEMPTS: i32 = 5;
pub const MAX_AGE_HOURS: i64 = 72;

/// Takes up to `limit` unsent notices that are due (oldest first) and no other sender holds, for
/// `HOLD_SECS`, counting the attempt. Notices past `MAX_ATTEMPTS` or `MAX_AGE_HOURS` are not
/// taken (`drop_stale` marks them).
pub async fn claim_due(db: &Db, limit: i64) -> Result<Vec<Due>, AppError> {
    let rows = db
        .query(
            "UPDATE customer_notices n
             SET claimed_until = now() + make_interval(secs => $2), attempts = n.attempts + 1
             FROM (SELECT id FROM customer_notices
                   WHERE sent_at IS NULL AND dropped_at IS NULL AND due_at <= now()
                     AND (claimed_until IS NULL OR claimed_until < now())
                     AND attempts < $3 AND created_at > now() - make_interval(hours => $4::int)
                   ORDER BY created_at LIMIT $1 FOR UPDATE SKIP LOCKED) due, users u
             WHERE n.id = due.id AND u.id = n.user_id
             RETURNING n.id, n.kind, n.about, n.user_id, n.plan, n.amount, n.currency, n.credits,
                       n.balance, n.period_end, n.attempts, u.email,
                       (SELECT t.file_name FROM transcripts t
                        WHERE n.kind = 'transcript_ready' AND t.id = n.about AND t.user_id = n.user_id),
                       (SELECT t.seen_at IS NOT NULL FROM transcripts t
                        WHERE n.kind = 'transcript_ready' AND t.id = n.about AND t.user_id = n.user_id)",
            &[
                (&limit, Type::INT8),
                (&(HOLD_SECS as f64), Type::FLOAT8),
                (&MAX_ATTEMPTS, Type::INT4),
                (&(MAX_AGE_HOURS as i32), Type::INT4),
            ],
        )
        .await?;
    let mut due = Vec::with_capacity(rows.len());
    for r in rows {
        let kind: String = r.get(1);
        let kind =
            NoticeKind::parse(&kind).ok_or_else(|| AppError::internal(format!("notice kind {kind}")))?;
        due.push(Due {
            id: r.get(0),
            notice: Notice {
                kind,
                about: r.get(2),
                user_id: r.get(3),
                // A word no plan stores reads as Free: the mail then says "subscription".
                plan: Plan::from_stored(r.get(4)).unwrap_or(Plan::Free),
                amount: r.get(5),
                currency: r.get(6),
                credits: r.get(7),
                balance: r.get(8),
                period_end: r.get(9),
            },
            attempts: r.get(10),
            email: r.get(11),
            transcript: r
                .get::<_, Option<String>>(12)
                .map(|name| (name, r.get::<_, Option<bool>>(13) == Some(true))),
        });
    }
    Ok(due)
}

pub async fn mark_sent(db: &Db, id: i64) -> Result<(), AppError> {
    db.execute(
        "UPDATE customer_notices SET sent_at = now(), claimed_until = NULL, last_error = NULL WHERE id = $1",
        &[(&id, Type::INT8)],
    )
    .await?;
    Ok(())
}

/// A failed attempt: let go for the next sender, or dropped after the last attempt.
pub async fn mark_failed(db: &Db, id: i64, error: &str) -> Result<(), AppError> {
    db.execute(
        "UPDATE customer_notices SET claimed_until = NULL, last_error = $2,
             dropped_at = CASE WHEN attempts >= $3 THEN now() END
         WHERE id = $1",
        &[(&id, Type::INT8), (&error, Type::TEXT), (&MAX_ATTEMPTS, Type::INT4)],
    )
    .await?;
    Ok(())
}

/// Never to be sent (the account was deleted).
pub async fn mark_dropped(db: &Db, id: i64, why: &str) -> Result<(), AppError> {
    db.execute(
        "UPDATE customer_notices SET claimed_until = NULL, dropped_at = now(), last_error = $2 WHERE id = $1",
        &[(&id, Type::INT8), (&why, Type::TEXT)],
    )
    .await?;
    Ok(())
}
