//! wrangler.toml: the bindings the Worker looks up by name (Hyperdrive `DB`, the Durable Object
//! `RATE_LIMITER` of class `RateLimiter` and the migration that creates it, the R2 bucket and the
//! runs queue with its consumers), and `[vars]`.

use super::{is_secret, Report};
use std::collections::HashMap;
use toml::{Table, Value};

/// The Rust struct exported as the Durable Object (src/rate_limit/object.rs).
pub const LIMITER_CLASS: &str = "RateLimiter";
/// The binding names the Worker uses (src/db, src/rate_limit/client.rs).
pub const DB_BINDING: &str = "DB";
pub const LIMITER_BINDING: &str = crate::rate_limit::client::BINDING;

/// `[vars]` as strings (other value types are reported by `check`).
pub fn vars(manifest: &Table) -> HashMap<String, String> {
    let Some(vars) = manifest.get("vars").and_then(Value::as_table) else { return HashMap::new() };
    vars.iter().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string()))).collect()
}

pub fn check(manifest: &Table, vars: &HashMap<String, String>, report: &mut Report) {
    if manifest.get("name").and_then(Value::as_str).is_none_or(str::is_empty) {
        report.problem(
            "wrangler.toml: no Worker name",
            "add `name = \"ghosttools\"` at the top of wrangler.toml",
        );
    }
    hyperdrive(manifest, report);
    durable_object(manifest, report);
    migrations(manifest, report);
    runs_queue(manifest, report);
    check_vars(manifest, vars, report);
    custom_domain(manifest, vars, report);
    if let Some(envs) = manifest.get("env").and_then(Value::as_table) {
        let names: Vec<&str> = envs.keys().map(String::as_str).collect();
        report.note(format!(
            "wrangler.toml has [env.{}]: only the top level was checked (what `wrangler deploy` without --env uses)",
            names.join("], [env.")
        ));
    }
}

fn str_of<'a>(table: &'a Value, key: &str) -> Option<&'a str> {
    table.get(key).and_then(Value::as_str)
}

fn hyperdrive(manifest: &Table, report: &mut Report) {
    let create = "create one: `npx wrangler hyperdrive create ghosttools --caching-disabled \
                  --connection-string=\"postgres://USER:PASSWORD@HOST:5432/DATABASE\"` and put the id it \
                  prints under [[hyperdrive]] in wrangler.toml (`npx wrangler hyperdrive list` shows existing ones)";
    let db = manifest
        .get("hyperdrive")
        .and_then(Value::as_array)
        .and_then(|hs| hs.iter().find(|h| str_of(h, "binding") == Some(DB_BINDING)));
    let Some(db) = db else {
        report.problem("wrangler.toml: no [[hyperdrive]] binding named DB (the Worker's database)", create);
        return;
    };
    match str_of(db, "id") {
        None => report.problem("wrangler.toml: the Hyperdrive binding DB has no id", create),
        Some(id) if id.chars().all(|c| c == '0') => {
            report.problem("wrangler.toml: the Hyperdrive id is the placeholder 000…0 (local only)", create)
        }
        Some(id) if id.len() != 32 || !id.chars().all(|c| c.is_ascii_hexdigit()) => report.problem(
            format!("wrangler.toml: the Hyperdrive id {id:?} does not look like one (32 hex characters)"),
            create,
        ),
        Some(_) => {}
    }
}

/// The `DB` binding's Hyperdrive id, when it is a real one (what `wrangler hyperdrive get` takes).
pub fn db_hyperdrive_id(manifest: &Table) -> Option<String> {
    let db = manifest
        .get("hyperdrive")
        .and_then(Value::as_array)?
        .iter()
        .find(|h| str_of(h, "binding") == Some(DB_BINDING))?;
    let id = str_of(db, "id")?;
    let real = id.len() == 32 && id.chars().all(|c| c.is_ascii_hexdigit()) && !id.chars().all(|c| c == '0');
    real.then(|| id.to_string())
}

