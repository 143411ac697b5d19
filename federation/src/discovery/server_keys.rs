//! `GET /_matrix/key/v2/server` — a server's own signing keys, self-signed.
//!
//! A received document must be verified against the JSON exactly as received (unknown fields included), never
//! against a re-serialised [`ServerKeys`]; the struct is for building our own document and for reading fields
//! after verification.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// HTTP method of the endpoint.
pub const METHOD: &str = "GET";
/// Path of the endpoint. The older form with a trailing `/{keyId}` is deprecated but still answered.
pub const PATH: &str = "/_matrix/key/v2/server";

/// The server keys document.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerKeys {
    /// The server the keys belong to.
    pub server_name: String,
    /// Milliseconds since the Unix epoch after which the keys must be re-fetched.
    pub valid_until_ts: u64,
    /// Current keys, by key ID (`ed25519:<version>`).
    pub verify_keys: BTreeMap<String, VerifyKeyEntry>,
    /// Keys no longer used for signing, by key ID, with the time they stopped being valid.
    #[serde(default)]
    pub old_verify_keys: BTreeMap<String, OldVerifyKeyEntry>,
    /// Signatures by server name, then key ID; empty before signing.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub signatures: BTreeMap<String, BTreeMap<String, String>>,
}

/// A current verify key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyKeyEntry {
    /// Unpadded standard base64 of the public key.
    pub key: String,
}

/// A retired verify key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OldVerifyKeyEntry {
    /// Unpadded standard base64 of the public key.
    pub key: String,
    /// Milliseconds since the Unix epoch when the key stopped being used.
    pub expired_ts: u64,
}

impl ServerKeys {
    /// An unsigned document with a single current key and no old keys.
    pub fn with_single_key(
        server_name: impl Into<String>,
        key_id: impl Into<String>,
        public_key_base64: impl Into<String>,
        valid_until_ts: u64,
    ) -> Self {
        let mut verify_keys = BTreeMap::new();
        verify_keys.insert(
            key_id.into(),
            VerifyKeyEntry {
                key: public_key_base64.into(),
            },
        );
        Self {
            server_name: server_name.into(),
            valid_until_ts,
            verify_keys,
            old_verify_keys: BTreeMap::new(),
            signatures: BTreeMap::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unsigned_document_has_the_spec_fields_and_no_signatures() {
        let doc = ServerKeys::with_single_key("example.org", "ed25519:abc", "AAAA", 1_000);
        assert_eq!(
            serde_json::to_value(&doc).unwrap(),
            json!({
                "server_name": "example.org",
                "valid_until_ts": 1000,
                "verify_keys": {"ed25519:abc": {"key": "AAAA"}},
                "old_verify_keys": {}
            })
        );
    }

    #[test]
    fn parses_a_document_with_old_keys_and_signatures() {
        let doc: ServerKeys = serde_json::from_value(json!({
            "server_name": "example.org",
            "valid_until_ts": 5,
            "verify_keys": {"ed25519:new": {"key": "BBBB"}},
            "old_verify_keys": {"ed25519:old": {"key": "AAAA", "expired_ts": 3}},
            "signatures": {"example.org": {"ed25519:new": "sig"}}
        }))
        .unwrap();
        assert_eq!(doc.old_verify_keys["ed25519:old"].expired_ts, 3);
        assert_eq!(doc.signatures["example.org"]["ed25519:new"], "sig");
    }
}
