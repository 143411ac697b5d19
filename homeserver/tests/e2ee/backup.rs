//! Server-side key backup: versions (create, current, get, update, delete) and keys (put with the spec's
//! replacement rule, get and delete at every granularity, `etag` and `count`, wrong-version refusals).

use hearth::storage::Backend;
use reqwest::Method;
use serde_json::{Value, json};

use crate::common::{TestServer, start};
use crate::{both_backends, call_ok, post, seed_device};

const ALICE: &str = "@alice:hearth.test";
const ALGORITHM: &str = "m.megolm_backup.v1.curve25519-aes-sha2";
const ROOM: &str = "!room:hearth.test";

fn session(first_message_index: u64, forwarded_count: u64, is_verified: bool, tag: &str) -> Value {
    json!({
        "first_message_index": first_message_index,
        "forwarded_count": forwarded_count,
        "is_verified": is_verified,
        "session_data": { "ephemeral": "e", "ciphertext": tag, "mac": "m" },
    })
}

async fn keys_call(
    server: &TestServer,
    method: Method,
    path: &str,
    version: &str,
    token: &str,
    body: Option<Value>,
) -> (u16, Value) {
    server
        .call(
            method,
            &format!("/_matrix/client/v3/room_keys/keys{path}?version={version}"),
            Some(token),
            body.as_ref(),
        )
        .await
}

