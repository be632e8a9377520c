//! Child processes that cannot outlive the test run: each runs in its own process group, dies
//! with us (PDEATHSIG), is killed group-wide on drop, and is listed in a pids file that
//! `scripts/test.sh` sweeps if this process itself is killed.

use std::fs::OpenOptions;
use std::io::Write;
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct ChildGuard {
    pub name: String,
    child: Child,
}

impl ChildGuard {
    /// Spawns `cmd` with stdout and stderr appended to `log`.
    pub fn spawn(name: &str, mut cmd: Command, log: &Path) -> ChildGuard {
        let out = OpenOptions::new().create(true).append(true).open(log).expect("open log");
        let err = out.try_clone().expect("clone log handle");
        cmd.stdin(Stdio::null()).stdout(out).stderr(err).process_group(0);
        // SAFETY: prctl is async-signal-safe; it only asks the kernel to signal us when our parent dies.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let child = cmd.spawn().unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        record_pid(child.id());
        ChildGuard { name: name.to_string(), child }
    }

    /// Panics with the log's tail when the process has already exited.
    pub fn assert_running(&mut self, log: &Path) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!("{} exited early ({status}):\n{}", self.name, tail(log, 60));
        }
    }

    /// The exit status, once the process has ended.
    pub fn try_wait(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    pub fn stop(&mut self) {
        let pgid = self.child.id() as i32;
        // SAFETY: signalling our own child's process group.
        unsafe { libc::kill(-pgid, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        // Whatever is left of the group (workerd under wrangler) goes now.
        unsafe { libc::kill(-pgid, libc::SIGKILL) };
        let _ = self.child.wait();
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A port that was free a moment ago on 127.0.0.1, chosen below the kernel's ephemeral range
/// (32768+): servers that bind port 0 (the fakes, the database proxy) are given ephemeral
/// ports, so they can never take a port handed out here before its owner binds it.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let seed =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0)
            as u64
            ^ (u64::from(std::process::id()) << 20);
    for attempt in 0..1000u64 {
        let n = SEQ.fetch_add(1, Ordering::Relaxed);
        let mixed =
            (seed ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ attempt).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        let port = 20000 + (mixed >> 33) as u16 % 12000;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port in 20000..32000");
}

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// target/e2e: logs, clusters and generated configs of test runs.
pub fn work_dir() -> PathBuf {
    let dir = root().join("target").join("e2e");
    std::fs::create_dir_all(dir.join("logs")).expect("create target/e2e");
    dir
}

fn record_pid(pid: u32) {
    if let Ok(mut f) = OpenOptions::new().create(true).append(true).open(work_dir().join("pids")) {
        let _ = writeln!(f, "{pid}");
    }
}

pub fn tail(log: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Runs a command to completion, panicking with its output when it fails.
pub fn run(what: &str, cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: cannot run: {e}"));
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{what} failed ({}):\n{text}", out.status);
    text
}
