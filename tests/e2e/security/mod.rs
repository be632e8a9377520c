//! Security tests that walk every route of the Worker's own route table
//! (`ghosttools::routes::table::ROUTES`, the table it dispatches with), so "every route" stays
//! literal when a route is added. Every response these tests receive is
//! checked for the hardening headers (`assert_hardened`), error pages included.

mod bodies;
mod csrf;
mod headers;
mod injection;
mod methods;
mod others_data;
mod redirects;
mod sessions;

use crate::support::session::SignedIn;
use crate::support::tools::{insert_generation, insert_transcript};
use crate::support::Stack;
pub use ghosttools::routes::table::{self, Access, Body};
use libtest_mimic::Trial;
use std::sync::atomic::{AtomicU32, Ordering};

pub fn tests() -> Vec<Trial> {
    [
        headers::tests(),
        csrf::tests(),
        sessions::tests(),
        redirects::tests(),
        others_data::tests(),
        injection::tests(),
        bodies::tests(),
        methods::tests(),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// One route of the Worker's own table (`ghosttools::routes::table::ROUTES`, the one it
/// dispatches with), with a concrete request to send to it.
pub struct Route {
    pub method: &'static str,
    pub pattern: &'static str,
    /// `{gen}`/`{tr}`/`{uid}` become the fixture's generation/transcript/user ids.
    pub example: String,
    pub access: Access,
    pub sends: Body,
}

/// Every route the Worker dispatches, in its table's order.
pub fn routes() -> &'static [Route] {
    static ROUTES: std::sync::LazyLock<Vec<Route>> = std::sync::LazyLock::new(|| {
        table::ROUTES
            .iter()
            .map(|r| Route {
                method: r.method.as_ref(),
                pattern: r.path,
                example: example(r.method.as_ref(), r.path),
                access: r.access,
                sends: r.body,
            })
            .collect()
    });
    &ROUTES
}

/// A request that reaches the route's handler: each `:name` filled in (the fixture's own items
/// where it has them, else an unknown one), and what a GET needs in its query.
fn example(method: &str, pattern: &str) -> String {
    let mut path = String::new();
    let mut before = "";
    for segment in pattern.trim_start_matches('/').split('/') {
        let value = match (before, segment) {
            ("users", ":id") => "{uid}",
            ("events", ":id") => "evt_nosuchevent",
            ("sessions", ":id") => "1",
            ("agentwrite", ":id") => "{gen}",
            ("podscribe", ":id") => "{tr}",
            (_, ":status") => "404",
            (_, ":policy") => "pages",
            (_, ":file") => "transcript.srt",
            // An upload in parts nobody opened (a well-formed id), and its first part.
            ("uploads", ":id") => "0123456789abcdef0123456789abcdef",
            ("parts", ":n") => "1",
            (_, name) if name.starts_with(':') => {
                panic!("{pattern}: no example for {name}: add one in tests/e2e/security/mod.rs")
            }
            (_, literal) => literal,
        };
        path.push('/');
        path.push_str(value);
        before = segment;
    }
    let query = match (method, pattern) {
        ("GET", "/signin/confirm") => "?token=nope",
        ("GET", "/account/email/confirm") => "?token=nope",
        ("GET", "/signin/google/callback") => "?state=x&code=y",
        ("GET", "/billing/success") => "?session_id=cs_test_nosuchsession",
        _ => "",
    };
    path + query
}

impl Route {
    pub fn path(&self, fx: &Fixture) -> String {
        self.example
            .replace("{gen}", &fx.generation)
            .replace("{tr}", &fx.transcript)
            .replace("{uid}", &fx.user.user_id.to_string())
    }

    pub fn is_post(&self) -> bool {
        self.method == "POST"
    }

    /// A POST that must carry the CSRF token (every form and upload; not Stripe's webhook, nor the debug
    /// limiter check, which has no body and spends only the caller's own quota).
    pub fn needs_csrf(&self) -> bool {
        self.is_post() && matches!(self.sends, Body::Form | Body::Multipart | Body::Bytes)
    }
}

/// A signed-in user owning a finished generation and transcript (the ids in the examples).
pub struct Fixture {
    pub user: SignedIn,
    pub generation: String,
    pub transcript: String,
}

impl Fixture {
    pub async fn new(s: &Stack, prefix: &str) -> Fixture {
        let user = s.sign_in_new(prefix).await;
        let generation = insert_generation(s, user.user_id, "done", 1).await;
        let transcript = insert_transcript(s, user.user_id, 1).await;
        Fixture { user, generation, transcript }
    }
}

/// A client of its own address (`CF-Connecting-IP`), so many anonymous requests never eat the
/// per-IP page limit other tests share. Keeps no cookies, follows no redirects.
pub fn anonymous() -> reqwest::Client {
    static N: AtomicU32 = AtomicU32::new(1);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let ip = format!("198.18.{}.{}", (n / 250) % 250, n % 250 + 1);
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("cf-connecting-ip", ip.parse().unwrap());
    crate::support::client()
        .redirect(reqwest::redirect::Policy::none())
        .default_headers(headers)
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .unwrap()
}

/// Every response of the Worker, whatever its status: the CSP by nonce (no inline script or
/// eval allowed, nothing may frame us), nosniff, a referrer policy, frame and permissions
/// policies, a request id, never stored, no cross-origin access granted, and cookies with
/// their flags.
pub fn assert_hardened(res: &reqwest::Response, what: &str) {
    let h = res.headers();
    let get = |name: &str| {
        h.get(name)
            .unwrap_or_else(|| panic!("{what} ({}): no {name} header", res.status()))
            .to_str()
            .unwrap()
            .to_string()
    };
    let csp = get("content-security-policy");
    for part in [
        "default-src 'self'",
        "script-src 'nonce-",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(part), "{what}: the CSP lacks {part}: {csp}");
    }
    assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"), "{what}: {csp}");
    assert_eq!(get("x-content-type-options"), "nosniff", "{what}");
    let referrer = get("referrer-policy");
    assert!(
        ["strict-origin-when-cross-origin", "same-origin"].contains(&referrer.as_str()),
        "{what}: {referrer}"
    );
    assert!(get("permissions-policy").contains("camera=()"), "{what}");
    assert_eq!(get("cross-origin-opener-policy"), "same-origin", "{what}");
    assert!(!get("x-request-id").is_empty(), "{what}");
    assert!(get("cache-control").contains("no-store"), "{what}: every answer of the Worker is private");
    assert!(!h.contains_key("access-control-allow-origin"), "{what}: no cross-origin reads");
    for cookie in h.get_all("set-cookie") {
        assert_cookie_flags(cookie.to_str().unwrap(), false, what);
    }
}

