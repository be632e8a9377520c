//! Who is signing in: the current user from the session cookie, starting and ending sessions,
//! CSRF tokens for forms, and the sign-in flows built on them (email links, Google) with their
//! abuse limits.

pub mod abuse;
pub mod csrf;
pub mod email_link;
pub mod google;
pub mod id_token;
pub mod oauth_state;
pub mod session;

use crate::ctx::Ctx;
use crate::db::users::{self, Account};
use crate::db::{sessions, Db};
use crate::domain::device::browser_label;
use crate::domain::{EmailAddress, User};
use crate::error::AppError;
use crate::services::welcome::{self, Welcome};
use session::Claims;

/// The account of a proven address (a spent link, a verified ID token), created on first
/// sign-in with its welcome credits. Runs in the caller's transaction: an account and its
/// welcome credits are committed together or not at all.
pub async fn account_for(
    cx: &Ctx,
    db: &Db,
    email: &EmailAddress,
    name: Option<&str>,
) -> Result<User, AppError> {
    let (user, account) = users::sign_in_by_email(db, email, name).await?;
    let credits = cx.config.welcome_credits();
    if account == Account::Created && credits > 0 {
        let identity = welcome::identity(cx.secret()?, email);
        let admit = async || abuse::admit_welcome_grant(cx).await;
        match welcome::greet(db, user.id, &identity, credits, admit).await? {
            Welcome::Granted { credits } => {
                cx.log("info", &format!("user {}: {credits} welcome credits", user.id))
            }
            Welcome::Refused(why) => {
                cx.log("info", &format!("user {}: no welcome credits ({})", user.id, why.as_str()))
            }
        }
    }
    Ok(user)
}

impl Ctx {
    fn secret(&self) -> Result<&str, AppError> {
        self.config.session_secret.as_ref().map(|s| s.expose()).map_err(|p| p.clone().into())
    }

    fn now_secs(&self) -> u64 {
        self.now_ms / 1000
    }

    /// The session's claims, when the cookie holds a valid, unexpired token.
    fn session_claims(&self) -> Result<Option<&Claims>, AppError> {
        if let Some(claims) = self.session.get() {
            return Ok(claims.as_ref());
        }
        let claims = match self.cookie(session::cookie_name(self.https())) {
            None => None,
            Some(token) => {
                let decoded = session::decode(self.secret()?, token, self.now_secs());
                if decoded.is_none() {
                    // Tampered, expired or signed with another key: signed out, cookie cleared.
                    self.add_header("Set-Cookie", session::clear_cookie(self.https()));
                }
                decoded
            }
        };
        Ok(self.session.get_or_init(|| claims).as_ref())
    }

    /// The user id of a validly signed, unexpired session token — without checking the
    /// database (for rate-limit subjects; authorization must use `user()`).
    pub fn session_user_id(&self) -> Option<i64> {
        self.session_claims().ok().flatten().and_then(|c| c.user_id())
    }

    /// The signed-in user, or `None`. One query per request (cached), which also enforces
    /// sign-out and the absolute lifetime (the session's row must exist and be younger than
    /// 90 days) and "sign out everywhere" (the token's session version must be current).
    pub async fn user(&self) -> Result<Option<&User>, AppError> {
        if let Some(user) = self.user.get() {
            return Ok(user.as_ref());
        }
        let user = match self.session_claims()?.cloned() {
            None => None,
            Some(claims) => self.load_session_user(&claims).await?,
        };
        Ok(self.user.get_or_init(|| user).as_ref())
    }

    /// The signed-in user, or `AppError::Unauthenticated` (pages redirect to sign-in).
    pub async fn require_user(&self) -> Result<&User, AppError> {
        self.user().await?.ok_or(AppError::Unauthenticated)
    }

