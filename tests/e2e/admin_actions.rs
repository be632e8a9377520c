//! What an operator does to an account from the console, played as the operator and as an
//! attacker: deducting credits (never below zero, once per form), suspending and restoring (a
//! suspended account reads but cannot run tools or buy, and is told why), replaying a failed
//! Stripe event fetched again from Stripe, and the audit log every action writes.

use crate::admin_console::{admin, table};
use crate::support::billing::{
    balance, checkout, deliver_ok, event_row, find, location, page, post_form, start_checkout,
    subscription_row,
};
use crate::support::fakes::stripe::{Fault, PACK, STARTER};
use crate::support::session::SignedIn;
use crate::support::tools::{brief, generations_of, unique};
use crate::support::Stack;
use crate::trials;
use libtest_mimic::Trial;

pub fn tests() -> Vec<Trial> {
    trials![
        a_deduction_writes_one_adjustment_row_with_the_reason_and_an_audit_row,
        a_deduction_sent_twice_deducts_once,
        a_deduction_below_zero_or_malformed_is_refused_naming_the_field_and_writes_nothing,
        a_suspended_account_reads_but_cannot_run_tools_or_buy_and_is_told_why_until_restored,
        every_operator_action_is_in_the_audit_log_shown_in_the_console,
        a_failed_webhook_event_is_replayed_from_stripe_through_the_delivery_path,
        an_event_that_did_not_fail_is_not_replayed,
        a_non_operator_posting_console_actions_gets_the_404_and_nothing_changes,
        console_actions_need_the_forms_csrf_token,
    ]
}

fn field_in(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let at = html.find(&marker).unwrap_or_else(|| panic!("field {name}")) + marker.len();
    html[at..].split('"').next().unwrap().to_string()
}

async fn with_credits(s: &Stack, user: &SignedIn, credits: i64) {
    let db = s.sql().await;
    db.execute("INSERT INTO credit_balances (user_id, balance) VALUES ($1, $2)", &[&user.user_id, &credits])
        .await
        .unwrap();
    db.execute(
        "INSERT INTO credit_ledger (user_id, delta, reason, reference) VALUES ($1, $2, 'purchase', $3)",
        &[&user.user_id, &credits, &format!("test-credits-{}", user.user_id)],
    )
    .await
    .unwrap();
}

async fn adjustments(s: &Stack, user_id: i64) -> Vec<(i64, Option<String>)> {
    let db = s.sql().await;
    db.query(
        "SELECT delta, note FROM credit_ledger WHERE user_id = $1 AND reason = 'adjustment' ORDER BY id",
        &[&user_id],
    )
    .await
    .unwrap()
    .iter()
    .map(|r| (r.get(0), r.get(1)))
    .collect()
}

/// (operator email, action, detail) of the audit rows about an account, oldest first.
async fn audit_rows(s: &Stack, user_id: i64) -> Vec<(String, String, String)> {
    let db = s.sql().await;
    db.query(
        "SELECT admin_email, action, detail FROM admin_audit WHERE user_id = $1 ORDER BY id",
        &[&user_id],
    )
    .await
    .unwrap()
    .iter()
    .map(|r| (r.get(0), r.get(1), r.get(2)))
    .collect()
}

async fn deduct(s: &Stack, ops: &SignedIn, user: &SignedIn, amount: &str, reason: &str) -> reqwest::Response {
    let html = page(s, ops, &format!("/admin/users/{}", user.user_id)).await;
    let reference = field_in(&html, "reference");
    let path = format!("/admin/users/{}/deduct", user.user_id);
    post_form(s, ops, &path, &[("amount", amount), ("reason", reason), ("reference", &reference)]).await
}

