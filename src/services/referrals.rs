//! Refer & earn: a user becomes a Rewardful affiliate once, and sees their link, visitors,
//! sign-ups, paying customers and commissions. Rewardful is the source of truth for all of it;
//! we keep only which affiliate is whose (`db::affiliates`).

use crate::clients::rewardful::{Affiliate, Commission, Rewardful, RewardfulError};
use crate::db::{affiliates, Db};
use crate::domain::money::format_amount;
use crate::domain::person::PersonName;
use crate::domain::referral::Summary;
use crate::domain::{User, UserId};
use crate::error::AppError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Joined {
    Now(String),
    Already(String),
}

/// The Rewardful affiliate id of `user_id`, once they joined the programme.
pub async fn affiliate_of(db: &Db, user_id: UserId) -> Result<Option<String>, AppError> {
    affiliates::affiliate_of(db, user_id).await
}

/// Makes `user` an affiliate (their verified email is the affiliate's). A second call, or an
/// affiliate Rewardful already has for this address, leaves one affiliate.
pub async fn join(
    db: &Db,
    rewardful: &Rewardful,
    user: &User,
    first: &PersonName,
    last: &PersonName,
) -> Result<Joined, AppError> {
    if let Some(id) = affiliates::affiliate_of(db, user.id).await? {
        return Ok(Joined::Already(id));
    }
    let affiliate = match rewardful.create_affiliate(first.as_str(), last.as_str(), user.email.as_str()).await
    {
        Ok(a) => a,
        Err(e) if e.is_email_taken() => rewardful
            .affiliate_by_email(user.email.as_str())
            .await?
            .ok_or_else(|| AppError::from(RewardfulError::Api { status: 422, message: e.to_string() }))?,
        Err(e) => return Err(e.into()),
    };
    match affiliates::save_affiliate(db, user.id, &affiliate.id).await? {
        Some(id) if id == affiliate.id => Ok(Joined::Now(id)),
        Some(id) => Ok(Joined::Already(id)),
        None => Err(AppError::BadRequest {
            field: None,
            message: "The referral account for this email address belongs to another GhostTools account. Please contact us."
                .into(),
        }),
    }
}

pub async fn summary(rewardful: &Rewardful, affiliate_id: &str) -> Result<Summary, RewardfulError> {
    let affiliate = rewardful.affiliate(affiliate_id).await?;
    let commissions = rewardful.commissions(affiliate_id).await?;
    Ok(summarize(&affiliate, &commissions))
}

/// Pure: the page's figures from Rewardful's objects (voided commissions count nowhere).
pub fn summarize(affiliate: &Affiliate, commissions: &[Commission]) -> Summary {
    let total = |state: &str| {
        let mut by_currency: Vec<(String, i64)> = Vec::new();
        for c in commissions.iter().filter(|c| c.state == state) {
            let currency = c.currency.to_ascii_lowercase();
            match by_currency.iter_mut().find(|(cur, _)| *cur == currency) {
                Some((_, sum)) => *sum += c.amount,
                None => by_currency.push((currency, c.amount)),
            }
        }
        if by_currency.is_empty() {
            return "None yet".to_string();
        }
        by_currency.iter().map(|(cur, sum)| format_amount(*sum, cur)).collect::<Vec<_>>().join(" + ")
    };
    Summary {
        links: affiliate.links.iter().map(|l| l.url.clone()).collect(),
        visitors: affiliate.visitors,
        leads: affiliate.leads,
        conversions: affiliate.conversions,
        paid: total("paid"),
        due: total("due"),
        pending: total("pending"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn commission(amount: i64, currency: &str, state: &str) -> Commission {
        Commission { id: "c".into(), amount, currency: currency.into(), state: state.into() }
    }

    #[test]
    fn commissions_add_up_per_state_and_currency_and_voided_ones_count_nowhere() {
        let affiliate = Affiliate {
            id: "a".into(),
            email: None,
            state: None,
            visitors: 7,
            leads: 3,
            conversions: 1,
            links: vec![],
        };
        let s = summarize(
            &affiliate,
            &[
                commission(300, "USD", "paid"),
                commission(200, "usd", "paid"),
                commission(400, "CHF", "paid"),
                commission(990, "USD", "due"),
                commission(5000, "USD", "voided"),
            ],
        );
        assert_eq!(s.paid, "$5.00 + 4.00 CHF");
        assert_eq!(s.due, "$9.90");
        assert_eq!(s.pending, "None yet");
        assert_eq!((s.visitors, s.leads, s.conversions), (7, 3, 1));
    }
}
