//! The mail a paying customer gets about billing: a failed payment (with the way to update the
//! card) and a renewal (with the allowance granted), each with text and HTML parts, each sent
//! once however often Stripe delivers the event, and never at the cost of the webhook's answer
//! when the mail server hangs or is down (the notice is sent later: after the next applied
//! event, or by the scheduled sweep).

use crate::auth_account::delete_account;
use crate::support::billing::{balance, deliver_ok, location, page, post_form, subscribe};
use crate::support::fakes::stripe::STARTER;
use crate::support::sign_in::{html_of, mail_settled, text_of};
use crate::support::smtp::{Mode, SmtpSink};
use crate::support::{Fakes, Options, Stack};
use crate::trials;
use libtest_mimic::Trial;
use std::time::{Duration, Instant};

pub fn tests() -> Vec<Trial> {
    trials![
        a_failed_payment_mails_the_customer_once_with_the_way_to_update_the_card,
        a_renewal_mails_the_allowance_granted_once_and_a_first_payment_mails_nothing,
        a_mail_server_that_hangs_or_is_down_never_delays_the_webhook_and_the_notice_goes_out_later_once,
    ]
}

const FAILED: &str = "payment failed";
const RENEWED: &str = "plan renewed";

/// Fires the Cron Trigger (`wrangler dev --test-scheduled`) and waits for the handler.
async fn fire_cron(s: &Stack) {
    let res = reqwest::get(s.url("/__scheduled?cron=*/10+*+*+*+*")).await.unwrap();
    assert_eq!(res.status(), 200, "scheduled event ran");
}

/// Returns once no notice of `user_id` is still due or held by a sender, and every mail sent
/// before has reached the sink: then a second mail that came would be counted.
async fn settle(s: &Stack, user_id: i64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let open: i64 = s
            .sql()
            .await
            .query_one(
                "SELECT count(*) FROM customer_notices WHERE user_id = $1
                 AND ((sent_at IS NULL AND dropped_at IS NULL) OR claimed_until > now())",
                &[&user_id],
            )
            .await
            .unwrap()
            .get(0);
        if open == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "{open} notices of user {user_id} never settled");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    mail_settled(s).await;
}

async fn notice_row(s: &Stack, kind: &str, invoice_id: &str) -> (i32, Option<String>, bool) {
    let row = s
        .sql()
        .await
        .query_one(
            "SELECT attempts, last_error, sent_at IS NOT NULL FROM customer_notices
             WHERE kind = $1 AND about = $2",
            &[&kind, &invoice_id],
        )
        .await
        .unwrap();
    (row.get(0), row.get(1), row.get(2))
}

async fn a_failed_payment_mails_the_customer_once_with_the_way_to_update_the_card(s: &'static Stack) {
    let user = s.sign_in_new("notice-failed").await;
    let sub = subscribe(s, &user, STARTER).await;
    let invoice = s.stripe().invoice(&sub, true, false);
    let failed = s.stripe().event("invoice.payment_failed", invoice.clone());
    assert_eq!(deliver_ok(s, &failed).await["outcome"], "applied");
    let mail =
        s.fakes.smtp.wait_for_mail_about(&user.email, FAILED, 10).await.expect("the payment-failed mail");
    let billing = s.url("/billing");
    let (text, html) = (text_of(&mail), html_of(&mail));
    for part in [&text, &html] {
        assert!(part.contains(&billing) && part.contains("Manage subscription"), "{part}");
        assert!(part.contains("$9.00") && part.contains("Starter"), "says what failed: {part}");
    }
    assert!(html.contains(&format!("href=\"{billing}\"")), "the HTML part links the billing page");
    // The link leads to the page whose button opens Stripe's portal (a fresh session each time).
    let page_html = page(s, &user, "/billing").await;
    assert!(page_html.contains("Manage subscription") && page_html.contains("id=\"past-due\""));
    let portal = post_form(s, &user, "/billing/portal", &[]).await;
    assert_eq!(portal.status(), 303);
    assert!(location(&portal).contains("/portal/"), "{}", location(&portal));
    // The same event again, an operator's replay of it, and Stripe's next failed attempt at the
    // same invoice: no second mail.
    assert_eq!(deliver_ok(s, &failed).await["outcome"], "duplicate");
    deliver_ok(s, &s.stripe().event("invoice.payment_failed", invoice.clone())).await;
    settle(s, user.user_id).await;
    assert_eq!(s.fakes.smtp.mails_about(&user.email, FAILED).len(), 1, "one mail per failed invoice");
    assert_eq!(notice_row(s, "payment_failed", invoice["id"].as_str().unwrap()).await, (1, None, true));
}

