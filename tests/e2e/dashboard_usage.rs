//! Usage on the dashboard (issue 21, part 2): this period's allowance used and left with the
//! renewal or end date, for Starter, Pro and a plan cancelled at the period's end; the credits
//! spent per day and tool over 30 days, as inline SVG with a table of the same numbers, equal
//! to the ledger; and a held account (suspended, or a disputed payment) is told so on the
//! dashboard and the tool pages.

use crate::support::billing::{deliver_ok, page, subscribe};
use crate::support::fakes::stripe::{PRO, STARTER};
use crate::support::Stack;
use crate::trials;
use libtest_mimic::Trial;
use std::collections::BTreeMap;

pub fn tests() -> Vec<Trial> {
    trials![
        the_chart_and_its_table_equal_the_ledger_per_day_and_tool,
        a_starter_plan_shows_its_allowance_used_and_left_and_when_it_renews,
        a_pro_plan_shows_its_whole_allowance_left,
        a_plan_cancelled_at_the_period_end_says_when_it_ends,
        a_new_account_has_no_allowance_and_no_usage_yet,
        a_suspended_account_is_told_so_on_the_dashboard_and_the_tool_pages,
        a_disputed_payment_is_told_on_the_dashboard,
    ]
}

/// One ledger row of the user, dated `secs_ago` back, with the balance moved by it.
async fn ledger_row(s: &Stack, user_id: i64, delta: i64, reason: &str, reference: &str, secs_ago: i64) {
    let db = s.sql().await;
    db.execute(
        "INSERT INTO credit_balances (user_id, balance) VALUES ($1, 0) ON CONFLICT DO NOTHING",
        &[&user_id],
    )
    .await
    .unwrap();
    db.execute(
        "WITH entry AS (INSERT INTO credit_ledger (user_id, delta, reason, reference, note, created_at)
             VALUES ($1, $2, $3, $4, 'e2e', now() - make_interval(secs => $5)) RETURNING delta)
         UPDATE credit_balances SET balance = balance + (SELECT delta FROM entry) WHERE user_id = $1",
        &[&user_id, &delta, &reason, &reference, &(secs_ago as f64)],
    )
    .await
    .unwrap();
}

fn run_id(user_id: i64, n: u32) -> String {
    format!("{:032x}", (user_id as u128) << 32 | n as u128)
}

const DAY: i64 = 24 * 3600;

/// The figure of the element with this id: `<dd id="…">figure</dd>`.
fn figure(html: &str, id: &str) -> String {
    let at = html.split(&format!("id=\"{id}\">")).nth(1).unwrap_or_else(|| panic!("no #{id}"));
    at.split('<').next().unwrap().to_string()
}

