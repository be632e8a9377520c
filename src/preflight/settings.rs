//! The variables and secrets: every required one present, each known value in the format
//! production needs (live Stripe keys of one mode, `whsec_`, `price_`, https, secret lengths),
//! then whatever else the Worker's own `Config` finds wrong.

use super::{Inputs, Report, Secrets, StripeMode, REQUIRED};
use crate::config::Config;
use std::collections::HashSet;
use url::Url;

/// Shortest plausible lengths after the prefix: Stripe secret keys have had at least 24
/// characters after `sk_live_`, signing secrets 32 after `whsec_`; OpenAI keys are ≥ 51 in all.
const MIN_STRIPE_KEY_TAIL: usize = 24;
const MIN_WEBHOOK_SECRET_TAIL: usize = 32;
const MIN_OPENAI_KEY: usize = 40;

/// Collects problems, at most one per variable (the first, most specific one wins).
struct Findings<'a, 'r> {
    inputs: &'a Inputs<'a>,
    report: &'r mut Report,
    named: HashSet<String>,
}

impl Findings<'_, '_> {
    fn bad(&mut self, var: &str, what: impl Into<String>) {
        if self.named.insert(var.to_string()) {
            let fix = format!("{}{}", hint(var), self.inputs.how_to_set(var));
            self.report.problem(format!("{var}: {}", what.into()), fix);
        }
    }
}

pub fn check(inputs: &Inputs, report: &mut Report) {
    let mut f = Findings { inputs, report, named: HashSet::new() };
    presence(&mut f);
    conflicts(&mut f);
    site(&mut f);
    secrets_and_mail(&mut f);
    stripe(&mut f);
    openai_and_endpoints(&mut f);
    worker_config(&mut f);
    notes(inputs, f.report);
}

fn presence(f: &mut Findings) {
    for names in REQUIRED {
        if !names.iter().any(|n| f.inputs.present(n)) {
            f.bad(names[0], "is not set (required in production)");
        }
    }
    let (id, secret) = (f.inputs.present("GOOGLE_CLIENT_ID"), f.inputs.present("GOOGLE_CLIENT_SECRET"));
    if id != secret {
        let missing = if id { "GOOGLE_CLIENT_SECRET" } else { "GOOGLE_CLIENT_ID" };
        f.bad(missing, "is not set, but its partner is: Google sign-in needs both");
    }
}

/// A name both in `[vars]` and among the secrets: a Worker has one binding per name.
fn conflicts(f: &mut Findings) {
    let names: Vec<String> = match f.inputs.secrets {
        Secrets::Shell(_) => return,
        Secrets::EnvFile { values, .. } => values.keys().cloned().collect(),
        Secrets::Uploaded(names) => names.iter().cloned().collect(),
    };
    let mut both: Vec<String> = names.into_iter().filter(|n| f.inputs.vars.contains_key(n)).collect();
    both.sort();
    for name in both {
        if f.named.insert(name.clone()) {
            f.report.problem(
                format!("{name}: set both under [vars] and as a secret; a Worker binding name can only be used once"),
                format!("keep one: delete it from [vars] in wrangler.toml, or `npx wrangler secret delete {name}`"),
            );
        }
    }
}

