//! A local OpenID Connect provider in Google's shape: discovery, JWKS (a real RS256 key, kept
//! under tests/ for tests only), an authorization endpoint that "signs in" the account a test
//! names with `login_as` and redirects back with a code, and a token endpoint that checks the
//! code, client secret, redirect URI and PKCE verifier the way Google does, then answers with a
//! signed ID token. Accounts can ask for a misbehaving token (wrong nonce, audience, …) so the
//! Worker's checks are exercised; every request is recorded.

use crate::recorder::FakeServer;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::pkcs8::DecodePrivateKey;
use rsa::traits::PublicKeyParts;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

pub const CLIENT_ID: &str = "e2e-client.apps.googleusercontent.test";
pub const CLIENT_SECRET: &str = "e2e-google-client-secret";
pub const KID: &str = "e2e-key-1";
const KEY_PEM: &str = include_str!("google-test-key.pem");
const OTHER_KEY_PEM: &str = include_str!("google-other-test-key.pem");

/// How the ID token for an account deviates from a correct one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Tweak {
    #[default]
    None,
    WrongNonce,
    WrongAudience,
    WrongIssuer,
    Expired,
    /// Signed by another key under the same `kid`.
    OtherKey,
}

/// A Google account a test can sign in as.
#[derive(Clone, Debug)]
pub struct Account {
    pub sub: String,
    pub email: String,
    pub email_verified: bool,
    pub name: Option<String>,
    pub tweak: Tweak,
}

impl Account {
    pub fn new(email: &str) -> Account {
        static N: AtomicU64 = AtomicU64::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        Account {
            sub: format!("1{:019}{n}", std::process::id()),
            email: email.to_string(),
            email_verified: true,
            name: Some("Test Person".into()),
            tweak: Tweak::None,
        }
    }
}

struct Grant {
    account: Account,
    nonce: String,
    challenge: String,
    redirect_uri: String,
}

#[derive(Default)]
struct Inner {
    accounts: HashMap<String, Account>,
    grants: HashMap<String, Grant>,
    next: u64,
}

#[derive(Clone)]
struct Shared {
    inner: Arc<Mutex<Inner>>,
    issuer: Arc<Mutex<String>>,
    /// `make dev`'s stand-in: without `login_as`, a page asks who signs in.
    chooser: bool,
}

pub struct GoogleFake {
    pub server: FakeServer,
    shared: Shared,
}

impl GoogleFake {
    pub async fn start() -> GoogleFake {
        GoogleFake::start_on(0, false).await
    }

    /// On `port` (0: a free one); `chooser`: a sign-in page asks for the account (the stand-in).
    pub async fn start_on(port: u16, chooser: bool) -> GoogleFake {
        let shared = Shared { inner: Arc::default(), issuer: Arc::default(), chooser };
        let router = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/oauth2/v3/certs", get(jwks))
            .route("/o/oauth2/v2/auth", get(authorize))
            .route("/token", post(token))
            .with_state(shared.clone());
        let server = FakeServer::start_on("google", router, port).await;
        *shared.issuer.lock().unwrap() = server.url();
        GoogleFake { server, shared }
    }

    pub fn issuer(&self) -> String {
        self.server.url()
    }

    /// Registers an account; pass the returned key as `login_as` to the authorize URL.
    pub fn add_account(&self, account: Account) -> String {
        let mut inner = self.shared.inner.lock().unwrap();
        inner.next += 1;
        let key = format!("acct{}", inner.next);
        inner.accounts.insert(key.clone(), account);
        key
    }

    /// The token requests received (form fields), newest last.
    pub fn token_requests(&self) -> Vec<Vec<(String, String)>> {
        self.server.recorder.matching(|r| r.path == "/token").iter().map(|r| r.form()).collect()
    }
}

fn issuer(s: &Shared) -> String {
    s.issuer.lock().unwrap().clone()
}

async fn discovery(State(s): State<Shared>) -> Json<Value> {
    let iss = issuer(&s);
    Json(json!({
        "issuer": iss,
        "authorization_endpoint": format!("{iss}/o/oauth2/v2/auth"),
        "token_endpoint": format!("{iss}/token"),
        "jwks_uri": format!("{iss}/oauth2/v3/certs"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "code_challenge_methods_supported": ["plain", "S256"],
    }))
}

async fn jwks() -> Json<Value> {
    let key = rsa::RsaPrivateKey::from_pkcs8_pem(KEY_PEM).expect("test key");
    let public = key.to_public_key();
    Json(json!({ "keys": [{
        "kty": "RSA", "alg": "RS256", "use": "sig", "kid": KID,
        "n": URL_SAFE_NO_PAD.encode(public.n().to_bytes_be()),
        "e": URL_SAFE_NO_PAD.encode(public.e().to_bytes_be()),
    }]}))
}

/// The stand-in's account for `email`: the same `sub` each time, as Google's is.
fn chosen_account(s: &Shared, email: &str, name: &str) -> String {
    let email = email.trim().to_ascii_lowercase();
    let digest = Sha256::digest(email.as_bytes());
    let sub: String = digest.iter().take(10).map(|b| format!("{:02}", b % 100)).collect();
    let key = format!("chosen-{}", &sub[..12]);
    let account = Account {
        sub: format!("1{sub}"),
        email,
        email_verified: true,
        name: Some(name.trim().to_string()).filter(|n| !n.is_empty()),
        tweak: Tweak::None,
    };
    s.inner.lock().unwrap().accounts.insert(key.clone(), account);
    key
}

fn oauth_error(code: &str) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({ "error": code }))).into_response()
}

