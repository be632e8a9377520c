//! Real-browser journeys: headless Chromium (Debian's `chromium`, installed by `make setup`)
//! driven by npm `playwright-core` from Node's test runner (tests/browser/*.mjs). This trial
//! starts a tiny mailbox endpoint over the SMTP sink (the browser side asks it for sign-in
//! links), runs the journeys against the shared stack, then checks on the server side what the
//! browser cannot see: the Rewardful referral reached Stripe Checkout, and the ledger rows.
//! Screenshots land in target/e2e/screenshots/<journey file>/ (desktop 1280 px and phone 360 px).

use crate::support::fakes::rewardful::PARTNER_TOKEN;
use crate::support::process::{root, tail, work_dir, ChildGuard};
use crate::support::smtp::SmtpSink;
use crate::support::{Stack, ADMIN_EMAIL};
use crate::trials;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use libtest_mimic::Trial;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

pub fn tests() -> Vec<Trial> {
    trials![the_browser_journeys_pass_in_headless_chromium_without_console_errors_or_csp_violations]
}

/// `GET /link?to=<email>`: the sign-in link of the newest mail to that address (waits up to
/// 15 s for one), as text.
async fn start_mailbox(smtp: SmtpSink) -> String {
    async fn link(
        State(smtp): State<SmtpSink>,
        Query(q): Query<HashMap<String, String>>,
    ) -> (StatusCode, String) {
        let to = q.get("to").cloned().unwrap_or_default();
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Some(mail) = smtp.mails_to(&to).pop() {
                return (StatusCode::OK, crate::support::sign_in::link_in(&mail));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        (StatusCode::NOT_FOUND, format!("no mail to {to}"))
    }
    let app = Router::new().route("/link", get(link)).with_state(smtp);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind mailbox");
    let addr = listener.local_addr().expect("mailbox addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}")
}

/// Runs one file of browser journeys (node's test runner, one test at a time) against the site
/// at `base`, with a mailbox over `smtp` and `extra` variables; answers the runner's report and
/// the results file the journeys wrote. Fails with the report unless every test passed and
/// there were `passes` of them.
pub async fn run_journeys(
    file: &str,
    base: &str,
    smtp: &SmtpSink,
    extra: &[(&str, String)],
    passes: usize,
) -> (serde_json::Value, PathBuf) {
    let chromium = std::env::var("GT_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        Path::new(&chromium).exists(),
        "{chromium} is missing: run `make setup` (installs Debian's chromium)"
    );
    assert!(
        root().join("node_modules/playwright-core/package.json").exists(),
        "playwright-core is missing: run `make setup`"
    );
    let mailbox = start_mailbox(smtp.clone()).await;
    let stem = Path::new(file).file_stem().unwrap().to_string_lossy().replace('.', "-");
    let shots = root().join("target/e2e/screenshots").join(&stem);
    let _ = std::fs::remove_dir_all(&shots);
    std::fs::create_dir_all(&shots).expect("screenshot dir");
    let results = work_dir().join(format!("{stem}-results.json"));
    let _ = std::fs::remove_file(&results);
    let log = work_dir().join("logs").join(format!("{stem}.log"));
    let _ = std::fs::remove_file(&log);

    let mut cmd = Command::new("node");
    cmd.current_dir(root())
        .args(["--test", "--test-concurrency=1", "--test-reporter=spec", file])
        .env("GT_BASE_URL", base)
        .env("GT_MAILBOX_URL", &mailbox)
        .env("GT_SCREENSHOT_DIR", &shots)
        .env("GT_CHROMIUM", &chromium)
        .env("GT_ADMIN_EMAIL", ADMIN_EMAIL)
        .env("GT_REFERRAL_TOKEN", PARTNER_TOKEN)
        .env("GT_RESULTS_FILE", &results);
    for (name, value) in extra {
        cmd.env(name, value);
    }
    let mut node = ChildGuard::spawn(&format!("browser journeys ({file})"), cmd, &log);
    let deadline = Instant::now() + Duration::from_secs(420);
    let status = loop {
        if let Some(status) = node.try_wait() {
            break status;
        }
        assert!(Instant::now() < deadline, "{file} still running after 420 s:\n{}", output(&log));
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let report = output(&log);
    let passed = status.success() && report.contains(&format!("pass {passes}")) && report.contains("fail 0");
    assert!(passed, "{file} failed ({status}):\n{report}\n{}", worker_log_tail(base));
    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&results).expect("results file")).unwrap();
    if let Some(stalled) = results["stalledLoads"].as_array().filter(|s| !s.is_empty()) {
        eprintln!("{file}: loaded again after a 30 s stall: {stalled:?}\n{}", worker_log_tail(base));
    }
    (results, shots)
}

