//! Text from visitors: the return path after sign-in (`next`) and email addresses.

use crate::alloc::bounded;
use crate::config;
use crate::strategies::text;
use ghosttools::domain::brief::{BriefForm, ProductBrief};
use ghosttools::domain::person::PersonName;
use ghosttools::domain::{EmailAddress, Mailbox, NextPath};
use ghosttools::rate_limit::Subject;
use proptest::prelude::*;
use url::Url;

const PATH_PIECES: &[&str] = &[
    "/",
    "//",
    "\\",
    "%2f",
    "%2F",
    "%5c",
    "%5C",
    "%09",
    "%0a",
    "%252f",
    ":",
    "@",
    ".",
    "..",
    "?",
    "#",
    "&",
    "https:",
    "javascript:",
    "evil.example",
    "\t",
    "\n",
    "\r",
    " ",
    "\u{a0}",
    "\u{3000}",
    "\u{200b}",
    "\u{2028}",
    "\u{ff0f}",
    "\u{2215}",
    "\u{0}",
    "%",
    "a",
];
const EMAIL_PIECES: &[&str] = &[
    "@",
    ".",
    "..",
    "a",
    "Z",
    "-",
    "_",
    "+",
    "'",
    "\"",
    "<",
    ">",
    ",",
    ";",
    " ",
    "\r\n",
    "[",
    "]",
    "xn--",
    "é",
    "bücher",
    "example",
    "com",
    "localhost",
    "127.0.0.1",
    "\u{0}",
    "\u{ff0e}",
    "\u{3002}",
    "ß",
];

const SITE: &str = "https://ghosttools.app/signin";

proptest! {
    #![proptest_config(config(1))]

    /// A path we accept never leaves the site, however a browser or URL parser resolves it.
    #[test]
    fn an_accepted_next_path_stays_on_the_site(raw in text(PATH_PIECES)) {
        let Some(next) = bounded("NextPath::parse", raw.len(), 2, 64, || NextPath::parse(&raw)) else {
            return Ok(());
        };
        let p = next.as_str();
        prop_assert!(p.starts_with('/') && !p.starts_with("//") && !p.contains('\\'));
        prop_assert!(!p.chars().any(|c| c.is_control() || c.is_whitespace()), "{:?}", p);
        let site = Url::parse(SITE).unwrap();
        let resolved = site.join(p).unwrap();
        prop_assert_eq!(resolved.origin(), site.origin(), "{:?} leaves the site", p);
        // Decoded once more (as some proxies do), it still names a path, not a host.
        let decoded = percent_decode(p);
        prop_assert!(!decoded.starts_with("//") && !decoded.starts_with("/\\"), "{:?} decodes to {:?}", p, decoded);
    }

    #[test]
    fn any_text_as_an_email_address(raw in text(EMAIL_PIECES)) {
        let parsed = bounded("EmailAddress::parse", raw.len(), 4, 4096, || EmailAddress::parse(&raw));
        if let Ok(email) = parsed {
            let s = email.as_str();
            prop_assert!(s.len() <= 254 && s.is_ascii() && s.matches('@').count() == 1, "{:?}", s);
            prop_assert!(!s.chars().any(|c| c.is_control() || c.is_whitespace() || "\"<>,;[]\\".contains(c)), "{:?}", s);
            prop_assert_eq!(s.to_ascii_lowercase(), s);
            prop_assert_eq!(EmailAddress::parse(s), Ok(email.clone()), "not idempotent");
        }
        if let Ok(m) = Mailbox::parse(&raw) {
            prop_assert!(m.name.as_deref().is_none_or(|n| !n.chars().any(char::is_control)));
            prop_assert!(!m.address.as_str().chars().any(char::is_control));
        }
    }

    /// (Labels never hold `--`: `xn--…` must be valid punycode, and is refused otherwise.)
    #[test]
    fn ordinary_addresses_are_accepted_lower_cased(local in "[A-Za-z0-9_+'-]{1,20}(\\.[A-Za-z0-9_+'-]{1,10}){0,2}", labels in prop::collection::vec("[A-Za-z0-9]{1,6}(-[A-Za-z0-9]{1,6})?", 1..4), tld in "[A-Za-z]{2,6}") {
        let raw = format!("{local}@{}.{tld}", labels.join("."));
        let email = EmailAddress::parse(&raw).map_err(|e| TestCaseError::fail(format!("{raw:?}: {e}")))?;
        prop_assert_eq!(email.as_str(), raw.to_ascii_lowercase());
    }
}

const BRIEF_PIECES: &[&str] =
    &["\n", "\r\n", ",", " ", "\t", "\u{2028}", "\u{0}", "a", "Widget", "é", "😀", ", ,", "\r"];

fn brief_form() -> impl Strategy<Value = BriefForm> {
    let field = || prop_oneof![text(BRIEF_PIECES), "[a-zA-Z ]{2,30}"];
    let choice = |options: &'static [&'static str]| {
        prop_oneof![proptest::sample::select(options).prop_map(str::to_string), any::<String>()]
    };
    (
        field(),
        prop_oneof![text(BRIEF_PIECES), "([a-z ]{1,20}\n){1,5}"],
        field(),
        choice(&["friendly", "professional", "playful", "luxury", " friendly ", "x"]),
        choice(&["short", "medium", "long", "LONG"]),
        choice(&["en", "de", "ja", "xx", " en"]),
        prop_oneof![text(BRIEF_PIECES), "([a-z]{1,10}, ?){0,12}"],
    )
        .prop_map(|(product_name, features, audience, tone, length, language, keywords)| BriefForm {
            product_name,
            features,
            audience,
            tone,
            length,
            language,
            keywords,
        })
}

proptest! {
    #![proptest_config(config(1))]

    /// AgentWrite's form: any fields are accepted or refused field by field; an accepted brief
    /// shown again as a form (to regenerate) is accepted as the same brief.
    #[test]
    fn a_product_brief_round_trips_through_its_form(form in brief_form()) {
        match ProductBrief::parse(&form) {
            Ok(brief) => {
                prop_assert_eq!(ProductBrief::parse(&brief.to_form()), Ok(brief.clone()));
                let _ = (brief.system_prompt(), brief.user_prompt());
            }
            Err(errors) => prop_assert!(!errors.is_empty()),
        }
    }

    #[test]
    fn names_and_client_addresses_of_any_text(raw in any::<String>()) {
        if let Ok(name) = PersonName::parse("first_name", "first name", Some(&raw)) {
            let n = name.as_str();
            prop_assert!(!n.is_empty() && n.chars().count() <= 60 && !n.chars().any(char::is_control));
        }
        let subject = format!("{:?}", Subject::ip(Some(&raw)));
        prop_assert!(subject.len() < 80, "{}", subject);
    }
}

fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}
