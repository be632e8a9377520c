//! The Cookie header: any header splits into pairs without panicking, and cookies we set (names
//! and values as browsers send them back) are found again by name.

use crate::alloc::bounded;
use crate::config;
use crate::strategies::text;
use ghosttools::cookie::pairs as cookie_pairs;
use proptest::prelude::*;

const PIECES: &[&str] =
    &[";", "=", " ", "gt_session", "__Host-gt_session", "\"", ",", "\t", "a", "é", "\u{a0}", "\u{85}"];

proptest! {
    #![proptest_config(config(1))]

    /// Each `k=v` becomes two Strings: 48 bytes in the list, up to twice that in capacity and
    /// the old block while it grows (3 × 48), for the shortest piece, `=;`, of 2 bytes: 72
    /// bytes (+ the bytes of the Strings) a byte of header at most.
    #[test]
    fn any_cookie_header_splits(raw in text(PIECES)) {
        let pairs = bounded("cookie_pairs", raw.len(), 80, 256, || cookie_pairs(&raw));
        for (k, v) in &pairs {
            prop_assert!(!k.contains(';') && !v.contains(';'));
            // Trimmed of ASCII whitespace only: a Unicode space before a name stays part of it.
            prop_assert_eq!(k.trim_ascii(), k.as_str());
            prop_assert_eq!(v.trim_ascii(), v.as_str());
        }
    }

    /// Cookie names are tokens and values cookie-octets (RFC 6265), as our cookies are.
    #[test]
    fn cookies_as_browsers_send_them_are_found(
        cookies in prop::collection::vec(("[!#$%&'*+.^_`|~0-9A-Za-z-]{1,20}", "[!#-+\\--:<-\\[\\]-~]{0,60}"), 0..8),
    ) {
        let raw = cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ");
        let pairs = cookie_pairs(&raw);
        prop_assert_eq!(pairs, cookies);
    }
}
