//! Stripe's objects for money that moves after a purchase: the charge a refund names, a dispute
//! of it, and the invoice payment that links a payment intent to its invoice. Read leniently,
//! like `stripe_objects`.

use super::stripe_objects::id_or_object;
use serde::Deserialize;

/// A payment (charge) as its events (succeeded, refunded) and a dispute show it.
#[derive(Debug, Clone, Deserialize)]
pub struct Charge {
    pub id: String,
    /// Unix seconds.
    #[serde(default)]
    pub created: i64,
    #[serde(default)]
    pub amount: i64,
    /// Cumulative over all refunds of this charge.
    #[serde(default)]
    pub amount_refunded: i64,
    #[serde(default)]
    pub currency: String,
    #[serde(default, deserialize_with = "id_or_object")]
    pub customer: Option<String>,
    #[serde(default, deserialize_with = "id_or_object")]
    pub payment_intent: Option<String>,
    /// Before API 2025-03-31 only; since then the invoice is found through its payments.
    #[serde(default, deserialize_with = "id_or_object")]
    pub invoice: Option<String>,
    /// The receipt's page at Stripe (kept up to date with refunds).
    #[serde(default)]
    pub receipt_url: Option<String>,
    /// `succeeded`, `pending` or `failed`.
    #[serde(default)]
    pub status: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Dispute {
    pub id: String,
    #[serde(default, deserialize_with = "id_or_object")]
    pub charge: Option<String>,
    /// The disputed charge's payment intent: a pack's checkout is found by it.
    #[serde(default, deserialize_with = "id_or_object")]
    pub payment_intent: Option<String>,
    #[serde(default)]
    pub amount: i64,
    #[serde(default)]
    pub currency: String,
    /// `warning_needs_response`, `needs_response`, `under_review`, …, `won`, `lost`,
    /// `warning_closed`.
    #[serde(default)]
    pub status: String,
}

impl Dispute {
    /// Whether Stripe will not change its outcome any more.
    pub fn is_closed(&self) -> bool {
        matches!(self.status.as_str(), "won" | "lost" | "warning_closed" | "prevented")
    }
}

/// An invoice's payment (`GET /v1/invoice_payments`): how a payment intent finds its invoice.
#[derive(Debug, Clone, Deserialize)]
pub struct InvoicePayment {
    #[serde(default, deserialize_with = "id_or_object")]
    pub invoice: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_charge_keeps_its_payment_intent_id_and_a_dispute_knows_when_it_is_closed() {
        let charge: Charge = serde_json::from_value(json!({
            "id": "ch_1", "amount": 500, "amount_refunded": 200, "currency": "usd",
            "payment_intent": { "id": "pi_1", "object": "payment_intent" }
        }))
        .unwrap();
        assert_eq!((charge.payment_intent.as_deref(), charge.invoice), (Some("pi_1"), None));
        let dispute = |status: &str| -> Dispute {
            serde_json::from_value(json!({ "id": "du_1", "charge": "ch_1", "status": status })).unwrap()
        };
        assert!(
            dispute("won").is_closed()
                && dispute("lost").is_closed()
                && dispute("warning_closed").is_closed()
        );
        assert!(!dispute("needs_response").is_closed() && !dispute("under_review").is_closed());
    }
}
