//! Reading another server's `multipart/mixed` media answer as it arrives, without holding the content in
//! memory: [`HeadReader`] collects the (small, bounded) metadata part and the content part's headers, then
//! [`ContentReader`] passes the content through chunk by chunk until the closing delimiter.
//!
//! RFC 2046 §5.1: a preamble may precede the first delimiter line (`--boundary`), transport padding (spaces,
//! tabs) may follow a delimiter, a part without headers starts with an empty line, and the content ends at
//! `CRLF--boundary`. Whatever follows the content part (the close delimiter, an epilogue) is not read.

use serde_json::Value;

/// Most bytes of everything before the content (preamble, metadata part, content part headers).
pub const MAX_HEAD_BYTES: usize = 64 * 1024;

/// Longest boundary RFC 2046 allows.
const MAX_BOUNDARY_CHARS: usize = 70;

/// A malformed multipart answer.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("malformed multipart media answer: {0}")]
pub struct MultipartError(pub String);

fn malformed(reason: &str) -> MultipartError {
    MultipartError(reason.to_owned())
}

/// The `boundary` parameter of a `multipart/mixed` `Content-Type` (quoted or not); `None` for any other
/// type or a missing or invalid boundary.
pub fn boundary(content_type: &str) -> Option<String> {
    let mut parameters = content_type.split(';');
    let essence = parameters.next()?.trim();
    if !essence.eq_ignore_ascii_case("multipart/mixed") {
        return None;
    }
    let value = parameters.find_map(|parameter| {
        let (name, value) = parameter.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("boundary")
            .then(|| value.trim())
    })?;
    let value = value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(value);
    let valid = !value.is_empty()
        && value.len() <= MAX_BOUNDARY_CHARS
        && value.bytes().all(|b| b.is_ascii_graphic() || b == b' ');
    valid.then(|| value.to_owned())
}

/// What the second part says about the content.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MediaPart {
    /// The first part's JSON (an empty object today).
    pub metadata: Value,
    /// The content's `Content-Type`.
    pub content_type: Option<String>,
    /// The content's `Content-Disposition`.
    pub content_disposition: Option<String>,
    /// Where to fetch the content instead (a `Location` header in place of the bytes).
    pub location: Option<String>,
}

/// The head of the answer, complete: the part description, the reader for the rest, and the content bytes
/// that arrived with the head.
#[derive(Debug)]
pub struct MediaHead {
    /// The metadata and the content part's headers.
    pub part: MediaPart,
    /// Reads the remaining content.
    pub content: ContentReader,
    /// Content bytes already received with the head.
    pub first_content: Vec<u8>,
}

/// Collects the bytes before the content, at most [`MAX_HEAD_BYTES`].
#[derive(Debug)]
pub struct HeadReader {
    boundary: String,
    buffer: Vec<u8>,
}

impl HeadReader {
    /// A reader for an answer framed with `boundary`.
    pub fn new(boundary: &str) -> HeadReader {
        HeadReader {
            boundary: boundary.to_owned(),
            buffer: Vec::new(),
        }
    }

    /// Adds received bytes; `Some` once the content part's headers are complete.
    pub fn push(&mut self, chunk: &[u8]) -> Result<Option<MediaHead>, MultipartError> {
        self.buffer.extend_from_slice(chunk);
        match self.parse()? {
            Some((part, content_start)) => {
                let mut content = ContentReader::new(&self.boundary);
                let first_content = content.push(&self.buffer[content_start..]);
                Ok(Some(MediaHead {
                    part,
                    content,
                    first_content,
                }))
            }
            None if self.buffer.len() > MAX_HEAD_BYTES => Err(malformed(
                "the metadata part and content headers exceed 64 KiB",
            )),
            None => Ok(None),
        }
    }

    /// Whether the answer ended before the content part began.
    pub fn truncated() -> MultipartError {
        malformed("the answer ended before the content part")
    }

