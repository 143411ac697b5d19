//! Our own signing keys and cached remote server keys.

use hearth::storage::{RemoteServerKey, ServerSigningKey, StorageError};

use super::harness::TestDb;

pub async fn stores_own_signing_keys_including_expired(db: &TestDb) {
    let storage = db.connect().await;
    let old = ServerSigningKey {
        key_id: "ed25519:old".into(),
        public_key: vec![1; 32],
        valid_until_ts: 1_000,
        expired_ts: None,
    };
    let current = ServerSigningKey {
        key_id: "ed25519:new".into(),
        public_key: vec![2; 32],
        valid_until_ts: 2_000,
        expired_ts: None,
    };
    storage.store_server_signing_key(&old).await.unwrap();
    storage.store_server_signing_key(&current).await.unwrap();
    storage
        .expire_server_signing_key("ed25519:old", 1_500)
        .await
        .unwrap();
    let republished = ServerSigningKey {
        valid_until_ts: 3_000,
        ..current.clone()
    };
    storage
        .store_server_signing_key(&republished)
        .await
        .unwrap();

    let keys = storage.list_server_signing_keys().await.unwrap();
    let expected_old = ServerSigningKey {
        expired_ts: Some(1_500),
        ..old
    };
    assert_eq!(keys, [republished, expected_old]);
    let missing = storage.expire_server_signing_key("ed25519:nope", 1).await;
    assert!(
        matches!(missing, Err(StorageError::NotFound(_))),
        "{missing:?}"
    );
}

pub async fn stores_remote_keys_without_shortening_validity(db: &TestDb) {
    let storage = db.connect().await;
    let key = |key_id: &str, valid_until_ts: i64, source: &str| RemoteServerKey {
        server_name: "remote.test".into(),
        key_id: key_id.into(),
        public_key: vec![7; 32],
        valid_until_ts,
        expired_ts: None,
        fetched_ts: 50,
        source: source.into(),
        key_json: Some(r#"{"server_name":"remote.test"}"#.into()),
    };
    storage
        .store_remote_server_keys(&[
            key("ed25519:a", 1_000, "remote.test"),
            key("ed25519:b", 1_000, "remote.test"),
        ])
        .await
        .unwrap();
    // A stale notary answer must not shorten validity; a fresher one extends it.
    storage
        .store_remote_server_keys(&[key("ed25519:a", 500, "notary.test")])
        .await
        .unwrap();
    storage
        .store_remote_server_keys(&[key("ed25519:b", 9_000, "notary.test")])
        .await
        .unwrap();
    storage.store_remote_server_keys(&[]).await.unwrap();

    let a = storage
        .get_remote_server_key("remote.test", "ed25519:a")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (a.valid_until_ts, a.source.as_str()),
        (1_000, "remote.test")
    );
    assert_eq!(a.public_key, vec![7; 32]);
    assert_eq!(
        a.key_json.as_deref(),
        Some(r#"{"server_name":"remote.test"}"#)
    );
    let all = storage
        .list_remote_server_keys("remote.test")
        .await
        .unwrap();
    let summary: Vec<(String, i64)> = all
        .into_iter()
        .map(|k| (k.key_id, k.valid_until_ts))
        .collect();
    assert_eq!(
        summary,
        [
            ("ed25519:a".to_owned(), 1_000),
            ("ed25519:b".to_owned(), 9_000)
        ]
    );
    assert_eq!(
        storage
            .get_remote_server_key("other.test", "ed25519:a")
            .await
            .unwrap(),
        None
    );
}
