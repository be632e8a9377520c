//! The Refer & earn page: what the programme is, joining it, and an affiliate's link and stats.

use super::Layout;
use crate::domain::referral::Summary;
use askama::Template;

#[derive(Template)]
#[template(path = "refer.html")]
pub struct ReferPage {
    pub layout: Layout,
    /// Whether the programme is configured (`REWARDFUL_API_KEY`).
    pub open: bool,
    pub signed_in: bool,
    pub joined: bool,
    /// The affiliate's figures (`None` while Rewardful cannot be reached: `unavailable`).
    pub summary: Option<Summary>,
    pub unavailable: bool,
    pub first_name: String,
    pub last_name: String,
    /// Which field was wrong (`first_name`, `last_name`) and why.
    pub error_field: String,
    pub error: Option<String>,
}

impl ReferPage {
    pub fn new(layout: Layout, open: bool) -> ReferPage {
        ReferPage {
            signed_in: layout.user_email.is_some(),
            layout,
            open,
            joined: false,
            summary: None,
            unavailable: false,
            first_name: String::new(),
            last_name: String::new(),
            error_field: String::new(),
            error: None,
        }
    }
}
