//! Stands in for the Hyperdrive service between the Worker and Postgres.
//!
//! Locally, wrangler's own Hyperdrive proxy crashes the whole `wrangler dev` process when
//! Postgres refuses a connection (an unhandled ECONNREFUSED), whereas in production Hyperdrive
//! stays up and the Worker sees a failed connection. This proxy keeps that production shape:
//! it always accepts, forwards to Postgres when it can, and otherwise answers the client's
//! startup with a Postgres `ErrorResponse` (SQLSTATE 08006, as a pooler does when its origin is
//! down) and waits for the client to hang up — never closing first, since wrangler's proxy
//! crashes on a write after the peer's FIN — so tests can stop and restart Postgres.
//!
//! It relays bytes ([`Mode::Relay`], for stacks that stop Postgres) or reads the protocol and
//! plays Hyperdrive's query cache and faults ([`Hyperdrive`]). The shared stack reads the
//! protocol with caching disabled, as production's `DB` config is created; stacks of their own
//! prove that the tests would notice a cached `DB`, and that the Worker retries a read
//! tokio-postgres could not follow.

use super::hyperdrive::{Caching, Hyperdrive};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What stands between the Worker and Postgres.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Bytes relayed as they come.
    #[default]
    Relay,
    /// The protocol read, as Hyperdrive with this caching would.
    Hyperdrive(Caching),
}

pub struct DbProxy {
    pub port: u16,
    /// The Hyperdrive played, unless the proxy relays bytes.
    pub hyperdrive: Option<Arc<Hyperdrive>>,
}

impl DbProxy {
    pub async fn start(upstream_port: u16, mode: Mode) -> DbProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind db proxy");
        let port = listener.local_addr().expect("proxy addr").port();
        let hyperdrive = match mode {
            Mode::Relay => None,
            Mode::Hyperdrive(caching) => Some(Arc::new(Hyperdrive::new(caching))),
        };
        let shared = hyperdrive.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(forward(client, upstream_port, shared.clone()));
            }
        });
        DbProxy { port, hyperdrive }
    }
}

async fn forward(mut client: TcpStream, upstream_port: u16, hyperdrive: Option<Arc<Hyperdrive>>) {
    match TcpStream::connect(("127.0.0.1", upstream_port)).await {
        Ok(upstream) => match hyperdrive {
            Some(hyperdrive) => {
                // Also after a Terminate, and whatever else ended it: the Worker closes its
                // socket then, and ours closing first is what crashes wrangler's proxy.
                let _ = hyperdrive.serve(&mut client, upstream).await;
                wait_for_hangup(&mut client).await;
            }
            None => relay(client, upstream).await,
        },
        Err(_) => {
            let _ = client.write_all(&origin_down()).await;
            wait_for_hangup(&mut client).await;
        }
    }
}

/// Reads and discards what the Worker still sends until it hangs up (at most 30 s), so this
/// side never closes first: wrangler's local Hyperdrive proxy crashes the whole `wrangler dev`
/// when it writes after the peer's FIN (EPIPE), where production's pooler stays up.
async fn wait_for_hangup(from_worker: &mut (impl AsyncReadExt + Unpin)) {
    let mut sink = [0u8; 4096];
    let drain = async { while matches!(from_worker.read(&mut sink).await, Ok(n) if n > 0) {} };
    let _ = tokio::time::timeout(Duration::from_secs(30), drain).await;
}

/// Relays bytes both ways, but never closes toward the Worker first. When Postgres ends a
/// connection (stopped by a test, or terminating its sessions), `copy_bidirectional` passed the
/// FIN on, and wrangler's local Hyperdrive proxy then wrote after it and crashed the whole
/// `wrangler dev` (EPIPE; seen once in a `make test` of the database-outage test), whereas
/// production's pooler stays up. So the Worker's side stays open, read and discarded, until the
/// Worker hangs up (bounded). A Postgres stopped by `pg_ctl` tells its sessions first (FATAL
/// 57P01), so the Worker's client fails at once; one killed outright would leave it waiting.
async fn relay(client: TcpStream, upstream: TcpStream) {
    let (mut from_worker, mut to_worker) = client.into_split();
    let (mut from_pg, mut to_pg) = upstream.into_split();
    let up = async move {
        let _ = tokio::io::copy(&mut from_worker, &mut to_pg).await;
        let _ = to_pg.shutdown().await;
        from_worker
    };
    let down = async move {
        let _ = tokio::io::copy(&mut from_pg, &mut to_worker).await;
        to_worker
    };
    let (mut from_worker, to_worker) = tokio::join!(up, down);
    wait_for_hangup(&mut from_worker).await;
    drop(to_worker);
}

/// A Postgres ErrorResponse message: FATAL 08006 connection_failure.
fn origin_down() -> Vec<u8> {
    let mut fields = Vec::new();
    for (code, value) in
        [(b'S', "FATAL"), (b'V', "FATAL"), (b'C', "08006"), (b'M', "origin database is unreachable")]
    {
        fields.push(code);
        fields.extend_from_slice(value.as_bytes());
        fields.push(0);
    }
    fields.push(0);
    let mut msg = vec![b'E'];
    msg.extend_from_slice(&((fields.len() + 4) as u32).to_be_bytes());
    msg.extend_from_slice(&fields);
    msg
}
