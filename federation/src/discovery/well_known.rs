//! `GET /.well-known/matrix/server` — delegates federation for a server name to another host and port.

use serde::{Deserialize, Serialize};

/// HTTP method of the endpoint.
pub const METHOD: &str = "GET";
/// Path of the endpoint, served on the server name's host.
pub const PATH: &str = "/.well-known/matrix/server";

/// Response body of `GET /.well-known/matrix/server`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerWellKnown {
    /// Where federation traffic for the server name goes: `host[:port]`.
    #[serde(rename = "m.server")]
    pub server: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uses_the_spec_field_name() {
        let json = serde_json::to_value(ServerWellKnown {
            server: "matrix.example.org:8448".into(),
        })
        .unwrap();
        assert_eq!(
            json,
            serde_json::json!({"m.server": "matrix.example.org:8448"})
        );
    }
}