async fn a_deduction_writes_one_adjustment_row_with_the_reason_and_an_audit_row(s: &'static Stack) {
    let ops = admin(s).await;
    let user = s.sign_in_new("deducted").await;
    with_credits(s, &user, 40).await;
    let res = deduct(s, &ops, &user, "15", "Double grant on 3 May").await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), format!("/admin/users/{}", user.user_id));
    assert_eq!(adjustments(s, user.user_id).await, vec![(-15, Some("Double grant on 3 May".to_string()))]);
    assert_eq!(balance(s, user.user_id).await, 25);
    let after = page(s, &ops, &location(&res)).await;
    assert!(after.contains("Credits deducted: 15 (balance now 25)."), "a flash says so");
    let audit = audit_rows(s, user.user_id).await;
    assert_eq!(
        audit,
        vec![(ops.email.clone(), "deduct".into(), "-15 credits: Double grant on 3 May".into())]
    );
    assert!(
        page(s, &user, "/billing").await.contains("Adjustment · Double grant on 3 May"),
        "the user sees why"
    );
}

async fn a_deduction_sent_twice_deducts_once(s: &'static Stack) {
    let ops = admin(s).await;
    let user = s.sign_in_new("deducted-twice").await;
    with_credits(s, &user, 40).await;
    let html = page(s, &ops, &format!("/admin/users/{}", user.user_id)).await;
    let reference = field_in(&html, "reference");
    let path = format!("/admin/users/{}/deduct", user.user_id);
    let fields = [("amount", "10"), ("reason", "Goodwill reversed"), ("reference", reference.as_str())];
    let (a, b) = tokio::join!(post_form(s, &ops, &path, &fields), post_form(s, &ops, &path, &fields));
    assert_eq!((a.status().as_u16(), b.status().as_u16()), (303, 303));
    assert_eq!(adjustments(s, user.user_id).await.len(), 1);
    assert_eq!(balance(s, user.user_id).await, 30);
    assert_eq!(audit_rows(s, user.user_id).await.len(), 1, "one action, one audit row");
}

async fn a_deduction_below_zero_or_malformed_is_refused_naming_the_field_and_writes_nothing(
    s: &'static Stack,
) {
    let ops = admin(s).await;
    let user = s.sign_in_new("overdrawn").await;
    with_credits(s, &user, 5).await;
    for (amount, reason, field, message) in [
        ("6", "too much", "deduct-amount", "The account has 5 credits"),
        ("0", "x", "deduct-amount", "whole number of credits"),
        ("-3", "x", "deduct-amount", "whole number of credits"),
        ("2", "", "deduct-reason", "Say why"),
    ] {
        let res = deduct(s, &ops, &user, amount, reason).await;
        assert_eq!(res.status(), 400, "{amount} {reason:?}");
        let html = res.text().await.unwrap();
        assert!(html.contains(message), "{field}: {message}");
        let input = html.split(&format!("id=\"{field}\"")).nth(1).unwrap().split('>').next().unwrap();
        assert!(input.contains("aria-invalid=\"true\""), "{field}: {input}");
    }
    let path = format!("/admin/users/{}/deduct", user.user_id);
    let res = post_form(s, &ops, &path, &[("amount", "1"), ("reason", "x"), ("reference", "short")]).await;
    assert_eq!(res.status(), 400, "a form without its reference");
    let empty = s.sign_in_new("overdrawn-empty").await;
    assert_eq!(deduct(s, &ops, &empty, "1", "nothing there").await.status(), 400, "no balance at all");
    assert!(adjustments(s, user.user_id).await.is_empty() && adjustments(s, empty.user_id).await.is_empty());
    assert_eq!(balance(s, user.user_id).await, 5);
    assert!(audit_rows(s, user.user_id).await.is_empty(), "refusals are not actions");
}

async fn run_agentwrite(s: &Stack, user: &SignedIn) -> (u16, String, bool) {
    let name = format!("Suspended {}", unique());
    let res = crate::support::tools::post_form(s, user, "/tools/agentwrite", &brief(&name)).await;
    let status = res.status().as_u16();
    (status, res.text().await.unwrap(), !s.fakes.openai.chats_mentioning(&name).is_empty())
}

