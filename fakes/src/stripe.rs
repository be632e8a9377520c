//! A fake Stripe on 127.0.0.1 that speaks the wire format: form-encoded requests with bracket
//! nesting, `Authorization: Bearer`, `Idempotency-Key` replays, Stripe-shaped JSON objects and
//! errors. It keeps customers, prices, Checkout Sessions, portal sessions, subscriptions (period
//! dates on `items.data[]`, as since API 2025-03-31), invoices (numbered, with a hosted page; a
//! pack's too when the session asked for `invoice_creation`) and charges (with a receipt, each
//! announced by `charge.succeeded`); serves a hosted checkout page at each session's `url` that completes it and redirects to `success_url`; and signs and
//! delivers webhook events to the Worker exactly as Stripe does (`Stripe-Signature: t=…,v1=…`).
//!
//! Tests run in parallel against one fake: everything a test creates has its own ids, and a
//! fault only matches requests naming something of that test (a path, or a form field).

use crate::recorder::{FakeServer, Recorded};
use crate::stripe_documents::invoice_for;
use crate::stripe_payments::{pay_invoice, settle};
use crate::stripe_server::{complete, event, handle, post_event, Shared};
use crate::stripe_wire::{error, signature_header};
use axum::Router;
use serde_json::{json, Value};
use std::sync::Arc;

pub const SECRET_KEY: &str = "sk_test_e2e_0123456789abcdef";
pub const WEBHOOK_SECRET: &str = "whsec_e2e_current_0123456789";
pub const PREVIOUS_WEBHOOK_SECRET: &str = "whsec_e2e_previous_0123456789";
pub const STARTER: &str = "price_e2e_starter";
pub const PRO: &str = "price_e2e_pro";
pub const PACK: &str = "price_e2e_pack";
pub const MONTH: i64 = 30 * 24 * 3600;

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

pub struct StripeFake {
    pub server: FakeServer,
    pub state: Shared,
    http: reqwest::Client,
}

impl StripeFake {
    /// A fake with the default catalog: Starter ($9/month, 100 credits), Pro ($29/month, 500
    /// credits) and a one-time pack ($5, 50 credits).
    pub async fn start() -> StripeFake {
        StripeFake::start_on(0, false).await
    }

    /// On `port` (0: a free one); `standin`: `make dev`'s stand-in (see `State::standin`).
    pub async fn start_on(port: u16, standin: bool) -> StripeFake {
        let state: Shared = Arc::default();
        let router = Router::new().fallback(handle).with_state(state.clone());
        let server = FakeServer::start_on("stripe", router, port).await;
        state.lock().unwrap().base = server.url();
        state.lock().unwrap().standin = standin;
        let fake = StripeFake { server, state, http: reqwest::Client::new() };
        fake.create_price(STARTER, "Starter", "recurring", Some(("month", 1)), 900, "usd", Some("100"));
        fake.create_price(PRO, "Pro", "recurring", Some(("month", 1)), 2900, "usd", Some("500"));
        fake.create_price(PACK, "50 credit pack", "one_time", None, 500, "usd", Some("50"));
        fake
    }

    pub fn url(&self) -> String {
        self.server.url()
    }

    /// Where events are delivered (the Worker's webhook endpoint).
    pub fn set_webhook_url(&self, url: String) {
        self.state.lock().unwrap().webhook_url = Some(url);
    }

    #[allow(clippy::too_many_arguments)]
    pub fn create_price(
        &self,
        id: &str,
        product_name: &str,
        kind: &str,
        recurring: Option<(&str, u32)>,
        unit_amount: i64,
        currency: &str,
        credits: Option<&str>,
    ) -> Value {
        let mut st = self.state.lock().unwrap();
        let product_id = st.id("prod");
        let product = json!({ "id": product_id, "object": "product", "active": true, "name": product_name,
            "description": format!("{product_name} from the fake"), "metadata": {}, "livemode": false });
        st.products.insert(product_id.clone(), product);
        let mut metadata = json!({});
        if let Some(c) = credits {
            metadata["credits"] = json!(c);
        }
        let price = json!({
            "id": id, "object": "price", "active": true, "currency": currency, "unit_amount": unit_amount,
            "type": kind, "billing_scheme": "per_unit", "livemode": false, "created": now(),
            "recurring": recurring.map(|(i, n)| json!({ "interval": i, "interval_count": n, "usage_type": "licensed" })),
            "product": product_id, "metadata": metadata, "nickname": null,
        });
        st.prices.insert(id.to_string(), price.clone());
        price
    }

    pub fn price_object(&self, id: &str) -> Value {
        self.state.lock().unwrap().prices.get(id).cloned().expect("price exists")
    }

    pub fn add_fault(&self, fault: Fault) {
        self.state.lock().unwrap().faults.push(fault);
    }

    pub fn session(&self, id: &str) -> Value {
        self.state.lock().unwrap().sessions.get(id).cloned().unwrap_or(Value::Null)
    }

    pub fn subscription(&self, id: &str) -> Value {
        self.state.lock().unwrap().subscriptions.get(id).cloned().unwrap_or(Value::Null)
    }

