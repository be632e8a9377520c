//! The configuration as an operator meets it: defaults, problems named by variable.

use super::*;
use std::collections::HashMap;

fn config(pairs: &[(&str, &str)]) -> Config {
    let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    Config::from_lookup(|k| map.get(k).cloned())
}

const GOOD: &[(&str, &str)] =
    &[("NEXTAUTH_URL", "https://ghosttools.test"), ("NEXTAUTH_SECRET", "0123456789abcdef0123456789abcdef")];

#[test]
fn a_development_config_needs_only_the_site_and_the_secret() {
    assert!(config(GOOD).problems().is_empty());
}

#[test]
fn a_short_secret_is_named_as_the_problem() {
    let c = config(&[("NEXTAUTH_URL", "https://x.test"), ("NEXTAUTH_SECRET", "short")]);
    assert_eq!(c.problems()[0].var, "NEXTAUTH_SECRET");
    assert!(c.problems()[0].problem.contains("32"));
}

#[test]
fn production_requires_stripe_openai_and_email() {
    let mut pairs = GOOD.to_vec();
    pairs.push(("ENVIRONMENT", "production"));
    let vars: Vec<_> = config(&pairs).problems().iter().map(|p| p.var).collect();
    assert_eq!(
        vars,
        [
            "EMAIL_SERVER",
            "EMAIL_FROM",
            "STRIPE_SECRET_KEY",
            "STRIPE_WEBHOOK_SECRET",
            "STRIPE_STARTER_PRICE_ID",
            "STRIPE_PRO_PRICE_ID",
            "OPENAI_API_KEY"
        ]
    );
}

#[test]
fn every_problem_of_the_stripe_and_mail_groups_is_named_not_only_the_first() {
    let pairs = [
        GOOD,
        &[
            ("EMAIL_SERVER", "http://mail.example.test"),
            ("EMAIL_FROM", "GhostTools"),
            ("STRIPE_SECRET_KEY", "pk_test_1"),
            ("STRIPE_WEBHOOK_SECRET", "whsec_1"),
            ("STRIPE_STARTER_PRICE_ID", "prod_starter"),
            ("STRIPE_PRO_PRICE_ID", "price_pro"),
            ("STRIPE_CREDIT_PACK_PRICE_IDS", "price_a, sku_b"),
        ],
    ]
    .concat();
    let c = config(&pairs);
    let vars: Vec<_> = c.problems().iter().map(|p| p.var).collect();
    assert_eq!(
        vars,
        [
            "EMAIL_SERVER",
            "EMAIL_FROM",
            "STRIPE_SECRET_KEY",
            "STRIPE_STARTER_PRICE_ID",
            "STRIPE_CREDIT_PACK_PRICE_IDS"
        ]
    );
    // A route still names the first problem of its group.
    assert_eq!(c.stripe.unwrap_err().var, "STRIPE_SECRET_KEY");
    assert_eq!(c.email.unwrap_err().var, "EMAIL_SERVER");
    // A restricted key is a secret key too.
    let c = config(&[pairs.as_slice(), &[("STRIPE_SECRET_KEY", "rk_test_1")]].concat());
    assert!(!c.problems().iter().any(|p| p.var == "STRIPE_SECRET_KEY"), "{:?}", c.problems());
}

#[test]
fn the_version_is_the_one_stamped_at_deploy_else_the_builds() {
    assert_eq!(config(GOOD).version, BUILD_ID);
    let c = config(&[GOOD, &[("GHOSTTOOLS_VERSION", "0123456789ab")]].concat());
    assert_eq!(c.version, "0123456789ab");
}

#[test]
fn server_timing_is_off_in_production_unless_asked_for() {
    let with = |extra: &[(&'static str, &'static str)]| {
        let mut pairs = GOOD.to_vec();
        pairs.extend_from_slice(extra);
        config(&pairs).server_timing
    };
    assert!(with(&[]));
    assert!(!with(&[("ENVIRONMENT", "production")]));
    assert!(with(&[("ENVIRONMENT", "production"), ("SERVER_TIMING", "true")]));
    assert!(!with(&[("SERVER_TIMING", "false")]));
}

#[test]
fn a_malformed_optional_value_is_still_a_problem() {
    let mut pairs = GOOD.to_vec();
    pairs.push(("NEXT_PUBLIC_SENTRY_DSN", "not a dsn"));
    assert_eq!(config(&pairs).problems()[0].var, "NEXT_PUBLIC_SENTRY_DSN");
}

#[test]
fn secrets_never_print() {
    let c = config(GOOD);
    let printed = format!("{:?}", c);
    assert!(!printed.contains("0123456789abcdef"), "{printed}");
}

