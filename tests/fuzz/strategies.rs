//! Inputs shaped to reach deep into parsers: arbitrary text and bytes, pieces of the format
//! glued in any order, and one piece repeated thousands of times (huge runs of delimiters).

use proptest::prelude::*;
use proptest::sample::select;

/// Arbitrary bytes (not UTF-8, mostly), up to `max` of them.
pub fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..max)
}

/// Text made of `pieces` (the format's delimiters and keywords) in any order and number.
pub fn glued(pieces: &'static [&'static str], max_pieces: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(select(pieces), 0..max_pieces).prop_map(|p| p.concat())
}

/// One piece (or arbitrary short text) repeated up to `max_repeat` times, between two
/// arbitrary texts.
pub fn repeated(pieces: &'static [&'static str], max_repeat: usize) -> impl Strategy<Value = String> {
    (
        any::<String>(),
        prop_oneof![select(pieces).prop_map(str::to_string), ".{1,4}"],
        0..max_repeat,
        any::<String>(),
    )
        .prop_map(|(a, piece, n, b)| format!("{a}{}{b}", piece.repeat(n)))
}

/// Text for a parser of a format built from `pieces`: arbitrary, glued pieces, a glued mix with
/// arbitrary text, or a huge repetition.
pub fn text(pieces: &'static [&'static str]) -> impl Strategy<Value = String> {
    prop_oneof![
        3 => any::<String>(),
        3 => glued(pieces, 40),
        2 => prop::collection::vec(prop_oneof![select(pieces).prop_map(str::to_string), any::<String>()], 0..20)
            .prop_map(|p| p.concat()),
        1 => repeated(pieces, 20_000),
    ]
}

/// Replaces the byte at `at % len` of ASCII text `s` by the different ASCII byte `to`
/// (`None` when `s` is empty).
pub fn mutate_ascii(s: &str, at: usize, to: u8) -> Option<String> {
    if s.is_empty() {
        return None;
    }
    let mut b = s.as_bytes().to_vec();
    let i = at % b.len();
    let to = to & 0x7F;
    if b[i] == to || !b[i].is_ascii() {
        return None;
    }
    b[i] = to;
    String::from_utf8(b).ok()
}
