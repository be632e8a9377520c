//! The operator console page.

use super::chart::{bar_chart, BarChart};
use super::ledger::LedgerView;
use super::Layout;
use crate::domain::calendar::Day;
use crate::domain::console::{
    AuditRow, EventRow, PurchaseRow, ReversalRow, RunRow, UsageRow, UserRow, WelcomeCounts,
};
use crate::domain::keyset::{page_of, Keyset};
use crate::domain::money::format_amount;
use crate::domain::tool::Tool;
use crate::domain::Credits;
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
    pub unrecovered: Credits,
    pub usage: Vec<UsageRow>,
    pub events: Vec<EventRow>,
    /// Welcome credits given and refused.
    pub welcome: WelcomeCounts,
    /// What a new account gets now (`WELCOME_CREDITS`).
    pub welcome_credits: u32,
    pub grant: GrantForm,
    pub max_grant: i64,
    /// The users list's page (1-based) and whether another follows.
    pub page: i64,
    pub has_next: bool,
    /// A page of operator actions, newest first, and the links to the older and newer pages.
    pub audit: Vec<AuditRow>,
    pub audit_older: Option<String>,
    pub audit_newer: Option<String>,
    /// Revenue per day over 30 days, one chart per currency.
    pub revenue_days: Vec<RevenueDays>,
}

/// One currency's revenue per day (UTC), oldest first: the chart and its table.
#[derive(Debug, Clone)]
pub struct RevenueDays {
    pub currency: String,
    pub chart: BarChart,
    /// ("2026-05-12", "$3.00").
    pub days: Vec<(String, String)>,
}

/// Revenue per day for the `days` days ending `today` ("YYYY-MM-DD" strings from the database),
/// with the days that had none as zero.
pub fn revenue_days(rows: &[(String, String, i64)], today: Day, days: i64) -> Vec<RevenueDays> {
    let mut currencies: Vec<&str> = rows.iter().map(|r| r.1.as_str()).collect();
    currencies.sort_unstable();
    currencies.dedup();
    let dates: Vec<String> = (0..days).rev().map(|back| today.before(back).iso()).collect();
    currencies
        .into_iter()
        .map(|currency| {
            let points: Vec<(String, i64, String)> = dates
                .iter()
                .map(|day| {
                    let amount: i64 =
                        rows.iter().filter(|r| r.0 == *day && r.1 == currency).map(|r| r.2).sum();
                    (day[5..].to_string(), amount, format_amount(amount, currency))
                })
                .collect();
            let title = format!("Revenue per day in {}, last {days} days", currency.to_uppercase());
            RevenueDays {
                currency: currency.to_uppercase(),
                chart: bar_chart(&title, &points),
                days: dates.iter().zip(&points).map(|(day, p)| (day.clone(), p.2.clone())).collect(),
            }
        })
        .collect()
}

/// A form that acts on one account (deduct, suspend) as typed, re-shown with its error.
#[derive(Debug, Clone, Default)]
pub struct ActionForm {
    pub amount: String,
    pub reason: String,
    /// Random per rendered form (hidden field): makes the action idempotent.
    pub reference: String,
    pub error_field: String,
    pub error: Option<String>,
}

/// One account in the console: its figures, runs, ledger, purchases, events and the operator
/// actions on it; deducting credits, suspending and restoring.
#[derive(Template)]
#[template(path = "admin/user.html")]
pub struct UserPage {
    pub layout: Layout,
    pub user: UserRow,
    pub runs: Vec<RunRow>,
    pub ledger: Vec<LedgerView>,
    pub purchases: Vec<PurchaseRow>,
    pub events: Vec<EventRow>,
    pub audit: Vec<AuditRow>,
    pub deduct: ActionForm,
    pub suspend: ActionForm,
}

impl Console {
    /// The usage table's columns: every tool.
    pub fn tools() -> [Tool; Tool::ALL.len()] {
        Tool::ALL
    }

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
}

/// A page of the audit log as read → its rows newest first and the links to the older and
/// newer pages (the search kept).
pub fn audit_pages(
    rows: Vec<AuditRow>,
    size: usize,
    keyset: &Keyset<i64>,
    search: &str,
) -> (Vec<AuditRow>, Option<String>, Option<String>) {
    let (rows, older, newer) = page_of(rows, size, keyset);
    let link =
        |param: &str, id: i64| format!("/admin?q={}&{param}={id}#audit-heading", Console::encode(search));
    let older = older.then(|| rows.last().map(|a| link("audit_before", a.id))).flatten();
    let newer = newer.then(|| match rows.first() {
        Some(a) => link("audit_after", a.id),
        None => format!("/admin?q={}#audit-heading", Console::encode(search)),
    });
    (rows, older, newer)
}
