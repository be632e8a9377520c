//! README.md against the code: make targets and their times (`make help`), the Configuration
//! table (what `Config` reads), the pages and routes (`routes::table::ROUTES`), the rate-limit
//! table (`rate_limit::policy`), and the upload memory bound (the test that asserts it).

use super::*;
use crate::rate_limit::policy::{Counting, FailMode, Policy};

fn readme() -> String {
    read("README.md")
}

#[test]
fn the_readme_lists_exactly_the_make_targets_with_the_times_make_help_gives() {
    let doc = readme();
    let rows = table(&doc, "| target | what it does |");
    let help = make_help();
    let mut listed = Vec::new();
    for row in &rows {
        for span in backticked(&row[0]) {
            let target = span.trim_start_matches("make ").split(' ').next().unwrap().to_string();
            let (_, text) = help
                .iter()
                .find(|(t, _)| *t == target)
                .unwrap_or_else(|| panic!("README lists `make {target}`, which `make help` lacks"));
            // A row naming two targets (`make fmt` / `make lint`) gives no time; one does.
            if backticked(&row[0]).len() == 1 {
                assert_eq!(
                    durations(&row[1]),
                    durations(text),
                    "`make {target}`: the README and `make help` give different times"
                );
            }
            listed.push(target);
        }
    }
    for (target, _) in &help {
        assert!(listed.contains(target), "`make help` lists `make {target}`, the README's table does not");
    }
    assert_make_targets_exist("README.md", &doc);
}

#[test]
fn the_readme_configuration_table_names_exactly_the_variables_the_worker_reads() {
    let rows = table(&readme(), "| variable | meaning | required |");
    let documented: BTreeSet<String> =
        rows.iter().flat_map(|row| names_in(&row[0])).map(String::from).collect();
    let read = variables();
    let undocumented: Vec<_> = read.difference(&documented).collect();
    let invented: Vec<_> = documented.difference(&read).collect();
    assert!(
        undocumented.is_empty(),
        "read by src/config/, missing from README → Configuration: {undocumented:?}"
    );
    assert!(invented.is_empty(), "in README → Configuration, read by nothing: {invented:?}");
}

#[test]
fn every_page_and_route_the_readme_names_is_in_the_route_table() {
    let doc = readme();
    for row in table(&doc, "| path | who | what |") {
        for path in backticked(&row[0]).into_iter().filter(|p| p.starts_with('/')) {
            assert!(is_route("GET", path), "README → Pages lists {path}, which is no GET route");
        }
    }
    let named = method_paths(&doc);
    assert!(named.len() >= 5, "{named:?}");
    for (method, path) in named {
        assert!(is_route(&method, &path), "README names `{method} {path}`, which is not in routes/table.rs");
    }
}

/// `10 / 1 h` → (10, 3600).
fn rule(text: &str) -> (u32, u32) {
    let (limit, window) = text.split_once(" / ").unwrap_or_else(|| panic!("not `N / window`: {text}"));
    let (n, unit) = window.split_once(' ').unwrap_or_else(|| panic!("not `N unit`: {window}"));
    let unit_secs = match unit {
        "s" => 1,
        "min" => 60,
        "h" => 3600,
        "day" => 86_400,
        other => panic!("unknown unit {other}"),
    };
    (limit.parse().unwrap(), n.parse::<u32>().unwrap() * unit_secs)
}

#[test]
fn the_readme_rate_limit_table_is_the_policy_table() {
    let rows =
        table(&readme(), "| policy (`RATE_LIMITS` name) | default | counted per | limiter down | counted |");
    let mut seen = Vec::new();
    for row in &rows {
        let name = backticked(&row[0])[0];
        let policy = Policy::from_name(name).unwrap_or_else(|| panic!("README lists {name}, no such policy"));
        let default = policy.default_rule();
        assert_eq!(rule(&row[1]), (default.limit, default.window_secs), "{name}: README says {}", row[1]);
        let fail = if row[3].starts_with("closed") { FailMode::Closed } else { FailMode::Open };
        assert!(row[3].starts_with("closed") || row[3].starts_with("open"), "{name}: {}", row[3]);
        assert_eq!(policy.fail_mode(), fail, "{name}: README says the limiter down means {}", row[3]);
        let counting = match row[4].as_str() {
            "exactly" => Counting::Exact,
            "in batches" => Counting::Batched,
            other => panic!("{name}: counted {other}?"),
        };
        assert_eq!(policy.counting(), counting, "{name}: README says counted {}", row[4]);
        seen.push(policy);
    }
    for policy in Policy::ALL {
        assert!(seen.contains(&policy), "README → Rate limits lacks {}", policy.name());
    }
}

/// The README gives the bound the upload test asserts, not a better one.
#[test]
fn the_readme_claims_the_upload_memory_bound_its_test_asserts() {
    let doc = readme().split_whitespace().collect::<Vec<_>>().join(" ");
    let claim = "Six 24 MB uploads at once grow WebAssembly memory by less than ";
    let at = doc.find(claim).map(|i| i + claim.len()).unwrap_or_else(|| panic!("README lacks: {claim}"));
    let mb: String = doc[at..].chars().take_while(char::is_ascii_digit).collect();
    let test = read("tests/e2e/tools_uploads.rs");
    assert!(
        test.contains(&format!("after < before + {mb} * MB")),
        "tools_uploads.rs does not assert {mb} MB"
    );
}
