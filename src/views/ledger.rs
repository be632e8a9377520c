//! The credit ledger as pages show it (billing, the account page, the operator's user page).

use super::dates::date;
use crate::domain::ledger::LedgerEntry;
use crate::domain::ledger::Reason;
use crate::domain::Credits;

pub struct LedgerView {
    pub date: String,
    pub what: String,
    pub delta: String,
    pub balance_after: Credits,
}

/// Ledger rows as the billing page and the dashboard show them.
pub fn ledger_views(ledger: &[LedgerEntry]) -> Vec<LedgerView> {
    ledger
        .iter()
        .map(|l| LedgerView {
            date: date(l.created_at_ms / 1000),
            what: match &l.note {
                Some(note) if !note.is_empty() => format!("{} · {note}", reason_label(l.reason)),
                _ => reason_label(l.reason).to_string(),
            },
            delta: if l.delta > 0 { format!("+{}", l.delta) } else { l.delta.to_string() },
            balance_after: l.balance_after,
        })
        .collect()
}

pub fn reason_label(reason: Reason) -> &'static str {
    match reason {
        Reason::Purchase => "Credit pack",
        Reason::SubscriptionAllowance => "Plan allowance",
        Reason::AllowanceExpiry => "Allowance expired",
        Reason::AdminGrant => "Granted by GhostTools",
        Reason::AgentWrite => "AgentWrite",
        Reason::PodScribe => "PodScribe",
        Reason::ToolRefund => "Refund",
        Reason::Welcome => "Welcome credits",
        Reason::PaymentRefunded => "Payment refunded",
        Reason::DisputeLost => "Chargeback",
        Reason::Adjustment => "Adjustment",
    }
}
