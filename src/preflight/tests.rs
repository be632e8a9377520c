use super::*;

const MANIFEST: &str = r#"
name = "ghosttools"
main = "build/worker/shim.mjs"

[[hyperdrive]]
binding = "DB"
id = "4f1c2a7e9b3d4c5e8f6a7b8c9d0e1f2a"

[durable_objects]
bindings = [{ name = "RATE_LIMITER", class_name = "RateLimiter" }]

[[migrations]]
tag = "v1"
new_sqlite_classes = ["RateLimiter"]

[[r2_buckets]]
binding = "UPLOADS"
bucket_name = "ghosttools-uploads"

[[queues.producers]]
binding = "RUNS"
queue = "ghosttools-runs"

[[queues.consumers]]
queue = "ghosttools-runs"
dead_letter_queue = "ghosttools-runs-dead"

[[queues.consumers]]
queue = "ghosttools-runs-dead"

[vars]
ENVIRONMENT = "production"
NEXTAUTH_URL = "https://ghosttools.app"
EMAIL_FROM = "GhostTools <noreply@ghosttools.app>"
CONTACT_EMAIL = "support@ghosttools.app"
"#;

const SECRETS: &[(&str, &str)] = &[
    ("NEXTAUTH_SECRET", "q8Vn3kT0pXc2Lr7Wm5Yb1Hs9Df4Gj6Ka0Ze3Uv8Ni2O"),
    ("EMAIL_SERVER", "smtp://apikey:s3cret@smtp.mailprovider.net:587"),
    ("STRIPE_SECRET_KEY", "sk_live_51Habc0123456789abcdefghijKLMNOP"),
    ("STRIPE_WEBHOOK_SECRET", "whsec_0123456789abcdefghijABCDEFGHIJ012345"),
    ("STRIPE_STARTER_PRICE_ID", "price_1Starter0123"),
    ("STRIPE_PRO_PRICE_ID", "price_1Pro0123"),
    ("OPENAI_API_KEY", "sk-proj-0123456789abcdefghijABCDEFGHIJ0123456789ab"),
];

fn manifest(edit: impl Fn(String) -> String) -> toml::Table {
    edit(MANIFEST.to_string()).parse().expect("test manifest parses")
}

fn file(extra: &[(&str, &str)], without: &[&str]) -> Secrets {
    let mut values: HashMap<String, String> = SECRETS
        .iter()
        .filter(|(k, _)| !without.contains(k))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    values.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    Secrets::EnvFile { path: ".prod.env".into(), values }
}

fn problems_of(report: &Report) -> Vec<String> {
    report.problems.iter().map(|p| p.what.clone()).collect()
}

/// The single problem a change causes (the rest of the configuration being good).
fn only_problem(m: &toml::Table, secrets: &Secrets) -> Problem {
    let report = check(m, secrets, StripeMode::Live);
    assert_eq!(report.problems.len(), 1, "expected one problem:\n{}", report.render());
    report.problems[0].clone()
}

#[test]
fn a_complete_live_configuration_is_ready() {
    let report = check(&manifest(|m| m), &file(&[], &[]), StripeMode::Live);
    assert!(report.ready(), "{}", report.render());
}

#[test]
fn the_placeholder_hyperdrive_id_is_refused_with_the_create_command() {
    let p = only_problem(
        &manifest(|m| m.replace("4f1c2a7e9b3d4c5e8f6a7b8c9d0e1f2a", &"0".repeat(32))),
        &file(&[], &[]),
    );
    assert!(p.what.contains("placeholder"), "{p:?}");
    assert!(p.fix.contains("wrangler hyperdrive create"), "{p:?}");
    let p =
        only_problem(&manifest(|m| m.replace("4f1c2a7e9b3d4c5e8f6a7b8c9d0e1f2a", "my-db")), &file(&[], &[]));
    assert!(p.what.contains("32 hex"), "{p:?}");
    let p =
        only_problem(&manifest(|m| m.replace("binding = \"DB\"", "binding = \"DATABASE\"")), &file(&[], &[]));
    assert!(p.what.contains("binding named DB"), "{p:?}");
}

