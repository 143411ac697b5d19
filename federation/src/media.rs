//! Federation media (spec v1.11, "Content repository"): `GET /_matrix/federation/v1/media/download/{mediaId}`
//! and `/thumbnail/{mediaId}`, and the `multipart/mixed` framing of their answers — a JSON metadata part (`{}`
//! today), then the content with its own `Content-Type` and `Content-Disposition`.
//!
//! Only the framing lives here; the homeserver streams the content between [`MultipartFrame::head`] and
//! [`MultipartFrame::tail`], and parses answers of other servers with a streaming, size-bounded parser.

/// Path of the download endpoint (axum syntax).
pub const DOWNLOAD_PATH: &str = "/_matrix/federation/v1/media/download/{media_id}";
/// Path of the thumbnail endpoint (axum syntax).
pub const THUMBNAIL_PATH: &str = "/_matrix/federation/v1/media/thumbnail/{media_id}";
/// The deprecated endpoint servers that predate federation media serve content at; `allow_remote=false` stops
/// them from fetching it from elsewhere.
pub fn legacy_download_path(server_name: &str, media_id: &str, timeout_ms: u64) -> String {
    format!(
        "/_matrix/media/v3/download/{server_name}/{media_id}?allow_remote=false&timeout_ms={timeout_ms}"
    )
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
    fn fresh_boundaries_differ() {
        assert_ne!(MultipartFrame::new(), MultipartFrame::new());
    }
}
