//! Refer & earn (`/refer`): anyone can read about the programme; a signed-in user joins it
//! (becomes a Rewardful affiliate) and then sees their link and stats.

use super::input::Form;
use crate::clients::rewardful::Rewardful;
use crate::ctx::Ctx;
use crate::domain::person::PersonName;
use crate::error::AppError;
use crate::reply::Reply;
use crate::services::referrals::{self, Joined};
use crate::views::flash::FlashKind;
use crate::views::refer::ReferPage;
use crate::views::render;

const TITLE: &str = "Refer & earn · GhostTools";

/// `GET /refer`.
pub async fn page(cx: &Ctx) -> Result<Reply, AppError> {
    let layout = super::layout(cx, TITLE).await;
    let mut view = ReferPage::new(layout, cx.config.rewardful.api_key.is_some());
    if let Some(user) = cx.user().await.ok().flatten() {
        if let Some(id) = referrals::affiliate_of(cx.db().await?, user.id).await? {
            view.joined = true;
            let rewardful = Rewardful::from_config(&cx.config)?;
            match referrals::summary(&rewardful, &id).await {
                Ok(summary) => view.summary = Some(summary),
                Err(e) => {
                    // The page still works (and says so); the stats come back with Rewardful.
                    cx.log("warn", &format!("refer: Rewardful stats for affiliate {id} unavailable: {e}"));
                    view.unavailable = true;
                }
            }
        }
    }
    Ok(Reply::html(render(&view)))
}

/// `POST /refer/join`: `first_name`, `last_name` (Rewardful requires both).
pub async fn join(form: Form, cx: &Ctx) -> Result<Reply, AppError> {
    let user = cx.require_user().await?;
    let names = PersonName::parse("first_name", "first name", form.get("first_name"))
        .and_then(|first| Ok((first, PersonName::parse("last_name", "last name", form.get("last_name"))?)));
    let (first, last) = match names {
        Ok(names) => names,
        Err(e) => {
            let layout = super::layout(cx, TITLE).await;
            let mut view = ReferPage::new(layout, cx.config.rewardful.api_key.is_some());
            view.first_name = form.text("first_name").to_string();
            view.last_name = form.text("last_name").to_string();
            view.error_field = e.field().unwrap_or_default().to_string();
            view.error = Some(e.public_message());
            return Ok(Reply::html(render(&view)).with_status(400));
        }
    };
    let rewardful = Rewardful::from_config(&cx.config)?;
    match referrals::join(cx.db().await?, &rewardful, user, &first, &last).await? {
        Joined::Now(id) => {
            cx.log("info", &format!("user {} joined the referral programme as affiliate {id}", user.id));
            cx.set_flash(FlashKind::Success, "Welcome to Refer & earn! Share your link below.");
        }
        Joined::Already(_) => cx.set_flash(FlashKind::Info, "You are already in Refer & earn."),
    }
    Ok(Reply::redirect("/refer"))
}
