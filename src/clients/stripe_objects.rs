//! The parts of Stripe's objects we read, deserialized leniently (unknown fields ignored, most
//! fields optional) so a newer API version adds fields without breaking us. Shapes follow API
//! version 2025-03-31.basil, with the older places of moved fields read as a fallback.

use serde::{Deserialize, Deserializer};
use serde_json::Value;
use std::collections::HashMap;

/// A field that is an id, or the object itself when expanded: we keep the id.
pub(crate) fn id_or_object<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        Some(Value::String(id)) => Some(id),
        Some(Value::Object(map)) => map.get("id").and_then(Value::as_str).map(str::to_string),
        _ => None,
    })
}

/// Stripe metadata values are strings; anything else is dropped.
fn metadata<'de, D: Deserializer<'de>>(d: D) -> Result<HashMap<String, String>, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        Some(Value::Object(map)) => {
            map.into_iter().filter_map(|(k, v)| v.as_str().map(|s| (k, s.to_string()))).collect()
        }
        _ => HashMap::new(),
    })
}

#[derive(Debug, Clone, Deserialize)]
pub struct List<T> {
    #[serde(default = "Vec::new")]
    pub data: Vec<T>,
}

impl<T> Default for List<T> {
    fn default() -> Self {
        List { data: Vec::new() }
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct Product {
    pub id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default = "yes")]
    pub active: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Deserialize)]
pub struct Recurring {
    pub interval: String,
    #[serde(default = "one")]
    pub interval_count: u32,
}

fn one() -> u32 {
    1
}

#[derive(Debug, Clone, Deserialize)]
pub struct Price {
    pub id: String,
    #[serde(default = "yes")]
    pub active: bool,
    #[serde(default)]
    pub currency: String,
    #[serde(default)]
    pub unit_amount: Option<i64>,
    /// `one_time` or `recurring`.
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub recurring: Option<Recurring>,
    #[serde(default)]
    pub nickname: Option<String>,
    /// The product, when expanded (`expand[]=product`); otherwise only its id.
    #[serde(default)]
    pub product: Option<Value>,
    #[serde(default, deserialize_with = "metadata")]
    pub metadata: HashMap<String, String>,
}

