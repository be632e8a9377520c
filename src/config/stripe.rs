//! Stripe: keys, webhook secrets, the prices we sell, and how long one API call may take.

use super::{invalid, missing, ConfigProblem, Read, Secret, Setting};

#[derive(Debug, Clone)]
pub struct StripeConfig {
    pub secret_key: Secret,
    pub webhook_secret: Secret,
    /// During a secret rotation, events signed with the previous secret still verify.
    pub previous_webhook_secret: Option<Secret>,
    pub starter_price_id: String,
    pub pro_price_id: String,
    /// One-time prices sold as credit packs (`STRIPE_CREDIT_PACK_PRICE_IDS`, comma-separated).
    pub credit_pack_price_ids: Vec<String>,
    pub publishable_key: Option<String>,
}

/// Every problem of the Stripe settings, not only the first (as `parse_email`).
pub fn stripe(read: Read) -> Result<StripeConfig, Vec<ConfigProblem>> {
    // Any of `prefixes` will do; the message names the first.
    let need = |var: &'static str, prefixes: &[&str]| -> Setting<String> {
        let (_, v) = read(&[var]).ok_or_else(|| missing(var))?;
        if !prefixes.iter().any(|p| v.starts_with(p)) {
            return Err(invalid(var, &format!("must start with {}", prefixes[0])));
        }
        Ok(v)
    };
    // Restricted keys (`rk_`) work too.
    let secret_key = need("STRIPE_SECRET_KEY", &["sk_", "rk_"]);
    let webhook_secret = need("STRIPE_WEBHOOK_SECRET", &["whsec_"]);
    let previous = read(&["STRIPE_WEBHOOK_SECRET_PREVIOUS"])
        .map(|_| need("STRIPE_WEBHOOK_SECRET_PREVIOUS", &["whsec_"]).map(Secret))
        .transpose();
    let starter = need("STRIPE_STARTER_PRICE_ID", &["price_"]);
    let pro = need("STRIPE_PRO_PRICE_ID", &["price_"]);
    let packs = parse_price_list(read(&["STRIPE_CREDIT_PACK_PRICE_IDS"]));
    let publishable_key = read(&["STRIPE_PUBLISHABLE_KEY"]).map(|(_, v)| v);
    match (secret_key, webhook_secret, previous, starter, pro, packs) {
        (
            Ok(secret_key),
            Ok(webhook_secret),
            Ok(previous_webhook_secret),
            Ok(starter),
            Ok(pro),
            Ok(packs),
        ) => Ok(StripeConfig {
            secret_key: Secret(secret_key),
            webhook_secret: Secret(webhook_secret),
            previous_webhook_secret,
            starter_price_id: starter,
            pro_price_id: pro,
            credit_pack_price_ids: packs,
            publishable_key,
        }),
        (a, b, c, d, e, f) => {
            Err([a.err(), b.err(), c.err(), d.err(), e.err(), f.err()].into_iter().flatten().collect())
        }
    }
}

/// `price_a, price_b` → the ids, each checked; empty or absent → none.
fn parse_price_list(value: Option<(&'static str, String)>) -> Setting<Vec<String>> {
    let Some((var, raw)) = value else { return Ok(Vec::new()) };
    let mut ids: Vec<String> = Vec::new();
    for id in raw.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        if !id.starts_with("price_") || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err(invalid(var, "must be a comma-separated list of price_… ids"));
        }
        if !ids.iter().any(|known| known == id) {
            ids.push(id.to_string());
        }
    }
    Ok(ids)
}

/// How long one Stripe API attempt may take before it is aborted (`STRIPE_TIMEOUT_MS`).
pub fn timeout_ms(read: Read) -> u64 {
    read(&["STRIPE_TIMEOUT_MS"])
        .and_then(|(_, v)| v.parse::<u64>().ok())
        .filter(|ms| (100..=60_000).contains(ms))
        .unwrap_or(8_000)
}