async fn backup_versions_are_created_read_updated_and_deleted(backend: Backend) {
    let server = start(backend, |_| {}).await;
    let alice = seed_device(&server.storage, ALICE, "ALICEDEV").await;
    let (status, body) = server
        .call(
            Method::GET,
            "/_matrix/client/v3/room_keys/version",
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(
        (status, body["errcode"].as_str()),
        (404, Some("M_NOT_FOUND")),
        "{body}"
    );

    let created = post(
        &server,
        "/room_keys/version",
        &alice,
        json!({ "algorithm": ALGORITHM, "auth_data": { "public_key": "pk1" } }),
    )
    .await;
    assert_eq!(created["version"], "1");
    let second = post(
        &server,
        "/room_keys/version",
        &alice,
        json!({ "algorithm": ALGORITHM, "auth_data": { "public_key": "pk2" } }),
    )
    .await;
    assert_eq!(second["version"], "2");
    let current = call_ok(
        &server,
        Method::GET,
        "/_matrix/client/v3/room_keys/version",
        &alice,
        None,
    )
    .await;
    assert_eq!(current["version"], "2");
    assert_eq!(current["algorithm"], ALGORITHM);
    assert_eq!(current["auth_data"]["public_key"], "pk2");
    assert_eq!(current["count"], 0);
    assert!(current["etag"].is_string());
    let first = call_ok(
        &server,
        Method::GET,
        "/_matrix/client/v3/room_keys/version/1",
        &alice,
        None,
    )
    .await;
    assert_eq!(first["auth_data"]["public_key"], "pk1");

    call_ok(
        &server,
        Method::PUT,
        "/_matrix/client/v3/room_keys/version/2",
        &alice,
        Some(json!({ "algorithm": ALGORITHM, "auth_data": { "public_key": "pk2", "signatures": {} }, "version": "2" })),
    )
    .await;
    let updated = call_ok(
        &server,
        Method::GET,
        "/_matrix/client/v3/room_keys/version/2",
        &alice,
        None,
    )
    .await;
    assert_eq!(updated["auth_data"]["signatures"], json!({}));
    for (what, body) in [
        (
            "another algorithm",
            json!({ "algorithm": "m.other", "auth_data": {} }),
        ),
        (
            "another version in the body",
            json!({ "algorithm": ALGORITHM, "auth_data": {}, "version": "1" }),
        ),
    ] {
        let (status, answer) = server
            .call(
                Method::PUT,
                "/_matrix/client/v3/room_keys/version/2",
                Some(&alice),
                Some(&body),
            )
            .await;
        assert_eq!(status, 400, "{what}: {answer}");
    }
    let (status, _) = server
        .call(
            Method::POST,
            "/_matrix/client/v3/room_keys/version",
            Some(&alice),
            Some(&json!({ "algorithm": "m.unknown", "auth_data": {} })),
        )
        .await;
    assert_eq!(status, 400, "unknown algorithm");

    call_ok(
        &server,
        Method::DELETE,
        "/_matrix/client/v3/room_keys/version/2",
        &alice,
        None,
    )
    .await;
    call_ok(
        &server,
        Method::DELETE,
        "/_matrix/client/v3/room_keys/version/2",
        &alice,
        None,
    )
    .await;
    let (status, _) = server
        .call(
            Method::GET,
            "/_matrix/client/v3/room_keys/version/2",
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(status, 404, "a deleted version is gone");
    let (status, _) = server
        .call(
            Method::DELETE,
            "/_matrix/client/v3/room_keys/version/7",
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(status, 404, "a version that never existed");
    let current = call_ok(
        &server,
        Method::GET,
        "/_matrix/client/v3/room_keys/version",
        &alice,
        None,
    )
    .await;
    assert_eq!(
        current["version"], "1",
        "the newest live version is current again"
    );
    let third = post(
        &server,
        "/room_keys/version",
        &alice,
        json!({ "algorithm": ALGORITHM, "auth_data": {} }),
    )
    .await;
    assert_eq!(third["version"], "3", "numbers are never reused");
    server.stop().await;
}
both_backends!(backup_versions_are_created_read_updated_and_deleted);

async fn backup_keys_follow_the_replacement_rules_with_etag_and_count(backend: Backend) {
    let server = start(backend, |_| {}).await;
    let alice = seed_device(&server.storage, ALICE, "ALICEDEV").await;
    let version = post(
        &server,
        "/room_keys/version",
        &alice,
        json!({ "algorithm": ALGORITHM, "auth_data": {} }),
    )
    .await["version"]
        .as_str()
        .unwrap()
        .to_owned();

    let (status, stored) = keys_call(
        &server,
        Method::PUT,
        "",
        &version,
        &alice,
        Some(json!({ "rooms": { ROOM: { "sessions": { "s1": session(5, 1, false, "v1"), "s2": session(0, 0, true, "v1") } } } })),
    )
    .await;
    assert_eq!(status, 200, "{stored}");
    assert_eq!(stored["count"], 2);
    let etag = stored["etag"].clone();

    // A worse copy changes nothing (same etag); better copies replace, one rule at a time.
    let path = format!("/{ROOM}/s1");
    let (_, worse) = keys_call(
        &server,
        Method::PUT,
        &path,
        &version,
        &alice,
        Some(session(9, 0, false, "worse")),
    )
    .await;
    assert_eq!(worse["etag"], etag, "{worse}");
    let (_, lower_index) = keys_call(
        &server,
        Method::PUT,
        &path,
        &version,
        &alice,
        Some(session(2, 3, false, "lower index")),
    )
    .await;
    assert_ne!(lower_index["etag"], etag);
    keys_call(
        &server,
        Method::PUT,
        &path,
        &version,
        &alice,
        Some(session(2, 1, false, "fewer forwards")),
    )
    .await;
    keys_call(
        &server,
        Method::PUT,
        &path,
        &version,
        &alice,
        Some(session(2, 2, false, "more forwards")),
    )
    .await;
    let (_, current) = keys_call(&server, Method::GET, &path, &version, &alice, None).await;
    assert_eq!(
        current["session_data"]["ciphertext"], "fewer forwards",
        "{current}"
    );
    keys_call(
        &server,
        Method::PUT,
        &path,
        &version,
        &alice,
        Some(session(7, 9, true, "verified")),
    )
    .await;
    let (_, current) = keys_call(&server, Method::GET, &path, &version, &alice, None).await;
    assert_eq!(current["session_data"]["ciphertext"], "verified");
    assert_eq!(current["first_message_index"], 7);

    let (_, room) = keys_call(
        &server,
        Method::GET,
        &format!("/{ROOM}"),
        &version,
        &alice,
        None,
    )
    .await;
    assert_eq!(room["sessions"].as_object().unwrap().len(), 2);
    let (_, all) = keys_call(&server, Method::GET, "", &version, &alice, None).await;
    assert_eq!(all["rooms"][ROOM]["sessions"]["s2"]["is_verified"], true);
    let (_, empty) = keys_call(
        &server,
        Method::GET,
        "/!other:hearth.test",
        &version,
        &alice,
        None,
    )
    .await;
    assert_eq!(empty, json!({ "sessions": {} }));
    let (status, _) = keys_call(
        &server,
        Method::GET,
        &format!("/{ROOM}/nosuch"),
        &version,
        &alice,
        None,
    )
    .await;
    assert_eq!(status, 404);

    let (_, deleted) = keys_call(&server, Method::DELETE, &path, &version, &alice, None).await;
    assert_eq!(deleted["count"], 1);
    let info = call_ok(
        &server,
        Method::GET,
        "/_matrix/client/v3/room_keys/version",
        &alice,
        None,
    )
    .await;
    assert_eq!(info["count"], 1);
    assert_eq!(info["etag"], deleted["etag"]);
    let (_, deleted) = keys_call(&server, Method::DELETE, "", &version, &alice, None).await;
    assert_eq!(deleted["count"], 0);
    server.stop().await;
}
both_backends!(backup_keys_follow_the_replacement_rules_with_etag_and_count);

async fn backup_keys_refuse_an_old_or_unknown_version(backend: Backend) {
    let server = start(backend, |_| {}).await;
    let alice = seed_device(&server.storage, ALICE, "ALICEDEV").await;
    let body = json!({ "rooms": { ROOM: { "sessions": { "s": session(0, 0, false, "x") } } } });
    let (status, answer) =
        keys_call(&server, Method::PUT, "", "1", &alice, Some(body.clone())).await;
    assert_eq!(
        (status, answer["errcode"].as_str()),
        (404, Some("M_NOT_FOUND")),
        "no backup: {answer}"
    );
    post(
        &server,
        "/room_keys/version",
        &alice,
        json!({ "algorithm": ALGORITHM, "auth_data": {} }),
    )
    .await;
    post(
        &server,
        "/room_keys/version",
        &alice,
        json!({ "algorithm": ALGORITHM, "auth_data": {} }),
    )
    .await;
    let (status, answer) =
        keys_call(&server, Method::PUT, "", "1", &alice, Some(body.clone())).await;
    assert_eq!(status, 403, "{answer}");
    assert_eq!(answer["errcode"], "M_WRONG_ROOM_KEYS_VERSION");
    assert_eq!(answer["current_version"], "2");
    let (status, answer) = server
        .call(
            Method::PUT,
            "/_matrix/client/v3/room_keys/keys",
            Some(&alice),
            Some(&body),
        )
        .await;
    assert_eq!(
        (status, answer["errcode"].as_str()),
        (400, Some("M_MISSING_PARAM")),
        "{answer}"
    );
    let (status, answer) = keys_call(
        &server,
        Method::PUT,
        "",
        "2",
        &alice,
        Some(json!({ "rooms": { ROOM: { "sessions": { "s": { "first_message_index": "zero" } } } } })),
    )
    .await;
    assert_eq!(status, 400, "{answer}");
    let (status, _) = keys_call(&server, Method::GET, "", "nonsense", &alice, None).await;
    assert_eq!(status, 404);
    server.stop().await;
}
both_backends!(backup_keys_refuse_an_old_or_unknown_version);
