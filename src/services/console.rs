//! What the operator console reads: its page (accounts a page at a time, revenue, live
//! subscriptions, refunds and disputes, credits not recovered, the tools' usage, Stripe events,
//! the audit log, welcome grants) and one account's page. What an operator does is `operator`.

use crate::db::admin::{self, Users};
use crate::db::{admin_user, audit, credits, welcome, Db};
use crate::domain::console::{
    AuditRow, EventRow, PurchaseRow, RevenueRow, ReversalRow, RunRow, UsageRow, UserRow, WelcomeCounts,
};
use crate::domain::keyset::Keyset;
use crate::domain::ledger::LedgerEntry;
use crate::domain::{Credits, UserId};
use crate::error::AppError;
use futures_util::future::{try_join, try_join3, try_join4};

/// Accounts per page of the console's list.
pub const PAGE_SIZE: i64 = 50;
/// Operator actions per page of the console's audit log (one more is read: is there another?).
pub const AUDIT_PER_PAGE: i64 = 50;

/// The console's page.
pub struct Overview {
    pub users: Vec<UserRow>,
    /// Another page of accounts follows.
    pub has_next: bool,
    pub revenue: Vec<RevenueRow>,
    /// (day, currency, amount) over the last 30 days.
    pub revenue_per_day: Vec<(String, String, i64)>,
    /// (plan, how many).
    pub subscriptions: Vec<(String, i64)>,
    pub reversals: Vec<ReversalRow>,
    pub unrecovered: Credits,
    pub usage: Vec<UsageRow>,
    pub events: Vec<EventRow>,
    /// A page of the audit log as read: `AUDIT_PER_PAGE + 1` rows at most, in the keyset's order.
    pub audit: Vec<AuditRow>,
    pub welcome: WelcomeCounts,
}

/// Page `page` (from 1) of the accounts whose address contains `search`, and the rest of the
/// console (refunds and disputes matching `search` too).
pub async fn overview(
    db: &Db,
    search: &str,
    page: i64,
    audit_page: &Keyset<i64>,
) -> Result<Overview, AppError> {
    let matching = Users::Matching { query: search, limit: PAGE_SIZE, offset: (page - 1) * PAGE_SIZE };
    // Independent reads, sent together: one round trip, however many there are.
    let (
        (mut users, revenue, revenue_per_day, subscriptions),
        (reversals, unrecovered, usage, events),
        (audit, welcome),
    ) = try_join3(
        try_join4(
            admin::users(db, matching),
            admin::revenue(db),
            admin::revenue_per_day(db, 30),
            admin::active_subscriptions(db),
        ),
        try_join4(
            admin::reversals(db, search, 50),
            admin::unrecovered_credits(db),
            admin::usage_per_day(db, 14),
            admin::recent_events(db, None, 25),
        ),
        try_join(audit::page(db, None, audit_page, AUDIT_PER_PAGE + 1), welcome::counts(db)),
    )
    .await?;
    let has_next = users.len() as i64 > PAGE_SIZE;
    users.truncate(PAGE_SIZE as usize);
    Ok(Overview {
        users,
        has_next,
        revenue,
        revenue_per_day,
        subscriptions,
        reversals,
        unrecovered,
        usage,
        events,
        audit,
        welcome,
    })
}

/// One account's page.
pub struct Account {
    pub user: UserRow,
    pub runs: Vec<RunRow>,
    pub ledger: Vec<LedgerEntry>,
    pub purchases: Vec<PurchaseRow>,
    pub events: Vec<EventRow>,
    pub audit: Vec<AuditRow>,
}

/// Account `id` with its newest runs, ledger entries, purchases, Stripe events and operator
/// actions (50 of each); `NotFound` when there is no such account.
pub async fn account(db: &Db, id: UserId) -> Result<Account, AppError> {
    // Sent together (one round trip); the account's absence is known from the first.
    let ((users, runs, ledger), (purchases, events, audit)) = try_join(
        try_join3(
            admin::users(db, Users::One(id)),
            admin_user::runs(db, id, 50),
            credits::recent(db, id, 50),
        ),
        try_join3(
            admin_user::purchases(db, id, 50),
            admin::recent_events(db, Some(id), 50),
            audit::recent(db, Some(id), 50),
        ),
    )
    .await?;
    let user = users.into_iter().next().ok_or(AppError::NotFound)?;
    Ok(Account { user, runs, ledger, purchases, events, audit })
}
