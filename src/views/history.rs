//! The history page: generations and transcripts, newest first, a page at a time.

use super::Layout;
use askama::Template;

#[derive(Template)]
#[template(path = "history.html")]
pub struct HistoryPage {
    pub layout: Layout,
    pub items: Vec<HistoryRow>,
    pub podscribe: bool,
    pub prev: Option<i64>,
    pub next: Option<i64>,
}

pub struct HistoryRow {
    pub id: String,
    pub tool: &'static str,
    pub title: String,
    pub status: String,
    pub created: String,
    pub url: String,
    pub download: Option<String>,
    /// Runs still in progress settle first.
    pub deletable: bool,
}
