//! `/account/deactivate` beyond logging out (see login.rs for that): the user leaves every room and rejects every
//! pending invite, and `erase` removes the profile. Plus device activity: `last_seen_ts`/`last_seen_ip` are
//! recorded from authenticated requests.

use std::time::Duration;

use hearth::storage::Backend;
use reqwest::Method;
use serde_json::{Value, json};

use crate::both_backends;
use crate::common::{TestServer, open_registration, start};

async fn create_room(server: &TestServer, token: &str, body: Value) -> String {
    let (status, response) = server
        .call(
            Method::POST,
            "/_matrix/client/v3/createRoom",
            Some(token),
            Some(&body),
        )
        .await;
    assert_eq!(status, 200, "{response}");
    response["room_id"].as_str().unwrap().to_owned()
}

async fn membership_of(server: &TestServer, token: &str, room_id: &str, user: &str) -> Value {
    let (status, body) = server
        .call(
            Method::GET,
            &format!("/_matrix/client/v3/rooms/{room_id}/state/m.room.member/{user}"),
            Some(token),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body["membership"].clone()
}

async fn deactivation_leaves_rooms_rejects_invites_and_erase_clears_the_profile(backend: Backend) {
    let server = start(backend, open_registration).await;
    let alice = server.register_open("alice", "pw").await;
    let bob = server.register_open("bob", "pw").await;
    let bob_id = "@bob:hearth.test";
    let (status, body) = server
        .call(
            Method::PUT,
            &format!("/_matrix/client/v3/profile/{bob_id}/displayname"),
            Some(&bob),
            Some(&json!({"displayname": "Bobby"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let joined = create_room(&server, &alice, json!({"preset": "public_chat"})).await;
    let invited = create_room(&server, &alice, json!({"invite": [bob_id]})).await;
    let (status, body) = server
        .call(
            Method::POST,
            &format!("/_matrix/client/v3/rooms/{joined}/join"),
            Some(&bob),
            Some(&json!({})),
        )
        .await;
    assert_eq!(status, 200, "{body}");

    let (status, body) = server
        .call(
            Method::POST,
            "/_matrix/client/v3/account/deactivate",
            Some(&bob),
            Some(&json!({
                "auth": {"type": "m.login.password", "identifier": {"type": "m.id.user", "user": "bob"}, "password": "pw"},
                "erase": true,
            })),
        )
        .await;
    assert_eq!(status, 200, "{body}");

    assert_eq!(
        membership_of(&server, &alice, &joined, bob_id).await,
        "leave"
    );
    assert_eq!(
        membership_of(&server, &alice, &invited, bob_id).await,
        "leave"
    );
    let (status, body) = server
        .call(
            Method::GET,
            &format!("/_matrix/client/v3/rooms/{joined}/joined_members"),
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(body["joined"].get(bob_id).is_none(), "{body}");
    let stored = server.storage.get_user(bob_id).await.unwrap().unwrap();
    assert!(stored.deactivated);
    assert_eq!((stored.displayname, stored.avatar_url), (None, None));
    server.stop().await;
}
both_backends!(deactivation_leaves_rooms_rejects_invites_and_erase_clears_the_profile);

async fn deactivation_without_erase_keeps_the_stored_profile(backend: Backend) {
    let server = start(backend, open_registration).await;
    let carol = server.register_open("carol", "pw").await;
    let (status, body) = server
        .call(
            Method::PUT,
            "/_matrix/client/v3/profile/@carol:hearth.test/displayname",
            Some(&carol),
            Some(&json!({"displayname": "Carol"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = server
        .call(
            Method::POST,
            "/_matrix/client/v3/account/deactivate",
            Some(&carol),
            Some(&json!({"auth": {"type": "m.login.password", "user": "carol", "password": "pw"}})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let stored = server
        .storage
        .get_user("@carol:hearth.test")
        .await
        .unwrap()
        .unwrap();
    assert!(stored.deactivated);
    assert_eq!(stored.displayname.as_deref(), Some("Carol"));
    server.stop().await;
}
both_backends!(deactivation_without_erase_keeps_the_stored_profile);

async fn authenticated_requests_record_device_last_seen(backend: Backend) {
    let server = start(backend, open_registration).await;
    let token = server.register_open("dave", "pw").await;
    let (status, body) = server
        .call(
            Method::GET,
            "/_matrix/client/v3/account/whoami",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let device_id = body["device_id"].as_str().unwrap().to_owned();
    // The write happens in the background, right after the request.
    let mut device = Value::Null;
    for _ in 0..50 {
        let (status, body) = server
            .call(
                Method::GET,
                &format!("/_matrix/client/v3/devices/{device_id}"),
                Some(&token),
                None,
            )
            .await;
        assert_eq!(status, 200, "{body}");
        device = body;
        if device["last_seen_ts"].is_i64() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        device["last_seen_ts"]
            .as_i64()
            .is_some_and(|ts| ts > 1_600_000_000_000),
        "{device}"
    );
    assert_eq!(device["last_seen_ip"], "127.0.0.1", "{device}");
    server.stop().await;
}
both_backends!(authenticated_requests_record_device_last_seen);
