//! SASLprep (RFC 4013) for postgres-protocol's SCRAM login, without the Unicode tables.
//!
//! postgres-protocol runs the password through `saslprep` and, when it refuses, uses the
//! password's bytes as they are (as libpq does). The full algorithm brings NFKC normalization,
//! bidi and RFC 3454 tables: 160 KiB raw, ~75 KiB gzip of wasm (BENCHMARKS.md), for a step that
//! leaves every ASCII password without control characters unchanged. This crate answers such a
//! password exactly as the full algorithm does (unchanged, borrowed: its own fast path) and
//! refuses anything else, so the bytes are used as they are. That is right for every password
//! SASLprep leaves unchanged: any ASCII one, and non-ASCII ones in NFC without compatibility
//! characters (full-width letters, ligatures), non-ASCII spaces or invisible characters. A
//! password with those cannot log in (Postgres stored its SASLprep'd form); `migrate` says so
//! when a login with a non-ASCII password fails. Cargo cannot patch a crate for one target
//! only, so native builds (the migration tool, the tests) use this crate too.

use std::borrow::Cow;
use std::fmt;

/// Why `saslprep` refused a string.
#[derive(Debug)]
pub struct Error(());

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("not ASCII without control characters: SASLprep's tables are not built in")
    }
}

impl std::error::Error for Error {}

/// SASLprep for what needs no table: ASCII without control characters comes back unchanged;
/// anything else is refused.
pub fn saslprep(s: &str) -> Result<Cow<'_, str>, Error> {
    match is_unchanged_ascii(s) {
        true => Ok(Cow::Borrowed(s)),
        false => Err(Error(())),
    }
}

/// Whether SASLprep leaves `s` unchanged without looking at a table: every character ASCII and
/// none a control character (U+0000–U+001F, U+007F: RFC 3454 C.2.1, prohibited, so the full
/// algorithm refuses those too). The full algorithm's own fast path.
pub fn is_unchanged_ascii(s: &str) -> bool {
    is_unchanged_ascii_bytes(s.as_bytes())
}

/// `is_unchanged_ascii` for a password as bytes (`tokio_postgres::Config::get_password`).
pub fn is_unchanged_ascii_bytes(s: &[u8]) -> bool {
    s.iter().all(|b| b.is_ascii() && !b.is_ascii_control())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_without_controls_comes_back_unchanged_and_anything_else_is_left_to_the_caller() {
        for s in ["", "dev", "pa ss word!~", "A-Z_a-z.0-9:@/+=\"'\\"] {
            assert!(matches!(saslprep(s), Ok(Cow::Borrowed(p)) if p == s), "{s:?}");
        }
        for s in ["tab\there", "nul\0", "del\u{7f}", "héllo", "ｆｕｌｌ", "a\u{a0}b"] {
            assert!(saslprep(s).is_err(), "{s:?}");
        }
    }
}
