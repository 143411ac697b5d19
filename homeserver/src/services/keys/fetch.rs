//! Fetching key documents and checking them before anything is cached: the origin's self-signature always,
//! the notary's signature for documents relayed by a notary.

use std::collections::BTreeMap;

use hearth_crypto::VerifyKey;
use hearth_federation::client::FederationClient;
use hearth_federation::keys::query::{KeyCriteria, KeyQueryRequest, KeyQueryResponse};
use hearth_types::ServerName;
use serde_json::Value;

use super::{MAX_KEY_VALIDITY_MS, now_ms};
use crate::storage::RemoteServerKey;

/// Most key IDs one document may list (current and old together); larger documents are refused.
const MAX_KEYS_PER_DOCUMENT: usize = 64;

/// `GET /_matrix/key/v2/server` on `server`, verified, as rows to cache.
pub(super) async fn fetch_direct(
    client: &FederationClient,
    server: &ServerName,
) -> Result<Vec<RemoteServerKey>, String> {
    let document: Value = client
        .get_json(server, hearth_federation::discovery::server_keys::PATH)
        .await
        .map_err(|e| e.to_string())?;
    rows_from_document(&document, server, server.as_str(), now_ms())
}

/// `POST /_matrix/key/v2/query` on `notary` for `server`; each returned document must be `server`'s, signed
/// by `server` and by the notary with one of `notary_keys`.
pub(super) async fn fetch_from_notary(
    client: &FederationClient,
    notary: &ServerName,
    notary_keys: &[RemoteServerKey],
    server: &ServerName,
) -> Result<Vec<RemoteServerKey>, String> {
    let mut request = KeyQueryRequest::default();
    request.server_keys.insert(
        server.as_str().to_owned(),
        BTreeMap::<String, KeyCriteria>::new(),
    );
    let response: KeyQueryResponse = client
        .post_json(notary, hearth_federation::keys::query::BATCH_PATH, &request)
        .await
        .map_err(|e| e.to_string())?;
    let now = now_ms();
    let mut rows = Vec::new();
    for document in response.server_keys.iter().take(16) {
        if document.get("server_name").and_then(Value::as_str) != Some(server.as_str()) {
            continue;
        }
        let notary_verified = notary_keys.iter().any(|key| {
            key.expired_ts.is_none()
                && VerifyKey::from_bytes(&key.public_key).is_ok_and(|verify_key| {
                    hearth_crypto::verify_json(document, notary.as_str(), &key.key_id, &verify_key)
                        .is_ok()
                })
        });
        if !notary_verified {
            return Err(format!(
                "a key document for {server} lacks a valid signature by {notary}"
            ));
        }
        rows.extend(rows_from_document(document, server, notary.as_str(), now)?);
    }
    Ok(rows)
}

/// Checks a `/_matrix/key/v2/server` document of `server` and turns it into rows: it must name `server`,
/// every signature by one of its own `verify_keys` must verify and at least one must exist.
/// `valid_until_ts` is capped at seven days after `now`; retired keys are valid until their `expired_ts`.
pub(super) fn rows_from_document(
    document: &Value,
    server: &ServerName,
    source: &str,
    now: i64,
) -> Result<Vec<RemoteServerKey>, String> {
    if document.get("server_name").and_then(Value::as_str) != Some(server.as_str()) {
        return Err(format!("the key document is not {server}'s"));
    }
    let valid_until_ts = document
        .get("valid_until_ts")
        .and_then(Value::as_i64)
        .ok_or("the key document has no integer valid_until_ts")?
        .min(now.saturating_add(MAX_KEY_VALIDITY_MS));
    let current = parse_keys(document.get("verify_keys"))?;
    if current.is_empty() {
        return Err("the key document lists no verify key".into());
    }
    let old = match document.get("old_verify_keys") {
        None | Some(Value::Null) => Vec::new(),
        keys => parse_keys(keys)?,
    };
    if current.len() + old.len() > MAX_KEYS_PER_DOCUMENT {
        return Err("the key document lists too many keys".into());
    }
    let signed_by: Vec<&String> = document
        .get("signatures")
        .and_then(|s| s.get(server.as_str()))
        .and_then(Value::as_object)
        .map(|by_key| by_key.keys().collect())
        .unwrap_or_default();
    let mut verified = 0;
    for key_id in signed_by {
        let Some((_, key, _)) = current.iter().find(|(id, _, _)| id == key_id) else {
            continue;
        };
        hearth_crypto::verify_json(document, server.as_str(), key_id, key)
            .map_err(|e| format!("self-signature {key_id}: {e}"))?;
        verified += 1;
    }
    if verified == 0 {
        return Err("the key document is not signed by any of its own keys".into());
    }
    let text =
        hearth_crypto::canonical_json::to_canonical_string(document).map_err(|e| e.to_string())?;
    let row =
        |key_id: &str, key: &VerifyKey, valid_until: i64, expired: Option<i64>| RemoteServerKey {
            server_name: server.as_str().to_owned(),
            key_id: key_id.to_owned(),
            public_key: key.as_bytes().to_vec(),
            valid_until_ts: valid_until,
            expired_ts: expired,
            fetched_ts: now,
            source: source.to_owned(),
            key_json: Some(text.clone()),
        };
    let mut rows: Vec<RemoteServerKey> = current
        .iter()
        .map(|(id, key, _)| row(id, key, valid_until_ts, None))
        .collect();
    for (id, key, expired_ts) in &old {
        if current.iter().any(|(current_id, _, _)| current_id == id) {
            continue;
        }
        let expired = expired_ts.unwrap_or(0);
        rows.push(row(id, key, expired, Some(expired)));
    }
    Ok(rows)
}

