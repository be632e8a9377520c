//! An SMTP sink on 127.0.0.1 that records every message it accepts: EHLO, AUTH PLAIN/LOGIN,
//! MAIL, RCPT, DATA (dot-unstuffed), RSET, NOOP, QUIT. No STARTTLS (not advertised), so the
//! Worker's plaintext path is what runs here. `Mode::RefuseAuth` answers 535 to AUTH;
//! `Mode::NoAuth` offers no AUTH at all, like the dev inbox. A recipient whose address starts
//! with `rejected.` is refused with a 550 that names it, as real servers do.

use base64::Engine;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Accept,
    RefuseAuth,
    /// Like a local dev inbox (maildev): AUTH is neither advertised nor accepted.
    NoAuth,
}

#[derive(Clone, Debug)]
pub struct Mail {
    pub auth_user: Option<String>,
    pub auth_pass: Option<String>,
    pub from: String,
    pub to: Vec<String>,
    /// The message as sent after DATA (headers and body), dot-unstuffed.
    pub data: String,
}

impl Mail {
    /// The decoded Subject header.
    pub fn subject(&self) -> String {
        let msg = mail_parser::MessageParser::default().parse(self.data.as_bytes()).expect("the mail parses");
        msg.subject().unwrap_or_default().to_string()
    }
}

#[derive(Clone)]
pub struct SmtpSink {
    pub addr: SocketAddr,
    mails: Arc<Mutex<Vec<Mail>>>,
    /// While set, the sink accepts connections and says nothing (a mail server that hangs).
    stalled: Arc<AtomicBool>,
    /// While set, the sink greets with 421 and hangs up (a mail server that is down).
    refusing: Arc<AtomicBool>,
    /// Every command's verb as it arrived (EHLO, AUTH, MAIL…), from every connection.
    verbs: Arc<Mutex<Vec<String>>>,
}

pub const USER: &str = "e2e-user";
pub const PASS: &str = "e2e-pass";

