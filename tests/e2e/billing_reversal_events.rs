//! What a refund or a dispute event says it did, in the operator's event log and the user's
//! ledger, word for word; refunds and disputes of one charge delivered at once take back what
//! is owed once; and the database's own arithmetic (the share owed, amounts as people read
//! them) agrees with the Worker's on a table of cases.

use crate::support::billing::{balance, buy_pack, deliver_ok, event_row, id_of, reversal, spend, subscribe};
use crate::support::fakes::stripe::STARTER;
use crate::support::Stack;
use crate::trials;
use ghosttools::domain::money::format_amount;
use ghosttools::domain::Credits;
use ghosttools::services::billing::reversals::owed;
use libtest_mimic::Trial;
use serde_json::Value;

pub fn tests() -> Vec<Trial> {
    trials![
        the_event_log_says_what_each_refund_did_and_the_ledger_why,
        the_event_log_says_what_each_dispute_did,
        a_lost_dispute_of_a_plan_invoice_takes_back_its_allowance,
        a_plan_invoice_refunded_before_its_payment_is_recorded_writes_nothing_until_stripe_retries,
        two_refunds_of_one_charge_delivered_at_once_take_the_larger_share_once,
        a_refund_and_a_lost_dispute_of_one_charge_at_once_take_the_purchase_back_once,
        the_databases_share_owed_and_amounts_agree_with_the_workers,
    ]
}

/// Delivers `event` (expecting 200) and answers the detail the event log keeps for it.
async fn detail(s: &Stack, event: &Value) -> String {
    deliver_ok(s, event).await;
    event_row(s, event["id"].as_str().unwrap()).await.unwrap().2.unwrap_or_default()
}

/// The notes of the user's ledger entries that took credits back, oldest first.
async fn notes_taken_back(s: &Stack, user_id: i64) -> Vec<(i64, String)> {
    let rows = s
        .sql()
        .await
        .query(
            "SELECT delta, note FROM credit_ledger WHERE user_id = $1
             AND reason IN ('payment_refunded', 'dispute_lost') ORDER BY id",
            &[&user_id],
        )
        .await
        .unwrap();
    rows.iter().map(|r| (r.get(0), r.get(1))).collect()
}

async fn the_event_log_says_what_each_refund_did_and_the_ledger_why(s: &'static Stack) {
    let user = s.sign_in_new("refund-words").await;
    let charge = buy_pack(s, &user).await;
    let first = s.stripe().refund(&charge, 200);
    assert_eq!(
        detail(s, &first).await,
        format!(
            "charge {charge} refunded $2.00 in all; 20 credits taken back, 0 unrecovered (20 of 50 owed)"
        )
    );
    spend(s, user.user_id, 25).await; // 5 left
    let second = s.stripe().refund(&charge, 300);
    assert_eq!(
        detail(s, &second).await,
        format!(
            "charge {charge} refunded $5.00 in all; 5 credits taken back, 25 unrecovered (50 of 50 owed)"
        )
    );
    // The first refund's event again, late (a new delivery id): the stored total stands.
    let late = s.stripe().event("charge.refunded", first["data"]["object"].clone());
    assert_eq!(
        detail(s, &late).await,
        format!("charge {charge} refunded $5.00 in all; 50 of 50 credits owed back: nothing more to take")
    );
    assert_eq!(
        notes_taken_back(s, user.user_id).await,
        vec![(-20, "$2.00 of $5.00 refunded".to_string()), (-5, "$5.00 of $5.00 refunded".to_string())]
    );
    assert_eq!(balance(s, user.user_id).await, 0);
}