fn first_value(f: &Findings, names: &[&'static str]) -> Option<(&'static str, String)> {
    names.iter().find_map(|n| f.inputs.value(n).map(|v| (*n, v.trim().to_string())))
}

/// This machine: 127.0.0.0/8, ::1 (also IPv4-mapped), `localhost` and its subdomains — where
/// `make dev`'s stand-ins and the test fakes listen.
fn loopback_host(host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let ip = host.trim_start_matches('[').trim_end_matches(']').parse::<std::net::IpAddr>();
    host == "localhost"
        || host.ends_with(".localhost")
        || ip.is_ok_and(|ip| match ip {
            std::net::IpAddr::V4(v4) => v4.is_loopback() || v4.is_unspecified(),
            std::net::IpAddr::V6(v6) => {
                v6.is_loopback()
                    || v6.is_unspecified()
                    || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
            }
        })
}

/// Hosts that only exist on a developer's machine or in documentation.
fn placeholder_host(host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    loopback_host(&host)
        || host.starts_with("10.")
        || host.starts_with("192.168.")
        || [".example", ".test", ".invalid", ".localhost", ".local"].iter().any(|tld| host.ends_with(tld))
        || host == "example.com"
}

fn site(f: &mut Findings) {
    let Some((var, raw)) = first_value(f, &["NEXTAUTH_URL", "SITE_URL", "NEXT_PUBLIC_BASE_URL"]) else {
        return;
    };
    let Ok(url) = Url::parse(&raw) else { return }; // Config names the parse error.
    if url.scheme() != "https" {
        f.bad(var, format!("{raw} is not https (production sets HSTS and Secure cookies for https only)"));
    } else if placeholder_host(url.host_str().unwrap_or("")) {
        f.bad(var, format!("{raw} is a placeholder or local address, not the public site"));
    }
}

fn secrets_and_mail(f: &mut Findings) {
    if let Some((var, v)) = first_value(f, &["NEXTAUTH_SECRET", "SESSION_SECRET"]) {
        let lower = v.to_ascii_lowercase();
        if ["dev-only", "change-me", "changeme", "secret-change"].iter().any(|w| lower.contains(w)) {
            f.bad(var, "is a development placeholder; anyone who has read it can forge sessions");
        }
    }
    if let Some((var, raw)) = first_value(f, &["EMAIL_SERVER"]) {
        if let Ok(url) = Url::parse(&raw) {
            if url.port() == Some(25) {
                f.bad(var, "uses port 25, which Cloudflare Workers may not connect to; use 587 (smtp://) or 465 (smtps://)");
            } else if placeholder_host(url.host_str().unwrap_or("")) {
                f.bad(var, "points at a local or placeholder mail server");
            }
        }
    }
    if let Some((var, from)) = first_value(f, &["EMAIL_FROM"]) {
        match crate::domain::Mailbox::parse(&from) {
            Err(_) => f.bad(var, "must be an address like GhostTools <noreply@example.com>"),
            Ok(_) => {
                let domain = from.rsplit('@').next().unwrap_or("").trim_end_matches('>').trim();
                if placeholder_host(domain) {
                    f.bad(
                        var,
                        format!("{from} is a placeholder address; use one your mail provider sends for"),
                    );
                }
            }
        }
    }
    // Its format is the Worker's own check (`Config`); a placeholder domain is ours.
    if let Some((var, contact)) = first_value(f, &["CONTACT_EMAIL"]) {
        if contact.contains('@') && placeholder_host(contact.rsplit('@').next().unwrap_or("")) {
            f.bad(var, format!("{contact} is a placeholder address; use one someone reads"));
        }
    }
}

/// `sk_live_…` → (Live, tail length); test keys → Test; anything else → None.
fn key_mode(key: &str, kinds: &[&str]) -> Option<(StripeMode, usize)> {
    kinds.iter().find_map(|kind| {
        if let Some(tail) = key.strip_prefix(&format!("{kind}_live_")) {
            Some((StripeMode::Live, tail.len()))
        } else {
            key.strip_prefix(&format!("{kind}_test_")).map(|tail| (StripeMode::Test, tail.len()))
        }
    })
}

fn mode_name(mode: StripeMode) -> &'static str {
    match mode {
        StripeMode::Live => "live",
        StripeMode::Test => "test",
    }
}

