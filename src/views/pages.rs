//! Public pages: the landing page, and the terms and privacy notice (whose company and contact
//! come from configuration).

use super::Layout;
use askama::Template;

#[derive(Template)]
#[template(path = "landing.html")]
pub struct Landing {
    pub layout: Layout,
}

/// Who the legal pages speak for.
pub struct Legal {
    pub company: String,
    pub contact_email: String,
    /// The site's public origin, e.g. https://ghosttools.app.
    pub site: String,
}

#[derive(Template)]
#[template(path = "legal/terms.html")]
pub struct Terms {
    pub layout: Layout,
    pub legal: Legal,
}

#[derive(Template)]
#[template(path = "legal/privacy.html")]
pub struct Privacy {
    pub layout: Layout,
    pub legal: Legal,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn legal() -> Legal {
        Legal {
            company: "Ghost & Co".into(),
            contact_email: "help@ghost.example".into(),
            site: "https://g.example".into(),
        }
    }

    #[test]
    fn the_legal_pages_name_the_configured_company_and_contact() {
        for html in [
            Terms { layout: Layout::new("Terms", "n"), legal: legal() }.render().unwrap(),
            Privacy { layout: Layout::new("Privacy", "n"), legal: legal() }.render().unwrap(),
        ] {
            assert!(
                html.contains("Ghost &#38; Co") || html.contains("Ghost &amp; Co"),
                "company escaped and named"
            );
            assert!(html.contains("mailto:help@ghost.example"));
        }
    }
}
