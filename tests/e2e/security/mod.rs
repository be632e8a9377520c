//! Security tests driven by one table of every route (`ROUTES` below), which must name exactly
//! the routes `src/app.rs` dispatches (checked against the library's list and the source), so
//! "every route" stays literal when a route is added. Every response these tests receive is
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

/// Who may use a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone (some show more to a signed-in user).
    Public,
    /// A signed-in user: pages send others to sign in, APIs answer 401.
    Private,
    /// Operators only; everyone else gets the 404 of an unknown path.
    Admin,
    /// Operators' checks, on in the test stack only (`DEBUG_*_ROUTE`).
    Debug,
    /// Stripe, authenticated by its signature instead of a session.
    Webhook,
}

/// What a POST carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sends {
    Nothing,
    Form,
    Multipart,
    Json,
}

pub struct Route {
    pub method: &'static str,
    pub pattern: &'static str,
    /// A concrete request: `{gen}`/`{tr}`/`{uid}` become the fixture's generation/transcript/user ids.
    pub example: &'static str,
    pub access: Access,
    pub sends: Sends,
}

const fn r(
    method: &'static str,
    pattern: &'static str,
    example: &'static str,
    access: Access,
    sends: Sends,
) -> Route {
    Route { method, pattern, example, access, sends }
}

use Access::*;
use Sends::*;

/// Every route of `src/app.rs`, in its order.
pub const ROUTES: &[Route] = &[
    r("GET", "/", "/", Public, Nothing),
    r("GET", "/terms", "/terms", Public, Nothing),
    r("GET", "/privacy", "/privacy", Public, Nothing),
    r("GET", "/refer", "/refer", Public, Nothing),
    r("POST", "/refer/join", "/refer/join", Private, Form),
    r("GET", "/admin", "/admin", Admin, Nothing),
    r("POST", "/admin/grant", "/admin/grant", Admin, Form),
    r("GET", "/admin/users/:id", "/admin/users/{uid}", Admin, Nothing),
    r("POST", "/admin/users/:id/deduct", "/admin/users/{uid}/deduct", Admin, Form),
    r("POST", "/admin/users/:id/suspend", "/admin/users/{uid}/suspend", Admin, Form),
    r("POST", "/admin/users/:id/restore", "/admin/users/{uid}/restore", Admin, Form),
    r("POST", "/admin/events/:id/replay", "/admin/events/evt_nosuchevent/replay", Admin, Form),
    r("GET", "/debug/error/:status", "/debug/error/404", Debug, Nothing),
    r("GET", "/dashboard", "/dashboard", Private, Nothing),
    r("POST", "/signout", "/signout", Public, Form),
    r("GET", "/account", "/account", Private, Nothing),
    r("POST", "/account/signout-everywhere", "/account/signout-everywhere", Private, Form),
    r("POST", "/account/delete", "/account/delete", Private, Form),
    r("POST", "/account/google/unlink", "/account/google/unlink", Private, Form),
    r("POST", "/account/export", "/account/export", Private, Form),
    r("POST", "/account/email", "/account/email", Private, Form),
    r("GET", "/account/email/confirm", "/account/email/confirm?token=nope", Public, Nothing),
    r("POST", "/account/email/confirm", "/account/email/confirm", Private, Form),
    r("POST", "/account/sessions/:id/end", "/account/sessions/1/end", Private, Form),
    r("GET", "/signin", "/signin", Public, Nothing),
    r("POST", "/signin", "/signin", Public, Form),
    r("GET", "/signin/confirm", "/signin/confirm?token=nope", Public, Nothing),
    r("POST", "/signin/confirm", "/signin/confirm", Public, Form),
    r("POST", "/signin/google", "/signin/google", Public, Form),
    r("GET", "/signin/google/callback", "/signin/google/callback?state=x&code=y", Public, Nothing),
    r("GET", "/api/health", "/api/health", Public, Nothing),
    r("GET", "/api/debug/error", "/api/debug/error", Debug, Nothing),
    r("GET", "/api/debug/memory", "/api/debug/memory", Debug, Nothing),
    r("GET", "/pricing", "/pricing", Public, Nothing),
    r("GET", "/billing", "/billing", Private, Nothing),
    r("POST", "/billing/checkout", "/billing/checkout", Private, Form),
    r("GET", "/billing/success", "/billing/success?session_id=cs_test_nosuchsession", Private, Nothing),
    r("POST", "/billing/portal", "/billing/portal", Private, Form),
    r("POST", "/api/stripe/webhook", "/api/stripe/webhook", Webhook, Json),
    r("POST", "/api/debug/rate-limit/:policy", "/api/debug/rate-limit/pages", Debug, Nothing),
    r("GET", "/tools/agentwrite", "/tools/agentwrite", Private, Nothing),
    r("POST", "/tools/agentwrite", "/tools/agentwrite", Private, Form),
    r("POST", "/api/tools/agentwrite/stream", "/api/tools/agentwrite/stream", Private, Form),
    r("GET", "/tools/agentwrite/:id", "/tools/agentwrite/{gen}", Private, Nothing),
    r("GET", "/tools/agentwrite/:id/download", "/tools/agentwrite/{gen}/download", Private, Nothing),
    r("POST", "/tools/agentwrite/:id/delete", "/tools/agentwrite/{gen}/delete", Private, Form),
    r("GET", "/tools/podscribe", "/tools/podscribe", Private, Nothing),
    r("POST", "/tools/podscribe", "/tools/podscribe", Private, Multipart),
    r("POST", "/api/tools/podscribe/upload", "/api/tools/podscribe/upload", Private, Multipart),
    r("GET", "/tools/podscribe/:id", "/tools/podscribe/{tr}", Private, Nothing),
    r("POST", "/tools/podscribe/:id/notes", "/tools/podscribe/{tr}/notes", Private, Form),
    r("POST", "/tools/podscribe/:id/delete", "/tools/podscribe/{tr}/delete", Private, Form),
    r("GET", "/tools/podscribe/:id/:file", "/tools/podscribe/{tr}/transcript.srt", Private, Nothing),
    r("GET", "/history", "/history", Private, Nothing),
];

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

    /// A POST that must carry the CSRF token (every form; not Stripe's webhook, nor the debug
    /// limiter check, which has no body and spends only the caller's own quota).
    pub fn needs_csrf(&self) -> bool {
        self.is_post() && matches!(self.sends, Form | Multipart)
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
    reqwest::Client::builder()
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