async fn a_suspended_account_reads_but_cannot_run_tools_or_buy_and_is_told_why_until_restored(
    s: &'static Stack,
) {
    let ops = admin(s).await;
    let user = s.sign_in_new("suspended").await;
    with_credits(s, &user, 20).await;
    // A billing account from before: the portal (which switches plans) would open.
    start_checkout(s, &user, PACK).await;
    let path = format!("/admin/users/{}/suspend", user.user_id);
    let res = post_form(s, &ops, &path, &[("reason", "Card testing from this account")]).await;
    assert_eq!(res.status(), 303);
    let (status, body, asked) = run_agentwrite(s, &user).await;
    assert_eq!((status, asked), (403, false), "no tool runs while suspended");
    assert!(body.contains("Your account is suspended"), "the refusal says why");
    // The hold is checked inside the start's transaction: the refusal leaves no run behind.
    let runs = generations_of(s, user.user_id).await;
    assert_eq!(runs, 0, "a refused start records nothing");
    let res = checkout(s, &user, PACK, "").await;
    assert_eq!(res.status(), 403, "no buying either");
    assert!(res.text().await.unwrap().contains("Your account is suspended"));
    let res = post_form(s, &user, "/billing/portal", &[]).await;
    assert_eq!(res.status(), 403, "nor changing plan in the portal");
    assert!(res.text().await.unwrap().contains("Your account is suspended"));
    for read in ["/dashboard", "/history", "/account"] {
        let res = user.client.get(s.url(read)).send().await.unwrap();
        assert_eq!(res.status(), 200, "{read} still reads");
    }
    assert!(
        page(s, &user, "/billing").await.contains("Your account is suspended"),
        "the billing page says so"
    );
    let console = page(s, &ops, &format!("/admin/users/{}", user.user_id)).await;
    assert!(console.contains("Suspended</strong>: Card testing from this account"));
    assert!(page(s, &ops, &format!("/admin?q={}", user.email)).await.contains("class=\"suspended\""));
    assert_eq!(balance(s, user.user_id).await, 20, "a suspension takes nothing");
    let again = post_form(s, &ops, &path, &[("reason", "twice")]).await;
    assert_eq!(again.status(), 303, "suspending twice changes nothing");
    let restore = format!("/admin/users/{}/restore", user.user_id);
    assert_eq!(post_form(s, &ops, &restore, &[]).await.status(), 303);
    let (status, _, asked) = run_agentwrite(s, &user).await;
    assert_eq!((status, asked), (303, true), "tools work again");
    assert!(!page(s, &user, "/billing").await.contains("Your account is suspended"));
    start_checkout(s, &user, PACK).await;
    assert_eq!(post_form(s, &user, "/billing/portal", &[]).await.status(), 303, "the portal opens again");
    let actions: Vec<String> = audit_rows(s, user.user_id).await.into_iter().map(|a| a.1).collect();
    assert_eq!(actions, vec!["suspend", "restore"], "the second suspension was not an action");
    let res = post_form(s, &ops, &path, &[("reason", "")]).await;
    assert_eq!(res.status(), 400, "a suspension needs a reason");
    assert!(res.text().await.unwrap().contains("id=\"suspend-error\""));
}

