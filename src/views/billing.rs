//! Billing pages: pricing, the checkout success page, and the billing overview. Pure: built from
//! plain rows and offers so they render natively in tests.

use super::dates::date_utc;
use super::ledger::LedgerView;
use super::payments::History;
use super::Layout;
use crate::domain::billing::Fulfilment;
use crate::domain::billing::{Checkout, CheckoutMode, CheckoutStatus, Plan, SubscriptionStatus};
use crate::domain::entitlement::Entitlement;
use crate::domain::money::format_amount;
use crate::domain::offer::{Offer, OfferKind};
use crate::domain::Credits;
use askama::Template;

/// When the plan renews or ends: "Renews on 12 May 2026 (UTC)", "Ends on …" (cancelled at the
/// period's end), "Ended on …"; empty without a subscription.
pub fn plan_period(e: &Entitlement) -> String {
    let sub = e.subscription.as_ref();
    match (sub, e.status()) {
        (Some(s), Some(SubscriptionStatus::Canceled)) => {
            s.ended_at.or(s.canceled_at).map(|t| format!("Ended on {}", date_utc(t))).unwrap_or_default()
        }
        (Some(s), _) if s.cancel_at_period_end || s.cancel_at.is_some() => {
            s.cancel_at.or(s.period_end).map(|t| format!("Ends on {}", date_utc(t))).unwrap_or_default()
        }
        (Some(s), Some(st)) if st.grants_access() => {
            s.period_end.map(|t| format!("Renews on {}", date_utc(t))).unwrap_or_default()
        }
        _ => String::new(),
    }
}

pub struct OfferView {
    pub price_id: String,
    pub name: String,
    pub description: String,
    pub price: String,
    /// `per month` for plans; empty for credit packs.
    pub interval: String,
    pub credits: Credits,
    pub current: bool,
}

#[derive(Template)]
#[template(path = "billing/pricing.html")]
pub struct PricingPage {
    pub layout: Layout,
    pub packs: Vec<OfferView>,
    pub plans: Vec<OfferView>,
    pub signed_in: bool,
    pub has_plan: bool,
    pub cancelled: bool,
}

impl PricingPage {
    /// `current`: the signed-in user's plan (`None` for visitors).
    pub fn new(layout: Layout, offers: &[Offer], current: Option<Plan>, cancelled: bool) -> PricingPage {
        let view = |o: &Offer| OfferView {
            price_id: o.price_id.clone(),
            name: o.name.clone(),
            description: o.description.clone().unwrap_or_default(),
            price: o.price_label(),
            interval: o.interval_label(),
            credits: o.credits,
            current: o.plan().is_some() && o.plan() == current,
        };
        let packs = offers.iter().filter(|o| o.kind == OfferKind::CreditPack).map(view).collect();
        let plans = offers.iter().filter(|o| o.kind != OfferKind::CreditPack).map(view).collect();
        PricingPage {
            signed_in: layout.user_email.is_some(),
            layout,
            packs,
            plans,
            has_plan: current.is_some_and(|p| p != Plan::Free),
            cancelled,
        }
    }
}

#[derive(Template)]
#[template(path = "billing/success.html")]
pub struct SuccessPage {
    pub layout: Layout,
    pub heading: String,
    pub message: String,
    pub balance: Credits,
    /// Whether something went wrong (the message is a warning).
    pub problem: bool,
}

impl SuccessPage {
    pub fn new(
        layout: Layout,
        row: &Checkout,
        outcome: Fulfilment,
        status: CheckoutStatus,
        balance: Credits,
    ) -> SuccessPage {
        let what = if row.mode == CheckoutMode::Subscription {
            format!(
                "Your {} subscription is active: {} credits a period are yours.",
                row.item_name, row.credits
            )
        } else {
            format!("{} credits from {} were added to your balance.", row.credits, row.item_name)
        };
        let (heading, message, problem) = match (outcome, status) {
            (_, CheckoutStatus::PaymentFailed) => (
                "Your payment did not go through".to_string(),
                format!("The payment for {} failed, so no credits were added. Please try again with another payment method.", row.item_name),
                true,
            ),
            (Fulfilment::Granted { .. } | Fulfilment::AlreadyFulfilled, _) => ("Thank you!".to_string(), what, false),
            (Fulfilment::AwaitingPayment, _) => (
                "Payment processing".to_string(),
                format!("Your payment for {} is on its way. We add the credits as soon as it arrives, usually within a few business days.", row.item_name),
                false,
            ),
            (Fulfilment::NotCompleted, _) => (
                "Checkout not finished".to_string(),
                "This checkout has not been paid yet. You can go back to the pricing page and try again.".to_string(),
                true,
            ),
        };
        SuccessPage { layout, heading, message, balance, problem }
    }

