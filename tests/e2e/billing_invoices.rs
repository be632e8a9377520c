//! The billing page's invoices and payments (issue 21, part 1): a plan's invoices and a credit
//! pack's purchase alike, with amount and currency, date, status and the links to Stripe's
//! hosted invoice page and receipt, all stored from the webhooks; a pack checkout asks Stripe
//! for its invoice; refunds and discounts are shown as they are; paging by key walks every row
//! once however many arrive meanwhile; and nobody sees another person's payments.

use crate::support::billing::{deliver_ok, page, start_checkout, subscribe};
use crate::support::fakes::stripe::{PACK, STARTER};
use crate::support::session::SignedIn;
use crate::support::Stack;
use crate::trials;
use libtest_mimic::Trial;

pub fn tests() -> Vec<Trial> {
    trials![
        a_pack_checkout_asks_stripe_for_an_invoice_and_a_plan_checkout_does_not,
        a_plans_invoice_and_a_packs_purchase_show_with_amount_status_invoice_and_receipt,
        a_discounted_pack_shows_what_was_paid_and_a_refunded_one_says_so,
        another_users_payments_never_show,
        paging_walks_every_ledger_row_exactly_once_while_new_rows_arrive,
        paging_walks_every_payment_exactly_once,
        a_malformed_page_link_is_a_400,
    ]
}

/// Buys the pack through Checkout and delivers every event Stripe sends; answers the session.
async fn buy_pack(s: &Stack, user: &SignedIn, discount: i64) -> String {
    let session = start_checkout(s, user, PACK).await;
    if discount > 0 {
        s.stripe().discount_session(&session, discount);
    }
    for e in &s.stripe().complete_session(&session, true) {
        deliver_ok(s, e).await;
    }
    session
}

/// The payment's table row on the billing page.
fn payment_row(html: &str, id: &str) -> String {
    let marker = format!("id=\"payment-{id}\"");
    let row = html.split(&marker).nth(1).unwrap_or_else(|| panic!("no row for {id}"));
    row.split("</tr>").next().unwrap().to_string()
}

fn href(row: &str, class: &str) -> Option<String> {
    let at = row.split(&format!("class=\"{class}\" href=\"")).nth(1)?;
    Some(at.split('"').next().unwrap().to_string())
}

async fn a_pack_checkout_asks_stripe_for_an_invoice_and_a_plan_checkout_does_not(s: &'static Stack) {
    let user = s.sign_in_new("invoice-creation").await;
    start_checkout(s, &user, PACK).await;
    start_checkout(s, &user, STARTER).await;
    let marker = format!("metadata[user_id]={}", user.user_id);
    let sent = s.stripe().requests(|r| r.path == "/v1/checkout/sessions" && r.text().contains(&marker));
    assert_eq!(sent.len(), 2, "two checkouts");
    let forms: Vec<Vec<(String, String)>> =
        sent.iter().map(|r| url::form_urlencoded::parse(&r.body).into_owned().collect()).collect();
    let has = |f: &[(String, String)], k: &str, v: &str| f.iter().any(|(a, b)| a == k && b == v);
    let pack = forms.iter().find(|f| has(f, "mode", "payment")).expect("the pack's checkout");
    assert!(has(pack, "invoice_creation[enabled]", "true"), "{pack:?}");
    assert!(has(pack, "invoice_creation[invoice_data][metadata][user_id]", &user.user_id.to_string()));
    let plan = forms.iter().find(|f| has(f, "mode", "subscription")).expect("the plan's checkout");
    assert!(
        !plan.iter().any(|(k, _)| k.starts_with("invoice_creation")),
        "Stripe refuses it outside payment mode"
    );
}