async fn the_chart_and_its_table_equal_the_ledger_per_day_and_tool(s: &'static Stack) {
    let user = s.sign_in_new("usage-chart").await;
    let u = user.user_id;
    ledger_row(s, u, 200, "adjustment", &format!("e2e-usage-{u}"), 40 * DAY).await;
    // Today: two descriptions; two days ago: an episode of 5 with 2 given back; 29 days ago
    // (the oldest day shown) one description; 31 days ago one more (not shown); and a failed
    // run refunded whole.
    let runs = [
        (-1, "agentwrite", 0, 60),
        (-1, "agentwrite", 1, 120),
        (-5, "podscribe", 2, 2 * DAY),
        (2, "tool_refund", 2, 2 * DAY - 60),
        (-1, "agentwrite", 3, 29 * DAY - 3600),
        (-1, "agentwrite", 4, 31 * DAY),
        (-3, "podscribe", 5, 7 * DAY),
        (3, "tool_refund", 5, 7 * DAY - 30),
    ];
    for (delta, reason, n, ago) in runs {
        ledger_row(s, u, delta, reason, &run_id(u, n), ago).await;
    }
    // What the ledger says, computed here from its rows: per UTC day and tool, refunds netted.
    let db = s.sql().await;
    let rows = db
        .query(
            "SELECT delta, reason, reference, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD'),
                    created_at >= date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' - interval '29 days'
             FROM credit_ledger WHERE user_id = $1",
            &[&u],
        )
        .await
        .unwrap();
    let spends: BTreeMap<String, String> = rows
        .iter()
        .filter(|r| ["agentwrite", "podscribe"].contains(&r.get::<_, String>(1).as_str()))
        .map(|r| (r.get(2), r.get(1)))
        .collect();
    let mut expected: BTreeMap<(String, String), i64> = BTreeMap::new();
    for r in rows.iter().filter(|r| r.get::<_, bool>(4)) {
        let (delta, reason, reference, day): (i64, String, String, String) =
            (r.get(0), r.get(1), r.get(2), r.get(3));
        let tool = match reason.as_str() {
            "tool_refund" => spends[&reference].clone(),
            "agentwrite" | "podscribe" => reason,
            _ => continue,
        };
        *expected.entry((day, tool)).or_default() -= delta;
    }
    let html = page(s, &user, "/dashboard").await;
    let svg = html.split("id=\"usage-chart\"").nth(1).expect("a chart").split("</svg>").next().unwrap();
    assert!(svg.contains("<svg class=\"bar-chart\"") && svg.contains("role=\"img\""), "inline SVG");
    assert_eq!(svg.matches("<rect class=\"chart-bar\"").count(), 30, "an AgentWrite part for each day");
    assert_eq!(
        svg.matches("<rect class=\"chart-bar series-2\"").count(),
        30,
        "a PodScribe part for each day"
    );
    assert!(!html.contains("<script src=\"http"), "no chart library");
    let table = html.split("id=\"usage-days\"").nth(1).unwrap().split("</table>").next().unwrap();
    let rows: Vec<&str> = table.split("<tr><td>").skip(1).collect();
    assert_eq!(rows.len(), 30, "the table has every day of the 30");
    let mut shown: BTreeMap<(String, String), i64> = BTreeMap::new();
    let mut total = 0;
    for row in rows {
        let day = row.split('<').next().unwrap().to_string();
        let cells: Vec<i64> = row
            .split("<td class=\"num\">")
            .skip(1)
            .map(|c| c.split('<').next().unwrap().parse().unwrap())
            .collect();
        assert_eq!(cells.len(), 3, "{row}");
        assert_eq!(cells[0] + cells[1], cells[2], "the total of {day}");
        for (tool, credits) in [("agentwrite", cells[0]), ("podscribe", cells[1])] {
            if credits != 0 {
                shown.insert((day.clone(), tool.to_string()), credits);
                let name = if tool == "agentwrite" { "AgentWrite" } else { "PodScribe" };
                let title = format!("<title>{}: {name} {credits} credit", &day[5..]);
                assert!(svg.contains(&title), "the chart's {title}");
            }
        }
        total += cells[2];
    }
    expected.retain(|_, v| *v != 0);
    assert_eq!(shown, expected, "the table equals the ledger");
    assert_eq!(total, 6, "2 today, 3 for the episode, 1 on the oldest day shown");
    assert!(html.contains(&format!("{total} in all")));
}

async fn a_starter_plan_shows_its_allowance_used_and_left_and_when_it_renews(s: &'static Stack) {
    let user = s.sign_in_new("usage-starter").await;
    let u = user.user_id;
    // Spent before the plan began: in the chart, not in the allowance.
    ledger_row(s, u, 10, "adjustment", &format!("e2e-before-{u}"), 3 * 3600).await;
    ledger_row(s, u, -2, "agentwrite", &run_id(u, 1), 3600).await;
    let sub = subscribe(s, &user, STARTER).await;
    for n in 2..5 {
        ledger_row(s, u, -1, "agentwrite", &run_id(u, n), 0).await;
    }
    let html = page(s, &user, "/dashboard").await;
    assert_eq!(figure(&html, "allowance-used"), "3 of 100");
    assert_eq!(figure(&html, "allowance-left"), "97");
    let end = s.stripe().subscription(&sub)["items"]["data"][0]["current_period_end"].as_i64().unwrap();
    let date = chrono::DateTime::from_timestamp(end, 0).unwrap().format("%-d %B %Y").to_string();
    assert!(html.contains(&format!("Renews on {date} (UTC)")), "{}", figure(&html, "plan-period"));
}

