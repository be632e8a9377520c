//! Who is signed in (the session cookie, checked against its database row), the forms' CSRF
//! tokens and flash messages: the part of `Ctx` that reads and writes the browser's session.

use super::Ctx;
use crate::auth::csrf;
use crate::auth::session::{self, Claims};
use crate::db::{sessions, Db};
use crate::domain::device::browser_label;
use crate::domain::{User, UserId};
use crate::error::AppError;
use crate::views::flash::{self, Flash, FlashKind};

impl Ctx {
    // Who is signed in: the session cookie, checked against its database row.

    /// `NEXTAUTH_SECRET`, which signs sessions and our cookies (a 503 naming it when unset).
    pub fn session_secret(&self) -> Result<&str, AppError> {
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
        let claims = match self.cookie_of(&session::COOKIE) {
            None => None,
            Some(token) => {
                let decoded = session::decode(self.session_secret()?, token, self.now_secs());
                if decoded.is_none() {
                    // Tampered, expired or signed with another key: signed out, cookie cleared.
                    self.clear_cookie(&session::COOKIE);
                }
                decoded
            }
        };
        Ok(self.session.get_or_init(|| claims).as_ref())
    }

    /// The user id of a validly signed, unexpired session token — without checking the
    /// database (for rate-limit subjects; authorization must use `user()`).
    pub fn session_user_id(&self) -> Option<UserId> {
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

    /// The signed-in user and `reads` of the account the session token names, sent together
    /// with the session check: one round trip. The reads go out before the session is known to
    /// be live, so they must only read; their answer is dropped unless the session holds for
    /// that very account.
    pub async fn user_with<T>(
        &self,
        reads: impl AsyncFnOnce(&Db, UserId) -> Result<T, AppError>,
    ) -> Result<Option<(&User, T)>, AppError> {
        let Some(user_id) = self.session_user_id() else { return Ok(None) };
        let db = self.db().await?;
        let (user, read) = futures_util::future::try_join(self.user(), reads(db, user_id)).await?;
        Ok(user.filter(|u| u.id == user_id).map(|u| (u, read)))
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
                self.clear_cookie(&session::COOKIE);
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
        self.clear_cookie(&session::COOKIE);
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
        let token = session::encode(self.session_secret()?, claims).map_err(AppError::internal)?;
        self.set_cookie(&session::COOKIE, &token);
        Ok(())
    }

    /// What CSRF tokens are bound to: the session id when signed in, else the pre-session
    /// cookie (created on first use).
    fn csrf_binding(&self) -> Result<String, AppError> {
        if let Some(claims) = self.session_claims()? {
            return Ok(format!("sid:{}", claims.sid));
        }
        if let Some(value) = self.cookie_of(&csrf::PRE_SESSION) {
            return Ok(format!("pre:{value}"));
        }
        let fresh = self.pre_session.get_or_init(crate::security::random_token).clone();
        self.set_cookie(&csrf::PRE_SESSION, &fresh);
        Ok(format!("pre:{fresh}"))
    }

    /// The token for forms on this page (hidden field `csrf`, or header `X-CSRF-Token`).
    pub fn csrf_token(&self) -> Result<String, AppError> {
        Ok(csrf::token(self.session_secret()?, &self.csrf_binding()?))
    }

    /// 403 unless the request is same-origin and carries the token for this browser.
    pub fn verify_csrf(&self, submitted: Option<&str>) -> Result<(), AppError> {
        let forbidden = || {
            AppError::Forbidden(
                "This form expired or came from another site. Please reload the page and try again.".into(),
            )
        };
        // Without the secret no token can be checked: 503 (naming the variable in the log).
        let secret = self.session_secret()?;
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
            None => match self.cookie_of(&csrf::PRE_SESSION) {
                Some(v) => format!("pre:{v}"),
                None => return Err(forbidden()),
            },
        };
        match submitted {
            Some(token) if csrf::verify(secret, &binding, token) => Ok(()),
            _ => Err(forbidden()),
        }
    }

    // Flash messages (see `views::flash`).

    /// Shows `text` on the next page this browser opens (after the redirect of an action).
    pub fn set_flash(&self, kind: FlashKind, text: impl Into<String>) {
        let Ok(secret) = self.config.session_secret.as_ref() else { return };
        let value = flash::encode(secret.expose(), &Flash::new(kind, text), self.now_ms / 1000);
        self.set_cookie(&flash::COOKIE, &value);
    }

    /// The flash of the previous action, if a valid one came with this request; the cookie is
    /// cleared either way so it shows once.
    pub fn take_flash(&self) -> Option<Flash> {
        let value = self.cookie_of(&flash::COOKIE)?;
        self.clear_cookie(&flash::COOKIE);
        let secret = self.config.session_secret.as_ref().ok()?;
        flash::decode(secret.expose(), value, self.now_ms / 1000)
    }
}
