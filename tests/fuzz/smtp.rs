//! SMTP servers' replies. The conversation is `wasm-smtp`'s (its reply reader and EHLO
//! capability parsing) plus ours (`clients::smtp`: STARTTLS or refuse, AUTH only when offered or
//! required, then the message). Both run here natively against a scripted server that answers
//! with arbitrary bytes, cut into arbitrary reads. Credentials must never cross a plaintext
//! connection to a remote host, whatever the server says.

use crate::alloc::bounded;
use crate::config;
use ghosttools::clients::smtp::{converse_starttls, Envelope, SendError, SmtpServer};
use proptest::prelude::*;
use proptest::sample::select;
use std::cell::RefCell;
use std::future::Future;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use wasm_smtp::error::IoError;
use wasm_smtp::protocol::parse_reply_line;
use wasm_smtp::{StartTlsCapable, Transport};

/// What the client did: every byte it wrote, and how many of them went before TLS.
#[derive(Default)]
struct Log {
    written: Vec<u8>,
    plaintext: Option<usize>,
}

impl Log {
    fn before_tls(&self) -> &[u8] {
        &self.written[..self.plaintext.unwrap_or(self.written.len())]
    }
}

/// A server that answers each read with the next of its `reads`, whatever was asked.
struct Scripted {
    reads: Vec<Vec<u8>>,
    next: usize,
    pending: Vec<u8>,
    tls_fails: bool,
    log: Rc<RefCell<Log>>,
}

impl Transport for Scripted {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, IoError> {
        if self.pending.is_empty() {
            let Some(next) = self.reads.get(self.next) else { return Ok(0) };
            self.pending = next.clone();
            self.next += 1;
        }
        let n = self.pending.len().min(buf.len());
        buf[..n].copy_from_slice(&self.pending[..n]);
        self.pending.drain(..n);
        Ok(n)
    }

    async fn write_all(&mut self, buf: &[u8]) -> Result<(), IoError> {
        self.log.borrow_mut().written.extend_from_slice(buf);
        Ok(())
    }

    async fn close(&mut self) -> Result<(), IoError> {
        Ok(())
    }
}

impl StartTlsCapable for Scripted {
    async fn upgrade_to_tls(&mut self) -> Result<(), IoError> {
        if self.tls_fails {
            return Err(IoError::new("handshake failed"));
        }
        let mut log = self.log.borrow_mut();
        let sent = log.written.len();
        log.plaintext.get_or_insert(sent);
        Ok(())
    }
}

fn now<F: Future>(f: F) -> F::Output {
    match std::pin::pin!(f).as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("a scripted server never makes the client wait"),
    }
}

const MESSAGE: &str =
    "From: a@ghosttools.test\r\nTo: b@example.com\r\nSubject: Sign in\r\n\r\nHello\r\n.\r\nBye\r\n";
const PASSWORD: &str = "hunter2-secret";

fn server(url: &str) -> SmtpServer {
    SmtpServer::from_url(&url::Url::parse(url).unwrap()).unwrap()
}