fn stripe(f: &mut Findings) {
    let expected = f.inputs.stripe_mode;
    let secret_mode = match first_value(f, &["STRIPE_SECRET_KEY"]) {
        None => None,
        Some((var, key)) => match key_mode(&key, &["sk", "rk"]) {
            None => {
                f.bad(var, "must start with sk_live_ (or rk_live_ for a restricted key)");
                None
            }
            Some((mode, tail)) => {
                if mode != expected {
                    f.bad(var, wrong_mode(mode, expected));
                } else if tail < MIN_STRIPE_KEY_TAIL {
                    f.bad(var, "looks truncated (Stripe keys are much longer); copy it again");
                }
                Some(mode)
            }
        },
    };
    if let Some((var, key)) = first_value(f, &["STRIPE_PUBLISHABLE_KEY"]) {
        match key_mode(&key, &["pk"]) {
            None => f.bad(var, "must start with pk_live_ (or pk_test_)"),
            Some((mode, _)) => match secret_mode {
                Some(secret) if secret != mode => f.bad(
                    var,
                    format!(
                        "is a {} key but STRIPE_SECRET_KEY is a {} key: live and test keys are mixed",
                        mode_name(mode),
                        mode_name(secret)
                    ),
                ),
                None if mode != expected => f.bad(var, wrong_mode(mode, expected)),
                _ => {}
            },
        }
    }
    for var in ["STRIPE_WEBHOOK_SECRET", "STRIPE_WEBHOOK_SECRET_PREVIOUS"] {
        if let Some((var, v)) = first_value(f, &[var]) {
            match v.strip_prefix("whsec_") {
                None => f.bad(var, "must start with whsec_ (the endpoint's signing secret, not an API key)"),
                Some(tail) if tail.len() < MIN_WEBHOOK_SECRET_TAIL => {
                    f.bad(var, "looks truncated (a signing secret has at least 32 characters after whsec_)")
                }
                Some(_) => {}
            }
        }
    }
    for var in ["STRIPE_STARTER_PRICE_ID", "STRIPE_PRO_PRICE_ID"] {
        if let Some((var, v)) = first_value(f, &[var]) {
            if !v.starts_with("price_") {
                f.bad(
                    var,
                    format!("must be a price id (price_…), not {}", v.split('_').next().unwrap_or("?")),
                );
            }
        }
    }
}

fn mode_flag(expected: StripeMode) -> &'static str {
    match expected {
        StripeMode::Live => {
            " (a staging deployment on test keys: --stripe-test-mode, or make preflight STRIPE_TEST_MODE=1)"
        }
        StripeMode::Test => " (--stripe-test-mode was given)",
    }
}

/// Where the Worker finds the outside services (unset in production: the real ones).
pub(crate) const OUTSIDE_SERVICE_URLS: &[&str] = &[
    "STRIPE_API_BASE",
    "STRIPE_CHECKOUT_ORIGIN",
    "STRIPE_PORTAL_ORIGIN",
    "OPENAI_API_BASE",
    "OPENAI_BASE_URL",
    "GOOGLE_ISSUER",
    "REWARDFUL_API_BASE",
    "REWARDFUL_SCRIPT_URL",
];

fn openai_and_endpoints(f: &mut Findings) {
    let custom_openai = first_value(f, &["OPENAI_API_BASE", "OPENAI_BASE_URL"]).is_some();
    if let Some((var, key)) = first_value(f, &["OPENAI_API_KEY"]) {
        if !custom_openai && !key.starts_with("sk-") {
            f.bad(var, "must start with sk- (an OpenAI API key)");
        } else if !custom_openai && key.len() < MIN_OPENAI_KEY {
            f.bad(var, "looks truncated (OpenAI keys are longer); copy it again");
        }
    }
    // Reports sent to a Sentry on this machine (the e2e stack's fake) would be lost.
    for var in ["NEXT_PUBLIC_SENTRY_DSN", "SENTRY_DSN"] {
        if let Some((var, raw)) = first_value(f, &[var]) {
            if Url::parse(&raw).is_ok_and(|u| loopback_host(u.host_str().unwrap_or(""))) {
                f.bad(
                    var,
                    "points at this machine (loopback: a test fake); production reports to the real Sentry",
                );
            }
        }
    }
    for var in OUTSIDE_SERVICE_URLS {
        if let Some((var, raw)) = first_value(f, &[var]) {
            if Url::parse(&raw).is_ok_and(|u| loopback_host(u.host_str().unwrap_or(""))) {
                f.bad(var, format!("{raw} points at this machine (loopback: a local stand-in or test fake); production uses the real service"));
                continue;
            }
            let local = Url::parse(&raw)
                .map(|u| u.scheme() != "https" || placeholder_host(u.host_str().unwrap_or("")))
                .unwrap_or(true);
            if local {
                f.bad(
                    var,
                    format!(
                        "{raw} is not a public https service (a test fake?); production uses the real one"
                    ),
                );
            }
        }
    }
}

