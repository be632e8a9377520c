//! Abuse limits on sign-in emails: how many links one address (and, with the rate limiter,
//! one client) may ask for, so the form cannot be used to flood someone's inbox.

use crate::ctx::Ctx;
use crate::db::sign_in_tokens;
use crate::domain::EmailAddress;
use crate::error::AppError;

/// At most this many unexpired, unused links may be out for one address at a time.
pub const MAX_PENDING_LINKS_PER_ADDRESS: i64 = 5;

/// Refuses (429) another sign-in email to `email` when too many were asked for.
///
/// Called by `POST /signin` before a token is created or anything is sent. Today it enforces a
/// real limit from the database: at most `MAX_PENDING_LINKS_PER_ADDRESS` usable links per
/// address (a link stops counting when it is used or expires, so the retry-after is the time
/// until the oldest one expires). Two simultaneous requests may both pass at the boundary; the
/// rate limiter closes that gap.
///
/// Seam for the rate limiter Durable Object: this is where it will enforce the
/// `SignInEmailPerAddress` policy (keyed by the lower-cased address) and the
/// `SignInEmailPerIp` policy (keyed by `cx.client_ip()`), each answering
/// `AppError::TooManyRequests { retry_after_secs }` when over its window. Callers need not
/// change: the signature stays.
pub async fn check_sign_in_email(cx: &Ctx, email: &EmailAddress) -> Result<(), AppError> {
    let (pending, oldest_expires_in) = sign_in_tokens::count_pending(cx.db().await?, email).await?;
    if pending >= MAX_PENDING_LINKS_PER_ADDRESS {
        cx.log("warn", &format!("sign-in email limit reached for an address at {}", email.domain()));
        let retry_after_secs = oldest_expires_in.unwrap_or(60).max(1) as u64;
        return Err(AppError::TooManyRequests { retry_after_secs });
    }
    Ok(())
}
