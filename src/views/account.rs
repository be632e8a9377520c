//! Pages of a signed-in user.

use super::Layout;
use askama::Template;

#[derive(Template)]
#[template(path = "account/dashboard.html")]
pub struct Dashboard {
    pub layout: Layout,
    /// PodScribe is offered only when enabled by configuration.
    pub podscribe: bool,
}