async fn the_event_log_says_what_each_dispute_did(s: &'static Stack) {
    let user = s.sign_in_new("dispute-words").await;
    let charge = buy_pack(s, &user).await;
    let opened = s.stripe().dispute(&charge);
    let id = id_of(&opened);
    let on = format!("dispute {id} on charge {charge}: ");
    assert_eq!(detail(s, &opened).await, format!("{on}needs_response: paid features on hold"));
    let won = s.stripe().close_dispute(&id, "won");
    assert_eq!(detail(s, &won).await, format!("{on}closed (won): paid features back on"));
    let reopened = s.stripe().event("charge.dispute.created", opened["data"]["object"].clone());
    assert_eq!(detail(s, &reopened).await, format!("{on}already closed: nothing changed"));

    let other = s.sign_in_new("dispute-words-lost").await;
    let charge = buy_pack(s, &other).await;
    spend(s, other.user_id, 10).await;
    let opened = s.stripe().dispute(&charge);
    let id = id_of(&opened);
    deliver_ok(s, &opened).await;
    let lost = s.stripe().close_dispute(&id, "lost");
    assert_eq!(
        detail(s, &lost).await,
        format!(
            "dispute {id} on charge {charge}: lost; 40 credits taken back, 10 unrecovered (50 of 50 owed)"
        )
    );
    let again = s.stripe().event("charge.dispute.closed", lost["data"]["object"].clone());
    assert_eq!(
        detail(s, &again).await,
        format!("dispute {id} on charge {charge}: already closed: nothing changed")
    );
    assert_eq!(
        notes_taken_back(s, other.user_id).await,
        vec![(-40, "payment of $5.00 charged back".to_string())]
    );
}

async fn a_lost_dispute_of_a_plan_invoice_takes_back_its_allowance(s: &'static Stack) {
    let user = s.sign_in_new("dispute-plan").await;
    let sub = subscribe(s, &user, STARTER).await;
    let renewal = s.stripe().invoice(&sub, true, true);
    deliver_ok(s, &s.stripe().event("invoice.payment_succeeded", renewal.clone())).await;
    assert_eq!(balance(s, user.user_id).await, 200);
    let charge = s.stripe().charge_of_invoice(renewal["id"].as_str().unwrap());
    let opened = s.stripe().dispute(&charge);
    let id = id_of(&opened);
    assert_eq!(deliver_ok(s, &opened).await["outcome"], "applied");
    let lost = s.stripe().close_dispute(&id, "lost");
    assert_eq!(
        detail(s, &lost).await,
        format!(
            "dispute {id} on charge {charge}: lost; 100 credits taken back, 0 unrecovered (100 of 100 owed)"
        )
    );
    assert_eq!(balance(s, user.user_id).await, 100, "the renewal's 100 credits, not the first period's");
    assert_eq!(
        notes_taken_back(s, user.user_id).await,
        vec![(-100, "payment of $9.00 charged back".to_string())]
    );
}

async fn a_plan_invoice_refunded_before_its_payment_is_recorded_writes_nothing_until_stripe_retries(
    s: &'static Stack,
) {
    let user = s.sign_in_new("refund-plan-early").await;
    let sub = subscribe(s, &user, STARTER).await;
    let renewal = s.stripe().invoice(&sub, true, true);
    let charge = s.stripe().charge_of_invoice(renewal["id"].as_str().unwrap());
    let refunded = s.stripe().refund(&charge, 900);
    let (status, _) = s.stripe().deliver(&refunded).await;
    assert_eq!(status, 500, "its invoice is not recorded yet: Stripe is asked to deliver it again");
    let id = refunded["id"].as_str().unwrap();
    assert_eq!(event_row(s, id).await.unwrap().0, "failed");
    let db = s.sql().await;
    let rows = db.query("SELECT 1 FROM charge_reversals WHERE charge_id = $1", &[&charge]).await.unwrap();
    assert!(rows.is_empty(), "nothing half-written");
    deliver_ok(s, &s.stripe().event("invoice.payment_succeeded", renewal.clone())).await;
    assert_eq!(balance(s, user.user_id).await, 200);
    assert_eq!(
        detail(s, &refunded).await,
        format!(
            "charge {charge} refunded $9.00 in all; 100 credits taken back, 0 unrecovered (100 of 100 owed)"
        )
    );
    assert_eq!(event_row(s, id).await.unwrap().1, 2, "Stripe's retry, counted");
    assert_eq!(balance(s, user.user_id).await, 100);
}