#[test]
fn runs_need_the_bucket_the_queue_a_consumer_and_a_consumed_dead_letter_queue() {
    let p = only_problem(
        &manifest(|m| m.replace("binding = \"UPLOADS\"", "binding = \"FILES\"")),
        &file(&[], &[]),
    );
    assert!(p.what.contains("no [[r2_buckets]] binding UPLOADS"), "{p:?}");
    let p =
        only_problem(&manifest(|m| m.replace("binding = \"RUNS\"", "binding = \"JOBS\"")), &file(&[], &[]));
    assert!(p.what.contains("no [[queues.producers]] binding RUNS"), "{p:?}");
    let p = only_problem(
        &manifest(|m| m.replace("dead_letter_queue = \"ghosttools-runs-dead\"\n", "")),
        &file(&[], &[]),
    );
    assert!(p.what.contains("has no dead_letter_queue"), "{p:?}");
    let p = only_problem(
        &manifest(|m| m.replace("[[queues.consumers]]\nqueue = \"ghosttools-runs-dead\"\n", "")),
        &file(&[], &[]),
    );
    assert!(p.what.contains("nothing consumes the dead-letter queue"), "{p:?}");
    let p = only_problem(
        &manifest(|m| {
            m.replace(
                "[[queues.consumers]]\nqueue = \"ghosttools-runs\"\n",
                "[[queues.consumers]]\nqueue = \"other\"\n",
            )
        }),
        &file(&[], &[]),
    );
    assert!(p.what.contains("nothing consumes the queue \"ghosttools-runs\""), "{p:?}");
}

#[test]
fn the_rate_limiter_needs_its_binding_class_and_a_sqlite_migration() {
    let p = only_problem(
        &manifest(|m| m.replace("class_name = \"RateLimiter\"", "class_name = \"Limiter\"")),
        &file(&[], &[]),
    );
    assert!(p.what.contains("\"Limiter\"") && p.fix.contains("class_name = \"RateLimiter\""), "{p:?}");
    let p = only_problem(&manifest(|m| m.replace("RATE_LIMITER", "LIMITS")), &file(&[], &[]));
    assert!(p.what.contains("no Durable Object binding RATE_LIMITER"), "{p:?}");
    let p =
        only_problem(&manifest(|m| m.replace("new_sqlite_classes = [\"RateLimiter\"]", "")), &file(&[], &[]));
    assert!(p.what.contains("no [[migrations]] entry creates"), "{p:?}");
    assert!(p.fix.contains("new_sqlite_classes = [\"RateLimiter\"]"), "{p:?}");
    let p = only_problem(&manifest(|m| m.replace("new_sqlite_classes", "new_classes")), &file(&[], &[]));
    assert!(p.what.contains("key-value storage"), "{p:?}");
    let later = "\n[[migrations]]\ntag = \"v2\"\ndeleted_classes = [\"RateLimiter\"]\n";
    let p = only_problem(&manifest(|m| m.replace("\n[vars]", &format!("{later}\n[vars]"))), &file(&[], &[]));
    assert!(p.what.contains("\"v2\" deletes or renames"), "{p:?}");
    let twice = "\n[[migrations]]\ntag = \"v1\"\n";
    let p = only_problem(&manifest(|m| m.replace("\n[vars]", &format!("{twice}\n[vars]"))), &file(&[], &[]));
    assert!(p.what.contains("appears twice"), "{p:?}");
}

#[test]
fn production_must_say_it_is_production_and_keep_secrets_out_of_vars() {
    let p = only_problem(&manifest(|m| m.replace("\"production\"", "\"development\"")), &file(&[], &[]));
    assert!(p.what.contains("ENVIRONMENT") && p.fix.contains("ENVIRONMENT = \"production\""), "{p:?}");
    let leaked =
        manifest(|m| m + "OPENAI_API_KEY = \"sk-proj-0123456789abcdefghijABCDEFGHIJ0123456789ab\"\n");
    let p = only_problem(&leaked, &file(&[], &["OPENAI_API_KEY"]));
    assert!(p.what.contains("OPENAI_API_KEY is a secret but sits in [vars]"), "{p:?}");
    assert!(p.fix.contains("rotate it") && p.fix.contains("wrangler secret put OPENAI_API_KEY"), "{p:?}");
}

