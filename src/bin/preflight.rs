//! `preflight`: checks a production configuration before deploying — the handbook's
//! "prepare-production" step. The checks live in `ghosttools::preflight`; this reads the inputs
//! and prints the report.
//!
//! Usage: `preflight [--env-file FILE | --from-wrangler] [--stripe-test-mode] [wrangler.toml]`
//! - no option: secrets are read from this shell's environment (export them first);
//! - `--env-file FILE`: from a dotenv file (the one `wrangler secret bulk FILE` uploads);
//! - `--from-wrangler`: the names `wrangler secret list` reports (values cannot be checked),
//!   and the `DB` binding's Hyperdrive config (`wrangler hyperdrive get`): caching must be off.
//!   The command is `npx wrangler` unless `WRANGLER` names another (a path, or words).
//!
//! Exit status: 0 ready, 1 problems found, 2 the inputs could not be read.

fn main() {
    #[cfg(not(target_arch = "wasm32"))]
    std::process::exit(native::main());
}

#[cfg(not(target_arch = "wasm32"))]
mod native {
    use ghosttools::preflight::{self, Report, Secrets, StripeMode};
    use std::process::Command;

    const USAGE: &str =
        "usage: preflight [--env-file FILE | --from-wrangler] [--stripe-test-mode] [wrangler.toml]";

    enum From {
        Shell,
        File(String),
        Wrangler,
    }

    pub fn main() -> i32 {
        match run(std::env::args().skip(1).collect()) {
            Ok(code) => code,
            Err(message) => {
                eprintln!("preflight: {message}");
                2
            }
        }
    }

    fn run(args: Vec<String>) -> Result<i32, String> {
        let (mut from, mut mode, mut path) = (From::Shell, StripeMode::Live, None);
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--env-file" => from = From::File(args.next().ok_or(USAGE)?),
                "--from-wrangler" => from = From::Wrangler,
                "--stripe-test-mode" => mode = StripeMode::Test,
                "-h" | "--help" => {
                    println!("{USAGE}");
                    return Ok(0);
                }
                a if a.starts_with('-') => return Err(format!("unknown option {a}\n{USAGE}")),
                a if path.is_none() => path = Some(a.to_string()),
                _ => return Err(USAGE.into()),
            }
        }
        let path = path.unwrap_or_else(|| "wrangler.toml".into());
        let text = std::fs::read_to_string(&path).map_err(|e| format!("cannot read {path}: {e}"))?;
        let manifest: toml::Table = text.parse().map_err(|e| format!("{path} is not valid TOML: {e}"))?;
        let (secrets, described) = match from {
            From::Shell => (Secrets::Shell(std::env::vars().collect()), "exported in this shell".to_string()),
            From::File(file) => {
                let text = std::fs::read_to_string(&file).map_err(|e| format!("cannot read {file}: {e}"))?;
                let values = preflight::parse_dotenv(&text).map_err(|e| format!("{file}: {e}"))?;
                (Secrets::EnvFile { path: file.clone(), values }, format!("from {file}"))
            }
            From::Wrangler => match uploaded_secrets(&path) {
                Ok(names) => (Secrets::Uploaded(names), "uploaded to Cloudflare (names only)".to_string()),
                Err(problem) => {
                    println!("preflight: {path}; secrets from `wrangler secret list`");
                    let mut report = preflight::check_manifest(&manifest);
                    report.problems.insert(0, problem);
                    return Ok(finish(&report));
                }
            },
        };
        println!("preflight: {path}; secrets {described}");
        let mut report = preflight::check(&manifest, &secrets, mode);
        if matches!(secrets, Secrets::Uploaded(_)) {
            check_db_config(&path, &manifest, &mut report);
        }
        Ok(finish(&report))
    }

    fn finish(report: &Report) -> i32 {
        print!("{}", report.render());
        if report.ready() {
            println!("preflight: ready for production");
            0
        } else {
            let n = report.problems.len();
            println!("preflight: {n} problem{} — not ready for production", if n == 1 { "" } else { "s" });
            1
        }
    }

    /// Runs `wrangler secret list --format json` for this wrangler.toml's Worker.
    fn uploaded_secrets(manifest: &str) -> Result<std::collections::BTreeSet<String>, preflight::Problem> {
        let login = "log in with `npx wrangler login` (or export CLOUDFLARE_API_TOKEN), or check a file \
                     instead: `make preflight ENV_FILE=.prod.env`";
        let failed = |why: String| preflight::Problem {
            what: format!("cannot list the Worker's secrets: {why}"),
            fix: login.into(),
        };
        let stdout =
            wrangler(&["secret", "list", "--format", "json", "--config", manifest]).map_err(failed)?;
        preflight::parse_secret_list(&stdout).map_err(failed)
    }

    /// Reads the `DB` binding's Hyperdrive config (`wrangler hyperdrive get <id>`) and refuses
    /// one that caches queries.
    fn check_db_config(manifest_path: &str, manifest: &toml::Table, report: &mut Report) {
        let Some(id) = preflight::db_hyperdrive_id(manifest) else { return };
        let read = wrangler(&["hyperdrive", "get", &id, "--config", manifest_path])
            .and_then(|stdout| preflight::parse_hyperdrive_config(&stdout));
        match read {
            Ok(cache) => preflight::check_db_caching(&id, cache, report),
            Err(why) => report.problems.push(preflight::Problem {
                what: format!("cannot read the Hyperdrive config {id} (binding DB): {why}"),
                fix: "check the id under [[hyperdrive]] in wrangler.toml (`npx wrangler hyperdrive list`) \
                      and that this login may read it"
                    .into(),
            }),
        }
    }

    /// Runs wrangler (`npx wrangler` unless `WRANGLER` names another) and answers its stdout, or
    /// the line of its output that says why it failed.
    fn wrangler(args: &[&str]) -> Result<String, String> {
        let wrangler = std::env::var("WRANGLER").unwrap_or_else(|_| "npx wrangler".into());
        let mut words = wrangler.split_whitespace();
        let program = words.next().unwrap_or("npx");
        let output = Command::new(program)
            .args(words)
            .args(args)
            .env("WRANGLER_SEND_METRICS", "false")
            .output()
            .map_err(|e| format!("{wrangler}: {e}"))?;
        if output.status.success() {
            return Ok(String::from_utf8_lossy(&output.stdout).into_owned());
        }
        let text = format!(
            "{}\n{}",
            String::from_utf8_lossy(&output.stderr),
            String::from_utf8_lossy(&output.stdout)
        );
        let text = strip_colours(&text);
        let lines: Vec<&str> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.contains("Logs were written"))
            .collect();
        Err(lines
            .iter()
            .find(|l| l.contains("[ERROR]"))
            .or(lines.last())
            .map(|l| l.trim_start_matches("✘ ").to_string())
            .unwrap_or_else(|| format!("{wrangler} exited with {}", output.status)))
    }

    /// Wrangler colours its errors even into a pipe when it believes in a terminal.
    fn strip_colours(text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut chars = text.chars();
        while let Some(c) = chars.next() {
            if c == '\u{1b}' {
                // ESC [ parameters… final letter
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            } else {
                out.push(c);
            }
        }
        out
    }
}