    /// The part description and where the content starts, if the head is complete.
    fn parse(&self) -> Result<Option<(MediaPart, usize)>, MultipartError> {
        let buffer = &self.buffer;
        let dash_boundary = format!("--{}", self.boundary);
        let delimiter = format!("\r\n{dash_boundary}");
        let first = if buffer.starts_with(dash_boundary.as_bytes()) {
            0
        } else {
            match find(buffer, delimiter.as_bytes(), 0) {
                Some(at) => at + 2,
                None => return Ok(None),
            }
        };
        let Some(position) = after_delimiter_line(buffer, first + dash_boundary.len())? else {
            return Ok(None);
        };
        let Some((metadata_headers, position)) = part_headers(buffer, position)? else {
            return Ok(None);
        };
        let Some(metadata_end) = find(buffer, delimiter.as_bytes(), position) else {
            return Ok(None);
        };
        let json_type = metadata_headers
            .iter()
            .find(|(name, _)| name == "content-type")
            .is_some_and(|(_, value)| {
                value
                    .split(';')
                    .next()
                    .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"))
            });
        if !json_type {
            return Err(malformed("the first part is not application/json"));
        }
        let metadata: Value = serde_json::from_slice(&buffer[position..metadata_end])
            .map_err(|_| malformed("the metadata part is not JSON"))?;
        let Some(position) = after_delimiter_line(buffer, metadata_end + delimiter.len())? else {
            return Ok(None);
        };
        let Some((headers, content_start)) = part_headers(buffer, position)? else {
            return Ok(None);
        };
        let header = |wanted: &str| {
            headers
                .iter()
                .find(|(name, _)| name == wanted)
                .map(|(_, value)| value.clone())
        };
        Ok(Some((
            MediaPart {
                metadata,
                content_type: header("content-type"),
                content_disposition: header("content-disposition"),
                location: header("location"),
            },
            content_start,
        )))
    }
}

/// After a delimiter ending at `position`: the start of the next part, past transport padding and CRLF.
/// `None` if more bytes are needed; an error for the close delimiter (no further part).
fn after_delimiter_line(buffer: &[u8], position: usize) -> Result<Option<usize>, MultipartError> {
    let rest = buffer.get(position..).unwrap_or_default();
    if rest.starts_with(b"--") {
        return Err(malformed("the answer has fewer than two parts"));
    }
    let padding = rest
        .iter()
        .take_while(|b| **b == b' ' || **b == b'\t')
        .count();
    match rest.get(padding..padding + 2) {
        None => Ok(None),
        Some(b"\r\n") => Ok(Some(position + padding + 2)),
        Some(_) => Err(malformed("garbage after a boundary")),
    }
}

/// A part's headers: (lower-cased name, value).
type Headers = Vec<(String, String)>;

