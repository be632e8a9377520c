//! Pages of a signed-in user: the dashboard and the account page (and the goodbye page after
//! deleting an account).

use super::Layout;
use askama::Template;

#[derive(Template)]
#[template(path = "account/dashboard.html")]
pub struct Dashboard {
    pub layout: Layout,
    /// PodScribe is offered only when enabled by configuration.
    pub podscribe: bool,
}

#[derive(Template)]
#[template(path = "account/account.html")]
pub struct Account {
    pub layout: Layout,
    pub email: String,
    /// The address of the linked Google account, when there is one.
    pub google_email: Option<String>,
    /// Why the deletion was refused (the typed confirmation did not match).
    pub delete_error: Option<String>,
}

#[derive(Template)]
#[template(path = "account/deleted.html")]
pub struct Deleted {
    pub layout: Layout,
}