fn durable_object(manifest: &Table, report: &mut Report) {
    let add = format!(
        "in wrangler.toml: [durable_objects] bindings = [{{ name = \"{LIMITER_BINDING}\", class_name = \"{LIMITER_CLASS}\" }}]"
    );
    let binding = manifest
        .get("durable_objects")
        .and_then(|d| d.get("bindings"))
        .and_then(Value::as_array)
        .and_then(|bs| bs.iter().find(|b| str_of(b, "name") == Some(LIMITER_BINDING)));
    let Some(binding) = binding else {
        report.problem("wrangler.toml: no Durable Object binding RATE_LIMITER (the rate limiter)", add);
        return;
    };
    match str_of(binding, "class_name") {
        Some(LIMITER_CLASS) => {}
        other => report.problem(
            format!(
                "wrangler.toml: RATE_LIMITER's class_name is {:?}; the Worker exports {LIMITER_CLASS}",
                other.unwrap_or("missing")
            ),
            add,
        ),
    }
    if binding.get("script_name").is_some() {
        report.problem(
            "wrangler.toml: RATE_LIMITER has a script_name: the limiter is defined by this Worker",
            "remove script_name from the RATE_LIMITER binding",
        );
    }
}

/// The R2 bucket `UPLOADS`, the producer `RUNS` and the consumers of the runs queue and its
/// dead-letter queue (src/services/run_queue.rs): without a consumer of the dead-letter queue,
/// a run whose retries ran out would never be refunded (the sweep would, 45 minutes later).
fn runs_queue(manifest: &Table, report: &mut Report) {
    let entries = |outer: &str, inner: Option<&str>| -> Vec<Value> {
        let v = manifest.get(outer);
        let v = match inner {
            Some(key) => v.and_then(|t| t.get(key)),
            None => v,
        };
        v.and_then(Value::as_array).cloned().unwrap_or_default()
    };
    let create = "see docs/operations.md → First deployment: `npx wrangler r2 bucket create ghosttools-uploads`,                   `npx wrangler queues create ghosttools-runs`, `npx wrangler queues create ghosttools-runs-dead`,                   and the [[r2_buckets]] / [[queues.*]] entries of the repository's wrangler.toml";
    if !entries("r2_buckets", None).iter().any(|b| str_of(b, "binding") == Some("UPLOADS")) {
        report.problem(
            "wrangler.toml: no [[r2_buckets]] binding UPLOADS (where episodes wait for their run)",
            create,
        );
    }
    let Some(queue) = entries("queues", Some("producers"))
        .iter()
        .find(|p| str_of(p, "binding") == Some("RUNS"))
        .and_then(|p| str_of(p, "queue").map(String::from))
    else {
        report.problem("wrangler.toml: no [[queues.producers]] binding RUNS (PodScribe runs)", create);
        return;
    };
    let consumers = entries("queues", Some("consumers"));
    let Some(consumer) = consumers.iter().find(|c| str_of(c, "queue") == Some(queue.as_str())) else {
        report.problem(
            format!("wrangler.toml: nothing consumes the queue {queue:?}: runs would never start"),
            create,
        );
        return;
    };
    match str_of(consumer, "dead_letter_queue") {
        None => report.problem(
            format!("wrangler.toml: the consumer of {queue:?} has no dead_letter_queue: runs that keep failing would be dropped unrefunded until the sweep"),
            create,
        ),
        Some(dead) if !consumers.iter().any(|c| str_of(c, "queue") == Some(dead)) => report.problem(
            format!("wrangler.toml: nothing consumes the dead-letter queue {dead:?}: given-up runs would not be refunded"),
            create,
        ),
        Some(_) => {}
    }
}