/// Runs our side of the conversation against `reads`.
fn converse(
    server: &SmtpServer,
    reads: Vec<Vec<u8>>,
    tls_fails: bool,
) -> (Result<(), SendError>, Rc<RefCell<Log>>) {
    let log = Rc::new(RefCell::new(Log::default()));
    let transport = Scripted { reads, next: 0, pending: Vec::new(), tls_fails, log: log.clone() };
    let envelope = Envelope { from: "a@ghosttools.test", to: "b@example.com", message: MESSAGE };
    (now(converse_starttls(transport, server, "ghosttools.test", &envelope)), log)
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// What a server's lines are made of: codes, separators, capabilities, junk.
fn line() -> impl Strategy<Value = String> {
    let code = prop_oneof![
        select(
            &[
                "220", "221", "235", "250", "334", "354", "421", "454", "500", "535", "550", "999", "2",
                "abc", ""
            ][..]
        )
        .prop_map(str::to_string),
        "[0-9]{3}",
    ];
    let sep = select(&[" ", "-", "", "\t", "="][..]);
    let text = prop_oneof![
        select(
            &[
                "STARTTLS",
                "starttls",
                "AUTH PLAIN LOGIN",
                "AUTH=LOGIN",
                "AUTH LOGIN",
                "AUTH XOAUTH2",
                "AUTH",
                "SIZE 10",
                "PIPELINING",
                "8BITMIME",
                "SMTPUTF8",
                "ENHANCEDSTATUSCODES",
                "2.0.0 OK",
                "5.7.1 no",
                "VXNlcm5hbWU6",
                "UGFzc3dvcmQ6",
                "smtp.example ESMTP",
                "",
            ][..]
        )
        .prop_map(str::to_string),
        any::<String>(),
        ".{0,1100}",
    ];
    let end = select(&["\r\n", "\r\n", "\n", "\r", ""][..]);
    (code, sep, text, end).prop_map(|(c, s, t, e)| format!("{c}{s}{t}{e}"))
}

/// A script: lines, glued, then cut into reads at arbitrary places.
fn script() -> impl Strategy<Value = Vec<Vec<u8>>> {
    (
        prop::collection::vec(prop_oneof![8 => line().prop_map(String::into_bytes), 1 => prop::collection::vec(any::<u8>(), 0..64)], 0..40),
        prop::collection::vec(1usize..2048, 0..40),
    )
        .prop_map(|(lines, cuts)| {
            let all = lines.concat();
            let mut reads = Vec::new();
            let mut rest = &all[..];
            for c in cuts {
                if rest.is_empty() {
                    break;
                }
                let (a, b) = rest.split_at(c.min(rest.len()));
                reads.push(a.to_vec());
                rest = b;
            }
            if !rest.is_empty() {
                reads.push(rest.to_vec());
            }
            reads
        })
}

/// A well-behaved server's replies, one per read, offering `caps` (and STARTTLS when asked).
fn polite(caps: &[&str], starttls: bool) -> Vec<Vec<u8>> {
    let ehlo = |caps: &[&str]| {
        let mut lines = vec!["smtp.example".to_string()];
        lines.extend(caps.iter().map(|c| c.to_string()));
        let n = lines.len();
        lines
            .iter()
            .enumerate()
            .map(|(i, l)| format!("250{}{l}\r\n", if i + 1 == n { " " } else { "-" }))
            .collect::<String>()
    };
    let mut r = vec!["220 smtp.example ESMTP\r\n".to_string()];
    if starttls {
        let mut before = caps.to_vec();
        before.retain(|c| !c.to_ascii_uppercase().starts_with("AUTH"));
        before.push("STARTTLS");
        r.push(ehlo(&before));
        r.push("220 2.0.0 Ready to start TLS\r\n".into());
    }
    r.push(ehlo(caps));
    if caps.iter().any(|c| c.to_ascii_uppercase().starts_with("AUTH ")) {
        r.push("235 2.7.0 Authentication successful\r\n".into());
    }
    for reply in [
        "250 2.1.0 Ok",
        "250 2.1.5 Ok",
        "354 End data with <CR><LF>.<CR><LF>",
        "250 2.0.0 Ok: queued",
        "221 2.0.0 Bye",
    ] {
        r.push(format!("{reply}\r\n"));
    }
    r.into_iter().map(String::into_bytes).collect()
}

proptest! {
    #![proptest_config(config(4))]

    /// The client holds at most a reply (128 lines of 998 bytes) and its read buffer, plus the
    /// message: linear in what the server sends, with a fixed part for the message and buffers.
    #[test]
    fn any_server_replies_end_the_conversation_without_leaking_credentials(
        reads in script(), tls_fails in any::<bool>(),
        url in select(&["smtp://apikey:hunter2-secret@smtp.example.com:587", "smtp://127.0.0.1:1025", "smtp://u:hunter2-secret@localhost:1025"][..]),
    ) {
        let server = server(url);
        let n: usize = reads.iter().map(Vec::len).sum();
        let (result, log) = bounded("smtp conversation", n, 8, 64 * 1024, || converse(&server, reads, tls_fails));
        let log = log.borrow();
        if !server.is_loopback() {
            prop_assert!(!contains(log.before_tls(), b"AUTH"), "AUTH sent in plaintext: {:?}", String::from_utf8_lossy(&log.written));
            prop_assert!(!contains(log.before_tls(), PASSWORD.as_bytes()));
        }
        if server.credentials.is_none() {
            prop_assert!(!contains(&log.written, b"AUTH"));
        }
        if result.is_ok() {
            prop_assert!(contains(&log.written, b"DATA\r\n") && contains(&log.written, b"Hello\r\n..\r\nBye"));
        }
    }

    /// Against a server that behaves, mail goes out: over TLS with AUTH to a remote host, in
    /// plaintext without AUTH to a loopback inbox that offers none (or only `AUTH=`).
    #[test]
    fn a_polite_server_gets_the_message(
        extra in prop::collection::vec(select(&["SIZE 35882577", "8BITMIME", "ENHANCEDSTATUSCODES", "SMTPUTF8", "DSN"][..]), 0..4),
        auth in select(&["AUTH PLAIN LOGIN", "AUTH PLAIN", "AUTH LOGIN PLAIN CRAM-MD5", "auth plain"][..]),
    ) {
        let mut caps = extra.clone();
        caps.push(auth);
        let remote = server("smtp://apikey:hunter2-secret@smtp.example.com:587");
        let (result, log) = converse(&remote, polite(&caps, true), false);
        prop_assert_eq!(result, Ok(()), "{}", String::from_utf8_lossy(&log.borrow().written));
        let log = log.borrow();
        prop_assert!(log.plaintext.is_some() && contains(&log.written, b"AUTH PLAIN") && !contains(log.before_tls(), b"AUTH"));

        let (result, log) = converse(&server("smtp://u:p@127.0.0.1:1025"), polite(&extra, false), false);
        prop_assert_eq!(result, Ok(()));
        prop_assert!(!contains(&log.borrow().written, b"AUTH"));

        // An old-style `AUTH=LOGIN` alone is no offer the client can take up: a loopback inbox
        // advertising only that gets the mail without AUTH.
        let mut old_style = extra.clone();
        old_style.push("AUTH=LOGIN");
        let (result, log) = converse(&server("smtp://u:p@127.0.0.1:1025"), polite(&old_style, false), false);
        prop_assert_eq!(result, Ok(()), "{}", String::from_utf8_lossy(&log.borrow().written));
        prop_assert!(!contains(&log.borrow().written, b"AUTH"));

        // A remote host that offers no STARTTLS never gets the credentials.
        let (result, log) = converse(&remote, polite(&caps, false), false);
        let insecure = matches!(result, Err(SendError::Insecure(_)));
        prop_assert!(insecure, "{:?}", result);
        prop_assert!(!contains(&log.borrow().written, b"AUTH"));

        // Nor does the link: without credentials, and without the operator's opt-out, a remote
        // host offering no STARTTLS gets no message; with the opt-out it gets it in plaintext.
        let mut relay = server("smtp://relay.example.com:587");
        let (result, log) = converse(&relay, polite(&extra, false), false);
        prop_assert!(matches!(result, Err(SendError::Insecure(_))), "{:?}", result);
        prop_assert!(!contains(&log.borrow().written, b"MAIL FROM"));
        relay.allow_plaintext = true;
        let (result, log) = converse(&relay, polite(&extra, false), false);
        prop_assert_eq!(result, Ok(()), "{}", String::from_utf8_lossy(&log.borrow().written));
    }
}

proptest! {
    #![proptest_config(config(1))]

    #[test]
    fn any_reply_line_parses_or_is_refused(line in prop::collection::vec(any::<u8>(), 0..1200)) {
        if let Ok(r) = parse_reply_line(&line) {
            prop_assert!(r.code <= 999 && line.len() >= 3);
        }
    }

    #[test]
    fn a_web_url_with_a_non_ascii_host_is_refused(host in "[A-Za-z0-9.]{0,8}[^\\x00-\\x7F]{1,4}[A-Za-z0-9.]{0,8}") {
        // No IDNA tables in the Worker (idna_adapter 1.0.0): a special scheme's host with non-ASCII
        // characters never parses (an smtp:// host is opaque: percent-encoded, never mapped).
        prop_assert!(url::Url::parse(&format!("https://{host}/")).is_err(), "{host}");
    }

    #[test]
    fn any_server_url_parses_or_is_refused(raw in "(smtps?|http)://[^ ]{0,40}") {
        if let Ok(u) = url::Url::parse(&raw) {
            let _ = SmtpServer::from_url(&u).map(|s| s.is_loopback());
        }
    }
}
