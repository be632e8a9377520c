//! Hands a reply to the runtime as a `Response` in one call across the wasm boundary.
//!
//! Building it through `worker::Headers` costs a call per header, each decoding two strings
//! out of wasm memory, and a page carries about fifteen headers: that was a quarter of a landing
//! page's CPU (`bench/profile.mjs`). Here the headers travel as one string, split in JS, and the
//! body is copied once. The headers reach `Response` as a plain object, which workerd takes
//! fastest (measured: 31 µs per response with fifteen headers, against 38 µs for `Headers.set`
//! in JS and 54 µs for an array of pairs); a repeated name (Set-Cookie) needs `Headers.append`.

use std::borrow::Cow;
use wasm_bindgen::prelude::*;
use worker::web_sys;

#[wasm_bindgen(inline_js = r#"
export function respond(status, head, repeated, body) {
  const parts = head.length > 0 ? head.split("\n") : [];
  let headers;
  if (repeated) {
    headers = new Headers();
    for (let i = 0; i + 1 < parts.length; i += 2) headers.append(parts[i], parts[i + 1]);
  } else {
    headers = {};
    for (let i = 0; i + 1 < parts.length; i += 2) headers[parts[i]] = parts[i + 1];
  }
  // A byte body arrives as a view of wasm memory: copy it before the memory can change.
  return new Response(body instanceof Uint8Array ? body.slice() : body, { status, headers });
}
"#)]
extern "C" {
    /// `body`: null, or a ReadableStream.
    #[wasm_bindgen(catch, js_name = respond)]
    fn respond_with(
        status: u16,
        head: &str,
        repeated: bool,
        body: &JsValue,
    ) -> Result<web_sys::Response, JsValue>;
    #[wasm_bindgen(catch, js_name = respond)]
    fn respond_with_bytes(
        status: u16,
        head: &str,
        repeated: bool,
        body: &[u8],
    ) -> Result<web_sys::Response, JsValue>;
}

pub enum Body<'a> {
    Empty,
    Bytes(&'a [u8]),
    Stream(&'a web_sys::ReadableStream),
}

pub fn response(status: u16, headers: &HeaderList, body: Body) -> worker::Result<web_sys::Response> {
    let (head, repeated) = (headers.joined(), headers.repeated);
    let made = match body {
        Body::Empty => respond_with(status, &head, repeated, &JsValue::NULL),
        Body::Bytes(bytes) => respond_with_bytes(status, &head, repeated, bytes),
        Body::Stream(stream) => respond_with(status, &head, repeated, stream),
    };
    made.map_err(worker::Error::from)
}

/// Response headers in order. `set` replaces a header of the same name, `append` adds another
/// (Set-Cookie). Names and values holding a line break or NUL are refused (`Err` names it):
/// HTTP forbids them, and they would break the joined form.
#[derive(Debug, Default)]
pub struct HeaderList {
    list: Vec<(Cow<'static, str>, Cow<'static, str>)>,
    /// A name occurs more than once.
    repeated: bool,
}

impl HeaderList {
    pub fn set(
        &mut self,
        name: impl Into<Cow<'static, str>>,
        value: impl Into<Cow<'static, str>>,
    ) -> Result<(), String> {
        let name = name.into();
        self.list.retain(|(n, _)| !n.eq_ignore_ascii_case(&name));
        self.repeated = self.repeated && self.names_repeat();
        self.append(name, value)
    }

    pub fn append(
        &mut self,
        name: impl Into<Cow<'static, str>>,
        value: impl Into<Cow<'static, str>>,
    ) -> Result<(), String> {
        let (name, value) = (name.into(), value.into());
        let bad = |s: &str| s.bytes().any(|b| matches!(b, b'\n' | b'\r' | 0));
        if name.is_empty() || bad(&name) || bad(&value) {
            return Err(format!("header {name:?} has a line break or NUL; left out"));
        }
        self.repeated |= self.get(&name).is_some();
        self.list.push((name, value));
        Ok(())
    }

    fn names_repeat(&self) -> bool {
        self.list
            .iter()
            .enumerate()
            .any(|(i, (a, _))| self.list[..i].iter().any(|(b, _)| a.eq_ignore_ascii_case(b)))
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.list.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_ref())
    }

    /// `name\nvalue\nname\nvalue…`, what `respond` splits.
    fn joined(&self) -> String {
        let mut out = String::with_capacity(self.list.iter().map(|(n, v)| n.len() + v.len() + 2).sum());
        // Names and values were checked for line breaks on the way in.
        for (name, value) in &self.list {
            if !out.is_empty() {
                out.push('\n');
            }
            out.push_str(name);
            out.push('\n');
            out.push_str(value);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_replaces_append_adds_and_the_list_joins_in_order() {
        let mut h = HeaderList::default();
        h.set("Cache-Control", "no-store").unwrap();
        h.append("Set-Cookie", "a=1").unwrap();
        assert!(!h.repeated);
        h.append("Set-Cookie", "b=2").unwrap();
        assert!(h.repeated, "two cookies need Headers.append");
        h.set("cache-control", "max-age=60").unwrap();
        assert!(h.repeated);
        assert_eq!(h.get("CACHE-CONTROL"), Some("max-age=60"));
        assert_eq!(h.joined(), "Set-Cookie\na=1\nSet-Cookie\nb=2\ncache-control\nmax-age=60");
        h.set("set-cookie", "c=3").unwrap();
        assert!(!h.repeated, "set replaced both cookies");
        assert_eq!(HeaderList::default().joined(), "");
    }

    #[test]
    fn line_breaks_cannot_smuggle_headers() {
        let mut h = HeaderList::default();
        assert!(h.set("Location", "/x\r\nSet-Cookie: evil=1").is_err());
        assert!(h.append("X\nY", "1").is_err());
        assert!(h.append("", "1").is_err());
        assert_eq!(h.joined(), "");
    }
}
