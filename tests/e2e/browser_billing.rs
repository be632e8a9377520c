//! The billing page and the dashboard's usage in a real browser (tests/browser/billing.test.mjs,
//! headless Chromium under the console-error and CSP watch), then what the journeys did checked
//! in Postgres: the pack's charge and invoice stored from the webhooks, one AgentWrite credit.

use crate::browser::run_journeys;
use crate::support::Stack;
use crate::trials;
use libtest_mimic::Trial;

pub fn tests() -> Vec<Trial> {
    trials![the_billing_and_usage_journeys_pass_in_headless_chromium]
}

async fn the_billing_and_usage_journeys_pass_in_headless_chromium(s: &'static Stack) {
    let (r, shots) = run_journeys("tests/browser/billing.test.mjs", &s.url(""), &s.fakes.smtp, &[], 2).await;
    let session = r["session_id"].as_str().expect("a checkout session id");
    let db = s.sql().await;
    let row = db
        .query_one(
            "SELECT k.invoice_id IS NOT NULL, (SELECT count(*) FROM charges c WHERE c.payment_intent = k.payment_intent)
             FROM checkout_sessions k WHERE k.id = $1",
            &[&session],
        )
        .await
        .unwrap();
    assert!(row.get::<_, bool>(0), "the pack's invoice is linked to its checkout");
    assert_eq!(row.get::<_, i64>(1), 1, "its charge (with the receipt) is stored once");
    let shots_taken = std::fs::read_dir(&shots).unwrap().count();
    assert!(shots_taken >= 10, "screenshots at both widths, light and dark: {shots_taken}");
}
