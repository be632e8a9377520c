//! Sign-in with Google: the authorization code flow with PKCE (S256), `state` and `nonce` kept
//! in a signed short-lived cookie, the code exchanged at the token endpoint, the ID token
//! verified (see `id_token`), and the verified address linked to the user who owns it.

use crate::auth::id_token::{self, Expected, Identity, Rejected};
use crate::auth::oauth_state::{self, Flow};
use crate::clients::google::{self as client, CodeExchange};
use crate::clients::webcrypto::verify_rs256_signature;
use crate::config::GoogleConfig;
use crate::ctx::Ctx;
use crate::domain::{NextPath, User};
use crate::error::AppError;

/// The provider name its linked accounts are stored under.
pub const PROVIDER: &str = crate::db::users::GOOGLE;
pub const CALLBACK_PATH: &str = "/signin/google/callback";

/// Why a callback did not sign anyone in. Shown as a friendly page; the detail is logged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failed {
    /// No flow cookie, or it was tampered with or expired (another browser, a stale tab).
    NoFlow,
    /// The `state` did not match this browser's flow.
    WrongState,
    /// The person cancelled at Google, or Google reported an error.
    Denied(String),
    MissingCode,
    Token(Rejected),
}

/// Google is on when both the client id and secret are configured (404 otherwise).
pub fn config(cx: &Ctx) -> Result<&GoogleConfig, AppError> {
    match &cx.config.google {
        None => Err(AppError::NotFound),
        Some(Err(p)) => Err(p.clone().into()),
        Some(Ok(g)) => Ok(g),
    }
}

pub fn enabled(cx: &Ctx) -> bool {
    matches!(cx.config.google, Some(Ok(_)))
}

/// The origin the sign-in button's form leads to (the discovered authorization endpoint's), for
/// the CSP's `form-action` of the page that shows it. `None` when Google is off, or when the
/// provider can't be reached now: then the button is not shown, as starting would fail anyway.
pub async fn authorization_origin(cx: &Ctx) -> Option<String> {
    thread_local! {
        // After a failed discovery the page skips asking again for a minute: a provider that is
        // down must not slow every sign-in page of this isolate.
        static FAILED_AT: std::cell::Cell<Option<u64>> = const { std::cell::Cell::new(None) };
    }
    const RETRY_AFTER_MS: u64 = 60_000;
    if !enabled(cx) || FAILED_AT.get().is_some_and(|t| cx.now_ms < t + RETRY_AFTER_MS) {
        return None;
    }
    let origin = client::discover(&cx.config.endpoints.google_issuer, cx.now_ms).await.and_then(|d| {
        url::Url::parse(&d.authorization_endpoint)
            .ok()
            .map(|u| u.origin())
            .filter(|o| o.is_tuple())
            .map(|o| o.ascii_serialization())
            .ok_or_else(|| AppError::Upstream {
                service: "google",
                detail: format!("authorization_endpoint {} has no origin", d.authorization_endpoint),
            })
    });
    match origin {
        Ok(origin) => Some(origin),
        Err(e) => {
            FAILED_AT.set(Some(cx.now_ms));
            cx.log("warn", &format!("google sign-in hidden for a minute: {e:?}"));
            None
        }
    }
}

/// Starts a sign-in: sets the flow cookie and returns the provider's authorization URL.
pub async fn begin(cx: &Ctx, next: &NextPath) -> Result<String, AppError> {
    let google = config(cx)?;
    let secret = cx.session_secret()?;
    let discovery = client::discover(&cx.config.endpoints.google_issuer, cx.now_ms).await?;
    let flow = Flow::start(next.as_str(), cx.now_ms / 1000);
    cx.set_cookie(&oauth_state::COOKIE, &oauth_state::encode(secret, &flow));
    let mut url = url::Url::parse(&discovery.authorization_endpoint).map_err(|e| AppError::Upstream {
        service: "google",
        detail: format!("authorization_endpoint: {e}"),
    })?;
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &google.client_id)
        .append_pair("redirect_uri", &redirect_uri(cx)?)
        .append_pair("scope", "openid email profile")
        .append_pair("state", &flow.state)
        .append_pair("nonce", &flow.nonce)
        .append_pair("code_challenge", &flow.code_challenge())
        .append_pair("code_challenge_method", "S256")
        .append_pair("prompt", "select_account");
    Ok(url.into())
}