/// Delivers the events at the same time; every one must be answered 200.
async fn deliver_at_once(s: &Stack, events: &[Value]) {
    let answers = futures_util::future::join_all(events.iter().map(|e| s.stripe().deliver(e))).await;
    for (status, body) in answers {
        assert_eq!(status, 200, "{body}");
    }
}

async fn two_refunds_of_one_charge_delivered_at_once_take_the_larger_share_once(s: &'static Stack) {
    let user = s.sign_in_new("refund-at-once").await;
    let charge = buy_pack(s, &user).await;
    let first = s.stripe().refund(&charge, 200); // $2.00 in all
    let second = s.stripe().refund(&charge, 100); // $3.00 in all: 30 credits
    deliver_at_once(s, &[second, first]).await;
    assert_eq!(balance(s, user.user_id).await, 20);
    let taken: i64 = notes_taken_back(s, user.user_id).await.iter().map(|(delta, _)| delta).sum();
    assert_eq!(taken, -30);
}

async fn a_refund_and_a_lost_dispute_of_one_charge_at_once_take_the_purchase_back_once(s: &'static Stack) {
    let user = s.sign_in_new("refund-dispute-at-once").await;
    let charge = buy_pack(s, &user).await;
    let opened = s.stripe().dispute(&charge);
    deliver_ok(s, &opened).await;
    let lost = s.stripe().close_dispute(&id_of(&opened), "lost");
    let refunded = s.stripe().refund(&charge, 500);
    deliver_at_once(s, &[lost, refunded]).await;
    assert_eq!(balance(s, user.user_id).await, 0);
    let taken: i64 = notes_taken_back(s, user.user_id).await.iter().map(|(delta, _)| delta).sum();
    assert_eq!(taken, -50, "the purchase's 50 credits, once");
    assert_eq!(reversal(s, &charge).await, (50, 0));
}

/// The settlement runs in the database (one round trip): its share owed and the amounts its
/// words show must be the Worker's (`reversals::owed`, `format_amount`).
async fn the_databases_share_owed_and_amounts_agree_with_the_workers(s: &'static Stack) {
    let db = s.sql().await;
    let cases: [(i64, i64, i64, bool); 12] = [
        (50, 500, 250, false),
        (50, 500, 1, false),
        (50, 500, 500, false),
        (50, 500, 600, false),
        (50, 500, 0, true),
        (50, 500, 0, false),
        (0, 500, 500, false),
        (-5, 500, 500, true),
        (100, 300, 100, false),
        (100, 900, 450, false),
        (7, 3, 1, false),
        (1_000_000, 999_999_999, 333_333_333, false),
    ];
    for (granted, amount, refunded, lost) in cases {
        let row = db
            .query_one("SELECT credits_owed($1, $2, $3, $4)", &[&granted, &amount, &refunded, &lost])
            .await
            .unwrap();
        let sql: i64 = row.get(0);
        assert_eq!(
            sql,
            owed(Credits::new(granted), amount, refunded, lost).get(),
            "owed({granted}, {amount}, {refunded}, {lost})"
        );
    }
    let amounts = [0, 1, 5, 99, 100, 900, 1_000, 99_999, 123_456, 1_234_567, 100_000_000, -500, -1, i64::MAX];
    let currencies = ["usd", "USD", "eur", "gbp", "jpy", "inr", "chf", "krw", "kwd", "bhd", "sek"];
    for minor in amounts {
        for currency in currencies {
            let row = db.query_one("SELECT format_amount($1, $2)", &[&minor, &currency]).await.unwrap();
            let sql: String = row.get(0);
            assert_eq!(sql, format_amount(minor, currency), "format_amount({minor}, {currency})");
        }
    }
}