async fn a_plans_invoice_and_a_packs_purchase_show_with_amount_status_invoice_and_receipt(s: &'static Stack) {
    let user = s.sign_in_new("invoices").await;
    let html = page(s, &user, "/billing").await;
    assert!(html.contains("id=\"no-payments\""), "nothing paid yet");
    let sub = subscribe(s, &user, STARTER).await;
    let pack = buy_pack(s, &user, 0).await;
    let stripe = s.stripe();
    let first_invoice = stripe.subscription(&sub)["latest_invoice"].as_str().unwrap().to_string();
    let html = page(s, &user, "/billing").await;
    assert!(html.contains("<th scope=\"col\">Date (UTC)</th>"), "dates name their time zone");

    let row = payment_row(&html, &first_invoice);
    assert!(row.contains("Starter plan, first payment"), "{row}");
    assert!(row.contains("$9.00 USD") && row.contains("<td>Paid</td>"), "{row}");
    let invoice = stripe.invoice_object(&first_invoice);
    assert_eq!(href(&row, "invoice-link"), invoice["hosted_invoice_url"].as_str().map(str::to_string));
    assert!(row.contains(&format!("Invoice {}", invoice["number"].as_str().unwrap())), "{row}");
    let charge = stripe.charge_object(&stripe.charge_of_invoice(&first_invoice));
    assert_eq!(href(&row, "receipt-link"), charge["receipt_url"].as_str().map(str::to_string));

    let row = payment_row(&html, &pack);
    assert!(row.contains("50 credit pack") && row.contains("$5.00 USD") && row.contains(">Paid<"), "{row}");
    let pack_invoice =
        stripe.session(&pack)["invoice"].as_str().expect("Checkout made an invoice").to_string();
    let invoice = stripe.invoice_object(&pack_invoice);
    assert_eq!(href(&row, "invoice-link"), invoice["hosted_invoice_url"].as_str().map(str::to_string));
    let charge = stripe.charge_object(&stripe.charge_of_session(&pack));
    assert_eq!(href(&row, "receipt-link"), charge["receipt_url"].as_str().map(str::to_string));
    // The pack's invoice is a document of the pack, not a second payment.
    assert!(!html.contains(&format!("id=\"payment-{pack_invoice}\"")));
    // The links lead to Stripe's pages.
    for url in [href(&row, "invoice-link").unwrap(), href(&row, "receipt-link").unwrap()] {
        assert_eq!(reqwest::get(&url).await.unwrap().status(), 200, "{url}");
    }

    // A renewal whose payment failed shows as failed, with its invoice and no receipt.
    let failed = stripe.invoice(&sub, true, false);
    deliver_ok(s, &stripe.event("invoice.payment_failed", failed.clone())).await;
    let html = page(s, &user, "/billing").await;
    let row = payment_row(&html, failed["id"].as_str().unwrap());
    assert!(row.contains("Starter plan, renewal") && row.contains("Payment failed"), "{row}");
    assert!(href(&row, "invoice-link").is_some() && href(&row, "receipt-link").is_none(), "{row}");
}

async fn a_discounted_pack_shows_what_was_paid_and_a_refunded_one_says_so(s: &'static Stack) {
    let user = s.sign_in_new("refunded-pack").await;
    let discounted = buy_pack(s, &user, 100).await;
    let refunded = buy_pack(s, &user, 0).await;
    let html = page(s, &user, "/billing").await;
    let row = payment_row(&html, &discounted);
    assert!(row.contains("$4.00 USD") && row.contains("after a $1.00 discount"), "{row}");
    let stripe = s.stripe();
    deliver_ok(s, &stripe.refund(&stripe.charge_of_session(&discounted), 100)).await;
    deliver_ok(s, &stripe.refund(&stripe.charge_of_session(&refunded), 500)).await;
    let html = page(s, &user, "/billing").await;
    assert!(payment_row(&html, &discounted).contains("Partly refunded ($1.00 USD)"));
    let row = payment_row(&html, &refunded);
    assert!(row.contains(">Refunded<") && row.contains("$5.00 USD"), "{row}");
}

async fn another_users_payments_never_show(s: &'static Stack) {
    let alice = s.sign_in_new("payments-alice").await;
    let bob = s.sign_in_new("payments-bob").await;
    let pack = buy_pack(s, &alice, 0).await;
    let sub = subscribe(s, &alice, STARTER).await;
    let invoice = s.stripe().subscription(&sub)["latest_invoice"].as_str().unwrap().to_string();
    let alices = page(s, &alice, "/billing").await;
    assert!(alices.contains(&pack) && alices.contains(&invoice));
    // Bob's pages, from the start and from keys that are Alice's rows.
    let key = format!("{}.{pack}", i64::MAX / 2);
    for path in [
        "/billing".to_string(),
        format!("/billing?payments_before={key}"),
        format!("/billing?payments_after=0.{pack}"),
    ] {
        let html = page(s, &bob, &path).await;
        assert!(!html.contains(&pack) && !html.contains(&invoice), "{path} shows Alice's payments");
        assert!(!html.contains("/receipts/") && !html.contains("/invoices/"), "{path}");
    }
}

/// The ledger notes ("row N") on a billing page, in page order, and its "older"/"newer" links.
fn ledger_notes(html: &str) -> (Vec<String>, Option<String>, Option<String>) {
    let notes =
        html.split("Adjustment · ").skip(1).map(|t| t.split('<').next().unwrap().to_string()).collect();
    let link = |id: &str| {
        let at = html.split(&format!("id=\"{id}\"")).next()?;
        let href = at.rsplit("href=\"").next()?.split('"').next()?;
        html.contains(&format!("id=\"{id}\"")).then(|| href.replace("&amp;", "&"))
    };
    (notes, link("ledger-older"), link("ledger-newer"))
}

