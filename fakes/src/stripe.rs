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
use crate::stripe_payments::{change_plan, close_dispute, complete, dispute, pay_invoice, refund, settle};
use crate::stripe_server::handle;
use crate::stripe_state::{event, Shared};
use crate::stripe_wire::{post_event, signature_header};
use axum::Router;
use serde_json::{json, Value};
use std::sync::Arc;

// What the tests name from here, kept in the state's file (the lower files need it too).
pub use crate::stripe_state::{now, Fault, MONTH, PREVIOUS_WEBHOOK_SECRET, SECRET_KEY, WEBHOOK_SECRET};

/// The default catalog's prices (`StripeFake::start`).
pub const STARTER: &str = "price_e2e_starter";
pub const PRO: &str = "price_e2e_pro";
pub const PACK: &str = "price_e2e_pack";

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
        let fake = StripeFake { server, state, http: crate::recorder::client() };
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

    pub fn charge_object(&self, id: &str) -> Value {
        self.state.lock().unwrap().charges.get(id).cloned().unwrap_or(Value::Null)
    }

    pub fn invoice_object(&self, id: &str) -> Value {
        self.state.lock().unwrap().invoices.get(id).cloned().unwrap_or(Value::Null)
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

    /// `charge.succeeded` for the charge (as Stripe sent it when the charge was made).
    pub fn charge_succeeded(&self, charge_id: &str) -> Value {
        let mut st = self.state.lock().unwrap();
        let charge = st.charges.get(charge_id).cloned().expect("charge exists");
        event(&mut st, "charge.succeeded", charge)
    }

    /// The charge that paid a pack's Checkout Session.
    pub fn charge_of_session(&self, session_id: &str) -> String {
        let st = self.state.lock().unwrap();
        let pi = st.sessions[session_id]["payment_intent"].clone();
        st.charges.values().find(|c| c["payment_intent"] == pi).expect("session was paid")["id"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// The charge that paid an invoice.
    pub fn charge_of_invoice(&self, invoice_id: &str) -> String {
        let st = self.state.lock().unwrap();
        let pi = st.invoice_payments.iter().find(|(_, i)| *i == invoice_id).expect("invoice was paid").0;
        st.charges.values().find(|c| c["payment_intent"] == *pi).unwrap()["id"].as_str().unwrap().to_string()
    }

    /// Moves the charge's `created` back by `secs` (a charge made long ago).
    pub fn backdate_charge(&self, charge_id: &str, secs: i64) {
        let mut st = self.state.lock().unwrap();
        let charge = st.charges.get_mut(charge_id).expect("charge exists");
        charge["created"] = json!(charge["created"].as_i64().unwrap() - secs);
    }

    /// Refunds `amount` more of the charge; answers `charge.refunded` (cumulative
    /// `amount_refunded`), undelivered.
    pub fn refund(&self, charge_id: &str, amount: i64) -> Value {
        refund(&mut self.state.lock().unwrap(), charge_id, amount)
    }

    /// The customer's bank disputes the whole charge: `charge.dispute.created`, undelivered.
    pub fn dispute(&self, charge_id: &str) -> Value {
        dispute(&mut self.state.lock().unwrap(), charge_id)
    }

    /// The dispute is decided (`won` or `lost`): `charge.dispute.closed`, undelivered.
    pub fn close_dispute(&self, dispute_id: &str, status: &str) -> Value {
        close_dispute(&mut self.state.lock().unwrap(), dispute_id, status)
    }

    /// A promotion code takes `discount` off an open session's total (as Checkout shows it).
    pub fn discount_session(&self, id: &str, discount: i64) {
        let mut st = self.state.lock().unwrap();
        let session = st.sessions.get_mut(id).expect("session exists");
        let total = session["amount_total"].as_i64().unwrap();
        session["amount_total"] = json!(total - discount);
        session["total_details"] =
            json!({ "amount_discount": discount, "amount_shipping": 0, "amount_tax": 0 });
    }

    /// The customer switches plans in the portal mid-period: the subscription moves to
    /// `price` and a paid proration invoice (`subscription_update`) credits the unused time on
    /// the old price and charges the rest of the period on the new one (half a period each).
    pub fn change_plan(&self, subscription_id: &str, price: &str) -> Value {
        change_plan(&mut self.state.lock().unwrap(), subscription_id, price)
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

    /// Delivers exactly these bytes with this `Stripe-Signature` (or none). Local `wrangler dev`
    /// sometimes answers a POST with its own 503 "Your worker restarted mid-request" although
    /// nothing restarted (its proxy lost a keep-alive race with workerd's idle timeout:
    /// cloudflare/workers-sdk#14641); that answer is delivered again, at most twice more, as
    /// Stripe delivers any 5xx again. Our Worker's own 503s are answered as they are.
    pub async fn deliver_raw(&self, body: Vec<u8>, signature: Option<String>) -> (u16, String) {
        for _ in 0..2 {
            let (status, text) = self.deliver_once(body.clone(), signature.clone()).await;
            if !is_dev_proxy_restart(status, &text) {
                return (status, text);
            }
            eprintln!(
                "stripe fake: wrangler dev's proxy answered 503 'restarted mid-request'; delivered again"
            );
        }
        self.deliver_once(body, signature).await
    }

    /// `deliver_raw` without delivering the dev proxy's 503 again.
    pub async fn deliver_once(&self, body: Vec<u8>, signature: Option<String>) -> (u16, String) {
        let url = self.state.lock().unwrap().webhook_url.clone().expect("webhook url set");
        post_event(&self.http, &url, body, signature).await
    }

    pub fn requests(&self, pred: impl Fn(&Recorded) -> bool) -> Vec<Recorded> {
        self.server.recorder.matching(pred)
    }
}

/// The 503 local `wrangler dev`'s proxy answers itself (see `StripeFake::deliver_raw`).
pub fn is_dev_proxy_restart(status: u16, body: &str) -> bool {
    status == 503 && body.contains("Your worker restarted mid-request")
}
