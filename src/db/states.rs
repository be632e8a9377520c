//! The words the database stores for the domain's states (each CHECK constraint's list), and
//! the one place they are converted: the states are `ToSql`/`FromSql` (text) and deserialize
//! from JSON rows (db::dashboard). Above db/ nobody compares these words.

use crate::domain::billing::{CheckoutMode, CheckoutStatus, InvoiceStatus, Plan, SubscriptionStatus};
use crate::domain::ledger::Reason;
use crate::domain::tool::{RunStatus, Tool};
use crate::error::AppError;
use std::error::Error;
// The type `to_sql` writes into, as postgres-types names it for its own macro.
use tokio_postgres::types::private::BytesMut;
use tokio_postgres::types::{to_sql_checked, FromSql, IsNull, ToSql, Type};
use tokio_postgres::Row;

/// A state stored as one of a fixed list of words.
pub trait Stored: Sized + Copy + 'static {
    const ALL: &'static [Self];
    fn stored(self) -> &'static str;
    fn from_stored(word: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|s| s.stored() == word)
    }
}

impl Stored for CheckoutMode {
    const ALL: &'static [Self] = &CheckoutMode::ALL;
    fn stored(self) -> &'static str {
        match self {
            CheckoutMode::Payment => "payment",
            CheckoutMode::Subscription => "subscription",
        }
    }
}

impl Stored for CheckoutStatus {
    const ALL: &'static [Self] = &CheckoutStatus::ALL;
    fn stored(self) -> &'static str {
        match self {
            CheckoutStatus::Open => "open",
            CheckoutStatus::AwaitingPayment => "awaiting_payment",
            CheckoutStatus::Paid => "paid",
            CheckoutStatus::PaymentFailed => "payment_failed",
        }
    }
}

impl Stored for InvoiceStatus {
    const ALL: &'static [Self] = &InvoiceStatus::ALL;
    fn stored(self) -> &'static str {
        match self {
            InvoiceStatus::Paid => "paid",
            InvoiceStatus::PaymentFailed => "payment_failed",
        }
    }
}

/// A subscription's plan: a price that is none of ours (`other`) grants nothing beyond Free.
impl Stored for Plan {
    const ALL: &'static [Self] = &Plan::ALL;
    fn stored(self) -> &'static str {
        match self {
            Plan::Free => "other",
            Plan::Starter => "starter",
            Plan::Pro => "pro",
        }
    }
}

/// Stripe's own words.
impl Stored for SubscriptionStatus {
    const ALL: &'static [Self] = &SubscriptionStatus::ALL;
    fn stored(self) -> &'static str {
        self.as_str()
    }
}

impl Stored for RunStatus {
    const ALL: &'static [Self] = &RunStatus::ALL;
    fn stored(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Transcribing => "transcribing",
            RunStatus::WritingNotes => "writing_notes",
            RunStatus::Done => "done",
            RunStatus::Failed => "failed",
        }
    }
}

impl Stored for Reason {
    const ALL: &'static [Self] = &Reason::ALL;
    fn stored(self) -> &'static str {
        match self {
            Reason::Purchase => "purchase",
            Reason::SubscriptionAllowance => "subscription_allowance",
            Reason::AllowanceExpiry => "allowance_expiry",
            Reason::AdminGrant => "admin_grant",
            Reason::AgentWrite => "agentwrite",
            Reason::PodScribe => "podscribe",
            Reason::ToolRefund => "tool_refund",
            Reason::Adjustment => "adjustment",
            Reason::Welcome => "welcome",
            Reason::PaymentRefunded => "payment_refunded",
            Reason::DisputeLost => "dispute_lost",
        }
    }
}

/// A tool's word: its history rows' `kind`, and its ledger reason (`Reason`).
impl Stored for Tool {
    const ALL: &'static [Self] = &Tool::ALL;
    fn stored(self) -> &'static str {
        match self {
            Tool::AgentWrite => "agentwrite",
            Tool::PodScribe => "podscribe",
        }
    }
}

/// Text in and out of Postgres, and out of JSON rows, for each stored state.
macro_rules! stored_as_text {
    ($($t:ty),*) => {$(
        impl ToSql for $t {
            fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, Box<dyn Error + Sync + Send>> {
                self.stored().to_sql(ty, out)
            }
            fn accepts(ty: &Type) -> bool {
                <&str as ToSql>::accepts(ty)
            }
            to_sql_checked!();
        }

        impl<'a> FromSql<'a> for $t {
            fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn Error + Sync + Send>> {
                let word = <&str as FromSql>::from_sql(ty, raw)?;
                <$t>::from_stored(word).ok_or_else(|| unknown(stringify!($t), word).into())
            }
            fn accepts(ty: &Type) -> bool {
                <&str as FromSql>::accepts(ty)
            }
        }

        impl<'de> serde::Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let word = String::deserialize(d)?;
                <$t>::from_stored(&word).ok_or_else(|| serde::de::Error::custom(unknown(stringify!($t), &word)))
            }
        }
    )*};
}

