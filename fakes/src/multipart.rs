//! Reading `multipart/form-data` bodies in the fakes (what the Worker uploads), written
//! independently of the Worker's own parser so the two cannot share a mistake.

use axum::http::HeaderMap;

/// One part of a multipart body, parsed independently of the Worker's own code.
#[derive(Debug, Clone)]
pub struct FormPart {
    pub name: String,
    pub filename: Option<String>,
    pub content_type: Option<String>,
    pub data: Vec<u8>,
}

pub fn multipart(headers: &HeaderMap, body: &[u8]) -> Vec<FormPart> {
    let ct = headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("");
    let Some(boundary) = ct.split("boundary=").nth(1) else { return Vec::new() };
    let delimiter = format!("--{}", boundary.trim_matches('"'));
    let d = delimiter.as_bytes();
    let mut starts = Vec::new();
    let mut i = 0;
    while i + d.len() <= body.len() {
        if &body[i..i + d.len()] == d {
            starts.push(i);
            i += d.len();
        } else {
            i += 1;
        }
    }
    let mut parts = Vec::new();
    for w in starts.windows(2) {
        let chunk = &body[w[0] + d.len()..w[1]];
        let chunk = chunk.strip_prefix(b"\r\n").unwrap_or(chunk);
        let chunk = chunk.strip_suffix(b"\r\n").unwrap_or(chunk);
        let Some(split) = chunk.windows(4).position(|x| x == b"\r\n\r\n") else { continue };
        let head = String::from_utf8_lossy(&chunk[..split]).to_string();
        let param = |key: &str| {
            head.split(';').find_map(|p| {
                p.trim()
                    .strip_prefix(&format!("{key}=\""))
                    .map(|v| v.split('"').next().unwrap_or("").to_string())
            })
        };
        let content_type = head
            .lines()
            .find_map(|l| l.strip_prefix("Content-Type: ").or_else(|| l.strip_prefix("content-type: ")))
            .map(str::to_string);
        parts.push(FormPart {
            name: param("name").unwrap_or_default(),
            filename: param("filename"),
            content_type,
            data: chunk[split + 4..].to_vec(),
        });
    }
    parts
}
