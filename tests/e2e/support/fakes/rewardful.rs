//! A fake Rewardful on 127.0.0.1: the REST API (HTTP Basic with the API secret as the user and
//! an empty password; form-encoded bodies; JSON answers and `{"error", "details"}` errors;
//! lists as `{"pagination": {...}, "data": [...]}`) for affiliates and commissions, and the
//! browser script `rw.js`: it sets `window.Rewardful.referral` (a referral created when the
//! visitor arrives with `?via=<token>`, kept in the `rewardful.referral` cookie) and runs the
//! `rewardful('ready', fn)` callbacks queued by the page's snippet. Every request is recorded.

use super::recorder::{FakeServer, Recorded};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};

pub const API_KEY: &str = "rewd_e2e_secret_0123456789";
pub const PUBLIC_ID: &str = "e2e0pub";
/// An affiliate every stack has, for visitors arriving through a link (`/?via=partner`).
pub const PARTNER_TOKEN: &str = "partner";

#[derive(Default)]
struct State_ {
    n: u64,
    /// The site links point to (the Worker's origin).
    campaign_url: String,
    affiliates: BTreeMap<String, Value>,
    commissions: Vec<Value>,
    /// Referral id → affiliate id.
    referrals: HashMap<String, String>,
    /// Affiliates whose reads fail with a 500 (an outage, for one test's affiliate only).
    failing: HashSet<String>,
}

type Shared = Arc<Mutex<State_>>;

pub struct RewardfulFake {
    pub server: FakeServer,
    state: Shared,
}

fn uuid(n: u64, kind: u8) -> String {
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        n as u32 ^ 0x5eed_0000,
        kind as u32,
        n & 0xfff,
        (n >> 12) & 0xfff,
        n
    )
}

fn api_error(status: u16, error: &str, details: &[&str]) -> Response {
    let mut body = json!({ "error": error });
    if !details.is_empty() {
        body["details"] = json!(details);
    }
    (StatusCode::from_u16(status).unwrap(), Json(body)).into_response()
}

fn authorized(headers: &HeaderMap) -> bool {
    use base64::Engine;
    let expected =
        format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{API_KEY}:")));
    headers.get("authorization").and_then(|v| v.to_str().ok()) == Some(expected.as_str())
}

fn list(data: Vec<Value>) -> Value {
    let count = data.len();
    json!({
        "pagination": { "previous_page": null, "current_page": 1, "next_page": null, "count": count,
                        "limit": 100, "total_pages": 1, "total_count": count },
        "data": data,
    })
}

impl RewardfulFake {
    pub async fn start() -> RewardfulFake {
        let state: Shared = Arc::default();
        let router = Router::new()
            .route("/v1/affiliates", post(create_affiliate).get(list_affiliates))
            .route("/v1/affiliates/{id}", get(get_affiliate))
            .route("/v1/commissions", get(list_commissions))
            .route("/rw.js", get(script))
            .route("/referrals", post(track_visit).options(preflight))
            .with_state(state.clone());
        let server = FakeServer::start("rewardful", router).await;
        let fake = RewardfulFake { server, state };
        fake.add_affiliate("Pat", "Partner", "partner@affiliates.test", PARTNER_TOKEN);
        fake
    }

    pub fn url(&self) -> String {
        self.server.url()
    }

    pub fn script_url(&self) -> String {
        format!("{}/rw.js", self.server.url())
    }

    /// Where affiliate links point (the site).
    pub fn set_campaign_url(&self, url: String) {
        self.state.lock().unwrap().campaign_url = url;
    }

    /// An affiliate made outside our app (in Rewardful's own dashboard); answers its id.
    pub fn add_affiliate(&self, first: &str, last: &str, email: &str, token: &str) -> String {
        let mut st = self.state.lock().unwrap();
        insert_affiliate(&mut st, first, last, email, Some(token))["id"].as_str().unwrap().to_string()
    }

    pub fn affiliate(&self, id: &str) -> Value {
        self.state.lock().unwrap().affiliates.get(id).cloned().unwrap_or(Value::Null)
    }

    /// Sets an affiliate's visitor, lead and conversion counts (and its link's).
    pub fn set_stats(&self, id: &str, visitors: i64, leads: i64, conversions: i64) {
        let mut st = self.state.lock().unwrap();
        let a = st.affiliates.get_mut(id).expect("affiliate exists");
        for (k, v) in [("visitors", visitors), ("leads", leads), ("conversions", conversions)] {
            a[k] = json!(v);
            a["links"][0][k] = json!(v);
        }
    }