/// A part's headers starting at `position` and where its body starts; `None` if the empty line ending them has
/// not arrived.
fn part_headers(
    buffer: &[u8],
    position: usize,
) -> Result<Option<(Headers, usize)>, MultipartError> {
    let rest = buffer.get(position..).unwrap_or_default();
    if rest.starts_with(b"\r\n") {
        return Ok(Some((Vec::new(), position + 2)));
    }
    let Some(end) = find(rest, b"\r\n\r\n", 0) else {
        return Ok(None);
    };
    let text =
        std::str::from_utf8(&rest[..end]).map_err(|_| malformed("part headers are not UTF-8"))?;
    let headers = text
        .split("\r\n")
        .map(|line| {
            let (name, value) = line
                .split_once(':')
                .ok_or_else(|| malformed("a part header has no colon"))?;
            Ok((name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        })
        .collect::<Result<Headers, MultipartError>>()?;
    Ok(Some((headers, position + end + 4)))
}

/// The first occurrence of `needle` in `haystack` at or after `from`.
fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    let tail = haystack.get(from..)?;
    tail.windows(needle.len())
        .position(|window| window == needle)
        .map(|at| at + from)
}

/// Passes content bytes through until `CRLF--boundary`, holding back the few bytes that could be the start
/// of the delimiter until the next chunk shows whether they are.
#[derive(Debug)]
pub struct ContentReader {
    delimiter: Vec<u8>,
    held: Vec<u8>,
    done: bool,
}

impl ContentReader {
    fn new(boundary: &str) -> ContentReader {
        ContentReader {
            delimiter: format!("\r\n--{boundary}").into_bytes(),
            held: Vec::new(),
            done: false,
        }
    }

    /// The content bytes of `chunk` that are certain (anything after the delimiter is dropped).
    pub fn push(&mut self, chunk: &[u8]) -> Vec<u8> {
        if self.done {
            return Vec::new();
        }
        let mut data = std::mem::take(&mut self.held);
        data.extend_from_slice(chunk);
        if let Some(end) = find(&data, &self.delimiter, 0) {
            self.done = true;
            data.truncate(end);
            return data;
        }
        // Keep the longest tail that is a prefix of the delimiter.
        let keep = (1..self.delimiter.len())
            .rev()
            .find(|n| *n <= data.len() && data.ends_with(&self.delimiter[..*n]))
            .unwrap_or(0);
        self.held = data.split_off(data.len() - keep);
        data
    }

    /// Whether the delimiter after the content has been seen.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// The error for an answer that ended before the delimiter.
    pub fn unterminated() -> MultipartError {
        malformed("the content part is not terminated by the boundary")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::MultipartFrame;

    /// Feeds `answer` in chunks of `size`; returns the part and the content.
    fn read(
        answer: &[u8],
        boundary: &str,
        size: usize,
    ) -> Result<(MediaPart, Vec<u8>), MultipartError> {
        let mut chunks = answer.chunks(size);
        let mut head_reader = HeadReader::new(boundary);
        let mut head = loop {
            let chunk = chunks.next().ok_or_else(HeadReader::truncated)?;
            if let Some(head) = head_reader.push(chunk)? {
                break head;
            }
        };
        let mut content = std::mem::take(&mut head.first_content);
        for chunk in chunks {
            content.extend(head.content.push(chunk));
        }
        if !head.content.is_done() {
            return Err(ContentReader::unterminated());
        }
        Ok((head.part, content))
    }

    #[test]
    fn reads_hearths_own_frame_in_any_chunking() {
        let frame = MultipartFrame::with_boundary("b0undary");
        let content: Vec<u8> = (0..5000u32)
            .flat_map(|i| [(i % 251) as u8, b'\r', b'\n', b'-'])
            .collect();
        let mut answer = frame
            .head("image/png", "inline; filename=\"a.png\"")
            .into_bytes();
        answer.extend(&content);
        answer.extend(frame.tail().as_bytes());
        for size in [1, 2, 3, 7, 13, 64, 4096, answer.len()] {
            let (part, got) = read(&answer, "b0undary", size).unwrap();
            assert_eq!(got, content, "chunks of {size}");
            assert_eq!(part.content_type.as_deref(), Some("image/png"));
            assert_eq!(
                part.content_disposition.as_deref(),
                Some("inline; filename=\"a.png\"")
            );
            assert_eq!(part.metadata, serde_json::json!({}));
            assert_eq!(part.location, None);
        }
    }

    #[test]
    fn reads_a_location_part_a_preamble_and_padding() {
        let answer = b"preamble\r\n--xyz  \r\ncontent-type: Application/JSON; charset=utf-8\r\n\r\n{\"a\":1}\r\n\
            --xyz\r\nLocation: https://cdn.example/file\r\n\r\n\r\n--xyz--\r\n";
        let (part, content) = read(answer, "xyz", 5).unwrap();
        assert_eq!(part.location.as_deref(), Some("https://cdn.example/file"));
        assert_eq!(part.metadata["a"], 1);
        assert!(content.is_empty());
    }

    #[test]
    fn empty_content_and_a_part_without_headers() {
        let answer = b"--q\r\nContent-Type: application/json\r\n\r\n{}\r\n--q\r\n\r\n\r\n--q--";
        let (part, content) = read(answer, "q", 4).unwrap();
        assert_eq!(
            part,
            MediaPart {
                metadata: serde_json::json!({}),
                ..MediaPart::default()
            }
        );
        assert!(content.is_empty());
    }

    #[test]
    fn malformed_answers_are_refused() {
        let not_json = b"--q\r\nContent-Type: text/plain\r\n\r\n{}\r\n--q\r\n\r\nx\r\n--q--";
        assert!(read(not_json, "q", 3).is_err());
        let one_part = b"--q\r\nContent-Type: application/json\r\n\r\n{}\r\n--q--\r\n";
        assert!(read(one_part, "q", 3).is_err());
        let truncated = b"--q\r\nContent-Type: application/json\r\n\r\n{}\r\n--q\r\n\r\nabc";
        assert_eq!(
            read(truncated, "q", 3).unwrap_err(),
            ContentReader::unterminated()
        );
        let bad_json = b"--q\r\nContent-Type: application/json\r\n\r\n{\r\n--q\r\n\r\nx\r\n--q--";
        assert!(read(bad_json, "q", 3).is_err());
    }

    #[test]
    fn an_endless_head_is_refused() {
        let mut reader = HeadReader::new("q");
        let junk = vec![b'a'; 1024];
        let mut result = Ok(None);
        for _ in 0..100 {
            result = reader.push(&junk);
            if result.is_err() {
                break;
            }
        }
        assert!(result.is_err());
    }

    #[test]
    fn boundaries_are_read_from_the_content_type() {
        assert_eq!(
            boundary("multipart/mixed; boundary=abc").as_deref(),
            Some("abc")
        );
        assert_eq!(
            boundary("Multipart/Mixed;charset=x; BOUNDARY=\"a b\"").as_deref(),
            Some("a b")
        );
        assert_eq!(boundary("multipart/form-data; boundary=abc"), None);
        assert_eq!(boundary("multipart/mixed"), None);
        assert_eq!(boundary("multipart/mixed; boundary="), None);
        assert_eq!(
            boundary(&format!("multipart/mixed; boundary={}", "a".repeat(71))),
            None
        );
    }
}
