//! What is for sale, as the pricing page shows it and checkout sells it: a credit pack or a
//! plan, with its price and credits (services::billing::catalog reads them from Stripe).

use crate::domain::billing::{CheckoutMode, Plan};
use crate::domain::money::{format_amount, format_interval};
use crate::domain::Credits;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OfferKind {
    /// A one-time price: Checkout in `payment` mode, credits once.
    CreditPack,
    /// A recurring price: Checkout in `subscription` mode, credits every period.
    Plan { plan: Plan, interval: String, interval_count: u32 },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offer {
    pub price_id: String,
    pub name: String,
    pub description: Option<String>,
    pub amount: i64,
    pub currency: String,
    /// Credits per purchase (pack) or per period (plan).
    pub credits: Credits,
    pub kind: OfferKind,
}

impl Offer {
    pub fn mode(&self) -> CheckoutMode {
        match self.kind {
            OfferKind::CreditPack => CheckoutMode::Payment,
            OfferKind::Plan { .. } => CheckoutMode::Subscription,
        }
    }

    pub fn plan(&self) -> Option<Plan> {
        match self.kind {
            OfferKind::Plan { plan, .. } => Some(plan),
            OfferKind::CreditPack => None,
        }
    }

    pub fn price_label(&self) -> String {
        format_amount(self.amount, &self.currency)
    }

    /// `per month` for plans; empty for packs.
    pub fn interval_label(&self) -> String {
        match &self.kind {
            OfferKind::Plan { interval, interval_count, .. } => format_interval(interval, *interval_count),
            OfferKind::CreditPack => String::new(),
        }
    }
}
