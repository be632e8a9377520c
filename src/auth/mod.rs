//! Who is signing in: the current user from the session cookie, starting and ending sessions,
//! CSRF tokens for forms, and the sign-in flows built on them (email links, Google) with their
//! abuse limits.

pub mod abuse;
pub mod csrf;
pub mod email_link;
pub mod google;
pub mod id_token;
pub mod oauth_state;
pub mod session;

use crate::ctx::Ctx;
use crate::db::users::{self, Account};
use crate::db::Db;
use crate::domain::{EmailAddress, User};
use crate::error::AppError;
use crate::services::welcome::{self, Welcome};

/// The account of a proven address (a spent link, a verified ID token), created on first
/// sign-in with its welcome credits. Runs in the caller's transaction: an account and its
/// welcome credits are committed together or not at all.
pub async fn account_for(
    cx: &Ctx,
    db: &Db,
    email: &EmailAddress,
    name: Option<&str>,
) -> Result<User, AppError> {
    let (user, account) = users::sign_in_by_email(db, email, name).await?;
    let credits = cx.config.welcome_credits();
    if account == Account::Created && credits > 0 {
        let identity = welcome::identity(cx.session_secret()?, email);
        let admit = async || abuse::admit_welcome_grant(cx).await;
        match welcome::greet(db, user.id, &identity, credits, admit).await? {
            Welcome::Granted { credits } => {
                cx.log("info", &format!("user {}: {credits} welcome credits", user.id))
            }
            Welcome::Refused(why) => {
                cx.log("info", &format!("user {}: no welcome credits ({})", user.id, why.as_str()))
            }
        }
    }
    Ok(user)
}
