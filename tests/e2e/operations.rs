//! Operators' tools as an operator runs them: the production preflight (shell, env file and
//! wrangler's secret list through a fake `wrangler`), the bundle check before a deploy, and the
//! post-deploy smoke check against the running Worker and against a site that is not ours.

use crate::support::fakes::recorder::FakeServer;
use crate::support::{process::root, Stack};
use crate::trials;
use libtest_mimic::Trial;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

pub fn tests() -> Vec<Trial> {
    trials![
        preflight_names_every_missing_production_setting_and_the_placeholder_binding,
        preflight_passes_a_complete_production_configuration_exported_in_the_shell,
        preflight_passes_a_good_env_file_and_names_each_bad_value_with_its_fix,
        preflight_refuses_an_env_file_it_cannot_read_with_exit_status_2,
        preflight_checks_the_secret_names_wrangler_lists_and_says_values_were_not_checked,
        preflight_names_a_secret_missing_from_cloudflare_with_the_put_command,
        preflight_refuses_a_db_binding_whose_hyperdrive_config_caches_queries,
        preflight_explains_a_failed_wrangler_login,
        deploy_check_passes_a_bundle_under_the_limit_and_fails_one_over_it,
        deploy_check_fails_when_the_bundle_does_not_build,
        deploy_refuses_a_dirty_tree_and_stamps_the_commit_it_deploys,
        setup_prints_the_versions_in_use_and_which_are_pinned,
        the_post_deploy_smoke_check_passes_against_a_healthy_site,
        the_smoke_check_fails_and_names_each_check_against_a_site_that_is_not_ours,
    ]
}

/// A production wrangler.toml: the repository's, with a real-looking Hyperdrive id and site.
fn production_manifest(dir: &Path) -> PathBuf {
    let manifest = std::fs::read_to_string(root().join("wrangler.toml"))
        .unwrap()
        .replace("00000000000000000000000000000000", "4f1c2a7e9b3d4c5e8f6a7b8c9d0e1f2a")
        .replace("ghosttools.example", "ghosttools.app");
    let path = dir.join("wrangler.toml");
    std::fs::write(&path, manifest).unwrap();
    path
}

const GOOD_SECRETS: &[(&str, &str)] = &[
    ("NEXTAUTH_SECRET", "q8Vn3kT0pXc2Lr7Wm5Yb1Hs9Df4Gj6Ka0Ze3Uv8Ni2O"),
    ("EMAIL_SERVER", "smtp://apikey:s3cret@smtp.mailprovider.net:587"),
    ("STRIPE_SECRET_KEY", "sk_live_51Habc0123456789abcdefghijKLMNOP"),
    ("STRIPE_WEBHOOK_SECRET", "whsec_0123456789abcdefghijABCDEFGHIJ012345"),
    ("STRIPE_STARTER_PRICE_ID", "price_1Starter0123"),
    ("STRIPE_PRO_PRICE_ID", "price_1Pro0123"),
    ("OPENAI_API_KEY", "sk-proj-0123456789abcdefghijABCDEFGHIJ0123456789ab"),
];

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs the preflight binary with only PATH and `env` in its environment.
fn preflight(args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_preflight"));
    cmd.args(args).env_clear().env("PATH", std::env::var("PATH").unwrap_or_default());
    cmd.envs(env.iter().copied());
    run(&mut cmd)
}

