//! The operator console's views: paging through every user, one account's page (runs, ledger,
//! purchases, Stripe events), and revenue per day as a chart with a table beside it.

use crate::support::billing::{page, subscribe};
use crate::support::fakes::stripe;
use crate::support::session::SignedIn;
use crate::support::tools::unique;
use crate::support::{Stack, ADMIN_EMAIL};
use crate::trials;
use libtest_mimic::Trial;

pub fn tests() -> Vec<Trial> {
    trials![
        the_console_pages_through_every_user_not_only_a_search,
        a_page_number_that_is_not_one_is_refused,
        one_accounts_page_shows_its_runs_ledger_purchases_and_events,
        an_account_that_does_not_exist_is_not_found,
        the_console_charts_revenue_per_day_with_a_table_of_the_same_figures,
        the_audit_log_pages_through_every_action_once_and_back,
        a_malformed_audit_page_link_is_refused,
    ]
}

pub async fn admin(s: &Stack) -> SignedIn {
    s.sign_in_as(ADMIN_EMAIL).await
}

/// The `<tbody>` of the table with `id`.
pub fn table<'a>(html: &'a str, id: &str) -> &'a str {
    let after = html.split(&format!("id=\"{id}\"")).nth(1).unwrap_or_else(|| panic!("table {id}"));
    after.split("<tbody>").nth(1).and_then(|t| t.split("</tbody>").next()).unwrap()
}

async fn the_console_pages_through_every_user_not_only_a_search(s: &'static Stack) {
    let ops = admin(s).await;
    // 60 accounts that share a part of their address: more than one page of 50.
    let tag = format!("pager{}", unique());
    let db = s.sql().await;
    db.execute(
        "INSERT INTO users (email) SELECT $1 || '-' || lpad(n::text, 2, '0') || '@example.test'
         FROM generate_series(1, 60) n",
        &[&tag],
    )
    .await
    .unwrap();
    let first = page(s, &ops, &format!("/admin?q={tag}")).await;
    let rows = table(&first, "users").matches("<tr>").count();
    assert_eq!(rows, 50, "a page holds 50 users");
    assert!(first.contains("<th scope=\"col\">Signed up (UTC)</th>"), "dates name their time zone");
    assert!(first.contains(&format!("{tag}-60@")) && !first.contains(&format!("{tag}-10@")), "newest first");
    assert!(first.contains(&format!("href=\"/admin?q={tag}&amp;page=2#users-heading\" rel=\"next\"")));
    assert!(!first.contains("rel=\"prev\""));
    let second = page(s, &ops, &format!("/admin?q={tag}&page=2")).await;
    assert_eq!(table(&second, "users").matches("<tr>").count(), 10);
    assert!(second.contains(&format!("{tag}-01@")) && second.contains(&format!("{tag}-10@")));
    assert!(!second.contains(&format!("{tag}-11@")), "no user on two pages");
    let users_pager =
        second.split("aria-label=\"Pages of users\"").nth(1).unwrap().split("</nav>").next().unwrap();
    assert!(users_pager.contains("rel=\"prev\"") && !users_pager.contains("rel=\"next\""));
    // Without a search every user is listed, page after page.
    let all = page(s, &ops, "/admin?page=2").await;
    assert!(table(&all, "users").matches("<tr>").count() >= 10, "the second page of all users");
}

async fn a_page_number_that_is_not_one_is_refused(s: &'static Stack) {
    let ops = admin(s).await;
    for bad in ["0", "-1", "x", "1.5"] {
        let res = ops.client.get(s.url(&format!("/admin?page={bad}"))).send().await.unwrap();
        assert_eq!(res.status(), 400, "page={bad}");
    }
    let far = page(s, &ops, "/admin?page=99999").await;
    assert!(far.contains("No users match."), "past the end is empty, not an error");
}

async fn one_accounts_page_shows_its_runs_ledger_purchases_and_events(s: &'static Stack) {
    let ops = admin(s).await;
    let user = s.sign_in_new("one-account").await;
    subscribe(s, &user, stripe::PRO).await;
    let db = s.sql().await;
    let generation = format!("{:032x}", user.user_id as u128 * 7919 + 1);
    db.execute(
        "INSERT INTO generations (id, user_id, status, brief, product_name, model, credits)
         VALUES ($1, $2, 'done', '{}'::jsonb, 'Tent for the console', 'gpt-test', 3)",
        &[&generation, &user.user_id],
    )
    .await
    .unwrap();
    let console = page(s, &ops, &format!("/admin?q={}", user.email)).await;
    let row = table(&console, "users").split("<tr>").find(|r| r.contains(&user.email)).unwrap().to_string();
    assert!(
        row.contains(&format!("<a href=\"/admin/users/{}\">", user.user_id)),
        "the row links to the account: {row}"
    );
    let html = page(s, &ops, &format!("/admin/users/{}", user.user_id)).await;
    assert!(html.contains(&format!("<h1 id=\"user-heading\">{}</h1>", user.email)));
    assert!(html.contains("id=\"user-plan\">Pro<") && html.contains("id=\"user-balance\">500<"));
    let runs = table(&html, "runs");
    assert!(runs.contains("Tent for the console") && runs.contains(&generation), "{runs}");
    let ledger = table(&html, "user-ledger");
    assert!(ledger.contains("Plan allowance") && ledger.contains("+500"), "{ledger}");
    let purchases = table(&html, "purchases");
    assert!(
        purchases.contains("cs_test_") && purchases.contains("in_") && purchases.contains("paid"),
        "{purchases}"
    );
    let events = table(&html, "user-events");
    for kind in ["checkout.session.completed", "invoice.payment_succeeded"] {
        assert!(events.contains(kind), "{kind}: {events}");
    }
    let other = s.sign_in_new("one-account-other").await;
    let others = page(s, &ops, &format!("/admin/users/{}", other.user_id)).await;
    assert!(!others.contains("Tent for the console") && others.contains("No tool runs."));
}

