//! The money side of a PodScribe run (the rules are in `podscribe`'s module doc): what the
//! transcription costs against its reservation, the settlement that stores it and charges or
//! refunds the difference in one transaction, and the full refund of a run that failed.

use super::runs::JobEnv;
use crate::clients::openai::{Failure, Transcription};
use crate::db::credits::{self, Reason};
use crate::db::transcripts::{self, Transcribed};
use crate::db::Db;
use crate::domain::audio::credits_for;
use crate::domain::item_id::ItemId;
use crate::domain::transcript;
use crate::domain::Credits;
use crate::domain::UserId;
use crate::error::AppError;

/// A transcription under way: its id, its owner and the credits reserved for it.
#[derive(Debug, Clone)]
pub struct Run {
    pub id: ItemId,
    pub user_id: UserId,
    pub reserved: Credits,
}

/// What the transcription costs against what was reserved for it, and how much of it the
/// balance pays for. Pure: `transcribed_secs` is the transcription's own length (None: it gave
/// no timing, and the reservation stands), `balance` what is left after the reservation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Charge {
    pub refund: Credits,
    pub extra: Credits,
    /// Where the transcript must be cut: the end of the minutes paid for.
    pub cut_at_secs: Option<f64>,
}

impl Charge {
    pub fn of(reserved: Credits, transcribed_secs: Option<f64>, balance: Credits) -> Charge {
        let cost = transcribed_secs.map_or(reserved, credits_for);
        if cost <= reserved {
            return Charge { refund: reserved - cost, extra: Credits::ZERO, cut_at_secs: None };
        }
        let extra = (cost - reserved).min(balance.max(Credits::ZERO));
        let cut_at_secs = (extra < cost - reserved).then(|| (reserved + extra).get() as f64 * 60.0);
        Charge { refund: Credits::ZERO, extra, cut_at_secs }
    }
}

/// Settles a transcription in the caller's transaction: stores what is delivered (all of it,
/// or the minutes paid for) and refunds or charges the difference from the reservation. The
/// transcription as delivered, or None when the run had already left `transcribing`.
pub(super) async fn settle(
    db: &Db,
    id: &ItemId,
    user_id: UserId,
    reserved: Credits,
    t: &Transcription,
) -> Result<Option<Transcription>, AppError> {
    let balance = credits::balance_locked(db, user_id).await?;
    let charge = Charge::of(reserved, transcript::transcribed_secs(t.duration, &t.segments), balance);
    let mut delivered = t.clone();
    if let Some(at) = charge.cut_at_secs {
        let total = transcript::transcribed_secs(t.duration, &t.segments).unwrap_or(at);
        (delivered.text, delivered.segments) = transcript::cut(&t.text, &t.segments, total, at);
        delivered.duration = Some(at);
    }
    let stored = Transcribed {
        text: &delivered.text,
        language: delivered.language.as_deref(),
        duration_secs: t.duration,
        segments: &delivered.segments,
        refunded: charge.refund,
        extra: charge.extra,
        cut_at_secs: charge.cut_at_secs,
    };
    if transcripts::store_text(db, id.as_str(), &stored).await?.is_none() {
        return Ok(None);
    }
    if charge.refund > 0 {
        let note = Some("PodScribe: the episode used less than was reserved");
        credits::grant(db, user_id, charge.refund, Reason::ToolRefund, id.as_str(), note).await?;
    }
    if charge.extra > 0 {
        let note = format!("PodScribe: {} more minutes than reserved", charge.extra);
        let reference = format!("{id}:extra");
        credits::spend(db, user_id, charge.extra, Reason::PodScribe, &reference, Some(&note)).await?;
    }
    Ok(Some(delivered))
}

/// Marks the transcript failed and refunds it in one transaction.
pub async fn fail(job: &JobEnv, id: &ItemId, failure: Failure) {
    job.report_operator_failure(&failure).await;
    let code = failure.code();
    end_and_refund(job, id, async |db| {
        Ok(transcripts::fail(db, id.as_str(), code)
            .await?
            .map(|(user_id, amount)| (user_id, amount, code.into())))
    })
    .await;
}

/// The dead-letter consumer's answer to a run whose retries ran out: failed with the code its
/// last attempt noted, and refunded, in one transaction.
pub async fn give_up(job: &JobEnv, id: &ItemId) {
    end_and_refund(job, id, async |db| transcripts::give_up(db, id.as_str()).await).await;
}

/// Ends a run with `end` (its owner, what it reserved and why it failed; None: it had already
/// ended) and gives the credits back, in one transaction. Keyed by the run: refunded once,
/// whoever gets there first.
async fn end_and_refund(
    job: &JobEnv,
    id: &ItemId,
    end: impl AsyncFn(&Db) -> Result<Option<(UserId, Credits, String)>, AppError>,
) {
    let refunded = job
        .with_db(async |db| {
            db.transaction(async |db| {
                if let Some((user_id, amount, code)) = end(db).await? {
                    let note = format!("PodScribe failed: {code}");
                    credits::grant(db, user_id, amount, Reason::ToolRefund, id.as_str(), Some(&note)).await?;
                }
                Ok(())
            })
            .await
        })
        .await;
    if let Err(e) = &refunded {
        job.reporter.report_now(e).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shorter_episode_is_refunded_down_to_its_own_length() {
        assert_eq!(
            Charge::of(Credits::new(5), Some(150.0), Credits::new(0)),
            Charge { refund: Credits::new(2), extra: Credits::new(0), cut_at_secs: None }
        );
        assert_eq!(
            Charge::of(Credits::new(2), Some(120.0), Credits::new(0)),
            Charge { refund: Credits::new(0), extra: Credits::new(0), cut_at_secs: None }
        );
    }

    #[test]
    fn without_timing_the_reservation_stands() {
        assert_eq!(
            Charge::of(Credits::new(5), None, Credits::new(100)),
            Charge { refund: Credits::new(0), extra: Credits::new(0), cut_at_secs: None }
        );
    }

    #[test]
    fn a_longer_episode_is_charged_its_extra_minutes_or_cut_where_the_balance_ends() {
        assert_eq!(
            Charge::of(Credits::new(1), Some(240.0), Credits::new(10)),
            Charge { refund: Credits::new(0), extra: Credits::new(3), cut_at_secs: None }
        );
        assert_eq!(
            Charge::of(Credits::new(1), Some(240.0), Credits::new(1)),
            Charge { refund: Credits::new(0), extra: Credits::new(1), cut_at_secs: Some(120.0) }
        );
        assert_eq!(
            Charge::of(Credits::new(1), Some(240.0), Credits::new(0)),
            Charge { refund: Credits::new(0), extra: Credits::new(0), cut_at_secs: Some(60.0) }
        );
    }
}
