//! AgentWrite's durable backstop. A description is written by the request that asked for it, so
//! its tokens reach the page as OpenAI sends them; that work runs under `waitUntil`, which
//! production cuts off about 30 s after the response ends or the browser leaves. So every run
//! also sends itself a delayed message on the runs queue. When it arrives and the run is still
//! `running`, whatever was writing it is gone: the consumer writes the description again, with
//! nobody listening, and settles it. Settling is guarded by the run's status (the finish and the
//! refund each move it out of `running` once), so a run written twice is charged once; the
//! owner finds it in the history. See docs/durable-runs.md.

use super::agentwrite::{self, Event};
use super::run_message::{send_later, RunMessage};
use super::runs::JobEnv;
use crate::db::generations;
use crate::domain::brief::ProductBrief;
use crate::domain::item_id::ItemId;
use futures_channel::mpsc::{self, UnboundedSender};

/// Writes the description (relaying it to `events`) with its backstop sent alongside, so the
/// first words are not held back by the queue.
pub async fn run(job: JobEnv, id: ItemId, brief: ProductBrief, events: UnboundedSender<Event>) {
    let backstop = job.clone();
    let backstop_id = id.clone();
    futures_util::future::join(schedule(&backstop, &backstop_id), agentwrite::run(job, id, brief, events))
        .await;
}

/// Sends the run's backstop, due `AGENTWRITE_BACKSTOP_SECS` from now. A failure is logged: the
/// scheduled sweep still refunds a run left `running`, only later and without a description.
async fn schedule(job: &JobEnv, id: &ItemId) {
    let message = RunMessage { run: id.as_str().to_string(), agentwrite: true, ..RunMessage::default() };
    if let Err(e) = send_later(&job.env, message, job.config.tools.agentwrite_backstop_secs).await {
        job.log("warn", &format!("AgentWrite backstop of {id} not scheduled (the sweep refunds it): {e}"));
    }
}

/// The backstop's delivery: nothing when the run has settled; else it is written again and
/// settled here. Err (the database unreachable) asks the queue to deliver it again.
pub async fn resume(job: JobEnv, id: ItemId) -> Result<(), ()> {
    let brief = match job.with_db(async |db| generations::running_brief(db, id.as_str()).await).await {
        Ok(Some(brief)) => brief,
        Ok(None) => return Ok(()),
        Err(e) => {
            job.reporter.report_now(&e).await;
            return Err(());
        }
    };
    job.log("warn", &format!("AgentWrite run {id} outlived its request: written again by the queue"));
    // Nobody listens: the events go nowhere, the outcome is in the database.
    let (events, _) = mpsc::unbounded();
    agentwrite::run(job, id, brief, events).await;
    Ok(())
}
