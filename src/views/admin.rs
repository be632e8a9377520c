//! The operator console page.

use super::Layout;
use crate::db::admin::{EventRow, UsageRow, UserRow};
use crate::db::welcome::Counts as WelcomeCounts;
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

    pub fn plan_label(plan: &Option<String>) -> &'static str {
        match plan.as_deref() {
            Some("starter") => "Starter",
            Some("pro") => "Pro",
            _ => "Free",
        }
    }
}