    /// Stripe could not be asked about the session (down or failing): the payment is being
    /// confirmed, unless the webhook already settled it (then that is what the page says).
    pub fn confirming(layout: Layout, row: &Checkout, balance: Credits) -> SuccessPage {
        if row.status.is_settled() {
            return SuccessPage::new(layout, row, Fulfilment::AlreadyFulfilled, row.status, balance);
        }
        SuccessPage {
            layout,
            heading: "Confirming your payment".to_string(),
            message: format!(
                "We are confirming your payment for {} with Stripe. The credits are added as soon as it is confirmed, usually within a few minutes; there is no need to pay again.",
                row.item_name
            ),
            balance,
            problem: false,
        }
    }
}

#[derive(Template)]
#[template(path = "billing/overview.html")]
pub struct BillingPage {
    pub layout: Layout,
    pub plan: String,
    pub status: String,
    /// "Renews on …", "Ends on …", "Ended on …" (empty when there is no subscription).
    pub period: String,
    pub past_due: bool,
    pub notices: Vec<String>,
    pub balance: Credits,
    /// This page of the ledger (the shared partial reads `ledger`).
    pub ledger: Vec<LedgerView>,
    /// This page of the payments, and the links to the other pages of both lists.
    pub history: History,
    pub has_customer: bool,
}

impl BillingPage {
    pub fn new(
        layout: Layout,
        e: &Entitlement,
        balance: Credits,
        mut history: History,
        checkouts: &[Checkout],
        unsettled: &[(String, i64, String)],
        has_customer: bool,
    ) -> BillingPage {
        let sub = e.subscription.as_ref();
        let status = e.status();
        let period = plan_period(e);
        let plan_name = match (e.plan, sub) {
            (Plan::Free, Some(s)) if s.plan != Plan::Free => {
                format!("Free (your {} plan is not active)", s.plan.name())
            }
            (plan, _) => plan.name().to_string(),
        };
        let mut notices: Vec<String> = checkouts
            .iter()
            .map(|c| match c.status {
                CheckoutStatus::PaymentFailed => format!(
                    "Your payment of {} for {} failed, so no credits were added. Please try again with another payment method.",
                    format_amount(c.amount, &c.currency),
                    c.item_name
                ),
                _ => format!(
                    "Your payment of {} for {} is processing. We add the credits when it arrives.",
                    format_amount(c.amount, &c.currency),
                    c.item_name
                ),
            })
            .collect();
        for (_, amount, currency) in unsettled {
            notices.push(format!(
                "A subscription payment of {} failed. Please update your payment method in “Manage subscription”.",
                format_amount(*amount, currency)
            ));
        }
        BillingPage {
            layout,
            plan: plan_name,
            status: status.map(|s| s.label().to_string()).unwrap_or_default(),
            period,
            past_due: e.is_past_due() || !unsettled.is_empty(),
            notices,
            balance,
            ledger: std::mem::take(&mut history.ledger),
            history,
            has_customer,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pack(status: CheckoutStatus) -> Checkout {
        Checkout {
            id: "cs_test_1".into(),
            user_id: crate::domain::UserId::new(1),
            mode: CheckoutMode::Payment,
            price_id: "price_1".into(),
            item_name: "50 credit pack".into(),
            credits: Credits::new(50),
            amount: 500,
            currency: "usd".into(),
            status,
            updated_at: 0,
        }
    }

    #[test]
    fn without_stripe_the_success_page_says_what_the_database_knows() {
        let page = SuccessPage::confirming(Layout::new("t", "n"), &pack(CheckoutStatus::Open), Credits::ZERO);
        assert_eq!(page.heading, "Confirming your payment");
        assert!(page.message.contains("50 credit pack") && page.message.contains("no need to pay again"));
        assert!(!page.problem);
        let page =
            SuccessPage::confirming(Layout::new("t", "n"), &pack(CheckoutStatus::Paid), Credits::new(50));
        assert_eq!(page.heading, "Thank you!");
        let page = SuccessPage::confirming(
            Layout::new("t", "n"),
            &pack(CheckoutStatus::PaymentFailed),
            Credits::ZERO,
        );
        assert!(page.problem && page.heading.contains("did not go through"));
    }
}
