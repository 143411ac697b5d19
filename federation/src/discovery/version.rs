//! `GET /_matrix/federation/v1/version` — the name and version of the homeserver software.

use serde::{Deserialize, Serialize};

/// HTTP method of the endpoint.
pub const METHOD: &str = "GET";
/// Path of the endpoint.
pub const PATH: &str = "/_matrix/federation/v1/version";

/// Response body of `GET /_matrix/federation/v1/version`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionResponse {
    /// The software answering.
    pub server: ServerSoftware,
}

/// The `server` object: software name and version.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerSoftware {
    /// Software name, e.g. `Hearth`.
    pub name: String,
    /// Software version, free-form.
    pub version: String,
}

impl VersionResponse {
    /// A response naming `name` at `version`.
    pub fn new(name: impl Into<String>, version: impl Into<String>) -> Self {
        Self {
            server: ServerSoftware {
                name: name.into(),
                version: version.into(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nests_name_and_version_under_server() {
        let json = serde_json::to_value(VersionResponse::new("Hearth", "0.1.0")).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"server": {"name": "Hearth", "version": "0.1.0"}})
        );
    }
}