fn run(cmd: &mut Command) -> Run {
    let out = cmd.output().unwrap_or_else(|e| panic!("run {cmd:?}: {e}"));
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// An executable shell script standing in for a command.
fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/usr/bin/env bash\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// What `wrangler hyperdrive get` prints for a config created with `--caching-disabled`.
const UNCACHED: &str = r#""caching": { "disabled": true }"#;
/// … and for one created without it (the API's answer for Hyperdrive's default).
const CACHED: &str = r#""caching": { "disabled": false, "max_age": 60, "stale_while_revalidate": 15 }"#;

/// A fake `wrangler` that records each command line and answers as wrangler 4.86 does:
/// `secret list --format json` with `JSON.stringify(secrets, null, "  ")` of the API's
/// `{name, type}` list, and `hyperdrive get <id>` with its banner and the config as JSON whose
/// caching is `caching`.
fn fake_wrangler_listing(dir: &Path, names: &[&str], caching: &str) -> PathBuf {
    let entries: Vec<String> = names
        .iter()
        .map(|n| format!("  {{\n    \"name\": \"{n}\",\n    \"type\": \"secret_text\"\n  }}"))
        .collect();
    let json = format!("[\n{}\n]", entries.join(",\n"));
    let script_text = r#"echo "$*" >> 'ARGS'
case "$1 $2" in
'secret list') cat <<'JSON'
LIST
JSON
;;
'hyperdrive get') printf ' ⛅️ wrangler 4.86.0\n───────────────────\n'; cat <<JSON
{
  "id": "$3",
  "name": "ghosttools",
  "origin": { "host": "db.example.net", "port": 5432, "scheme": "postgres" },
  CACHING
}
JSON
;;
*) echo "unexpected: $*" >&2; exit 9;;
esac"#;
    let args = dir.join("args");
    let text = script_text
        .replace("ARGS", &args.display().to_string())
        .replace("LIST", &json)
        .replace("CACHING", caching);
    script(dir, "wrangler", &text)
}

