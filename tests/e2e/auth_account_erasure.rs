//! Deleting an account erases the person: their content (AgentWrite briefs and outputs,
//! PodScribe transcripts, ledger notes) goes with their address, and what accounting keeps
//! names no one. Every table with a user reference is found through `information_schema`, so a
//! table added later cannot be forgotten.

use crate::auth_account::delete_account;
use crate::podscribe_parts::{complete, json_of, opened, send_part};
use crate::support::billing::subscribe;
use crate::support::fakes::stripe::PRO;
use crate::support::session::{csrf_in, SignedIn};
use crate::support::sign_in::{html_of, mail_settled, text_of};
use crate::support::tools::{brief, grant, post_form, unique, upload, wav};
use crate::support::Stack;
use crate::trials;
use ghosttools::db::credits::Reason;
use libtest_mimic::Trial;

pub fn tests() -> Vec<Trial> {
    trials![
        deletion_leaves_nothing_personal_in_any_table,
        the_privacy_page_says_what_deletion_keeps_and_erases,
        a_deleted_account_gets_one_goodbye_mail_even_when_deleted_twice_at_once,
        a_deleted_accounts_assembled_and_unfinished_uploads_leave_nothing_in_r2,
    ]
}

/// Tables whose rows of a deleted user are deleted outright.
const ERASED: &[&str] = &[
    "affiliates",
    "customer_notices",
    "email_changes",
    // Uploads in parts name their file (unfinished ones are aborted in R2 first).
    "episode_uploads",
    "generations",
    "oauth_accounts",
    "sessions",
    "transcripts",
];
/// Tables whose rows stay for accounting, with nothing in them that names the person.
const KEPT: &[&str] = &[
    // Operator actions on the account (and by it, for an operator): who did what and when, with
    // the operator's free text and address blanked.
    "admin_audit",
    "billing_customers",
    "charge_reversals",
    // Charges keep amount and date; the receipt's link (Stripe's page names the payer) goes.
    "charges",
    "checkout_sessions",
    "disputes",
    "credit_balances",
    "credit_ledger",
    "invoices",
    "stripe_events",
    "subscriptions",
];

/// Every (table, column) that references `users`: by foreign key, or by a column named like one.
pub(crate) async fn user_references(s: &Stack) -> Vec<(String, String)> {
    let rows = s
        .sql()
        .await
        .query(
            "SELECT kcu.table_name::text, kcu.column_name::text
             FROM information_schema.table_constraints tc
             JOIN information_schema.key_column_usage kcu
               ON kcu.constraint_name = tc.constraint_name AND kcu.table_schema = tc.table_schema
             JOIN information_schema.constraint_column_usage ccu
               ON ccu.constraint_name = tc.constraint_name AND ccu.table_schema = tc.table_schema
             WHERE tc.constraint_type = 'FOREIGN KEY' AND ccu.table_name = 'users' AND tc.table_schema = 'public'
             UNION
             SELECT table_name::text, column_name::text FROM information_schema.columns
             WHERE table_schema = 'public' AND table_name <> 'users' AND column_name ~ 'user_id$'
             ORDER BY 1, 2",
            &[],
        )
        .await
        .unwrap();
    rows.iter().map(|r| (r.get(0), r.get(1))).collect()
}