    async fn load_session_user(&self, claims: &Claims) -> Result<Option<User>, AppError> {
        let Some(id) = claims.user_id() else { return Ok(None) };
        let lifetime = session::ABSOLUTE_LIFETIME_SECS as f64;
        let user = sessions::user_of(self.db().await?, id, &claims.sid, lifetime).await?;
        match user {
            Some(user) if user.session_version == claims.sv => {
                if claims.needs_renewal(self.now_secs()) {
                    self.set_session_cookie(&claims.renewed(self.now_secs()))?;
                }
                Ok(Some(user))
            }
            _ => {
                self.add_header("Set-Cookie", session::clear_cookie(self.https()));
                Ok(None)
            }
        }
    }

    /// Signs `user` in: a new session (never reusing an id from before sign-in), recorded with
    /// a coarse label of the browser and the `place` Cloudflare saw, for the account page.
    pub async fn start_session(&self, user: &User, place: &str) -> Result<(), AppError> {
        let sid = crate::security::random_token();
        let browser = browser_label(&self.header("user-agent").unwrap_or_default());
        let lifetime = session::ABSOLUTE_LIFETIME_SECS as f64;
        sessions::start(self.db().await?, user.id, &sid, &browser, place, lifetime).await?;
        let claims = Claims::new(user.id, user.session_version, sid, self.now_secs());
        self.set_session_cookie(&claims)
    }

    /// Signs out this browser and ends its session, so a copy of the token stops working too.
    /// The cookie is cleared first: it goes with whatever answer this request ends with, even
    /// a database failure.
    pub async fn end_session(&self) -> Result<(), AppError> {
        self.add_header("Set-Cookie", session::clear_cookie(self.https()));
        match self.session_claims()? {
            Some(claims) => sessions::end(self.db().await?, &claims.sid).await,
            None => Ok(()),
        }
    }

    /// The id of this browser's session (to mark it in the list of sessions).
    pub fn session_id(&self) -> Option<&str> {
        self.session_claims().ok().flatten().map(|c| c.sid.as_str())
    }

    fn set_session_cookie(&self, claims: &Claims) -> Result<(), AppError> {
        let token = session::encode(self.secret()?, claims).map_err(AppError::internal)?;
        self.add_header("Set-Cookie", session::set_cookie(self.https(), &token));
        Ok(())
    }

    /// What CSRF tokens are bound to: the session id when signed in, else the pre-session
    /// cookie (created on first use).
    fn csrf_binding(&self) -> Result<String, AppError> {
        if let Some(claims) = self.session_claims()? {
            return Ok(format!("sid:{}", claims.sid));
        }
        let name = csrf::pre_session_cookie_name(self.https());
        if let Some(value) = self.cookie(name) {
            return Ok(format!("pre:{value}"));
        }
        let fresh = self.pre_session.get_or_init(crate::security::random_token).clone();
        self.add_header("Set-Cookie", csrf::pre_session_set_cookie(self.https(), &fresh));
        Ok(format!("pre:{fresh}"))
    }

    /// The token for forms on this page (hidden field `csrf`, or header `X-CSRF-Token`).
    pub fn csrf_token(&self) -> Result<String, AppError> {
        Ok(csrf::token(self.secret()?, &self.csrf_binding()?))
    }

    /// 403 unless the request is same-origin and carries the token for this browser.
    pub fn verify_csrf(&self, submitted: Option<&str>) -> Result<(), AppError> {
        let forbidden = || {
            AppError::Forbidden(
                "This form expired or came from another site. Please reload the page and try again.".into(),
            )
        };
        // Without the secret no token can be checked: 503 (naming the variable in the log).
        let secret = self.secret()?;
        let origin = self.site()?.origin();
        if !csrf::same_origin(
            self.header("origin").as_deref(),
            self.header("sec-fetch-site").as_deref(),
            &origin,
        ) {
            return Err(forbidden());
        }
        let binding = match self.session_claims()? {
            Some(claims) => format!("sid:{}", claims.sid),
            None => match self.cookie(csrf::pre_session_cookie_name(self.https())) {
                Some(v) => format!("pre:{v}"),
                None => return Err(forbidden()),
            },
        };
        match submitted {
            Some(token) if csrf::verify(secret, &binding, token) => Ok(()),
            _ => Err(forbidden()),
        }
    }
}