stored_as_text!(
    CheckoutMode,
    CheckoutStatus,
    InvoiceStatus,
    Plan,
    SubscriptionStatus,
    Reason,
    RunStatus,
    Tool
);

fn unknown(what: &str, word: &str) -> String {
    format!("unknown {what} {word:?} in the database")
}

/// Column `i` of `row` as a state: an unknown word is an internal error, not a panic.
pub fn column<'a, T: FromSql<'a>>(row: &'a Row, i: usize) -> Result<T, AppError> {
    row.try_get(i).map_err(|e| AppError::internal(format!("column {i}: {e}")))
}

/// The stored words of `states` (for `= ANY($n)` parameters).
pub fn words<T: Stored>(states: &[T]) -> Vec<String> {
    states.iter().map(|s| s.stored().to_string()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The quoted words of the `IN (…)` list that follows `CONSTRAINT <name>` in `sql`.
    fn check_list(sql: &str, constraint: &str) -> Vec<String> {
        let at = sql.find(&format!("CONSTRAINT {constraint}")).unwrap_or_else(|| panic!("{constraint}"));
        // Comments (which may hold parentheses) are dropped before the list's end is looked for.
        let rest: String = sql[at..].lines().map(|l| l.split("--").next().unwrap_or("")).collect();
        let open = rest.find("IN (").expect("an IN list") + 4;
        let close = open + rest[open..].find(')').expect("a closing parenthesis");
        let mut words: Vec<String> = rest[open..close]
            .split(',')
            .map(|w| w.trim().trim_matches('\'').to_string())
            .filter(|w| !w.is_empty())
            .collect();
        words.sort();
        words
    }

    fn stored<T: Stored>() -> Vec<String> {
        let mut w = words(T::ALL);
        w.sort();
        w
    }

    const BILLING: &str = include_str!("../../migrations/V4__billing.sql");
    const RUNS: &str = include_str!("../../migrations/V5__tool_runs.sql");
    /// The newest list of ledger reasons.
    const REASONS: &str = include_str!("../../migrations/V9__refunds_disputes.sql");

    #[test]
    fn checkout_modes_are_the_check_constraints_words() {
        assert_eq!(stored::<CheckoutMode>(), check_list(BILLING, "checkout_sessions_mode_known"));
    }

    #[test]
    fn checkout_statuses_are_the_check_constraints_words() {
        assert_eq!(stored::<CheckoutStatus>(), check_list(BILLING, "checkout_sessions_status_known"));
    }

    #[test]
    fn invoice_statuses_are_the_check_constraints_words() {
        assert_eq!(stored::<InvoiceStatus>(), check_list(BILLING, "invoices_status_known"));
    }

    #[test]
    fn subscription_plans_and_statuses_are_the_check_constraints_words() {
        assert_eq!(stored::<Plan>(), check_list(BILLING, "subscriptions_plan_known"));
        assert_eq!(stored::<SubscriptionStatus>(), check_list(BILLING, "subscriptions_status_known"));
    }

    #[test]
    fn run_statuses_are_the_words_of_both_tools_check_constraints() {
        let generations = check_list(RUNS, "generations_status_known");
        let transcripts = check_list(RUNS, "transcripts_status_known");
        let mut both: Vec<String> = generations.iter().chain(&transcripts).cloned().collect();
        both.sort();
        both.dedup();
        assert_eq!(stored::<RunStatus>(), both);
    }

    #[test]
    fn ledger_reasons_are_the_check_constraints_words() {
        assert_eq!(stored::<Reason>(), check_list(REASONS, "credit_ledger_reason_known"));
    }

    #[test]
    fn every_tool_is_a_ledger_reason() {
        let reasons = check_list(REASONS, "credit_ledger_reason_known");
        for tool in Tool::ALL {
            assert!(reasons.contains(&tool.stored().to_string()), "{tool:?}");
        }
    }

    #[test]
    fn words_read_back_as_their_states_and_unknown_ones_are_refused() {
        for s in RunStatus::ALL {
            assert_eq!(RunStatus::from_stored(s.stored()), Some(s));
        }
        assert_eq!(CheckoutStatus::from_stored("refunded"), None);
        let err = serde_json::from_str::<Tool>("\"wordsmith\"").unwrap_err();
        assert!(err.to_string().contains("unknown Tool"), "{err}");
    }
}
