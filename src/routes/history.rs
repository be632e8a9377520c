//! `GET /history`: the signed-in user's generations and transcripts, newest first, paginated.
//! Runs a dead Worker left behind are settled (refunded) before they are listed.

use crate::ctx::Ctx;
use crate::error::AppError;
use crate::reply::Reply;
use crate::services::history;
use crate::views::history::{HistoryPage, HistoryRow};
use crate::views::render;
use worker::Request;

pub async fn list(req: &Request, cx: &Ctx) -> Result<Reply, AppError> {
    let user_id = cx.require_user().await?.id;
    let page = req
        .url()
        .ok()
        .and_then(|u| u.query_pairs().find(|(k, _)| k == "page").and_then(|(_, v)| v.parse::<i64>().ok()))
        .unwrap_or(1)
        .clamp(1, 10_000);
    let (runs, has_next) = history::page(cx.db().await?, user_id, page).await?;
    let rows = runs.into_iter().map(HistoryRow::of).collect();
    let layout = crate::routes::layout(cx, "History · GhostTools").await;
    Ok(Reply::html(render(&HistoryPage {
        layout,
        items: rows,
        podscribe: cx.config.tools.podscribe_enabled,
        prev: (page > 1).then_some(page - 1),
        next: has_next.then_some(page + 1),
    })))
}
