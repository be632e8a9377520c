//! Thin handlers, one module per feature: parse → authorize → call a service → render.

pub mod account;
pub mod account_email;
pub mod admin;
pub mod admin_user;
pub mod billing;
pub mod debug;
pub mod errors;
pub mod google;
pub mod health;
pub mod history;
pub mod input;
pub mod pages;
pub mod refer;
pub mod sign_in;
pub mod table;
pub mod tools;
pub mod webhooks;

use crate::ctx::Ctx;
use crate::views::Layout;

/// The layout for a page: the signed-in user (if any) and, for them, the CSRF token of the
/// navigation's sign-out form, and the flash message of the last action (taken, so it shows
/// once). A broken session never breaks a public page: it shows as signed out (the cause is
/// logged).
pub async fn layout(cx: &Ctx, title: impl Into<String>) -> Layout {
    let mut layout = Layout::new(title, &cx.nonce).for_site(&cx.config, &cx.path);
    match cx.user().await {
        Ok(Some(user)) => signed_in(cx, &mut layout, user),
        Ok(None) => {}
        Err(e) => cx.log("warn", &format!("layout: session not checked: {e}")),
    }
    layout.flash = cx.take_flash();
    layout
}

/// The layout without touching the database: the user only when this request already looked
/// them up (error pages must not fail again while reporting a failure).
pub fn layout_without_lookup(cx: &Ctx, title: impl Into<String>) -> Layout {
    let mut layout = Layout::new(title, &cx.nonce).for_site(&cx.config, &cx.path);
    if let Some(Some(user)) = cx.user.get() {
        signed_in(cx, &mut layout, user);
    }
    layout
}

fn signed_in(cx: &Ctx, layout: &mut Layout, user: &crate::domain::User) {
    layout.user_email = Some(user.email.to_string());
    layout.csrf = cx.csrf_token().unwrap_or_default();
    layout.is_admin = admin::is_admin(&cx.config, user);
}
