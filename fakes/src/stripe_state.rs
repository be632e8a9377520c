//! The fake Stripe's state, under everything else of it: what it keeps, its keys, the clock,
//! the scripted faults, and the events it makes. The API (stripe_server.rs), the hosted pages
//! and the `StripeFake` handle (stripe.rs) all work on it.

use crate::stripe_wire::error;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

pub const SECRET_KEY: &str = "sk_test_e2e_0123456789abcdef";
pub const WEBHOOK_SECRET: &str = "whsec_e2e_current_0123456789";
pub const PREVIOUS_WEBHOOK_SECRET: &str = "whsec_e2e_previous_0123456789";
/// A subscription's period (Stripe's months vary in length; the tests need not).
pub const MONTH: i64 = 30 * 24 * 3600;

/// Now, in Unix seconds, as Stripe gives every time.
pub fn now() -> i64 {
    crate::now_secs() as i64
}

/// A scripted failure for requests matching `method` + `path` (and `form_field`, when set).
#[derive(Clone, Debug)]
pub struct Fault {
    pub method: &'static str,
    pub path: String,
    pub form_field: Option<(String, String)>,
    /// 0: only delay, then answer normally.
    pub status: u16,
    pub body: Value,
    pub should_retry: Option<&'static str>,
    pub delay_ms: u64,
    pub times: u32,
    /// Held until this many matching requests have arrived, then all answered at once (races).
    pub gather: Option<std::sync::Arc<tokio::sync::Barrier>>,
}

impl Fault {
    pub fn new(method: &'static str, path: impl Into<String>, status: u16) -> Fault {
        Fault {
            method,
            path: path.into(),
            form_field: None,
            status,
            body: error("api_error", None, "An unknown error occurred (fake).", None),
            should_retry: None,
            delay_ms: 0,
            times: 1,
            gather: None,
        }
    }
    pub fn when_form(mut self, field: &str, value: impl ToString) -> Fault {
        self.form_field = Some((field.to_string(), value.to_string()));
        self
    }
    pub fn times(mut self, n: u32) -> Fault {
        self.times = n;
        self
    }
    pub fn body(mut self, body: Value) -> Fault {
        self.body = body;
        self
    }
    pub fn should_retry(mut self, v: &'static str) -> Fault {
        self.should_retry = Some(v);
        self
    }
    pub fn delay(mut self, ms: u64) -> Fault {
        self.delay_ms = ms;
        self
    }
    /// The next `n` matching requests wait for each other, then are answered normally together.
    pub fn gathered(mut self, n: u32) -> Fault {
        self.status = 0;
        self.times = n;
        self.gather = Some(std::sync::Arc::new(tokio::sync::Barrier::new(n as usize)));
        self
    }
}

#[derive(Default)]
pub struct State {
    pub base: String,
    pub webhook_url: Option<String>,
    pub next: u64,
    pub customers: HashMap<String, Value>,
    pub products: HashMap<String, Value>,
    pub prices: HashMap<String, Value>,
    pub sessions: HashMap<String, Value>,
    /// Per session: the price bought and the metadata for the subscription it may create.
    pub session_price: HashMap<String, (String, Value)>,
    pub subscriptions: HashMap<String, Value>,
    pub invoices: HashMap<String, Value>,
    pub charges: HashMap<String, Value>,
    /// Payment intent → the invoice it paid.
    pub invoice_payments: HashMap<String, String>,
    pub disputes: HashMap<String, Value>,
    pub portal_sessions: HashMap<String, Value>,
    /// Every event made, as `GET /v1/events/:id` answers it (Stripe keeps 30 days of them).
    pub events: HashMap<String, Value>,
    /// Idempotency key → (method + path + body, status, response).
    pub idempotency: HashMap<String, (String, u16, Value)>,
    pub faults: Vec<Fault>,
    /// `make dev`'s stand-in: customers it has forgotten (it keeps no state across restarts)
    /// are made again when named, delayed payments clear by themselves, and deliveries are
    /// logged the way `stripe listen` logs them.
    pub standin: bool,
}

impl State {
    /// Whether `id` is a customer (the stand-in makes a forgotten one again).
    pub fn knows_customer(&mut self, id: &str) -> bool {
        if self.standin && id.starts_with("cus_") && !self.customers.contains_key(id) {
            let customer = json!({ "id": id, "object": "customer", "email": null, "metadata": {},
                "created": now(), "livemode": false });
            self.customers.insert(id.to_string(), customer);
        }
        self.customers.contains_key(id)
    }

    pub fn id(&mut self, prefix: &str) -> String {
        self.next += 1;
        format!("{prefix}_e2e{}x{}", std::process::id(), self.next)
    }
}

pub type Shared = Arc<Mutex<State>>;

/// An event about `object`, as Stripe shapes it, kept for `GET /v1/events/:id` (not delivered).
pub fn event(st: &mut State, kind: &str, object: Value) -> Value {
    let event = json!({
        "id": st.id("evt"), "object": "event", "api_version": "2025-03-31.basil", "created": now(),
        "data": { "object": object }, "livemode": false, "pending_webhooks": 1,
        "request": { "id": null, "idempotency_key": null }, "type": kind,
    });
    st.events.insert(event["id"].as_str().unwrap().to_string(), event.clone());
    event
}
