//! What the runs queue carries (`RUNS`): a message names one run and what to do with it; and
//! the messages sent to arrive later (a transcript's ready mail, an AgentWrite run's backstop).

use super::runs::JobEnv;
use crate::domain::item_id::ItemId;
use serde::{Deserialize, Serialize};
use worker::{Env, MessageBuilder};

/// One run to execute: which, and what OpenAI is told about the file. With `mail_due`, not a
/// run: the run's "transcript ready" mail has come due (sent with a delay when the run ended).
/// With `agentwrite`, an AgentWrite run's backstop (`agentwrite_backstop`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RunMessage {
    pub run: String,
    #[serde(default)]
    pub upload_name: String,
    #[serde(default)]
    pub media_type: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub mail_due: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub agentwrite: bool,
}

/// Sends `message` on the runs queue, to arrive `after_secs` from now.
pub async fn send_later(env: &Env, message: RunMessage, after_secs: u64) -> Result<(), String> {
    let delay = u32::try_from(after_secs).unwrap_or(u32::MAX);
    let queue = env.queue("RUNS").map_err(|e| e.to_string())?;
    queue.send(MessageBuilder::new(message).delay_seconds(delay).build()).await.map_err(|e| e.to_string())
}

/// Asks the consumer to send the run's "transcript ready" mail once it is due, `after_secs`
/// from now. A failure is logged: the scheduled sweep sends due notices too, only later.
pub async fn schedule_ready_mail(job: &JobEnv, id: &ItemId, after_secs: u64) {
    let message = RunMessage { run: id.as_str().to_string(), mail_due: true, ..RunMessage::default() };
    // One second past due, so the notice is due when the message arrives.
    if let Err(e) = send_later(&job.env, message, after_secs + 1).await {
        job.log("warn", &format!("ready mail of {id} not scheduled (the sweep sends it): {e}"));
    }
}