/// `{key_id: {"key": base64, "expired_ts"?: int}}` as `(key ID, key, expired_ts)`; only `ed25519:` keys.
fn parse_keys(keys: Option<&Value>) -> Result<Vec<(String, VerifyKey, Option<i64>)>, String> {
    let Some(keys) = keys.and_then(Value::as_object) else {
        return Err("verify_keys is not an object".into());
    };
    let mut parsed = Vec::new();
    for (key_id, entry) in keys.iter().take(MAX_KEYS_PER_DOCUMENT + 1) {
        if !key_id.starts_with("ed25519:") {
            continue;
        }
        let key = entry
            .get("key")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("key {key_id} has no `key`"))?;
        let key = VerifyKey::from_base64(key).map_err(|e| format!("key {key_id}: {e}"))?;
        let expired_ts = entry.get("expired_ts").and_then(Value::as_i64);
        parsed.push((key_id.clone(), key, expired_ts));
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hearth_crypto::SigningKey;
    use serde_json::json;

    fn document(key: &SigningKey, server: &str, valid_until: i64) -> Value {
        let mut document = json!({
            "server_name": server,
            "valid_until_ts": valid_until,
            "verify_keys": {key.key_id().as_str(): {"key": key.public_key_base64()}},
            "old_verify_keys": {"ed25519:old": {"key": key.public_key_base64(), "expired_ts": 5}},
        });
        hearth_crypto::sign_json(&mut document, server, key).expect("sign");
        document
    }

    #[test]
    fn accepts_a_self_signed_document_and_caps_validity() {
        let key = SigningKey::generate();
        let server = ServerName::parse("remote.example").expect("name");
        let now = 1_000;
        let rows = rows_from_document(
            &document(&key, "remote.example", i64::MAX),
            &server,
            "remote.example",
            now,
        )
        .expect("valid document");
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].valid_until_ts, now + MAX_KEY_VALIDITY_MS);
        assert_eq!(rows[1].key_id, "ed25519:old");
        assert_eq!(rows[1].valid_until_ts, 5);
        assert_eq!(rows[1].expired_ts, Some(5));
    }

    #[test]
    fn rejects_a_document_with_a_forged_or_missing_self_signature() {
        let key = SigningKey::generate();
        let server = ServerName::parse("remote.example").expect("name");
        let mut forged = document(&key, "remote.example", 10);
        forged["valid_until_ts"] = json!(99);
        assert!(rows_from_document(&forged, &server, "remote.example", 0).is_err());
        let mut unsigned = document(&key, "remote.example", 10);
        unsigned["signatures"] = json!({});
        assert!(rows_from_document(&unsigned, &server, "remote.example", 0).is_err());
        let other = document(&key, "other.example", 10);
        assert!(rows_from_document(&other, &server, "remote.example", 0).is_err());
    }
}
