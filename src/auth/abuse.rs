//! Abuse limits on sign-in emails: how many links one address (and, with the rate limiter,
//! one client) may ask for, so the form cannot be used to flood someone's inbox.

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
