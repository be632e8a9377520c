//! The signed-in home (dashboard) and signing out.

use super::input::Form;
use crate::ctx::Ctx;
use crate::error::AppError;
use crate::reply::Reply;
use crate::views::{account::Dashboard, render};
use worker::Request;

pub async fn dashboard(cx: &Ctx) -> Result<Reply, AppError> {
    cx.require_user().await?;
    let layout = super::layout(cx, "Dashboard · GhostTools").await;
    Ok(Reply::html(render(&Dashboard { layout, podscribe: cx.config.tools.podscribe_enabled })))
}

/// POST only, with the CSRF token: a link or an image on another site cannot sign you out.
pub async fn sign_out(req: &mut Request, cx: &Ctx) -> Result<Reply, AppError> {
    Form::read(req, cx).await?;
    cx.end_session();
    Ok(Reply::redirect("/"))
}
