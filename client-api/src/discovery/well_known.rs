//! `GET /.well-known/matrix/client` — tells clients the base URL of the client-server API for a server name.

use serde::{Deserialize, Serialize};

/// HTTP method of the endpoint.
pub const METHOD: &str = "GET";
/// Path of the endpoint, served on the server name's host.
pub const PATH: &str = "/.well-known/matrix/client";

/// Response body of `GET /.well-known/matrix/client`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientWellKnown {
    /// Where the client-server API lives.
    #[serde(rename = "m.homeserver")]
    pub homeserver: HomeserverInfo,
    /// The identity server to suggest, if any.
    #[serde(
        rename = "m.identity_server",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub identity_server: Option<IdentityServerInfo>,
}

/// The `m.homeserver` object: the client-server API's base URL.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HomeserverInfo {
    /// Base URL without a trailing `/_matrix`, e.g. `https://matrix.example.org`.
    pub base_url: String,
}

/// The `m.identity_server` object.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityServerInfo {
    /// Base URL of the identity server.
    pub base_url: String,
}

impl ClientWellKnown {
    /// A document pointing clients at `base_url` with no identity server.
    pub fn new(base_url: impl Into<String>) -> Self {
        Self {
            homeserver: HomeserverInfo {
                base_url: base_url.into(),
            },
            identity_server: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uses_the_spec_field_names() {
        let json =
            serde_json::to_value(ClientWellKnown::new("https://matrix.example.org")).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"m.homeserver": {"base_url": "https://matrix.example.org"}})
        );
    }
}
