//! Public pages.

use crate::ctx::Ctx;
use crate::error::AppError;
use crate::reply::Reply;
use crate::views::{pages::Landing, render};

pub async fn landing(cx: &Ctx) -> Result<Reply, AppError> {
    let layout = super::layout(cx, "GhostTools — AI product descriptions and podcast transcripts").await;
    Ok(Reply::html(render(&Landing { layout })))
}