async fn every_operator_action_is_in_the_audit_log_shown_in_the_console(s: &'static Stack) {
    let ops = admin(s).await;
    let user = s.sign_in_new("audited").await;
    let console = page(s, &ops, "/admin").await;
    let reference = field_in(&console, "reference");
    let grant = [
        ("email", user.email.as_str()),
        ("amount", "12"),
        ("reason", "Audit goodwill"),
        ("reference", &reference),
    ];
    assert_eq!(post_form(s, &ops, "/admin/grant", &grant).await.status(), 303);
    assert_eq!(deduct(s, &ops, &user, "2", "Audit correction").await.status(), 303);
    let suspend = format!("/admin/users/{}/suspend", user.user_id);
    assert_eq!(post_form(s, &ops, &suspend, &[("reason", "Audit suspension")]).await.status(), 303);
    let restore = format!("/admin/users/{}/restore", user.user_id);
    assert_eq!(post_form(s, &ops, &restore, &[]).await.status(), 303);
    let audit = audit_rows(s, user.user_id).await;
    let expected = [
        ("grant", "+12 credits: Audit goodwill"),
        ("deduct", "-2 credits: Audit correction"),
        ("suspend", "Audit suspension"),
        ("restore", "suspension lifted"),
    ];
    assert_eq!(audit.len(), 4, "{audit:?}");
    for ((who, action, detail), (want_action, want_detail)) in audit.iter().zip(expected) {
        assert_eq!((who, action.as_str(), detail.as_str()), (&ops.email, want_action, want_detail));
    }
    let html = page(s, &ops, "/admin").await;
    let log = table(&html, "audit");
    let ours: Vec<&str> = log.split("<tr").filter(|r| r.contains(&user.email)).collect();
    assert_eq!(ours.len(), 4, "the console shows who, what and when: {log}");
    assert!(ours[0].contains("class=\"audit-restore\"") && ours[0].contains(&ops.email), "newest first");
    assert!(
        ours.iter().all(|r| r.contains(&format!("<td>{} ", crate::admin_console::today()))),
        "with the time"
    );
    let own = page(s, &ops, &format!("/admin/users/{}", user.user_id)).await;
    assert_eq!(table(&own, "audit").matches("<tr class=").count(), 4, "and on the account's page");
}

/// A subscription's `created` event that failed while Stripe could not be read: answers it.
async fn failed_event(s: &Stack, prefix: &str) -> (serde_json::Value, String) {
    let user = s.sign_in_new(prefix).await;
    let session = start_checkout(s, &user, STARTER).await;
    let events = s.stripe().complete_session(&session, true);
    let created = find(&events, "customer.subscription.created").clone();
    let sub = created["data"]["object"]["id"].as_str().unwrap().to_string();
    s.stripe().add_fault(Fault::new("GET", format!("/v1/subscriptions/{sub}"), 503).times(3));
    let (status, _) = s.stripe().deliver(&created).await;
    assert!(status >= 500, "the delivery failed: {status}");
    (created, sub)
}

