//! Signing in, as a request does it: by emailed link (`email_link`) or Google (`google`), and
//! moving an account to a new address proven the same way (`email_change`), through the site's
//! outgoing mail (`outbox`); with the abuse limits on sign-in mail and welcome credits (`abuse`), and the account a proven
//! address gets (`account_for`). Built on the formats of `auth`; reads the request's `Ctx`.

pub mod abuse;
pub mod email_change;
pub mod email_link;
pub mod google;
pub mod outbox;

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
