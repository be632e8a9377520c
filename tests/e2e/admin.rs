//! The operator console: only for ADMIN_EMAILS (everyone else gets the site's 404), its
//! figures, and granting credits (one ledger row per grant, with the reason as the note).

use crate::support::billing::{balance, page, post_form, subscribe};
use crate::support::fakes::stripe;
use crate::support::session::SignedIn;
use crate::support::{Stack, ADMIN_EMAIL};
use crate::trials;
use libtest_mimic::Trial;

pub fn tests() -> Vec<Trial> {
    trials![
        a_signed_out_visitor_gets_a_404_for_the_console,
        a_signed_in_user_who_is_not_an_operator_gets_the_same_404,
        the_console_shows_users_with_plan_credits_and_sign_up_date,
        the_console_shows_revenue_subscriptions_and_webhook_outcomes,
        the_console_shows_ai_usage_per_day_from_the_ledger,
        a_grant_writes_exactly_one_ledger_row_with_the_reason,
        a_grant_sent_twice_grants_once,
        a_bad_grant_is_refused_naming_the_field_and_writes_nothing,
        a_grant_needs_the_csrf_token,
    ]
}

async fn admin(s: &Stack) -> SignedIn {
    s.sign_in_as(ADMIN_EMAIL).await
}

fn reference_in(html: &str) -> String {
    let at =
        html.find("name=\"reference\" value=\"").expect("grant form") + "name=\"reference\" value=\"".len();
    html[at..].split('"').next().unwrap().to_string()
}

async fn admin_rows(s: &Stack, user_id: i64) -> Vec<(i64, String, String, Option<String>)> {
    let db = s.sql().await;
    db.query(
        "SELECT delta, reason, reference, note FROM credit_ledger WHERE user_id = $1 AND reason = 'admin_grant' ORDER BY id",
        &[&user_id],
    )
    .await
    .unwrap()
    .iter()
    .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
    .collect()
}

async fn a_signed_out_visitor_gets_a_404_for_the_console(s: &'static Stack) {
    let missing = s.get("/no-such-page").await.text().await.unwrap();
    for (method, path) in
        [("GET", "/admin"), ("GET", "/admin?q=a"), ("POST", "/admin/grant"), ("PUT", "/admin")]
    {
        let res = s.http.request(method.parse().unwrap(), s.url(path)).send().await.unwrap();
        assert_eq!(res.status(), 404, "{method} {path}");
        let html = res.text().await.unwrap();
        assert!(
            html.contains("Page not found") && !html.to_lowercase().contains("operator"),
            "{method} {path}"
        );
    }
    assert!(missing.contains("Page not found"));
}

async fn a_signed_in_user_who_is_not_an_operator_gets_the_same_404(s: &'static Stack) {
    let user = s.sign_in_new("not-admin").await;
    let res = user.client.get(s.url("/admin")).send().await.unwrap();
    assert_eq!(res.status(), 404);
    let html = res.text().await.unwrap();
    assert!(html.contains("Page not found") && !html.contains("href=\"/admin\""), "no link to the console");
    let res = post_form(
        s,
        &user,
        "/admin/grant",
        &[
            ("email", &user.email),
            ("amount", "1000"),
            ("reason", "me"),
            ("reference", "0123456789abcdef0123"),
        ],
    )
    .await;
    assert_eq!(res.status(), 404);
    assert_eq!(balance(s, user.user_id).await, 0);
}

async fn the_console_shows_users_with_plan_credits_and_sign_up_date(s: &'static Stack) {
    let ops = admin(s).await;
    let user = s.sign_in_new("findme-console").await;
    subscribe(s, &user, stripe::PRO).await;
    let html = page(s, &ops, &format!("/admin?q={}", user.email)).await;
    assert!(
        html.contains("href=\"/admin\" aria-current=\"page\""),
        "operators see the console in the navigation"
    );
    let table =
        html.split("id=\"users\"").nth(1).and_then(|t| t.split("<tbody>").nth(1)).expect("the users table");
    let row = table.split("<tr>").find(|r| r.contains(&user.email)).expect("the user is listed");
    assert!(row.contains("<td>Pro</td>") && row.contains("<td class=\"num\">500</td>"), "{row}");
    let today = chrono_today();
    assert!(row.contains(&format!("<td>{today}</td>")), "{row}");
    let none = page(s, &ops, "/admin?q=nobody-has-this-address").await;
    assert!(none.contains("No users match."));
}

