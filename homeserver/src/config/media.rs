//! `[media]`: the media repository's limits, authenticated-media enforcement and URL previews.

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use super::{Config, ConfigDuration};

/// `[media]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MediaConfig {
    /// Largest upload (and largest remote file fetched), in bytes; larger ones get 413 `M_TOO_LARGE`.
    pub max_upload_bytes: u64,
    /// Per-user quota: total bytes a local user may have uploaded; 0 means no quota.
    pub max_user_bytes: u64,
    /// Media created while this is on is served only by the authenticated `/_matrix/client/v1/media/*`
    /// endpoints; the legacy `/_matrix/media/v3/download|thumbnail` keep serving older media (Synapse's
    /// `enable_authenticated_media`, the spec's "freeze").
    pub enable_authenticated_media: bool,
    /// Images with more pixels than this are not thumbnailed (413 `M_TOO_LARGE`): the decompression-bomb bound.
    pub max_thumbnail_pixels: u64,
    /// Most unexpired pending asynchronous uploads (`POST /_matrix/media/v1/create`) per user.
    pub max_pending_uploads: u32,
    /// How long a created but unused media ID stays valid.
    pub unused_expires_after: ConfigDuration,
    /// Longest a download of not-yet-uploaded media waits, whatever `timeout_ms` the client asks for.
    pub max_wait: ConfigDuration,
    /// Time for fetching another server's media (connect, answer, every byte, redirects), on top of the wait
    /// for content the origin has not received yet; past it the client gets 502.
    pub remote_fetch_timeout: ConfigDuration,
    /// `GET /_matrix/client/v1/media/preview_url`.
    pub url_preview: UrlPreviewConfig,
}

/// `[media.url_preview]`: off by default, since it makes the server fetch URLs users choose.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UrlPreviewConfig {
    /// Whether previews are served; when off the endpoint answers 404 `M_UNRECOGNIZED`, as in Synapse.
    pub enabled: bool,
    /// Most bytes of a page read.
    pub max_bytes: u64,
    /// Time for the whole fetch, redirects included.
    pub timeout: ConfigDuration,
    /// Ranges that may be fetched even if `denied_ip_ranges` lists them.
    pub allowed_ip_ranges: Vec<IpNet>,
    /// Ranges never fetched (private, loopback, link-local … by default).
    pub denied_ip_ranges: Vec<IpNet>,
}

impl Default for MediaConfig {
    fn default() -> Self {
        Self {
            max_upload_bytes: 50 * 1024 * 1024,
            max_user_bytes: 0,
            enable_authenticated_media: true,
            max_thumbnail_pixels: 32_000_000,
            max_pending_uploads: 10,
            unused_expires_after: ConfigDuration::from_secs(24 * 60 * 60),
            max_wait: ConfigDuration::from_secs(60),
            remote_fetch_timeout: ConfigDuration::from_secs(60),
            url_preview: UrlPreviewConfig::default(),
        }
    }
}

impl Default for UrlPreviewConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            max_bytes: 10 * 1024 * 1024,
            timeout: ConfigDuration::from_secs(10),
            allowed_ip_ranges: Vec::new(),
            denied_ip_ranges: hearth_federation::ip_policy::DEFAULT_DENIED_RANGES
                .iter()
                .filter_map(|range| range.parse().ok())
                .collect(),
        }
    }
}

impl Config {
    /// The media store's directory: `<data_dir>/media`.
    pub fn media_dir(&self) -> std::path::PathBuf {
        self.data_dir.join("media")
    }

    pub(super) fn check_media(&self, problems: &mut Vec<String>) {
        let media = &self.media;
        if media.max_upload_bytes == 0 {
            problems.push("media.max_upload_bytes must be greater than 0".to_owned());
        }
        if media.max_thumbnail_pixels == 0 {
            problems.push("media.max_thumbnail_pixels must be greater than 0".to_owned());
        }
        if media.max_pending_uploads == 0 {
            problems.push("media.max_pending_uploads must be greater than 0".to_owned());
        }
        if media.unused_expires_after.as_duration().is_zero() {
            problems.push("media.unused_expires_after must be longer than 0s".to_owned());
        }
        if media.remote_fetch_timeout.as_duration().is_zero() {
            problems.push("media.remote_fetch_timeout must be longer than 0s".to_owned());
        }
        if media.url_preview.max_bytes == 0 {
            problems.push("media.url_preview.max_bytes must be greater than 0".to_owned());
        }
        if media.url_preview.timeout.as_duration().is_zero() {
            problems.push("media.url_preview.timeout must be longer than 0s".to_owned());
        }
    }
}
