//! A recording HTTP server on 127.0.0.1: every request a fake receives is kept (method, path,
//! headers, raw body) so tests can assert on exactly what the Worker sent.

use axum::body::{to_bytes, Body, Bytes};
use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::middleware::{from_fn_with_state, Next};
use axum::response::Response;
use axum::Router;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{} body is not JSON ({e}): {}", self.path, self.text()))
    }
    /// The body as `application/x-www-form-urlencoded` pairs, in order, decoded.
    pub fn form(&self) -> Vec<(String, String)> {
        url::form_urlencoded::parse(&self.body).into_owned().collect()
    }
}

/// Every request, and for each whether the fake is done with it (a delayed one may finish long
/// after the Worker gave up on it).
#[derive(Clone, Default)]
pub struct Recorder(Arc<Mutex<Vec<(Recorded, bool)>>>);

impl Recorder {
    pub fn all(&self) -> Vec<Recorded> {
        self.0.lock().unwrap().iter().map(|(r, _)| r.clone()).collect()
    }

    /// Waits (up to `timeout`) until the fake is done with every request matching `pred`
    /// (answered, or dropped when the client went away): what they did to its state is done.
    /// `false` on timeout.
    pub async fn wait_done(&self, timeout: Duration, pred: impl Fn(&Recorded) -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        while self.0.lock().unwrap().iter().any(|(r, done)| !done && pred(r)) {
            if Instant::now() > deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        true
    }

    pub fn matching(&self, pred: impl Fn(&Recorded) -> bool) -> Vec<Recorded> {
        self.all().into_iter().filter(|r| pred(r)).collect()
    }

    /// Waits (up to `timeout`) for a request matching `pred`: some calls happen after the
    /// response (`wait_until`).
    pub async fn wait_for(&self, timeout: Duration, pred: impl Fn(&Recorded) -> bool) -> Option<Recorded> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(r) = self.all().into_iter().find(|r| pred(r)) {
                return Some(r);
            }
            if Instant::now() > deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Keeps `r`, not yet done; returns its place.
    fn push(&self, r: Recorded) -> usize {
        let mut all = self.0.lock().unwrap();
        all.push((r, false));
        all.len() - 1
    }

    fn done(&self, at: usize) {
        // Not `unwrap`: this runs in a drop, perhaps while a panic unwinds.
        if let Ok(mut all) = self.0.lock() {
            all[at].1 = true;
        }
    }
}

pub struct FakeServer {
    pub name: &'static str,
    pub addr: SocketAddr,
    pub recorder: Recorder,
}

impl FakeServer {
    /// Serves `router` on a free port of 127.0.0.1, recording every request.
    pub async fn start(name: &'static str, router: Router) -> FakeServer {
        FakeServer::start_on(name, router, 0).await
    }

    /// Serves `router` on `port` of 127.0.0.1 (0: a free one), recording every request.
    pub async fn start_on(name: &'static str, router: Router, port: u16) -> FakeServer {
        let recorder = Recorder::default();
        let app = router.layer(from_fn_with_state(recorder.clone(), record));
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .unwrap_or_else(|e| panic!("{name}: cannot listen on 127.0.0.1:{port}: {e}"));
        let addr = listener.local_addr().expect("fake addr");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeServer { name, addr, recorder }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

async fn record(State(recorder): State<Recorder>, req: Request, next: Next) -> Response {
    let (parts, body) = req.into_parts();
    let bytes = to_bytes(body, 64 * 1024 * 1024).await.unwrap_or_default();
    let at = recorder.push(Recorded {
        method: parts.method.to_string(),
        path: parts.uri.path().to_string(),
        query: parts.uri.query().map(str::to_string),
        headers: parts.headers.clone(),
        body: bytes.clone(),
    });
    let _done = Done(recorder, at);
    next.run(Request::from_parts(parts, Body::from(bytes))).await
}

/// Marks its request done when dropped: after the answer, or when the handler is dropped.
struct Done(Recorder, usize);

impl Drop for Done {
    fn drop(&mut self) {
        self.0.done(self.1);
    }
}

/// The fakes' HTTP client (a webhook's delivery, Stripe's page posting back): no connection
/// kept idle past 2 s, as the e2e suite's clients (`support::client`): wrangler dev's server
/// closes an idle keep-alive connection after 5 s, and a request sent on one as it closes
/// fails with `IncompleteMessage`.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder().pool_idle_timeout(Duration::from_secs(2)).build().expect("http client")
}
