//! Public pages: the landing page.

use super::Layout;
use askama::Template;

#[derive(Template)]
#[template(path = "landing.html")]
pub struct Landing {
    pub layout: Layout,
}
