//! What a handler answers: status, headers and a body, independent of the Worker runtime so that
//! handlers and views can be tested natively. `app` turns it into the runtime's `Response`
//! (see `respond`).

use serde::Serialize;
use std::borrow::Cow;

pub enum Body {
    Empty,
    Html(String),
    Json(String),
    Text(String),
    Bytes {
        content_type: String,
        bytes: Vec<u8>,
    },
    /// A body produced while the response is sent (a relayed OpenAI stream).
    Stream(worker::web_sys::ReadableStream),
}

pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Body,
    /// One more origin this page's forms may lead to (added to the CSP's `form-action`).
    pub form_action: Option<String>,
}

impl Reply {
    pub fn new(status: u16, body: Body) -> Reply {
        Reply { status, headers: Vec::new(), body, form_action: None }
    }

    pub fn html(html: String) -> Reply {
        Reply::new(200, Body::Html(html))
    }

    pub fn json<T: Serialize>(value: &T) -> Reply {
        // Serializing our own plain structs cannot fail; fall back to an empty object regardless.
        Reply::new(200, Body::Json(serde_json::to_string(value).unwrap_or_else(|_| "{}".into())))
    }

    pub fn text(text: impl Into<String>) -> Reply {
        Reply::new(200, Body::Text(text.into()))
    }

    /// 303 See Other: the answer to a form POST, and to links that moved.
    pub fn redirect(location: impl Into<String>) -> Reply {
        Reply::new(303, Body::Empty).with_header("Location", location)
    }

    pub fn with_status(mut self, status: u16) -> Reply {
        self.status = status;
        self
    }

    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> Reply {
        self.headers.push((name.to_string(), value.into()));
        self
    }

    /// Lets this page's forms lead to `origin` (a form POST answered by a redirect there).
    pub fn with_form_action(mut self, origin: Option<String>) -> Reply {
        self.form_action = origin;
        self
    }

    /// For answers that must never be stored by a browser or a shared cache.
    pub fn no_store(self) -> Reply {
        self.with_header("Cache-Control", "no-store")
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn content_type(&self) -> Option<Cow<'static, str>> {
        match &self.body {
            Body::Empty => None,
            Body::Html(_) => Some(Cow::Borrowed("text/html; charset=utf-8")),
            Body::Json(_) => Some(Cow::Borrowed("application/json")),
            Body::Text(_) => Some(Cow::Borrowed("text/plain; charset=utf-8")),
            Body::Bytes { content_type, .. } => Some(Cow::Owned(content_type.clone())),
            Body::Stream(_) => None,
        }
    }
}