impl Price {
    pub fn product_object(&self) -> Option<Product> {
        match &self.product {
            Some(v @ Value::Object(_)) => serde_json::from_value(v.clone()).ok(),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct Customer {
    pub id: String,
    #[serde(default, deserialize_with = "metadata")]
    pub metadata: HashMap<String, String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct CheckoutSession {
    pub id: String,
    #[serde(default)]
    pub url: Option<String>,
    /// `open`, `complete` or `expired`.
    #[serde(default)]
    pub status: Option<String>,
    /// `paid`, `unpaid` or `no_payment_required`.
    #[serde(default)]
    pub payment_status: String,
    /// `payment`, `subscription` or `setup`.
    #[serde(default)]
    pub mode: String,
    #[serde(default, deserialize_with = "id_or_object")]
    pub customer: Option<String>,
    #[serde(default, deserialize_with = "id_or_object")]
    pub subscription: Option<String>,
    #[serde(default, deserialize_with = "id_or_object")]
    pub invoice: Option<String>,
    #[serde(default, deserialize_with = "metadata")]
    pub metadata: HashMap<String, String>,
    #[serde(default)]
    pub client_reference_id: Option<String>,
    /// A `payment`-mode session's payment: what a refund or dispute of it names.
    #[serde(default, deserialize_with = "id_or_object")]
    pub payment_intent: Option<String>,
    /// What the customer paid, after discounts (smallest currency unit).
    #[serde(default)]
    pub amount_total: Option<i64>,
}

impl CheckoutSession {
    /// Money has arrived (or none was due): fulfil now.
    pub fn is_paid(&self) -> bool {
        self.status.as_deref() == Some("complete")
            && matches!(self.payment_status.as_str(), "paid" | "no_payment_required")
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct SubscriptionItem {
    #[serde(default)]
    pub id: String,
    pub price: Price,
    /// Since API 2025-03-31 the billing period lives on the items.
    #[serde(default)]
    pub current_period_start: Option<i64>,
    #[serde(default)]
    pub current_period_end: Option<i64>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Subscription {
    pub id: String,
    #[serde(default, deserialize_with = "id_or_object")]
    pub customer: Option<String>,
    pub status: String,
    #[serde(default)]
    pub cancel_at_period_end: bool,
    #[serde(default)]
    pub cancel_at: Option<i64>,
    #[serde(default)]
    pub canceled_at: Option<i64>,
    #[serde(default)]
    pub ended_at: Option<i64>,
    #[serde(default)]
    pub created: i64,
    #[serde(default)]
    pub items: List<SubscriptionItem>,
    #[serde(default, deserialize_with = "metadata")]
    pub metadata: HashMap<String, String>,
    /// Before API 2025-03-31 the period was on the subscription itself.
    #[serde(default)]
    pub current_period_start: Option<i64>,
    #[serde(default)]
    pub current_period_end: Option<i64>,
}

impl Subscription {
    /// The price of the (first) item: our plans are one-item subscriptions.
    pub fn price(&self) -> Option<&Price> {
        self.items.data.first().map(|i| &i.price)
    }

    /// (start, end) of the current period, from the items (newest API) or the subscription.
    pub fn period(&self) -> (Option<i64>, Option<i64>) {
        let start = self.items.data.iter().filter_map(|i| i.current_period_start).min();
        let end = self.items.data.iter().filter_map(|i| i.current_period_end).max();
        (start.or(self.current_period_start), end.or(self.current_period_end))
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct SubscriptionDetails {
    #[serde(default, deserialize_with = "id_or_object")]
    pub subscription: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct InvoiceParent {
    #[serde(default)]
    pub subscription_details: Option<SubscriptionDetails>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Invoice {
    pub id: String,
    #[serde(default, deserialize_with = "id_or_object")]
    pub customer: Option<String>,
    /// Where the subscription is since API 2025-03-31.
    #[serde(default)]
    pub parent: Option<InvoiceParent>,
    /// Where it was before.
    #[serde(default, deserialize_with = "id_or_object")]
    pub subscription: Option<String>,
    #[serde(default)]
    pub billing_reason: Option<String>,
    #[serde(default)]
    pub amount_due: i64,
    #[serde(default)]
    pub amount_paid: i64,
    #[serde(default)]
    pub currency: String,
    #[serde(default)]
    pub period_start: Option<i64>,
    #[serde(default)]
    pub period_end: Option<i64>,
    #[serde(default)]
    pub lines: List<InvoiceLine>,
    /// Stripe's invoice number ("A1B2C3-0001"), once finalized.
    #[serde(default)]
    pub number: Option<String>,
    /// The invoice's page at Stripe (to view, download, or pay it), once finalized.
    #[serde(default)]
    pub hosted_invoice_url: Option<String>,
    /// Unix seconds.
    #[serde(default)]
    pub created: Option<i64>,
    #[serde(default, deserialize_with = "metadata")]
    pub metadata: HashMap<String, String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Period {
    #[serde(default)]
    pub start: Option<i64>,
    #[serde(default)]
    pub end: Option<i64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct PriceDetails {
    #[serde(default, deserialize_with = "id_or_object")]
    pub price: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct LinePricing {
    #[serde(default)]
    pub price_details: Option<PriceDetails>,
}

/// One line of an invoice: what was charged (or credited, when negative) for which price.
#[derive(Debug, Clone, Deserialize)]
pub struct InvoiceLine {
    #[serde(default)]
    pub amount: i64,
    /// Where the price is since API 2025-03-31.
    #[serde(default)]
    pub pricing: Option<LinePricing>,
    /// Where it was before (the price object).
    #[serde(default, deserialize_with = "id_or_object")]
    pub price: Option<String>,
    #[serde(default)]
    pub period: Option<Period>,
}

impl InvoiceLine {
    pub fn price_id(&self) -> Option<&str> {
        self.pricing
            .as_ref()
            .and_then(|p| p.price_details.as_ref())
            .and_then(|d| d.price.as_deref())
            .or(self.price.as_deref())
    }

    pub fn period_end(&self) -> Option<i64> {
        self.period.as_ref().and_then(|p| p.end)
    }
}

impl Invoice {
    pub fn subscription_id(&self) -> Option<&str> {
        self.parent
            .as_ref()
            .and_then(|p| p.subscription_details.as_ref())
            .and_then(|d| d.subscription.as_deref())
            .or(self.subscription.as_deref())
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct PortalSession {
    pub id: String,
    pub url: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct EventData {
    pub object: Value,
}

/// A webhook event. `data.object` stays JSON until the handler for its type parses it.
#[derive(Debug, Clone, Deserialize)]
pub struct Event {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub created: i64,
    #[serde(default)]
    pub livemode: bool,
    pub data: EventData,
}

impl Event {
    pub fn object_id(&self) -> Option<&str> {
        self.data.object.get("id").and_then(Value::as_str)
    }

    pub fn object<T: serde::de::DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_value(self.data.object.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_period_comes_from_the_items_and_falls_back_to_the_subscription() {
        let basil: Subscription = serde_json::from_value(json!({
            "id": "sub_1", "status": "active", "customer": "cus_1", "created": 1,
            "items": { "object": "list", "data": [ {
                "id": "si_1", "price": { "id": "price_1", "type": "recurring" },
                "current_period_start": 100, "current_period_end": 200 } ] }
        }))
        .unwrap();
        assert_eq!(basil.period(), (Some(100), Some(200)));
        assert_eq!(basil.price().unwrap().id, "price_1");
        let legacy: Subscription = serde_json::from_value(json!({
            "id": "sub_1", "status": "active", "customer": { "id": "cus_1", "object": "customer" },
            "current_period_start": 10, "current_period_end": 20,
            "items": { "data": [ { "price": { "id": "price_1" } } ] }
        }))
        .unwrap();
        assert_eq!(legacy.period(), (Some(10), Some(20)));
        assert_eq!(legacy.customer.as_deref(), Some("cus_1"));
    }

    #[test]
    fn an_invoice_names_its_subscription_in_either_api_shape() {
        let basil: Invoice = serde_json::from_value(json!({
            "id": "in_1", "parent": { "type": "subscription_details",
                "subscription_details": { "subscription": "sub_new" } }
        }))
        .unwrap();
        assert_eq!(basil.subscription_id(), Some("sub_new"));
        let legacy: Invoice =
            serde_json::from_value(json!({ "id": "in_2", "subscription": "sub_old" })).unwrap();
        assert_eq!(legacy.subscription_id(), Some("sub_old"));
    }

    #[test]
    fn an_invoice_line_names_its_price_and_period_in_either_api_shape() {
        let invoice: Invoice = serde_json::from_value(json!({
            "id": "in_1", "lines": { "data": [
                { "amount": -450, "pricing": { "type": "price_details",
                    "price_details": { "price": "price_old" } }, "period": { "start": 1, "end": 9 } },
                { "amount": 1450, "price": { "id": "price_new", "object": "price" } } ] }
        }))
        .unwrap();
        let lines = &invoice.lines.data;
        assert_eq!((lines[0].price_id(), lines[0].period_end()), (Some("price_old"), Some(9)));
        assert_eq!((lines[1].price_id(), lines[1].period_end()), (Some("price_new"), None));
    }

    #[test]
    fn a_session_is_paid_only_when_complete_and_paid() {
        let s = |status: &str, pay: &str| -> CheckoutSession {
            serde_json::from_value(json!({ "id": "cs_1", "status": status, "payment_status": pay,
                "metadata": { "user_id": "7", "n": 1 } }))
            .unwrap()
        };
        assert!(s("complete", "paid").is_paid());
        assert!(s("complete", "no_payment_required").is_paid());
        assert!(!s("complete", "unpaid").is_paid());
        assert!(!s("open", "paid").is_paid());
        assert_eq!(s("complete", "paid").metadata.get("user_id").map(String::as_str), Some("7"));
        assert!(!s("complete", "paid").metadata.contains_key("n"), "non-string metadata is dropped");
    }
}
