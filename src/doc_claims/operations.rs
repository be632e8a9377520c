//! docs/operations.md against the code: the webhook events it tells operators to subscribe to,
//! the make targets, the variables table (what `Config` reads; which preflight requires), the
//! routes it names, and the limits it quotes.

use super::*;
use crate::rate_limit::policy::Policy;

fn guide() -> String {
    read("docs/operations.md")
}

#[test]
fn the_operations_guide_lists_the_webhook_events_the_code_handles_and_only_real_make_targets() {
    let guide = guide();
    for event in crate::services::billing::webhook::HANDLED {
        assert!(guide.contains(&format!("- `{event}`")), "docs/operations.md lacks the event {event}");
    }
    assert_make_targets_exist("docs/operations.md", &guide);
}

#[test]
fn the_operations_guide_places_every_variable_the_worker_reads_and_requires_what_preflight_does() {
    let guide = guide();
    let rows = table(&guide, "| variable | in production | required | preflight checks |");
    let read_vars = variables();
    let mut required = BTreeSet::new();
    for row in &rows {
        for name in names_in(&row[0]) {
            assert!(read_vars.contains(name), "docs/operations.md places {name}, which nothing reads");
            if row[2] == "yes" {
                required.insert(name.to_string());
            }
        }
    }
    for name in &read_vars {
        assert!(guide.contains(&format!("`{name}`")), "docs/operations.md never names {name}");
    }
    // Preflight requires the first name of each group; ENVIRONMENT it checks in wrangler.toml.
    let mut preflight: BTreeSet<String> =
        crate::preflight::REQUIRED.iter().map(|g| g[0].to_string()).collect();
    preflight.insert("ENVIRONMENT".to_string());
    assert_eq!(required, preflight, "the guide's `required = yes` rows and preflight's REQUIRED differ");
}

#[test]
fn every_route_the_operations_guide_names_exists_and_the_limits_it_quotes_are_the_policy_table() {
    let guide = guide();
    let named = method_paths(&guide);
    assert!(!named.is_empty(), "{named:?}");
    for (method, path) in named {
        assert!(
            is_route(&method, &path),
            "docs/operations.md names `{method} {path}`, not in routes/table.rs"
        );
    }
    for path in
        ["/api/health", "/api/stripe/webhook", "/signin/google/callback", "/billing/success", "/admin"]
    {
        assert!(guide.contains(path) && (is_route("GET", path) || is_route("POST", path)), "{path}");
    }
    let rule = |p: Policy| p.default_rule();
    let api = rule(Policy::GeneralApi);
    assert_eq!(api.window_secs, 60);
    assert!(guide.contains(&format!("`/api/*` allows {} requests a minute per client", api.limit)));
    let (per_address, per_ip) = (rule(Policy::SignInEmailPerAddress), rule(Policy::SignInEmailPerIp));
    assert_eq!((per_address.window_secs, per_ip.window_secs), (3600, 3600));
    let claim = format!("{} per address and {} per client an hour", per_address.limit, per_ip.limit);
    assert!(guide.contains(&claim), "docs/operations.md should say `{claim}`");
    let welcome = rule(Policy::WelcomeCreditsPerIp);
    assert_eq!(welcome.window_secs, 86_400);
    assert!(guide.contains(&format!("had {} new accounts with credits today", welcome.limit)));
}
