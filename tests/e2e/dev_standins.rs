//! `make dev` as a newcomer meets it: a fresh `git clone` of this checkout's HEAD, no
//! `.dev.vars` (make dev copies `.dev.vars.example`, which holds no keys), `make dev` on free
//! ports beside the e2e stack; first with `ENVIRONMENT=production` exported, where the
//! stand-ins refuse and make dev stops; then for real, with tests/browser/dev_standins.test.mjs
//! in headless Chromium through the local stand-ins of Stripe, OpenAI and Google, all offline;
//! then what it did, checked in the dev database; then everything stopped, nothing left
//! listening. The clone borrows the checkout's node_modules and target dir (no new installs,
//! no rebuild of every dependency).

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
        make_dev_in_a_fresh_clone_runs_the_whole_product_on_local_stand_ins_in_a_real_browser,
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

/// A fresh clone of the committed HEAD in `dir/clone`, sharing node_modules and target/.
fn fresh_clone(dir: &Path) -> std::path::PathBuf {
    let clone = dir.join("clone");
    let head = run("git rev-parse", Command::new("git").current_dir(root()).args(["rev-parse", "HEAD"]));
    run(
        "git clone",
        Command::new("git")
            .args(["clone", "--quiet", "--no-hardlinks", "--no-checkout"])
            .arg(root())
            .arg(&clone),
    );
    run(
        "git checkout",
        Command::new("git").current_dir(&clone).args(["checkout", "--quiet", "--detach", head.trim()]),
    );
    assert!(!clone.join(".dev.vars").exists() && !clone.join("target").exists(), "a fresh clone");
    std::os::unix::fs::symlink(root().join("node_modules"), clone.join("node_modules")).unwrap();
    // The clone's package-lock.json is newer than the shared node_modules: `make setup` would
    // `npm ci` into the checkout's node_modules. The same lock file, so it keeps its age.
    let lock = clone.join("package-lock.json");
    assert_eq!(std::fs::read(&lock).unwrap(), std::fs::read(root().join("package-lock.json")).unwrap());
    run(
        "touch",
        Command::new("touch").arg("-r").arg(root().join("node_modules/.package-lock.json")).arg(&lock),
    );
    clone
}

/// `make dev` in `clone` on `ports` (app, pg, smtp, web, stripe, openai, google).
fn make_dev(clone: &Path, p: &[u16]) -> Command {
    let mut cmd = Command::new("make");
    cmd.current_dir(clone)
        .arg("dev")
        .env("APP_PORT", p[0].to_string())
        .env("PG_PORT", p[1].to_string())
        .env("MAIL_SMTP_PORT", p[2].to_string())
        .env("MAIL_WEB_PORT", p[3].to_string())
        .env("STRIPE_STANDIN_PORT", p[4].to_string())
        .env("OPENAI_STANDIN_PORT", p[5].to_string())
        .env("GOOGLE_STANDIN_PORT", p[6].to_string())
        .env("CARGO_TARGET_DIR", root().join("target"))
        .env("PG_FAST", "1")
        .env("NO_COLOR", "1")
        .env("WRANGLER_SEND_METRICS", "false")
        .env_remove("ENVIRONMENT")
        .env_remove("NODE_ENV")
        .env_remove("DEV_VARS")
        .env_remove("PG_DIR")
        .env_remove("DEV_STATE")
        .env_remove("CLOUDFLARE_HYPERDRIVE_LOCAL_CONNECTION_STRING_DB");
    cmd
}

fn assert_nothing_listens(p: &[u16], log: &Path) {
    let left: Vec<u16> = p.iter().copied().filter(|p| listening(*p)).collect();
    assert!(left.is_empty(), "still listening after make dev stopped: {left:?}\n{}", tail(log, 30));
}