    pub fn customer(&self, id: &str) -> Value {
        self.state.lock().unwrap().customers.get(id).cloned().unwrap_or(Value::Null)
    }

    /// Changes a subscription as Stripe would have; answers the new object.
    pub fn update_subscription(&self, id: &str, change: impl FnOnce(&mut Value)) -> Value {
        let mut st = self.state.lock().unwrap();
        let sub = st.subscriptions.get_mut(id).expect("subscription exists");
        change(sub);
        sub.clone()
    }

    /// Completes a Checkout Session as if the customer paid (`paid`), or chose a delayed
    /// method (`!paid`). Answers the events Stripe would send, undelivered.
    pub fn complete_session(&self, id: &str, paid: bool) -> Vec<Value> {
        complete(&mut self.state.lock().unwrap(), id, paid).expect("session completes")
    }

    /// A subscription made outside Checkout (in the dashboard, say) for a new customer, with
    /// `metadata`; answers the subscription.
    pub fn create_subscription(&self, price: &str, metadata: Value) -> Value {
        let mut st = self.state.lock().unwrap();
        let (customer_id, sub_id, item_id) = (st.id("cus"), st.id("sub"), st.id("si"));
        let customer = json!({ "id": customer_id, "object": "customer", "email": null, "metadata": {},
            "created": now(), "livemode": false });
        st.customers.insert(customer_id.clone(), customer);
        let price = st.prices.get(price).cloned().expect("price exists");
        let t = now();
        let sub = json!({
            "id": sub_id, "object": "subscription", "customer": customer_id, "status": "active",
            "cancel_at_period_end": false, "cancel_at": null, "canceled_at": null, "ended_at": null,
            "created": t, "start_date": t, "latest_invoice": null, "metadata": metadata, "livemode": false,
            "items": { "object": "list", "data": [ { "id": item_id, "object": "subscription_item", "price": price,
                "quantity": 1, "current_period_start": t, "current_period_end": t + MONTH } ] },
        });
        st.subscriptions.insert(sub_id, sub.clone());
        sub
    }

    /// A delayed payment arrives (or fails): the async event, undelivered.
    pub fn settle_delayed(&self, id: &str, succeeded: bool) -> Value {
        settle(&mut self.state.lock().unwrap(), id, succeeded)
    }

    /// A new invoice for the subscription. `cycle`: a renewal (the period moves on a month);
    /// otherwise a mid-period change (billing reason `subscription_update`). Unpaid invoices
    /// put the subscription past due, as Stripe's default settings do.
    pub fn invoice(&self, subscription_id: &str, cycle: bool, paid: bool) -> Value {
        let mut st = self.state.lock().unwrap();
        let invoice_id = st.id("in");
        let sub = st.subscriptions.get_mut(subscription_id).expect("subscription exists");
        if cycle {
            let item = &mut sub["items"]["data"][0];
            let end = item["current_period_end"].as_i64().unwrap();
            item["current_period_start"] = json!(end);
            item["current_period_end"] = json!(end + MONTH);
        }
        sub["status"] = json!(if paid { "active" } else { "past_due" });
        sub["latest_invoice"] = json!(invoice_id);
        let sub = sub.clone();
        let reason = if cycle { "subscription_cycle" } else { "subscription_update" };
        let invoice = invoice_for(&mut st, &invoice_id, &sub, reason, paid);
        st.invoices.insert(invoice_id, invoice.clone());
        if paid {
            let _undelivered = pay_invoice(&mut st, &invoice);
        }
        invoice
    }

    /// A failed invoice is paid on a retry: the subscription is active again.
    pub fn pay_invoice(&self, invoice_id: &str) -> Value {
        let mut st = self.state.lock().unwrap();
        let invoice = st.invoices.get_mut(invoice_id).expect("invoice exists");
        invoice["status"] = json!("paid");
        invoice["amount_paid"] = invoice["amount_due"].clone();
        let invoice = invoice.clone();
        let _undelivered = pay_invoice(&mut st, &invoice);
        if let Some(sub) = invoice["parent"]["subscription_details"]["subscription"].as_str() {
            if let Some(s) = st.subscriptions.get_mut(sub) {
                s["status"] = json!("active");
            }
        }
        invoice
    }

    /// An event about `object`, as Stripe shapes it (not delivered).
    pub fn event(&self, kind: &str, object: Value) -> Value {
        event(&mut self.state.lock().unwrap(), kind, object)
    }

    /// Signs and delivers an event to the Worker; answers the status and body.
    pub async fn deliver(&self, event: &Value) -> (u16, String) {
        let body = serde_json::to_vec(event).unwrap();
        let header = signature_header(&body, now() as u64, &[WEBHOOK_SECRET]);
        self.deliver_raw(body, Some(header)).await
    }

    /// Delivers exactly these bytes with this `Stripe-Signature` (or none).
    pub async fn deliver_raw(&self, body: Vec<u8>, signature: Option<String>) -> (u16, String) {
        let url = self.state.lock().unwrap().webhook_url.clone().expect("webhook url set");
        post_event(&self.http, &url, body, signature).await
    }

    pub fn requests(&self, pred: impl Fn(&Recorded) -> bool) -> Vec<Recorded> {
        self.server.recorder.matching(pred)
    }
}