async fn an_account_that_does_not_exist_is_not_found(s: &'static Stack) {
    let ops = admin(s).await;
    for path in ["/admin/users/999999999", "/admin/users/abc", "/admin/users/0", "/admin/users/-1"] {
        let res = ops.client.get(s.url(path)).send().await.unwrap();
        assert_eq!(res.status(), 404, "{path}");
    }
}

async fn the_console_charts_revenue_per_day_with_a_table_of_the_same_figures(s: &'static Stack) {
    let ops = admin(s).await;
    let user = s.sign_in_new("revenue-chart").await;
    subscribe(s, &user, stripe::STARTER).await;
    let html = page(s, &ops, "/admin").await;
    let chart = html.split("id=\"revenue-chart-USD\"").nth(1).expect("a chart in dollars");
    let svg = chart.split("</svg>").next().unwrap();
    assert!(svg.contains("<svg class=\"bar-chart\"") && svg.contains("role=\"img\""), "inline SVG");
    assert!(svg.contains("aria-label=\"Revenue per day in USD, last 30 days\""));
    assert_eq!(svg.matches("<rect class=\"chart-bar\"").count(), 30, "one bar per day");
    let today = today();
    let bar =
        svg.split("<rect").find(|b| b.contains(&format!("<title>{}: $", &today[5..]))).expect("today's bar");
    assert!(!bar.contains("height=\"0\""), "today has revenue: {bar}");
    let rows = table(&html, "revenue-days-USD");
    assert_eq!(rows.matches("<tr>").count(), 30, "the table has the same 30 days");
    let row = rows.split("<tr>").find(|r| r.contains(&today)).expect("today's row");
    assert!(row.contains("<td class=\"num\">$") && !row.contains("$0.00"), "{row}");
    assert!(!html.contains("<script src=\"http"), "no chart library");
}

pub fn today() -> String {
    let out = std::process::Command::new("date").args(["-u", "+%Y-%m-%d"]).output().unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// The console's audit log shows 50 actions a page; "Older actions" walks back through every
/// action once however many arrive meanwhile, and "Newer actions" comes back.
async fn the_audit_log_pages_through_every_action_once_and_back(s: &'static Stack) {
    let ops = admin(s).await;
    let tag = format!("audit{}", unique());
    let db = s.sql().await;
    db.execute(
        "INSERT INTO admin_audit (admin_id, admin_email, action, detail)
         SELECT $1, $2, 'replay', $3 || '-' || lpad(n::text, 3, '0') FROM generate_series(1, 120) n",
        &[&ops.user_id, &ops.email, &tag],
    )
    .await
    .unwrap();
    let ours = |html: &str| -> Vec<String> {
        table(html, "audit")
            .split(&format!(">{tag}-"))
            .skip(1)
            .map(|rest| rest.split('<').next().unwrap().to_string())
            .collect()
    };
    let mut pages = vec![page(s, &ops, "/admin").await];
    loop {
        let html = pages.last().unwrap();
        assert!(table(html, "audit").matches("<tr").count() <= 50, "50 a page");
        // Another action arrives while the operator reads: the older pages do not move.
        db.execute(
            "INSERT INTO admin_audit (admin_id, admin_email, action, detail) VALUES ($1, $2, 'replay', 'newer')",
            &[&ops.user_id, &ops.email],
        )
        .await
        .unwrap();
        let Some(href) = link(html, "audit-older") else { break };
        pages.push(page(s, &ops, &href).await);
        assert!(pages.len() < 100, "the walk ends");
    }
    let seen: Vec<String> = pages.iter().flat_map(|html| ours(html)).collect();
    let expected: Vec<String> = (1..=120).rev().map(|n| format!("{n:03}")).collect();
    assert_eq!(seen, expected, "every action once, newest first");
    // Back: the second page's newer page is the first page as it was, whatever came since.
    let back = page(s, &ops, &link(&pages[1], "audit-newer").expect("a newer page")).await;
    assert_eq!(ours(&back), ours(&pages[0]), "the newer page is the one before");
}

async fn a_malformed_audit_page_link_is_refused(s: &'static Stack) {
    let ops = admin(s).await;
    for bad in ["audit_before=x", "audit_after=-1", "audit_before=1&audit_after=2"] {
        let res = ops.client.get(s.url(&format!("/admin?{bad}"))).send().await.unwrap();
        assert_eq!(res.status(), 400, "{bad}");
    }
}

/// The target of the link with `id`, as the browser reads it (askama writes `&` as `&#38;`).
fn link(html: &str, id: &str) -> Option<String> {
    let (before, _) = html.split_once(&format!("id=\"{id}\""))?;
    let href = before.rsplit("href=\"").next()?.split('"').next()?;
    Some(href.replace("&#38;", "&").replace("&amp;", "&"))
}
