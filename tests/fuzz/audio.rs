//! Uploaded episodes: the file name and bytes are the visitor's. Magic-byte sniffing and the
//! duration readers (WAV, FLAC, MP3 Xing/VBRI/CBR, MP4 boxes, Ogg pages, WebM EBML) get
//! arbitrary bytes behind each format's magic, whole or as the sparse reads of a large file.

use crate::alloc::bounded;
use crate::config;
use crate::strategies::bytes;
use ghosttools::domain::audio::{AudioKind, AudioUpload, HEAD_BYTES, MAX_BYTES, TAIL_BYTES};
use ghosttools::domain::excerpt::Excerpt;
use proptest::prelude::*;
use proptest::sample::select;
use std::future::Future;
use std::ops::Range;
use std::task::{Context, Poll, Waker};

const MAGIC: &[&[u8]] = &[
    b"",
    b"RIFF\0\0\0\0WAVEfmt ",
    b"RIFF\xff\xff\xff\xffWAVEdata\xff\xff\xff\xff",
    b"fLaC\0\0\0\x22",
    b"OggS\0\x02",
    b"\x1a\x45\xdf\xa3\x84webm",
    b"\x1a\x45\xdf\xa3\x01\xff\xff\xff\xff\xff\xff\xffwebm\x18\x53\x80\x67\x01\xff\xff\xff\xff\xff\xff\xff\x15\x49\xa9\x66",
    b"\0\0\0\x20ftypM4A \0\0\0\0",
    b"\0\0\0\x01ftypisom\0\0\0\0\0\0\0\0",
    b"\0\0\0\0ftypmp42",
    b"ID3\x04\x00\x00\x00\x00\x00\x0a",
    b"ID3\x04\x00\x10\x7f\x7f\x7f\x7f",
    b"\xff\xfb\x90\x04",
    b"\xff\xf3\x44\xc4",
];
/// Pieces that send readers deeper: box and chunk names, Xing/VBRI, page and element ids.
const INNER: &[&[u8]] = &[
    b"moov",
    b"mvhd",
    b"mdat",
    b"\0\0\0\x01",
    b"\0\0\0\0",
    b"\xff\xff\xff\xff",
    b"data",
    b"fmt ",
    b"Xing",
    b"Info",
    b"VBRI",
    b"OggS",
    b"OpusHead",
    b"\x01vorbis",
    b"\x2a\xd7\xb1",
    b"\x44\x89\x88",
    b"\x1f\x43\xb6\x75",
    b"TAG",
    b"\xff\xfb",
];
const NAMES: &[&str] = &[
    "a.mp3",
    "Episode 1.WAV",
    "x.m4a",
    "C:\\path\\y.mp4",
    "../../etc/z.ogg",
    ".flac",
    "a.webm",
    "noext",
    "..mp3",
];

/// Bytes that start like an audio file and go on with arbitrary bytes and format pieces.
fn audio_bytes() -> impl Strategy<Value = Vec<u8>> {
    (
        select(MAGIC),
        prop::collection::vec(prop_oneof![bytes(64), select(INNER).prop_map(<[u8]>::to_vec)], 0..24),
    )
        .prop_map(|(magic, rest)| [magic.to_vec(), rest.concat()].concat())
}

fn file_name() -> impl Strategy<Value = String> {
    prop_oneof![
        select(NAMES).prop_map(str::to_string),
        any::<String>(),
        (any::<String>(), select(NAMES)).prop_map(|(a, b)| a + b)
    ]
}

/// Polls a future whose reads are all immediate.
fn now<F: Future>(f: F) -> F::Output {
    match std::pin::pin!(f).as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("reads from memory never wait"),
    }
}

fn check(
    name: &str,
    judged: &Result<AudioUpload, ghosttools::domain::audio::UploadError>,
) -> Result<(), TestCaseError> {
    let Ok(up) = judged else { return Ok(()) };
    // What goes into the multipart body sent to OpenAI: safe ASCII, the real kind's extension.
    let (stem, ext) = up.upload_name.rsplit_once('.').unwrap();
    prop_assert!(!stem.is_empty() && stem.len() <= 80, "{:?}", up.upload_name);
    prop_assert!(
        up.upload_name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)),
        "{:?}",
        up.upload_name
    );
    let allowed: &[&str] = match up.kind {
        AudioKind::Mp3 => &["mp3"],
        AudioKind::Mp4 => &["m4a", "mp4"],
        AudioKind::Wav => &["wav"],
        AudioKind::Webm => &["webm"],
        AudioKind::Ogg => &["ogg"],
        AudioKind::Flac => &["flac"],
    };
    prop_assert!(allowed.contains(&ext), "{:?} as {:?}", up.upload_name, up.kind);
    prop_assert!(
        !up.display_name.chars().any(char::is_control) && up.display_name.chars().count() <= 200,
        "{:?}",
        name
    );
    if let Some(d) = up.duration_secs {
        prop_assert!(d.is_finite() && d > 0.0 && d < 24.0 * 3600.0, "{}", d);
    }
    let secs = up.reserved_secs();
    prop_assert!(ghosttools::domain::audio::credits_for(secs) >= 1);
    prop_assert!(secs >= up.size_bound_secs() && secs >= up.duration_secs.unwrap_or(0.0));
    Ok(())
}

proptest! {
    #![proptest_config(config(1))]

    /// The file is in hand; judging it allocates only the names (a few times the name) and
    /// small fixed buffers, never in proportion to the file.
    #[test]
    fn any_small_upload_is_judged(name in file_name(), file in prop_oneof![bytes(2048), audio_bytes()]) {
        let e = Excerpt::whole(&file);
        let judged = bounded("AudioUpload::inspect", name.len(), 8, 4096, || AudioUpload::inspect(&name, &e));
        check(&name, &judged)?;
    }

    /// A large file (up to the 25 MB limit) is read through ranges: its head and tail, then at
    /// most 8 more reads of 64 KiB — whatever the bytes say about where to look.
    #[test]
    fn a_large_upload_is_judged_from_bounded_reads(
        name in file_name(), head in audio_bytes(), tail in bytes(512), fill in any::<u8>(),
        size in (HEAD_BYTES + TAIL_BYTES)..=(MAX_BYTES as usize),
    ) {
        let byte_at = |i: usize| -> u8 {
            if i < head.len() { head[i] } else if i >= size - tail.len().min(size) { tail[i - (size - tail.len().min(size))] } else { fill ^ (i as u8) }
        };
        let mut read = 0usize;
        let mut reads = 0usize;
        let judged = now(AudioUpload::inspect_file(&name, size as u64, async |r: Range<usize>| {
            assert!(r.start <= r.end && r.end <= size, "read {r:?} of a {size}-byte file");
            read += r.len();
            reads += 1;
            Ok::<_, ()>(r.map(byte_at).collect())
        }))
        .unwrap();
        prop_assert!(reads <= 2 + 8 && read <= HEAD_BYTES + TAIL_BYTES + 8 * 64 * 1024, "{} reads, {} bytes", reads, read);
        check(&name, &judged)?;
    }
}