/// A cookie the Worker sets: HttpOnly (scripts never read our cookies), SameSite, Path=/, no
/// Domain, a lifetime of at most the 30-day session; on https `__Host-` and Secure.
pub fn assert_cookie_flags(cookie: &str, https: bool, what: &str) {
    let attrs: Vec<String> = cookie.split(';').skip(1).map(|a| a.trim().to_ascii_lowercase()).collect();
    let has = |a: &str| attrs.iter().any(|x| x == a);
    assert!(has("httponly"), "{what}: {cookie} lacks HttpOnly");
    assert!(has("samesite=lax") || has("samesite=strict"), "{what}: {cookie} lacks SameSite");
    assert!(has("path=/"), "{what}: {cookie} lacks Path=/");
    assert!(!attrs.iter().any(|a| a.starts_with("domain")), "{what}: {cookie} sets a Domain");
    if let Some(age) = attrs.iter().find_map(|a| a.strip_prefix("max-age=")) {
        let age: u64 = age.parse().unwrap_or_else(|_| panic!("{what}: {cookie} has a bad Max-Age"));
        assert!(age <= 30 * 24 * 3600, "{what}: {cookie} lives longer than a session");
    }
    assert!(!attrs.iter().any(|a| a.starts_with("expires")), "{what}: {cookie}: Max-Age only");
    if https {
        assert!(cookie.starts_with("__Host-"), "{what}: {cookie} is not __Host- prefixed on https");
        assert!(has("secure"), "{what}: {cookie} lacks Secure on https");
    } else {
        assert!(!cookie.starts_with("__Host-"), "{what}: __Host- needs https");
    }
}

/// What a request changed for `user`: ledger rows, runs, affiliate, session version, address,
/// checkouts, customer, sign-in links, address changes, mails.
pub async fn footprint(s: &Stack, user_id: i64, email: &str) -> Vec<String> {
    let row = s
        .sql()
        .await
        .query_one(
            "SELECT (SELECT count(*) FROM credit_ledger WHERE user_id = $1),
                    (SELECT count(*) FROM generations WHERE user_id = $1),
                    (SELECT count(*) FROM transcripts WHERE user_id = $1),
                    (SELECT count(*) FROM transcripts WHERE user_id = $1 AND notes IS NOT NULL),
                    (SELECT count(*) FROM affiliates WHERE user_id = $1),
                    (SELECT count(*) FROM checkout_sessions WHERE user_id = $1),
                    (SELECT count(*) FROM billing_customers WHERE user_id = $1),
                    (SELECT count(*) FROM email_sign_in_tokens WHERE email = $2),
                    (SELECT count(*) FROM email_changes WHERE user_id = $1),
                    (SELECT session_version::int8 FROM users WHERE id = $1),
                    (SELECT coalesce(email, '<none>') FROM users WHERE id = $1)",
            &[&user_id, &email],
        )
        .await
        .unwrap();
    let mut out: Vec<String> =
        (0..10).map(|i| row.get::<_, Option<i64>>(i).unwrap_or(-1).to_string()).collect();
    out.push(row.get::<_, Option<String>>(10).unwrap_or_default());
    out.push(format!("mails:{}", s.fakes.smtp.mails_to(email).len()));
    out
}
