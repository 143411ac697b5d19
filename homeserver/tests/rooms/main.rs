//! Rooms over real HTTP on both backends: createRoom in several room versions (events are valid
//! signed PDUs), membership and the auth rules, sending with transaction IDs, state, redaction,
//! pagination, aliases, errors, and durability across a restart.

#[allow(dead_code)]
#[path = "../accounts/common.rs"]
mod common;

mod create;
mod directory;
mod membership;
mod query_errors;
mod rate_limits;
mod timeline;

use common::TestServer;
use hearth::storage::{NewAccessToken, NewUser, TokenHash};
use reqwest::Method;
use serde_json::{Value, json};

/// Two seeded users: alice (token `alice-token`) and bob (token `bob-token`), device `DEV`.
pub async fn seed_users(server: &TestServer) {
    for (user_id, token) in [
        ("@alice:hearth.test", "alice-token"),
        ("@bob:hearth.test", "bob-token"),
        ("@carol:hearth.test", "carol-token"),
    ] {
        let storage = &server.storage;
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
        storage
            .create_device(user_id, "DEV", None, 1)
            .await
            .unwrap();
        storage
            .insert_access_token(&NewAccessToken {
                token_hash: TokenHash::of(token),
                user_id,
                device_id: Some("DEV"),
                created_ts: 1,
                expires_ts: None,
            })
            .await
            .unwrap();
    }
}

/// `POST /createRoom` as `token`; returns the room ID.
pub async fn create_room(server: &TestServer, token: &str, body: Value) -> String {
    let (status, response) = server
        .call(
            Method::POST,
            "/_matrix/client/v3/createRoom",
            Some(token),
            Some(&body),
        )
        .await;
    assert_eq!(status, 200, "{response}");
    response["room_id"].as_str().expect("room_id").to_owned()
}

/// The path of a room endpoint, with the room ID percent-encoded.
pub fn room_path(room_id: &str, rest: &str) -> String {
    format!("/_matrix/client/v3/rooms/{}{rest}", encode(room_id))
}

/// Percent-encodes a path segment.
pub fn encode(segment: &str) -> String {
    url::form_urlencoded::byte_serialize(segment.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

/// Sends an `m.room.message` with transaction `txn`; returns status and body.
pub async fn send_message(
    server: &TestServer,
    token: &str,
    room_id: &str,
    txn: &str,
    body: &str,
) -> (u16, Value) {
    server
        .call(
            Method::PUT,
            &room_path(room_id, &format!("/send/m.room.message/{txn}")),
            Some(token),
            Some(&json!({"msgtype": "m.text", "body": body})),
        )
        .await
}
