//! Thin handlers, one module per feature: parse → authorize → call a service → render.

pub mod account;
pub mod billing;
pub mod debug;
pub mod errors;
pub mod google;
pub mod health;
pub mod history;
pub mod input;
pub mod pages;
pub mod sign_in;
pub mod tools;
pub mod webhooks;

use crate::ctx::Ctx;
use crate::views::Layout;

/// The layout for a page: the signed-in user (if any) and, for them, the CSRF token of the
/// navigation's sign-out form. A broken session never breaks a public page: it shows as signed
/// out (the cause is logged).
pub async fn layout(cx: &Ctx, title: impl Into<String>) -> Layout {
    let mut layout = Layout::new(title, &cx.nonce);
    match cx.user().await {
        Ok(Some(user)) => {
            layout.user_email = Some(user.email.clone());
            layout.csrf = cx.csrf_token().unwrap_or_default();
        }
        Ok(None) => {}
        Err(e) => cx.log("warn", &format!("layout: session not checked: {e}")),
    }
    layout
}
