//! PodScribe runs executed by the Queue consumer, so they outlive the request that accepted them
//! (`waitUntil` work is cut off about 30 s after a response in production; a consumer has 15
//! minutes). The request keeps the episode in R2 and enqueues the run; the consumer transcribes
//! and settles it; a run whose retries ran out reaches the dead-letter queue, whose consumer
//! refunds it. Delivery is at least once: settlement is guarded by the run's status, so a
//! message delivered twice charges once. The same queue carries AgentWrite runs' backstops
//! (`agentwrite_backstop`) and transcript-ready mails that came due. See docs/durable-runs.md.

use super::agentwrite_backstop;
use super::notices;
use super::podscribe::{self, Ending, Run};
use super::podscribe_chunks::{self, Audio};
pub use super::run_message::RunMessage;
use super::runs::JobEnv;
use crate::clients::uploads::{self, Uploads};
use crate::db::transcripts;
use crate::domain::item_id::ItemId;
use crate::error::AppError;
use worker::web_sys::Blob;
use worker::{Env, MessageBatch, MessageExt};

/// Keeps the episode in R2 and enqueues its run (reserved and recorded already). On failure
/// nothing is left in R2; the caller fails and refunds the run.
pub async fn submit(env: &Env, message: RunMessage, episode: &Blob) -> Result<(), AppError> {
    let store = Uploads::of(env)?;
    let key = uploads::key(&message.run);
    store.put(&key, episode).await?;
    let sent = enqueue(env, message).await;
    if sent.is_err() {
        let _ = store.delete(&key).await;
    }
    sent
}

/// Enqueues a run whose episode is in R2 already (uploaded in parts).
pub async fn enqueue(env: &Env, message: RunMessage) -> Result<(), AppError> {
    match env.queue("RUNS") {
        Ok(queue) => queue
            .send(message)
            .await
            .map_err(|e| AppError::Upstream { service: "queue", detail: e.to_string() }),
        Err(e) => {
            Err(AppError::Misconfigured { var: "RUNS", problem: format!("Queue binding missing: {e}") })
        }
    }
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
        if message.body().agentwrite {
            let resumed = match ItemId::parse(&message.body().run) {
                // Given up: the sweep refunds a run still left `running`.
                Some(id) if !dead => agentwrite_backstop::resume(job, id).await,
                _ => Ok(()),
            };
            match resumed {
                Ok(()) => message.ack(),
                Err(()) => message.retry(),
            }
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
    let run = Run { id: id.clone(), user_id, reserved };
    let store = match Uploads::of(&job.env) {
        Ok(store) => store,
        Err(e) => {
            job.reporter.report_now(&e).await;
            return Ending::Retry;
        }
    };
    let key = uploads::key(id.as_str());
    let limit = job.config.tools.transcribe_chunk_bytes;
    // Small enough for one request: read whole (as a Blob); else read in ranges, in chunks.
    let episode = match store.size(&key).await {
        Ok(Some(size)) if size > limit => Ok(Some(Audio::Stored { store: &store, key, size, limit })),
        Ok(Some(_)) => store.get(&key).await.map(|blob| blob.map(Audio::Whole)),
        Ok(None) => Ok(None),
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
    let ending = podscribe::run(job, &run, &message.upload_name, &message.media_type, &audio).await;
    if ending == Ending::Finished {
        forget_episode(job, id).await;
    }
    ending
}

/// Deletes the run's episode (its run has ended); a failure is logged, and the sweep removes
/// what is left over.
async fn forget_episode(job: &JobEnv, id: &ItemId) {
    let key = uploads::key(id.as_str());
    let deleted = match Uploads::of(&job.env) {
        Ok(store) => match store.delete(&key).await {
            Ok(()) => podscribe_chunks::forget_chunks(&store, &key).await.map(|_| ()),
            Err(e) => Err(e),
        },
        Err(e) => Err(e),
    };
    if let Err(e) = deleted {
        job.log("warn", &format!("episode of {id} not deleted: {e}"));
    }
}
