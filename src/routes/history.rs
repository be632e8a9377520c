//! `GET /history`: the signed-in user's generations and transcripts, newest first, paginated.
//! Runs a dead Worker left behind are settled (refunded) before they are listed.

use crate::ctx::Ctx;
use crate::db::history;
use crate::error::AppError;
use crate::reply::Reply;
use crate::services::runs::STALE_AFTER;
use crate::views::history::{HistoryPage, HistoryRow};
use crate::views::render;
use worker::Request;

pub const PAGE_SIZE: i64 = 20;

pub async fn list(req: &Request, cx: &Ctx) -> Result<Reply, AppError> {
    let user_id = cx.require_user().await?.id;
    let page = req
        .url()
        .ok()
        .and_then(|u| u.query_pairs().find(|(k, _)| k == "page").and_then(|(_, v)| v.parse::<i64>().ok()))
        .unwrap_or(1)
        .clamp(1, 10_000);
    let db = cx.db().await?;
    // One more than a page tells whether there is a next one; runs a dead Worker left are
    // settled first, in the same round trip.
    let mut items =
        history::page_after_sweep(db, user_id, PAGE_SIZE + 1, (page - 1) * PAGE_SIZE, STALE_AFTER).await?;
    let has_next = items.len() as i64 > PAGE_SIZE;
    items.truncate(PAGE_SIZE as usize);
    let rows = items.into_iter().map(HistoryRow::of).collect();
    let layout = crate::routes::layout(cx, "History · GhostTools").await;
    Ok(Reply::html(render(&HistoryPage {
        layout,
        items: rows,
        podscribe: cx.config.tools.podscribe_enabled,
        prev: (page > 1).then_some(page - 1),
        next: has_next.then_some(page + 1),
    })))
}
