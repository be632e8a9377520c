//! Stands in for the Hyperdrive service between the Worker and Postgres.
//!
//! Locally, wrangler's own Hyperdrive proxy crashes the whole `wrangler dev` process when
//! Postgres refuses a connection (an unhandled ECONNREFUSED), whereas in production Hyperdrive
//! stays up and the Worker sees a failed connection. This proxy keeps that production shape:
//! it always accepts, forwards to Postgres when it can, and otherwise closes the connection
//! gracefully (FIN after draining, never a reset), so tests can stop and restart Postgres.

use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub struct DbProxy {
    pub port: u16,
}

impl DbProxy {
    pub async fn start(upstream_port: u16) -> DbProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind db proxy");
        let port = listener.local_addr().expect("proxy addr").port();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(forward(client, upstream_port));
            }
        });
        DbProxy { port }
    }
}

async fn forward(mut client: TcpStream, upstream_port: u16) {
    match TcpStream::connect(("127.0.0.1", upstream_port)).await {
        Ok(mut upstream) => {
            let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
        }
        Err(_) => {
            let _ = client.shutdown().await;
            let mut sink = [0u8; 4096];
            let drain = async { while matches!(client.read(&mut sink).await, Ok(n) if n > 0) {} };
            let _ = tokio::time::timeout(Duration::from_secs(10), drain).await;
        }
    }
}
