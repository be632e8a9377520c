//! The operator console page.

use super::Layout;
use crate::db::admin::{EventRow, ReversalRow, UsageRow, UserRow};
use crate::db::welcome::Counts as WelcomeCounts;
use crate::domain::money::format_amount;
use askama::Template;

/// The grant form as typed (re-shown with its error when refused).
#[derive(Debug, Clone, Default)]
pub struct GrantForm {
    pub email: String,
    pub amount: String,
    pub reason: String,
    /// Random per rendered form (hidden field): the grant's ledger reference.
    pub reference: String,
    pub error_field: String,
    pub error: Option<String>,
}

#[derive(Template)]
#[template(path = "admin/console.html")]
pub struct Console {
    pub layout: Layout,
    pub search: String,
    pub users: Vec<UserRow>,
    /// (all time, last 30 days), one row per currency, formatted.
    pub revenue: Vec<(String, String)>,
    /// (plan, count) of live subscriptions.
    pub subscriptions: Vec<(String, i64)>,
    /// Refunded and disputed charges (of the searched accounts), newest first.
    pub reversals: Vec<ReversalRow>,
    /// Credits owed back that could not be taken (all accounts).
    pub unrecovered: i64,
    pub usage: Vec<UsageRow>,
    pub events: Vec<EventRow>,
    /// Welcome credits given and refused.
    pub welcome: WelcomeCounts,
    /// What a new account gets now (`WELCOME_CREDITS`).
    pub welcome_credits: u32,
    pub grant: GrantForm,
    pub max_grant: i64,
}

impl Console {
    /// A value for a query string.
    pub fn encode(value: &str) -> String {
        url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
    }

    /// "$3.00", one amount per currency; "—" when nothing was paid.
    pub fn paid_label(paid: &[(String, i64)]) -> String {
        if paid.is_empty() {
            return "—".into();
        }
        paid.iter().map(|(currency, amount)| format_amount(*amount, currency)).collect::<Vec<_>>().join(", ")
    }

    pub fn money(amount: &i64, currency: &str) -> String {
        format_amount(*amount, currency)
    }

    pub fn plan_label(plan: &Option<String>) -> &'static str {
        match plan.as_deref() {
            Some("starter") => "Starter",
            Some("pro") => "Pro",
            _ => "Free",
        }
    }
}
