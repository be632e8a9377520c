//! Hyperdrive as the Worker meets it, played between the Worker and Postgres by a [`DbProxy`]
//! that reads the Postgres protocol (production facts: shared/notes/cloudflare-production.md →
//! Hyperdrive): its query cache when the config caches, and on demand the fault reported for
//! tokio-postgres on Hyperdrive, a multi-row answer that tokio-postgres cannot follow.
//!
//! The proxy reads the client's messages in batches (up to Sync, a simple
//! Query, or Terminate), each answered by the server's messages up to ReadyForQuery. A batch is
//! served from the cache when it is a read outside a transaction: one extended-protocol query
//! (the Worker's `query_typed`: unnamed Parse, Bind, Describe, Execute, Sync) whose text is a
//! SELECT (or WITH) that writes nothing and calls no VOLATILE or STABLE function (`now()`,
//! `random()`, `nextval`, …). Its answer is kept for [`MAX_AGE`], keyed by the query text and the
//! bound parameters (the Parse and Bind messages), shared by every connection, and — as in
//! production — a write invalidates nothing. Errors are not cached.
//!
//! A garbled answer (see [`Hyperdrive::garble_multi_row_answers`]) carries a stray
//! ParseComplete after its first row, which tokio-postgres reports as "unexpected message from
//! server" — the symptom of workers-sdk #13797 and #13798 — then the rest of the answer, so the
//! connection stays in step as it would after a pooler's hiccup.
//!
//! [`DbProxy`]: super::db_proxy::DbProxy

use std::collections::HashMap;
use std::io;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Hyperdrive's default `max_age`.
pub const MAX_AGE: Duration = Duration::from_secs(60);

const SSL_REQUEST: u32 = 80877103;
const GSSENC_REQUEST: u32 = 80877104;
const CANCEL_REQUEST: u32 = 80877102;

/// Answers by key (Parse and Bind messages), with when they were stored.
type Entries = HashMap<Vec<u8>, (Instant, Vec<u8>)>;

/// Whether the Hyperdrive config played caches queries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Caching {
    /// `wrangler hyperdrive create … --caching-disabled` (what `DB` must be).
    #[default]
    Disabled,
    /// Hyperdrive's default: reads cached for 60 s, writes invalidate nothing.
    Enabled,
}

#[derive(Default)]
pub struct Hyperdrive {
    caching: Caching,
    entries: Mutex<Entries>,
    hits: AtomicU64,
    /// Multi-row answers still to garble, and how many were.
    to_garble: AtomicU32,
    garbled: AtomicU32,
}

impl Hyperdrive {
    pub fn new(caching: Caching) -> Hyperdrive {
        Hyperdrive { caching, ..Hyperdrive::default() }
    }

    pub fn caching(&self) -> Caching {
        self.caching
    }

    /// Reads answered from the cache so far.
    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }

    /// Garbles the next `n` answers of two rows or more (any connection).
    pub fn garble_multi_row_answers(&self, n: u32) {
        self.to_garble.store(n, Ordering::SeqCst);
    }

    /// Answers garbled so far.
    pub fn garbled(&self) -> u32 {
        self.garbled.load(Ordering::SeqCst)
    }

    fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        let entries = self.entries.lock().unwrap();
        let (_, answer) = entries.get(key).filter(|(stored, _)| stored.elapsed() < MAX_AGE)?;
        self.hits.fetch_add(1, Ordering::Relaxed);
        Some(answer.clone())
    }

    fn put(&self, key: Vec<u8>, answer: Vec<u8>) {
        self.entries.lock().unwrap().insert(key, (Instant::now(), answer));
    }

    /// Relays one client connection to `server`, answering cacheable reads from the cache. The
    /// client's side is left open: the caller holds it until the Worker hangs up.
    pub async fn serve(&self, client: &mut TcpStream, mut server: TcpStream) -> io::Result<()> {
        if !startup(client, &mut server).await? {
            let _ = tokio::io::copy_bidirectional(client, &mut server).await;
            return Ok(());
        }
        let mut idle = true;
        loop {
            let batch = read_batch(client).await?;
            let raw: Vec<u8> = batch.iter().flat_map(|m| m.raw.iter().copied()).collect();
            if batch.last().is_some_and(|m| m.tag == b'X') {
                return server.write_all(&raw).await;
            }
            let caches = self.caching == Caching::Enabled && idle;
            let key = if caches { cache_key(&batch) } else { None };
            if let Some(hit) = key.as_deref().and_then(|k| self.get(k)) {
                client.write_all(&hit).await?;
                continue;
            }
            server.write_all(&raw).await?;
            let (answer, failed);
            (answer, failed, idle) = read_answer(&mut server).await?;
            if let Some(garbled) = self.garble(&answer) {
                client.write_all(&garbled).await?;
                continue;
            }
            client.write_all(&answer).await?;
            if let (Some(key), false) = (key, failed) {
                self.put(key, answer);
            }
        }
    }
}

impl Hyperdrive {
    /// The answer with a stray ParseComplete after its first row, when it has two rows or more
    /// and a garbling is due.
    fn garble(&self, answer: &[u8]) -> Option<Vec<u8>> {
        let rows = messages(answer).filter(|(tag, _)| *tag == b'D').count();
        if rows < 2 {
            return None;
        }
        let due = self.to_garble.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
        due.ok()?;
        self.garbled.fetch_add(1, Ordering::SeqCst);
        let (_, first_row) = messages(answer).find(|(tag, _)| *tag == b'D')?;
        let cut = first_row.end;
        Some([&answer[..cut], &[b'1', 0, 0, 0, 4][..], &answer[cut..]].concat())
    }
}

