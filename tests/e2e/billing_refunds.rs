//! Money that goes back takes back what it paid for: refunds (whole, partial, in any order) and
//! disputes of packs and plan invoices, never below a zero balance, with what could not be
//! recovered shown to the operator; an open or lost dispute puts paid features on hold; revenue
//! counts what was paid after discounts, minus refunds.

use crate::support::billing::{
    balance, buy_pack, checkout, deliver_ok, event_row, find, id_of, ledger, page, reversal, spend,
    start_checkout, subscribe,
};
use crate::support::fakes::stripe::{PACK, STARTER};
use crate::support::session::SignedIn;
use crate::support::tools::{brief, post_form, unique};
use crate::support::{Stack, ADMIN_EMAIL};
use crate::trials;
use libtest_mimic::Trial;

pub fn tests() -> Vec<Trial> {
    trials![
        a_refunded_pack_takes_back_its_credits,
        partial_refunds_take_back_their_share_once_in_any_order,
        a_refund_never_makes_the_balance_negative_and_the_operator_sees_what_was_not_recovered,
        a_refunded_plan_invoice_takes_back_its_share_of_the_allowance,
        a_refund_that_arrives_before_its_purchase_is_retried_until_it_applies,
        a_refund_of_a_charge_we_never_sold_is_let_go_after_a_day_instead_of_failing_for_days,
        an_open_dispute_holds_tools_and_buying_until_it_is_won,
        a_lost_dispute_takes_back_the_purchase_and_keeps_the_hold,
        a_dispute_opened_late_after_it_was_won_stays_closed,
        revenue_counts_what_was_paid_after_a_discount_minus_refunds,
    ]
}

/// The row of `charge` in the console's refunds table (searched by the account's email).
async fn console_row(s: &Stack, email: &str, charge: &str) -> String {
    let ops = s.sign_in_as(ADMIN_EMAIL).await;
    let html = page(s, &ops, &format!("/admin?q={email}")).await;
    let at = html.find(&format!("id=\"charge-{charge}\"")).unwrap_or_else(|| panic!("no row for {charge}"));
    html[at..].split("</tr>").next().unwrap().to_string()
}

async fn email_of(s: &Stack, user_id: i64) -> String {
    crate::support::session::stored_email(s, user_id).await.unwrap()
}

async fn a_refunded_pack_takes_back_its_credits(s: &'static Stack) {
    let user = s.sign_in_new("refund-whole").await;
    let charge = buy_pack(s, &user).await;
    let refunded = s.stripe().refund(&charge, 500);
    assert_eq!(deliver_ok(s, &refunded).await["outcome"], "applied");
    assert_eq!(balance(s, user.user_id).await, 0);
    let last = ledger(s, user.user_id).await.pop().unwrap();
    assert_eq!(last, (-50, "payment_refunded".into(), format!("{charge}:50")));
    assert_eq!(reversal(s, &charge).await, (50, 0));
    let html = page(s, &user, "/billing").await;
    assert!(
        html.contains("Payment refunded · $5.00 of $5.00 refunded"),
        "the user's ledger says why: {html}"
    );
}

async fn partial_refunds_take_back_their_share_once_in_any_order(s: &'static Stack) {
    let user = s.sign_in_new("refund-partial").await;
    let charge = buy_pack(s, &user).await;
    let first = s.stripe().refund(&charge, 200); // $2.00 of $5.00: 20 of 50 credits
    let second = s.stripe().refund(&charge, 100); // now $3.00 in all: 30 credits
    deliver_ok(s, &second).await;
    assert_eq!(balance(s, user.user_id).await, 20, "the cumulative share of the newest event");
    // The older event arrives late, and the newest one again: nothing more is taken.
    deliver_ok(s, &first).await;
    assert_eq!(deliver_ok(s, &second).await["outcome"], "duplicate");
    let again = s.stripe().event("charge.refunded", second["data"]["object"].clone());
    deliver_ok(s, &again).await;
    assert_eq!(balance(s, user.user_id).await, 20);
    let third = s.stripe().refund(&charge, 1); // $3.01: the share rounds up to 31
    deliver_ok(s, &third).await;
    assert_eq!(balance(s, user.user_id).await, 19);
    let taken: Vec<i64> = ledger(s, user.user_id).await.iter().skip(1).map(|r| r.0).collect();
    assert_eq!(taken, vec![-30, -1]);
}