async fn authorize(State(s): State<Shared>, Query(q): Query<HashMap<String, String>>) -> Response {
    let field = |k: &str| q.get(k).cloned().unwrap_or_default();
    if field("client_id") != CLIENT_ID || field("response_type") != "code" {
        return oauth_error("invalid_request");
    }
    if field("code_challenge_method") != "S256" || field("code_challenge").is_empty() {
        return oauth_error("invalid_request");
    }
    if !field("scope").split(' ').any(|s| s == "openid") {
        return oauth_error("invalid_scope");
    }
    if s.chooser && field("login_as").is_empty() {
        return match q.get("email").filter(|e| e.contains('@')) {
            Some(email) => {
                let key = chosen_account(&s, email, &field("name"));
                let mut to =
                    url::Url::parse(&format!("{}/o/oauth2/v2/auth", issuer(&s))).expect("issuer URL");
                to.query_pairs_mut().extend_pairs(q.iter().filter(|(k, _)| *k != "email" && *k != "name"));
                to.query_pairs_mut().append_pair("login_as", &key);
                Redirect::to(to.as_str()).into_response()
            }
            None => Html(crate::google_page::chooser(&q)).into_response(),
        };
    }
    let mut inner = s.inner.lock().unwrap();
    let Some(account) = inner.accounts.get(&field("login_as")).cloned() else {
        return (StatusCode::BAD_REQUEST, "no such test account (login_as)").into_response();
    };
    inner.next += 1;
    let code = format!("4/code-{}-{}", inner.next, std::process::id());
    let grant = Grant {
        account,
        nonce: field("nonce"),
        challenge: field("code_challenge"),
        redirect_uri: field("redirect_uri"),
    };
    inner.grants.insert(code.clone(), grant);
    let mut back = url::Url::parse(&field("redirect_uri")).expect("redirect_uri");
    back.query_pairs_mut().append_pair("state", &field("state")).append_pair("code", &code);
    Redirect::to(back.as_str()).into_response()
}

async fn token(State(s): State<Shared>, Form(f): Form<HashMap<String, String>>) -> Response {
    let field = |k: &str| f.get(k).cloned().unwrap_or_default();
    if field("grant_type") != "authorization_code" {
        return oauth_error("unsupported_grant_type");
    }
    if field("client_id") != CLIENT_ID || field("client_secret") != CLIENT_SECRET {
        return (StatusCode::UNAUTHORIZED, Json(json!({ "error": "invalid_client" }))).into_response();
    }
    // A code works once.
    let Some(grant) = s.inner.lock().unwrap().grants.remove(&field("code")) else {
        return oauth_error("invalid_grant");
    };
    let verifier_hash = URL_SAFE_NO_PAD.encode(Sha256::digest(field("code_verifier").as_bytes()));
    if grant.redirect_uri != field("redirect_uri") || verifier_hash != grant.challenge {
        return oauth_error("invalid_grant");
    }
    let iss = issuer(&s);
    let now = crate::now_secs();
    let a = &grant.account;
    let mut claims = json!({
        "iss": iss, "azp": CLIENT_ID, "aud": CLIENT_ID, "sub": a.sub,
        "email": a.email, "email_verified": a.email_verified,
        "nonce": grant.nonce, "iat": now, "exp": now + 3600,
    });
    if let Some(name) = &a.name {
        claims["name"] = json!(name);
    }
    let mut pem = KEY_PEM;
    match a.tweak {
        Tweak::None => {}
        Tweak::WrongNonce => claims["nonce"] = json!("not-the-nonce-you-sent"),
        Tweak::WrongAudience => claims["aud"] = json!("someone-else.apps.googleusercontent.test"),
        Tweak::WrongIssuer => claims["iss"] = json!("https://evil.example"),
        Tweak::Expired => {
            claims["iat"] = json!(now - 7200);
            claims["exp"] = json!(now - 3600);
        }
        Tweak::OtherKey => pem = OTHER_KEY_PEM,
    }
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = Some(KID.into());
    let der = rsa::RsaPrivateKey::from_pkcs8_pem(pem).expect("test key").to_pkcs1_der().expect("pkcs1 der");
    let key = jsonwebtoken::EncodingKey::from_rsa_der(der.as_bytes());
    let id_token = jsonwebtoken::encode(&header, &claims, &key).expect("sign id token");
    Json(json!({
        "access_token": "ya29.e2e-access-token",
        "expires_in": 3599,
        "token_type": "Bearer",
        "scope": "openid https://www.googleapis.com/auth/userinfo.email https://www.googleapis.com/auth/userinfo.profile",
        "id_token": id_token,
    }))
    .into_response()
}
