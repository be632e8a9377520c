//! AgentWrite's rules: one credit per description, reserved with the run's row in one
//! transaction (so concurrent runs can never overspend), settled when the answer is saved, and
//! refunded in the same transaction that marks a run failed. The run itself is detached from the
//! request: it keeps reading OpenAI's stream and settles even when the browser has gone.
//!
//! What reached the user is paid for: an answer that stops short (the model's length limit, our
//! cap on what is relayed for the chosen length, the content filter) after its text was relayed
//! is saved, shown and charged, marked as cut short. Only a run that showed nothing usable (an
//! empty answer, a call that failed before its first piece) or that OpenAI itself broke off (an
//! error in the stream, malformed data, a stall: nothing a brief can cause) is refunded.

use super::runs::{failure_message, new_id, JobEnv, STALE_AFTER};
use crate::clients::openai::{Failure, OpenAi};
use crate::db::credits::{self, Reason};
use crate::db::generations::{self, Generation, NewRun, Refusal};
use crate::db::Db;
use crate::domain::brief::ProductBrief;
use crate::domain::copy::ProductCopy;
use crate::domain::item_id::ItemId;
use crate::domain::live_copy::{Change, LiveCopy};
use crate::domain::Credits;
use crate::domain::UserId;
use crate::error::AppError;
use futures_channel::mpsc::UnboundedSender;
use serde_json::json;

/// The price of one description.
pub const CREDITS: Credits = Credits::new(1);

/// What a run tells whoever is listening (a streaming browser, or a form POST waiting).
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Started {
        id: ItemId,
    },
    /// A piece of the answer, and what it changes in the formatted copy shown so far.
    Delta {
        text: String,
        view: Option<Change>,
    },
    Done {
        id: ItemId,
        copy: ProductCopy,
        balance: Credits,
        cut_short: Option<CutShort>,
    },
    Failed {
        code: &'static str,
        message: String,
    },
}

impl Event {
    /// As a server-sent event for the browser's stream.
    pub fn to_sse(&self) -> Vec<u8> {
        let (name, data) = match self {
            Event::Started { id } => ("start", json!({ "id": id.as_str() })),
            Event::Delta { text, view: None } => ("delta", json!({ "text": text })),
            Event::Delta { text, view: Some(view) } => ("delta", json!({ "text": text, "view": view })),
            Event::Done { id, copy, balance, cut_short } => (
                "done",
                json!({
                    "id": id.as_str(),
                    "url": format!("/tools/agentwrite/{id}"),
                    "download": format!("/tools/agentwrite/{id}/download"),
                    "title": copy.title,
                    "paragraphs": copy.paragraphs(),
                    "bullets": copy.bullets,
                    "balance": balance,
                    "cut_short": cut_short.map(CutShort::message),
                }),
            ),
            Event::Failed { code, message } => ("error", json!({ "code": code, "message": message })),
        };
        format!("event: {name}\ndata: {data}\n\n").into_bytes()
    }
}

/// Why a delivered answer is shorter than asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CutShort {
    /// The model's length limit, or our cap on what is relayed for the chosen length.
    Length,
    ContentFilter,
}

impl CutShort {
    /// From a finish reason; `None` for an answer that ended by itself.
    pub fn of(finish_reason: Option<&str>) -> Option<CutShort> {
        match finish_reason {
            Some("length") => Some(CutShort::Length),
            Some("content_filter") => Some(CutShort::ContentFilter),
            _ => None,
        }
    }

    /// As stored (`generations.cut_short`).
    pub fn as_str(self) -> &'static str {
        match self {
            CutShort::Length => "length",
            CutShort::ContentFilter => "content_filter",
        }
    }

    pub fn parse(stored: &str) -> Option<CutShort> {
        CutShort::of(Some(stored))
    }

    /// What its owner reads next to the description.
    pub fn message(self) -> &'static str {
        match self {
            CutShort::Length => "Cut short: the answer ran past the length you chose and was stopped there. It used 1 credit, as its text was delivered. Try a longer length or fewer details for a complete one.",
            CutShort::ContentFilter => "Cut short: the AI provider's content filter stopped the answer here. It used 1 credit, as its text was delivered.",
        }
    }
}

