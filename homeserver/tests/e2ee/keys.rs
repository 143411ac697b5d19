//! `/keys/upload`, `/keys/query`, `/keys/claim`, `/keys/changes` and the key sections of `/sync`.

use std::collections::HashSet;

use hearth::storage::Backend;
use reqwest::Method;
use serde_json::{Value, json};

use crate::common::start;
use crate::{both_backends, device_keys, ed25519_key, post, seed_device, shared_room, sync};

const ALICE: &str = "@alice:hearth.test";
const BOB: &str = "@bob:hearth.test";

async fn uploaded_device_keys_are_returned_by_query_with_the_display_name(backend: Backend) {
    let server = start(backend, |_| {}).await;
    let alice = seed_device(&server.storage, ALICE, "ALICEDEV").await;
    let bob = seed_device(&server.storage, BOB, "BOBDEV").await;
    let keys = device_keys(ALICE, "ALICEDEV", &ed25519_key("ALICEDEV", 1));
    let uploaded = post(
        &server,
        "/keys/upload",
        &alice,
        json!({ "device_keys": keys }),
    )
    .await;
    assert_eq!(uploaded["one_time_key_counts"]["signed_curve25519"], 0);

    let answer = post(
        &server,
        "/keys/query",
        &bob,
        json!({ "device_keys": { ALICE: [] } }),
    )
    .await;
    let stored = &answer["device_keys"][ALICE]["ALICEDEV"];
    assert_eq!(stored["keys"], keys["keys"]);
    assert_eq!(stored["signatures"], keys["signatures"]);
    assert_eq!(stored["unsigned"]["device_display_name"], "ALICEDEV phone");
    assert_eq!(answer["failures"], json!({}));
    // Asking for one device by ID; a device without keys is absent.
    seed_device(&server.storage, ALICE, "NOKEYS").await;
    let answer = post(
        &server,
        "/keys/query",
        &bob,
        json!({ "device_keys": { ALICE: ["NOKEYS", "ALICEDEV"] } }),
    )
    .await;
    let devices = answer["device_keys"][ALICE].as_object().unwrap();
    assert_eq!(devices.keys().collect::<Vec<_>>(), ["ALICEDEV"]);
    server.stop().await;
}
both_backends!(uploaded_device_keys_are_returned_by_query_with_the_display_name);

