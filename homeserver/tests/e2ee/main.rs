//! End-to-end encryption endpoints over real HTTP on both backends: device, one-time and fallback keys,
//! queries and claims (also concurrent), to-device messages, device lists in `/sync` and `/keys/changes`,
//! cross-signing keys and signatures, and server-side key backup.

#[allow(dead_code)]
#[path = "../accounts/common.rs"]
mod common;

mod backup;
mod cross_signing;
mod device_lists;
mod keys;
mod to_device;

use hearth::storage::{NewAccessToken, NewUser, Storage, TokenHash};
use hearth_crypto::keys::SigningKey;
use hearth_crypto::signing::sign_json;
use reqwest::Method;
use serde_json::{Value, json};

use common::TestServer;

/// Creates a user (if new) with a device and that device's access token `<localpart>-<device>`.
pub async fn seed_device(storage: &Storage, user_id: &str, device_id: &str) -> String {
    if storage.get_user(user_id).await.unwrap().is_none() {
        storage
            .create_user(&NewUser {
                user_id,
                password_hash: None,
                created_ts: 1,
                is_admin: false,
                is_guest: false,
                displayname: None,
            })
            .await
            .unwrap();
    }
    storage
        .create_device(user_id, device_id, Some(&format!("{device_id} phone")), 1)
        .await
        .unwrap();
    let localpart = user_id.trim_start_matches('@').split(':').next().unwrap();
    let token = format!("{localpart}-{device_id}");
    storage
        .insert_access_token(&NewAccessToken {
            token_hash: TokenHash::of(&token),
            user_id,
            device_id: Some(device_id),
            created_ts: 1,
            expires_ts: None,
        })
        .await
        .unwrap();
    token
}

/// A deterministic ed25519 key named `ed25519:<name>`.
pub fn ed25519_key(name: &str, seed: u8) -> SigningKey {
    SigningKey::from_seed(name, &[seed; 32]).unwrap()
}

/// Device keys of `user`'s `device`, signed by the device's ed25519 key.
pub fn device_keys(user: &str, device: &str, key: &SigningKey) -> Value {
    let mut keys = json!({
        "user_id": user,
        "device_id": device,
        "algorithms": ["m.olm.v1.curve25519-aes-sha2", "m.megolm.v1.aes-sha2"],
        "keys": {
            format!("curve25519:{device}"): "curve+key+of+the+device",
            format!("ed25519:{device}"): key.public_key_base64(),
        },
    });
    sign_json(&mut keys, user, key).unwrap();
    keys
}

/// Calls `method path` as `token` with a JSON body; asserts the status and returns the body.
pub async fn call_ok(
    server: &TestServer,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> Value {
    let (status, response) = server.call(method, path, Some(token), body.as_ref()).await;
    assert_eq!(status, 200, "{path}: {response}");
    response
}

/// `POST /_matrix/client/v3/<path>` as `token`, expecting 200.
pub async fn post(server: &TestServer, path: &str, token: &str, body: Value) -> Value {
    call_ok(
        server,
        Method::POST,
        &format!("/_matrix/client/v3{path}"),
        token,
        Some(body),
    )
    .await
}

/// `/sync` as `token` (`since` optional, no wait).
pub async fn sync(server: &TestServer, token: &str, since: Option<&str>) -> Value {
    let path = match since {
        Some(since) => format!("/_matrix/client/v3/sync?timeout=0&since={since}"),
        None => "/_matrix/client/v3/sync?timeout=0".to_owned(),
    };
    call_ok(server, Method::GET, &path, token, None).await
}

/// `alice` creates a room and `bob` joins it; returns the room ID.
pub async fn shared_room(server: &TestServer, alice: &str, bob: &str, bob_id: &str) -> String {
    let created = post(server, "/createRoom", alice, json!({ "invite": [bob_id] })).await;
    let room_id = created["room_id"].as_str().unwrap().to_owned();
    post(server, &format!("/rooms/{room_id}/join"), bob, json!({})).await;
    room_id
}
