//! Sign-in pages: the form, "check your email", the link's confirm page, and the friendly page
//! for a link or a Google sign-in that cannot be used.

use super::Layout;
use askama::Template;

#[derive(Template)]
#[template(path = "auth/sign_in.html")]
pub struct SignIn {
    pub layout: Layout,
    /// The address as typed (kept when it was refused).
    pub email: String,
    /// The (already validated) return path, carried through the form.
    pub next: String,
    pub error: Option<String>,
    /// Whether "Continue with Google" is offered.
    pub google: bool,
}

#[derive(Template)]
#[template(path = "auth/check_email.html")]
pub struct CheckEmail {
    pub layout: Layout,
    pub email: String,
    pub minutes: u32,
}

#[derive(Template)]
#[template(path = "auth/confirm.html")]
pub struct Confirm {
    pub layout: Layout,
    pub token: String,
    /// The account the link signs in.
    pub email: String,
    /// Another account signed in in this browser, which the page asks about first.
    pub signed_in_as: Option<String>,
}

#[derive(Template)]
#[template(path = "auth/problem.html")]
pub struct Problem {
    pub layout: Layout,
    pub heading: &'static str,
    pub message: &'static str,
    /// The way on: where the button leads and what it says.
    pub action: (&'static str, &'static str),
}
