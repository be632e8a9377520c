//! Error pages (404, 429, 5xx …) in the site's layout.

use super::{render, Layout};
use crate::error::AppError;
use askama::Template;

#[derive(Template)]
#[template(path = "errors/error.html")]
pub struct ErrorPage {
    pub layout: Layout,
    pub status: u16,
    pub heading: &'static str,
    pub message: String,
    pub request_id: String,
    pub show_request_id: bool,
}

pub fn heading(status: u16) -> &'static str {
    match status {
        400 => "That didn't look right",
        401 | 403 => "You can't open this page",
        404 => "Page not found",
        405 => "Not allowed",
        402 => "Not enough credits",
        411 => "Length required",
        413 => "Too large",
        429 => "Slow down a little",
        503 => "Temporarily unavailable",
        _ => "Something went wrong",
    }
}

pub fn page(layout: Layout, err: &AppError, request_id: &str) -> String {
    let status = err.status();
    render(&ErrorPage {
        layout,
        status,
        heading: heading(status),
        message: err.public_message(),
        request_id: request_id.to_string(),
        show_request_id: status >= 500,
    })
}
