//! Abuse limits on signing in: how many links one address (and, with the rate limiter, one
//! client) may ask for, so the form cannot be used to flood someone's inbox; and how many new
//! accounts of one client get welcome credits.

use crate::ctx::Ctx;
use crate::db::sign_in_tokens;
use crate::domain::EmailAddress;
use crate::error::AppError;
use crate::rate_limit::{Policy, Subject};

/// At most this many unexpired, unused links may be out for one address at a time.
pub const MAX_PENDING_LINKS_PER_ADDRESS: i64 = 5;

/// Refuses (429) another sign-in email to `email` when too many were asked for.
///
/// Called by `POST /signin` before a token is created or anything is sent. Three limits:
/// - the rate limiter's `SignInEmailPerIp` (one client spraying many addresses),
/// - its `SignInEmailPerAddress` (one inbox flooded from many clients), both sliding windows
///   shared across the edge and failing closed when the limiter is down (outgoing mail costs
///   and can be abused);
/// - at most `MAX_PENDING_LINKS_PER_ADDRESS` usable links per address in the database (a link
///   stops counting when used or expired; the retry-after is when the oldest one expires).
pub async fn check_sign_in_email(cx: &Ctx, email: &EmailAddress) -> Result<(), AppError> {
    cx.limit(Policy::SignInEmailPerIp, &Subject::ip(cx.client_ip().as_deref())).await?;
    cx.limit(Policy::SignInEmailPerAddress, &Subject::email(email.as_str())).await?;
    let (pending, oldest_expires_in) = sign_in_tokens::count_pending(cx.db().await?, email).await?;
    if pending >= MAX_PENDING_LINKS_PER_ADDRESS {
        cx.log("warn", &format!("sign-in email limit reached for an address at {}", email.domain()));
        let retry_after_secs = oldest_expires_in.unwrap_or(60).max(1) as u64;
        return Err(AppError::TooManyRequests { retry_after_secs });
    }
    Ok(())
}

/// Whether this client may have one more new account's welcome credits today
/// (`WelcomeCreditsPerIp`, counted when it may). The limiter being down is a 503 (fail closed):
/// the sign-in is rolled back and can be tried again, rather than the person losing the grant.
pub async fn admit_welcome_grant(cx: &Ctx) -> Result<bool, AppError> {
    match cx.limit(Policy::WelcomeCreditsPerIp, &Subject::ip(cx.client_ip().as_deref())).await {
        Ok(_) => Ok(true),
        Err(AppError::TooManyRequests { .. }) => Ok(false),
        Err(other) => Err(other),
    }
}
