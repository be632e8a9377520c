//! The rate limiter Durable Object. One instance per subject key, so limits are shared by every
//! Worker instance at the edge. (Foundation: the class and its binding exist; the sliding window
//! and the policy table arrive with the rate-limiting work.)

use worker::{durable_object, DurableObject, Env, Request, Response, Result, State};

#[durable_object]
pub struct RateLimiter {
    #[allow(dead_code)]
    state: State,
}

impl DurableObject for RateLimiter {
    fn new(state: State, _env: Env) -> Self {
        Self { state }
    }

    async fn fetch(&self, _req: Request) -> Result<Response> {
        Response::from_json(&serde_json::json!({ "allowed": true }))
    }
}
