//! `multipart/form-data` bodies (file uploads), parsed in place: parts are byte ranges of the
//! body, so a 25 MB upload is never copied to be read.

use std::ops::Range;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    pub name: String,
    pub filename: Option<String>,
    pub content_type: Option<String>,
    /// Where the part's content is in the body.
    pub range: Range<usize>,
}

/// The `boundary` parameter of a `multipart/form-data` Content-Type.
pub fn boundary(content_type: &str) -> Option<String> {
    let mut params = content_type.split(';');
    if !params.next()?.trim().eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    params.find_map(|p| {
        let (k, v) = p.split_once('=')?;
        let v = v.trim().trim_matches('"');
        (k.trim().eq_ignore_ascii_case("boundary") && !v.is_empty() && v.len() <= 200).then(|| v.to_string())
    })
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    let first = *needle.first()?;
    let mut i = from;
    while i + needle.len() <= hay.len() {
        let at = i + hay[i..hay.len() - needle.len() + 1].iter().position(|b| *b == first)?;
        if &hay[at..at + needle.len()] == needle {
            return Some(at);
        }
        i = at + 1;
    }
    None
}

/// The parts of `body`, or why it is not a well-formed multipart body.
pub fn parse(body: &[u8], boundary: &str) -> Result<Vec<Part>, &'static str> {
    let delimiter = format!("--{boundary}");
    let next_delimiter = format!("\r\n--{boundary}");
    let mut at = find(body, delimiter.as_bytes(), 0).ok_or("no boundary in the body")? + delimiter.len();
    let mut parts = Vec::new();
    loop {
        if body[at..].starts_with(b"--") {
            return Ok(parts);
        }
        if !body[at..].starts_with(b"\r\n") {
            return Err("malformed boundary line");
        }
        let headers_start = at + 2;
        let headers_end = find(body, b"\r\n\r\n", headers_start).ok_or("part headers never end")?;
        let headers = String::from_utf8_lossy(&body[headers_start..headers_end]);
        let content_start = headers_end + 4;
        let content_end = find(body, next_delimiter.as_bytes(), content_start).ok_or("part never ends")?;
        let (mut name, mut filename, mut content_type) = (None, None, None);
        for line in headers.split("\r\n") {
            let Some((key, value)) = line.split_once(':') else { continue };
            if key.trim().eq_ignore_ascii_case("content-disposition") {
                name = param(value, "name");
                filename = param(value, "filename");
            } else if key.trim().eq_ignore_ascii_case("content-type") {
                content_type = Some(value.trim().to_string());
            }
        }
        parts.push(Part {
            name: name.ok_or("a part has no name")?,
            filename,
            content_type,
            range: content_start..content_end,
        });
        at = content_end + next_delimiter.len();
    }
}

/// A `key="value"` parameter of a Content-Disposition header (browsers escape `"` as %22).
fn param(header: &str, key: &str) -> Option<String> {
    header.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        (k.trim() == key).then(|| v.trim().trim_matches('"').to_string())
    })
}

/// The text of the first part named `name`.
pub fn field<'a>(body: &'a [u8], parts: &[Part], name: &str) -> Option<std::borrow::Cow<'a, str>> {
    let part = parts.iter().find(|p| p.name == name && p.filename.is_none())?;
    Some(String::from_utf8_lossy(&body[part.range.clone()]))
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &[u8] = b"preamble\r\n--XX\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\ntok\r\n--XX\r\nContent-Disposition: form-data; name=\"file\"; filename=\"my ep.mp3\"\r\nContent-Type: audio/mpeg\r\n\r\nID3\r\n--X not yet\r\n--XX--\r\n";

    #[test]
    fn fields_and_files_are_found_in_place() {
        let parts = parse(BODY, "XX").unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(field(BODY, &parts, "csrf").as_deref(), Some("tok"));
        let file = &parts[1];
        assert_eq!(file.filename.as_deref(), Some("my ep.mp3"));
        assert_eq!(file.content_type.as_deref(), Some("audio/mpeg"));
        assert_eq!(&BODY[file.range.clone()], b"ID3\r\n--X not yet");
        assert_eq!(field(BODY, &parts, "file"), None, "a file is not a text field");
    }

    #[test]
    fn the_boundary_comes_from_the_content_type() {
        assert_eq!(boundary("multipart/form-data; boundary=----abc").as_deref(), Some("----abc"));
        assert_eq!(boundary("Multipart/Form-Data; charset=x; boundary=\"q r\"").as_deref(), Some("q r"));
        assert_eq!(boundary("application/x-www-form-urlencoded"), None);
        assert_eq!(boundary("multipart/form-data"), None);
    }

    #[test]
    fn truncated_or_foreign_bodies_are_refused() {
        assert!(parse(b"--XX\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nno end", "XX").is_err());
        assert!(parse(b"nothing here", "XX").is_err());
        assert!(parse(b"--XX\r\nX-Other: 1\r\n\r\nv\r\n--XX--", "XX").is_err());
    }
}