/// The messages in a run of backend messages: tag and byte range.
fn messages(bytes: &[u8]) -> impl Iterator<Item = (u8, std::ops::Range<usize>)> + '_ {
    let mut at = 0;
    std::iter::from_fn(move || {
        let head = bytes.get(at..at + 5)?;
        let end = at + 1 + u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
        let range = at..end;
        at = end;
        Some((head[0], range))
    })
}

struct Message {
    tag: u8,
    /// The whole message: tag, length, body.
    raw: Vec<u8>,
}

impl Message {
    fn body(&self) -> &[u8] {
        &self.raw[5..]
    }
}

async fn read_message(from: &mut TcpStream) -> io::Result<Message> {
    let mut head = [0u8; 5];
    from.read_exact(&mut head).await?;
    let len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
    let mut raw = head.to_vec();
    raw.resize(1 + len.max(4), 0);
    from.read_exact(&mut raw[5..]).await?;
    Ok(Message { tag: head[0], raw })
}

/// Relays the startup and authentication up to the server's first ReadyForQuery. Answers false
/// when the rest cannot be read (TLS, a cancel request, a refused startup): relay it blindly.
async fn startup(client: &mut TcpStream, server: &mut TcpStream) -> io::Result<bool> {
    loop {
        let mut len = [0u8; 4];
        client.read_exact(&mut len).await?;
        let mut raw = len.to_vec();
        raw.resize(u32::from_be_bytes(len) as usize, 0);
        client.read_exact(&mut raw[4..]).await?;
        server.write_all(&raw).await?;
        match u32::from_be_bytes([raw[4], raw[5], raw[6], raw[7]]) {
            SSL_REQUEST | GSSENC_REQUEST => {
                let mut answer = [0u8];
                server.read_exact(&mut answer).await?;
                client.write_all(&answer).await?;
                if answer[0] != b'N' {
                    return Ok(false);
                }
            }
            CANCEL_REQUEST => return Ok(false),
            _ => break,
        }
    }
    loop {
        let m = read_message(server).await?;
        client.write_all(&m.raw).await?;
        match m.tag {
            // Cleartext, MD5, SASL and SASLContinue wait for the client's answer.
            b'R' if matches!(m.body().get(3), Some(3 | 5 | 10 | 11)) => {
                let reply = read_message(client).await?;
                server.write_all(&reply.raw).await?;
            }
            b'Z' => return Ok(true),
            b'E' => return Ok(false),
            _ => {}
        }
    }
}

/// The client's messages up to one the server answers with ReadyForQuery (or Terminate).
async fn read_batch(client: &mut TcpStream) -> io::Result<Vec<Message>> {
    let mut batch = Vec::new();
    loop {
        let m = read_message(client).await?;
        let last = matches!(m.tag, b'S' | b'Q' | b'X');
        batch.push(m);
        if last {
            return Ok(batch);
        }
    }
}

/// The server's answer up to ReadyForQuery: its bytes, whether it holds an error, and whether
/// the session is idle again (not inside a transaction).
async fn read_answer(server: &mut TcpStream) -> io::Result<(Vec<u8>, bool, bool)> {
    let (mut answer, mut failed) = (Vec::new(), false);
    loop {
        let m = read_message(server).await?;
        answer.extend_from_slice(&m.raw);
        failed |= m.tag == b'E';
        if m.tag == b'Z' {
            return Ok((answer, failed, m.body().first() == Some(&b'I')));
        }
    }
}

/// The cache key of a batch Hyperdrive would cache: the Parse and Bind messages of one read.
fn cache_key(batch: &[Message]) -> Option<Vec<u8>> {
    let tags: Vec<u8> = batch.iter().map(|m| m.tag).collect();
    if tags != b"PBDES" {
        return None;
    }
    let parse = batch[0].body();
    // Parse: statement name, NUL, query text, NUL, parameter types.
    let name_end = parse.iter().position(|&b| b == 0)?;
    let text = &parse[name_end + 1..];
    let query = std::str::from_utf8(&text[..text.iter().position(|&b| b == 0)?]).ok()?;
    if !is_cacheable_read(query) {
        return None;
    }
    Some([parse, batch[1].body()].concat())
}

/// Words that make a statement a write (or lock rows) rather than a read.
const WRITES: &[&str] = &["insert", "update", "delete", "merge", "into", "share"];

/// VOLATILE and STABLE functions (Postgres' own volatility; since 2026-02 Hyperdrive caches
/// neither), and the SQL-standard keywords that stand for them.
const NOT_IMMUTABLE: &[&str] = &[
    "now",
    "random",
    "nextval",
    "currval",
    "lastval",
    "setval",
    "clock_timestamp",
    "statement_timestamp",
    "transaction_timestamp",
    "timeofday",
    "current_timestamp",
    "current_date",
    "current_time",
    "localtime",
    "localtimestamp",
    "gen_random_uuid",
    "uuid_generate_v4",
    "txid_current",
    "pg_current_xact_id",
    "current_setting",
    "pg_sleep",
    "pg_advisory_lock",
    "pg_try_advisory_lock",
    "pg_advisory_xact_lock",
    "pg_try_advisory_xact_lock",
    "to_char",
    "age",
];

/// Whether Hyperdrive would cache this statement's answer.
pub fn is_cacheable_read(sql: &str) -> bool {
    let lower = sql.to_ascii_lowercase();
    let words: Vec<&str> =
        lower.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).filter(|w| !w.is_empty()).collect();
    matches!(words.first(), Some(&"select" | &"with"))
        && !words.iter().any(|w| WRITES.contains(w) || NOT_IMMUTABLE.contains(w))
}
