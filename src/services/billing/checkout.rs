//! Selling: a Stripe customer per user (created once, reused), a Checkout Session for an offer,
//! and the billing portal for everything after.
//!
//! Idempotency keys: creating the customer uses a key derived from the user (id + a hash of the
//! email sent), so two first purchases racing each other, or a retry of one that failed before
//! the customer was stored, get the same customer back from Stripe. A Checkout Session or a portal session gets a random key per user action, reused by
//! that action's retries: a second click is a new, harmless open session (only the one paid for
//! counts), whereas a derived key would replay an already completed session for 24 hours.

use crate::clients::stripe::{random_idempotency_key, Stripe};
use crate::clients::stripe_form::StripeForm;
use crate::config::SiteUrl;
use crate::db::billing::{self as rows, NewCheckout};
use crate::db::Db;
use crate::domain::billing::SubscriptionRecord;
use crate::domain::billing::{CheckoutMode, Referral};
use crate::domain::offer::Offer;
use crate::domain::User;
use crate::domain::UserId;
use crate::error::AppError;
use sha2::{Digest, Sha256};

/// Where to send the user next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Started {
    /// Stripe Checkout for the offer.
    Checkout { url: String, session_id: String },
    /// They already have a subscription: change it in the portal instead of buying a second.
    Portal { url: String },
}

/// What a checkout needs to know of the buyer before it starts: whether the account is on
/// hold (and why), its subscriptions (a plan is not bought twice), its Stripe customer.
pub struct Standing {
    pub hold: Option<&'static str>,
    pub subscriptions: Vec<SubscriptionRecord>,
    pub customer: Option<String>,
}

impl Standing {
    /// Read with independent statements sent together (one round trip).
    pub async fn read(db: &Db, user_id: UserId) -> Result<Standing, AppError> {
        let (hold, subscriptions, customer) = futures_util::future::try_join3(
            super::reversals::hold_notice(db, user_id),
            rows::subscriptions_of(db, user_id),
            rows::customer_of(db, user_id),
        )
        .await?;
        Ok(Standing { hold, subscriptions, customer })
    }
}

/// The user's Stripe customer id: `known` when stored already, otherwise created at Stripe
/// (with our user id in metadata). The caller stores a new one (`Customer::New`) with the
/// checkout it starts, so it needs no round trip of its own before the Checkout Session is made:
/// the derived idempotency key gives a retry the same customer back. (Stripe keeps keys for 24
/// hours: a first attempt that failed between the two calls and is retried later leaves an
/// unused customer at Stripe, with no payment.)
async fn customer(stripe: &Stripe, user: &User, known: Option<String>) -> Result<Customer, AppError> {
    if let Some(id) = known {
        return Ok(Customer::Stored(id));
    }
    let form =
        StripeForm::new().field(&["email"], user.email.as_str()).field(&["metadata", "user_id"], user.id);
    let created = stripe.create_customer(&form, &customer_key(user.id, user.email.as_str())).await?;
    Ok(Customer::New(created.id))
}

enum Customer {
    Stored(String),
    New(String),
}

impl Customer {
    fn id(&self) -> &str {
        match self {
            Customer::Stored(id) | Customer::New(id) => id,
        }
    }
}

/// Same user and email → same key (Stripe refuses one key with different parameters, so the
/// email is part of it).
pub fn customer_key(user_id: UserId, email: &str) -> String {
    let digest = Sha256::digest(email.as_bytes());
    format!("gt-customer-{user_id}-{}", &hex::encode(digest)[..16])
}

/// The Checkout Session's parameters. Our user id rides in metadata on the session and on the
/// subscription or payment intent; `client_reference_id` is Rewardful's referral, only when
/// there is one.
pub fn checkout_form(
    offer: &Offer,
    customer_id: &str,
    user_id: UserId,
    referral: Option<&Referral>,
    site: &SiteUrl,
) -> StripeForm {
    // Stripe's words for the mode, and where the metadata rides along.
    let (mode, metadata_on) = match offer.mode() {
        CheckoutMode::Subscription => ("subscription", "subscription_data"),
        CheckoutMode::Payment => ("payment", "payment_intent_data"),
    };
    let form = StripeForm::new()
        .field(&["mode"], mode)
        .field(&["customer"], customer_id)
        .field(&["line_items", "0", "price"], &offer.price_id)
        .field(&["line_items", "0", "quantity"], 1)
        .field(&["success_url"], site.join("/billing/success?session_id={CHECKOUT_SESSION_ID}"))
        .field(&["cancel_url"], site.join("/pricing?checkout=cancelled"))
        .field(&["allow_promotion_codes"], true)
        .field(&["metadata", "user_id"], user_id)
        .field(&[metadata_on, "metadata", "user_id"], user_id)
        .optional(&["client_reference_id"], referral.map(Referral::as_str));
    // A pack gets an invoice too (a subscription's come by themselves; Stripe refuses
    // `invoice_creation` outside payment mode), so the billing page can link both alike.
    match offer.mode() {
        CheckoutMode::Payment => form
            .field(&["invoice_creation", "enabled"], true)
            .field(&["invoice_creation", "invoice_data", "metadata", "user_id"], user_id),
        CheckoutMode::Subscription => form,
    }
}

/// The buyer: the account and its `Standing` (read before, with the session check).
pub struct Buyer<'a> {
    pub user: &'a User,
    pub standing: Standing,
}