/// The end of the log of the Worker that serves `base` (the wrangler log that says it is ready
/// there), so that a failed journey shows what the server did at the time.
fn worker_log_tail(base: &str) -> String {
    let ready = format!("Ready on {}", base.trim_end_matches('/'));
    let logs = std::fs::read_dir(work_dir().join("logs")).into_iter().flatten().flatten();
    let log = logs.map(|e| e.path()).find(|p| {
        p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("wrangler-"))
            && std::fs::read_to_string(p).is_ok_and(|t| t.contains(&ready))
    });
    match log {
        Some(log) => format!("the Worker's log ({}), its end:\n{}", log.display(), tail(&log, 60)),
        None => format!("(no Worker log says `{ready}`)"),
    }
}

async fn the_browser_journeys_pass_in_headless_chromium_without_console_errors_or_csp_violations(
    s: &'static Stack,
) {
    let (r, shots) =
        run_journeys("tests/browser/journeys.test.mjs", &s.url(""), &s.fakes.smtp, &[], 11).await;
    // axe-core audited every page shot (and the sign-in pages), light and dark: 38 with the
    // saved result, history, upload form and public pages signed in.
    let audits = r["audits"].as_u64().unwrap_or(0);
    assert!(audits >= 38, "accessibility audits run: {audits}");
    // What the browser did, checked where it landed.
    let referral = r["referral"].as_str().expect("a referral id");
    let session_id = r["session_id"].as_str().expect("a checkout session id");
    let email = r["email"].as_str().unwrap();
    let partner = s.fakes.rewardful.affiliate_of_referral(referral);
    assert!(partner.is_some(), "the referral {referral} is the partner affiliate's");
    let session = s.stripe().session(session_id);
    assert_eq!(session["client_reference_id"], referral, "the referral went to Stripe Checkout");
    let db = s.sql().await;
    let user_id: i64 = db
        .query_one("SELECT id FROM users WHERE email = $1", &[&email])
        .await
        .expect("the user signed up")
        .get(0);
    assert_eq!(session["metadata"]["user_id"], user_id.to_string(), "our user id rides in metadata only");
    let ledger = crate::support::billing::ledger(s, user_id).await;
    let reasons: Vec<(i64, &str)> = ledger.iter().map(|(d, r, _)| (*d, r.as_str())).collect();
    assert_eq!(
        reasons,
        [
            (100, "subscription_allowance"),
            (5, "admin_grant"),
            (-1, "agentwrite"),
            (-1, "podscribe"),
            (-1, "podscribe"),
            (-55, "podscribe")
        ],
        "the plan's allowance, the operator's grant, one description, two episodes of a started minute each and one of 55 in parts: {ledger:?}"
    );
    // The address change the browser confirmed: the account has the new address, not the old.
    let (from, to) = (r["email_change"]["from"].as_str().unwrap(), r["email_change"]["to"].as_str().unwrap());
    let owner = |email: &str| {
        let email = email.to_string();
        async move {
            let row =
                s.sql().await.query_opt("SELECT id FROM users WHERE email = $1", &[&email]).await.unwrap();
            row.map(|r| r.get::<_, i64>(0))
        }
    };
    assert!(owner(to).await.is_some() && owner(from).await.is_none(), "{from} became {to}");
    let shots_taken = std::fs::read_dir(&shots).unwrap().count();
    assert!(shots_taken >= 40, "screenshots at both widths: {shots_taken}");
}

fn output(log: &Path) -> String {
    std::fs::read_to_string(log).unwrap_or_default()
}
