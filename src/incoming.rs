//! The request as the runtime hands it over, turned into a `worker::Request` only when a handler
//! asks for one. `worker::Request::from` reads `request.cf`, which workerd builds anew for every
//! access; a page that never reads its body or `cf` should not pay for it (it was a tenth of a
//! page view's CPU, measured with `bench/profile.mjs`).

use std::cell::OnceCell;
use std::ops::{Deref, DerefMut};
use worker::web_sys;
use worker::{Headers, Method, Request};

pub struct Incoming {
    raw: web_sys::Request,
    full: OnceCell<Request>,
}

impl Incoming {
    pub fn new(raw: web_sys::Request) -> Incoming {
        Incoming { raw, full: OnceCell::new() }
    }

    /// The method, and whether it is one `worker::Method` names (it reads any other name as
    /// GET).
    pub fn method(&self) -> (Method, bool) {
        const KNOWN: [&str; 10] =
            ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE", "REPORT"];
        let name = self.raw.method();
        let known = KNOWN.contains(&name.as_str());
        (Method::from(name), known)
    }

    /// The path of the URL (no query, no fragment).
    pub fn path(&self) -> String {
        path_of(&self.raw.url())
    }

    pub fn headers(&self) -> Headers {
        Headers(self.raw.headers())
    }

    /// Another handle on the same JS request (not `Request.clone()`, which copies the body).
    fn handle(&self) -> web_sys::Request {
        Clone::clone(&self.raw)
    }
}

/// Handlers take `&mut Request` (or `&Request`) and get the converted request.
impl Deref for Incoming {
    type Target = Request;
    fn deref(&self) -> &Request {
        self.full.get_or_init(|| Request::from(self.handle()))
    }
}

impl DerefMut for Incoming {
    fn deref_mut(&mut self) -> &mut Request {
        if self.full.get().is_none() {
            let _ = self.full.set(Request::from(self.handle()));
        }
        match self.full.get_mut() {
            Some(request) => request,
            None => unreachable!("the request was converted just above"),
        }
    }
}

/// The path of an already-serialized WHATWG URL (what `Request.url` returns): after the host,
/// up to `?` or `#`, which are always percent-encoded inside a path.
fn path_of(url: &str) -> String {
    let Some(host_start) = url.find("://").map(|i| i + 3) else {
        return if url.starts_with('/') { url.to_string() } else { format!("/{url}") };
    };
    match url[host_start..].find('/') {
        Some(i) => {
            let path = &url[host_start + i..];
            path[..path.find(['?', '#']).unwrap_or(path.len())].to_string()
        }
        None => "/".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::path_of;

    #[test]
    fn the_path_stops_at_the_query_or_fragment() {
        assert_eq!(path_of("https://ghosttools.app/dashboard?next=%2F#top"), "/dashboard");
        assert_eq!(path_of("http://127.0.0.1:8787/api/health"), "/api/health");
        assert_eq!(path_of("https://ghosttools.app"), "/");
        assert_eq!(path_of("https://ghosttools.app/#x"), "/");
        assert_eq!(path_of("/relative"), "/relative");
    }
}
