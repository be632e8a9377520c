//! Public pages: landing, terms, privacy.

use crate::ctx::Ctx;
use crate::error::AppError;
use crate::reply::Reply;
use crate::views::pages::{Landing, Legal, Privacy, Terms};
use crate::views::render;

pub async fn landing(cx: &Ctx) -> Result<Reply, AppError> {
    let layout = super::layout(cx, "GhostTools — AI product descriptions and podcast transcripts").await;
    Ok(Reply::html(render(&Landing { layout })))
}

fn legal(cx: &Ctx) -> Result<Legal, AppError> {
    let company = cx.config.company.as_ref().map_err(|p| AppError::from(p.clone()))?;
    Ok(Legal {
        company: company.name.clone(),
        contact_email: company.contact_email.clone(),
        site: cx.site()?.origin(),
    })
}

pub async fn terms(cx: &Ctx) -> Result<Reply, AppError> {
    let legal = legal(cx)?;
    let layout = super::layout(cx, "Terms of service · GhostTools").await;
    Ok(Reply::html(render(&Terms { layout, legal })))
}

pub async fn privacy(cx: &Ctx) -> Result<Reply, AppError> {
    let legal = legal(cx)?;
    let layout = super::layout(cx, "Privacy notice · GhostTools").await;
    Ok(Reply::html(render(&Privacy { layout, legal })))
}
