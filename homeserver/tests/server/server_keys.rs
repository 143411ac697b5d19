//! `/_matrix/key/v2/server`: self-signed with the persistent signing key, on both listeners, across restarts
//! and key replacement.

use hearth_crypto::VerifyKey;
use serde_json::Value;

use crate::common::{
    client_url, federation_url, get_json, http_client, https_client_trusting, start_in,
};

const KEY_PATH: &str = "/_matrix/key/v2/server";

/// Checks the document is signed by each of its verify keys and returns the current key IDs and keys.
fn assert_self_signed(doc: &Value) -> Vec<(String, String)> {
    let server_name = doc["server_name"]
        .as_str()
        .expect("server_name is a string");
    let keys = doc["verify_keys"]
        .as_object()
        .expect("verify_keys is an object");
    assert!(!keys.is_empty(), "no verify keys in {doc}");
    keys.iter()
        .map(|(key_id, entry)| {
            let public = entry["key"].as_str().expect("key is a string");
            let verify_key = VerifyKey::from_base64(public).expect("key is base64 ed25519");
            hearth_crypto::verify_json(doc, server_name, key_id, &verify_key)
                .unwrap_or_else(|error| panic!("signature by {key_id} does not verify: {error}"));
            (key_id.clone(), public.to_owned())
        })
        .collect()
}

#[tokio::test]
async fn key_document_is_signed_and_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_in(dir.path()).await;
    let before = hearth::signing_key::now_millis();
    let (status, doc) = get_json(&http_client(), &client_url(&server, KEY_PATH)).await;
    assert_eq!(status, 200);
    assert_eq!(doc["server_name"], "hearth.test");
    assert_eq!(doc["old_verify_keys"], serde_json::json!({}));
    let keys = assert_self_signed(&doc);
    assert_eq!(keys.len(), 1);
    assert!(keys[0].0.starts_with("ed25519:"), "{keys:?}");

    let valid_until = doc["valid_until_ts"].as_u64().unwrap();
    let week_ms = 7 * 24 * 3600 * 1000;
    assert!(valid_until >= before + week_ms - 1000, "{valid_until}");
    assert!(
        valid_until <= hearth::signing_key::now_millis() + week_ms,
        "{valid_until}"
    );

    let mut tampered = doc.clone();
    tampered["valid_until_ts"] = (valid_until + 1).into();
    let verify_key = VerifyKey::from_base64(&keys[0].1).unwrap();
    assert!(hearth_crypto::verify_json(&tampered, "hearth.test", &keys[0].0, &verify_key).is_err());
    server.shutdown().await;
}

#[tokio::test]
async fn federation_listener_serves_the_same_signed_keys() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_in(dir.path()).await;
    let (_, over_http) = get_json(&http_client(), &client_url(&server, KEY_PATH)).await;
    let (status, over_https) = get_json(
        &https_client_trusting(dir.path()),
        &federation_url(&server, KEY_PATH),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        assert_self_signed(&over_https),
        assert_self_signed(&over_http)
    );
    server.shutdown().await;
}

#[tokio::test]
async fn deprecated_key_id_path_answers_the_same_document() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_in(dir.path()).await;
    let (status, doc) = get_json(
        &http_client(),
        &client_url(&server, "/_matrix/key/v2/server/ed25519:whatever"),
    )
    .await;
    assert_eq!(status, 200);
    assert_self_signed(&doc);
    server.shutdown().await;
}

#[tokio::test]
async fn signing_key_is_the_same_after_a_restart_with_the_same_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_in(dir.path()).await;
    let (_, first) = get_json(&http_client(), &client_url(&server, KEY_PATH)).await;
    server.shutdown().await;
    assert!(dir.path().join("signing.key").is_file());

    let server = start_in(dir.path()).await;
    let (_, second) = get_json(&http_client(), &client_url(&server, KEY_PATH)).await;
    assert_eq!(assert_self_signed(&first), assert_self_signed(&second));
    assert_eq!(second["old_verify_keys"], serde_json::json!({}));
    server.shutdown().await;
}

#[tokio::test]
async fn replaced_key_file_publishes_the_previous_key_as_old() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_in(dir.path()).await;
    let (_, first) = get_json(&http_client(), &client_url(&server, KEY_PATH)).await;
    server.shutdown().await;
    let old = assert_self_signed(&first).remove(0);

    std::fs::remove_file(dir.path().join("signing.key")).unwrap();
    let server = start_in(dir.path()).await;
    let (_, second) = get_json(&http_client(), &client_url(&server, KEY_PATH)).await;
    let new = assert_self_signed(&second).remove(0);
    assert_ne!(new, old);
    let retired = &second["old_verify_keys"][&old.0];
    assert_eq!(retired["key"], old.1.as_str(), "{second}");
    assert!(retired["expired_ts"].as_u64().unwrap() > 0);
    server.shutdown().await;
}
