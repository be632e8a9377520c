//! What the billing page shows: the plan, the balance, a page each of payments and the ledger,
//! checkouts and invoices that need a word, whether there is a Stripe customer (the portal),
//! and a hold. Independent reads, sent together: one round trip.

use super::{plan_for, reversals};
use crate::db::{billing as rows, credits, payments, Db};
use crate::domain::billing::Checkout;
use crate::domain::entitlement::Entitlement;
use crate::domain::keyset::Keyset;
use crate::domain::payment::PaymentPages;
use crate::domain::{Credits, UserId};
use crate::error::AppError;
use futures_util::future::{try_join, try_join3, try_join4};

pub struct Overview {
    pub entitlement: Entitlement,
    pub balance: Credits,
    /// Each read one row past its size (the caller knows whether more follow).
    pub pages: PaymentPages,
    /// Awaiting or failed payments of the last 30 days.
    pub checkouts: Vec<Checkout>,
    /// Invoices still unpaid: (id, amount, currency).
    pub unsettled: Vec<(String, i64, String)>,
    pub has_customer: bool,
    /// Why paid features are held, when they are.
    pub hold: Option<&'static str>,
}

/// The billing page of `user_id` at `now_ms`, with the pages `payments` and `ledger` asks for
/// (each a keyset and a page size).
pub async fn read(
    db: &Db,
    user_id: UserId,
    now_ms: u64,
    payments: (&Keyset<(i64, String)>, i64),
    ledger: (&Keyset<i64>, i64),
) -> Result<Overview, AppError> {
    let ((entitlement, balance, pages, checkouts), (unsettled, customer, hold)) = try_join(
        try_join4(
            plan_for(db, user_id, now_ms),
            credits::balance(db, user_id),
            payments::pages(db, user_id, payments, ledger),
            rows::checkouts_to_mention(db, user_id),
        ),
        try_join3(
            rows::unsettled_invoices(db, user_id),
            rows::customer_of(db, user_id),
            reversals::hold_notice(db, user_id),
        ),
    )
    .await?;
    let has_customer = customer.is_some();
    Ok(Overview { entitlement, balance, pages, checkouts, unsettled, has_customer, hold })
}
