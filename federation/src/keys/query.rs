//! `POST /_matrix/key/v2/query` and `GET /_matrix/key/v2/query/{serverName}` — other servers' keys, as
//! the notary fetched (and countersigned) them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Path of the batch endpoint (POST).
pub const BATCH_PATH: &str = "/_matrix/key/v2/query";
/// Path prefix of the single-server endpoint (GET); the server name follows, percent-encoded, with an
/// optional `?minimum_valid_until_ts=`.
pub const SINGLE_PATH_PREFIX: &str = "/_matrix/key/v2/query/";

/// The batch request: server name → key ID → criteria. An empty key map asks for all keys.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyQueryRequest {
    /// What to fetch.
    pub server_keys: BTreeMap<String, BTreeMap<String, KeyCriteria>>,
}

/// Constraints on the keys returned.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyCriteria {
    /// Keys must be valid until at least this time (ms since the epoch); the notary refetches otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minimum_valid_until_ts: Option<u64>,
}

/// The answer of both endpoints: each server's `/_matrix/key/v2/server` document, signed by the server
/// and by the notary. Kept raw: signatures are checked over exactly these objects.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct KeyQueryResponse {
    /// The key documents.
    pub server_keys: Vec<Value>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn request_matches_the_spec_shape() {
        let raw = json!({"server_keys": {"a.example": {"ed25519:abc": {"minimum_valid_until_ts": 5}}, "b.example": {}}});
        let parsed: Result<KeyQueryRequest, _> = serde_json::from_value(raw.clone());
        let Ok(parsed) = parsed else { panic!("parse") };
        assert_eq!(
            parsed.server_keys["a.example"]["ed25519:abc"].minimum_valid_until_ts,
            Some(5)
        );
        assert!(parsed.server_keys["b.example"].is_empty());
        assert_eq!(serde_json::to_value(&parsed).ok(), Some(raw));
    }

    #[test]
    fn response_keeps_documents_raw() {
        let raw = json!({"server_keys": [{"server_name": "a.example", "unknown_field": 1}]});
        let parsed: Result<KeyQueryResponse, _> = serde_json::from_value(raw.clone());
        assert_eq!(
            parsed.ok().and_then(|p| serde_json::to_value(p).ok()),
            Some(raw)
        );
    }
}
