//! `preflight`: checks a production configuration before deploying — the handbook's
//! "prepare-production" step. Reads `[vars]` from wrangler.toml and secrets from this shell's
//! environment (export them as you would `wrangler secret put` them), validates them with the
//! Worker's own config code as `ENVIRONMENT=production`, and checks the bindings.
//!
//! Usage: `STRIPE_SECRET_KEY=… NEXTAUTH_SECRET=… … preflight [wrangler.toml]`; exit 1 on problems.

fn main() {
    #[cfg(not(target_arch = "wasm32"))]
    std::process::exit(native::main());
}

#[cfg(not(target_arch = "wasm32"))]
mod native {
    use ghosttools::config::Config;
    use std::collections::HashMap;

    pub fn main() -> i32 {
        let path = std::env::args().nth(1).unwrap_or_else(|| "wrangler.toml".into());
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("preflight: cannot read {path}: {e}");
                return 2;
            }
        };
        let manifest: toml::Table = match text.parse() {
            Ok(t) => t,
            Err(e) => {
                eprintln!("preflight: {path} is not valid TOML: {e}");
                return 2;
            }
        };
        let mut problems = binding_problems(&manifest);
        let vars: HashMap<String, String> = manifest
            .get("vars")
            .and_then(|v| v.as_table())
            .map(|t| t.iter().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string()))).collect())
            .unwrap_or_default();
        let config = Config::from_lookup(|name| {
            if name == "ENVIRONMENT" {
                return Some("production".into());
            }
            std::env::var(name).ok().or_else(|| vars.get(name).cloned())
        });
        problems.extend(config.problems().iter().map(|p| p.to_string()));
        if config.site.as_ref().is_ok_and(|s| !s.is_https()) {
            problems.push("NEXTAUTH_URL: production must be served over https".into());
        }
        if problems.is_empty() {
            println!("preflight: configuration ready for production");
            0
        } else {
            for p in &problems {
                println!("problem: {p}");
            }
            1
        }
    }

    fn binding_problems(manifest: &toml::Table) -> Vec<String> {
        let mut out = Vec::new();
        let hyperdrive = manifest.get("hyperdrive").and_then(|h| h.as_array());
        let db = hyperdrive
            .and_then(|hs| hs.iter().find(|h| h.get("binding").and_then(|b| b.as_str()) == Some("DB")));
        match db.and_then(|h| h.get("id")).and_then(|i| i.as_str()) {
            None => out.push("wrangler.toml: no [[hyperdrive]] binding named DB".into()),
            Some(id) if id.chars().all(|c| c == '0') => out.push(
                "wrangler.toml: the Hyperdrive id is the placeholder; run `wrangler hyperdrive create` and put its id here"
                    .into(),
            ),
            Some(_) => {}
        }
        let has_limiter = manifest
            .get("durable_objects")
            .and_then(|d| d.get("bindings"))
            .and_then(|b| b.as_array())
            .is_some_and(|bs| {
                bs.iter().any(|b| b.get("name").and_then(|n| n.as_str()) == Some("RATE_LIMITER"))
            });
        if !has_limiter {
            out.push("wrangler.toml: no Durable Object binding RATE_LIMITER".into());
        }
        out
    }
}
