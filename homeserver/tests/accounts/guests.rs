//! Guest accounts over real HTTP: only the spec's guest endpoints answer (others 403
//! `M_GUEST_ACCESS_FORBIDDEN`), a guest joins only rooms whose `m.room.guest_access` is `can_join`, and leaves
//! when the room stops allowing guests.

use hearth::storage::Backend;
use reqwest::Method;
use serde_json::{Value, json};

use crate::both_backends;
use crate::common::{TestServer, open_registration, start};

fn forbidden_to_guests(status: u16, body: &Value) {
    assert_eq!(
        (status, body["errcode"].as_str()),
        (403, Some("M_GUEST_ACCESS_FORBIDDEN")),
        "{body}"
    );
}

async fn guest_member_state(server: &TestServer, token: &str, room_id: &str, guest: &str) -> Value {
    let (status, body) = server
        .call(
            Method::GET,
            &format!("/_matrix/client/v3/rooms/{room_id}/state/m.room.member/{guest}"),
            Some(token),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body["membership"].clone()
}

async fn guests_use_only_their_endpoints_and_rooms_that_allow_them(backend: Backend) {
    let server = start(backend, |config| {
        open_registration(config);
        config.registration.guests = true;
    })
    .await;
    let alice = server.register_open("alice", "pw").await;
    let (status, body) = server
        .call(
            Method::POST,
            "/_matrix/client/v3/register?kind=guest",
            None,
            Some(&json!({})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let guest = body["access_token"].as_str().unwrap().to_owned();
    let guest_id = body["user_id"].as_str().unwrap().to_owned();

    let (status, body) = server
        .call(
            Method::GET,
            "/_matrix/client/v3/account/whoami",
            Some(&guest),
            None,
        )
        .await;
    assert_eq!(
        (status, body["is_guest"].as_bool()),
        (200, Some(true)),
        "{body}"
    );
    let (status, body) = server
        .call(
            Method::POST,
            "/_matrix/client/v3/createRoom",
            Some(&guest),
            Some(&json!({})),
        )
        .await;
    forbidden_to_guests(status, &body);
    let (status, body) = server
        .call(
            Method::PUT,
            &format!("/_matrix/client/v3/profile/{guest_id}/avatar_url"),
            Some(&guest),
            Some(&json!({"avatar_url": "mxc://x/y"})),
        )
        .await;
    forbidden_to_guests(status, &body);

    let (status, body) = server
        .call(
            Method::POST,
            "/_matrix/client/v3/createRoom",
            Some(&alice),
            Some(&json!({"preset": "public_chat"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let room_id = body["room_id"].as_str().unwrap().to_owned();
    let join = format!("/_matrix/client/v3/rooms/{room_id}/join");
    let (status, body) = server
        .call(Method::POST, &join, Some(&guest), Some(&json!({})))
        .await;
    forbidden_to_guests(status, &body);

    let guest_access = format!("/_matrix/client/v3/rooms/{room_id}/state/m.room.guest_access/");
    let (status, body) = server
        .call(
            Method::PUT,
            &guest_access,
            Some(&alice),
            Some(&json!({"guest_access": "can_join"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = server
        .call(Method::POST, &join, Some(&guest), Some(&json!({})))
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = server
        .call(
            Method::PUT,
            &format!("/_matrix/client/v3/rooms/{room_id}/send/m.room.message/1"),
            Some(&guest),
            Some(&json!({"msgtype": "m.text", "body": "hi as a guest"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = server
        .call(
            Method::GET,
            "/_matrix/client/v3/sync?timeout=0",
            Some(&guest),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(body["rooms"]["join"][&room_id].is_object(), "{body}");
    assert_eq!(
        guest_member_state(&server, &alice, &room_id, &guest_id).await,
        "join"
    );

    let (status, body) = server
        .call(
            Method::PUT,
            &guest_access,
            Some(&alice),
            Some(&json!({"guest_access": "forbidden"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        guest_member_state(&server, &alice, &room_id, &guest_id).await,
        "leave"
    );
    server.stop().await;
}
both_backends!(guests_use_only_their_endpoints_and_rooms_that_allow_them);
