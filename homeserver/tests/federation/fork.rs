//! A fork of the room's DAG: a local event and a concurrent remote one made from the same state; the current
//! state is their resolution, and local membership rows follow it.

use hearth::storage::Backend;
use reqwest::Method;
use serde_json::json;

use crate::{Federation, both_backends, encode, now_ms};

async fn a_local_join_that_loses_to_a_concurrent_invite_only_change_leaves_no_membership(
    backend: Backend,
) {
    let fed = Federation::start(backend).await;
    let room_id = fed.public_room("12").await;
    fed.join(&room_id, "@bob:remote.test").await;
    let rules = fed.rules(&room_id).await;
    // alice makes bob an admin; that is the fork point.
    let (status, body) = fed
        .server
        .call(
            Method::PUT,
            &format!(
                "/_matrix/client/v3/rooms/{}/state/m.room.power_levels",
                encode(&room_id)
            ),
            Some("alice-token"),
            Some(&json!({"users": {"@bob:remote.test": 100}})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (fork_point, depth) = fed.latest_event(&room_id).await;
    let power_levels = fed.state_id(&room_id, "m.room.power_levels", "").await;
    let bob_member = fed
        .state_id(&room_id, "m.room.member", "@bob:remote.test")
        .await;

    // Here dave joins the public room ...
    let dave = "@dave:hearth.test".to_owned();
    crate::seed::user_with_token(&fed.server.storage, &dave, "dave-token").await;
    let (status, body) = fed
        .server
        .call(
            Method::POST,
            &format!("/_matrix/client/v3/join/{}", encode(&room_id)),
            Some("dave-token"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let dave_join = fed.state_id(&room_id, "m.room.member", &dave).await;

    // ... while bob, on his server, made the room invite-only from the same state.
    let (event, rules_id) = fed.sign_event(
        json!({
            "room_id": room_id,
            "sender": "@bob:remote.test",
            "type": "m.room.join_rules",
            "state_key": "",
            "content": {"join_rule": "invite"},
            "prev_events": [fork_point],
            "auth_events": [power_levels, bob_member],
            "depth": depth + 1,
            "origin_server_ts": now_ms(),
        }),
        rules,
    );
    let (status, body) = fed.send("fork", vec![event]).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["pdus"][&rules_id]["error"].is_null(), "{body}");

    // Resolution applies the join rules (a power event) first; dave's join then fails: he is no member.
    assert_eq!(
        fed.state_id(&room_id, "m.room.join_rules", "").await,
        rules_id
    );
    let storage = &fed.server.storage;
    assert_eq!(
        storage
            .current_state_event_id(&room_id, "m.room.member", &dave)
            .await
            .unwrap(),
        None,
        "dave's join {dave_join} is not in the current state"
    );
    assert!(
        !storage
            .joined_user_ids(&room_id)
            .await
            .unwrap()
            .contains(&dave)
    );
    let (status, body) = fed
        .server
        .call(
            Method::GET,
            "/_matrix/client/v3/joined_rooms",
            Some("dave-token"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["joined_rooms"], json!([]), "{body}");
    fed.server.stop().await;
}
both_backends!(a_local_join_that_loses_to_a_concurrent_invite_only_change_leaves_no_membership);
