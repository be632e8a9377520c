//! `POST /account/export`: everything we hold about the user as one JSON file, only for the
//! signed-in user's own form, limited per user.

use crate::auth_account_erasure::user_references;
use crate::support::billing::subscribe;
use crate::support::fakes::stripe::PRO;
use crate::support::session::SignedIn;
use crate::support::tools::{brief, grant, post_form, unique, upload, wav};
use crate::support::Stack;
use crate::trials;
use libtest_mimic::Trial;
use serde_json::Value;

pub fn tests() -> Vec<Trial> {
    trials![
        an_export_holds_everything_we_keep_about_the_user_and_nothing_of_others,
        an_export_needs_the_forms_token_from_this_site_and_a_post,
        exports_are_limited_per_user,
        every_table_that_references_a_user_is_exported_or_says_why_not,
        an_export_holds_suspension_refunds_disputes_notices_uploads_operator_notes_and_the_stripe_customer,
        a_long_history_reaches_the_export_whole_across_many_reads_of_the_database_socket,
    ]
}

async fn export(s: &Stack, user: &SignedIn) -> reqwest::Response {
    post_form(s, user, "/account/export", &[]).await
}

async fn an_export_holds_everything_we_keep_about_the_user_and_nothing_of_others(s: &'static Stack) {
    let marker = format!("xp{}", unique());
    let user = s.sign_in_new("export").await;
    grant(s, user.user_id, 20).await;
    assert_eq!(
        post_form(s, &user, "/tools/agentwrite", &brief(&format!("Tent {marker}"))).await.status(),
        303
    );
    let res =
        upload(s, &user, "/tools/podscribe", &format!("episode-{marker}.wav"), wav(30), "audio/wav").await;
    assert_eq!(res.status(), 303);
    subscribe(s, &user, PRO).await;
    let other = s.sign_in_new("export-other").await;
    grant(s, other.user_id, 5).await;
    let others = format!("xo{}", unique());
    assert_eq!(
        post_form(s, &other, "/tools/agentwrite", &brief(&format!("Lamp {others}"))).await.status(),
        303
    );

    let res = export(s, &user).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/json");
    let disposition = res.headers()["content-disposition"].to_str().unwrap().to_string();
    assert!(
        disposition.starts_with("attachment; filename=\"ghosttools-data-")
            && disposition.ends_with(".json\"")
    );
    assert_eq!(res.headers()["cache-control"], "no-store");
    let text = res.text().await.unwrap();
    assert!(!text.contains(&others) && !text.contains(&other.email), "nothing of another user");
    let data: Value = serde_json::from_str(&text).expect("one JSON document");
    assert_eq!(data["format"], "ghosttools-export-1");
    assert_eq!(data["account"]["email"], user.email.as_str());
    assert_eq!(data["account"]["id"], user.user_id);
    let generation = &data["generations"][0];
    assert_eq!(generation["product_name"], format!("Tent {marker}").as_str());
    assert_eq!(generation["brief"]["product_name"], format!("Tent {marker}").as_str(), "the brief itself");
    assert!(generation["output"].as_str().is_some_and(|o| !o.is_empty()), "the description written");
    let transcript = &data["transcripts"][0];
    assert!(transcript["file_name"].as_str().unwrap().contains(&marker));
    assert!(transcript["text"].as_str().is_some_and(|t| !t.is_empty()));
    assert!(transcript["segments"].as_array().is_some_and(|s| !s.is_empty()), "segments");
    assert!(!transcript["notes"].is_null(), "show notes");
    let reasons: Vec<&str> =
        data["credit_ledger"].as_array().unwrap().iter().map(|l| l["reason"].as_str().unwrap()).collect();
    for reason in ["agentwrite", "podscribe"] {
        assert!(reasons.contains(&reason), "the ledger lists {reason}: {reasons:?}");
    }
    assert!(data["credit_balance"].as_i64().is_some());
    assert_eq!(data["subscriptions"][0]["plan"], "pro");
    assert!(!data["purchases"].as_array().unwrap().is_empty(), "the checkout is listed");
    assert!(!data["sessions"].as_array().unwrap().is_empty(), "sessions are listed");
    for key in ["linked_accounts", "invoices", "affiliate"] {
        assert!(data[key].is_array(), "{key} is listed (maybe empty)");
    }
}