async fn a_renewal_mails_the_allowance_granted_once_and_a_first_payment_mails_nothing(s: &'static Stack) {
    let user = s.sign_in_new("notice-renewed").await;
    let sub = subscribe(s, &user, STARTER).await;
    let renewal = s.stripe().invoice(&sub, true, true);
    let paid = s.stripe().event("invoice.payment_succeeded", renewal.clone());
    assert_eq!(deliver_ok(s, &paid).await["outcome"], "applied");
    assert_eq!(balance(s, user.user_id).await, 200);
    let mail = s.fakes.smtp.wait_for_mail_about(&user.email, RENEWED, 10).await.expect("the renewal mail");
    assert!(mail.subject().contains("100 credits added"), "{}", mail.subject());
    for part in [text_of(&mail), html_of(&mail)] {
        assert!(part.contains("100 credits") && part.contains("200"), "allowance and balance: {part}");
        assert!(part.contains("Starter") && part.contains("$9.00"), "{part}");
        assert!(part.contains("The next renewal is on"), "{part}");
    }
    // Redelivered, and another event about the same invoice: still one mail.
    assert_eq!(deliver_ok(s, &paid).await["outcome"], "duplicate");
    deliver_ok(s, &s.stripe().event("invoice.payment_succeeded", renewal)).await;
    settle(s, user.user_id).await;
    assert_eq!(s.fakes.smtp.mails_about(&user.email, RENEWED).len(), 1, "one mail per renewal");
    assert!(s.fakes.smtp.mails_about(&user.email, FAILED).is_empty());
    // The subscription's first payment (subscribe above) is not a renewal: it mailed nothing.
    assert_eq!(s.fakes.smtp.mails_to(&user.email).len(), 1, "only the renewal");
}

async fn a_mail_server_that_hangs_or_is_down_never_delays_the_webhook_and_the_notice_goes_out_later_once(
    _: &'static Stack,
) {
    let sink = SmtpSink::start(Mode::Accept).await;
    let s = Stack::start(Options {
        fakes: Some(Fakes::with_smtp(sink).await),
        ..Options::named("notices-smtp-hangs")
    })
    .await;
    let user = s.sign_in_new("notice-later").await;
    let sub = subscribe(&s, &user, STARTER).await;
    s.fakes.smtp.stall(true);
    let invoice = s.stripe().invoice(&sub, true, false);
    let started = Instant::now();
    assert_eq!(
        deliver_ok(&s, &s.stripe().event("invoice.payment_failed", invoice.clone())).await["outcome"],
        "applied"
    );
    let took = started.elapsed();
    // The SMTP conversation's own deadline is 20 s; the answer does not wait for it.
    assert!(took < Duration::from_secs(5), "the webhook answered in {took:?}");
    let id = invoice["id"].as_str().unwrap();
    // The attempt ends at the SMTP deadline; the notice stays due, with the reason, and the log
    // says so.
    let deadline = Instant::now() + Duration::from_secs(40);
    while !s.worker.log_text().contains("retried later") {
        assert!(Instant::now() < deadline, "the failed attempt is logged:\n{}", s.worker.log_text());
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let (attempts, error, sent) = notice_row(&s, "payment_failed", id).await;
    assert_eq!((attempts, sent), (1, false));
    assert!(error.unwrap_or_default().contains("did not finish"), "the reason is kept");
    assert!(s.fakes.smtp.mails_about(&user.email, FAILED).is_empty());
    // The mail server is back; the next applied event sends what is due.
    s.fakes.smtp.stall(false);
    let updated = s.stripe().update_subscription(&sub, |_| {});
    deliver_ok(&s, &s.stripe().event("customer.subscription.updated", updated)).await;
    let mail =
        s.fakes.smtp.wait_for_mail_about(&user.email, FAILED, 15).await.expect("sent after the later event");
    assert!(text_of(&mail).contains(&s.url("/billing")));
    settle(&s, user.user_id).await;
    assert_eq!(s.fakes.smtp.mails_about(&user.email, FAILED).len(), 1);
    assert_eq!(notice_row(&s, "payment_failed", id).await, (2, None, true));
    // The mail server is down (refusing) when the renewal is paid; no later event comes: the
    // scheduled sweep (the Cron Trigger) sends it once the server is back.
    s.fakes.smtp.refuse(true);
    let renewal = s.stripe().pay_invoice(id);
    let renewal_id = renewal["id"].as_str().unwrap().to_string();
    deliver_ok(&s, &s.stripe().event("invoice.payment_succeeded", renewal)).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while notice_row(&s, "plan_renewed", &renewal_id).await.1.is_none() {
        assert!(Instant::now() < deadline, "the refused attempt is recorded");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    s.fakes.smtp.refuse(false);
    fire_cron(&s).await;
    let mail = s.fakes.smtp.wait_for_mail_about(&user.email, RENEWED, 15).await.expect("sent by the sweep");
    assert!(text_of(&mail).contains("100 credits"));
    fire_cron(&s).await;
    settle(&s, user.user_id).await;
    assert_eq!(s.fakes.smtp.mails_about(&user.email, RENEWED).len(), 1, "sent once");
    // Deleting the account while the mail server hangs: the answer does not wait for the
    // goodbye mail, which is dropped (the address is kept nowhere to try again with).
    s.fakes.smtp.stall(true);
    let started = Instant::now();
    assert_eq!(delete_account(&s, &user).await.status(), 200);
    assert!(started.elapsed() < Duration::from_secs(5), "deleted in {:?}", started.elapsed());
    let deadline = Instant::now() + Duration::from_secs(40);
    while !s.worker.log_text().contains("account deletion mail to example.test not sent (dropped)") {
        assert!(Instant::now() < deadline, "the dropped goodbye is logged:\n{}", s.worker.log_text());
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