impl SmtpSink {
    pub async fn start(mode: Mode) -> SmtpSink {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind smtp");
        let addr = listener.local_addr().expect("smtp addr");
        let mails = Arc::new(Mutex::new(Vec::new()));
        let stalled = Arc::new(AtomicBool::new(false));
        let refusing = Arc::new(AtomicBool::new(false));
        let verbs = Arc::new(Mutex::new(Vec::new()));
        let (store, stall, refuse, heard) = (mails.clone(), stalled.clone(), refusing.clone(), verbs.clone());
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let (store, stall, heard) = (store.clone(), stall.clone(), heard.clone());
                if refuse.load(Ordering::SeqCst) {
                    let _ = stream.write_all(b"421 4.3.2 sink.e2e is down for the test\r\n").await;
                    continue;
                }
                tokio::spawn(async move {
                    if stall.load(Ordering::SeqCst) {
                        // Holds the connection, silent, for longer than any client waits.
                        tokio::time::sleep(Duration::from_secs(60)).await;
                        drop(stream);
                        return;
                    }
                    let _ = session(stream, mode, store, heard).await;
                });
            }
        });
        SmtpSink { addr, mails, stalled, refusing, verbs }
    }

    /// From now on, new connections are refused at once (421), or, with `false`, work again.
    pub fn refuse(&self, refusing: bool) {
        self.refusing.store(refusing, Ordering::SeqCst);
    }

    /// From now on, new connections hang without a greeting (or, with `false`, work again).
    pub fn stall(&self, stalled: bool) {
        self.stalled.store(stalled, Ordering::SeqCst);
    }

    /// The `EMAIL_SERVER` value that points the Worker here.
    pub fn url(&self) -> String {
        format!("smtp://{USER}:{PASS}@127.0.0.1:{}", self.addr.port())
    }

    /// The verbs of every command received so far (e.g. whether AUTH was ever sent).
    pub fn verbs(&self) -> Vec<String> {
        self.verbs.lock().unwrap().clone()
    }

    pub fn mails(&self) -> Vec<Mail> {
        self.mails.lock().unwrap().clone()
    }

    pub fn mails_to(&self, rcpt: &str) -> Vec<Mail> {
        self.mails().into_iter().filter(|m| m.to.iter().any(|t| t.eq_ignore_ascii_case(rcpt))).collect()
    }

    /// The messages to `rcpt` whose subject contains `needle`.
    pub fn mails_about(&self, rcpt: &str, needle: &str) -> Vec<Mail> {
        self.mails_to(rcpt).into_iter().filter(|m| m.subject().contains(needle)).collect()
    }

    /// Waits up to `secs` for a message to `rcpt` whose subject contains `needle`.
    pub async fn wait_for_mail_about(&self, rcpt: &str, needle: &str, secs: u64) -> Option<Mail> {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while Instant::now() < deadline {
            if let Some(m) = self.mails_about(rcpt, needle).pop() {
                return Some(m);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        None
    }

    /// Waits up to 10 s for a message to `rcpt`.
    pub async fn wait_for_mail_to(&self, rcpt: &str) -> Option<Mail> {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Some(m) = self.mails_to(rcpt).pop() {
                return Some(m);
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        None
    }
}

fn b64(s: &str) -> String {
    String::from_utf8_lossy(&base64::engine::general_purpose::STANDARD.decode(s.trim()).unwrap_or_default())
        .into_owned()
}

async fn session(
    stream: TcpStream,
    mode: Mode,
    store: Arc<Mutex<Vec<Mail>>>,
    verbs: Arc<Mutex<Vec<String>>>,
) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    let mut line = String::new();
    write.write_all(b"220 sink.e2e ESMTP ready\r\n").await?;
    let (mut user, mut pass, mut from, mut to) = (None, None, String::new(), Vec::new());
    macro_rules! read_line {
        () => {{
            line.clear();
            if lines.read_line(&mut line).await? == 0 {
                return Ok(());
            }
            line.trim_end_matches(['\r', '\n']).to_string()
        }};
    }
    loop {
        let cmd = read_line!();
        let upper = cmd.to_ascii_uppercase();
        verbs.lock().unwrap().push(upper.split(' ').next().unwrap_or_default().to_string());
        let reply: String = if upper.starts_with("EHLO") && mode == Mode::NoAuth {
            "250-sink.e2e\r\n250-8BITMIME\r\n250 SIZE 10485760".into()
        } else if upper.starts_with("AUTH") && mode == Mode::NoAuth {
            "502 5.5.1 AUTH not available".into()
        } else if upper.starts_with("EHLO") {
            "250-sink.e2e\r\n250-AUTH PLAIN LOGIN\r\n250-8BITMIME\r\n250 SIZE 10485760".into()
        } else if upper.starts_with("HELO") {
            "250 sink.e2e".into()
        } else if upper.starts_with("AUTH PLAIN") {
            let initial = cmd[10..].trim().to_string();
            let creds = if initial.is_empty() {
                write.write_all(b"334 \r\n").await?;
                b64(&read_line!())
            } else {
                b64(&initial)
            };
            let mut parts = creds.split('\0').skip(1);
            user = parts.next().map(str::to_string);
            pass = parts.next().map(str::to_string);
            auth_reply(mode)
        } else if upper.starts_with("AUTH LOGIN") {
            write.write_all(b"334 VXNlcm5hbWU6\r\n").await?;
            user = Some(b64(&read_line!()));
            write.write_all(b"334 UGFzc3dvcmQ6\r\n").await?;
            pass = Some(b64(&read_line!()));
            auth_reply(mode)
        } else if upper.starts_with("MAIL FROM:") {
            from = addr_of(&cmd[10..]);
            to.clear();
            "250 2.1.0 OK".into()
        } else if upper.starts_with("RCPT TO:") {
            let rcpt = addr_of(&cmd[8..]);
            if rcpt.starts_with("rejected.") {
                // As real servers do, the refusal names the address (which must not reach a log).
                format!(
                    "550 5.1.1 <{rcpt}>: Recipient address rejected: User unknown in virtual mailbox table"
                )
            } else {
                to.push(rcpt);
                "250 2.1.5 OK".into()
            }
        } else if upper == "DATA" {
            write.write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n").await?;
            let mut data = String::new();
            loop {
                let l = read_line!();
                if l == "." {
                    break;
                }
                data.push_str(l.strip_prefix('.').unwrap_or(&l));
                data.push_str("\r\n");
            }
            store.lock().unwrap().push(Mail {
                auth_user: user.clone(),
                auth_pass: pass.clone(),
                from: from.clone(),
                to: to.clone(),
                data,
            });
            "250 2.0.0 OK queued".into()
        } else if upper == "RSET" || upper == "NOOP" {
            "250 OK".into()
        } else if upper == "QUIT" {
            write.write_all(b"221 2.0.0 Bye\r\n").await?;
            return Ok(());
        } else {
            "502 5.5.2 Command not recognized".into()
        };
        write.write_all(reply.as_bytes()).await?;
        write.write_all(b"\r\n").await?;
    }
}

fn auth_reply(mode: Mode) -> String {
    match mode {
        Mode::Accept => "235 2.7.0 Authentication successful".into(),
        Mode::RefuseAuth | Mode::NoAuth => "535 5.7.8 Authentication credentials invalid".into(),
    }
}

fn addr_of(s: &str) -> String {
    let s = s.trim();
    let inner = s.split_whitespace().next().unwrap_or("");
    inner.trim_start_matches('<').trim_end_matches('>').to_string()
}