#[test]
fn production_needs_a_real_contact_address_for_users_and_security_reports() {
    let p = only_problem(
        &manifest(|m| m.replace("CONTACT_EMAIL = \"support@ghosttools.app\"\n", "")),
        &file(&[], &[]),
    );
    assert_eq!(p.what, "CONTACT_EMAIL: is not set (required in production)");
    assert!(p.fix.contains("security reports") && p.fix.contains("under [vars] in wrangler.toml"), "{p:?}");
    let p = only_problem(
        &manifest(|m| m.replace("support@ghosttools.app", "security@ghosttools.example")),
        &file(&[], &[]),
    );
    assert!(p.what.contains("security@ghosttools.example is a placeholder"), "{p:?}");
    let p = only_problem(&manifest(|m| m.replace("support@ghosttools.app", "nobody")), &file(&[], &[]));
    assert!(p.what.starts_with("CONTACT_EMAIL: must be an email address"), "{p:?}");
}

#[test]
fn every_missing_secret_is_named_with_how_to_set_it_where_it_belongs() {
    let report =
        check(&manifest(|m| m), &file(&[], &["STRIPE_WEBHOOK_SECRET", "OPENAI_API_KEY"]), StripeMode::Live);
    assert_eq!(
        problems_of(&report),
        [
            "STRIPE_WEBHOOK_SECRET: is not set (required in production)",
            "OPENAI_API_KEY: is not set (required in production)",
        ]
    );
    assert!(report.problems[0].fix.contains("Signing secret"), "{:?}", report.problems[0]);
    assert!(
        report.problems[0].fix.contains("`npx wrangler secret bulk .prod.env`"),
        "{:?}",
        report.problems[0]
    );
    let p = only_problem(
        &manifest(|m| m.replace("NEXTAUTH_URL = \"https://ghosttools.app\"", "")),
        &file(&[], &[]),
    );
    assert_eq!(p.what, "NEXTAUTH_URL: is not set (required in production)");
    assert!(p.fix.contains("under [vars] in wrangler.toml"), "{p:?}");
    // An accepted alias counts.
    let aliased = file(&[("SESSION_SECRET", SECRETS[0].1)], &["NEXTAUTH_SECRET"]);
    assert!(check(&manifest(|m| m), &aliased, StripeMode::Live).ready());
}

#[test]
fn formats_are_checked_with_the_fix_for_each() {
    let cases: &[(&str, &str, &str)] = &[
        ("STRIPE_WEBHOOK_SECRET", "sk_live_51Habc0123456789abcdefghijKLMNOP", "must start with whsec_"),
        ("STRIPE_WEBHOOK_SECRET", "whsec_123", "looks truncated"),
        ("STRIPE_SECRET_KEY", "pk_live_51Habc0123456789abcdefghijKLMNOP", "must start with sk_live_"),
        ("STRIPE_SECRET_KEY", "sk_live_123", "looks truncated"),
        ("STRIPE_PRO_PRICE_ID", "prod_ABC", "must be a price id (price_…), not prod"),
        ("NEXTAUTH_SECRET", "short", "at least 32 bytes"),
        ("NEXTAUTH_SECRET", "dev-only-secret-change-me-0123456789abcdef", "development placeholder"),
        ("EMAIL_SERVER", "smtp://u:p@smtp.mailprovider.net:25", "port 25"),
        ("EMAIL_SERVER", "smtp://dev:dev@127.0.0.1:1025", "local or placeholder"),
        ("EMAIL_SERVER", "https://smtp.mailprovider.net", "smtp:// or smtps://"),
        ("OPENAI_API_KEY", "key-0123456789abcdefghijABCDEFGHIJ0123456789", "must start with sk-"),
        ("OPENAI_API_KEY", "sk-abc", "looks truncated"),
        ("STRIPE_API_BASE", "http://stripe-mock.internal:4242", "not a public https service"),
        ("STRIPE_API_BASE", "http://127.0.0.1:4242", "loopback"),
        ("NEXT_PUBLIC_SENTRY_DSN", "not a dsn", "must look like https://<key>@<host>/<project_id>"),
        ("RATE_LIMITS", "pages=many/1m", "pages=many/1m"),
        ("WELCOME_CREDITS", "five", "from 0 (none) to 1000"),
    ];
    for (var, value, needle) in cases {
        let p = only_problem(&manifest(|m| m), &file(&[(var, value)], &[]));
        assert!(p.what.starts_with(&format!("{var}: ")) && p.what.contains(needle), "{var}={value}: {p:?}");
        assert!(p.fix.contains(&format!("set {var} in .prod.env")), "{var}: {p:?}");
    }
}

