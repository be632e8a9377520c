//! `make dev` as a newcomer meets it: scripts/dev.sh (what the target runs) from a fresh state —
//! an empty `.dev.vars`, a new Postgres cluster, no Worker storage — on free ports beside the
//! e2e stack; then tests/browser/dev_standins.test.mjs in headless Chromium through the local
//! stand-ins of Stripe, OpenAI and Google, all offline; then what it did, checked in the dev
//! database; then everything stopped, and nothing left listening.

use crate::browser::run_journeys;
use crate::support::postgres::connect;
use crate::support::process::{free_port, root, run, tail, work_dir, ChildGuard};
use crate::support::smtp::{Mode, SmtpSink};
use crate::support::Stack;
use crate::trials;
use libtest_mimic::Trial;
use std::collections::BTreeSet;
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

pub fn tests() -> Vec<Trial> {
    trials![
        make_dev_with_an_empty_dev_vars_runs_the_whole_product_on_local_stand_ins_in_a_real_browser,
        the_stand_ins_refuse_to_start_in_production,
    ]
}

/// `n` distinct free ports.
fn ports(n: usize) -> Vec<u16> {
    let mut seen = BTreeSet::new();
    while seen.len() < n {
        seen.insert(free_port());
    }
    seen.into_iter().collect()
}

fn listening(port: u16) -> bool {
    TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_millis(300)).is_ok()
}

