//! Security headers on every response.

use crate::support::Stack;
use crate::trials;
use libtest_mimic::Trial;

pub fn tests() -> Vec<Trial> {
    trials![
        every_response_carries_the_security_headers,
        each_page_gets_a_fresh_nonce_that_its_scripts_carry,
        static_assets_are_served_with_nosniff_and_a_strict_policy,
    ]
}

fn csp_nonce(res: &reqwest::Response) -> String {
    let csp = res.headers()["content-security-policy"].to_str().unwrap();
    let start = csp.find("'nonce-").expect("nonce in CSP") + 7;
    csp[start..].split('\'').next().unwrap().to_string()
}

async fn every_response_carries_the_security_headers(s: &'static Stack) {
    for path in ["/", "/api/health", "/missing", "/api/missing"] {
        let res = s.get(path).await;
        let h = res.headers();
        let csp = h["content-security-policy"].to_str().unwrap();
        for part in ["object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'", "script-src 'nonce-"] {
            assert!(csp.contains(part), "{path}: CSP lacks {part}: {csp}");
        }
        assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"), "{path}: {csp}");
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(h["referrer-policy"], "strict-origin-when-cross-origin", "{path}");
        assert!(h["permissions-policy"].to_str().unwrap().contains("camera=()"), "{path}");
        // Framing is refused by the CSP's frame-ancestors, which replaced X-Frame-Options.
        assert!(!h.contains_key("x-frame-options"), "{path}");
        // The test site is plain http: HSTS would be wrong there.
        assert!(!h.contains_key("strict-transport-security"), "{path}");
    }
}

async fn each_page_gets_a_fresh_nonce_that_its_scripts_carry(s: &'static Stack) {
    let first = s.get("/").await;
    let second = s.get("/").await;
    let (n1, n2) = (csp_nonce(&first), csp_nonce(&second));
    assert_ne!(n1, n2, "nonce reused across requests");
    assert!(n1.len() >= 22, "nonce too short: {n1}");
    let html = first.text().await.unwrap();
    let scripts = html.matches("<script").count();
    assert!(scripts >= 1);
    assert_eq!(
        html.matches(&format!("<script nonce=\"{n1}\"")).count(),
        scripts,
        "every script carries the nonce"
    );
}

async fn static_assets_are_served_with_nosniff_and_a_strict_policy(s: &'static Stack) {
    let res = s.get("/app.css").await;
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/css"));
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");
    assert!(res.headers()["content-security-policy"].to_str().unwrap().contains("default-src 'none'"));
}