/// A saved run of `user_id`'s, with the balance and hold the page shows beside it: sent
/// together, one round trip. `NotFound` when there is no such run of theirs.
pub async fn saved(
    db: &Db,
    user_id: UserId,
    id: &ItemId,
) -> Result<(Generation, (Credits, Option<&'static str>)), AppError> {
    let (g, standing) = futures_util::future::try_join(
        generations::find(db, user_id, id.as_str()),
        super::billing::reversals::balance_and_notice(db, user_id),
    )
    .await?;
    Ok((g.ok_or(AppError::NotFound)?, standing))
}

/// A run of `user_id`'s, or `NotFound`.
pub async fn find(db: &Db, user_id: UserId, id: &ItemId) -> Result<Generation, AppError> {
    generations::find(db, user_id, id.as_str()).await?.ok_or(AppError::NotFound)
}

/// Deletes a run of `user_id`'s; one still being written is refused (it must settle first).
pub async fn delete(db: &Db, user_id: UserId, id: &ItemId) -> Result<(), AppError> {
    super::runs::deleted(
        generations::delete(db, user_id, id.as_str()).await?,
        "This description is still being written",
    )
}

/// Reserves the credit and records the run (after settling any run a dead Worker left), as one
/// transaction in one round trip. Refused, with nothing written, while the account is on hold
/// (`Forbidden`, saying why) or when the balance does not cover it (`InsufficientCredits`).
pub async fn start(db: &Db, user_id: UserId, brief: &ProductBrief, model: &str) -> Result<ItemId, AppError> {
    let id = new_id();
    let note = format!("AgentWrite: {}", brief.product_name());
    let run = NewRun { id: id.as_str(), user_id, brief, model, credits: CREDITS, note: &note };
    match generations::start(db, &run, STALE_AFTER).await? {
        Ok(()) => Ok(id),
        Err(Refusal::OnHold) => {
            super::billing::reversals::ensure_not_on_hold(db, user_id).await?;
            // Released between the two statements: refuse this once all the same.
            Err(AppError::Forbidden("Your account is on hold. Please try again.".into()))
        }
        Err(Refusal::Credits { balance }) => {
            Err(AppError::InsufficientCredits { needed: CREDITS.get(), balance: balance.get() })
        }
    }
}

/// Writes the description, relaying each piece to `events`, then settles. Never fails: every
/// outcome ends in the database and as a last event (listeners that left are ignored).
pub async fn run(job: JobEnv, id: ItemId, brief: ProductBrief, events: UnboundedSender<Event>) {
    let send = |event: Event| {
        let _ = events.unbounded_send(event);
    };
    let model = job.config.tools.chat_model.clone();
    let mut live = LiveCopy::default();
    let answer = match OpenAi::new(&job.config, job.request_id()) {
        Ok(openai) => {
            openai
                .stream_chat(
                    &model,
                    &brief.system_prompt(),
                    &brief.user_prompt(),
                    (brief.length().max_tokens(), brief.length().max_chars()),
                    |d| send(Event::Delta { text: d.to_string(), view: live.push(d) }),
                )
                .await
        }
        Err(e) => Err(Failure::Operator(e.to_string())),
    };
    let answer = answer.and_then(|c| {
        let copy = ProductCopy::parse(&c.content);
        let cut_short = CutShort::of(c.finish_reason.as_deref());
        // Nothing usable was shown (the answer is blank): that is a failure, refunded.
        match (copy.is_empty(), cut_short) {
            (false, _) => Ok((c, copy, cut_short)),
            (true, Some(CutShort::ContentFilter)) => Err(Failure::Filtered),
            (true, Some(CutShort::Length)) => Err(Failure::TooLong),
            (true, None) => Err(Failure::Busy("the model answered with nothing usable".into())),
        }
    });
    let last = match answer {
        Ok((completion, copy, cut_short)) => {
            let usage = completion.usage.as_ref().map(|u| u.to_string());
            let saved = job
                .with_db(async |db| {
                    let (output, usage, cut_short) =
                        (&completion.content, usage.as_deref(), cut_short.map(CutShort::as_str));
                    generations::finish(db, id.as_str(), output, &copy, usage, cut_short).await
                })
                .await;
            match saved {
                Ok((true, balance)) => Event::Done { id: id.clone(), copy, balance, cut_short },
                // The sweep settled it first (and refunded it): say so rather than show a result
                // that is not in the history.
                Ok((false, _)) => Event::Failed {
                    code: "abandoned",
                    message: failure_message("AgentWrite", "abandoned", true),
                },
                Err(e) => {
                    // Left `running`: the sweep refunds it later.
                    job.reporter.report_now(&e).await;
                    Event::Failed {
                        code: "not_saved",
                        message: failure_message("AgentWrite", "not_saved", false),
                    }
                }
            }
        }
        Err(failure) => {
            job.report_operator_failure(&failure).await;
            let code = failure.code();
            let refunded = refund(&job, &id, code).await;
            if let Err(e) = &refunded {
                job.reporter.report_now(e).await;
            }
            Event::Failed { code, message: failure_message("AgentWrite", code, refunded.is_ok()) }
        }
    };
    send(last);
}

/// Marks the run failed and gives its credit back, in one transaction.
async fn refund(job: &JobEnv, id: &ItemId, code: &'static str) -> Result<(), AppError> {
    job.with_db(async |db| {
        db.transaction(async |db| {
            if let Some((user_id, amount)) = generations::fail(db, id.as_str(), code).await? {
                let note = format!("AgentWrite failed: {code}");
                credits::grant(db, user_id, amount, Reason::ToolRefund, id.as_str(), Some(&note)).await?;
            }
            Ok(())
        })
        .await
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_server_sent_events_with_json_data() {
        let id = ItemId::from_bytes([1; 16]);
        let delta = String::from_utf8(Event::Delta { text: "a\nb".into(), view: None }.to_sse()).unwrap();
        assert_eq!(delta, "event: delta\ndata: {\"text\":\"a\\nb\"}\n\n");
        let view = LiveCopy::default().push("TITLE: T");
        let delta = String::from_utf8(Event::Delta { text: "TITLE: T".into(), view }.to_sse()).unwrap();
        assert!(delta.contains("\"view\":{\"blocks\":[[\"title\",\"T\"]],\"from\":0}"), "{delta}");
        let copy =
            ProductCopy { title: "T".into(), description: "P1\n\nP2".into(), bullets: vec!["B".into()] };
        let done = String::from_utf8(
            Event::Done { id: id.clone(), copy, balance: Credits::new(4), cut_short: None }.to_sse(),
        )
        .unwrap();
        let data: serde_json::Value =
            serde_json::from_str(done.strip_prefix("event: done\ndata: ").unwrap().trim()).unwrap();
        assert_eq!(data["paragraphs"], json!(["P1", "P2"]));
        assert_eq!(data["url"], format!("/tools/agentwrite/{id}"));
        assert_eq!(data["cut_short"], serde_json::Value::Null);
    }

    #[test]
    fn only_length_and_the_content_filter_cut_an_answer_short() {
        assert_eq!(CutShort::of(Some("length")), Some(CutShort::Length));
        assert_eq!(CutShort::of(Some("content_filter")), Some(CutShort::ContentFilter));
        assert_eq!(CutShort::of(Some("stop")), None);
        assert_eq!(CutShort::of(None), None);
        for c in [CutShort::Length, CutShort::ContentFilter] {
            assert_eq!(CutShort::parse(c.as_str()), Some(c));
            assert!(c.message().starts_with("Cut short"));
        }
    }
}
