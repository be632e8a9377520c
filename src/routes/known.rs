//! The route table as data: every route's method and path, for what `app::route`'s match cannot
//! say by itself — which methods a known path allows (a 405 names them in `Allow`; OPTIONS
//! answers with them) — and for the security tests, which walk every route. A unit test keeps
//! this list and the match in `app.rs` in step.

/// One route. GET routes answer HEAD too. `hidden` routes (the operator console, the debug
/// checks) answer a wrong method with the same 404 as an unknown path, so they are not revealed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    pub method: &'static str,
    /// `/a/b/:id`: a `:name` segment matches any one segment.
    pub path: &'static str,
    pub hidden: bool,
}

const fn get(path: &'static str) -> Route {
    Route { method: "GET", path, hidden: false }
}

const fn post(path: &'static str) -> Route {
    Route { method: "POST", path, hidden: false }
}

const fn hidden(method: &'static str, path: &'static str) -> Route {
    Route { method, path, hidden: true }
}

pub const ROUTES: &[Route] = &[
    get("/"),
    get("/terms"),
    get("/privacy"),
    get("/refer"),
    post("/refer/join"),
    hidden("GET", "/admin"),
    hidden("POST", "/admin/grant"),
    hidden("GET", "/admin/users/:id"),
    hidden("POST", "/admin/users/:id/deduct"),
    hidden("POST", "/admin/users/:id/suspend"),
    hidden("POST", "/admin/users/:id/restore"),
    hidden("POST", "/admin/events/:id/replay"),
    hidden("GET", "/debug/error/:status"),
    get("/dashboard"),
    post("/signout"),
    get("/account"),
    post("/account/signout-everywhere"),
    post("/account/delete"),
    post("/account/google/unlink"),
    post("/account/export"),
    post("/account/email"),
    get("/account/email/confirm"),
    post("/account/email/confirm"),
    post("/account/sessions/:id/end"),
    get("/signin"),
    post("/signin"),
    get("/signin/confirm"),
    post("/signin/confirm"),
    post("/signin/google"),
    get("/signin/google/callback"),
    get("/api/health"),
    hidden("GET", "/api/debug/error"),
    hidden("GET", "/api/debug/memory"),
    get("/pricing"),
    get("/billing"),
    post("/billing/checkout"),
    get("/billing/success"),
    post("/billing/portal"),
    post("/api/stripe/webhook"),
    hidden("POST", "/api/debug/rate-limit/:policy"),
    get("/tools/agentwrite"),
    post("/tools/agentwrite"),
    post("/api/tools/agentwrite/stream"),
    get("/tools/agentwrite/:id"),
    get("/tools/agentwrite/:id/download"),
    post("/tools/agentwrite/:id/delete"),
    get("/tools/podscribe"),
    post("/tools/podscribe"),
    post("/api/tools/podscribe/upload"),
    get("/tools/podscribe/:id"),
    post("/tools/podscribe/:id/notes"),
    post("/tools/podscribe/:id/delete"),
    get("/tools/podscribe/:id/:file"),
    get("/history"),
];

impl Route {
    /// Whether the path's segments (as `app::route` splits them) fit this route.
    pub fn matches(&self, segments: &[&str]) -> bool {
        let own: Vec<&str> = self.path.trim_matches('/').split('/').collect();
        own.len() == segments.len() && own.iter().zip(segments).all(|(p, s)| p.starts_with(':') || p == s)
    }
}

/// The `Allow` value for a path no route took with its method: `None` for an unknown (or
/// hidden) path, which is a 404.
pub fn allowed(segments: &[&str]) -> Option<String> {
    let fits = |m: &str| ROUTES.iter().any(|r| !r.hidden && r.method == m && r.matches(segments));
    let mut methods = Vec::new();
    if fits("GET") {
        methods.extend(["GET", "HEAD"]);
    }
    if fits("POST") {
        methods.push("POST");
    }
    if methods.is_empty() {
        return None;
    }
    methods.push("OPTIONS");
    Some(methods.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segments(path: &str) -> Vec<&str> {
        path.trim_matches('/').split('/').collect()
    }

    /// `(Get, ["tools", "agentwrite", id]) =>` in app.rs becomes ("GET", "/tools/agentwrite/:id").
    fn arms_of_app_rs() -> Vec<(String, String)> {
        let source = include_str!("../app.rs");
        let mut arms = Vec::new();
        for line in source.lines().map(str::trim) {
            let Some(rest) = line.strip_prefix("(Get, [").or_else(|| line.strip_prefix("(Post, [")) else {
                continue;
            };
            let method = if line.starts_with("(Get") { "GET" } else { "POST" };
            let inside = rest.split(']').next().unwrap_or("");
            let parts: Vec<String> = inside
                .split(',')
                .map(str::trim)
                .map(|p| match p.strip_prefix('"').and_then(|p| p.strip_suffix('"')) {
                    Some(literal) => literal.to_string(),
                    None => format!(":{p}"),
                })
                .collect();
            arms.push((method.to_string(), format!("/{}", parts.join("/"))));
        }
        arms
    }

    #[test]
    fn the_list_names_exactly_the_routes_app_rs_dispatches() {
        let arms = arms_of_app_rs();
        assert!(arms.len() > 30, "the parser found the arms: {arms:?}");
        let listed: Vec<(String, String)> =
            ROUTES.iter().map(|r| (r.method.to_string(), r.path.to_string())).collect();
        assert_eq!(arms, listed, "src/routes/known.rs must list app.rs's routes, in order");
    }

    #[test]
    fn a_known_path_names_its_methods_and_hidden_or_unknown_ones_none() {
        assert_eq!(allowed(&segments("/api/health")).as_deref(), Some("GET, HEAD, OPTIONS"));
        assert_eq!(allowed(&segments("/signin")).as_deref(), Some("GET, HEAD, POST, OPTIONS"));
        assert_eq!(allowed(&segments("/signout")).as_deref(), Some("POST, OPTIONS"));
        assert_eq!(allowed(&segments("/tools/agentwrite/abc")).as_deref(), Some("GET, HEAD, OPTIONS"));
        assert_eq!(
            allowed(&segments("/tools/podscribe/abc/delete")).as_deref(),
            Some("GET, HEAD, POST, OPTIONS")
        );
        assert_eq!(allowed(&segments("/")).as_deref(), Some("GET, HEAD, OPTIONS"));
        for path in
            ["/admin", "/admin/grant", "/api/debug/error", "/debug/error/500", "/nope", "/tools/x/y/z/w"]
        {
            assert_eq!(allowed(&segments(path)), None, "{path}");
        }
    }
}
