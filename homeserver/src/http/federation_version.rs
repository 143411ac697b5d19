//! `GET /_matrix/federation/v1/version`: which software this server runs.

use axum::Json;
use hearth_federation::discovery::version::VersionResponse;

/// Software name reported to other servers.
pub const SERVER_SOFTWARE_NAME: &str = "Hearth";

/// Answers `{"server": {"name": "Hearth", "version": <crate version>}}`.
pub async fn federation_version() -> Json<VersionResponse> {
    Json(VersionResponse::new(
        SERVER_SOFTWARE_NAME,
        env!("CARGO_PKG_VERSION"),
    ))
}