    /// A commission for the affiliate: `amount` in cents, `state` pending | due | paid | voided.
    pub fn add_commission(&self, affiliate_id: &str, amount: i64, currency: &str, state: &str) {
        let mut st = self.state.lock().unwrap();
        st.n += 1;
        let id = uuid(st.n, 3);
        let affiliate = st.affiliates.get(affiliate_id).cloned().unwrap_or(Value::Null);
        let n = st.n;
        st.commissions.push(json!({
            "id": id, "created_at": "2026-05-01T10:00:00.000Z", "updated_at": "2026-05-01T10:00:00.000Z",
            "amount": amount, "currency": currency, "state": state, "due_at": null, "paid_at": null, "voided_at": null,
            "campaign": { "id": "c0ffee00-0000-4000-8000-000000000001", "name": "GhostTools partners" },
            "sale": { "id": uuid(n, 4), "currency": currency, "charge_amount_cents": amount * 5,
                      "referral": { "id": uuid(n, 5), "conversion_state": "conversion" },
                      "affiliate": { "id": affiliate_id, "email": affiliate["email"] } },
        }));
    }

    /// Reads of this affiliate answer 500 from now on.
    pub fn fail_reads_of(&self, affiliate_id: &str) {
        self.state.lock().unwrap().failing.insert(affiliate_id.to_string());
    }

    /// The affiliate a referral id (as `Rewardful.referral` showed it) belongs to.
    pub fn affiliate_of_referral(&self, referral: &str) -> Option<String> {
        self.state.lock().unwrap().referrals.get(referral).cloned()
    }

    pub fn requests(&self, pred: impl Fn(&Recorded) -> bool) -> Vec<Recorded> {
        self.server.recorder.matching(pred)
    }
}

fn insert_affiliate(st: &mut State_, first: &str, last: &str, email: &str, token: Option<&str>) -> Value {
    st.n += 1;
    let (id, link_id) = (uuid(st.n, 1), uuid(st.n, 2));
    let token = token
        .map(str::to_string)
        .unwrap_or_else(|| format!("{}{}", first.to_lowercase().replace(' ', "-"), st.n));
    let base = if st.campaign_url.is_empty() {
        "https://ghosttools.example".to_string()
    } else {
        st.campaign_url.clone()
    };
    let affiliate = json!({
        "id": id, "created_at": "2026-05-01T10:00:00.000Z", "updated_at": "2026-05-01T10:00:00.000Z",
        "first_name": first, "last_name": last, "email": email, "paypal_email": null, "state": "active",
        "stripe_customer_id": null, "stripe_account_id": null, "visitors": 0, "leads": 0, "conversions": 0,
        "campaign": { "id": "c0ffee00-0000-4000-8000-000000000001", "created_at": "2026-01-01T00:00:00.000Z",
                      "updated_at": "2026-01-01T00:00:00.000Z", "name": "GhostTools partners" },
        "links": [ { "id": link_id, "url": format!("{base}/?via={token}"), "token": token,
                     "visitors": 0, "leads": 0, "conversions": 0 } ],
    });
    st.affiliates.insert(id, affiliate.clone());
    affiliate
}

async fn create_affiliate(State(state): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    if !authorized(&headers) {
        return api_error(401, "Invalid API Secret.", &[]);
    }
    let form: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    let field = |k: &str| form.get(k).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
    let mut details = Vec::new();
    for (k, label) in [("first_name", "First name"), ("last_name", "Last name"), ("email", "Email")] {
        if field(k).is_none() {
            details.push(format!("{label} can't be blank"));
        }
    }
    let mut st = state.lock().unwrap();
    if let Some(email) = field("email") {
        if st.affiliates.values().any(|a| a["email"].as_str().is_some_and(|e| e.eq_ignore_ascii_case(&email)))
        {
            details.push("Email has already been taken".to_string());
        }
    }
    if !details.is_empty() {
        let details: Vec<&str> = details.iter().map(String::as_str).collect();
        return api_error(422, "Validation failed", &details);
    }
    let (first, last, email) =
        (field("first_name").unwrap(), field("last_name").unwrap(), field("email").unwrap());
    Json(insert_affiliate(&mut st, &first, &last, &email, None)).into_response()
}

async fn list_affiliates(
    State(state): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if !authorized(&headers) {
        return api_error(401, "Invalid API Secret.", &[]);
    }
    let st = state.lock().unwrap();
    let data = st
        .affiliates
        .values()
        .filter(|a| {
            q.get("email").is_none_or(|e| a["email"].as_str().is_some_and(|x| x.eq_ignore_ascii_case(e)))
        })
        .cloned()
        .collect();
    Json(list(data)).into_response()
}

