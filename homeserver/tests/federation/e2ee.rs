//! End-to-end encryption over federation: the key endpoints other servers call (`/user/devices`,
//! `/user/keys/query`, `/user/keys/claim`) and the E2EE EDUs received through `/send`.

use hearth::storage::Backend;
use hearth_crypto::SigningKey;
use hearth_crypto::signing::sign_json;
use reqwest::Method;
use serde_json::{Value, json};

use crate::{Federation, REMOTE, both_backends, encode, now_ms};

const ALICE: &str = "@alice:hearth.test";

async fn alice_uploads_keys(fed: &Federation) -> Value {
    let key = SigningKey::from_seed("DEV", &[5; 32]).unwrap();
    let mut keys = json!({
        "user_id": ALICE, "device_id": "DEV",
        "algorithms": ["m.olm.v1.curve25519-aes-sha2", "m.megolm.v1.aes-sha2"],
        "keys": { "curve25519:DEV": "curve", "ed25519:DEV": key.public_key_base64() },
    });
    sign_json(&mut keys, ALICE, &key).unwrap();
    let (status, body) = fed
        .server
        .call(
            Method::POST,
            "/_matrix/client/v3/keys/upload",
            Some("alice-token"),
            Some(&json!({
                "device_keys": keys,
                "one_time_keys": { "signed_curve25519:AAA": { "key": "otk" } },
            })),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    keys
}

async fn other_servers_query_devices_and_claim_keys_of_local_users(backend: Backend) {
    let fed = Federation::start(backend).await;
    let keys = alice_uploads_keys(&fed).await;

    let (status, devices) = fed
        .request(
            Method::GET,
            &format!("/_matrix/federation/v1/user/devices/{}", encode(ALICE)),
            None,
        )
        .await;
    assert_eq!(status, 200, "{devices}");
    assert_eq!(devices["user_id"], ALICE);
    assert_eq!(devices["devices"][0]["device_id"], "DEV");
    assert_eq!(devices["devices"][0]["keys"]["keys"], keys["keys"]);
    assert!(devices["stream_id"].as_i64().unwrap() > 0);

    let (status, answer) = fed
        .request(
            Method::POST,
            "/_matrix/federation/v1/user/keys/query",
            Some(&json!({ "device_keys": { ALICE: [], "@x:elsewhere.test": [] } })),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["device_keys"][ALICE]["DEV"]["keys"], keys["keys"]);
    assert!(answer["device_keys"].get("@x:elsewhere.test").is_none());

    let claim = json!({ "one_time_keys": { ALICE: { "DEV": "signed_curve25519" } } });
    let (status, claimed) = fed
        .request(
            Method::POST,
            "/_matrix/federation/v1/user/keys/claim",
            Some(&claim),
        )
        .await;
    assert_eq!(status, 200, "{claimed}");
    assert_eq!(
        claimed["one_time_keys"][ALICE]["DEV"]["signed_curve25519:AAA"]["key"],
        "otk"
    );
    let (_, again) = fed
        .request(
            Method::POST,
            "/_matrix/federation/v1/user/keys/claim",
            Some(&claim),
        )
        .await;
    assert_eq!(
        again["one_time_keys"],
        json!({}),
        "handed out once: {again}"
    );

    let (status, _) = fed
        .unsigned(Method::POST, "/_matrix/federation/v1/user/keys/query")
        .await;
    assert_eq!(status, 401);
    fed.server.stop().await;
}
both_backends!(other_servers_query_devices_and_claim_keys_of_local_users);

async fn sync_token(fed: &Federation) -> String {
    let (status, body) = fed
        .server
        .call(
            Method::GET,
            "/_matrix/client/v3/sync?timeout=0",
            Some("alice-token"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body["next_batch"].as_str().unwrap().to_owned()
}

async fn sync_since(fed: &Federation, since: &str) -> Value {
    let (status, body) = fed
        .server
        .call(
            Method::GET,
            &format!("/_matrix/client/v3/sync?timeout=0&since={since}"),
            Some("alice-token"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn send_edus(fed: &Federation, txn: &str, edus: Value) {
    let (status, body) = fed
        .request(
            Method::PUT,
            &format!("/_matrix/federation/v1/send/{txn}"),
            Some(&json!({ "origin": REMOTE, "origin_server_ts": now_ms(), "pdus": [], "edus": edus })),
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

async fn to_device_and_device_list_edus_reach_local_clients(backend: Backend) {
    let fed = Federation::start(backend).await;
    let room_id = fed.public_room("12").await;
    fed.join(&room_id, "@bob:remote.test").await;
    let since = sync_token(&fed).await;

    let to_device = json!({
        "edu_type": "m.direct_to_device",
        "content": {
            "sender": "@bob:remote.test", "type": "m.room.encrypted", "message_id": "m1",
            "messages": { ALICE: { "DEV": { "ciphertext": "for alice" } } },
        },
    });
    // A sender of another server than the origin is ignored.
    let spoofed = json!({
        "edu_type": "m.direct_to_device",
        "content": {
            "sender": "@mallory:elsewhere.test", "type": "m.room.encrypted", "message_id": "m2",
            "messages": { ALICE: { "DEV": { "ciphertext": "spoofed" } } },
        },
    });
    let device_list = json!({
        "edu_type": "m.device_list_update",
        "content": { "user_id": "@bob:remote.test", "device_id": "BOBDEV", "stream_id": 3, "prev_id": [] },
    });
    send_edus(&fed, "t1", json!([to_device, spoofed, device_list])).await;
    // The same message ID again (a new transaction) is not delivered twice.
    send_edus(&fed, "t2", json!([to_device])).await;

    let answer = sync_since(&fed, &since).await;
    let events = answer["to_device"]["events"].as_array().unwrap();
    assert_eq!(events.len(), 1, "{answer}");
    assert_eq!(events[0]["sender"], "@bob:remote.test");
    assert_eq!(events[0]["content"]["ciphertext"], "for alice");
    assert!(
        answer["device_lists"]["changed"]
            .as_array()
            .unwrap()
            .contains(&json!("@bob:remote.test")),
        "{answer}"
    );
    fed.server.stop().await;
}
both_backends!(to_device_and_device_list_edus_reach_local_clients);
