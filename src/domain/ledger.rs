//! The credit ledger as its readers see it: why a balance moved (the reasons, stored words in
//! db::states) and an entry with the balance it left.

use crate::domain::Credits;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    Purchase,
    SubscriptionAllowance,
    AllowanceExpiry,
    AdminGrant,
    AgentWrite,
    PodScribe,
    ToolRefund,
    Adjustment,
    /// A new account's welcome credits (reference `user:<id>`).
    Welcome,
    /// Taken back: the purchase was refunded.
    PaymentRefunded,
    /// Taken back: a chargeback was lost.
    DisputeLost,
}

impl Reason {
    pub const ALL: [Reason; 11] = [
        Reason::Purchase,
        Reason::SubscriptionAllowance,
        Reason::AllowanceExpiry,
        Reason::AdminGrant,
        Reason::AgentWrite,
        Reason::PodScribe,
        Reason::ToolRefund,
        Reason::Adjustment,
        Reason::Welcome,
        Reason::PaymentRefunded,
        Reason::DisputeLost,
    ];
}

/// One change of a balance, with the balance right after it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct LedgerEntry {
    pub id: i64,
    pub delta: Credits,
    pub reason: Reason,
    pub reference: String,
    pub note: Option<String>,
    pub created_at_ms: i64,
    /// The balance right after this entry (derived: the running sum of the user's deltas).
    pub balance_after: Credits,
}
