//! What the operator console shows, as values: accounts with their balance and plan, their
//! runs and purchases, Stripe events, refunds and disputes, revenue, the tools' daily usage,
//! the audit log and the welcome grants; and who acts there (`Operator`). db/ reads them (db::admin, admin_user, audit, welcome); the
//! console's views render them.

use crate::domain::billing::Plan;
use crate::domain::tool::Tool;
use crate::domain::{Credits, UserId};

#[derive(Debug, Clone)]
pub struct UserRow {
    pub id: UserId,
    /// `None` for a deleted (anonymized) account.
    pub email: Option<String>,
    /// "2026-05-12".
    pub signed_up: String,
    pub balance: Credits,
    /// The plan a live subscription gives, as `plan_for` decides it (Free: none).
    pub plan: Plan,
    /// What the user paid, net of refunds: (currency, amount) pairs.
    pub paid: Vec<(String, i64)>,
    /// A dispute holds their paid features.
    pub on_hold: bool,
    /// An operator suspended the account (with this reason).
    pub suspended: bool,
    pub suspended_reason: String,
}

/// A tool run: a product description or a transcript.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunRow {
    /// "AgentWrite" or "PodScribe".
    pub tool: String,
    pub id: String,
    /// The product's name or the file's name.
    pub what: String,
    pub status: String,
    pub credits: Credits,
    /// "2026-05-12 14:03:09" (UTC).
    pub at: String,
}

/// A checkout (credit pack or plan) or a subscription invoice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PurchaseRow {
    /// `cs_…` or `in_…`.
    pub id: String,
    /// The item's name, or the invoice's billing reason.
    pub what: String,
    pub amount: i64,
    pub currency: String,
    pub status: String,
    /// "2026-05-12 14:03:09" (UTC).
    pub at: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRow {
    pub id: String,
    pub kind: String,
    pub outcome: String,
    pub detail: String,
    pub attempts: i32,
    /// "2026-05-12 14:03:09" (UTC).
    pub received: String,
}

/// A refunded or disputed charge, as the operator sees it.
#[derive(Debug, Clone)]
pub struct ReversalRow {
    pub charge_id: String,
    /// The account's email, or "(deleted account #id)".
    pub account: String,
    /// `cs_…` (a credit pack) or `in_…` (a subscription invoice); empty for a dispute whose
    /// charge was not refunded or lost.
    pub purchase: String,
    pub amount: i64,
    pub currency: String,
    pub refunded: i64,
    /// The newest dispute's status on this charge, if any.
    pub dispute: Option<String>,
    pub credits_taken: Credits,
    pub credits_unrecovered: Credits,
    /// "2026-05-12 14:03:09" (UTC).
    pub updated: String,
}

/// One tool's runs and the credits they charged, on one day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ToolUsage {
    pub tool: Tool,
    pub runs: i64,
    pub credits: Credits,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageRow {
    pub day: String,
    /// One per tool, in `Tool::ALL`'s order (zero when it was not used that day).
    pub tools: Vec<ToolUsage>,
    /// Credits given back for failed runs that day.
    pub refunded: Credits,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRow {
    /// Its key in the log (ids only grow: "older" is "smaller").
    pub id: i64,
    /// "2026-05-12 14:03:09" (UTC).
    pub at: String,
    pub operator: String,
    pub action: String,
    pub user_id: Option<UserId>,
    /// The account's email, "(deleted account #id)", or "" for none.
    pub account: String,
    pub detail: String,
}

/// Welcome grants made and refused, all time and in the last 30 days.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WelcomeCounts {
    pub granted: i64,
    pub granted_30_days: i64,
    pub credits: Credits,
    pub refused_claimed_before: i64,
    pub refused_client_limit: i64,
    pub refused_30_days: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevenueRow {
    pub currency: String,
    pub all_time: i64,
    pub last_30_days: i64,
}

/// Who did it: the operator's id and address at the time.
#[derive(Debug, Clone, Copy)]
pub struct Operator<'a> {
    pub id: UserId,
    pub email: &'a str,
}