async fn add_ledger_rows(s: &Stack, user_id: i64, from: i64, to: i64) {
    let db = s.sql().await;
    for n in from..to {
        let note = format!("row {n}");
        db.execute(
            "WITH entry AS (INSERT INTO credit_ledger (user_id, delta, reason, reference, note)
                 VALUES ($1, 1, 'adjustment', $2, $3) RETURNING delta)
             INSERT INTO credit_balances (user_id, balance) SELECT $1, delta FROM entry
             ON CONFLICT (user_id) DO UPDATE SET balance = credit_balances.balance + 1",
            &[&user_id, &format!("e2e-paging-{user_id}-{n}"), &note],
        )
        .await
        .unwrap();
    }
}

async fn paging_walks_every_ledger_row_exactly_once_while_new_rows_arrive(s: &'static Stack) {
    let user = s.sign_in_new("ledger-paging").await;
    add_ledger_rows(s, user.user_id, 0, 60).await;
    let mut seen: Vec<String> = Vec::new();
    let mut path = "/billing".to_string();
    let mut pages = 0;
    let last_newer = loop {
        let html = page(s, &user, &path).await;
        let (notes, older, newer) = ledger_notes(&html);
        assert!(notes.len() <= 25, "a page holds at most 25 rows");
        seen.extend(notes);
        pages += 1;
        if pages == 1 {
            assert!(newer.is_none(), "the first page has nothing newer");
            // New rows arrive while the customer reads: the next pages are not shifted.
            add_ledger_rows(s, user.user_id, 60, 65).await;
        }
        match older {
            Some(next) => path = next,
            None => break newer,
        }
    };
    assert_eq!(pages, 3);
    let expected: Vec<String> = (0..60).rev().map(|n| format!("row {n}")).collect();
    assert_eq!(seen, expected, "every row once, newest first, none of the new ones");
    // And back: "newer" from the last page leads to the rows before it, then to the new ones.
    let mut back: Vec<String> = Vec::new();
    let mut next = last_newer;
    while let Some(path) = next {
        let (notes, _, newer) = ledger_notes(&page(s, &user, &path).await);
        back.splice(0..0, notes);
        next = newer;
    }
    let expected: Vec<String> = (10..65).rev().map(|n| format!("row {n}")).collect();
    assert_eq!(back, expected, "newer pages reach the rows that arrived, each once");
}

async fn paging_walks_every_payment_exactly_once(s: &'static Stack) {
    let user = s.sign_in_new("payments-paging").await;
    let db = s.sql().await;
    // 23 paid pack checkouts, some at the same second (ties are broken by id).
    let mut ids = Vec::new();
    for n in 0..23 {
        let id = format!("cs_test_paging{}x{n:02}", user.user_id);
        db.execute(
            "INSERT INTO checkout_sessions (id, user_id, mode, price_id, item_name, credits, amount, currency,
                 status, paid_at)
             VALUES ($1, $2, 'payment', 'price_x', 'Pack', 50, 500, 'usd', 'paid',
                 now() - make_interval(secs => $3))",
            &[&id, &user.user_id, &((n / 2) as f64)],
        )
        .await
        .unwrap();
        ids.push(id);
    }
    let mut seen = Vec::new();
    let mut path = "/billing".to_string();
    loop {
        let html = page(s, &user, &path).await;
        seen.extend(html.split("id=\"payment-").skip(1).map(|t| t.split('"').next().unwrap().to_string()));
        let Some(at) =
            html.split("id=\"payments-older\"").next().filter(|_| html.contains("id=\"payments-older\""))
        else {
            break;
        };
        path = at.rsplit("href=\"").next().unwrap().split('"').next().unwrap().to_string();
    }
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), seen.len(), "no payment twice: {seen:?}");
    ids.sort();
    assert_eq!(sorted, ids, "every payment once");
}

async fn a_malformed_page_link_is_a_400(s: &'static Stack) {
    let user = s.sign_in_new("paging-bad").await;
    for q in [
        "ledger_before=abc",
        "ledger_after=-3",
        "payments_before=12",
        "payments_after=x.in_1",
        "ledger_before=1&ledger_after=2",
    ] {
        let res = user.client.get(s.url(&format!("/billing?{q}"))).send().await.unwrap();
        assert_eq!(res.status(), 400, "{q}");
    }
}
