//! Signed-in test users without going through a sign-in flow: a user row and a session cookie
//! minted with the test secret by the Worker's own session code (the sign-in flows themselves
//! are tested end to end in their own module).

use super::{Stack, SESSION_SECRET};
use ghosttools::auth::{csrf, session};
use ghosttools::domain::UserId;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

pub struct SignedIn {
    /// Keeps cookies (the session), follows no redirects.
    pub client: reqwest::Client,
    pub jar: Arc<reqwest::cookie::Jar>,
    pub user_id: i64,
    pub email: String,
    pub sid: String,
    /// The CSRF token for this session's forms.
    pub csrf: String,
}

/// An address no other test uses.
pub fn unique_email(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_micros();
    format!("{prefix}.{}.{t}.{n}@example.test", std::process::id())
}

pub fn now_secs() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}

impl Stack {
    /// A new user (unique email) with a valid session.
    pub async fn sign_in_new(&self, prefix: &str) -> SignedIn {
        self.sign_in_as(&unique_email(prefix)).await
    }

    /// The user with `email` (created when missing) with a valid session.
    pub async fn sign_in_as(&self, email: &str) -> SignedIn {
        let db = self.sql().await;
        let row = db
            .query_one(
                "INSERT INTO users (email, email_verified_at) VALUES ($1, now())
                 ON CONFLICT (email) WHERE email IS NOT NULL DO UPDATE SET updated_at = now()
                 RETURNING id, session_version",
                &[&email.to_lowercase()],
            )
            .await
            .expect("create test user");
        let (user_id, version): (i64, i32) = (row.get(0), row.get(1));
        let sid = format!("test-sid-{user_id}-{}", unique_email("s"));
        let claims = session::Claims::new(UserId::new(user_id), version, sid.clone(), now_secs());
        self.signed_in_with(user_id, email, &claims).await
    }

    /// A client carrying a session cookie for exactly these claims (for tests of expiry etc.),
    /// whose session is live (its row recorded, signed in now, unless it was already).
    pub async fn signed_in_with(&self, user_id: i64, email: &str, claims: &session::Claims) -> SignedIn {
        self.sql()
            .await
            .execute(
                "INSERT INTO sessions (sid, user_id, browser, place) VALUES ($1, $2, 'Test browser', 'Testland')
                 ON CONFLICT (sid) DO NOTHING",
                &[&claims.sid, &user_id],
            )
            .await
            .expect("record test session");
        self.token_client(user_id, email, claims)
    }

    /// A client carrying a session cookie for these claims, with no session row recorded (a
    /// forged or outlived token).
    pub fn token_client(&self, user_id: i64, email: &str, claims: &session::Claims) -> SignedIn {
        let token = session::encode(SESSION_SECRET, claims).expect("mint session");
        let client = self.client_with_cookie(&format!("{}={token}", session::COOKIE.name(false)));
        SignedIn {
            client: client.0,
            jar: client.1,
            user_id,
            email: email.to_lowercase(),
            sid: claims.sid.clone(),
            csrf: csrf::token(SESSION_SECRET, &format!("sid:{}", claims.sid)),
        }
    }

    /// A client (cookie jar, no redirects) that starts with `cookie` set for the Worker.
    pub fn client_with_cookie(&self, cookie: &str) -> (reqwest::Client, Arc<reqwest::cookie::Jar>) {
        let jar = Arc::new(reqwest::cookie::Jar::default());
        let url: reqwest::Url = self.url("/").parse().unwrap();
        jar.add_cookie_str(&format!("{cookie}; Path=/"), &url);
        let client = crate::support::client()
            .redirect(reqwest::redirect::Policy::none())
            .cookie_provider(jar.clone())
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .expect("client");
        (client, jar)
    }
}

/// The value of the hidden `csrf` field of the first form in `html`.
pub fn csrf_in(html: &str) -> Option<String> {
    let at = html.find("name=\"csrf\" value=\"")? + "name=\"csrf\" value=\"".len();
    Some(html[at..].split('"').next()?.to_string())
}

/// The email stored for a user: `None` once the account is deleted (anonymized).
pub async fn stored_email(s: &Stack, user_id: i64) -> Option<String> {
    s.sql().await.query_one("SELECT email FROM users WHERE id = $1", &[&user_id]).await.unwrap().get(0)
}

/// Asserts that `client`'s session cookie no longer signs anyone in, as a browser sees it: the
/// dashboard sends it to sign in and back (`Location`), and the cookie is cleared (`Max-Age=0`),
/// so the browser stops sending it. Not only the 303, which a page would also answer for a
/// cookie it never read.
pub async fn assert_signed_out(s: &Stack, client: &reqwest::Client, why: &str) {
    let res = client.get(s.url("/dashboard")).send().await.unwrap();
    assert_eq!(res.status(), 303, "{why}: not signed in");
    assert_eq!(res.headers()["location"], "/signin?next=%2Fdashboard", "{why}: sent to sign in and back");
    let name = format!("{}=", session::COOKIE.name(false));
    let cleared = res.headers().get_all("set-cookie").iter().any(|c| {
        let c = c.to_str().unwrap();
        c.starts_with(&format!("{name};")) && c.split(';').any(|a| a.trim().eq_ignore_ascii_case("max-age=0"))
    });
    assert!(cleared, "{why}: the session cookie is cleared: {:?}", res.headers().get_all("set-cookie"));
}
