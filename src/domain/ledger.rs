//! Why a balance moved: the reasons of the credit ledger (stored words in db::states).

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
