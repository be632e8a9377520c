//! Operators' tools: the production preflight check and the post-deploy smoke check.

use crate::support::{process::root, Stack};
use crate::trials;
use libtest_mimic::Trial;
use std::process::Command;

pub fn tests() -> Vec<Trial> {
    trials![
        preflight_names_every_missing_production_setting_and_the_placeholder_binding,
        preflight_passes_a_complete_production_configuration,
        the_post_deploy_smoke_check_passes_against_a_healthy_site,
    ]
}

fn preflight(manifest: &std::path::Path, env: &[(&str, &str)]) -> (bool, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_preflight"));
    cmd.arg(manifest).env_clear().env("PATH", std::env::var("PATH").unwrap_or_default());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run preflight");
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned())
}

async fn preflight_names_every_missing_production_setting_and_the_placeholder_binding(_: &'static Stack) {
    let (ok, out) = preflight(&root().join("wrangler.toml"), &[]);
    assert!(!ok);
    for needle in [
        "Hyperdrive id is the placeholder",
        "NEXTAUTH_SECRET",
        "STRIPE_SECRET_KEY",
        "OPENAI_API_KEY",
        "EMAIL_SERVER",
    ] {
        assert!(out.contains(needle), "preflight output lacks {needle}:\n{out}");
    }
}

async fn preflight_passes_a_complete_production_configuration(_: &'static Stack) {
    let dir = tempfile::tempdir().unwrap();
    let manifest = std::fs::read_to_string(root().join("wrangler.toml"))
        .unwrap()
        .replace("00000000000000000000000000000000", "4f1c2a7e9b3d4c5e8f6a7b8c9d0e1f2a");
    let path = dir.path().join("wrangler.toml");
    std::fs::write(&path, manifest).unwrap();
    let env = [
        ("NEXTAUTH_SECRET", "a-production-secret-that-is-long-enough-0123"),
        ("EMAIL_SERVER", "smtp://user:pass@smtp.example.com:587"),
        ("STRIPE_SECRET_KEY", "sk_live_123"),
        ("STRIPE_WEBHOOK_SECRET", "whsec_123"),
        ("STRIPE_STARTER_PRICE_ID", "price_starter"),
        ("STRIPE_PRO_PRICE_ID", "price_pro"),
        ("OPENAI_API_KEY", "sk-test"),
    ];
    let (ok, out) = preflight(&path, &env);
    assert!(ok, "a complete configuration must pass:\n{out}");
}

async fn the_post_deploy_smoke_check_passes_against_a_healthy_site(s: &'static Stack) {
    let out = Command::new(root().join("scripts/smoke.sh")).arg(s.url("")).output().expect("run smoke.sh");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "smoke.sh failed:\n{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("ok    unsigned webhook refused (400)"), "{text}");
}