#[test]
fn base_urls_default_to_the_real_services_and_can_be_overridden() {
    assert_eq!(config(GOOD).endpoints.stripe_api, "https://api.stripe.com");
    let mut pairs = GOOD.to_vec();
    pairs.push(("STRIPE_API_BASE", "http://127.0.0.1:4242/"));
    assert_eq!(config(&pairs).endpoints.stripe_api, "http://127.0.0.1:4242");
}

fn with_stripe(extra: &[(&'static str, &'static str)]) -> Config {
    let mut pairs = GOOD.to_vec();
    pairs.extend_from_slice(&[
        ("STRIPE_SECRET_KEY", "sk_test_1"),
        ("STRIPE_WEBHOOK_SECRET", "whsec_1"),
        ("STRIPE_STARTER_PRICE_ID", "price_starter"),
        ("STRIPE_PRO_PRICE_ID", "price_pro"),
    ]);
    pairs.extend_from_slice(extra);
    config(&pairs)
}

#[test]
fn credit_pack_prices_are_an_optional_checked_list() {
    assert_eq!(with_stripe(&[]).stripe.unwrap().credit_pack_price_ids, Vec::<String>::new());
    let c = with_stripe(&[("STRIPE_CREDIT_PACK_PRICE_IDS", " price_a, price_b,,price_a ")]);
    assert_eq!(c.stripe.unwrap().credit_pack_price_ids, ["price_a", "price_b"]);
    let c = with_stripe(&[("STRIPE_CREDIT_PACK_PRICE_IDS", "price_a, prod_b")]);
    assert_eq!(c.stripe.unwrap_err().var, "STRIPE_CREDIT_PACK_PRICE_IDS");
}

#[test]
fn stripe_redirect_origins_default_to_stripe_and_are_reduced_to_origins() {
    let c = with_stripe(&[]);
    assert_eq!(c.endpoints.stripe_checkout, "https://checkout.stripe.com");
    assert_eq!(c.endpoints.stripe_portal, "https://billing.stripe.com");
    assert_eq!(c.stripe_timeout_ms, 8_000);
    let c = with_stripe(&[
        ("STRIPE_CHECKOUT_ORIGIN", "http://127.0.0.1:4242/pay"),
        ("STRIPE_TIMEOUT_MS", "1500"),
    ]);
    assert_eq!(c.endpoints.stripe_checkout, "http://127.0.0.1:4242");
    assert_eq!(c.stripe_timeout_ms, 1500);
}

#[test]
fn rate_limit_overrides_apply_and_bad_entries_are_named_problems() {
    use crate::rate_limit::{Policy, Rule};
    let c = config(GOOD);
    assert_eq!(c.rate_limits.timeout_ms, 1000);
    assert_eq!(c.rate_limits.limits, Default::default());
    let mut pairs = GOOD.to_vec();
    pairs.push(("RATE_LIMITS", "ai_generation=3/10s,pages=many/1m"));
    pairs.push(("RATE_LIMIT_TIMEOUT_MS", "250"));
    let c = config(&pairs);
    let rule = c.rate_limits.limits.rule(Policy::AiGeneration);
    assert_eq!(rule, Some(Rule { limit: 3, window_secs: 10 }));
    assert_eq!(c.rate_limits.timeout_ms, 250);
    let problems = c.problems();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].var, "RATE_LIMITS");
    assert!(problems[0].problem.contains("pages=many/1m"));
}

#[test]
fn a_bad_limiter_timeout_is_named_and_the_default_kept() {
    let mut pairs = GOOD.to_vec();
    pairs.push(("RATE_LIMIT_TIMEOUT_MS", "0"));
    let c = config(&pairs);
    assert_eq!(c.rate_limits.timeout_ms, 1000);
    assert_eq!(c.problems()[0].var, "RATE_LIMIT_TIMEOUT_MS");
}

#[test]
fn the_sign_in_link_lifetime_defaults_to_30_minutes_and_is_checked() {
    assert_eq!(config(GOOD).email_link_ttl_minutes, Ok(30));
    let mut pairs = GOOD.to_vec();
    pairs.push(("EMAIL_LINK_TTL_MINUTES", "15"));
    assert_eq!(config(&pairs).email_link_ttl_minutes, Ok(15));
    for bad in ["soon", "0", "-5", "100000"] {
        let c = config(&[GOOD, &[("EMAIL_LINK_TTL_MINUTES", bad)]].concat());
        assert_eq!(c.problems()[0].var, "EMAIL_LINK_TTL_MINUTES", "{bad}");
    }
}