#[test]
fn no_outside_service_may_point_at_loopback() {
    let hosts = [
        "https://127.0.0.1:12111",
        "https://127.8.9.10",
        "https://localhost",
        "https://LOCALHOST.:8443",
        "https://stripe.localhost",
        "https://[::1]:12112",
        "https://[::ffff:127.0.0.1]",
        "https://0.0.0.0",
    ];
    for var in super::settings::OUTSIDE_SERVICE_URLS {
        for url in hosts {
            let p = only_problem(&manifest(|m| m), &file(&[(var, url)], &[]));
            assert!(
                p.what.starts_with(&format!("{var}: ")) && p.what.contains("loopback"),
                "{var}={url}: {p:?}"
            );
        }
    }
    // The Sentry DSN too: the same hosts, with a key and a project.
    for var in ["NEXT_PUBLIC_SENTRY_DSN", "SENTRY_DSN"] {
        for url in hosts {
            let dsn = url.replace("https://", "https://publickey@") + "/42";
            let p = only_problem(&manifest(|m| m), &file(&[(var, &dsn)], &[]));
            assert!(
                p.what.starts_with(&format!("{var}: ")) && p.what.contains("loopback"),
                "{var}={dsn}: {p:?}"
            );
        }
    }
    // A public https service is fine.
    let ok = check(
        &manifest(|m| m),
        &file(&[("STRIPE_API_BASE", "https://api.stripe.com")], &[]),
        StripeMode::Live,
    );
    assert!(ok.ready(), "{}", ok.render());
}

#[test]
fn the_local_stand_ins_flag_is_refused_in_production() {
    let p = only_problem(&manifest(|m| m), &file(&[("DEV_STANDINS", "stripe,openai,google")], &[]));
    assert!(p.what.starts_with("DEV_STANDINS: ") && p.what.contains("make dev"), "{p:?}");
}

#[test]
fn the_public_url_must_be_https_and_real() {
    for (url, needle) in
        [("http://ghosttools.app", "not https"), ("https://localhost:8787", "placeholder or local")]
    {
        let m = manifest(|m| m.replace("https://ghosttools.app", url));
        let p = only_problem(&m, &file(&[], &[]));
        assert!(p.what.contains(needle), "{url}: {p:?}");
    }
}

#[test]
fn live_and_test_stripe_keys_are_not_mixed() {
    let test_key = "sk_test_51Habc0123456789abcdefghijKLMNOP";
    let p = only_problem(&manifest(|m| m), &file(&[("STRIPE_SECRET_KEY", test_key)], &[]));
    assert!(p.what.contains("is a test key, but this check expects live mode"), "{p:?}");
    assert!(p.what.contains("--stripe-test-mode"), "{p:?}");
    let p = only_problem(&manifest(|m| m), &file(&[("STRIPE_PUBLISHABLE_KEY", "pk_test_abc")], &[]));
    assert!(p.what.contains("live and test keys are mixed"), "{p:?}");
    assert!(check(
        &manifest(|m| m),
        &file(&[("STRIPE_PUBLISHABLE_KEY", "pk_live_abc")], &[]),
        StripeMode::Live
    )
    .ready());
    // A staging deployment asks for test mode: test keys pass, a live one is the odd one out.
    let staging = file(&[("STRIPE_SECRET_KEY", test_key), ("STRIPE_PUBLISHABLE_KEY", "pk_test_abc")], &[]);
    assert!(check(&manifest(|m| m), &staging, StripeMode::Test).ready());
    let mixed = file(&[("STRIPE_SECRET_KEY", test_key), ("STRIPE_PUBLISHABLE_KEY", "pk_live_abc")], &[]);
    let report = check(&manifest(|m| m), &mixed, StripeMode::Test);
    assert_eq!(problems_of(&report), ["STRIPE_PUBLISHABLE_KEY: is a live key but STRIPE_SECRET_KEY is a test key: live and test keys are mixed"]);
}