async fn refuses_unsigned_forged_and_foreign_device_keys(backend: Backend) {
    let server = start(backend, |_| {}).await;
    let alice = seed_device(&server.storage, ALICE, "ALICEDEV").await;
    let key = ed25519_key("ALICEDEV", 1);
    let mut unsigned = device_keys(ALICE, "ALICEDEV", &key);
    unsigned.as_object_mut().unwrap().remove("signatures");
    let mut forged = device_keys(ALICE, "ALICEDEV", &key);
    forged["keys"]["curve25519:ALICEDEV"] = json!("swapped+curve+key");
    let cases = [
        ("unsigned", unsigned),
        ("forged", forged),
        (
            "another user's",
            device_keys(BOB, "ALICEDEV", &ed25519_key("ALICEDEV", 1)),
        ),
        (
            "another device's",
            device_keys(ALICE, "OTHER", &ed25519_key("OTHER", 2)),
        ),
        ("signed by another key", {
            let mut keys = device_keys(ALICE, "ALICEDEV", &ed25519_key("ALICEDEV", 3));
            keys["keys"]["ed25519:ALICEDEV"] = json!(key.public_key_base64());
            keys
        }),
    ];
    for (what, keys) in cases {
        let (status, body) = server
            .call(
                Method::POST,
                "/_matrix/client/v3/keys/upload",
                Some(&alice),
                Some(&json!({ "device_keys": keys })),
            )
            .await;
        assert_eq!(status, 400, "{what} device keys: {body}");
        assert_eq!(body["errcode"], "M_INVALID_PARAM", "{what}: {body}");
    }
    let (status, body) = server
        .call(
            Method::POST,
            "/_matrix/client/v3/keys/upload",
            Some(&alice),
            Some(&json!({ "one_time_keys": { "no-colon": "x" } })),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    let answer = post(
        &server,
        "/keys/query",
        &alice,
        json!({ "device_keys": { ALICE: [] } }),
    )
    .await;
    assert_eq!(
        answer["device_keys"][ALICE],
        json!({}),
        "nothing was stored"
    );
    server.stop().await;
}
both_backends!(refuses_unsigned_forged_and_foreign_device_keys);

fn one_time_keys(prefix: &str, count: usize) -> Value {
    let mut keys = serde_json::Map::new();
    for n in 0..count {
        keys.insert(
            format!("signed_curve25519:{prefix}{n:03}"),
            json!({ "key": format!("otk-{prefix}-{n}"), "signatures": {} }),
        );
    }
    Value::Object(keys)
}

async fn claim(server: &crate::common::TestServer, token: &str) -> Value {
    post(
        server,
        "/keys/claim",
        token,
        json!({ "one_time_keys": { ALICE: { "ALICEDEV": "signed_curve25519" } } }),
    )
    .await
}

async fn one_time_keys_are_claimed_once_then_the_fallback_key(backend: Backend) {
    let server = start(backend, |_| {}).await;
    let alice = seed_device(&server.storage, ALICE, "ALICEDEV").await;
    let bob = seed_device(&server.storage, BOB, "BOBDEV").await;
    // Nothing uploaded yet: the device is left out of the answer.
    let answer = claim(&server, &bob).await;
    assert_eq!(answer["one_time_keys"], json!({}), "{answer}");

    let uploaded = post(
        &server,
        "/keys/upload",
        &alice,
        json!({
            "one_time_keys": one_time_keys("A", 2),
            "fallback_keys": { "signed_curve25519:FB1": { "key": "fallback", "fallback": true } },
        }),
    )
    .await;
    assert_eq!(uploaded["one_time_key_counts"]["signed_curve25519"], 2);
    // Re-uploading the same keys is harmless; the same ID with another key is refused.
    post(
        &server,
        "/keys/upload",
        &alice,
        json!({ "one_time_keys": one_time_keys("A", 2) }),
    )
    .await;
    let (status, body) = server
        .call(
            Method::POST,
            "/_matrix/client/v3/keys/upload",
            Some(&alice),
            Some(&json!({ "one_time_keys": { "signed_curve25519:A000": { "key": "other" } } })),
        )
        .await;
    assert_eq!(status, 400, "{body}");

    let first = sync(&server, &alice, None).await;
    assert_eq!(first["device_one_time_keys_count"]["signed_curve25519"], 2);
    assert_eq!(
        first["device_unused_fallback_key_types"],
        json!(["signed_curve25519"])
    );

    let mut seen = HashSet::new();
    for _ in 0..2 {
        let answer = claim(&server, &bob).await;
        let keys = answer["one_time_keys"][ALICE]["ALICEDEV"]
            .as_object()
            .unwrap()
            .clone();
        let (key_id, _) = keys.into_iter().next().unwrap();
        assert!(key_id.starts_with("signed_curve25519:A"), "{key_id}");
        assert!(seen.insert(key_id), "a one-time key was handed out twice");
    }
    // Out of one-time keys: the fallback key, as often as asked.
    for _ in 0..2 {
        let answer = claim(&server, &bob).await;
        let key = &answer["one_time_keys"][ALICE]["ALICEDEV"]["signed_curve25519:FB1"];
        assert_eq!(key["key"], "fallback", "{answer}");
    }
    let after = sync(&server, &alice, None).await;
    assert_eq!(after["device_one_time_keys_count"]["signed_curve25519"], 0);
    assert_eq!(after["device_unused_fallback_key_types"], json!([]));
    // A device with no key of the algorithm at all is left out.
    let answer = post(
        &server,
        "/keys/claim",
        &bob,
        json!({ "one_time_keys": { ALICE: { "ALICEDEV": "curve25519" }, BOB: { "NOSUCH": "signed_curve25519" } } }),
    )
    .await;
    assert_eq!(answer["one_time_keys"], json!({}), "{answer}");
    server.stop().await;
}
both_backends!(one_time_keys_are_claimed_once_then_the_fallback_key);

async fn concurrent_claims_never_hand_out_a_key_twice(backend: Backend) {
    let server = start(backend, |_| {}).await;
    let alice = seed_device(&server.storage, ALICE, "ALICEDEV").await;
    let bob = seed_device(&server.storage, BOB, "BOBDEV").await;
    post(
        &server,
        "/keys/upload",
        &alice,
        json!({ "one_time_keys": one_time_keys("C", 20) }),
    )
    .await;
    let mut claims = tokio::task::JoinSet::new();
    for _ in 0..30 {
        let request = server
            .http
            .post(server.url("/_matrix/client/v3/keys/claim"))
            .bearer_auth(&bob)
            .json(&json!({ "one_time_keys": { ALICE: { "ALICEDEV": "signed_curve25519" } } }));
        claims.spawn(async move {
            let response = request.send().await.expect("claim is answered");
            assert_eq!(response.status(), 200);
            response.json::<Value>().await.expect("claim answers JSON")
        });
    }
    let mut handed_out = Vec::new();
    while let Some(answer) = claims.join_next().await {
        let answer = answer.expect("claim task");
        if let Some(keys) = answer["one_time_keys"][ALICE]["ALICEDEV"].as_object() {
            handed_out.extend(keys.keys().cloned());
        }
    }
    let distinct: HashSet<&String> = handed_out.iter().collect();
    assert_eq!(handed_out.len(), 20, "every key handed out: {handed_out:?}");
    assert_eq!(distinct.len(), 20, "no key twice: {handed_out:?}");
    server.stop().await;
}
both_backends!(concurrent_claims_never_hand_out_a_key_twice);

async fn device_list_changes_reach_room_members_through_sync_and_keys_changes(backend: Backend) {
    let server = start(backend, |_| {}).await;
    let alice = seed_device(&server.storage, ALICE, "ALICEDEV").await;
    let bob = seed_device(&server.storage, BOB, "BOBDEV").await;
    let carol = seed_device(&server.storage, "@carol:hearth.test", "CAROLDEV").await;
    let room_id = shared_room(&server, &alice, &bob, BOB).await;
    let start_token = sync(&server, &bob, None).await["next_batch"]
        .as_str()
        .unwrap()
        .to_owned();
    let carol_token = sync(&server, &carol, None).await["next_batch"]
        .as_str()
        .unwrap()
        .to_owned();

    let keys = device_keys(ALICE, "ALICEDEV", &ed25519_key("ALICEDEV", 1));
    post(
        &server,
        "/keys/upload",
        &alice,
        json!({ "device_keys": keys }),
    )
    .await;
    let after_upload = sync(&server, &bob, Some(&start_token)).await;
    assert_eq!(
        after_upload["device_lists"]["changed"],
        json!([ALICE]),
        "{after_upload}"
    );
    // Carol shares no room with Alice and hears nothing.
    let carol_sync = sync(&server, &carol, Some(&carol_token)).await;
    assert_eq!(carol_sync["device_lists"]["changed"], json!([]));
    let token = after_upload["next_batch"].as_str().unwrap().to_owned();
    let changes = crate::call_ok(
        &server,
        Method::GET,
        &format!("/_matrix/client/v3/keys/changes?from={start_token}&to={token}"),
        &bob,
        None,
    )
    .await;
    assert_eq!(changes["changed"], json!([ALICE]));
    // Nothing new since: an unchanged re-upload is not a change.
    post(
        &server,
        "/keys/upload",
        &alice,
        json!({ "device_keys": keys }),
    )
    .await;
    let quiet = sync(&server, &bob, Some(&token)).await;
    assert_eq!(quiet["device_lists"]["changed"], json!([]));

    // Carol joins: Bob and Alice learn about her; she learns about both.
    post(
        &server,
        &format!("/rooms/{room_id}/invite"),
        &alice,
        json!({ "user_id": "@carol:hearth.test" }),
    )
    .await;
    post(
        &server,
        &format!("/rooms/{room_id}/join"),
        &carol,
        json!({}),
    )
    .await;
    let joined = sync(&server, &bob, Some(&token)).await;
    assert_eq!(
        joined["device_lists"]["changed"],
        json!(["@carol:hearth.test"]),
        "{joined}"
    );
    let carol_sees = sync(&server, &carol, Some(&carol_token)).await;
    assert_eq!(
        carol_sees["device_lists"]["changed"],
        json!([ALICE, BOB]),
        "{carol_sees}"
    );
    let token = joined["next_batch"].as_str().unwrap().to_owned();

    // Alice deletes a device: a change. Carol leaves: she is in `left` for Bob.
    let second = seed_device(&server.storage, ALICE, "SECOND").await;
    let _ = second;
    server.storage.delete_device(ALICE, "SECOND").await.unwrap();
    post(
        &server,
        &format!("/rooms/{room_id}/leave"),
        &carol,
        json!({}),
    )
    .await;
    let parted = sync(&server, &bob, Some(&token)).await;
    assert_eq!(
        parted["device_lists"]["changed"],
        json!([ALICE]),
        "{parted}"
    );
    assert_eq!(
        parted["device_lists"]["left"],
        json!(["@carol:hearth.test"]),
        "{parted}"
    );
    server.stop().await;
}
both_backends!(device_list_changes_reach_room_members_through_sync_and_keys_changes);

async fn keys_changes_needs_two_tokens(backend: Backend) {
    let server = start(backend, |_| {}).await;
    let alice = seed_device(&server.storage, ALICE, "ALICEDEV").await;
    for query in ["from=s1", "from=s1&to=nonsense"] {
        let (status, body) = server
            .call(
                Method::GET,
                &format!("/_matrix/client/v3/keys/changes?{query}"),
                Some(&alice),
                None,
            )
            .await;
        assert_eq!(status, 400, "{query}: {body}");
    }
    server.stop().await;
}
both_backends!(keys_changes_needs_two_tokens);

async fn remote_users_are_answered_in_failures_when_their_server_cannot_be_asked(backend: Backend) {
    let server = start(backend, |_| {}).await;
    let alice = seed_device(&server.storage, ALICE, "ALICEDEV").await;
    let answer = post(
        &server,
        "/keys/query",
        &alice,
        json!({ "device_keys": { "@x:remote.example": [], ALICE: [] } }),
    )
    .await;
    assert!(answer["failures"]["remote.example"].is_object(), "{answer}");
    assert!(answer["device_keys"].get("@x:remote.example").is_none());
    let answer = post(
        &server,
        "/keys/claim",
        &alice,
        json!({ "one_time_keys": { "@x:remote.example": { "D": "signed_curve25519" } } }),
    )
    .await;
    assert!(answer["failures"]["remote.example"].is_object(), "{answer}");
    // A to-device message for a remote user is accepted (and dropped without federation).
    crate::call_ok(
        &server,
        Method::PUT,
        "/_matrix/client/v3/sendToDevice/m.test/remote",
        &alice,
        Some(json!({ "messages": { "@x:remote.example": { "D": {} } } })),
    )
    .await;
    server.stop().await;
}
both_backends!(remote_users_are_answered_in_failures_when_their_server_cannot_be_asked);
