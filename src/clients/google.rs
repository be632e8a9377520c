//! Google's OpenID Connect endpoints over fetch: discovery (`{issuer}/.well-known/
//! openid-configuration`), the token endpoint (code + PKCE verifier → ID token) and the JWKS.
//! The issuer comes from configuration (`GOOGLE_ISSUER`), so tests use a local provider.
//! Discovery and keys are kept per isolate for a while (they change rarely; an unknown `kid`
//! refreshes the keys once).

use crate::error::AppError;
use serde::Deserialize;
use std::cell::RefCell;
use std::collections::HashMap;
use std::time::Duration;
use worker::{Headers, Method, Request, RequestInit};

const CACHE_MS: u64 = 60 * 60 * 1000;
const TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, Deserialize)]
pub struct Discovery {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub jwks_uri: String,
}

/// The provider's signing keys (`jwks_uri`): only what RS256 needs is read.
#[derive(Debug, Clone, Deserialize)]
pub struct Jwks {
    pub keys: Vec<Jwk>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Jwk {
    #[serde(default)]
    pub kid: Option<String>,
    pub kty: String,
    /// Modulus and exponent, base64url (RFC 7518 §6.3.1).
    #[serde(default)]
    pub n: Option<String>,
    #[serde(default)]
    pub e: Option<String>,
}

/// An RSA public key as the JWKS gives it (base64url modulus and exponent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RsaKey {
    pub n: String,
    pub e: String,
}

#[derive(Deserialize)]
struct TokenResponse {
    id_token: Option<String>,
    #[serde(default)]
    error: Option<String>,
}

thread_local! {
    static DISCOVERY: RefCell<HashMap<String, (u64, Discovery)>> = RefCell::new(HashMap::new());
    static KEYS: RefCell<HashMap<String, (u64, Jwks)>> = RefCell::new(HashMap::new());
}

fn upstream(detail: impl std::fmt::Display) -> AppError {
    AppError::Upstream { service: "google", detail: detail.to_string() }
}

pub async fn discover(issuer: &str, now_ms: u64) -> Result<Discovery, AppError> {
    let cached = DISCOVERY.with(|c| c.borrow().get(issuer).filter(|(t, _)| now_ms < t + CACHE_MS).cloned());
    if let Some((_, d)) = cached {
        return Ok(d);
    }
    let url = format!("{issuer}/.well-known/openid-configuration");
    let (status, body) = send(Method::Get, &url, None).await?;
    if status != 200 {
        return Err(upstream(format!("discovery answered {status}")));
    }
    let d: Discovery = serde_json::from_str(&body).map_err(|e| upstream(format!("discovery: {e}")))?;
    DISCOVERY.with(|c| c.borrow_mut().insert(issuer.to_string(), (now_ms, d.clone())));
    Ok(d)
}

/// The provider's signing keys; `refresh` skips the cache (after an unknown `kid`).
pub async fn keys(d: &Discovery, now_ms: u64, refresh: bool) -> Result<Jwks, AppError> {
    let cached = KEYS.with(|c| c.borrow().get(&d.jwks_uri).filter(|(t, _)| now_ms < t + CACHE_MS).cloned());
    if let (Some((_, keys)), false) = (cached, refresh) {
        return Ok(keys);
    }
    let (status, body) = send(Method::Get, &d.jwks_uri, None).await?;
    if status != 200 {
        return Err(upstream(format!("jwks answered {status}")));
    }
    let keys: Jwks = serde_json::from_str(&body).map_err(|e| upstream(format!("jwks: {e}")))?;
    KEYS.with(|c| c.borrow_mut().insert(d.jwks_uri.clone(), (now_ms, keys.clone())));
    Ok(keys)
}

/// What the token request carries (RFC 6749 §4.1.3 with the PKCE verifier, RFC 7636 §4.5).
pub struct CodeExchange<'a> {
    pub code: &'a str,
    pub redirect_uri: &'a str,
    pub client_id: &'a str,
    pub client_secret: &'a str,
    pub code_verifier: &'a str,
}

/// Trades the authorization code for the ID token.
pub async fn exchange_code(d: &Discovery, x: &CodeExchange<'_>) -> Result<String, AppError> {
    let body: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("grant_type", "authorization_code")
        .append_pair("code", x.code)
        .append_pair("redirect_uri", x.redirect_uri)
        .append_pair("client_id", x.client_id)
        .append_pair("client_secret", x.client_secret)
        .append_pair("code_verifier", x.code_verifier)
        .finish();
    let (status, text) = send(Method::Post, &d.token_endpoint, Some(body)).await?;
    let parsed: Option<TokenResponse> = serde_json::from_str(&text).ok();
    match (status, parsed) {
        (200, Some(TokenResponse { id_token: Some(t), .. })) => Ok(t),
        (_, Some(TokenResponse { error: Some(e), .. })) => {
            Err(upstream(format!("token endpoint {status}: {e}")))
        }
        _ => Err(upstream(format!("token endpoint answered {status} without an id_token"))),
    }
}

async fn send(method: Method, url: &str, form: Option<String>) -> Result<(u16, String), AppError> {
    let headers = Headers::new();
    headers.set("Accept", "application/json").map_err(upstream)?;
    let mut init = RequestInit::new();
    init.with_method(method);
    if let Some(form) = form {
        headers.set("Content-Type", "application/x-www-form-urlencoded").map_err(upstream)?;
        init.with_body(Some(form.into()));
    }
    init.with_headers(headers);
    let request = Request::new_with_init(url, &init).map_err(upstream)?;
    // Bounded: the sign-in page waits on discovery, and a visitor must not wait on a hung provider.
    let answer = crate::fetch::fetch(request, TIMEOUT).await.map_err(|e| upstream(format!("{url}: {e}")))?;
    Ok((answer.status, answer.body))
}
