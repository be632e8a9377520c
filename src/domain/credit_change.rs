//! A change of credits an operator asks for (a grant or a deduction): how many, why, and the
//! form's reference that makes sending it twice act once.

use crate::domain::Credits;
use crate::domain::UserId;
use crate::error::AppError;

/// The most credits one change may move (a typo guard, not a policy).
pub const MAX_CHANGE: i64 = 100_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreditChange {
    /// 1–`MAX_CHANGE`.
    pub amount: Credits,
    /// The ledger's note.
    pub reason: String,
    /// Random, from the rendered form: 16–64 letters, digits, `-` or `_`.
    pub reference: String,
}

impl CreditChange {
    /// The change as typed, or a 400 naming the field.
    pub fn parse(amount: &str, reason: &str, reference: Option<&str>) -> Result<CreditChange, AppError> {
        let amount = match amount.parse::<i64>() {
            Ok(n) if (1..=MAX_CHANGE).contains(&n) => n,
            _ => {
                return Err(AppError::bad_request(
                    "amount",
                    format!("Enter a whole number of credits from 1 to {MAX_CHANGE}."),
                ))
            }
        };
        let reason = parse_reason(reason)?;
        let reference = reference.unwrap_or("").trim();
        let ok = (16..=64).contains(&reference.len())
            && reference.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !ok {
            return Err(AppError::bad_request(
                "reference",
                "This form is incomplete. Reload the page and try again.",
            ));
        }
        Ok(CreditChange { amount: Credits::new(amount), reason, reference: reference.to_string() })
    }

    /// The ledger's reference for this change made by operator `operator_id` (the form's
    /// reference is only unique per operator).
    pub fn ledger_reference(&self, operator_id: UserId) -> String {
        format!("admin:{operator_id}:{}", self.reference)
    }
}

/// Why an operator acts: 1–200 characters, no control characters (it is written down).
pub fn parse_reason(reason: &str) -> Result<String, AppError> {
    let chars = reason.chars().count();
    if chars == 0 || chars > 200 || reason.chars().any(char::is_control) {
        return Err(AppError::bad_request(
            "reason",
            "Say why, in at most 200 characters (it goes in the ledger).",
        ));
    }
    Ok(reason.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_needs_a_sane_amount_a_reason_and_a_reference() {
        let r = Some("0123456789abcdef0123");
        let change = CreditChange::parse("50", "Refund for outage", r).unwrap();
        assert_eq!(
            (change.amount.get(), change.ledger_reference(UserId::new(7)).as_str()),
            (50, "admin:7:0123456789abcdef0123")
        );
        let field = |amount: &str, reason: &str, r: Option<&str>| {
            CreditChange::parse(amount, reason, r).unwrap_err().field()
        };
        for bad in ["0", "-5", "1.5", "lots", "100001", ""] {
            assert_eq!(field(bad, "x", r), Some("amount"), "{bad}");
        }
        assert_eq!(field("5", "", r), Some("reason"));
        assert_eq!(field("5", &"x".repeat(201), r), Some("reason"));
        assert_eq!(field("5", "a\u{7}b", r), Some("reason"));
        for bad in [None, Some("short"), Some("has spaces in it, sixteen+")] {
            assert_eq!(field("5", "ok", bad), Some("reference"));
        }
    }
}