#[test]
fn uploaded_secret_names_are_enough_but_the_output_says_values_were_not_checked() {
    let names: BTreeSet<String> = SECRETS.iter().map(|(k, _)| k.to_string()).collect();
    let report = check(&manifest(|m| m), &Secrets::Uploaded(names.clone()), StripeMode::Live);
    assert!(report.ready(), "{}", report.render());
    assert!(report.notes.iter().any(|n| n.contains("only their names were checked")), "{:?}", report.notes);
    let mut fewer = names.clone();
    fewer.remove("STRIPE_WEBHOOK_SECRET");
    let p = only_problem(&manifest(|m| m), &Secrets::Uploaded(fewer));
    assert_eq!(p.what, "STRIPE_WEBHOOK_SECRET: is not set (required in production)");
    assert!(p.fix.ends_with("`npx wrangler secret put STRIPE_WEBHOOK_SECRET`"), "{p:?}");
    // [vars] values are still checked; a name in both places is refused.
    let m = manifest(|m| m.replace("https://ghosttools.app", "http://ghosttools.app"));
    assert!(only_problem(&m, &Secrets::Uploaded(names.clone())).what.contains("not https"));
    // The secret key's mode is unknown then: a publishable key is held to the expected mode.
    let m = manifest(|m| m + "STRIPE_PUBLISHABLE_KEY = \"pk_test_abc\"\n");
    let p = only_problem(&m, &Secrets::Uploaded(names.clone()));
    assert!(
        p.what.contains("STRIPE_PUBLISHABLE_KEY: is a test key, but this check expects live mode"),
        "{p:?}"
    );
    let mut both = names;
    both.insert("EMAIL_FROM".into());
    let p = only_problem(&manifest(|m| m), &Secrets::Uploaded(both));
    assert!(p.what.contains("EMAIL_FROM: set both under [vars] and as a secret"), "{p:?}");
}

#[test]
fn google_sign_in_needs_both_halves() {
    let p =
        only_problem(&manifest(|m| m), &file(&[("GOOGLE_CLIENT_ID", "123.apps.googleusercontent.com")], &[]));
    assert!(p.what.starts_with("GOOGLE_CLIENT_SECRET: is not set"), "{p:?}");
}

#[test]
fn a_dotenv_file_reads_like_wrangler_secret_bulk_reads_it() {
    let text = "# production\nexport A=1\nB = \"two words\" # why\nC='x=y'\nD=plain value # comment\nE=\"l1\\nl2\"\n\nF=\n";
    let v = parse_dotenv(text).unwrap();
    assert_eq!(v["A"], "1");
    assert_eq!(v["B"], "two words");
    assert_eq!(v["C"], "x=y");
    assert_eq!(v["D"], "plain value");
    assert_eq!(v["E"], "l1\nl2");
    assert_eq!(v["F"], "");
    assert_eq!(parse_dotenv("A=1\nthis is not a variable\n").unwrap_err(), "line 2: not KEY=value");
    assert_eq!(parse_dotenv("A=\"open\n").unwrap_err(), "line 1: unterminated quote");
}

#[test]
fn wrangler_secret_list_output_gives_the_names() {
    // As wrangler 4.86 prints it: JSON.stringify(secrets, null, "  "), maybe after a warning.
    let out = "▲ [WARNING] something\n[\n  {\n    \"name\": \"OPENAI_API_KEY\",\n    \"type\": \"secret_text\"\n  },\n  {\n    \"name\": \"STRIPE_SECRET_KEY\",\n    \"type\": \"secret_text\"\n  }\n]\n";
    let names = parse_secret_list(out).unwrap();
    assert_eq!(names.into_iter().collect::<Vec<_>>(), ["OPENAI_API_KEY", "STRIPE_SECRET_KEY"]);
    assert!(parse_secret_list("[]").unwrap().is_empty());
    assert!(parse_secret_list("Not logged in.").is_err());
}

