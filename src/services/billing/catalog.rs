//! What is for sale, read live from Stripe: the Starter and Pro prices and any credit-pack
//! prices named in configuration. Each price's credits come from its own metadata
//! (`metadata[credits]`): the amount paid and the credits it buys live on one Stripe object, so
//! they change together (a new price for new terms). Cached in the isolate for a minute.

use crate::clients::stripe::Stripe;
use crate::clients::stripe_objects::Price;
use crate::config::{Config, StripeConfig};
use crate::domain::billing::Plan;
use crate::domain::offer::{Offer, OfferKind};
use crate::domain::Credits;
use crate::error::AppError;
use futures_util::future::join_all;
use std::cell::RefCell;
use std::rc::Rc;

const FRESH_MS: u64 = 60_000;
/// When Stripe cannot be reached, prices read within this long are still shown.
const STALE_OK_MS: u64 = 3_600_000;
/// More than this per purchase or period is surely a typo in the price's metadata.
const MAX_CREDITS: i64 = 1_000_000;

/// What configuration says a price is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Plan(Plan),
    CreditPack,
}

/// The configured prices in display order: packs, then Starter, then Pro.
pub fn configured(stripe: &StripeConfig) -> Vec<(String, Role)> {
    let mut out: Vec<(String, Role)> =
        stripe.credit_pack_price_ids.iter().map(|id| (id.clone(), Role::CreditPack)).collect();
    out.push((stripe.starter_price_id.clone(), Role::Plan(Plan::Starter)));
    out.push((stripe.pro_price_id.clone(), Role::Plan(Plan::Pro)));
    out
}

/// `starter`, `pro` or `other` for a subscription's price (stored with the subscription).
pub fn plan_of_price(config: &Config, price_id: &str) -> Plan {
    match config.stripe.as_ref() {
        Ok(s) if s.starter_price_id == price_id => Plan::Starter,
        Ok(s) if s.pro_price_id == price_id => Plan::Pro,
        _ => Plan::Free,
    }
}

/// The credits a price grants, from `metadata[credits]` (a positive whole number).
pub fn credits_of(price: &Price) -> Option<Credits> {
    price
        .metadata
        .get("credits")
        .and_then(|v| v.trim().parse::<i64>().ok())
        .filter(|n| (1..=MAX_CREDITS).contains(n))
        .map(Credits::new)
}

/// Turns a Stripe price into an offer, or says why it cannot be sold as configured.
pub fn offer_from_price(price: &Price, role: Role) -> Result<Offer, String> {
    if !price.active {
        return Err(format!("{} is archived in Stripe", price.id));
    }
    let amount = price.unit_amount.ok_or_else(|| format!("{} has no fixed unit_amount", price.id))?;
    let credits = credits_of(price)
        .ok_or_else(|| format!("{} needs metadata[credits] set to a whole number of credits", price.id))?;
    let product = price.product_object();
    let name = product
        .as_ref()
        .map(|p| p.name.clone())
        .filter(|n| !n.is_empty())
        .or_else(|| price.nickname.clone())
        .unwrap_or_else(|| price.id.clone());
    let kind = match (role, price.kind.as_str(), &price.recurring) {
        (Role::CreditPack, "one_time", _) => OfferKind::CreditPack,
        (Role::Plan(plan), "recurring", Some(r)) => {
            OfferKind::Plan { plan, interval: r.interval.clone(), interval_count: r.interval_count }
        }
        (Role::CreditPack, kind, _) => {
            return Err(format!("{} is a credit pack but its type is {kind}", price.id))
        }
        (Role::Plan(_), kind, _) => return Err(format!("{} is a plan but its type is {kind}", price.id)),
    };
    Ok(Offer {
        price_id: price.id.clone(),
        name,
        description: product.and_then(|p| p.description),
        amount,
        currency: price.currency.to_ascii_lowercase(),
        credits,
        kind,
    })
}

struct Cached {
    fetched_at_ms: u64,
    offers: Rc<Vec<Offer>>,
}

thread_local! {
    static CACHE: RefCell<Option<Cached>> = const { RefCell::new(None) };
}