/// Whatever else the Worker itself would list in `/api/health` (DSN, limits, TTLs, …).
fn worker_config(f: &mut Findings) {
    let config = Config::from_lookup(|name| {
        if name == "ENVIRONMENT" {
            return Some("production".into());
        }
        f.inputs.value(name)
    });
    for p in config.problems() {
        // Presence is judged above, from the names (values may be unknown).
        if !p.problem.starts_with("is not set") {
            f.bad(p.var, p.problem);
        }
    }
}

fn notes(inputs: &Inputs, report: &mut Report) {
    if let Secrets::Uploaded(_) = inputs.secrets {
        report.note(
            "secret values cannot be read back from Cloudflare: only their names were checked \
             (check the values with --env-file FILE before `npx wrangler secret bulk FILE`)",
        );
    }
    if inputs.present("STRIPE_STARTER_PRICE_ID") {
        report.note(format!(
            "price ids do not say whether they are live or test: take them from Stripe's {} mode \
             (a price of the other mode is not sold, and the log names it)",
            mode_name(inputs.stripe_mode)
        ));
    }
    if !["NEXT_PUBLIC_SENTRY_DSN", "SENTRY_DSN"].iter().any(|n| inputs.present(n)) {
        report.note("no NEXT_PUBLIC_SENTRY_DSN: server errors go to the Workers logs only");
    }
    if inputs.value("EMAIL_ALLOW_PLAINTEXT").is_some_and(|v| v == "true" || v == "1") {
        report.note(
            "EMAIL_ALLOW_PLAINTEXT is on: if EMAIL_SERVER offers no STARTTLS, sign-in links (which \
             sign anyone in who reads them) cross the network unencrypted; prefer smtps:// or a \
             relay with STARTTLS",
        );
    }
    for flag in ["DEBUG_ERROR_ROUTE", "DEBUG_RATE_LIMIT_ROUTE", "DEBUG_MEMORY_ROUTE"] {
        if inputs.value(flag).is_some_and(|v| v == "true" || v == "1") {
            report.note(format!("{flag} is on: turn it off again once you have checked what it is for"));
        }
    }
}

fn wrong_mode(mode: StripeMode, expected: StripeMode) -> String {
    format!(
        "is a {} key, but this check expects {} mode{}",
        mode_name(mode),
        mode_name(expected),
        mode_flag(expected)
    )
}

/// Where a value comes from, before how to set it.
fn hint(var: &str) -> &'static str {
    match var {
        "NEXTAUTH_SECRET" | "SESSION_SECRET" => "generate one with `openssl rand -base64 48`; ",
        "STRIPE_SECRET_KEY" | "STRIPE_PUBLISHABLE_KEY" => "Stripe Dashboard → Developers → API keys; ",
        "STRIPE_WEBHOOK_SECRET" | "STRIPE_WEBHOOK_SECRET_PREVIOUS" => {
            "Stripe Dashboard → Developers → Webhooks → the endpoint https://<site>/api/stripe/webhook → Signing secret; "
        }
        "STRIPE_STARTER_PRICE_ID" | "STRIPE_PRO_PRICE_ID" | "STRIPE_CREDIT_PACK_PRICE_IDS" => {
            "Stripe Dashboard → Product catalogue → the product's price (price_…, with metadata credits); "
        }
        "OPENAI_API_KEY" => "platform.openai.com → API keys; ",
        "EMAIL_SERVER" => "your mail provider's SMTP submission URL, smtp://USER:PASS@HOST:587 or smtps://…:465; ",
        "NEXTAUTH_URL" | "SITE_URL" | "NEXT_PUBLIC_BASE_URL" => "the public https origin, e.g. https://ghosttools.app; ",
        "EMAIL_FROM" => "a sender your mail provider accepts, e.g. GhostTools <noreply@your-domain>; ",
        "GOOGLE_CLIENT_ID" | "GOOGLE_CLIENT_SECRET" => "Google Cloud console → APIs & Services → Credentials; ",
        "CONTACT_EMAIL" => {
            "the address that answers users and security reports (shown on /terms and /privacy; SECURITY.md sends reports there); "
        }
        _ => "",
    }
}
