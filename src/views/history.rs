//! The history page: generations and transcripts, newest first, a page at a time.

use super::tools::when;
use super::Layout;
use crate::domain::tool::RunSummary;
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

impl HistoryRow {
    pub fn of(run: RunSummary) -> HistoryRow {
        HistoryRow {
            tool: run.tool.name(),
            status: run.status_label().into(),
            created: when(run.created_at_ms),
            url: run.path(),
            download: run.download_path(),
            deletable: run.status.is_settled(),
            id: run.id,
            title: run.title,
        }
    }
}