fn chrono_today() -> String {
    let out = std::process::Command::new("date").args(["-u", "+%Y-%m-%d"]).output().unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

async fn the_console_shows_revenue_subscriptions_and_webhook_outcomes(s: &'static Stack) {
    let ops = admin(s).await;
    let user = s.sign_in_new("revenue").await;
    let sub = subscribe(s, &user, stripe::STARTER).await;
    let html = page(s, &ops, "/admin").await;
    assert!(html.contains("class=\"revenue-all\">$"), "revenue in dollars");
    assert!(html.contains("id=\"active-starter\""));
    let events = html.split("id=\"events\"").nth(1).expect("events table");
    assert!(events.contains("invoice.payment_succeeded") && events.contains("class=\"outcome-applied\""));
    assert!(!sub.is_empty());
    let db = s.sql().await;
    let n: i64 = db.query_one("SELECT count(*) FROM stripe_events", &[]).await.unwrap().get(0);
    assert!(n > 0);
}

async fn the_console_shows_ai_usage_per_day_from_the_ledger(s: &'static Stack) {
    let ops = admin(s).await;
    let user = s.sign_in_new("usage").await;
    let db = s.sql().await;
    db.execute("INSERT INTO credit_balances (user_id, balance) VALUES ($1, 100)", &[&user.user_id])
        .await
        .unwrap();
    for (delta, reason, reference) in [
        (100i64, "purchase", "u-p"),
        (-3, "agentwrite", "u-a1"),
        (-2, "agentwrite", "u-a2"),
        (-7, "podscribe", "u-p1"),
    ] {
        db.execute(
            "INSERT INTO credit_ledger (user_id, delta, reason, reference) VALUES ($1, $2, $3, $4)",
            &[&user.user_id, &delta, &reason, &format!("{reference}-{}", user.user_id)],
        )
        .await
        .unwrap();
    }
    let html = page(s, &ops, "/admin").await;
    let usage = html.split("id=\"usage\"").nth(1).expect("a usage table");
    let today = usage.split("<tr>").find(|r| r.contains(&chrono_today())).expect("a row for today");
    let nums: Vec<i64> = today
        .split("<td class=\"num\">")
        .skip(1)
        .map(|c| c.split('<').next().unwrap().parse().unwrap())
        .collect();
    // Other tests may use the tools too: today's figures include at least ours.
    assert!(nums[0] >= 2 && nums[1] >= 5 && nums[2] >= 1 && nums[3] >= 7, "{nums:?}");
}

async fn a_grant_writes_exactly_one_ledger_row_with_the_reason(s: &'static Stack) {
    let ops = admin(s).await;
    let user = s.sign_in_new("granted").await;
    let html = page(s, &ops, &format!("/admin?q={}&grant_to={}", user.email, user.email)).await;
    assert!(html.contains(&format!(
        "id=\"grant-email\" name=\"email\" type=\"email\" required autocomplete=\"off\" value=\"{}\"",
        user.email
    )));
    let reference = reference_in(&html);
    let res = post_form(
        s,
        &ops,
        "/admin/grant",
        &[
            ("email", &user.email.to_uppercase()),
            ("amount", "75"),
            ("reason", "Outage on 12 May"),
            ("reference", &reference),
        ],
    )
    .await;
    assert_eq!(res.status(), 303);
    let rows = admin_rows(s, user.user_id).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    let (delta, reason, reference_written, note) = &rows[0];
    assert_eq!((*delta, reason.as_str(), note.as_deref()), (75, "admin_grant", Some("Outage on 12 May")));
    assert!(
        reference_written.ends_with(&reference)
            && reference_written.starts_with(&format!("admin:{}:", ops.user_id))
    );
    assert_eq!(balance(s, user.user_id).await, 75);
    let after = ops
        .client
        .get(s.url(crate::support::billing::location(&res).as_str()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(after.contains(&format!("Credits added: 75 to {}", user.email)), "a flash says so");
    let billing = page(s, &user, "/billing").await;
    assert!(billing.contains("Granted by GhostTools · Outage on 12 May"), "the user sees why");
}

async fn a_grant_sent_twice_grants_once(s: &'static Stack) {
    let ops = admin(s).await;
    let user = s.sign_in_new("granted-twice").await;
    let reference = reference_in(&page(s, &ops, "/admin").await);
    let fields = [
        ("email", user.email.as_str()),
        ("amount", "10"),
        ("reason", "Goodwill"),
        ("reference", reference.as_str()),
    ];
    let (a, b) = tokio::join!(
        post_form(s, &ops, "/admin/grant", &fields),
        post_form(s, &ops, "/admin/grant", &fields)
    );
    assert_eq!((a.status(), b.status()), (reqwest::StatusCode::SEE_OTHER, reqwest::StatusCode::SEE_OTHER));
    assert_eq!(admin_rows(s, user.user_id).await.len(), 1);
    assert_eq!(balance(s, user.user_id).await, 10);
    let other = reference_in(&page(s, &ops, "/admin").await);
    assert_ne!(other, reference, "each rendered form has its own reference");
}

async fn a_bad_grant_is_refused_naming_the_field_and_writes_nothing(s: &'static Stack) {
    let ops = admin(s).await;
    let user = s.sign_in_new("badgrant").await;
    let reference = reference_in(&page(s, &ops, "/admin").await);
    for (email, amount, reason, field, message) in [
        (user.email.as_str(), "0", "x", "grant-amount", "whole number of credits"),
        (user.email.as_str(), "100001", "x", "grant-amount", "whole number of credits"),
        (user.email.as_str(), "5", "", "grant-reason", "Say why"),
        ("nobody@nowhere.test", "5", "x", "grant-email", "No account has that email"),
    ] {
        let res = post_form(
            s,
            &ops,
            "/admin/grant",
            &[("email", email), ("amount", amount), ("reason", reason), ("reference", &reference)],
        )
        .await;
        assert_eq!(res.status(), 400, "{field}");
        let html = res.text().await.unwrap();
        assert!(html.contains(message), "{field}: {message}");
        let input = html.split(&format!("id=\"{field}\"")).nth(1).unwrap().split('>').next().unwrap();
        assert!(input.contains("aria-invalid=\"true\""), "{field}: {input}");
    }
    let res = post_form(
        s,
        &ops,
        "/admin/grant",
        &[("email", &user.email), ("amount", "5"), ("reason", "x"), ("reference", "short")],
    )
    .await;
    assert_eq!(res.status(), 400);
    assert!(admin_rows(s, user.user_id).await.is_empty());
    assert_eq!(balance(s, user.user_id).await, 0);
}

async fn a_grant_needs_the_csrf_token(s: &'static Stack) {
    let ops = admin(s).await;
    let user = s.sign_in_new("grant-csrf").await;
    let res = ops
        .client
        .post(s.url("/admin/grant"))
        .form(&[
            ("email", user.email.as_str()),
            ("amount", "5"),
            ("reason", "x"),
            ("reference", "0123456789abcdef0123"),
            ("csrf", "bad"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let res = ops
        .client
        .post(s.url("/admin/grant"))
        .header("origin", "https://evil.example")
        .form(&[
            ("email", user.email.as_str()),
            ("amount", "5"),
            ("reason", "x"),
            ("reference", "0123456789abcdef0123"),
            ("csrf", ops.csrf.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403, "another site's form");
    assert!(admin_rows(s, user.user_id).await.is_empty());
}
