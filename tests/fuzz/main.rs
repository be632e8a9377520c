//! Property-based fuzzing of everything that parses bytes from outside: the Stripe-Signature
//! header, forms, cookies, session/flash/OAuth cookies and CSRF tokens, sign-in link tokens,
//! return paths, email addresses, uploaded audio (magic bytes, durations, and where a large episode is cut) and the multipart
//! boundary, OpenAI's answers and event stream, Stripe's event JSON, and SMTP servers' replies.
//!
//! Each target checks properties (round trips, mutations refused, outputs that stay safe), never
//! panics, and allocates at most linearly in its input (a counting allocator, `alloc.rs`).
//! `FUZZ_CASES` sets the cases per target (default small: part of `make test`); `make fuzz`
//! runs many more. A failure prints the shrunk input: fix the code and pin the input as a unit
//! test next to it.

mod ai_text;
mod alloc;
mod audio;
mod audio_split;
mod cookies;
mod forms;
mod id_token;
mod openai;
mod signatures;
mod smtp;
mod strategies;
mod stripe_events;
mod text;

#[global_allocator]
static ALLOCATOR: alloc::Counting = alloc::Counting;

use proptest::test_runner::Config;

/// Cases per target when `FUZZ_CASES` is not set: enough to catch regressions in seconds.
const DEFAULT_CASES: u32 = 500;

/// The proptest config of a target whose cases cost about `weight` cheap ones (a JWT signature,
/// an RSA key, a whole SMTP conversation): it runs `FUZZ_CASES / weight` cases, at least 16.
pub fn config(weight: u32) -> Config {
    let cases = std::env::var("FUZZ_CASES").ok().and_then(|v| v.parse::<u32>().ok()).unwrap_or(DEFAULT_CASES);
    Config {
        cases: (cases / weight.max(1)).max(16),
        // Failures are pinned as unit tests next to the code, not in files proptest writes.
        failure_persistence: None,
        max_shrink_iters: 4096,
        ..Config::default()
    }
}
