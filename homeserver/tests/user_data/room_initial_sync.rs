//! `GET /rooms/{roomId}/initialSync` (v3 and r0) over real HTTP: a member's snapshot of one room, a former
//! member's view ending at their leave, refusals for strangers and bad parameters.

use hearth::storage::Backend;
use reqwest::Method;
use serde_json::{Value, json};

use crate::both_backends;
use crate::common::{TestServer, start};
use crate::seed::user_with_token;
use crate::sync::{send_message, shared_room};

async fn room_initial_sync(
    server: &TestServer,
    prefix: &str,
    room_id: &str,
    token: &str,
    query: &str,
) -> (u16, Value) {
    server
        .call(
            Method::GET,
            &format!("/_matrix/client/{prefix}/rooms/{room_id}/initialSync{query}"),
            Some(token),
            None,
        )
        .await
}

fn bodies(snapshot: &Value) -> Vec<&str> {
    snapshot["messages"]["chunk"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|event| event["content"]["body"].as_str())
        .collect()
}

async fn room_initial_sync_returns_state_latest_messages_and_account_data(backend: Backend) {
    let server = start(backend, |_| {}).await;
    let room_id = shared_room(&server).await;
    for (txn, body) in [("1", "first"), ("2", "second"), ("3", "third")] {
        send_message(&server, "alice-token", &room_id, txn, body).await;
    }
    let (status, body) = server
        .call(
            Method::PUT,
            &format!("/_matrix/client/v3/user/@bob:hearth.test/rooms/{room_id}/tags/u.work"),
            Some("bob-token"),
            Some(&json!({"order": 0.5})),
        )
        .await;
    assert_eq!(status, 200, "{body}");

    for prefix in ["v3", "r0"] {
        let (status, snapshot) =
            room_initial_sync(&server, prefix, &room_id, "bob-token", "?limit=2").await;
        assert_eq!(status, 200, "{snapshot}");
        assert_eq!(snapshot["room_id"], room_id.as_str());
        assert_eq!(snapshot["membership"], "join");
        assert_eq!(snapshot["visibility"], "private");
        assert_eq!(
            bodies(&snapshot),
            vec!["second", "third"],
            "the latest two, oldest first"
        );
        let state = snapshot["state"].as_array().unwrap();
        assert!(
            state
                .iter()
                .any(|e| e["type"] == "m.room.name" && e["content"]["name"] == "Sync test")
        );
        assert!(
            state
                .iter()
                .any(|e| e["type"] == "m.room.member" && e["state_key"] == "@bob:hearth.test")
        );
        assert!(
            snapshot["account_data"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["type"] == "m.tag" && e["content"]["tags"]["u.work"]["order"] == 0.5),
            "{snapshot}"
        );
        assert!(snapshot["presence"].is_array() && snapshot["receipts"].is_array());

        // `start` pages back to the message before the chunk.
        let start = snapshot["messages"]["start"].as_str().unwrap();
        let (status, page) = server
            .call(
                Method::GET,
                &format!("/_matrix/client/v3/rooms/{room_id}/messages?dir=b&limit=1&from={start}"),
                Some("bob-token"),
                None,
            )
            .await;
        assert_eq!(status, 200, "{page}");
        assert_eq!(page["chunk"][0]["content"]["body"], "first");
    }
    server.stop().await;
}
both_backends!(room_initial_sync_returns_state_latest_messages_and_account_data);

async fn room_initial_sync_of_a_former_member_ends_at_their_leave(backend: Backend) {
    let server = start(backend, |_| {}).await;
    let room_id = shared_room(&server).await;
    send_message(&server, "alice-token", &room_id, "1", "while bob was here").await;
    let (status, body) = server
        .call(
            Method::POST,
            &format!("/_matrix/client/v3/rooms/{room_id}/leave"),
            Some("bob-token"),
            Some(&json!({})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    send_message(&server, "alice-token", &room_id, "2", "after bob left").await;
    let (status, snapshot) = room_initial_sync(&server, "v3", &room_id, "bob-token", "").await;
    assert_eq!(status, 200, "{snapshot}");
    assert_eq!(snapshot["membership"], "leave");
    let seen = bodies(&snapshot);
    assert!(seen.contains(&"while bob was here"), "{snapshot}");
    assert!(!seen.contains(&"after bob left"), "{snapshot}");
    server.stop().await;
}
both_backends!(room_initial_sync_of_a_former_member_ends_at_their_leave);

async fn room_initial_sync_refuses_strangers_unknown_rooms_and_bad_limits(backend: Backend) {
    let server = start(backend, |_| {}).await;
    let room_id = shared_room(&server).await;
    user_with_token(&server.storage, "@carol:hearth.test", "carol-token").await;
    let (status, body) = room_initial_sync(&server, "v3", &room_id, "carol-token", "").await;
    assert_eq!(
        (status, body["errcode"].as_str()),
        (403, Some("M_FORBIDDEN")),
        "{body}"
    );
    let (status, body) =
        room_initial_sync(&server, "v3", "!nowhere:hearth.test", "bob-token", "").await;
    assert!(matches!(status, 403 | 404), "{status} {body}");
    let (status, body) =
        room_initial_sync(&server, "v3", &room_id, "bob-token", "?limit=many").await;
    assert_eq!(
        (status, body["errcode"].as_str()),
        (400, Some("M_INVALID_PARAM")),
        "{body}"
    );
    let (status, body) = server
        .call(
            Method::GET,
            &format!("/_matrix/client/v3/rooms/{room_id}/initialSync"),
            None,
            None,
        )
        .await;
    assert_eq!(
        (status, body["errcode"].as_str()),
        (401, Some("M_MISSING_TOKEN"))
    );
    server.stop().await;
}
both_backends!(room_initial_sync_refuses_strangers_unknown_rooms_and_bad_limits);