async fn make_dev_with_an_empty_dev_vars_runs_the_whole_product_on_local_stand_ins_in_a_real_browser(
    _: &'static Stack,
) {
    let dir = work_dir().join(format!("dev-standins-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("dev.vars"), "").unwrap();
    let p = ports(7);
    let (app, pg, smtp, web, stripe, openai, google) = (p[0], p[1], p[2], p[3], p[4], p[5], p[6]);
    let log = work_dir().join("logs").join("make-dev.log");
    let _ = std::fs::remove_file(&log);
    let mut cmd = Command::new("bash");
    cmd.current_dir(root())
        .arg("scripts/dev.sh")
        .env("APP_PORT", app.to_string())
        .env("PG_PORT", pg.to_string())
        .env("MAIL_SMTP_PORT", smtp.to_string())
        .env("MAIL_WEB_PORT", web.to_string())
        .env("STRIPE_STANDIN_PORT", stripe.to_string())
        .env("OPENAI_STANDIN_PORT", openai.to_string())
        .env("GOOGLE_STANDIN_PORT", google.to_string())
        .env("DEV_VARS", dir.join("dev.vars"))
        .env("PG_DIR", dir.join("pg"))
        .env("DEV_STATE", dir.join("state"))
        .env("PG_FAST", "1")
        .env("NO_COLOR", "1")
        .env("WRANGLER_SEND_METRICS", "false")
        .env_remove("CLOUDFLARE_HYPERDRIVE_LOCAL_CONNECTION_STRING_DB");
    // wrangler's [build] step (`make -s wasm`) is a no-op after `make test`'s build; a stale
    // Worker is built here first, so the wait below is for make dev alone.
    run("make wasm", Command::new("make").current_dir(root()).args(["-s", "wasm"]));
    let mut dev = ChildGuard::spawn("make dev (scripts/dev.sh)", cmd, &log);

    // Up when the Worker answers (setup, a new cluster, migrations, the stand-ins' build).
    let client = reqwest::Client::new();
    let health = format!("http://127.0.0.1:{app}/api/health");
    let deadline = Instant::now() + Duration::from_secs(420);
    let res = loop {
        dev.assert_running(&log);
        if let Ok(res) = client.get(&health).timeout(Duration::from_secs(5)).send().await {
            assert!(res.headers().contains_key("x-request-id"), "port {app} answered by something else");
            break res;
        }
        assert!(Instant::now() < deadline, "make dev not up in 420 s:\n{}", tail(&log, 60));
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let body = res.text().await.unwrap();
    assert!(body.contains("\"ok\""), "healthy: {body}");
    let printed = std::fs::read_to_string(&log).unwrap();
    for line in [
        format!("Stripe         stand-in on http://127.0.0.1:{stripe}"),
        format!("OpenAI         stand-in on http://127.0.0.1:{openai}"),
        format!("Google         stand-in on http://127.0.0.1:{google}"),
    ] {
        assert!(printed.contains(&line), "make dev says which services are stand-ins: {line}\n{printed}");
    }

    let unused = SmtpSink::start(Mode::Accept).await; // the journey reads maildev instead
    let base = format!("http://localhost:{app}");
    let extra = [("GT_MAILDEV_URL", format!("http://127.0.0.1:{web}"))];
    let (r, shots) = run_journeys("tests/browser/dev_standins.test.mjs", &base, &unused, &extra, 2).await;

    // What the journey did, as the dev database holds it.
    let db = connect(&format!("postgres://ghosttools:dev@127.0.0.1:{pg}/ghosttools")).await;
    let email = r["email"].as_str().unwrap();
    let user: i64 = db.query_one("SELECT id FROM users WHERE email = $1", &[&email]).await.unwrap().get(0);
    let rows = db
        .query("SELECT delta, reason FROM credit_ledger WHERE user_id = $1 ORDER BY id", &[&user])
        .await
        .unwrap();
    let ledger: Vec<(i64, String)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    for entry in [(50, "purchase"), (-1, "agentwrite"), (-1, "podscribe"), (100, "subscription_allowance")] {
        assert!(ledger.iter().any(|(d, r)| (*d, r.as_str()) == entry), "{entry:?} in {ledger:?}");
    }
    let packs = ledger.iter().filter(|(d, r)| (*d, r.as_str()) == (50, "purchase")).count();
    assert_eq!(packs, 2, "a pack by card and one by bank transfer: {ledger:?}");
    let canceling: bool = db
        .query_one("SELECT cancel_at_period_end FROM subscriptions WHERE user_id = $1", &[&user])
        .await
        .unwrap()
        .get(0);
    assert!(canceling, "the plan ends with its period, as canceled in the portal");
    drop(db);
    let shots_taken = std::fs::read_dir(&shots).unwrap().count();
    assert!(shots_taken >= 16, "screenshots at both widths: {shots_taken}");

    // Ctrl-C stops everything make dev started.
    dev.stop();
    let _ = Command::new("bash")
        .current_dir(root())
        .arg("scripts/pg.sh")
        .arg("stop")
        .arg(dir.join("pg"))
        .output();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let left: Vec<u16> =
        [app, pg, smtp, web, stripe, openai, google].into_iter().filter(|p| listening(*p)).collect();
    assert!(left.is_empty(), "still listening after make dev stopped: {left:?}\n{}", tail(&log, 30));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Builds the stand-ins binary (as `make dev` does) and answers its path.
fn standins_binary() -> std::path::PathBuf {
    let out = Command::new("cargo")
        .current_dir(root())
        .args(["build", "--quiet", "-p", "ghosttools-fakes", "--bin", "standins"])
        .output()
        .expect("cargo build");
    assert!(out.status.success(), "build standins: {}", String::from_utf8_lossy(&out.stderr));
    root().join("target/debug/standins")
}

async fn the_stand_ins_refuse_to_start_in_production(_: &'static Stack) {
    let binary = standins_binary();
    for (var, value) in
        [("ENVIRONMENT", "production"), ("ENVIRONMENT", "Production"), ("NODE_ENV", "production")]
    {
        let port = free_port();
        let vars = work_dir().join(format!("standins-refused-{}.env", std::process::id()));
        let out = Command::new(&binary)
            .env_remove("ENVIRONMENT")
            .env_remove("NODE_ENV")
            .env(var, value)
            .args(["--stripe", &port.to_string(), "--webhook", "http://127.0.0.1:9/api/stripe/webhook"])
            .arg("--vars-out")
            .arg(&vars)
            .output()
            .expect("run standins");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{var}={value}: {stderr}");
        assert!(stderr.contains(&format!("refusing to start: {var}=production")), "{stderr}");
        assert!(!Path::new(&vars).exists() && !listening(port), "{var}={value}: nothing was started");
    }
}