async fn preflight_names_every_missing_production_setting_and_the_placeholder_binding(_: &'static Stack) {
    let run = preflight(&[root().join("wrangler.toml").to_str().unwrap()], &[]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    for needle in [
        "problem: wrangler.toml: the Hyperdrive id is the placeholder",
        "fix: create one: `npx wrangler hyperdrive create ghosttools --caching-disabled",
        "problem: NEXTAUTH_SECRET: is not set",
        "problem: STRIPE_SECRET_KEY: is not set",
        "problem: OPENAI_API_KEY: is not set",
        "problem: EMAIL_SERVER: is not set",
        "problem: NEXTAUTH_URL: https://ghosttools.example is a placeholder",
        "problem: CONTACT_EMAIL: support@ghosttools.example is a placeholder address",
        "fix: the address that answers users and security reports",
        "not ready for production",
    ] {
        assert!(run.stdout.contains(needle), "preflight output lacks {needle}:\n{}", run.stdout);
    }
    // Every problem is followed by its fix.
    let lines: Vec<&str> = run.stdout.lines().collect();
    for (i, line) in lines.iter().enumerate().filter(|(_, l)| l.starts_with("problem: ")) {
        assert!(lines.get(i + 1).is_some_and(|l| l.starts_with("    fix: ")), "no fix after {line}");
    }
}

async fn preflight_passes_a_complete_production_configuration_exported_in_the_shell(_: &'static Stack) {
    let dir = tempfile::tempdir().unwrap();
    let path = production_manifest(dir.path());
    let run = preflight(&[path.to_str().unwrap()], GOOD_SECRETS);
    assert_eq!(run.code, 0, "a complete configuration must pass:\n{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("secrets exported in this shell"), "{}", run.stdout);
    assert!(run.stdout.contains("preflight: ready for production"), "{}", run.stdout);
}

fn env_file(dir: &Path, name: &str, pairs: &[(&str, &str)]) -> PathBuf {
    let mut text = String::from("# production secrets: `npx wrangler secret bulk` this file\n");
    for (k, v) in pairs {
        text.push_str(&format!("{k}=\"{v}\"\n"));
    }
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

async fn preflight_passes_a_good_env_file_and_names_each_bad_value_with_its_fix(_: &'static Stack) {
    let dir = tempfile::tempdir().unwrap();
    let manifest = production_manifest(dir.path());
    let good = env_file(dir.path(), "good.env", GOOD_SECRETS);
    // The shell's own values must not count when a file is given.
    let run = preflight(&["--env-file", good.to_str().unwrap(), manifest.to_str().unwrap()], &[]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains(&format!("secrets from {}", good.display())), "{}", run.stdout);

    let mut bad: Vec<(&str, &str)> = GOOD_SECRETS.to_vec();
    bad.retain(|(k, _)| !matches!(*k, "OPENAI_API_KEY" | "STRIPE_WEBHOOK_SECRET" | "NEXTAUTH_SECRET"));
    bad.extend([
        ("STRIPE_WEBHOOK_SECRET", "sk_live_51Habc0123456789abcdefghijKLMNOP"),
        ("NEXTAUTH_SECRET", "too-short"),
        ("STRIPE_PUBLISHABLE_KEY", "pk_test_51Habc0123"),
    ]);
    let bad = env_file(dir.path(), "bad.env", &bad);
    let shell_has_it = [("OPENAI_API_KEY", GOOD_SECRETS[6].1)];
    let run = preflight(&["--env-file", bad.to_str().unwrap(), manifest.to_str().unwrap()], &shell_has_it);
    assert_eq!(run.code, 1, "{}", run.stdout);
    let f = bad.display();
    for needle in [
        "problem: OPENAI_API_KEY: is not set (required in production)".to_string(),
        format!("    fix: platform.openai.com → API keys; set OPENAI_API_KEY in {f}, then upload it: `npx wrangler secret bulk {f}`"),
        "problem: STRIPE_WEBHOOK_SECRET: must start with whsec_".into(),
        "problem: NEXTAUTH_SECRET: must be at least 32 bytes".into(),
        "    fix: generate one with `openssl rand -base64 48`".into(),
        "problem: STRIPE_PUBLISHABLE_KEY: is a test key but STRIPE_SECRET_KEY is a live key: live and test keys are mixed"
            .into(),
        "preflight: 4 problems — not ready for production".into(),
    ] {
        assert!(run.stdout.contains(&needle), "output lacks {needle}:\n{}", run.stdout);
    }
    assert!(
        !run.stdout.contains("too-short") && !run.stdout.contains("sk_live_51H"),
        "values leak:\n{}",
        run.stdout
    );
}

async fn preflight_refuses_an_env_file_it_cannot_read_with_exit_status_2(_: &'static Stack) {
    let dir = tempfile::tempdir().unwrap();
    let manifest = production_manifest(dir.path());
    let missing = dir.path().join("nope.env");
    let run = preflight(&["--env-file", missing.to_str().unwrap(), manifest.to_str().unwrap()], &[]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("cannot read") && run.stderr.contains("nope.env"), "{}", run.stderr);
    let garbled = dir.path().join("garbled.env");
    std::fs::write(&garbled, "A=1\nnot a variable\n").unwrap();
    let run = preflight(&["--env-file", garbled.to_str().unwrap(), manifest.to_str().unwrap()], &[]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("line 2: not KEY=value"), "{}", run.stderr);
    let run = preflight(&["--frobnicate"], &[]);
    assert_eq!((run.code, run.stderr.contains("usage: preflight")), (2, true), "{}", run.stderr);
}

async fn preflight_checks_the_secret_names_wrangler_lists_and_says_values_were_not_checked(
    _: &'static Stack,
) {
    let dir = tempfile::tempdir().unwrap();
    let manifest = production_manifest(dir.path());
    let names: Vec<&str> = GOOD_SECRETS.iter().map(|(k, _)| *k).collect();
    let wrangler = fake_wrangler_listing(dir.path(), &names, UNCACHED);
    let run = preflight(
        &["--from-wrangler", manifest.to_str().unwrap()],
        &[("WRANGLER", wrangler.to_str().unwrap())],
    );
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("secrets uploaded to Cloudflare (names only)"), "{}", run.stdout);
    assert!(run.stdout.contains("note: secret values cannot be read back from Cloudflare"), "{}", run.stdout);
    let args = std::fs::read_to_string(dir.path().join("args")).unwrap();
    let m = manifest.display();
    assert_eq!(
        args.lines().collect::<Vec<_>>(),
        [
            format!("secret list --format json --config {m}"),
            format!("hyperdrive get 4f1c2a7e9b3d4c5e8f6a7b8c9d0e1f2a --config {m}")
        ]
    );
}

async fn preflight_refuses_a_db_binding_whose_hyperdrive_config_caches_queries(_: &'static Stack) {
    let dir = tempfile::tempdir().unwrap();
    let manifest = production_manifest(dir.path());
    let names: Vec<&str> = GOOD_SECRETS.iter().map(|(k, _)| *k).collect();
    let wrangler = fake_wrangler_listing(dir.path(), &names, CACHED);
    let run = preflight(
        &["--from-wrangler", manifest.to_str().unwrap()],
        &[("WRANGLER", wrangler.to_str().unwrap())],
    );
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains(
            "problem: Hyperdrive 4f1c2a7e9b3d4c5e8f6a7b8c9d0e1f2a (binding DB) caches queries (60 s): sessions, \
             customers, plans and balances would be read stale after a write\n    \
             fix: `npx wrangler hyperdrive update 4f1c2a7e9b3d4c5e8f6a7b8c9d0e1f2a --caching-disabled`"
        ),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("preflight: 1 problem — not ready for production"), "{}", run.stdout);
}

async fn preflight_names_a_secret_missing_from_cloudflare_with_the_put_command(_: &'static Stack) {
    let dir = tempfile::tempdir().unwrap();
    let manifest = production_manifest(dir.path());
    let names: Vec<&str> = GOOD_SECRETS.iter().map(|(k, _)| *k).filter(|k| *k != "OPENAI_API_KEY").collect();
    let wrangler = fake_wrangler_listing(dir.path(), &names, UNCACHED);
    // A value exported in the shell does not stand in for a secret Cloudflare lacks.
    let env = [("WRANGLER", wrangler.to_str().unwrap()), ("OPENAI_API_KEY", GOOD_SECRETS[6].1)];
    let run = preflight(&["--from-wrangler", manifest.to_str().unwrap()], &env);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(
        run.stdout.contains(
            "problem: OPENAI_API_KEY: is not set (required in production)\n    fix: platform.openai.com → API keys; `npx wrangler secret put OPENAI_API_KEY`"
        ),
        "{}",
        run.stdout
    );
}

async fn preflight_explains_a_failed_wrangler_login(_: &'static Stack) {
    let dir = tempfile::tempdir().unwrap();
    let manifest = std::fs::read_to_string(production_manifest(dir.path())).unwrap();
    // The bindings are still checked when the secrets cannot be listed.
    let path = dir.path().join("wrangler.toml");
    std::fs::write(&path, manifest.replace("4f1c2a7e9b3d4c5e8f6a7b8c9d0e1f2a", &"0".repeat(32))).unwrap();
    // What wrangler 4.86 prints without a login, colours and all (captured from the real one).
    let wrangler = script(
        dir.path(),
        "wrangler",
        r#"printf '\033[31m✘ \033[41;31m[\033[41;97mERROR\033[41;31m]\033[0m \033[1mIn a non-interactive environment, it'"'"'s necessary to set a CLOUDFLARE_API_TOKEN environment variable for wrangler to work.\033[0m\n\n\n🪵  Logs were written to "/tmp/wrangler.log"\n' >&2
exit 1"#,
    );
    let run =
        preflight(&["--from-wrangler", path.to_str().unwrap()], &[("WRANGLER", wrangler.to_str().unwrap())]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(
        run.stdout
            .contains("problem: cannot list the Worker's secrets: [ERROR] In a non-interactive environment"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("fix: log in with `npx wrangler login`"), "{}", run.stdout);
    assert!(run.stdout.contains("Hyperdrive id is the placeholder"), "{}", run.stdout);
}

fn deploy_check(wrangler: &Path, limit: Option<&str>) -> Run {
    let mut cmd = Command::new(root().join("scripts/deploy-check.sh"));
    // Beside the fake: the two tests run at once, and each empties its output folder first.
    cmd.env("WRANGLER", wrangler).env("DEPLOY_OUTDIR", wrangler.with_extension("out"));
    match limit {
        Some(l) => cmd.env("DEPLOY_LIMIT_KIB", l),
        None => cmd.env_remove("DEPLOY_LIMIT_KIB"),
    };
    run(&mut cmd)
}

/// The real dry run (`make deploy-check`, run by `make test`) proves the real bundle; these
/// prove the script's verdict on what wrangler reports.
async fn deploy_check_passes_a_bundle_under_the_limit_and_fails_one_over_it(_: &'static Stack) {
    let dir = tempfile::tempdir().unwrap();
    let wrangler = script(
        dir.path(),
        "wrangler",
        "[ \"$1 $2 $3\" = 'deploy --dry-run --outdir' ] || exit 9\n\
         printf '[custom build] Running: make -s wasm\\nTotal Upload: \\033[32m7012.50 KiB / gzip: 3100.25 KiB\\033[39m\\n--dry-run: exiting now.\\n'",
    );
    let run = deploy_check(&wrangler, None);
    assert_ne!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("bundle: 7012.50 KiB raw, 3100.25 KiB gzip (limit 3072 KiB gzip)"),
        "{}",
        run.stdout
    );
    assert!(run.stderr.contains("over the 3072 KiB upload limit"), "{}", run.stderr);
    let run = deploy_check(&wrangler, Some("10240"));
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("deploy-check: ok"), "{}", run.stdout);
}

async fn deploy_check_fails_when_the_bundle_does_not_build(_: &'static Stack) {
    let dir = tempfile::tempdir().unwrap();
    let broken = script(
        dir.path(),
        "wrangler",
        "echo '✘ [ERROR] Running custom build `make -s wasm` failed.' >&2\nexit 1",
    );
    let run = deploy_check(&broken, None);
    assert_ne!(run.code, 0);
    assert!(run.stderr.contains("does not bundle") && run.stderr.contains("custom build"), "{}", run.stderr);
    let silent = script(dir.path(), "wrangler-silent", "echo 'nothing to see'");
    let run = deploy_check(&silent, None);
    assert_ne!(run.code, 0);
    assert!(run.stderr.contains("no 'Total Upload"), "{}", run.stderr);
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git").arg("-C").arg(dir).args(args).output().expect("run git");
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// scripts/deploy.sh in a repository of its own (a copy of the scripts, committed), with a fake
/// `wrangler` that records what it was asked: `make deploy` runs it first with `--check`, and
/// last to deploy.
async fn deploy_refuses_a_dirty_tree_and_stamps_the_commit_it_deploys(_: &'static Stack) {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    std::fs::create_dir_all(repo.join("scripts")).unwrap();
    for name in ["deploy.sh", "lib.sh"] {
        std::fs::copy(root().join("scripts").join(name), repo.join("scripts").join(name)).unwrap();
    }
    std::fs::write(repo.join("README.md"), "v1\n").unwrap();
    git(&repo, &["init", "-q"]);
    git(&repo, &["add", "."]);
    git(&repo, &["-c", "user.name=t", "-c", "user.email=t@t.test", "commit", "-qm", "v1"]);
    let head = git(&repo, &["rev-parse", "--short=12", "HEAD"]);
    let args = dir.path().join("args");
    let wrangler = script(dir.path(), "wrangler", &format!("echo \"$*\" > '{}'", args.display()));
    let deploy = |arg: Option<&str>| {
        let mut cmd = Command::new(repo.join("scripts/deploy.sh"));
        cmd.args(arg).env("WRANGLER", &wrangler);
        run(&mut cmd)
    };

    let checked = deploy(Some("--check"));
    assert_eq!(checked.code, 0, "{}{}", checked.stdout, checked.stderr);
    assert!(checked.stdout.contains(&format!("clean tree at {head}")), "{}", checked.stdout);
    assert!(!args.exists(), "--check deploys nothing");
    let deployed = deploy(None);
    assert_eq!(deployed.code, 0, "{}{}", deployed.stdout, deployed.stderr);
    assert_eq!(
        std::fs::read_to_string(&args).unwrap().trim(),
        format!("deploy --var GHOSTTOOLS_VERSION:{head}")
    );
    std::fs::remove_file(&args).unwrap();

    // A changed tracked file, then an untracked one: each refused, before wrangler is asked.
    std::fs::write(repo.join("README.md"), "v2, not committed\n").unwrap();
    for arg in [Some("--check"), None] {
        let refused = deploy(arg);
        assert_ne!(refused.code, 0, "{arg:?}: {}", refused.stdout);
        assert!(
            refused.stderr.contains("uncommitted changes") && refused.stderr.contains("README.md"),
            "{}",
            refused.stderr
        );
    }
    git(&repo, &["checkout", "-q", "README.md"]);
    std::fs::write(repo.join("new.rs"), "// not added\n").unwrap();
    let refused = deploy(None);
    assert_ne!(refused.code, 0, "{}", refused.stdout);
    assert!(refused.stderr.contains("new.rs"), "{}", refused.stderr);
    assert!(!args.exists(), "nothing was deployed from a dirty tree");
}

/// The end of `make setup`: every tool with its version, marked pinned or not.
async fn setup_prints_the_versions_in_use_and_which_are_pinned(_: &'static Stack) {
    let out = run(&mut Command::new(root().join("scripts/versions.sh")));
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let lock = std::fs::read_to_string(root().join("Cargo.lock")).unwrap();
    let at = lock.find("name = \"wasm-bindgen\"\n").unwrap();
    let bindgen = lock[at..].lines().nth(1).unwrap().trim_start_matches("version = ").trim_matches('"');
    let package = std::fs::read_to_string(root().join("package.json")).unwrap();
    let wrangler = package.split("\"wrangler\": \"").nth(1).unwrap().split('"').next().unwrap();
    for (kind, tool, version) in [
        ("pinned", "worker-build", "0.8.7"),
        ("pinned", "wasm-bindgen", bindgen),
        ("pinned", "wrangler", wrangler),
        ("apt", "postgresql", ""),
        ("apt", "chromium", ""),
        ("system", "rustc", ""),
        ("system", "node", ""),
    ] {
        let line = out.stdout.lines().find(|l| l.split_whitespace().nth(1) == Some(tool));
        let line = line.unwrap_or_else(|| panic!("no {tool} in:\n{}", out.stdout));
        assert!(line.trim_start().starts_with(kind), "{line}");
        assert!(line.contains(version) && !line.contains("missing"), "{line}");
    }
    assert!(out.stdout.contains("not pinned"), "{}", out.stdout);
}

async fn smoke(url: &str) -> Run {
    let out = tokio::process::Command::new(root().join("scripts/smoke.sh"))
        .arg(url)
        // A short soak: the suite's time matters more than the count.
        .env("SMOKE_SOAK", "40")
        .output()
        .await
        .expect("run smoke.sh");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

async fn the_post_deploy_smoke_check_passes_against_a_healthy_site(s: &'static Stack) {
    let run = smoke(&s.url("")).await;
    assert_eq!(run.code, 0, "smoke.sh failed:\n{}{}", run.stdout, run.stderr);
    for line in [
        "ok    health answers 200 ok",
        "ok    database reachable",
        "ok    schema up to date",
        "ok    CSP with a nonce",
        "ok    CSP forbids framing",
        "ok    sign-in form (email, CSRF)",
        "ok    unsigned webhook refused (400)",
        "ok    forged webhook signature refused (400)",
        "ok    database soak: 40 sequential health reads, no 5xx",
        "      soak statuses: 200×40",
    ] {
        assert!(run.stdout.contains(line), "smoke output lacks {line}:\n{}", run.stdout);
    }
    assert!(!run.stdout.contains("FAIL"), "{}", run.stdout);
}

async fn the_smoke_check_fails_and_names_each_check_against_a_site_that_is_not_ours(_: &'static Stack) {
    // A server that says 200 "hello" to everything: no health JSON, no headers, no form, and
    // it "accepts" webhooks; and every fourth answer is a 502, as a pooler in trouble gives.
    let answers = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let hello = move || {
        let n = answers.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        async move {
            match n % 4 {
                3 => (axum::http::StatusCode::BAD_GATEWAY, "upstream"),
                _ => (axum::http::StatusCode::OK, "hello"),
            }
        }
    };
    let site = FakeServer::start("not-ours", axum::Router::new().fallback(hello)).await;
    let run = smoke(&site.url()).await;
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    for line in [
        "FAIL  health answers 200 ok — HTTP 200, not the health JSON: hello",
        "FAIL  CSP with a nonce",
        "FAIL  sign-in form (email, CSRF)",
        "FAIL  database soak: 40 sequential health reads, no 5xx — statuses: 200×30, 502×10",
        "smoke: FAILED for",
    ] {
        assert!(run.stdout.contains(line), "smoke output lacks {line}:\n{}", run.stdout);
    }
    let posts = site.recorder.matching(|r| r.method == "POST" && r.path == "/api/stripe/webhook");
    assert_eq!(posts.len(), 2, "one unsigned and one forged event");
    assert!(posts[0].header("stripe-signature").is_none());
    assert!(posts[1].header("stripe-signature").is_some_and(|h| h.starts_with("t=") && h.contains(",v1=")));
}
