//! PodScribe runs executed by the Queue consumer, so they outlive the request that accepted them
//! (`waitUntil` work is cut off about 30 s after a response in production; a consumer has 15
//! minutes). The request keeps the episode in R2 and enqueues the run; the consumer transcribes
//! and settles it; a run whose retries ran out reaches the dead-letter queue, whose consumer
//! refunds it. Delivery is at least once: settlement is guarded by the run's status, so a
//! message delivered twice charges once. See docs/durable-runs.md.

use super::notices;
use super::podscribe::{self, Ending, Run};
use super::runs::JobEnv;
use crate::clients::uploads::{self, Uploads};
use crate::db::transcripts;
use crate::domain::item_id::ItemId;
use crate::error::AppError;
use serde::{Deserialize, Serialize};
use worker::web_sys::Blob;
use worker::{Env, MessageBatch, MessageBuilder, MessageExt};

/// One run to execute: which, and what OpenAI is told about the file. With `mail_due`, not a
/// run: the run's "transcript ready" mail has come due (sent with a delay when the run ended).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RunMessage {
    pub run: String,
    #[serde(default)]
    pub upload_name: String,
    #[serde(default)]
    pub media_type: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub mail_due: bool,
}

/// Keeps the episode in R2 and enqueues its run (reserved and recorded already). On failure
/// nothing is left in R2; the caller fails and refunds the run.
pub async fn submit(env: &Env, message: RunMessage, episode: &Blob) -> Result<(), AppError> {
    let store = Uploads::of(env)?;
    let key = uploads::key(&message.run);
    store.put(&key, episode).await?;
    let sent = match env.queue("RUNS") {
        Ok(queue) => queue
            .send(message)
            .await
            .map_err(|e| AppError::Upstream { service: "queue", detail: e.to_string() }),
        Err(e) => {
            Err(AppError::Misconfigured { var: "RUNS", problem: format!("Queue binding missing: {e}") })
        }
    };
    if sent.is_err() {
        let _ = store.delete(&key).await;
    }
    sent
}

/// The queue handler: runs from `ghosttools-runs`, given-up runs from its dead-letter queue.
pub async fn consume(batch: MessageBatch<RunMessage>, env: Env) {
    let queue = batch.queue();
    let dead = queue.ends_with("-dead");
    let messages = match batch.messages() {
        Ok(m) => m,
        Err(e) => {
            // Not ours to read: acknowledged, or they would come back for ever.
            worker::console_error!("queue {queue}: unreadable batch: {e}");
            batch.ack_all();
            return;
        }
    };
    for message in messages {
        let job = JobEnv::detached(env.clone(), &format!("queue {queue}"));
        if message.body().mail_due {
            // Whatever is due goes (the sweep sends what this misses); never retried.
            notices::send_due(job, worker::Date::now().as_millis()).await;
            message.ack();
            continue;
        }
        let ending = match ItemId::parse(&message.body().run) {
            None => {
                job.log("error", &format!("queue {queue}: not a run id: {:?}", message.body().run));
                Ending::Finished
            }
            Some(id) if dead => {
                podscribe::give_up(&job, &id).await;
                forget_episode(&job, &id).await;
                Ending::Finished
            }
            Some(id) => attempt(&job, &id, message.body()).await,
        };
        match ending {
            Ending::Finished => message.ack(),
            // After the consumer's `retry_delay`; past `max_retries`, to the dead-letter queue.
            Ending::Retry => message.retry(),
        }
    }
}

/// One delivery of a run: skipped when it is no longer waiting (settled by an earlier delivery,
/// the sweep, or deleted), else transcribed from the stored episode.
async fn attempt(job: &JobEnv, id: &ItemId, message: &RunMessage) -> Ending {
    let pending = job.with_db(async |db| transcripts::pending(db, id.as_str()).await).await;
    let (user_id, reserved) = match pending {
        Ok(Some(run)) => run,
        Ok(None) => {
            forget_episode(job, id).await;
            return Ending::Finished;
        }
        Err(e) => {
            job.reporter.report_now(&e).await;
            return Ending::Retry;
        }
    };
    let episode = match Uploads::of(&job.env) {
        Ok(store) => store.get(&uploads::key(id.as_str())).await,
        Err(e) => Err(e),
    };
    let audio = match episode {
        Ok(Some(audio)) => audio,
        Ok(None) => {
            let missing = crate::clients::openai::Failure::Operator("the episode is missing from R2".into());
            podscribe::fail(job, id, missing).await;
            return Ending::Finished;
        }
        Err(e) => {
            job.reporter.report_now(&e).await;
            return Ending::Retry;
        }
    };
    let run = Run { id: id.clone(), user_id, reserved };
    let ending = podscribe::run(job, &run, &message.upload_name, &message.media_type, &audio).await;
    if ending == Ending::Finished {
        forget_episode(job, id).await;
    }
    ending
}

/// Asks the consumer to send the run's "transcript ready" mail once it is due, `after_secs`
/// from now. A failure is logged: the scheduled sweep sends due notices too, only later.
pub async fn schedule_ready_mail(job: &JobEnv, id: &ItemId, after_secs: u64) {
    let message = RunMessage { run: id.as_str().to_string(), mail_due: true, ..RunMessage::default() };
    // One second past due, so the notice is due when the message arrives.
    let delay = u32::try_from(after_secs + 1).unwrap_or(u32::MAX);
    let sent = match job.env.queue("RUNS") {
        Ok(queue) => queue
            .send(MessageBuilder::new(message).delay_seconds(delay).build())
            .await
            .map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    if let Err(e) = sent {
        job.log("warn", &format!("ready mail of {id} not scheduled (the sweep sends it): {e}"));
    }
}

/// Deletes the run's episode (its run has ended); a failure is logged, and the sweep removes
/// what is left over.
async fn forget_episode(job: &JobEnv, id: &ItemId) {
    let deleted = match Uploads::of(&job.env) {
        Ok(store) => store.delete(&uploads::key(id.as_str())).await,
        Err(e) => Err(e),
    };
    if let Err(e) = deleted {
        job.log("warn", &format!("episode of {id} not deleted: {e}"));
    }
}
