//! The Refer & earn programme as an affiliate sees it (services::referrals sums it up from
//! Rewardful).

/// What the Refer & earn page shows an affiliate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub links: Vec<String>,
    pub visitors: i64,
    pub leads: i64,
    pub conversions: i64,
    /// Commissions by state, each as money per currency ("$12.00", or "$5.00 + 4.00 CHF").
    pub paid: String,
    pub due: String,
    pub pending: String,
}