async fn a_pro_plan_shows_its_whole_allowance_left(s: &'static Stack) {
    let user = s.sign_in_new("usage-pro").await;
    subscribe(s, &user, PRO).await;
    let html = page(s, &user, "/dashboard").await;
    assert_eq!(figure(&html, "plan"), "Pro");
    assert_eq!(figure(&html, "allowance-used"), "0 of 500");
    assert_eq!(figure(&html, "allowance-left"), "500");
    assert!(html.contains("Renews on "));
}

async fn a_plan_cancelled_at_the_period_end_says_when_it_ends(s: &'static Stack) {
    let user = s.sign_in_new("usage-cancelled").await;
    let sub = subscribe(s, &user, STARTER).await;
    ledger_row(s, user.user_id, -7, "podscribe", &run_id(user.user_id, 1), 0).await;
    let stripe = s.stripe();
    let cancelled = stripe.update_subscription(&sub, |v| v["cancel_at_period_end"] = serde_json::json!(true));
    deliver_ok(s, &stripe.event("customer.subscription.updated", cancelled.clone())).await;
    let html = page(s, &user, "/dashboard").await;
    let end = cancelled["items"]["data"][0]["current_period_end"].as_i64().unwrap();
    let date = chrono::DateTime::from_timestamp(end, 0).unwrap().format("%-d %B %Y").to_string();
    assert!(html.contains(&format!("Ends on {date} (UTC)")), "{html}");
    assert!(!html.contains("Renews on"));
    assert_eq!(figure(&html, "allowance-used"), "7 of 100", "the plan lasts until then");
    assert_eq!(figure(&html, "allowance-left"), "93");
}

async fn a_new_account_has_no_allowance_and_no_usage_yet(s: &'static Stack) {
    let user = s.sign_in_new("usage-new").await;
    let html = page(s, &user, "/dashboard").await;
    assert!(!html.contains("id=\"allowance-used\"") && !html.contains("id=\"plan-period\""));
    assert!(html.contains("id=\"usage-empty\""));
    assert!(!html.contains("id=\"hold-notice\""));
}

async fn a_suspended_account_is_told_so_on_the_dashboard_and_the_tool_pages(s: &'static Stack) {
    let user = s.sign_in_new("usage-suspended").await;
    for path in ["/dashboard", "/tools/agentwrite", "/tools/podscribe"] {
        assert!(!page(s, &user, path).await.contains("id=\"hold-notice\""), "{path} before");
    }
    s.sql()
        .await
        .execute(
            "UPDATE users SET suspended_at = now(), suspended_reason = 'e2e' WHERE id = $1",
            &[&user.user_id],
        )
        .await
        .unwrap();
    for path in ["/dashboard", "/tools/agentwrite", "/tools/podscribe"] {
        let html = page(s, &user, path).await;
        let notice = html.split("id=\"hold-notice\">").nth(1).unwrap_or_else(|| panic!("{path}: no notice"));
        assert!(notice.starts_with("Your account is suspended"), "{path}: {notice}");
    }
}

async fn a_disputed_payment_is_told_on_the_dashboard(s: &'static Stack) {
    let user = s.sign_in_new("usage-disputed").await;
    s.sql()
        .await
        .execute(
            "INSERT INTO disputes (id, charge_id, user_id, amount, currency, status)
             VALUES ($1, 'ch_e2e_x', $2, 500, 'usd', 'needs_response')",
            &[&format!("du_e2e_usage_{}", user.user_id), &user.user_id],
        )
        .await
        .unwrap();
    let html = page(s, &user, "/dashboard").await;
    assert!(figure(&html, "hold-notice").contains("disputed with your bank"));
}
