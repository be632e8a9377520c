//! Pages of a signed-in user: the dashboard and the account page (and the goodbye page after
//! deleting an account).

use super::ledger::LedgerView;
use super::tools::when;
use super::usage::{AllowanceView, SpendingView};
use super::Layout;
use crate::domain::tool::RunSummary;
use crate::domain::Credits;
use askama::Template;

/// One piece of recent work on the dashboard (a generated description, a transcript), from
/// the runs of every tool; `templates/partials/recent_work.html` shows them.
#[derive(Debug, Clone)]
pub struct RecentWork {
    /// "AgentWrite" or "PodScribe".
    pub tool: String,
    pub title: String,
    /// "12 May 2026".
    pub date: String,
    /// Where the result can be opened.
    pub href: String,
    /// "Done", "In progress", "Failed" …
    pub status: String,
}

impl RecentWork {
    pub fn of(run: RunSummary) -> RecentWork {
        RecentWork {
            tool: run.tool.name().into(),
            href: run.path(),
            date: when(run.created_at_ms),
            status: run.status_label().into(),
            title: run.title,
        }
    }
}

#[derive(Template)]
#[template(path = "account/dashboard.html")]
pub struct Dashboard {
    pub layout: Layout,
    /// PodScribe is offered only when enabled by configuration.
    pub podscribe: bool,
    pub balance: Credits,
    /// "Free", "Starter", "Pro".
    pub plan: String,
    /// Whether the user pays for a plan (next steps differ).
    pub on_paid_plan: bool,
    /// The subscription payment is late: the dashboard says so.
    pub past_due: bool,
    pub recent_work: Vec<RecentWork>,
    /// The newest credit changes include the welcome credits (a new account: "start here").
    pub welcomed: bool,
    /// The newest credit changes.
    pub ledger: Vec<LedgerView>,
    /// Why paid features are held (suspended, or a disputed payment), if they are.
    pub hold: Option<&'static str>,
    /// This period's allowance of a paid plan.
    pub allowance: Option<AllowanceView>,
    /// "Renews on …" / "Ends on …" / "Ended on …" (shown without an allowance too).
    pub period: String,
    /// Credits spent per day by tool, 30 days.
    pub spending: SpendingView,
}

#[derive(Template)]
#[template(path = "account/account.html")]
pub struct Account {
    pub layout: Layout,
    pub email: String,
    /// The address of the linked Google account, when there is one.
    pub google_email: Option<String>,
    /// A change of address waiting for its link: the new address and when the link expires.
    pub pending_email: Option<(String, String)>,
    /// What was typed into "change your address", and why it was refused.
    pub email_typed: String,
    pub email_error: Option<String>,
    /// Why the deletion was refused (the typed confirmation did not match).
    pub delete_error: Option<String>,
    /// Why Google was not unlinked (no other way to sign in).
    pub google_error: Option<String>,
    /// The live sessions, most recently seen first.
    pub sessions: Vec<SessionView>,
}

/// One live session on the account page.
#[derive(Debug, Clone)]
pub struct SessionView {
    /// What the "end this session" form posts (`/account/sessions/:id/end`).
    pub id: i64,
    /// "Firefox on Linux".
    pub browser: String,
    /// "Berlin, DE", or "unknown".
    pub place: String,
    pub signed_in: String,
    pub last_seen: String,
    /// The session of the browser looking at the page.
    pub current: bool,
}

/// The confirm page of an address-change link (`GET /account/email/confirm`).
#[derive(Template)]
#[template(path = "account/email_confirm.html")]
pub struct EmailConfirm {
    pub layout: Layout,
    pub token: String,
    pub old_email: String,
    pub new_email: String,
}

#[derive(Template)]
#[template(path = "account/deleted.html")]
pub struct Deleted {
    pub layout: Layout,
}