#[test]
fn welcome_credits_default_to_five_zero_turns_them_off_and_nonsense_is_named() {
    assert_eq!(config(GOOD).welcome_credits, Ok(5));
    assert_eq!(config(&[GOOD, &[("WELCOME_CREDITS", "0")]].concat()).welcome_credits, Ok(0));
    assert_eq!(config(&[GOOD, &[("WELCOME_CREDITS", " 12 ")]].concat()).welcome_credits, Ok(12));
    for bad in ["five", "-1", "1001", "2.5"] {
        let c = config(&[GOOD, &[("WELCOME_CREDITS", bad)]].concat());
        assert_eq!(c.problems()[0].var, "WELCOME_CREDITS", "{bad}");
        assert_eq!(c.welcome_credits(), 0, "{bad}: none while the value is wrong");
    }
}

#[test]
fn plaintext_mail_is_off_unless_the_operator_opts_out() {
    let mail = [("EMAIL_SERVER", "smtp://relay.example.com:587"), ("EMAIL_FROM", "a@example.com")];
    let allowed = |opt_out: &[(&str, &str)]| {
        config(&[GOOD, &mail, opt_out].concat()).email.expect("mail settings parse").allow_plaintext
    };
    assert!(!allowed(&[]));
    assert!(allowed(&[("EMAIL_ALLOW_PLAINTEXT", "true")]));
    assert!(!allowed(&[("EMAIL_ALLOW_PLAINTEXT", "yes please")]));
}

#[test]
fn a_sender_that_is_not_a_mailbox_is_a_problem() {
    let pairs = [GOOD, &[("EMAIL_SERVER", "smtp://h.example:587"), ("EMAIL_FROM", "GhostTools")]].concat();
    assert_eq!(config(&pairs).email.unwrap_err().var, "EMAIL_FROM");
}

#[test]
fn tools_default_to_small_models_and_podscribe_off() {
    let c = config(GOOD);
    assert_eq!(c.tools.chat_model, "gpt-4o-mini");
    assert_eq!(c.tools.transcribe_model, "whisper-1");
    assert!(!c.tools.podscribe_enabled);
    let mut pairs = GOOD.to_vec();
    pairs.extend([("PODSCRIBE_ENABLED", "true"), ("OPENAI_MODEL", "gpt-x"), ("OPENAI_TIMEOUT_SECS", "soon")]);
    let c = config(&pairs);
    assert!(c.tools.podscribe_enabled);
    assert_eq!(c.tools.chat_model, "gpt-x");
    assert_eq!(c.tools.timeout_secs, 60);
    assert_eq!(c.problems()[0].var, "OPENAI_TIMEOUT_SECS");
}

#[test]
fn the_company_and_contact_default_sensibly_and_are_checked() {
    let c = config(GOOD).company.unwrap();
    assert_eq!((c.name.as_str(), c.contact_email.as_str()), ("GhostTools", "support@ghosttools.test"));
    let local = config(&[("NEXTAUTH_URL", "http://127.0.0.1:8787"), GOOD[1]]).company.unwrap();
    assert_eq!(local.contact_email, "support@ghosttools.app");
    let pairs = [GOOD, &[("COMPANY_NAME", "Ghost Ltd"), ("CONTACT_EMAIL", "Help@Ghost.example")]].concat();
    let c = config(&pairs).company.unwrap();
    assert_eq!((c.name.as_str(), c.contact_email.as_str()), ("Ghost Ltd", "help@ghost.example"));
    let bad = config(&[GOOD, &[("CONTACT_EMAIL", "nobody")]].concat());
    assert_eq!(bad.problems()[0].var, "CONTACT_EMAIL");
}

#[test]
fn admin_emails_are_a_lower_cased_list() {
    assert!(config(GOOD).admin_emails.is_empty());
    let c = config(&[GOOD, &[("ADMIN_EMAILS", " Ops@Example.test, ,x@y.test,notanemail")]].concat());
    assert_eq!(c.admin_emails, ["ops@example.test", "x@y.test"]);
}

#[test]
fn the_site_url_gives_our_origin() {
    let c = config(GOOD);
    let site = c.site.unwrap();
    assert!(site.is_https());
    assert_eq!(site.join("/billing"), "https://ghosttools.test/billing");
}

#[test]
fn the_stand_ins_banner_is_for_development_and_never_production() {
    let with = |pairs: &[(&str, &str)]| config(&[GOOD, pairs].concat());
    assert_eq!(with(&[("DEV_STANDINS", "stripe, OpenAI")]).dev_standins.unwrap(), ["stripe", "openai"]);
    assert!(with(&[]).dev_standins.unwrap().is_empty());
    assert!(with(&[("DEV_STANDINS", "paypal")]).problems()[0].problem.contains("paypal"));
    let production = with(&[("ENVIRONMENT", "production"), ("DEV_STANDINS", "stripe")]);
    assert!(production.dev_standins.is_err());
    assert!(production.problems().iter().any(|p| p.var == "DEV_STANDINS"), "{:?}", production.problems());
}