async fn a_refund_never_makes_the_balance_negative_and_the_operator_sees_what_was_not_recovered(
    s: &'static Stack,
) {
    let user = s.sign_in_new("refund-spent").await;
    let charge = buy_pack(s, &user).await;
    spend(s, user.user_id, 45).await;
    deliver_ok(s, &s.stripe().refund(&charge, 500)).await;
    assert_eq!(balance(s, user.user_id).await, 0, "never below zero");
    assert_eq!(reversal(s, &charge).await, (5, 45));
    let row = console_row(s, &email_of(s, user.user_id).await, &charge).await;
    assert!(row.contains("class=\"num unrecovered\">45<"), "{row}");
    assert!(row.contains("class=\"num taken\">5<"), "{row}");
    assert!(row.contains("class=\"num refunded\">$5.00<"), "{row}");
}

async fn a_refunded_plan_invoice_takes_back_its_share_of_the_allowance(s: &'static Stack) {
    let user = s.sign_in_new("refund-plan").await;
    let sub = subscribe(s, &user, STARTER).await;
    let renewal = s.stripe().invoice(&sub, true, true);
    deliver_ok(s, &s.stripe().event("invoice.payment_succeeded", renewal.clone())).await;
    assert_eq!(balance(s, user.user_id).await, 200);
    let charge = s.stripe().charge_of_invoice(renewal["id"].as_str().unwrap());
    let refunded = s.stripe().refund(&charge, 450); // half of $9.00
    assert_eq!(deliver_ok(s, &refunded).await["outcome"], "applied");
    assert_eq!(balance(s, user.user_id).await, 150, "half of that invoice's 100 credits");
    let last = ledger(s, user.user_id).await.pop().unwrap();
    assert_eq!((last.0, last.1.as_str()), (-50, "payment_refunded"));
    let (_, _, detail) = event_row(s, refunded["id"].as_str().unwrap()).await.unwrap();
    assert!(detail.unwrap().contains("50 credits taken back"));
}

async fn a_refund_that_arrives_before_its_purchase_is_retried_until_it_applies(s: &'static Stack) {
    let user = s.sign_in_new("refund-early").await;
    let session = start_checkout(s, &user, PACK).await;
    let events = s.stripe().complete_session(&session, true);
    let charge = s.stripe().charge_of_session(&session);
    let refunded = s.stripe().refund(&charge, 500);
    let (status, _) = s.stripe().deliver(&refunded).await;
    assert_eq!(status, 500, "not recorded yet: Stripe is asked to deliver it again");
    assert_eq!(event_row(s, refunded["id"].as_str().unwrap()).await.unwrap().0, "failed");
    deliver_ok(s, find(&events, "checkout.session.completed")).await;
    assert_eq!(balance(s, user.user_id).await, 50);
    assert_eq!(deliver_ok(s, &refunded).await["outcome"], "applied", "Stripe's retry");
    assert_eq!(balance(s, user.user_id).await, 0);
}

/// A charge of one of our customers that no purchase of ours explains (an invoice made by hand
/// in Stripe's dashboard): retried for a day in case its purchase is late, then answered 200 as
/// not ours, so Stripe doesn't retry for three days and disable the endpoint.
async fn a_refund_of_a_charge_we_never_sold_is_let_go_after_a_day_instead_of_failing_for_days(
    s: &'static Stack,
) {
    let user = s.sign_in_new("refund-unknown").await;
    let session = start_checkout(s, &user, PACK).await;
    let _never_delivered = s.stripe().complete_session(&session, true);
    let charge = s.stripe().charge_of_session(&session);
    s.stripe().backdate_charge(&charge, 25 * 3600);
    let refunded = s.stripe().refund(&charge, 500);
    let answer = deliver_ok(s, &refunded).await;
    assert_eq!(answer["outcome"], "ignored", "{answer}");
    assert_eq!(balance(s, user.user_id).await, 0, "nothing granted, nothing taken");
}

/// An AgentWrite run's status (303 when it ran) and whether OpenAI was asked.
async fn run_agentwrite(s: &Stack, user: &SignedIn) -> (u16, bool) {
    let name = format!("Held {}", unique());
    let res = post_form(s, user, "/tools/agentwrite", &brief(&name)).await;
    (res.status().as_u16(), !s.fakes.openai.chats_mentioning(&name).is_empty())
}