/// Finishes a sign-in from the callback's query. The flow cookie is cleared in every case.
pub async fn finish(
    cx: &Ctx,
    query: &[(String, String)],
) -> Result<Result<(User, NextPath), Failed>, AppError> {
    let google = config(cx)?;
    let secret = cx.session_secret()?;
    cx.clear_cookie(&oauth_state::COOKIE);
    let param = |name: &str| query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let flow =
        cx.cookie_of(&oauth_state::COOKIE).and_then(|raw| oauth_state::decode(secret, raw, cx.now_ms / 1000));
    let Some(flow) = flow else { return Ok(Err(Failed::NoFlow)) };
    if !param("state").is_some_and(|s| oauth_state::same(s, &flow.state)) {
        return Ok(Err(Failed::WrongState));
    }
    if let Some(error) = param("error") {
        return Ok(Err(Failed::Denied(error.chars().take(64).collect())));
    }
    let Some(code) = param("code").filter(|c| !c.is_empty()) else {
        return Ok(Err(Failed::MissingCode));
    };

    let issuer = &cx.config.endpoints.google_issuer;
    let discovery = client::discover(issuer, cx.now_ms).await?;
    if discovery.issuer.trim_end_matches('/') != issuer.trim_end_matches('/') {
        return Err(AppError::Upstream {
            service: "google",
            detail: format!("discovery names issuer {} instead of {issuer}", discovery.issuer),
        });
    }
    let id_token = client::exchange_code(
        &discovery,
        &CodeExchange {
            code,
            redirect_uri: &redirect_uri(cx)?,
            client_id: &google.client_id,
            client_secret: google.client_secret.expose(),
            code_verifier: &flow.verifier,
        },
    )
    .await?;
    let issuers = accepted_issuers(issuer);
    let expected = Expected {
        issuers: &issuers,
        client_id: &google.client_id,
        nonce: &flow.nonce,
        now_secs: cx.now_ms / 1000,
    };
    let keys = client::keys(&discovery, cx.now_ms, false).await?;
    let unverified = match id_token::open(&id_token, &keys) {
        Err(Rejected::UnknownKey(_)) => {
            // Keys rotate: fetch them again once before giving up.
            let keys = client::keys(&discovery, cx.now_ms, true).await?;
            id_token::open(&id_token, &keys)
        }
        other => other,
    };
    let identity = match unverified {
        Ok(u) => match verify_rs256_signature(&u.key, u.signing_input.as_bytes(), &u.signature).await {
            Ok(verified) => u.accept(verified, &expected),
            Err(e) => Err(Rejected::Malformed(format!("jwk: {e}"))),
        },
        Err(rejected) => Err(rejected),
    };
    let identity = match identity {
        Ok(identity) => identity,
        Err(rejected) => return Ok(Err(Failed::Token(rejected))),
    };
    let user = link(cx, &identity).await?;
    Ok(Ok((user, NextPath::parse_or_default(Some(&flow.next)))))
}

/// The user for a verified Google identity: the one already linked to it, else the one who
/// owns the verified address (linked now), else a new user.
async fn link(cx: &Ctx, identity: &Identity) -> Result<User, AppError> {
    use crate::db::users;
    cx.db()
        .await?
        .transaction(async |db| {
            if let Some(user) = users::find_by_provider(db, PROVIDER, &identity.subject).await? {
                return Ok(user);
            }
            let user = super::account_for(cx, db, &identity.email, identity.name.as_deref()).await?;
            users::link_provider(db, user.id, PROVIDER, &identity.subject, &identity.email).await?;
            Ok(user)
        })
        .await
}

fn redirect_uri(cx: &Ctx) -> Result<String, AppError> {
    Ok(cx.site()?.join(CALLBACK_PATH))
}

/// Google's ID tokens name their issuer with or without the scheme.
fn accepted_issuers(issuer: &str) -> Vec<String> {
    let issuer = issuer.trim_end_matches('/').to_string();
    let mut out = vec![issuer.clone()];
    if let Some(bare) = issuer.strip_prefix("https://") {
        if bare == "accounts.google.com" {
            out.push(bare.to_string());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn googles_bare_issuer_is_accepted_only_for_google() {
        assert_eq!(
            accepted_issuers("https://accounts.google.com"),
            vec!["https://accounts.google.com", "accounts.google.com"]
        );
        assert_eq!(accepted_issuers("http://127.0.0.1:9000/"), vec!["http://127.0.0.1:9000"]);
    }
}
