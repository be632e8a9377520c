//! Public pages.

use crate::ctx::Ctx;
use crate::error::AppError;
use crate::reply::Reply;
use crate::views::{pages::Landing, render, Layout};

pub fn landing(cx: &Ctx) -> Result<Reply, AppError> {
    let layout = Layout::new(
        "GhostTools — AI product descriptions and podcast transcripts",
        &cx.nonce,
    );
    Ok(Reply::html(render(&Landing { layout })))
}