#[test]
fn the_repository_wrangler_toml_has_the_bindings_and_only_needs_the_real_hyperdrive_id() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/wrangler.toml")).unwrap();
    let report = check_manifest(&text.parse().unwrap());
    assert_eq!(
        problems_of(&report),
        ["wrangler.toml: the Hyperdrive id is the placeholder 000…0 (local only)"]
    );
}

#[test]
fn the_report_prints_each_problem_with_its_fix() {
    let report = check(&manifest(|m| m), &file(&[], &["OPENAI_API_KEY"]), StripeMode::Live);
    let text = report.render();
    assert!(
        text.starts_with(
            "problem: OPENAI_API_KEY: is not set (required in production)\n    fix: platform.openai.com"
        ),
        "{text}"
    );
}

/// `wrangler hyperdrive get` as wrangler 4.86 prints it: a banner, then the API's object.
fn hyperdrive_get(caching: &str) -> String {
    format!(
        " ⛅️ wrangler 4.86.0\n───────────────────\n{{\n  \"id\": \"4f1c2a7e9b3d4c5e8f6a7b8c9d0e1f2a\",\n  \"name\": \"ghosttools\",\n  \"origin\": {{\n    \"host\": \"db.example.net\",\n    \"port\": 5432,\n    \"database\": \"ghosttools\",\n    \"scheme\": \"postgres\",\n    \"user\": \"ghosttools\"\n  }}{caching}\n}}\n"
    )
}

#[test]
fn a_hyperdrive_config_caches_unless_it_says_disabled() {
    let parse = |caching: &str| parse_hyperdrive_config(&hyperdrive_get(caching)).unwrap();
    assert_eq!(parse(",\n  \"caching\": {\n    \"disabled\": true\n  }"), QueryCache::Disabled);
    assert_eq!(parse(""), QueryCache::Enabled { max_age: None });
    assert_eq!(
        parse(",\n  \"caching\": {\n    \"disabled\": false,\n    \"max_age\": 60,\n    \"stale_while_revalidate\": 15\n  }"),
        QueryCache::Enabled { max_age: Some(60) }
    );
    assert!(parse_hyperdrive_config("✘ [ERROR] A request to the Cloudflare API failed").is_err());
}

#[test]
fn a_db_binding_that_caches_is_refused_with_the_update_command() {
    let mut report = Report::default();
    check_db_caching("4f1c2a7e9b3d4c5e8f6a7b8c9d0e1f2a", QueryCache::Disabled, &mut report);
    assert!(report.ready());
    check_db_caching("4f1c2a7e9b3d4c5e8f6a7b8c9d0e1f2a", QueryCache::Enabled { max_age: None }, &mut report);
    let p = &report.problems[0];
    assert!(p.what.contains("(binding DB) caches queries (60 s, Hyperdrive's default)"), "{p:?}");
    assert_eq!(p.fix, "`npx wrangler hyperdrive update 4f1c2a7e9b3d4c5e8f6a7b8c9d0e1f2a --caching-disabled`");
}

#[test]
fn only_a_real_db_hyperdrive_id_is_looked_up() {
    let manifest: toml::Table = MANIFEST.parse().unwrap();
    assert_eq!(db_hyperdrive_id(&manifest).as_deref(), Some("4f1c2a7e9b3d4c5e8f6a7b8c9d0e1f2a"));
    let placeholder: toml::Table =
        MANIFEST.replace("4f1c2a7e9b3d4c5e8f6a7b8c9d0e1f2a", &"0".repeat(32)).parse().unwrap();
    assert_eq!(db_hyperdrive_id(&placeholder), None);
}

#[test]
fn the_plaintext_mail_opt_out_is_reported_but_does_not_block() {
    let report = check(&manifest(|m| m), &file(&[("EMAIL_ALLOW_PLAINTEXT", "true")], &[]), StripeMode::Live);
    assert!(report.ready(), "{}", report.render());
    assert!(report.notes.iter().any(|n| n.contains("EMAIL_ALLOW_PLAINTEXT is on")), "{:?}", report.notes);
    let report = check(&manifest(|m| m), &file(&[], &[]), StripeMode::Live);
    assert!(!report.notes.iter().any(|n| n.contains("EMAIL_ALLOW_PLAINTEXT")), "{:?}", report.notes);
}
