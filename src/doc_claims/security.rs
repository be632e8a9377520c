//! SECURITY.md against the code: every file and every end-to-end test it names exists, every
//! variable it names is read, its figures (signature tolerance, body limits) are the constants,
//! and what it says of mail and the security contact holds.

use super::*;

fn security() -> String {
    read("SECURITY.md")
}

/// `src/…` and `tests/…` paths anywhere in a text.
fn paths(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for prefix in ["src/", "tests/"] {
        for (at, _) in text.match_indices(prefix) {
            if text[..at].chars().last().is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '/') {
                continue;
            }
            let path: String = text[at..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '/' | '.' | '-'))
                .collect();
            out.push(path.trim_end_matches('.').to_string());
        }
    }
    out
}

#[test]
fn every_file_security_md_names_exists() {
    let doc = security();
    let named = paths(&doc);
    assert!(named.len() > 30, "{named:?}");
    for path in named {
        assert!(exists(&path), "SECURITY.md names {path}, which does not exist");
    }
}

/// `module::test` (or `security::file::test`, `module::*`, `…::test` for the module before).
#[test]
fn every_end_to_end_test_security_md_names_exists() {
    let doc = security();
    let mut files: Vec<String> = Vec::new();
    let mut checked = 0;
    for span in backticked(&doc) {
        let parts: Vec<&str> = span.split("::").collect();
        if parts.len() < 2 || parts.iter().any(|p| p.is_empty() || p.contains(' ')) {
            continue;
        }
        if parts[0] != "…" {
            let module = parts[0];
            files = if exists(&format!("tests/e2e/{module}")) && parts.len() == 3 {
                vec![format!("tests/e2e/{module}/{}.rs", parts[1])]
            } else if exists(&format!("tests/e2e/{module}.rs")) && parts.len() == 2 {
                vec![format!("tests/e2e/{module}.rs")]
            } else {
                continue; // Code, not a test: `app::handle`, `routes::table::tests`.
            };
        }
        let name = parts[parts.len() - 1];
        if name == "*" || name == "test" {
            continue;
        }
        let found = files.iter().any(|f| read(f).contains(&format!("fn {name}(")));
        assert!(found, "SECURITY.md names the test {span}, which is not in {files:?}");
        checked += 1;
    }
    assert!(checked > 40, "only {checked} tests checked");
}

/// `module::tests::name` (or `module::tests`): a unit test in `src/module.rs` or
/// `src/module/mod.rs`. A test moved to another module must take its citation along.
#[test]
fn every_unit_test_security_md_names_is_in_the_module_it_names() {
    let mut checked = 0;
    for span in backticked(&security()) {
        let Some((module, rest)) = span.split_once("::tests") else { continue };
        if module.contains(' ') || !(rest.is_empty() || rest.starts_with("::")) {
            continue;
        }
        let dir = module.replace("::", "/");
        let file = [format!("src/{dir}.rs"), format!("src/{dir}/mod.rs")]
            .into_iter()
            .find(|f| exists(f))
            .unwrap_or_else(|| panic!("SECURITY.md names {span}, but there is no module {module}"));
        let code = read(&file);
        assert!(code.contains("mod tests"), "SECURITY.md names {span}, but {file} has no tests");
        if let Some(name) = rest.strip_prefix("::") {
            assert!(
                code.contains(&format!("fn {name}(")),
                "SECURITY.md names {span}, which is not in {file}"
            );
        }
        checked += 1;
    }
    assert!(checked >= 2, "only {checked} unit tests checked");
}

#[test]
fn every_variable_security_md_names_is_one_the_worker_reads() {
    let read_vars = variables();
    for name in backticked(&security()).into_iter().filter(|s| is_var_name(s)) {
        assert!(read_vars.contains(name), "SECURITY.md names {name}, which nothing reads");
    }
}

#[test]
fn the_figures_security_md_gives_are_the_constants() {
    let doc = security().split_whitespace().collect::<Vec<_>>().join(" ");
    let kib = |bytes: u64| bytes / 1024;
    let claims = [
        format!("{} s tolerance", crate::clients::stripe_signature::TOLERANCE_SECS),
        format!("forms {} KiB", kib(crate::routes::input::FORM_LIMIT)),
        format!("the webhook {} KiB", kib(crate::routes::webhooks::stripe::BODY_LIMIT)),
        format!("uploads {} MB", crate::domain::audio::MAX_BYTES / (1024 * 1024)),
    ];
    for claim in claims {
        assert!(doc.contains(&claim), "SECURITY.md should say `{claim}`");
    }
}

#[test]
fn security_md_says_mail_is_built_by_mail_builder_and_reports_go_to_the_required_contact() {
    let doc = security();
    assert!(doc.contains("`mail-builder`"), "SECURITY.md names the crate that builds mail");
    assert!(read("Cargo.toml").contains("\nmail-builder ="));
    assert!(read("src/mail/mod.rs").contains("MessageBuilder"));
    assert!(!doc.contains("fill in"), "no placeholder left for an operator to fill in");
    let reporting = doc.split("## Reporting a vulnerability").nth(1).unwrap();
    assert!(reporting.contains("`CONTACT_EMAIL`"), "reports go to CONTACT_EMAIL");
    assert!(crate::preflight::REQUIRED.contains(&["CONTACT_EMAIL"].as_slice()), "preflight requires it");
}
