//! SQL injection probes into every input of every form, query parameter and path id: the
//! answer is a clear 4xx or a normal page, never a 5xx; the tables are all there and no row
//! count fell; where the value is stored, it is stored verbatim (every query is parameterized).

use super::{anonymous, assert_hardened, Fixture};
use crate::support::fakes::stripe::PACK;
use crate::support::session::csrf_in;
use crate::support::tools::{brief, grant, post_form, upload, wav};
use crate::support::{Stack, ADMIN_EMAIL};
use crate::trials;
use libtest_mimic::Trial;

pub fn tests() -> Vec<Trial> {
    trials![sql_injection_probes_in_every_input_answer_4xx_or_normally_and_are_stored_verbatim]
}

pub const PROBES: &[&str] = &[
    "' OR '1'='1",
    "'; DROP TABLE users; --",
    "\" OR \"\"=\"",
    "1; SELECT pg_sleep(10); --",
    "1 UNION SELECT email FROM users --",
    "\u{0}",
    "x\u{0}'--",
    "\u{2019} OR \u{2019}1\u{2019}=\u{2019}1",
    "\u{ff07} OR 1=1 --",
    "$1 $$ E'\\x27' \\'",
    "%27%20OR%201=1",
];

const TABLES: &[&str] = &[
    "users",
    "email_sign_in_tokens",
    "oauth_accounts",
    "credit_balances",
    "credit_ledger",
    "billing_customers",
    "checkout_sessions",
    "subscriptions",
    "invoices",
    "stripe_events",
    "generations",
    "transcripts",
    "affiliates",
];

/// Rows of the tables nothing deletes from (the others are deleted by their owners in other
/// tests running alongside).
async fn append_only_counts(s: &Stack) -> Vec<i64> {
    let db = s.sql().await;
    let mut out = Vec::new();
    for table in ["users", "credit_ledger", "checkout_sessions", "stripe_events"] {
        out.push(db.query_one(&format!("SELECT count(*) FROM {table}"), &[]).await.unwrap().get(0));
    }
    out
}

fn fine(res: &reqwest::Response, what: &str) -> u16 {
    assert_hardened(res, what);
    let status = res.status().as_u16();
    assert!(status < 500, "{what}: {status}");
    status
}