async fn an_export_needs_the_forms_token_from_this_site_and_a_post(s: &'static Stack) {
    let user = s.sign_in_new("export-csrf").await;
    let res = user.client.post(s.url("/account/export")).form(&[("csrf", "0000")]).send().await.unwrap();
    assert_eq!(res.status(), 403, "without this session's token");
    let res = user
        .client
        .post(s.url("/account/export"))
        .header("origin", "https://evil.example")
        .form(&[("csrf", user.csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403, "from another site");
    assert!(!res.text().await.unwrap().contains(&user.email));
    let res = user.client.get(s.url("/account/export")).send().await.unwrap();
    assert_eq!(res.status(), 405, "a link or an image cannot download it");
    let res = s
        .browser()
        .post(s.url("/account/export"))
        .form(&[("csrf", user.csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert!(
        res.status() == 403 || res.status() == 303,
        "a signed-out visitor gets nothing: {}",
        res.status()
    );
}

async fn exports_are_limited_per_user(s: &'static Stack) {
    let user = s.sign_in_new("export-limit").await;
    for n in 1..=5 {
        assert_eq!(export(s, &user).await.status(), 200, "export {n} of the hour");
    }
    let res = export(s, &user).await;
    assert_eq!(res.status(), 429, "the sixth in an hour is refused");
    assert!(res.headers().get("retry-after").is_some());
    let other = s.sign_in_new("export-limit-other").await;
    assert_eq!(export(s, &other).await.status(), 200, "counted per user");
}

/// Every (table, column) referencing `users` that the export reads, with the key it lands under.
const EXPORTED: &[(&str, &str, &str)] = &[
    ("admin_audit", "user_id", "account_actions"),
    ("affiliates", "user_id", "affiliate"),
    ("billing_customers", "user_id", "stripe_customer"),
    ("charge_reversals", "user_id", "refunds"),
    ("charges", "user_id", "charges"),
    ("checkout_sessions", "user_id", "purchases"),
    ("credit_balances", "user_id", "credit_balance"),
    ("credit_ledger", "user_id", "credit_ledger"),
    ("customer_notices", "user_id", "billing_notices"),
    ("disputes", "user_id", "disputes"),
    ("email_changes", "user_id", "pending_email_changes"),
    ("episode_uploads", "user_id", "uploads"),
    ("generations", "user_id", "generations"),
    ("invoices", "user_id", "invoices"),
    ("oauth_accounts", "user_id", "linked_accounts"),
    ("sessions", "user_id", "sessions"),
    ("subscriptions", "user_id", "subscriptions"),
    ("transcripts", "user_id", "transcripts"),
];
/// References the export does not follow, each with the reason.
const NOT_EXPORTED: &[(&str, &str)] = &[
    // What an operator did to other accounts: it describes those people, and each of them gets
    // it in their own export (`account_actions`).
    ("admin_audit", "admin_id"),
    // Stripe's webhook deliveries as received, a processing log: what they changed is exported
    // (purchases, subscriptions, invoices, charges, refunds, disputes).
    ("stripe_events", "user_id"),
];

async fn every_table_that_references_a_user_is_exported_or_says_why_not(s: &'static Stack) {
    let references = user_references(s).await;
    assert!(references.len() >= EXPORTED.len(), "the discovery finds the references: {references:?}");
    for (table, column) in &references {
        let exported = EXPORTED.iter().any(|(t, c, _)| t == table && c == column);
        let excused = NOT_EXPORTED.iter().any(|(t, c)| t == table && c == column);
        assert!(
            exported || excused,
            "{table}.{column} references users: add it to db::export (and EXPORTED here), or to \
             NOT_EXPORTED with the reason"
        );
    }
    let user = s.sign_in_new("export-tables").await;
    let data: Value = serde_json::from_str(&export(s, &user).await.text().await.unwrap()).unwrap();
    for (table, column, key) in EXPORTED {
        // The balance is read beside the parts (a number, not a list).
        if *key != "credit_balance" {
            let part = ghosttools::db::export::PARTS.iter().find(|(k, _)| k == key);
            let sql = part.unwrap_or_else(|| panic!("db::export has no part {key}")).1;
            assert!(
                sql.contains(&format!("FROM {table} WHERE {column} = $1")),
                "{key} reads {table} by {column}"
            );
        }
        assert!(!data[key].is_null(), "the export has {key} (from {table}): {data}");
    }
}

async fn an_export_holds_suspension_refunds_disputes_notices_uploads_operator_notes_and_the_stripe_customer(
    s: &'static Stack,
) {
    let m = format!("xs{}", unique());
    let user = s.sign_in_new("export-parts").await;
    let other = s.sign_in_new("export-parts-other").await;
    let sql = s.sql().await;
    let (id, other_id) = (&user.user_id, &other.user_id);
    for (statement, what) in [
        (
            "UPDATE users SET suspended_at = now(), suspended_reason = 'held: ' || $2 WHERE id = $1",
            "suspension",
        ),
        (
            "INSERT INTO admin_audit (admin_id, admin_email, action, user_id, detail)
             VALUES ($3, 'operator@example.test', 'suspend', $1, 'held: ' || $2)",
            "an operator's note",
        ),
        (
            "INSERT INTO charge_reversals (charge_id, user_id, purchase, amount, currency, amount_refunded)
             VALUES ('ch_' || $2, $1, 'cs_' || $2, 900, 'eur', 450)",
            "a refund",
        ),
        (
            "INSERT INTO disputes (id, charge_id, user_id, amount, currency, status)
             VALUES ('du_' || $2, 'ch_' || $2, $1, 900, 'eur', 'needs_response')",
            "a dispute",
        ),
        (
            "INSERT INTO customer_notices (user_id, kind, about, plan, amount, currency, sent_at)
             VALUES ($1, 'payment_failed', 'in_' || $2, 'Pro', 1900, 'eur', now())",
            "a billing notice",
        ),
        (
            "INSERT INTO episode_uploads (id, user_id, file_name, size_bytes, part_bytes, r2_upload_id)
             VALUES ('up' || $2, $1, 'unfinished-' || $2 || '.mp3', 30000000, 8388608, 'r2-' || $2)",
            "an unfinished upload",
        ),
        (
            "INSERT INTO billing_customers (user_id, stripe_customer_id) VALUES ($1, 'cus_' || $2)",
            "the Stripe customer",
        ),
    ] {
        let params: &[&(dyn tokio_postgres::types::ToSql + Sync)] =
            if statement.contains("$3") { &[id, &m, other_id] } else { &[id, &m] };
        assert_eq!(sql.execute(statement, params).await.unwrap(), 1, "{what} seeded");
    }
    // The operator's own note about another account stays out of this export.
    sql.execute(
        "INSERT INTO admin_audit (admin_id, admin_email, action, user_id, detail)
         VALUES ($1, 'operator@example.test', 'grant', $1, 'not yours ' || $2)",
        &[other_id, &m],
    )
    .await
    .unwrap();

    let text = export(s, &user).await.text().await.unwrap();
    assert!(!text.contains(&format!("not yours {m}")) && !text.contains("operator@example.test"));
    let data: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(data["account"]["suspended_reason"], format!("held: {m}").as_str());
    assert!(data["account"]["suspended_at"].is_string(), "when it was suspended");
    assert_eq!(data["account_actions"][0]["action"], "suspend");
    assert_eq!(data["account_actions"][0]["note"], format!("held: {m}").as_str());
    assert_eq!(data["refunds"][0]["charge_id"], format!("ch_{m}").as_str());
    assert_eq!(data["refunds"][0]["amount_refunded"], 450);
    assert_eq!(data["disputes"][0]["id"], format!("du_{m}").as_str());
    assert_eq!(data["disputes"][0]["status"], "needs_response");
    assert_eq!(data["billing_notices"][0]["kind"], "payment_failed");
    assert_eq!(data["billing_notices"][0]["about"], format!("in_{m}").as_str());
    assert_eq!(data["uploads"][0]["file_name"], format!("unfinished-{m}.mp3").as_str());
    assert!(data["uploads"][0]["completed_at"].is_null(), "unfinished");
    assert_eq!(data["stripe_customer"][0]["stripe_customer_id"], format!("cus_{m}").as_str());
}

/// Postgres answers a long history in many socket chunks, some larger than tokio-postgres'
/// read buffer (`db/socket.rs` keeps the rest of such a chunk for the next read): every row
/// arrives, in order, byte for byte, multi-byte characters split across chunks included.
async fn a_long_history_reaches_the_export_whole_across_many_reads_of_the_database_socket(s: &'static Stack) {
    const ROWS: i32 = 3000;
    let m = format!("xl{}", unique());
    let user = s.sign_in_new("export-long").await;
    let note = |n: i32| format!("{m} row {n:04} Grüße ✓ 🎧 {}", "·".repeat((n % 97) as usize));
    // Deltas +1/−1 in turn: the balance stays what it was.
    let inserted = s
        .sql()
        .await
        .execute(
            "INSERT INTO credit_ledger (user_id, delta, reason, reference, note)
             SELECT $1, CASE WHEN n % 2 = 0 THEN 1 ELSE -1 END, 'adjustment', $2 || '-' || n,
                    $2 || ' row ' || lpad(n::text, 4, '0') || ' Grüße ✓ 🎧 ' || repeat('·', n % 97)
             FROM generate_series(0, $3 - 1) n",
            &[&user.user_id, &m, &ROWS],
        )
        .await
        .unwrap();
    assert_eq!(inserted, ROWS as u64);

    let res = export(s, &user).await;
    assert_eq!(res.status(), 200);
    let data: Value = serde_json::from_str(&res.text().await.unwrap()).expect("one JSON document");
    let notes: Vec<&str> = data["credit_ledger"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|l| l["note"].as_str())
        .filter(|n| n.starts_with(&m))
        .collect();
    assert_eq!(notes.len(), ROWS as usize, "every row of the history");
    for (n, got) in notes.iter().enumerate() {
        assert_eq!(*got, note(n as i32), "row {n}, byte for byte and in order");
    }
}
