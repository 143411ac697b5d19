//! `GET /_matrix/client/versions` — the spec versions this server implements.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// HTTP method of the endpoint.
pub const METHOD: &str = "GET";
/// Path of the endpoint; it has no version prefix of its own.
pub const PATH: &str = "/_matrix/client/versions";

/// The client-server spec versions Hearth claims to implement.
///
/// A client picks its API paths and feature set from the highest version a server lists, so listing a version
/// is a promise about behaviour. Hearth serves only the `/v3` (and later) paths, never the legacy `/r0` ones, so
/// no `r0.x` version is listed. `v1.1` is the floor every v1 client understands and the baseline the client API
/// is being built against; a later version is added here only in the change that implements the features it
/// introduces (for example `v1.11` requires authenticated media).
pub const SUPPORTED_VERSIONS: &[&str] = &["v1.1"];

/// Features beyond [`SUPPORTED_VERSIONS`] that Hearth implements, advertised as enabled.
///
/// `org.matrix.msc3916.stable`: authenticated media (`/_matrix/client/v1/media/*`, spec v1.11). Clients that do
/// not see v1.11 look for this flag before switching to the authenticated endpoints; without it they would use the
/// legacy ones, which do not serve media uploaded while `[media] enable_authenticated_media` is on.
pub const UNSTABLE_FEATURES: &[&str] = &["org.matrix.msc3916.stable"];

/// Response body of `GET /_matrix/client/versions`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionsResponse {
    /// Supported spec versions, e.g. `"v1.1"`.
    pub versions: Vec<String>,
    /// Unstable features (MSC identifiers) and whether they are enabled; empty while Hearth implements none.
    #[serde(default)]
    pub unstable_features: BTreeMap<String, bool>,
}

impl VersionsResponse {
    /// The response Hearth itself gives: [`SUPPORTED_VERSIONS`] and [`UNSTABLE_FEATURES`].
    pub fn hearth() -> Self {
        Self {
            versions: SUPPORTED_VERSIONS.iter().map(|v| (*v).to_owned()).collect(),
            unstable_features: UNSTABLE_FEATURES
                .iter()
                .map(|feature| ((*feature).to_owned(), true))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hearth_response_lists_no_legacy_r0_versions() {
        let response = VersionsResponse::hearth();
        assert!(!response.versions.is_empty());
        assert!(response.versions.iter().all(|v| v.starts_with("v1.")));
    }

    #[test]
    fn serializes_with_both_spec_fields() {
        let json = serde_json::to_value(VersionsResponse::hearth()).unwrap();
        assert_eq!(json["versions"], serde_json::json!(["v1.1"]));
        assert_eq!(
            json["unstable_features"],
            serde_json::json!({"org.matrix.msc3916.stable": true})
        );
    }
}
