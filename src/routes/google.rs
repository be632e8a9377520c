//! Signing in with Google: start (a POST from the sign-in form, CSRF-checked) and the callback.

use super::input::Form;
use crate::ctx::Ctx;
use crate::domain::NextPath;
use crate::error::AppError;
use crate::reply::Reply;
use crate::sign_in::google::{self, Failed};
use crate::views::auth::Problem;
use crate::views::render;
use worker::Request;

/// `POST /signin/google`: to Google's authorization page, with a fresh flow cookie.
pub async fn start(req: &mut Request, cx: &Ctx) -> Result<Reply, AppError> {
    google::config(cx)?;
    let form = Form::read(req, cx).await?;
    let next = NextPath::parse_or_default(form.get("next"));
    let url = google::begin(cx, &next).await?;
    Ok(Reply::redirect(url))
}

/// `GET /signin/google/callback?code=…&state=…`: back from Google.
pub async fn callback(req: &Request, cx: &Ctx) -> Result<Reply, AppError> {
    let query: Vec<(String, String)> = match req.url() {
        Ok(url) => url.query_pairs().into_owned().collect(),
        Err(_) => Vec::new(),
    };
    match google::finish(cx, &query).await? {
        Ok((user, next)) => {
            cx.start_session(&user, &super::sign_in::coarse_origin(req)).await?;
            Ok(Reply::redirect(next.as_str()))
        }
        Err(failed) => {
            cx.log("warn", &format!("google sign-in failed: {failed:?}"));
            let (message, status) = match failed {
                Failed::Denied(_) => ("Google sign-in was cancelled. You can try again, or sign in with an emailed link.", 400),
                Failed::NoFlow | Failed::WrongState => (
                    "This sign-in attempt expired or was started in another browser. Please start again from the sign-in page.",
                    400,
                ),
                Failed::Token(crate::auth::id_token::Rejected::EmailNotVerified) => (
                    "Google has not verified this account's email address, so we can't use it to sign you in. Verify it with Google, or sign in with an emailed link.",
                    403,
                ),
                Failed::MissingCode | Failed::Token(_) => (
                    "We couldn't verify the answer from Google. Please try again, or sign in with an emailed link.",
                    400,
                ),
            };
            let layout = super::layout(cx, "Google sign-in didn't complete · GhostTools").await;
            let action = ("/signin", "Get a new sign-in link");
            let page = Problem { layout, heading: "Google sign-in didn't complete", message, action };
            Ok(Reply::html(render(&page)).with_status(status))
        }
    }
}
