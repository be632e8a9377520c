//! The database connection's TCP socket (`cloudflare:sockets`) as tokio-postgres reads and
//! writes it.
//!
//! Why not `worker::Socket`: it takes the stream's reader for every read and its writer for every
//! write, and releases the lock after each. A CPU profile of `/api/health` (`make bench`,
//! `BENCH_PROFILE=health@inner`) had that lock traffic (`getReader`, `getWriter`, two
//! `releaseLock`s) at ~11% of the isolate's time, more than the query itself, and reading each
//! chunk's `done` and `value` through `Reflect.get` on top. Here the socket holds its reader and
//! writer for its life, a chunk arrives as a plain `Uint8Array` (or null at the end) and is
//! copied straight into tokio's buffer (what does not fit is kept as a view, not a copy).
//!
//! A write returns once the stream has the bytes; the next write, a flush or the shutdown waits
//! for it, so one write is in flight at most and its error surfaces there.

use futures_util::FutureExt;
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_postgres::tls::{ChannelBinding, TlsConnect, TlsStream};
use worker::js_sys::{self, Promise, Uint8Array};
use worker::wasm_bindgen::{self, prelude::*, JsCast};
use worker::wasm_bindgen_futures::JsFuture;
use worker::web_sys::{ReadableStreamDefaultReader, WritableStreamDefaultWriter};
use worker::worker_sys;

#[wasm_bindgen(inline_js = r#"
export function readChunk(reader) {
  return reader.read().then((r) => (r.done ? null : r.value));
}
export function address(hostname, port, starttls) {
  return [{ hostname, port }, { allowHalfOpen: false, secureTransport: starttls ? "starttls" : "off" }];
}
"#)]
extern "C" {
    /// The next chunk of `reader` (a `Uint8Array`), or null once the stream has ended.
    #[wasm_bindgen(js_name = readChunk)]
    fn read_chunk(reader: &ReadableStreamDefaultReader) -> Promise;
    /// `connect`'s two arguments.
    fn address(hostname: &str, port: u16, starttls: bool) -> js_sys::Array;
}

pub struct Tcp {
    socket: worker_sys::Socket,
    reader: ReadableStreamDefaultReader,
    writer: WritableStreamDefaultWriter,
    reading: Option<JsFuture>,
    /// What did not fit the last read's buffer: the chunk and how much of it was taken.
    rest: Option<(Uint8Array, u32)>,
    writing: Option<JsFuture>,
    closing: Option<JsFuture>,
    /// Our side is closed: a second shutdown is a no-op, not a second `close()`.
    shut: bool,
}

impl Tcp {
    /// Opens a connection to `host:port`; `starttls`: TLS may be started later (`StartTls`).
    pub fn connect(host: &str, port: u16, starttls: bool) -> io::Result<Tcp> {
        let args = address(host, port, starttls);
        let socket = worker_sys::connect(args.get(0), args.get(1)).map_err(io_error)?;
        Tcp::over(socket)
    }

    fn over(socket: worker_sys::Socket) -> io::Result<Tcp> {
        let reader = socket.readable().map_err(io_error)?.get_reader().unchecked_into();
        let writer = socket.writable().map_err(io_error)?.get_writer().map_err(io_error)?;
        Ok(Tcp {
            socket,
            reader,
            writer,
            reading: None,
            rest: None,
            writing: None,
            closing: None,
            shut: false,
        })
    }

    /// Copies as much of `chunk` from `from` as `buf` takes; keeps the rest for the next read.
    fn fill(&mut self, buf: &mut ReadBuf<'_>, chunk: Uint8Array, from: u32) {
        let len = chunk.length();
        let n = (len - from).min(u32::try_from(buf.remaining()).unwrap_or(u32::MAX));
        let into = buf.initialize_unfilled_to(n as usize);
        if from == 0 && n == len {
            chunk.copy_to(into);
        } else {
            chunk.subarray(from, from + n).copy_to(into);
        }
        buf.advance(n as usize);
        if from + n < len {
            self.rest = Some((chunk, from + n));
        }
    }

    /// Waits for the write in flight, if any.
    fn poll_written(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let Some(writing) = self.writing.as_mut() else {
            return Poll::Ready(Ok(()));
        };
        let done = ready!(writing.poll_unpin(cx));
        self.writing = None;
        Poll::Ready(done.map(drop).map_err(io_error))
    }
}

impl AsyncRead for Tcp {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        if let Some((chunk, from)) = this.rest.take() {
            this.fill(buf, chunk, from);
            return Poll::Ready(Ok(()));
        }
        loop {
            let reading = this.reading.get_or_insert_with(|| JsFuture::from(read_chunk(&this.reader)));
            let chunk = ready!(reading.poll_unpin(cx));
            this.reading = None;
            let chunk = chunk.map_err(io_error)?;
            if chunk.is_null() {
                return Poll::Ready(Ok(())); // the end: nothing filled
            }
            let chunk: Uint8Array = chunk.unchecked_into();
            // An empty chunk is not the end: filling nothing would say it is.
            if chunk.length() > 0 {
                this.fill(buf, chunk, 0);
                return Poll::Ready(Ok(()));
            }
        }
    }
}

impl AsyncWrite for Tcp {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        if data.is_empty() {
            return Poll::Ready(Ok(0));
        }
        ready!(self.poll_written(cx))?;
        // `from` copies: wasm memory may move or change before the stream takes the bytes.
        let chunk = Uint8Array::from(data);
        self.writing = Some(JsFuture::from(self.writer.write_with_chunk(&chunk)));
        Poll::Ready(Ok(data.len()))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_written(cx)
    }

    /// Closes our side once the last write is through (as `worker::Socket` does).
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.shut {
            return Poll::Ready(Ok(()));
        }
        ready!(self.poll_written(cx))?;
        let this = &mut *self;
        let closing = this.closing.get_or_insert_with(|| JsFuture::from(this.writer.close()));
        let closed = ready!(closing.poll_unpin(cx));
        (this.closing, this.shut) = (None, true);
        Poll::Ready(closed.map(drop).map_err(io_error))
    }
}

/// TLS by the runtime (`startTls`), for a socket opened with `starttls`: tokio-postgres asks for
/// it after the server agreed to SSL.
pub struct StartTls;

impl TlsConnect<Tcp> for StartTls {
    type Stream = Tcp;
    type Error = io::Error;
    type Future = std::future::Ready<io::Result<Tcp>>;

    fn connect(self, plain: Tcp) -> Self::Future {
        // The streams are handed over to TLS unlocked, with nothing read or written pending
        // (the server's one-byte answer to SSLRequest was read whole): what node-postgres'
        // Cloudflare socket (pg-cloudflare) does before `startTls` too.
        plain.reader.release_lock();
        plain.writer.release_lock();
        std::future::ready(plain.socket.start_tls().map_err(io_error).and_then(Tcp::over))
    }
}

impl TlsStream for Tcp {
    fn channel_binding(&self) -> ChannelBinding {
        ChannelBinding::none()
    }
}

fn io_error(value: JsValue) -> io::Error {
    let text = match value.dyn_ref::<js_sys::Error>() {
        Some(error) => String::from(error.message()),
        None => value.as_string().unwrap_or_else(|| format!("{value:?}")),
    };
    io::Error::other(text)
}
