//! The landing page and error pages.

use crate::support::Stack;
use crate::trials;
use libtest_mimic::Trial;
use serde_json::Value;

pub fn tests() -> Vec<Trial> {
    trials![
        the_landing_page_presents_agentwrite_and_podscribe,
        an_unknown_page_is_a_404_page_in_the_site_layout,
        an_unknown_api_path_is_a_json_404,
        a_wrong_method_on_a_known_path_is_a_405,
    ]
}

async fn the_landing_page_presents_agentwrite_and_podscribe(s: &'static Stack) {
    let res = s.get("/").await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "text/html; charset=utf-8");
    let html = res.text().await.unwrap();
    for needle in [
        "<html lang=\"en\">",
        "AgentWrite",
        "PodScribe",
        "id=\"pricing\"",
        "name=\"viewport\"",
        "href=\"#main\"",
    ] {
        assert!(html.contains(needle), "landing page lacks {needle}");
    }
}

async fn an_unknown_page_is_a_404_page_in_the_site_layout(s: &'static Stack) {
    let res = s.get("/no/such/page").await;
    assert_eq!(res.status(), 404);
    assert!(res.headers().contains_key("x-request-id"));
    let html = res.text().await.unwrap();
    assert!(html.contains("Page not found"));
    assert!(html.contains("class=\"site-header\""), "404 page should use the layout");
}

async fn an_unknown_api_path_is_a_json_404(s: &'static Stack) {
    let res = s.get("/api/no-such-thing").await;
    assert_eq!(res.status(), 404);
    let request_id = res.headers()["x-request-id"].to_str().unwrap().to_string();
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "not_found");
    assert_eq!(body["error"]["request_id"], request_id);
}

async fn a_wrong_method_on_a_known_path_is_a_405(s: &'static Stack) {
    let res = s.http.post(s.url("/api/health")).send().await.unwrap();
    assert_eq!(res.status(), 405);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "method_not_allowed");
}
