//! The cache of remote users' device lists, against a fake remote that is also a TLS peer the server can reach
//! back: the first `/keys/query` for a remote room member fetches a `/user/devices` snapshot, later queries are
//! answered from the cache, `m.device_list_update` EDUs that follow on (`prev_id` = the cached `stream_id`) are
//! applied without asking, an update after a gap makes the next query fetch a new snapshot, and
//! `m.signing_key_update` brings the master key.

use std::sync::{Arc, Mutex};

use hearth::storage::Backend;
use hearth_crypto::SigningKey;
use hearth_crypto::signing::sign_json;
use reqwest::Method;
use serde_json::{Value, json};

use crate::peer::fake_peer;
use crate::{Federation, alice_sync as sync, both_backends, now_ms};

fn signed_device(user: &str, device: &str, seed: u8) -> Value {
    let key = SigningKey::from_seed(device, &[seed; 32]).unwrap();
    let mut keys = json!({
        "user_id": user, "device_id": device,
        "algorithms": ["m.olm.v1.curve25519-aes-sha2", "m.megolm.v1.aes-sha2"],
        "keys": { format!("curve25519:{device}"): "curve", format!("ed25519:{device}"): key.public_key_base64() },
    });
    sign_json(&mut keys, user, &key).unwrap();
    keys
}

/// Alice's `/keys/query` for `user`: the device IDs in the answer, sorted, and the whole answer.
async fn query_devices(fed: &Federation, user: &str) -> (Vec<String>, Value) {
    let (status, answer) = fed
        .server
        .call(
            Method::POST,
            "/_matrix/client/v3/keys/query",
            Some("alice-token"),
            Some(&json!({ "device_keys": { user: [] } })),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    let mut devices: Vec<String> = answer["device_keys"][user]
        .as_object()
        .map(|devices| devices.keys().cloned().collect())
        .unwrap_or_default();
    devices.sort();
    (devices, answer)
}

async fn send_edu(fed: &Federation, txn: &str, edu: Value) {
    let (status, body) = fed
        .request(
            Method::PUT,
            &format!("/_matrix/federation/v1/send/{txn}"),
            Some(&json!({ "origin": fed.remote, "origin_server_ts": now_ms(), "pdus": [], "edus": [edu] })),
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

async fn remote_device_lists_are_cached_and_kept_fresh_by_updates(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    // What the peer's /user/devices answers, and how often it was asked.
    let snapshot = Arc::new(Mutex::new(Value::Null));
    let asked = Arc::new(Mutex::new(0));
    let (peer, _received) = fake_peer(
        dir.path(),
        Arc::new({
            let (snapshot, asked) = (snapshot.clone(), asked.clone());
            move |method, target, _| {
                if method == "GET" && target.starts_with("/_matrix/federation/v1/user/devices/") {
                    *asked.lock().unwrap() += 1;
                    return (200, snapshot.lock().unwrap().clone());
                }
                (200, json!({ "pdus": {} }))
            }
        }),
    )
    .await;
    let fed = Federation::start_as(backend, peer.as_str()).await;
    let bob = format!("@bob:{peer}");
    let room_id = fed.public_room("12").await;
    fed.join(&room_id, &bob).await;
    *snapshot.lock().unwrap() = json!({
        "user_id": bob, "stream_id": 5,
        "devices": [{ "device_id": "PHONE", "keys": signed_device(&bob, "PHONE", 1),
                      "device_display_name": "Bob's phone" }],
    });

    // First query: a snapshot is fetched; the second is answered from the cache.
    let (devices, answer) = query_devices(&fed, &bob).await;
    assert_eq!(devices, ["PHONE"], "{answer}");
    assert_eq!(
        answer["device_keys"][&bob]["PHONE"]["unsigned"]["device_display_name"],
        "Bob's phone"
    );
    assert_eq!(query_devices(&fed, &bob).await.0, ["PHONE"]);
    assert_eq!(*asked.lock().unwrap(), 1, "the second query used the cache");

    // An update that follows on from the cached stream_id is applied without asking, and reaches /sync.
    let since = sync(&fed, None).await["next_batch"]
        .as_str()
        .unwrap()
        .to_owned();
    let tablet = json!({
        "edu_type": "m.device_list_update",
        "content": { "user_id": bob, "device_id": "TABLET", "stream_id": 6, "prev_id": [5],
                     "keys": signed_device(&bob, "TABLET", 2) },
    });
    send_edu(&fed, "t1", tablet.clone()).await;
    let answer = sync(&fed, Some(&since)).await;
    assert_eq!(answer["device_lists"]["changed"], json!([bob]), "{answer}");
    assert_eq!(query_devices(&fed, &bob).await.0, ["PHONE", "TABLET"]);
    assert_eq!(*asked.lock().unwrap(), 1, "applied from the EDU");
    // The same update again changes nothing.
    let since = answer["next_batch"].as_str().unwrap().to_owned();
    send_edu(&fed, "t2", tablet).await;
    assert_eq!(
        sync(&fed, Some(&since)).await["device_lists"]["changed"],
        json!([])
    );

    // A deletion that follows on is applied too.
    send_edu(
        &fed,
        "t3",
        json!({
            "edu_type": "m.device_list_update",
            "content": { "user_id": bob, "device_id": "PHONE", "stream_id": 7, "prev_id": [6], "deleted": true },
        }),
    )
    .await;
    assert_eq!(query_devices(&fed, &bob).await.0, ["TABLET"]);
    assert_eq!(*asked.lock().unwrap(), 1);

    // An update after a gap (stream 8 was missed): the next query fetches a new snapshot.
    *snapshot.lock().unwrap() = json!({
        "user_id": bob, "stream_id": 9,
        "devices": [
            { "device_id": "TABLET", "keys": signed_device(&bob, "TABLET", 2) },
            { "device_id": "LAPTOP", "keys": signed_device(&bob, "LAPTOP", 3) },
        ],
    });
    send_edu(
        &fed,
        "t4",
        json!({
            "edu_type": "m.device_list_update",
            "content": { "user_id": bob, "device_id": "LAPTOP", "stream_id": 9, "prev_id": [8],
                         "keys": signed_device(&bob, "LAPTOP", 3) },
        }),
    )
    .await;
    assert_eq!(query_devices(&fed, &bob).await.0, ["LAPTOP", "TABLET"]);
    assert_eq!(*asked.lock().unwrap(), 2, "resynced after the gap");
    assert_eq!(query_devices(&fed, &bob).await.0, ["LAPTOP", "TABLET"]);
    assert_eq!(*asked.lock().unwrap(), 2, "fresh again");

    // A new master key arrives as m.signing_key_update and is answered from the cache.
    let master = SigningKey::from_seed("master", &[9; 32]).unwrap();
    let master_key = json!({
        "user_id": bob, "usage": ["master"],
        "keys": { format!("ed25519:{}", master.public_key_base64()): master.public_key_base64() },
    });
    send_edu(
        &fed,
        "t5",
        json!({ "edu_type": "m.signing_key_update", "content": { "user_id": bob, "master_key": master_key } }),
    )
    .await;
    let (_, answer) = query_devices(&fed, &bob).await;
    assert_eq!(
        answer["master_keys"][&bob]["keys"], master_key["keys"],
        "{answer}"
    );
    assert_eq!(*asked.lock().unwrap(), 2);
    fed.server.stop().await;
}
both_backends!(remote_device_lists_are_cached_and_kept_fresh_by_updates);