async fn a_failed_webhook_event_is_replayed_from_stripe_through_the_delivery_path(s: &'static Stack) {
    let ops = admin(s).await;
    let (created, sub) = failed_event(s, "replayed").await;
    let id = created["id"].as_str().unwrap().to_string();
    assert_eq!(event_row(s, &id).await.unwrap().0, "failed");
    assert_eq!(subscription_row(s, &sub).await, None);
    let console = page(s, &ops, "/admin").await;
    assert!(
        console.contains(&format!("action=\"/admin/events/{id}/replay\"")),
        "a failed event can be replayed"
    );
    let res = post_form(s, &ops, &format!("/admin/events/{id}/replay"), &[]).await;
    assert_eq!(res.status(), 303);
    let fetched = s.stripe().requests(|r| r.method == "GET" && r.path == format!("/v1/events/{id}"));
    assert_eq!(fetched.len(), 1, "the event is read again from Stripe");
    let (outcome, attempts, _) = event_row(s, &id).await.unwrap();
    assert_eq!((outcome.as_str(), attempts), ("applied", 2));
    assert_eq!(subscription_row(s, &sub).await, Some(("active".into(), "starter".into(), false)));
    let after = page(s, &ops, &location(&res)).await;
    assert!(after.contains(&format!("Event {id} replayed: applied")), "a flash says so");
    assert!(!after.contains(&format!("action=\"/admin/events/{id}/replay\"")), "applied: no more replay");
    let db = s.sql().await;
    let audit: Vec<(String, String)> = db
        .query(
            "SELECT admin_email, detail FROM admin_audit WHERE action = 'replay' AND detail LIKE $1",
            &[&format!("{id}:%")],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(audit.len(), 1, "{audit:?}");
    assert!(audit[0].0 == ops.email && audit[0].1.contains("applied"), "{audit:?}");
    // Stripe's own retry now finds it handled: applied once.
    assert_eq!(deliver_ok(s, &created).await["outcome"], "duplicate");
}

async fn an_event_that_did_not_fail_is_not_replayed(s: &'static Stack) {
    let ops = admin(s).await;
    let (created, _) = failed_event(s, "replay-twice").await;
    let id = created["id"].as_str().unwrap().to_string();
    assert_eq!(deliver_ok(s, &created).await["outcome"], "applied");
    for target in [id.as_str(), "evt_never_received", "not-an-event"] {
        let res = post_form(s, &ops, &format!("/admin/events/{target}/replay"), &[]).await;
        assert_eq!(res.status(), 400, "{target}");
    }
    assert_eq!(event_row(s, &id).await.unwrap().1, 2, "not applied again");
    let fetched = s.stripe().requests(|r| r.path == format!("/v1/events/{id}"));
    assert!(fetched.is_empty(), "nothing asked of Stripe");
}

async fn a_non_operator_posting_console_actions_gets_the_404_and_nothing_changes(s: &'static Stack) {
    let attacker = s.sign_in_new("console-attacker").await;
    let victim = s.sign_in_new("console-victim").await;
    with_credits(s, &victim, 30).await;
    let (failed, sub) = failed_event(s, "console-attacker-event").await;
    let event = failed["id"].as_str().unwrap().to_string();
    let v = victim.user_id;
    let reference = "0123456789abcdef0123";
    for (path, fields) in [
        (
            format!("/admin/users/{v}/deduct"),
            vec![("amount", "30"), ("reason", "mine"), ("reference", reference)],
        ),
        (format!("/admin/users/{v}/suspend"), vec![("reason", "mine")]),
        (format!("/admin/users/{v}/restore"), vec![]),
        (format!("/admin/events/{event}/replay"), vec![]),
    ] {
        let res = post_form(s, &attacker, &path, &fields).await;
        assert_eq!(res.status(), 404, "{path}");
        let html = res.text().await.unwrap();
        assert!(html.contains("Page not found") && !html.to_lowercase().contains("operator"), "{path}");
        let res = s.http.post(s.url(&path)).form(&fields).send().await.unwrap();
        assert_eq!(res.status(), 404, "{path} signed out");
    }
    let res = attacker.client.get(s.url(&format!("/admin/users/{v}"))).send().await.unwrap();
    assert_eq!(res.status(), 404);
    assert_eq!(balance(s, v).await, 30);
    assert!(adjustments(s, v).await.is_empty() && audit_rows(s, v).await.is_empty());
    assert_eq!(run_agentwrite(s, &victim).await.0, 303, "the victim was not suspended");
    assert_eq!(event_row(s, &event).await.unwrap().0, "failed");
    assert_eq!(subscription_row(s, &sub).await, None, "the event was not replayed");
}

async fn console_actions_need_the_forms_csrf_token(s: &'static Stack) {
    let ops = admin(s).await;
    let user = s.sign_in_new("console-csrf").await;
    with_credits(s, &user, 30).await;
    let u = user.user_id;
    for path in [format!("/admin/users/{u}/deduct"), format!("/admin/users/{u}/suspend")] {
        let fields = [("amount", "5"), ("reason", "x"), ("reference", "0123456789abcdef0123")];
        let res = ops
            .client
            .post(s.url(&path))
            .form(&[fields.as_slice(), &[("csrf", "bad")]].concat())
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 403, "{path}: a wrong token");
        let res = ops
            .client
            .post(s.url(&path))
            .header("origin", "https://evil.example")
            .form(&[fields.as_slice(), &[("csrf", ops.csrf.as_str())]].concat())
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 403, "{path}: another site's form");
    }
    assert_eq!(balance(s, u).await, 30);
    assert!(adjustments(s, u).await.is_empty() && audit_rows(s, u).await.is_empty());
}
