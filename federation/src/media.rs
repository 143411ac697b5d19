//! Federation media (spec v1.11, "Content repository"): `GET /_matrix/federation/v1/media/download/{mediaId}`
//! and `/thumbnail/{mediaId}`, and the `multipart/mixed` framing of their answers — a JSON metadata part (`{}`
//! today), then the content with its own `Content-Type` and `Content-Disposition`.
//!
//! The framing lives here, with the request targets and the legacy-fallback rule: the homeserver streams the
//! content between [`MultipartFrame::head`] and [`MultipartFrame::tail`], and reads other servers' answers
//! with the streaming, size-bounded [`multipart`] reader.

pub mod multipart;

/// Path of the download endpoint (axum syntax).
pub const DOWNLOAD_PATH: &str = "/_matrix/federation/v1/media/download/{media_id}";
/// Path of the thumbnail endpoint (axum syntax).
pub const THUMBNAIL_PATH: &str = "/_matrix/federation/v1/media/thumbnail/{media_id}";

/// A thumbnail request's box and method (`crop` or `scale`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ThumbnailSpec<'a> {
    /// Desired width in pixels.
    pub width: u32,
    /// Desired height in pixels.
    pub height: u32,
    /// `crop` or `scale`.
    pub method: &'a str,
}

/// Request target of `GET /_matrix/federation/v1/media/download/{mediaId}` (media IDs need no encoding: they
/// are `[A-Za-z0-9_-]`, checked by the caller).
pub fn download_path(media_id: &str, timeout_ms: u64) -> String {
    format!("/_matrix/federation/v1/media/download/{media_id}?timeout_ms={timeout_ms}")
}

impl ThumbnailSpec<'_> {
    /// `width=…&height=…&method=…`.
    fn query(&self) -> String {
        format!(
            "width={}&height={}&method={}",
            self.width, self.height, self.method
        )
    }
}

/// Request target of `GET /_matrix/federation/v1/media/thumbnail/{mediaId}`.
pub fn thumbnail_path(media_id: &str, thumbnail: ThumbnailSpec<'_>, timeout_ms: u64) -> String {
    format!(
        "/_matrix/federation/v1/media/thumbnail/{media_id}?{}&timeout_ms={timeout_ms}",
        thumbnail.query()
    )
}

/// The deprecated endpoint servers that predate federation media serve content at: `allow_remote=false` stops
/// them from fetching it from elsewhere (no routing loops), `allow_redirect=true` lets them answer with a
/// redirect (spec v1.7).
pub fn legacy_download_path(server_name: &str, media_id: &str, timeout_ms: u64) -> String {
    format!(
        "/_matrix/media/v3/download/{server_name}/{media_id}?allow_remote=false&allow_redirect=true\
         &timeout_ms={timeout_ms}"
    )
}

/// The deprecated thumbnail endpoint, with the same parameters as [`legacy_download_path`].
pub fn legacy_thumbnail_path(
    server_name: &str,
    media_id: &str,
    thumbnail: ThumbnailSpec<'_>,
    timeout_ms: u64,
) -> String {
    format!(
        "/_matrix/media/v3/thumbnail/{server_name}/{media_id}?{}&allow_remote=false&allow_redirect=true\
         &timeout_ms={timeout_ms}",
        thumbnail.query()
    )
}

/// Whether an error answer means "this endpoint does not exist here" rather than "no such media": 405, or 404
/// with `M_UNRECOGNIZED` or without a Matrix error body (servers that predate the spec's rule) — Synapse's
/// test for falling back to the legacy endpoint.
pub fn is_unknown_endpoint(status: u16, body: &[u8]) -> bool {
    match status {
        405 => true,
        404 => match serde_json::from_slice::<serde_json::Value>(body) {
            Ok(error) => match error.get("errcode").and_then(|code| code.as_str()) {
                Some(code) => code == "M_UNRECOGNIZED",
                None => true,
            },
            Err(_) => true,
        },
        _ => false,
    }
}

/// Boundary characters (RFC 2046 allows more; these need no quoting).
const BOUNDARY_ALPHABET: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// The framing of one `multipart/mixed` media answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MultipartFrame {
    boundary: String,
}

impl MultipartFrame {
    /// A frame with a fresh random boundary (32 characters, so it cannot plausibly occur in the content).
    pub fn new() -> MultipartFrame {
        MultipartFrame {
            boundary: hearth_crypto::random::random_string(32, BOUNDARY_ALPHABET),
        }
    }

    /// A frame with a given boundary (tests).
    pub fn with_boundary(boundary: &str) -> MultipartFrame {
        MultipartFrame {
            boundary: boundary.to_owned(),
        }
    }

    /// The answer's `Content-Type`.
    pub fn content_type(&self) -> String {
        format!("multipart/mixed; boundary={}", self.boundary)
    }

    /// Everything before the content: the metadata part and the content part's headers.
    pub fn head(&self, content_type: &str, content_disposition: &str) -> String {
        format!(
            "--{b}\r\nContent-Type: application/json\r\n\r\n{{}}\r\n--{b}\r\nContent-Type: {content_type}\r\n\
             Content-Disposition: {content_disposition}\r\n\r\n",
            b = self.boundary
        )
    }

    /// Everything after the content.
    pub fn tail(&self) -> String {
        format!("\r\n--{}--\r\n", self.boundary)
    }
}

impl Default for MultipartFrame {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_a_metadata_part_and_the_content() {
        let frame = MultipartFrame::with_boundary("XYZ");
        let body = format!(
            "{}hello{}",
            frame.head("text/plain", "inline; filename=\"a.txt\""),
            frame.tail()
        );
        assert_eq!(frame.content_type(), "multipart/mixed; boundary=XYZ");
        assert_eq!(
            body,
            "--XYZ\r\nContent-Type: application/json\r\n\r\n{}\r\n--XYZ\r\nContent-Type: text/plain\r\n\
             Content-Disposition: inline; filename=\"a.txt\"\r\n\r\nhello\r\n--XYZ--\r\n"
        );
    }

    #[test]
    fn unknown_endpoints_are_told_from_unknown_media() {
        assert!(is_unknown_endpoint(404, b""));
        assert!(is_unknown_endpoint(404, b"<html>Not Found</html>"));
        assert!(is_unknown_endpoint(404, br#"{"errcode":"M_UNRECOGNIZED"}"#));
        assert!(is_unknown_endpoint(404, br#"{"error":"no"}"#));
        assert!(is_unknown_endpoint(405, br#"{"errcode":"M_NOT_FOUND"}"#));
        assert!(!is_unknown_endpoint(404, br#"{"errcode":"M_NOT_FOUND"}"#));
        assert!(!is_unknown_endpoint(500, b""));
    }

    #[test]
    fn request_targets() {
        let box_ = ThumbnailSpec {
            width: 96,
            height: 96,
            method: "crop",
        };
        assert_eq!(
            thumbnail_path("abc", box_, 20000),
            "/_matrix/federation/v1/media/thumbnail/abc?width=96&height=96&method=crop&timeout_ms=20000"
        );
        assert_eq!(
            legacy_download_path("example.org:8448", "abc", 5),
            "/_matrix/media/v3/download/example.org:8448/abc?allow_remote=false&allow_redirect=true&timeout_ms=5"
        );
    }

    #[test]
    fn fresh_boundaries_differ() {
        assert_ne!(MultipartFrame::new(), MultipartFrame::new());
    }
}
