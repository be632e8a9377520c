//! A fake Sentry: accepts envelopes at `/api/<project>/envelope/` and parses their events.

use super::recorder::{FakeServer, Recorded};
use axum::extract::Path;
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};
use std::time::Duration;

pub struct SentryFake {
    pub server: FakeServer,
}

pub const PUBLIC_KEY: &str = "e2epublickey";

impl SentryFake {
    pub async fn start() -> SentryFake {
        let router = Router::new().route(
            "/api/{project}/envelope/",
            post(|Path(_project): Path<String>, body: String| async move {
                let id = body
                    .lines()
                    .next()
                    .and_then(|l| serde_json::from_str::<Value>(l).ok())
                    .and_then(|h| h["event_id"].as_str().map(str::to_string))
                    .unwrap_or_default();
                Json(json!({ "id": id }))
            }),
        );
        SentryFake { server: FakeServer::start("sentry", router).await }
    }

    pub fn dsn(&self) -> String {
        format!("http://{PUBLIC_KEY}@{}/1", self.server.addr)
    }

    /// The event (third envelope line) whose `request_id` tag matches, waiting for it to arrive.
    pub async fn event_for_request(&self, request_id: &str) -> Option<(Recorded, Value)> {
        let found = self
            .server
            .recorder
            .wait_for(Duration::from_secs(10), |r| {
                event(r).is_some_and(|e| e["tags"]["request_id"] == request_id)
            })
            .await?;
        let ev = event(&found)?;
        Some((found, ev))
    }

    pub fn events(&self) -> Vec<Value> {
        self.server.recorder.all().iter().filter_map(event).collect()
    }
}

pub fn event(r: &Recorded) -> Option<Value> {
    r.text().lines().nth(2).and_then(|l| serde_json::from_str(l).ok())
}
