//! Membership endpoints and the auth rules behind them.

use crate::both_backends;
use hearth::storage::Backend;
use reqwest::Method;
use serde_json::json;

use super::common::start;
use super::{create_room, encode, room_path, seed_users, send_message};

async fn invite_join_kick_ban_follow_the_auth_rules(backend: Backend) {
    let server = start(backend, |_| {}).await;
    seed_users(&server).await;
    let room_id = create_room(&server, "alice-token", json!({"preset": "private_chat"})).await;

    // Bob is not a member: he can neither send nor join an invite-only room.
    let (status, body) = send_message(&server, "bob-token", &room_id, "t1", "hi").await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["errcode"], "M_FORBIDDEN");
    let (status, body) = server
        .call(
            Method::POST,
            &room_path(&room_id, "/join"),
            Some("bob-token"),
            Some(&json!({})),
        )
        .await;
    assert_eq!(status, 403, "{body}");

    // Invited, he joins and sends.
    let (status, body) = server
        .call(
            Method::POST,
            &room_path(&room_id, "/invite"),
            Some("alice-token"),
            Some(&json!({"user_id": "@bob:hearth.test"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = server
        .call(
            Method::POST,
            &format!("/_matrix/client/v3/join/{}", encode(&room_id)),
            Some("bob-token"),
            Some(&json!({})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["room_id"], room_id.as_str());
    let (status, body) = send_message(&server, "bob-token", &room_id, "t2", "hello").await;
    assert_eq!(status, 200, "{body}");

    let (status, body) = server
        .call(
            Method::GET,
            "/_matrix/client/v3/joined_rooms",
            Some("bob-token"),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["joined_rooms"], json!([room_id]));
    let (status, body) = server
        .call(
            Method::GET,
            &room_path(&room_id, "/joined_members"),
            Some("bob-token"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(body["joined"].get("@alice:hearth.test").is_some());
    assert!(body["joined"].get("@bob:hearth.test").is_some());

    // Bob (power 0) may not kick Alice or change power levels.
    let (status, _) = server
        .call(
            Method::POST,
            &room_path(&room_id, "/kick"),
            Some("bob-token"),
            Some(&json!({"user_id": "@alice:hearth.test"})),
        )
        .await;
    assert_eq!(status, 403);
    let (status, _) = server
        .call(
            Method::PUT,
            &room_path(&room_id, "/state/m.room.power_levels"),
            Some("bob-token"),
            Some(&json!({"users": {"@bob:hearth.test": 100}})),
        )
        .await;
    assert_eq!(status, 403);

    // Alice kicks Bob: he can no longer send.
    let (status, body) = server
        .call(
            Method::POST,
            &room_path(&room_id, "/kick"),
            Some("alice-token"),
            Some(&json!({"user_id": "@bob:hearth.test", "reason": "bye"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = send_message(&server, "bob-token", &room_id, "t3", "still here?").await;
    assert_eq!(status, 403);

    // Members filtered by membership.
    let (status, body) = server
        .call(
            Method::GET,
            &format!("{}?membership=leave", room_path(&room_id, "/members")),
            Some("alice-token"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let chunk = body["chunk"].as_array().unwrap();
    assert_eq!(chunk.len(), 1);
    assert_eq!(chunk[0]["state_key"], "@bob:hearth.test");

    // Ban, then the banned user cannot rejoin even when invited; unban lets an invite through.
    let (status, _) = server
        .call(
            Method::POST,
            &room_path(&room_id, "/ban"),
            Some("alice-token"),
            Some(&json!({"user_id": "@bob:hearth.test"})),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = server
        .call(
            Method::POST,
            &room_path(&room_id, "/invite"),
            Some("alice-token"),
            Some(&json!({"user_id": "@bob:hearth.test"})),
        )
        .await;
    assert_eq!(status, 403, "a banned user cannot be invited");
    let (status, _) = server
        .call(
            Method::POST,
            &room_path(&room_id, "/unban"),
            Some("alice-token"),
            Some(&json!({"user_id": "@bob:hearth.test"})),
        )
        .await;
    assert_eq!(status, 200);

    // Bob forgets the room after leaving.
    let (status, body) = server
        .call(
            Method::POST,
            &room_path(&room_id, "/forget"),
            Some("bob-token"),
            Some(&json!({})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    server.stop().await;
}
both_backends!(invite_join_kick_ban_follow_the_auth_rules);

async fn public_rooms_can_be_joined_and_left(backend: Backend) {
    let server = start(backend, |_| {}).await;
    seed_users(&server).await;
    let room_id = create_room(
        &server,
        "alice-token",
        json!({"preset": "public_chat", "room_alias_name": "lobby", "room_version": "10"}),
    )
    .await;
    let (status, body) = server
        .call(
            Method::POST,
            &format!("/_matrix/client/v3/join/{}", encode("#lobby:hearth.test")),
            Some("carol-token"),
            Some(&json!({})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["room_id"], room_id.as_str());
    let (status, _) = server
        .call(
            Method::POST,
            &room_path(&room_id, "/leave"),
            Some("carol-token"),
            Some(&json!({})),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = send_message(&server, "carol-token", &room_id, "x", "gone").await;
    assert_eq!(status, 403);
    server.stop().await;
}
both_backends!(public_rooms_can_be_joined_and_left);

async fn unknown_rooms_answer_not_found(backend: Backend) {
    let server = start(backend, |_| {}).await;
    seed_users(&server).await;
    let missing = "!nowhere:hearth.test";
    let (status, body) = send_message(&server, "alice-token", missing, "t", "x").await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["errcode"], "M_NOT_FOUND");
    let (status, body) = server
        .call(
            Method::POST,
            &room_path(missing, "/join"),
            Some("alice-token"),
            Some(&json!({})),
        )
        .await;
    assert_eq!(status, 404, "{body}");
    let (status, body) = server
        .call(
            Method::GET,
            &room_path(missing, "/messages"),
            Some("alice-token"),
            None,
        )
        .await;
    assert_eq!(status, 404, "{body}");
    let (status, body) = server
        .call(
            Method::GET,
            &room_path(missing, "/state"),
            Some("bob-token"),
            None,
        )
        .await;
    assert_eq!(status, 404, "{body}");
    let (status, body) = server
        .call(
            Method::GET,
            "/_matrix/client/v3/joined_rooms",
            Some("wrong-token"),
            None,
        )
        .await;
    assert_eq!(status, 401);
    assert_eq!(body["errcode"], "M_UNKNOWN_TOKEN");
    server.stop().await;
}
both_backends!(unknown_rooms_answer_not_found);

async fn profile_changes_reach_member_events_in_joined_rooms(backend: Backend) {
    let server = start(backend, |_| {}).await;
    seed_users(&server).await;
    let room_id = create_room(&server, "alice-token", json!({"preset": "public_chat"})).await;

    let (status, body) = server
        .call(
            Method::PUT,
            "/_matrix/client/v3/profile/@alice:hearth.test/displayname",
            Some("alice-token"),
            Some(&json!({"displayname": "Alice Liddell"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = server
        .call(
            Method::PUT,
            "/_matrix/client/v3/profile/@alice:hearth.test/avatar_url",
            Some("alice-token"),
            Some(&json!({"avatar_url": "mxc://hearth.test/rabbit"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");

    let (status, member) = server
        .call(
            Method::GET,
            &room_path(&room_id, "/state/m.room.member/@alice:hearth.test"),
            Some("alice-token"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{member}");
    assert_eq!(member["membership"], "join");
    assert_eq!(member["displayname"], "Alice Liddell");
    assert_eq!(member["avatar_url"], "mxc://hearth.test/rabbit");
}

both_backends!(profile_changes_reach_member_events_in_joined_rooms);

async fn empty_state_key_may_be_written_with_a_trailing_slash(backend: Backend) {
    let server = start(backend, |_| {}).await;
    seed_users(&server).await;
    let room_id = create_room(&server, "alice-token", json!({"preset": "private_chat"})).await;

    let (status, body) = server
        .call(
            Method::PUT,
            &room_path(&room_id, "/state/m.room.name/"),
            Some("alice-token"),
            Some(&json!({"name": "Slash"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    for path in ["/state/m.room.name", "/state/m.room.name/"] {
        let (status, body) = server
            .call(
                Method::GET,
                &room_path(&room_id, path),
                Some("alice-token"),
                None,
            )
            .await;
        assert_eq!(status, 200, "{path}: {body}");
        assert_eq!(body["name"], "Slash", "{path}");
    }
}

both_backends!(empty_state_key_may_be_written_with_a_trailing_slash);