async fn an_open_dispute_holds_tools_and_buying_until_it_is_won(s: &'static Stack) {
    let user = s.sign_in_new("dispute-won").await;
    let charge = buy_pack(s, &user).await;
    let opened = s.stripe().dispute(&charge);
    assert_eq!(deliver_ok(s, &opened).await["outcome"], "applied");
    let (status, asked) = run_agentwrite(s, &user).await;
    assert_eq!((status, asked), (403, false), "no tool runs while the dispute is open");
    let res = checkout(s, &user, PACK, "").await;
    assert_eq!(res.status(), 403, "no buying either");
    assert!(res.text().await.unwrap().contains("on hold"));
    assert!(
        page(s, &user, "/billing").await.contains("Paid features are on hold"),
        "the billing page says so"
    );
    deliver_ok(s, &s.stripe().close_dispute(&id_of(&opened), "won")).await;
    assert_eq!(balance(s, user.user_id).await, 50, "a won dispute takes nothing");
    let (status, asked) = run_agentwrite(s, &user).await;
    assert_eq!((status, asked), (303, true), "paid features are back");
    assert!(!page(s, &user, "/billing").await.contains("Paid features are on hold"));
    start_checkout(s, &user, PACK).await;
}

async fn a_lost_dispute_takes_back_the_purchase_and_keeps_the_hold(s: &'static Stack) {
    let user = s.sign_in_new("dispute-lost").await;
    let charge = buy_pack(s, &user).await;
    spend(s, user.user_id, 10).await;
    let opened = s.stripe().dispute(&charge);
    deliver_ok(s, &opened).await;
    let lost = s.stripe().close_dispute(&id_of(&opened), "lost");
    deliver_ok(s, &lost).await;
    assert_eq!(balance(s, user.user_id).await, 0);
    let last = ledger(s, user.user_id).await.pop().unwrap();
    assert_eq!(last, (-40, "dispute_lost".into(), format!("{charge}:50")));
    assert_eq!(reversal(s, &charge).await, (40, 10));
    assert_eq!(run_agentwrite(s, &user).await.0, 403, "a lost dispute keeps the account on hold");
    let row = console_row(s, &email_of(s, user.user_id).await, &charge).await;
    assert!(row.contains("class=\"dispute\">lost<"), "{row}");
}

async fn a_dispute_opened_late_after_it_was_won_stays_closed(s: &'static Stack) {
    let user = s.sign_in_new("dispute-late").await;
    let charge = buy_pack(s, &user).await;
    let opened = s.stripe().dispute(&charge);
    let won = s.stripe().close_dispute(&id_of(&opened), "won");
    deliver_ok(s, &won).await;
    deliver_ok(s, &opened).await; // older, arriving later
    assert_eq!(run_agentwrite(s, &user).await.0, 303, "not on hold");
}

async fn revenue_counts_what_was_paid_after_a_discount_minus_refunds(s: &'static Stack) {
    let user = s.sign_in_new("revenue-discount").await;
    let session = start_checkout(s, &user, PACK).await;
    s.stripe().discount_session(&session, 200); // a promotion code: $3.00 instead of $5.00
    let events = s.stripe().complete_session(&session, true);
    deliver_ok(s, find(&events, "checkout.session.completed")).await;
    let email = email_of(s, user.user_id).await;
    let ops = s.sign_in_as(ADMIN_EMAIL).await;
    let users = |html: String| {
        let at = html.find(&format!("<td>{email}</td>")).expect("the user's row");
        html[at..].split("</tr>").next().unwrap().to_string()
    };
    let search = format!("/admin?q={email}");
    let row = users(page(s, &ops, &search).await);
    assert!(row.contains("class=\"num paid\">$3.00<"), "the discounted amount: {row}");
    let charge = s.stripe().charge_of_session(&session);
    deliver_ok(s, &s.stripe().refund(&charge, 100)).await;
    let row = users(page(s, &ops, &search).await);
    assert!(row.contains("class=\"num paid\">$2.00<"), "minus the refund: {row}");
    assert_eq!(balance(s, user.user_id).await, 50 - 17, "a third of $3.00 refunded: 17 of 50 (rounded up)");
}