async fn sql_injection_probes_in_every_input_answer_4xx_or_normally_and_are_stored_verbatim(
    s: &'static Stack,
) {
    let counts = append_only_counts(s).await;
    let fx = Fixture::new(s, "sec-sqli").await;
    grant(s, fx.user.user_id, 100).await;
    let admin = s.sign_in_as(ADMIN_EMAIL).await;
    let anon = anonymous();
    let db = s.sql().await;
    let mut stored = 0;
    for (n, probe) in PROBES.iter().enumerate() {
        let p = *probe;
        let enc: String = url::form_urlencoded::byte_serialize(p.as_bytes()).collect();
        let what = |input: &str| format!("{input} = {p:?}");
        // Sign-in inputs, before there is a session.
        let browser = anonymous();
        let page = browser.get(s.url("/signin")).send().await.unwrap();
        let cookies: Vec<String> = page
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|c| c.to_str().unwrap().split(';').next().unwrap().to_string())
            .collect();
        let csrf = csrf_in(&page.text().await.unwrap()).unwrap();
        let post_anon = |path: &str, form: Vec<(&str, &str)>| {
            let mut all = form;
            all.push(("csrf", csrf.as_str()));
            browser.post(s.url(path)).header("cookie", cookies.join("; ")).form(&all).send()
        };
        fine(&post_anon("/signin", vec![("email", p), ("next", p)]).await.unwrap(), &what("sign-in email"));
        let email = format!("{}@example.test", p.replace(['@', ' '], ""));
        fine(
            &post_anon("/signin", vec![("email", &email)]).await.unwrap(),
            &what("sign-in email (local part)"),
        );
        fine(&post_anon("/signin/confirm", vec![("token", p)]).await.unwrap(), &what("confirm token"));
        fine(&post_anon("/signin/google", vec![("next", p)]).await.unwrap(), &what("google next"));
        for path in [
            format!("/signin?next={enc}"),
            format!("/signin/confirm?token={enc}"),
            format!("/signin/google/callback?state={enc}&code={enc}&error={enc}"),
            format!("/pricing?checkout={enc}"),
            format!("/tools/agentwrite/{enc}"),
        ] {
            fine(&anon.get(s.url(&path)).send().await.unwrap(), &what(&path));
        }
        // A signed-in user's inputs.
        let user = &fx.user;
        for path in [
            format!("/history?page={enc}"),
            format!("/billing/success?session_id={enc}"),
            format!("/tools/agentwrite/{enc}"),
            format!("/tools/agentwrite/{enc}/download"),
            format!("/tools/podscribe/{enc}"),
            format!("/tools/podscribe/{}/{enc}", fx.transcript),
        ] {
            let res = user.client.get(s.url(&path)).send().await.unwrap();
            fine(&res, &what(&path));
        }
        let res = anon.post(s.url(&format!("/api/debug/rate-limit/{enc}"))).send().await.unwrap();
        fine(&res, &what("rate-limit policy"));
        for path in [format!("/tools/agentwrite/{enc}/delete"), format!("/tools/podscribe/{enc}/delete")] {
            fine(&post_form(s, user, &path, &[]).await, &what(&path));
        }
        let res = post_form(s, user, "/account/delete", &[("confirm", p.into())]).await;
        assert_eq!(fine(&res, &what("deletion confirmation")), 400, "{p:?}: not the address");
        let res =
            post_form(s, user, "/refer/join", &[("first_name", p.into()), ("last_name", p.into())]).await;
        fine(&res, &what("refer names"));
        // Checkout probes get a user each (checkouts are limited per account).
        let buyer = s.sign_in_new("sec-sqli-buyer").await;
        fine(&post_form(s, &buyer, "/billing/checkout", &[("price", p.into())]).await, &what("price"));
        let res =
            post_form(s, &buyer, "/billing/checkout", &[("price", PACK.into()), ("referral", p.into())])
                .await;
        fine(&res, &what("referral"));
        // The brief is stored as typed, when it is accepted.
        let mut form = brief(p);
        for (k, v) in form.iter_mut() {
            if ["audience", "keywords", "features"].contains(k) {
                *v = format!("{p} {k}");
            }
        }
        let res = post_form(s, user, "/tools/agentwrite", &form).await;
        if fine(&res, &what("brief")) == 303 {
            let location = res.headers()["location"].to_str().unwrap();
            let id = location.rsplit('/').next().unwrap();
            let row = db
                .query_one("SELECT product_name, brief->>'audience' FROM generations WHERE id = $1", &[&id])
                .await
                .unwrap();
            assert_eq!(row.get::<_, String>(0), p, "stored verbatim");
            assert_eq!(row.get::<_, String>(1), format!("{p} audience"), "stored verbatim");
            stored += 1;
        }
        // The operator's inputs: search, grant address and reason.
        for path in [format!("/admin?q={enc}"), format!("/admin?grant_to={enc}")] {
            let res = admin.client.get(s.url(&path)).send().await.unwrap();
            let status = fine(&res, &what(&path));
            assert!(status == 200 || (status == 400 && p.contains('\0')), "{}: {status}", what(&path));
        }
        let reference = format!("sqli-probe-{}-{n}", fx.user.user_id);
        let res = post_form(
            s,
            &admin,
            "/admin/grant",
            &[
                ("email", p.into()),
                ("amount", "1".into()),
                ("reason", "x".into()),
                ("reference", reference.clone()),
            ],
        )
        .await;
        assert_eq!(fine(&res, &what("grant email")), 400);
        let res = post_form(
            s,
            &admin,
            "/admin/grant",
            &[
                ("email", fx.user.email.clone()),
                ("amount", "1".into()),
                ("reason", p.into()),
                ("reference", reference.clone()),
            ],
        )
        .await;
        if fine(&res, &what("grant reason")) == 303 {
            let note: Option<String> = db
                .query_one(
                    "SELECT note FROM credit_ledger WHERE reference = $1",
                    &[&format!("admin:{}:{reference}", admin.user_id)],
                )
                .await
                .unwrap()
                .get(0);
            assert_eq!(note.as_deref(), Some(p), "the reason is the ledger note, verbatim");
            stored += 1;
        }
    }
    // An episode's file name is stored (and shown) as it was uploaded.
    for name in ["' OR '1'='1.wav", "\u{2019}; DROP TABLE transcripts; --.wav"] {
        let res = upload(s, &fx.user, "/tools/podscribe", name, wav(2), "audio/wav").await;
        assert_eq!(fine(&res, name), 303, "{name}");
        let id = res.headers()["location"].to_str().unwrap().rsplit('/').next().unwrap().to_string();
        let row = db.query_one("SELECT file_name FROM transcripts WHERE id = $1", &[&id]).await.unwrap();
        assert_eq!(row.get::<_, String>(0), name, "stored verbatim");
        stored += 1;
    }
    assert!(stored >= 10, "most probes are ordinary text and were stored: {stored}");
    for table in TABLES {
        let exists: Option<String> =
            db.query_one("SELECT to_regclass($1)::text", &[table]).await.unwrap().get(0);
        assert!(exists.is_some(), "table {table} is still there");
    }
    let after = append_only_counts(s).await;
    assert!(after.iter().zip(&counts).all(|(a, b)| a >= b), "no rows vanished: {counts:?} → {after:?}");
    let email: Option<String> =
        db.query_one("SELECT email FROM users WHERE id = $1", &[&fx.user.user_id]).await.unwrap().get(0);
    assert_eq!(email.as_deref(), Some(fx.user.email.as_str()), "the prober's account is intact");
}
