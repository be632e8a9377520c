//! A TCP relay in front of a fake that a test can take down and bring back: `down()` closes the
//! listening socket (new connections are refused, as when a service is unreachable) and cuts
//! every connection in flight (kept-alive ones included); `up()` listens on the same port again.
//! Point the Worker at `url()` instead of the fake to break that one service for one stack.

use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

#[derive(Default)]
struct Tasks {
    accept: Option<JoinHandle<()>>,
    live: Vec<JoinHandle<()>>,
}

pub struct Relay {
    pub port: u16,
    upstream: u16,
    tasks: Arc<Mutex<Tasks>>,
}

impl Relay {
    pub async fn start(upstream: u16) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind relay");
        let port = listener.local_addr().expect("relay addr").port();
        let relay = Relay { port, upstream, tasks: Arc::default() };
        relay.serve(listener);
        relay
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn serve(&self, listener: TcpListener) {
        let (tasks, upstream) = (self.tasks.clone(), self.upstream);
        let accept = tokio::spawn({
            let tasks = tasks.clone();
            async move {
                while let Ok((mut client, _)) = listener.accept().await {
                    let conn = tokio::spawn(async move {
                        if let Ok(mut up) = TcpStream::connect(("127.0.0.1", upstream)).await {
                            let _ = tokio::io::copy_bidirectional(&mut client, &mut up).await;
                        }
                    });
                    let mut t = tasks.lock().unwrap();
                    t.live.retain(|h| !h.is_finished());
                    t.live.push(conn);
                }
            }
        });
        tasks.lock().unwrap().accept = Some(accept);
    }

    /// Refuses new connections and cuts the open ones.
    pub async fn down(&self) {
        let (accept, live) = {
            let mut t = self.tasks.lock().unwrap();
            (t.accept.take(), std::mem::take(&mut t.live))
        };
        for h in live.into_iter().chain(accept) {
            h.abort();
            let _ = h.await;
        }
        // Nothing listens any more: a connection attempt is refused.
        assert!(TcpStream::connect(("127.0.0.1", self.port)).await.is_err(), "the relay still listens");
    }

    /// Listens on the same port again.
    pub async fn up(&self) {
        for _ in 0..100 {
            if let Ok(listener) = TcpListener::bind(("127.0.0.1", self.port)).await {
                self.serve(listener);
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("could not listen on 127.0.0.1:{} again", self.port);
    }
}
