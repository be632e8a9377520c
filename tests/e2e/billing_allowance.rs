//! A plan's allowance comes from the invoice that paid for it (its own lines), not from the
//! subscription as it is when the event is processed; an upgrade mid-period grants the
//! allowance difference at once, once per period; a downgrade grants and takes nothing.

use crate::support::billing::{balance, deliver_ok, event_row, ledger, page, subscribe};
use crate::support::fakes::stripe::{PRO, STARTER};
use crate::support::Stack;
use crate::trials;
use libtest_mimic::Trial;
use serde_json::Value;

pub fn tests() -> Vec<Trial> {
    trials![
        a_late_starter_invoice_grants_starters_allowance_after_a_switch_to_pro,
        an_upgrade_grants_the_allowance_difference_once_per_period,
        a_downgrade_grants_nothing_and_takes_nothing,
    ]
}

async fn a_late_starter_invoice_grants_starters_allowance_after_a_switch_to_pro(s: &'static Stack) {
    let user = s.sign_in_new("late-invoice").await;
    let sub = subscribe(s, &user, STARTER).await;
    // The renewal is invoiced (and paid) on Starter; its event is delayed past a switch to Pro.
    let renewal = s.stripe().invoice(&sub, true, true);
    let pro = s.stripe().price_object(PRO);
    s.stripe().update_subscription(&sub, |v| v["items"]["data"][0]["price"] = pro);
    deliver_ok(s, &s.stripe().event("invoice.payment_succeeded", renewal)).await;
    assert_eq!(balance(s, user.user_id).await, 200, "Starter's 100 for Starter's invoice, not Pro's 500");
}

async fn an_upgrade_grants_the_allowance_difference_once_per_period(s: &'static Stack) {
    let user = s.sign_in_new("upgrade-diff").await;
    let sub = subscribe(s, &user, STARTER).await;
    let upgraded = s.stripe().change_plan(&sub, PRO);
    assert_eq!(deliver_ok(s, &upgraded).await["outcome"], "applied");
    assert_eq!(balance(s, user.user_id).await, 500, "Starter's 100 plus the 400 difference to Pro");
    let rows = ledger(s, user.user_id).await;
    assert_eq!(
        rows.last().unwrap(),
        &(
            400,
            "subscription_allowance".into(),
            upgraded["data"]["object"]["id"].as_str().unwrap().to_string()
        )
    );
    let invoice = upgraded["data"]["object"]["id"].as_str().unwrap();
    assert_eq!(
        detail(s, &upgraded).await,
        format!("invoice {invoice} paid; subscription {sub} active (pro); upgrade: 400 credits granted to reach 500 (balance 500)")
    );
    // The same event again, and another event about the same invoice: nothing more.
    assert_eq!(deliver_ok(s, &upgraded).await["outcome"], "duplicate");
    deliver_ok(s, &s.stripe().event("invoice.payment_succeeded", upgraded["data"]["object"].clone())).await;
    assert_eq!(balance(s, user.user_id).await, 500);
    // Down and up again in the same period: the period already had Pro's allowance.
    deliver_ok(s, &s.stripe().change_plan(&sub, STARTER)).await;
    let again = s.stripe().change_plan(&sub, PRO);
    deliver_ok(s, &again).await;
    assert_eq!(balance(s, user.user_id).await, 500);
    assert!(
        detail(s, &again)
            .await
            .ends_with("; the period already holds 500 credits of allowance: nothing granted for 500"),
        "{}",
        detail(s, &again).await
    );
    assert_eq!(ledger(s, user.user_id).await.len(), 2);
    // The next period grants Pro's whole allowance.
    let renewal = s.stripe().event("invoice.payment_succeeded", s.stripe().invoice(&sub, true, true));
    deliver_ok(s, &renewal).await;
    assert_eq!(balance(s, user.user_id).await, 1000);
    assert!(
        detail(s, &renewal).await.ends_with("; allowance of 500 credits granted (balance 1000)"),
        "{}",
        detail(s, &renewal).await
    );
    let pricing = page(s, &user, "/pricing").await;
    assert!(pricing.contains("an upgrade adds the difference"), "the rule is on the pricing page");
}

async fn a_downgrade_grants_nothing_and_takes_nothing(s: &'static Stack) {
    let user = s.sign_in_new("downgrade").await;
    let sub = subscribe(s, &user, PRO).await;
    assert_eq!(balance(s, user.user_id).await, 500);
    assert_eq!(deliver_ok(s, &s.stripe().change_plan(&sub, STARTER)).await["outcome"], "applied");
    assert_eq!(balance(s, user.user_id).await, 500, "nothing granted, nothing taken");
    assert_eq!(ledger(s, user.user_id).await.len(), 1);
    // The next period grants the new plan's allowance.
    let renewal = s.stripe().invoice(&sub, true, true);
    deliver_ok(s, &s.stripe().event("invoice.payment_succeeded", renewal)).await;
    assert_eq!(balance(s, user.user_id).await, 600);
}

/// What the event log says `event` did.
async fn detail(s: &Stack, event: &Value) -> String {
    event_row(s, event["id"].as_str().unwrap()).await.and_then(|(_, _, detail)| detail).unwrap_or_default()
}
