//! The real Worker under `wrangler dev` (workerd), configured from the project's own
//! wrangler.toml with the build step removed, paths made absolute, Hyperdrive pointed at the
//! test database and vars pointed at the fakes.

use super::process::{free_port, root, tail, work_dir, ChildGuard};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};
use toml::{Table, Value};

pub struct Worker {
    pub name: String,
    pub port: u16,
    pub log: PathBuf,
    dir: PathBuf,
    guard: std::sync::Mutex<ChildGuard>,
}

impl Worker {
    /// Starts `wrangler dev` on a free port and waits until `/api/health` answers.
    /// `vars` are set as plain vars; `None` removes a var the project config sets. `drop` names
    /// top-level keys of the project config to leave out.
    pub async fn start(
        name: &str,
        port: u16,
        database_url: &str,
        vars: &BTreeMap<String, Option<String>>,
        drop: &[&str],
        run_retries: u32,
    ) -> Worker {
        let dir = work_dir().join(format!("worker-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("worker dir");
        let config_path = dir.join("wrangler.toml");
        std::fs::write(&config_path, config(database_url, vars, drop, run_retries))
            .expect("write wrangler.toml");
        let log = work_dir().join("logs").join(format!("wrangler-{name}.log"));
        let _ = std::fs::remove_file(&log);
        let guard = launch(name, port, &dir, &log).await;
        Worker { name: name.to_string(), port, log, dir, guard: std::sync::Mutex::new(guard) }
    }

    /// Stops the Worker and starts it again with the same configuration, port and local state
    /// (what a deploy or an evicted isolate looks like to a browser).
    pub async fn restart(&self) {
        self.stop();
        let guard = launch(&self.name, self.port, &self.dir, &self.log).await;
        *self.guard.lock().unwrap_or_else(|p| p.into_inner()) = guard;
    }

    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn stop(&self) {
        self.guard.lock().unwrap_or_else(|p| p.into_inner()).stop();
    }

    /// The Worker's log so far (console output of the Worker included).
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Where this Worker's local state lives (Durable Objects, R2, queues).
    pub fn state_dir(&self) -> PathBuf {
        self.dir.join("state")
    }

    pub fn log_tail(&self) -> String {
        tail(&self.log, 80)
    }
}

/// Runs `wrangler dev` with the config in `dir` and waits until `/api/health` answers. A
/// runtime that fails to start is started again, twice at most: seen once in a run beside
/// another checkout's suite, with no reason given (a port taken between our check and workerd's
/// bind is the likely one; the inspector port is chosen afresh each time).
async fn launch(name: &str, port: u16, dir: &std::path::Path, log: &std::path::Path) -> ChildGuard {
    for attempt in 1.. {
        match launch_once(name, port, dir, log).await {
            Ok(guard) => return guard,
            Err(mut failed) if attempt < 3 && tail(log, 60).contains("Workers runtime failed to start") => {
                failed.stop();
                eprintln!("wrangler dev ({name}): the runtime failed to start; starting it again");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(mut failed) => failed.assert_running(log),
        }
    }
    unreachable!()
}

/// One start of `wrangler dev`: Err(the exited process) when it ends before it is ready.
async fn launch_once(
    name: &str,
    port: u16,
    dir: &std::path::Path,
    log: &std::path::Path,
) -> Result<ChildGuard, ChildGuard> {
    let config_path = dir.join("wrangler.toml");
    let mut cmd = Command::new(root().join("node_modules/.bin/wrangler"));
    cmd.current_dir(dir)
        .args(["dev", "--config"])
        .arg(&config_path)
        .args(["--ip", "127.0.0.1", "--port", &port.to_string()])
        .args(["--inspector-port", &free_port().to_string()])
        .arg("--persist-to")
        .arg(dir.join("state"))
        .args(["--show-interactive-dev-session=false", "--log-level", "info"])
        // `/__scheduled` fires the Cron Trigger (tests/e2e/sweep.rs).
        .arg("--test-scheduled")
        .env("WRANGLER_SEND_METRICS", "false")
        .env("NO_COLOR", "1")
        .env_remove("CLOUDFLARE_HYPERDRIVE_LOCAL_CONNECTION_STRING_DB");
    let mut guard = ChildGuard::spawn(&format!("wrangler dev ({name})"), cmd, log);
    let client = crate::support::client().build().expect("http client");
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if guard.try_wait().is_some() {
            return Err(guard);
        }
        let url = format!("http://127.0.0.1:{port}/api/health");
        if let Ok(res) = client.get(&url).timeout(Duration::from_secs(5)).send().await {
            // Only our Worker stamps a request id: anything else on the port is a collision.
            assert!(res.headers().contains_key("x-request-id"), "port {port} answered by something else");
            break;
        }
        assert!(Instant::now() < deadline, "wrangler dev ({name}) not ready in 90 s:\n{}", tail(log, 60));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(guard)
}

fn config(
    database_url: &str,
    vars: &BTreeMap<String, Option<String>>,
    drop: &[&str],
    run_retries: u32,
) -> String {
    let project = std::fs::read_to_string(root().join("wrangler.toml")).expect("read wrangler.toml");
    let mut t: Table = project.parse().expect("wrangler.toml is valid TOML");
    t.remove("build");
    for key in drop {
        assert!(t.remove(*key).is_some(), "wrangler.toml has no `{key}` to drop");
    }
    let abs = |p: &str| Value::String(root().join(p).to_string_lossy().into_owned());
    let main = t.get("main").and_then(Value::as_str).expect("main").to_string();
    t.insert("main".into(), abs(&main));
    if let Some(Value::Table(assets)) = t.get_mut("assets") {
        let d = assets.get("directory").and_then(Value::as_str).expect("assets.directory").to_string();
        assets.insert("directory".into(), abs(&d));
    }
    if let Some(Value::Array(hds)) = t.get_mut("hyperdrive") {
        for hd in hds.iter_mut() {
            if let Value::Table(hd) = hd {
                hd.insert("localConnectionString".into(), Value::String(database_url.into()));
            }
        }
    }
    // The runs queue retries `run_retries` times, a second apart (production: 3, 30 s apart).
    if let Some(Value::Array(consumers)) = t.get_mut("queues").and_then(|q| q.get_mut("consumers")) {
        for consumer in consumers.iter_mut().filter_map(Value::as_table_mut) {
            if consumer.get("queue").and_then(Value::as_str) == Some("ghosttools-runs") {
                consumer.insert("max_retries".into(), Value::Integer(i64::from(run_retries)));
                consumer.insert("retry_delay".into(), Value::Integer(1));
            }
        }
    }
    let mut merged = match t.remove("vars") {
        Some(Value::Table(v)) => v,
        _ => Table::new(),
    };
    for (k, v) in vars {
        match v {
            Some(v) => merged.insert(k.clone(), Value::String(v.clone())),
            None => merged.remove(k),
        };
    }
    t.insert("vars".into(), Value::Table(merged));
    toml::to_string(&t).expect("serialize config")
}
