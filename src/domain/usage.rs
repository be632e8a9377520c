//! What the tools cost an account lately: credits spent per UTC day and tool, and each live
//! subscription's allowance for its current period with what was spent since it began. db/
//! reads them (db::dashboard); the dashboard's usage views render them.

use crate::domain::tool::Tool;
use crate::domain::Credits;

#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct DayUsage {
    /// "2026-12-04" (UTC).
    pub day: String,
    pub tool: Tool,
    pub credits: Credits,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct PeriodUsage {
    pub subscription_id: String,
    /// The highest allowance granted for the current period (0: none yet).
    pub allowance: Credits,
    /// Credits spent on the tools since the period began, refunds netted.
    pub spent: Credits,
}
