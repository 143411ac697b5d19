//! The content repository (`/_matrix/media/*`, `/_matrix/client/v1/media/*`): media IDs, request and response
//! bodies, the thumbnail rules ([`thumbnail`]) and how content is labelled when served ([`disposition`]).

pub mod disposition;
pub mod thumbnail;

use serde::{Deserialize, Serialize};

/// The longest media ID accepted (IDs are opaque; Hearth generates 24 characters, other servers vary).
pub const MAX_MEDIA_ID_LENGTH: usize = 255;

/// Whether `media_id` may appear in an `mxc://` URI: the spec allows only `A-Za-z0-9`, `_` and `-`, which
/// also rules out path traversal (`..`, `/`, percent-encoded tricks).
pub fn is_valid_media_id(media_id: &str) -> bool {
    !media_id.is_empty()
        && media_id.len() <= MAX_MEDIA_ID_LENGTH
        && media_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// `mxc://{server_name}/{media_id}`.
pub fn mxc_uri(server_name: &str, media_id: &str) -> String {
    format!("mxc://{server_name}/{media_id}")
}

/// Splits `mxc://server/id` into `(server, id)`; `None` if it is not of that shape or the ID is invalid.
/// The server name is not validated here (callers parse it as a `ServerName`).
pub fn parse_mxc_uri(uri: &str) -> Option<(&str, &str)> {
    let rest = uri.strip_prefix("mxc://")?;
    let (server, media_id) = rest.split_once('/')?;
    (!server.is_empty() && is_valid_media_id(media_id)).then_some((server, media_id))
}

/// Response of `POST /_matrix/media/v3/upload`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadResponse {
    /// The `mxc://` URI of the content.
    pub content_uri: String,
}

/// Response of `POST /_matrix/media/v1/create`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateResponse {
    /// The `mxc://` URI the content will be available at once uploaded.
    pub content_uri: String,
    /// When the ID expires if nothing is uploaded (ms since the epoch).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unused_expires_at: Option<i64>,
}

/// Response of `GET /_matrix/client/v1/media/config`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigResponse {
    /// The largest upload accepted, in bytes.
    #[serde(rename = "m.upload.size", skip_serializing_if = "Option::is_none")]
    pub upload_size: Option<u64>,
}

/// The default of the download and thumbnail endpoints' `timeout_ms` (20 s).
pub const DEFAULT_TIMEOUT_MS: u64 = 20_000;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_ids_allow_only_the_spec_alphabet() {
        assert!(is_valid_media_id("AQwafuaFswefuhsfAFAgsw"));
        assert!(is_valid_media_id("a-b_c"));
        for bad in [
            "",
            "..",
            "a/b",
            "a%2Fb",
            "a.b",
            "ü",
            "a b",
            &"a".repeat(256),
        ] {
            assert!(!is_valid_media_id(bad), "{bad:?}");
        }
    }

    #[test]
    fn parses_mxc_uris() {
        assert_eq!(
            parse_mxc_uri("mxc://example.org/abc"),
            Some(("example.org", "abc"))
        );
        assert_eq!(parse_mxc_uri("mxc://example.org/../x"), None);
        assert_eq!(parse_mxc_uri("https://example.org/abc"), None);
        assert_eq!(parse_mxc_uri("mxc:///abc"), None);
    }

    #[test]
    fn config_uses_the_spec_key() {
        let json = serde_json::to_value(ConfigResponse {
            upload_size: Some(5),
        })
        .unwrap();
        assert_eq!(json, serde_json::json!({"m.upload.size": 5}));
    }
}