/// How many rows of any table in the schema mention `needle` anywhere (as JSON text).
async fn tables_mentioning(s: &Stack, needle: &str) -> Vec<String> {
    let sql = s.sql().await;
    let tables: Vec<String> = sql
        .query(
            "SELECT table_name::text FROM information_schema.tables
             WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY 1",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut found = Vec::new();
    for table in tables {
        let q = format!(
            "SELECT count(*) FROM \"{table}\" t WHERE strpos(lower(row_to_json(t)::text), lower($1)) > 0"
        );
        let n: i64 = sql.query_one(&q, &[&needle]).await.unwrap().get(0);
        if n > 0 {
            found.push(format!("{table} ({n} rows)"));
        }
    }
    found
}

/// The person's content: a description, a transcript, a subscription, notes naming both.
async fn a_user_with_content(s: &Stack, marker: &str) -> SignedIn {
    let user = s.sign_in_new("erase").await;
    let sql = s.sql().await;
    sql.execute("UPDATE users SET name = $2 WHERE id = $1", &[&user.user_id, &format!("Ada {marker}")])
        .await
        .unwrap();
    grant(s, user.user_id, 20).await;
    let res = post_form(s, &user, "/tools/agentwrite", &brief(&format!("Tent {marker}"))).await;
    assert_eq!(res.status(), 303, "a description is written");
    let res =
        upload(s, &user, "/tools/podscribe", &format!("episode-{marker}.wav"), wav(30), "audio/wav").await;
    assert_eq!(res.status(), 303, "an episode is transcribed");
    sql.query_one(
        ghosttools::db::credits::GRANT_SQL,
        &[
            &user.user_id,
            &5i64,
            &Reason::AdminGrant,
            &format!("erase-grant-{}", unique()),
            &Some(format!("for episode-{marker}.wav")),
        ],
    )
    .await
    .unwrap();
    // An operator's note about the account (the operator here is the user: any account will do).
    sql.execute(
        "INSERT INTO admin_audit (admin_id, admin_email, action, user_id, detail)
         VALUES ($1, $2, 'grant', $1, $3)",
        &[&user.user_id, &user.email, &format!("5 credits: sorry about episode-{marker}.wav")],
    )
    .await
    .unwrap();
    subscribe(s, &user, PRO).await;
    // A change of address waiting for its link: the address asked for is personal data too.
    let res = post_form(s, &user, "/account/email", &[("email", format!("new-{marker}@example.test"))]).await;
    assert_eq!(res.status(), 303, "an address change is pending");
    user
}

async fn deletion_leaves_nothing_personal_in_any_table(s: &'static Stack) {
    let marker = format!("zq{}", unique());
    let user = a_user_with_content(s, &marker).await;
    let references = user_references(s).await;
    let declared: Vec<&str> = ERASED.iter().chain(KEPT).copied().collect();
    for (table, column) in &references {
        assert!(
            declared.contains(&table.as_str()),
            "{table}.{column} references users: decide whether deletion erases it or keeps it \
             without personal data (db::users::anonymize), then list it here"
        );
    }
    let before = tables_mentioning(s, &marker).await;
    for table in ["generations", "transcripts", "credit_ledger", "users", "admin_audit", "email_changes"] {
        assert!(
            before.iter().any(|t| t.starts_with(&format!("{table} "))),
            "{table} holds the marker first: {before:?}"
        );
    }

    let res = delete_account(s, &user).await;
    assert_eq!(res.status(), 200, "deleted");

    let sql = s.sql().await;
    for (table, column) in &references {
        let q = format!("SELECT count(*) FROM \"{table}\" WHERE \"{column}\" = $1");
        let n: i64 = sql.query_one(&q, &[&user.user_id]).await.unwrap().get(0);
        if ERASED.contains(&table.as_str()) {
            assert_eq!(n, 0, "{table} keeps no row of a deleted user");
        }
    }
    let kept: i64 = sql
        .query_one("SELECT count(*) FROM credit_ledger WHERE user_id = $1", &[&user.user_id])
        .await
        .unwrap()
        .get(0);
    assert!(kept >= 3, "the ledger's rows stay for accounting");
    let links: i64 = sql
        .query_one(
            "SELECT (SELECT count(*) FROM charges WHERE user_id = $1 AND receipt_url IS NOT NULL)
                  + (SELECT count(*) FROM invoices WHERE user_id = $1 AND hosted_invoice_url IS NOT NULL)",
            &[&user.user_id],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(links, 0, "no link to Stripe's pages of the payer's invoices and receipts");
    assert_eq!(tables_mentioning(s, &marker).await, Vec::<String>::new(), "nothing names the content");
    assert_eq!(tables_mentioning(s, &user.email).await, Vec::<String>::new(), "nothing holds the address");
}

async fn the_privacy_page_says_what_deletion_keeps_and_erases(s: &'static Stack) {
    let html = s.get("/privacy").await.text().await.unwrap();
    for erased in
        ["AgentWrite brief", "PodScribe transcript", "notes on your credit history", "your sessions"]
    {
        assert!(html.contains(erased), "the privacy page says deletion erases {erased}");
    }
    for kept in ["Payment and credit records", "welcome-credits fingerprint", "linked to no account"] {
        assert!(html.contains(kept), "the privacy page says what stays: {kept}");
    }
    assert!(!html.contains("email addresses are kept"), "no promise the code does not keep");
}

async fn a_deleted_account_gets_one_goodbye_mail_even_when_deleted_twice_at_once(s: &'static Stack) {
    let user = s.sign_in_new("goodbye").await;
    let html = user.client.get(s.url("/account")).send().await.unwrap().text().await.unwrap();
    let csrf = csrf_in(&html).unwrap();
    let delete = || {
        user.client
            .post(s.url("/account/delete"))
            .form(&[("csrf", csrf.as_str()), ("confirm", user.email.as_str())])
            .send()
    };
    // A double click: both requests may pass the checks before either erases.
    let (a, b) = tokio::join!(delete(), delete());
    let statuses = [a.unwrap().status().as_u16(), b.unwrap().status().as_u16()];
    assert!(statuses.contains(&200), "deleted: {statuses:?}");
    let mail = s
        .fakes
        .smtp
        .wait_for_mail_about(&user.email, "account is deleted", 10)
        .await
        .expect("the goodbye mail");
    let (text, html) = (text_of(&mail), html_of(&mail));
    for part in [&text, &html] {
        assert!(part.contains(&user.email), "names the account: {part}");
        assert!(part.contains("subscription is cancelled") && part.contains("not kept"), "{part}");
    }
    // A marker mail, asked for once both requests answered, has arrived: a second goodbye
    // would have had its turn.
    mail_settled(s).await;
    assert_eq!(s.fakes.smtp.mails_about(&user.email, "account is deleted").len(), 1, "one goodbye");
    assert_eq!(tables_mentioning(s, &user.email).await, Vec::<String>::new(), "the address is kept nowhere");
}

/// `audio` with `marker` written into its samples (any byte is a valid 8-bit sample).
fn marked(mut audio: Vec<u8>, marker: &str) -> Vec<u8> {
    audio[100..100 + marker.len()].copy_from_slice(marker.as_bytes());
    audio
}

/// How many objects or parts in this stack's R2 hold `marker`. Miniflare keeps each as one file
/// of its raw bytes under a random name, so other tests' objects are told apart by content; only
/// files of one of `sizes` are read (the shared stack may hold large episodes of others).
fn r2_blobs_holding(s: &Stack, marker: &str, sizes: &[usize]) -> usize {
    let blobs = s.worker.state_dir().join("v3/r2/ghosttools-uploads/blobs");
    let Ok(dir) = std::fs::read_dir(blobs) else { return 0 };
    dir.filter_map(Result::ok)
        .filter(|f| f.metadata().is_ok_and(|m| sizes.contains(&(m.len() as usize))))
        .filter_map(|f| std::fs::read(f.path()).ok())
        .filter(|bytes| bytes.windows(marker.len()).any(|w| w == marker.as_bytes()))
        .count()
}

async fn a_deleted_accounts_assembled_and_unfinished_uploads_leave_nothing_in_r2(s: &'static Stack) {
    let user = s.sign_in_new("erase-r2").await;
    grant(s, user.user_id, 1).await;
    let (joined, partial) = (format!("joined-{}", unique()), format!("partial-{}", unique()));
    // Assembled and judged an episode, but not accepted: one credit is too few for 3 minutes.
    let episode = marked(wav(150), &joined);
    let id = opened(s, &user, &format!("fake-audio-ok-{joined}.wav"), episode.len()).await;
    json_of(send_part(s, &user, &id, 1, episode.clone()).await, 200, "the part").await;
    json_of(complete(s, &user, &id).await, 402, "assembled, not accepted").await;
    // Unfinished: its first part sent, the rest never.
    let long = marked(wav(3300), &partial);
    let id = opened(s, &user, &format!("{partial}.wav"), long.len()).await;
    let first = long[..crate::podscribe_parts::PART].to_vec();
    json_of(send_part(s, &user, &id, 1, first).await, 200, "a part").await;
    let sizes = [episode.len(), crate::podscribe_parts::PART];
    for marker in [&joined, &partial] {
        assert!(r2_blobs_holding(s, marker, &sizes) > 0, "R2 holds {marker} before the deletion");
    }

    assert_eq!(delete_account(s, &user).await.status(), 200, "deleted");
    // Miniflare may drop a blob a moment after the call that removed it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let left: Vec<&String> =
            [&joined, &partial].into_iter().filter(|m| r2_blobs_holding(s, m, &sizes) > 0).collect();
        if left.is_empty() {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "R2 still holds the uploads {left:?}");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}
