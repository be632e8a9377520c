//! Cutting large episodes: the bytes around each cut and inside each chunk are the uploader's.
//! Whatever they are, planning reads only small windows, the chunks it makes are contiguous and
//! within the limit, and counting a chunk's MP3 frames gives a finite length — no panic, no
//! endless loop, no read outside the file.

use crate::config;
use crate::strategies::bytes;
use ghosttools::domain::audio::AudioKind;
use ghosttools::domain::audio_split::{mp3_secs, plan, WALK_WINDOW};
use proptest::prelude::*;
use proptest::sample::select;
use std::future::Future;
use std::ops::Range;
use std::task::{Context, Poll, Waker};

const HEADS: &[&[u8]] = &[
    b"",
    b"ID3\x04\x00\x00\x00\x00\x00\x0a",
    b"ID3\x04\x00\x10\x00\x01\x00\x00",
    b"\xff\xfb\x90\x04",
    b"RIFF\0\0\0\0WAVEfmt \x10\0\0\0\x01\0\x01\0\x40\x1f\0\0\x40\x1f\0\0\x01\0\x08\0data\xff\xff\xff\xff",
    b"RIFF\0\0\0\0WAVEfmt \x10\0\0\0\x01\0\x02\0\x44\xac\0\0\x10\xb1\x02\0\x04\0\x10\0LIST\x04\0\0\0INFOdata\0\0\x10\0",
    b"RIFF\0\0\0\0WAVEfmt \x02\0\0\0\x01\0data\x10\0\0\0",
];
/// Frame headers and their frames' lengths, repeated through the file.
const FRAMES: &[(&[u8], usize)] = &[
    (b"\xff\xfb\x90\x04", 417),
    (b"\xff\xfb\x14\xc4", 96),
    (b"\xff\xf3\x84\xc4", 192),
    (b"\xff\xff\xe8\x00", 672),
    (b"\xff", 1),
];

/// A frame of random data (false syncs included), sometimes with junk after it.
fn repeated() -> impl Strategy<Value = Vec<u8>> {
    (select(FRAMES), bytes(8), any::<bool>()).prop_flat_map(|((h, len), junk, clean)| {
        prop::collection::vec(any::<u8>(), len.saturating_sub(h.len())).prop_map(move |payload| {
            let junk: &[u8] = if clean { &[] } else { &junk };
            [h, &payload[..], junk].concat()
        })
    })
}

/// Polls a future whose reads are all immediate.
fn now<F: Future>(f: F) -> F::Output {
    match std::pin::pin!(f).as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("reads from memory never wait"),
    }
}

proptest! {
    #![proptest_config(config(25))]

    #[test]
    fn any_large_file_is_cut_from_small_reads_into_chunks_within_the_limit(
        head in (select(HEADS), bytes(64)).prop_map(|(h, b)| [h, &b[..]].concat()),
        unit in repeated(),
        size in 20_000usize..1_500_000, limit in 65_536u64..400_000, wav in any::<bool>(),
    ) {
        let byte_at = |i: u64| -> u8 {
            let i = i as usize;
            if i < head.len() { head[i] } else { unit[(i - head.len()) % unit.len()] }
        };
        let kind = if wav { AudioKind::Wav } else { AudioKind::Mp3 };
        let mut reads = 0usize;
        let planned = now(plan(kind, size as u64, limit, async |r: Range<u64>| {
            assert!(r.start <= r.end && r.end <= size as u64, "read {r:?} of a {size}-byte file");
            assert!(r.end - r.start <= 64 * 1024, "a window, not the file: {r:?}");
            reads += 1;
            Ok::<_, ()>(r.map(byte_at).collect())
        }))
        .unwrap();
        let Ok(p) = planned else { return Ok(()) };
        prop_assert!(!p.chunks.is_empty() && reads <= 2 + p.chunks.len());
        let mut next = p.chunks[0].range.start;
        for c in &p.chunks {
            prop_assert!(c.range.start == next && c.range.end > c.range.start && c.range.end <= size as u64);
            prop_assert!(c.len() <= limit, "{} > {}", c.len(), limit);
            next = c.range.end;
            let len = c.range.end - c.range.start;
            let secs = match p.wav_secs(c) {
                Some(secs) => secs,
                None => now(mp3_secs(len, c.frames_from, async |r: Range<u64>| {
                    assert!(r.end <= len && r.end - r.start <= WALK_WINDOW, "{r:?} of {len}");
                    Ok::<_, ()>(r.map(|i| byte_at(c.range.start + i)).collect())
                }))
                .unwrap(),
            };
            prop_assert!(secs.is_finite() && secs >= 0.0, "{}", secs);
        }
        if !wav {
            prop_assert_eq!(next, size as u64, "an MP3's chunks cover the whole file");
        }
    }
}
