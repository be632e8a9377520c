//! The Worker's one outgoing fetch, bounded in time: every client (Stripe, OpenAI, Google,
//! Rewardful, Sentry) calls out through here, so none can hold a request open on a stalled
//! service. A call that takes longer than its bound is aborted (`AbortController`), body
//! included.

use futures_util::future::{select, Either};
use std::future::Future;
use std::time::Duration;
use worker::{AbortController, Delay, Fetch, Headers, Request, Response};

/// Why no answer came.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failed {
    /// Nothing within the bound; the call was aborted.
    TimedOut(Duration),
    /// Refused, reset or unreadable (the runtime's message).
    Network(String),
}

impl std::fmt::Display for Failed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failed::TimedOut(bound) if bound.subsec_millis() == 0 => {
                write!(f, "no answer within {} s", bound.as_secs())
            }
            Failed::TimedOut(bound) => write!(f, "no answer within {} ms", bound.as_millis()),
            Failed::Network(e) => f.write_str(e),
        }
    }
}

/// A whole answer: its status, headers and body, read within the bound.
pub struct Answer {
    pub status: u16,
    pub headers: Headers,
    pub body: String,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.get(name).ok().flatten()
    }
}

/// Sends `request` and reads its whole answer, all within `bound`.
pub async fn fetch(request: Request, bound: Duration) -> Result<Answer, Failed> {
    let controller = AbortController::default();
    let signal = controller.signal();
    let exchange = async {
        let mut response = Fetch::Request(request).send_with_signal(&signal).await.map_err(network)?;
        let headers = response.headers().clone();
        let body = response.text().await.map_err(network)?;
        Ok(Answer { status: response.status_code(), headers, body })
    };
    match within(bound, exchange).await {
        Some(answer) => answer,
        None => {
            controller.abort();
            Err(Failed::TimedOut(bound))
        }
    }
}

/// Sends `request` and waits at most `bound` for its answer to start (a stream is then read
/// piece by piece, each bounded with `within`). Returns the response and the controller that
/// aborts reading it.
pub async fn send(request: Request, bound: Duration) -> Result<(Response, AbortController), Failed> {
    let controller = AbortController::default();
    let signal = controller.signal();
    let fetch = Fetch::Request(request);
    match within(bound, fetch.send_with_signal(&signal)).await {
        Some(Ok(response)) => Ok((response, controller)),
        Some(Err(e)) => Err(network(e)),
        None => {
            controller.abort();
            Err(Failed::TimedOut(bound))
        }
    }
}

/// `work`'s outcome, or `None` when it takes longer than `bound`.
pub async fn within<T>(bound: Duration, work: impl Future<Output = T>) -> Option<T> {
    match select(std::pin::pin!(work), Delay::from(bound)).await {
        Either::Left((done, _)) => Some(done),
        Either::Right(_) => None,
    }
}

fn network(e: worker::Error) -> Failed {
    Failed::Network(e.to_string())
}