async fn make_dev_in_a_fresh_clone_runs_the_whole_product_on_local_stand_ins_in_a_real_browser(
    _: &'static Stack,
) {
    let dir = work_dir().join(format!("dev-standins-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let clone = fresh_clone(&dir);
    let p = ports(7);
    let (app, pg, web, stripe, openai, google) = (p[0], p[1], p[3], p[4], p[5], p[6]);
    let log = work_dir().join("logs").join("make-dev.log");
    let _ = std::fs::remove_file(&log);

    // ENVIRONMENT=production exported in the shell wins over .dev.vars: the stand-ins refuse.
    let mut cmd = make_dev(&clone, &p);
    cmd.env("ENVIRONMENT", "production");
    let mut refused = ChildGuard::spawn("make dev (production)", cmd, &log);
    let deadline = Instant::now() + Duration::from_secs(420);
    let status = loop {
        if let Some(status) = refused.try_wait() {
            break status;
        }
        assert!(Instant::now() < deadline, "make dev in production still running:\n{}", tail(&log, 60));
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let printed = std::fs::read_to_string(&log).unwrap();
    assert!(!status.success(), "make dev must stop in production:\n{printed}");
    assert!(printed.contains("refusing to start: ENVIRONMENT=production"), "{printed}");
    drop(refused);
    assert_nothing_listens(&p, &log);
    // A fresh clone's .dev.vars is the example, and the example holds no keys.
    let vars = std::fs::read_to_string(clone.join(".dev.vars")).expect("make dev created .dev.vars");
    assert_eq!(vars, std::fs::read_to_string(clone.join(".dev.vars.example")).unwrap());
    for key in ["STRIPE_SECRET_KEY", "OPENAI_API_KEY", "GOOGLE_CLIENT_ID", "GOOGLE_CLIENT_SECRET"] {
        let set = vars
            .lines()
            .any(|l| l.trim_start().starts_with(&format!("{key}=")) && l.trim().len() > key.len() + 1);
        assert!(!set, "{key} is set in .dev.vars.example");
    }

    let mut dev = ChildGuard::spawn("make dev", make_dev(&clone, &p), &log);
    // Up when the Worker answers (a new cluster, migrations, the Worker's build in the clone).
    let client = crate::support::client().build().expect("http client");
    let health = format!("http://127.0.0.1:{app}/api/health");
    let deadline = Instant::now() + Duration::from_secs(600);
    let res = loop {
        dev.assert_running(&log);
        if let Ok(res) = client.get(&health).timeout(Duration::from_secs(5)).send().await {
            assert!(res.headers().contains_key("x-request-id"), "port {app} answered by something else");
            break res;
        }
        assert!(Instant::now() < deadline, "make dev not up in 600 s:\n{}", tail(&log, 60));
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
    for entry in [(50, "purchase"), (-1, "agentwrite"), (-1, "podscribe")] {
        assert!(ledger.iter().any(|(d, r)| (*d, r.as_str()) == entry), "{entry:?} in {ledger:?}");
    }
    let packs = ledger.iter().filter(|(d, r)| (*d, r.as_str()) == (50, "purchase")).count();
    assert_eq!(packs, 2, "a pack by card and one by bank transfer: {ledger:?}");
    // Starter's 100 credits, then the switch to Pro tops the period up to Pro's 500, once.
    let allowance: Vec<i64> =
        ledger.iter().filter(|(_, r)| r == "subscription_allowance").map(|(d, _)| *d).collect();
    assert_eq!(allowance, [100, 400], "Starter's allowance, then the upgrade's difference: {ledger:?}");
    let sub = db
        .query_one("SELECT plan, cancel_at_period_end FROM subscriptions WHERE user_id = $1", &[&user])
        .await
        .unwrap();
    assert_eq!(sub.get::<_, String>(0), "pro", "switched to Pro in the portal");
    assert!(sub.get::<_, bool>(1), "the plan ends with its period, as canceled in the portal");
    drop(db);
    let shots_taken = std::fs::read_dir(&shots).unwrap().count();
    assert!(shots_taken >= 16, "screenshots at both widths: {shots_taken}");

    // Ctrl-C stops everything make dev started.
    dev.stop();
    let _ = Command::new("bash").current_dir(&clone).arg("scripts/pg.sh").arg("stop").arg(".pg").output();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_nothing_listens(&p, &log);
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