async fn get_affiliate(State(state): State<Shared>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    if !authorized(&headers) {
        return api_error(401, "Invalid API Secret.", &[]);
    }
    let st = state.lock().unwrap();
    if st.failing.contains(&id) {
        return api_error(500, "Internal server error (fake outage).", &[]);
    }
    match st.affiliates.get(&id) {
        Some(a) => Json(a.clone()).into_response(),
        None => api_error(404, &format!("Affiliate not found: {id}"), &[]),
    }
}

async fn list_commissions(
    State(state): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if !authorized(&headers) {
        return api_error(401, "Invalid API Secret.", &[]);
    }
    let st = state.lock().unwrap();
    if q.get("affiliate_id").is_some_and(|id| st.failing.contains(id)) {
        return api_error(500, "Internal server error (fake outage).", &[]);
    }
    let data = st
        .commissions
        .iter()
        .filter(|c| q.get("affiliate_id").is_none_or(|id| c["sale"]["affiliate"]["id"] == json!(id)))
        .cloned()
        .collect();
    Json(list(data)).into_response()
}

/// A visit through an affiliate link: `{"token": "..."}` (sent as text/plain, a simple CORS
/// request) → `{"id": <referral id>}`, counted as a visitor of that affiliate.
async fn track_visit(State(state): State<Shared>, body: String) -> Response {
    let token =
        serde_json::from_str::<Value>(&body).ok().and_then(|v| v["token"].as_str().map(str::to_string));
    let mut st = state.lock().unwrap();
    let found = st
        .affiliates
        .iter()
        .find(|(_, a)| token.as_deref().is_some_and(|t| a["links"][0]["token"] == t))
        .map(|(id, _)| id.clone());
    let Some(affiliate_id) = found else {
        return ([("access-control-allow-origin", "*")], Json(json!({ "id": null }))).into_response();
    };
    st.n += 1;
    let referral = uuid(st.n, 6);
    st.referrals.insert(referral.clone(), affiliate_id.clone());
    if let Some(a) = st.affiliates.get_mut(&affiliate_id) {
        a["visitors"] = json!(a["visitors"].as_i64().unwrap_or(0) + 1);
        a["links"][0]["visitors"] = json!(a["links"][0]["visitors"].as_i64().unwrap_or(0) + 1);
    }
    ([("access-control-allow-origin", "*")], Json(json!({ "id": referral }))).into_response()
}

async fn preflight() -> Response {
    (
        StatusCode::NO_CONTENT,
        [
            ("access-control-allow-origin", "*"),
            ("access-control-allow-methods", "POST"),
            ("access-control-allow-headers", "content-type"),
        ],
    )
        .into_response()
}

/// The browser script, shaped like Rewardful's: reads the queue the page's snippet made
/// (`window._rwq` names the function), sets `Rewardful`, runs `ready` callbacks (also those
/// registered later), and remembers the referral in a first-party cookie.
async fn script() -> Response {
    const JS: &str = r#"(function () {
  "use strict";
  var me = document.currentScript;
  var host = me ? new URL(me.src).origin : "";
  var name = window._rwq || "rewardful";
  var queued = (window[name] && window[name].q) || [];
  var ready = [];
  var done = false;
  function cookie() {
    var m = document.cookie.match(/(?:^|; )rewardful\.referral=([^;]*)/);
    return m ? decodeURIComponent(m[1]) : "";
  }
  function finish(referral) {
    window.Rewardful = { referral: referral || "", affiliate: null, coupon: null, _fake: true };
    done = true;
    while (ready.length) { try { ready.shift()(); } catch (e) { setTimeout(function () { throw e; }); } }
  }
  window[name] = function (method, fn) {
    if (method === "ready" && typeof fn === "function") { if (done) fn(); else ready.push(fn); }
  };
  for (var i = 0; i < queued.length; i++) window[name].apply(null, queued[i]);
  var via = new URLSearchParams(location.search).get("via");
  if (!via) { finish(cookie()); return; }
  fetch(host + "/referrals", { method: "POST", body: JSON.stringify({ token: via }) })
    .then(function (r) { return r.json(); })
    .then(function (j) {
      if (j.id) document.cookie = "rewardful.referral=" + encodeURIComponent(j.id) + "; path=/; max-age=5184000; samesite=lax";
      finish(j.id || cookie());
    }, function () { finish(cookie()); });
})();
"#;
    ([("content-type", "application/javascript; charset=utf-8"), ("cache-control", "no-store")], JS)
        .into_response()
}