/// The offers on sale, from Stripe (cached for a minute in this isolate). A configured price
/// that cannot be sold is left out and logged; Stripe being down shows the last known prices.
pub async fn offers(config: &Config, now_ms: u64, log: &dyn Fn(&str)) -> Result<Rc<Vec<Offer>>, AppError> {
    let stripe_config = config.stripe.as_ref().map_err(|p| AppError::from(p.clone()))?;
    let cached = CACHE.with(|c| c.borrow().as_ref().map(|c| (c.fetched_at_ms, c.offers.clone())));
    if let Some((at, offers)) = &cached {
        if now_ms.saturating_sub(*at) < FRESH_MS {
            return Ok(offers.clone());
        }
    }
    let stripe = Stripe::from_config(config)?;
    let wanted = configured(stripe_config);
    // The prices are read side by side: a cold page waits for one round trip, not one per price.
    let answers = join_all(wanted.iter().map(|(id, _)| stripe.retrieve_price(id))).await;
    let mut offers = Vec::new();
    let mut failure = None;
    for ((id, role), answer) in wanted.into_iter().zip(answers) {
        match answer {
            Ok(price) => match offer_from_price(&price, role) {
                Ok(offer) => offers.push(offer),
                Err(why) => log(&format!("price not offered: {why}")),
            },
            Err(e) if e.is_not_found() => log(&format!("price not offered: {id} does not exist in Stripe")),
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }
    match (failure, cached) {
        (None, _) => {
            let offers = Rc::new(offers);
            CACHE.with(|c| *c.borrow_mut() = Some(Cached { fetched_at_ms: now_ms, offers: offers.clone() }));
            Ok(offers)
        }
        (Some(e), Some((at, stale))) if now_ms.saturating_sub(at) < STALE_OK_MS => {
            log(&format!("prices not refreshed, showing those from {} s ago: {e}", (now_ms - at) / 1000));
            Ok(stale)
        }
        (Some(e), _) => Err(e.into()),
    }
}

/// The offer for a submitted price id, if it is on sale (nothing else can be bought).
pub async fn find(
    config: &Config,
    now_ms: u64,
    price_id: &str,
    log: &dyn Fn(&str),
) -> Result<Offer, AppError> {
    offers(config, now_ms, log)
        .await?
        .iter()
        .find(|o| o.price_id == price_id)
        .cloned()
        .ok_or_else(|| AppError::bad_request("price", "That product is not on sale."))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::billing::CheckoutMode;
    use serde_json::json;

    fn price(v: serde_json::Value) -> Price {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn a_recurring_price_is_a_plan_with_its_interval_and_allowance() {
        let p = price(json!({
            "id": "price_pro", "type": "recurring", "unit_amount": 2900, "currency": "usd",
            "recurring": { "interval": "month", "interval_count": 1 }, "metadata": { "credits": "500" },
            "product": { "id": "prod_1", "name": "GhostTools Pro", "description": "For teams" }
        }));
        let offer = offer_from_price(&p, Role::Plan(Plan::Pro)).unwrap();
        assert_eq!(offer.mode(), CheckoutMode::Subscription);
        assert_eq!(offer.credits, 500);
        assert_eq!(offer.name, "GhostTools Pro");
        assert_eq!(offer.price_label(), "$29.00");
        assert_eq!(offer.interval_label(), "per month");
        assert_eq!(offer.plan(), Some(Plan::Pro));
    }

    #[test]
    fn a_one_time_price_is_a_credit_pack() {
        let p = price(json!({
            "id": "price_pack", "type": "one_time", "unit_amount": 500, "currency": "EUR",
            "metadata": { "credits": "50" }, "product": "prod_2", "nickname": "50 credits"
        }));
        let offer = offer_from_price(&p, Role::CreditPack).unwrap();
        assert_eq!(
            (offer.mode(), offer.credits.get(), offer.name.as_str()),
            (CheckoutMode::Payment, 50, "50 credits")
        );
        assert_eq!(offer.price_label(), "€5.00");
        assert_eq!(offer.interval_label(), "");
    }

    #[test]
    fn prices_that_cannot_be_sold_as_configured_say_why() {
        let base = json!({ "id": "price_x", "type": "one_time", "unit_amount": 500, "currency": "usd",
            "metadata": { "credits": "50" } });
        let with = |k: &str, v: serde_json::Value| {
            let mut p = base.clone();
            p[k] = v;
            price(p)
        };
        assert!(offer_from_price(&with("metadata", json!({})), Role::CreditPack)
            .unwrap_err()
            .contains("metadata[credits]"));
        assert!(offer_from_price(&with("metadata", json!({"credits": "-5"})), Role::CreditPack).is_err());
        assert!(offer_from_price(&with("metadata", json!({"credits": "lots"})), Role::CreditPack).is_err());
        assert!(offer_from_price(&with("active", json!(false)), Role::CreditPack)
            .unwrap_err()
            .contains("archived"));
        assert!(offer_from_price(&with("unit_amount", json!(null)), Role::CreditPack).is_err());
        assert!(offer_from_price(&price(base.clone()), Role::Plan(Plan::Starter))
            .unwrap_err()
            .contains("plan"));
        let recurring = with("type", json!("recurring"));
        assert!(offer_from_price(&recurring, Role::CreditPack).unwrap_err().contains("credit pack"));
    }
}