fn migrations(manifest: &Table, report: &mut Report) {
    let list: &[Value] =
        manifest.get("migrations").and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[]);
    let lists = |m: &Value, key: &str| {
        m.get(key)
            .and_then(Value::as_array)
            .is_some_and(|a| a.iter().any(|c| c.as_str() == Some(LIMITER_CLASS)))
    };
    let mut tags: Vec<&str> = Vec::new();
    let mut created = false;
    for m in list {
        match str_of(m, "tag") {
            None => report.problem(
                "wrangler.toml: a [[migrations]] entry has no tag",
                "give every [[migrations]] entry a unique tag (\"v1\", \"v2\", …); never change one already deployed",
            ),
            Some(tag) if tags.contains(&tag) => report.problem(
                format!("wrangler.toml: the migration tag {tag:?} appears twice"),
                "give every [[migrations]] entry a unique tag; never change one already deployed",
            ),
            Some(tag) => tags.push(tag),
        }
        if lists(m, "new_sqlite_classes") {
            created = true;
        }
        if lists(m, "new_classes") {
            created = true;
            report.problem(
                "wrangler.toml: RateLimiter is created with new_classes (key-value storage); it uses SQLite storage",
                "create it with new_sqlite_classes = [\"RateLimiter\"] (a class's storage kind cannot change once deployed)",
            );
        }
        let renamed = m
            .get("renamed_classes")
            .and_then(Value::as_array)
            .is_some_and(|rs| rs.iter().any(|r| str_of(r, "from") == Some(LIMITER_CLASS)));
        if lists(m, "deleted_classes") || renamed {
            report.problem(
                format!(
                    "wrangler.toml: migration {:?} deletes or renames RateLimiter",
                    str_of(m, "tag").unwrap_or("?")
                ),
                "remove that migration entry unless the Worker no longer exports RateLimiter",
            );
        }
    }
    if !created {
        report.problem(
            "wrangler.toml: no [[migrations]] entry creates the RateLimiter Durable Object class",
            "add to wrangler.toml: [[migrations]] tag = \"v1\" new_sqlite_classes = [\"RateLimiter\"]",
        );
    }
}

fn check_vars(manifest: &Table, vars: &HashMap<String, String>, report: &mut Report) {
    if let Some(table) = manifest.get("vars").and_then(Value::as_table) {
        for (k, v) in table {
            if !v.is_str() {
                report.problem(
                    format!("wrangler.toml: [vars] {k} is not a string"),
                    format!("quote it: {k} = \"…\" (the Worker reads every variable as text)"),
                );
            }
        }
    }
    match vars.get("ENVIRONMENT").map(String::as_str) {
        Some("production") => {}
        other => report.problem(
            format!(
                "wrangler.toml: [vars] ENVIRONMENT is {} — the Worker would run as development \
                 (Stripe, OpenAI and email optional, Server-Timing on)",
                other.map(|v| format!("{v:?}")).unwrap_or_else(|| "not set".into())
            ),
            "set ENVIRONMENT = \"production\" under [vars] in wrangler.toml",
        ),
    }
    let mut leaked: Vec<&String> = vars.keys().filter(|k| is_secret(k)).collect();
    leaked.sort();
    for name in leaked {
        report.problem(
            format!("wrangler.toml: {name} is a secret but sits in [vars] (plain text in the repo and the dashboard)"),
            format!(
                "delete it from [vars], rotate it (it has been exposed) and set the new value with \
                 `npx wrangler secret put {name}`"
            ),
        );
    }
}

/// A site on its own domain needs a route or custom domain; it may also be attached in the
/// dashboard, so this is a note, not a problem.
fn custom_domain(manifest: &Table, vars: &HashMap<String, String>, report: &mut Report) {
    let Some(host) =
        vars.get("NEXTAUTH_URL").and_then(|u| url::Url::parse(u).ok()?.host_str().map(String::from))
    else {
        return;
    };
    if !host.ends_with(".workers.dev") && manifest.get("routes").is_none() && manifest.get("route").is_none()
    {
        report.note(format!(
            "wrangler.toml has no routes: attach {host} to the Worker (dashboard → Workers → ghosttools → \
             Settings → Domains & Routes, or routes = [{{ pattern = \"{host}\", custom_domain = true }}])"
        ));
    }
}