/// Starts buying `offer`: Checkout, or the portal when a plan is chosen by someone who already
/// has a live subscription; refused while the account is on hold. The session is recorded (with
/// the credits it is worth) before the user is sent to Stripe.
pub async fn start(
    db: &Db,
    stripe: &Stripe,
    site: &SiteUrl,
    buyer: Buyer<'_>,
    offer: &Offer,
    referral: Option<&Referral>,
) -> Result<Started, AppError> {
    let Buyer { user, standing } = buyer;
    if let Some(why) = standing.hold {
        return Err(AppError::Forbidden(why.into()));
    }
    if offer.plan().is_some() && super::live_subscription(&standing.subscriptions).is_some() {
        return Ok(Started::Portal { url: portal(stripe, site, &standing).await? });
    }
    let customer = customer(stripe, user, standing.customer).await?;
    let form = checkout_form(offer, customer.id(), user.id, referral, site);
    let session = stripe.create_checkout_session(&form, &random_idempotency_key("gt-checkout")).await?;
    let url = session.url.clone().ok_or_else(|| AppError::Upstream {
        service: "stripe",
        detail: format!("checkout session {} has no url", session.id),
    })?;
    let record = NewCheckout {
        id: &session.id,
        user_id: user.id,
        mode: offer.mode(),
        price_id: &offer.price_id,
        item_name: &offer.name,
        credits: offer.credits,
        amount: offer.amount,
        currency: &offer.currency,
    };
    match &customer {
        Customer::Stored(_) => rows::insert_checkout(db, &record).await?,
        // A new customer is stored with the checkout: sent together, one round trip.
        Customer::New(id) => {
            let (stored, ()) = futures_util::future::try_join(
                rows::save_customer(db, user.id, id),
                rows::insert_checkout(db, &record),
            )
            .await?;
            if stored != *id {
                // Another first checkout stored a different customer meanwhile (the email
                // changed between them): this session's customer is not the account's.
                return Err(AppError::internal(format!(
                    "user {}: customer {stored} stored, {id} used",
                    user.id
                )));
            }
        }
    }
    Ok(Started::Checkout { url, session_id: session.id })
}

/// A billing portal session for the buyer's customer, returning to /billing; refused while the
/// account is on hold, as Checkout is (the portal switches plans).
pub async fn portal(stripe: &Stripe, site: &SiteUrl, standing: &Standing) -> Result<String, AppError> {
    if let Some(why) = standing.hold {
        return Err(AppError::Forbidden(why.into()));
    }
    let customer = standing.customer.as_deref().ok_or_else(|| AppError::BadRequest {
        field: None,
        message: "You have no billing account yet: choose a plan or a credit pack first.".into(),
    })?;
    let form = StripeForm::new().field(&["customer"], customer).field(&["return_url"], site.join("/billing"));
    let session = stripe.create_portal_session(&form, &random_idempotency_key("gt-portal")).await?;
    Ok(session.url)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::billing::Plan;
    use crate::domain::offer::OfferKind;

    fn site() -> SiteUrl {
        let c = crate::config::Config::from_lookup(|k| match k {
            "NEXTAUTH_URL" => Some("https://ghosttools.test".into()),
            _ => None,
        });
        c.site.unwrap()
    }

    fn offer(kind: OfferKind) -> Offer {
        Offer {
            price_id: "price_1".into(),
            name: "Pack".into(),
            description: None,
            amount: 500,
            currency: "usd".into(),
            credits: crate::domain::Credits::new(50),
            kind,
        }
    }

    #[test]
    fn a_credit_pack_is_a_payment_with_metadata_on_the_payment_intent_and_an_invoice() {
        let form = checkout_form(&offer(OfferKind::CreditPack), "cus_1", UserId::new(42), None, &site());
        assert_eq!(
            form.encode(),
            "mode=payment&customer=cus_1&line_items[0][price]=price_1&line_items[0][quantity]=1\
             &success_url=https%3A%2F%2Fghosttools.test%2Fbilling%2Fsuccess%3Fsession_id%3D%7BCHECKOUT_SESSION_ID%7D\
             &cancel_url=https%3A%2F%2Fghosttools.test%2Fpricing%3Fcheckout%3Dcancelled\
             &allow_promotion_codes=true&metadata[user_id]=42&payment_intent_data[metadata][user_id]=42\
             &invoice_creation[enabled]=true&invoice_creation[invoice_data][metadata][user_id]=42"
        );
    }

    #[test]
    fn a_plan_is_a_subscription_with_metadata_on_the_subscription_and_the_referral() {
        let plan = OfferKind::Plan { plan: Plan::Pro, interval: "month".into(), interval_count: 1 };
        let referral = Referral::parse(Some("ref-123")).unwrap().unwrap();
        let form = checkout_form(&offer(plan), "cus_1", UserId::new(42), Some(&referral), &site());
        let pairs = form.pairs();
        assert!(pairs.contains(&("mode".into(), "subscription".into())));
        assert!(pairs.contains(&("subscription_data[metadata][user_id]".into(), "42".into())));
        assert!(!pairs.iter().any(|(k, _)| k.starts_with("payment_intent_data")));
        assert!(!pairs.iter().any(|(k, _)| k.starts_with("invoice_creation")), "payment mode only");
        assert_eq!(pairs.last().unwrap(), &("client_reference_id".into(), "ref-123".into()));
    }

    #[test]
    fn customer_keys_are_stable_per_user_and_email() {
        assert_eq!(customer_key(UserId::new(7), "a@x.test"), customer_key(UserId::new(7), "a@x.test"));
        assert_ne!(customer_key(UserId::new(7), "a@x.test"), customer_key(UserId::new(7), "b@x.test"));
        assert_ne!(customer_key(UserId::new(7), "a@x.test"), customer_key(UserId::new(8), "a@x.test"));
        assert!(!customer_key(UserId::new(7), "a@x.test").contains("a@x.test"));
    }
}
