//! The `make_join`/`send_join` handshake and the reads a joined server may make.

use hearth::storage::Backend;
use reqwest::Method;
use serde_json::Value;

use crate::{Federation, REMOTE, both_backends, encode};

async fn remote_user_joins_by_make_join_and_send_join(backend: Backend) {
    let fed = Federation::start(backend).await;
    let room_id = fed.public_room("12").await;

    // The alias resolves over federation.
    let (status, body) = fed
        .request(
            Method::GET,
            "/_matrix/federation/v1/query/directory?room_alias=%23fed%3Ahearth.test",
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["room_id"], room_id.as_str());

    // A server that has never had a user in the room cannot read it.
    let (status, _) = fed
        .request(
            Method::GET,
            &format!(
                "/_matrix/federation/v1/state_ids/{}?event_id={}",
                encode(&room_id),
                encode(&room_id.replacen('!', "$", 1))
            ),
            None,
        )
        .await;
    assert_eq!(status, 403);

    let join_id = fed.join(&room_id, "@bob:remote.test").await;
    let (status, members) = fed
        .server
        .call(
            Method::GET,
            &format!(
                "/_matrix/client/v3/rooms/{}/joined_members",
                encode(&room_id)
            ),
            Some("alice-token"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{members}");
    assert!(
        members["joined"]["@bob:remote.test"].is_object(),
        "{members}"
    );

    // Now the remote may read the room: the state before its join, and the join itself.
    let (status, state) = fed
        .request(
            Method::GET,
            &format!(
                "/_matrix/federation/v1/state_ids/{}?event_id={}",
                encode(&room_id),
                encode(&join_id)
            ),
            None,
        )
        .await;
    assert_eq!(status, 200, "{state}");
    assert!(!state["pdu_ids"].as_array().unwrap().is_empty());
    let (status, event) = fed
        .request(
            Method::GET,
            &format!("/_matrix/federation/v1/event/{}", encode(&join_id)),
            None,
        )
        .await;
    assert_eq!(status, 200, "{event}");
    assert_eq!(event["pdus"][0]["sender"], "@bob:remote.test");
    fed.server.stop().await;
}
both_backends!(remote_user_joins_by_make_join_and_send_join);

async fn send_join_answers_state_and_auth_chain_in_an_old_room_version(backend: Backend) {
    let fed = Federation::start(backend).await;
    let room_id = fed.public_room("10").await;
    let (status, template) = fed
        .request(
            Method::GET,
            &format!(
                "/_matrix/federation/v1/make_join/{}/{}?ver=10",
                encode(&room_id),
                encode("@carol:remote.test")
            ),
            None,
        )
        .await;
    assert_eq!(status, 200, "{template}");
    let rules = hearth_types::RoomVersionRules::get("10").unwrap();
    let (event, event_id) = fed.sign_event(template["event"].clone(), rules);
    let (status, answer) = fed
        .request(
            Method::PUT,
            &format!(
                "/_matrix/federation/v2/send_join/{}/{}",
                encode(&room_id),
                encode(&event_id)
            ),
            Some(&event),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    let types: Vec<&str> = answer["state"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["type"].as_str())
        .collect();
    assert!(
        types.contains(&"m.room.create") && types.contains(&"m.room.power_levels"),
        "{answer}"
    );
    assert!(!answer["auth_chain"].as_array().unwrap().is_empty());
    assert_eq!(answer["origin"], "hearth.test");

    // A version the asking server does not support is refused.
    let (status, body) = fed
        .request(
            Method::GET,
            &format!(
                "/_matrix/federation/v1/make_join/{}/{}?ver=11",
                encode(&room_id),
                encode("@dave:remote.test")
            ),
            None,
        )
        .await;
    assert_eq!(
        (status, body["errcode"].as_str()),
        (400, Some("M_INCOMPATIBLE_ROOM_VERSION"))
    );

    // A server may only make joins for its own users.
    let (status, _) = fed
        .request(
            Method::GET,
            &format!(
                "/_matrix/federation/v1/make_join/{}/{}?ver=10",
                encode(&room_id),
                encode("@mallory:elsewhere.test")
            ),
            None,
        )
        .await;
    assert_eq!(status, 403);

    // A join event for another room than the path names is refused.
    let (status, _): (u16, Value) = fed
        .request(
            Method::PUT,
            &format!(
                "/_matrix/federation/v2/send_join/{}/{}",
                encode("!other:hearth.test"),
                encode(&event_id)
            ),
            Some(&event),
        )
        .await;
    assert!(status == 400 || status == 404, "{status}");
    let _ = REMOTE;
    fed.server.stop().await;
}
both_backends!(send_join_answers_state_and_auth_chain_in_an_old_room_version);

async fn remote_user_leaves_by_make_leave_and_send_leave(backend: Backend) {
    let fed = Federation::start(backend).await;
    let room_id = fed.public_room("12").await;
    fed.join(&room_id, "@bob:remote.test").await;
    let (status, template) = fed
        .request(
            Method::GET,
            &format!(
                "/_matrix/federation/v1/make_leave/{}/{}",
                encode(&room_id),
                encode("@bob:remote.test")
            ),
            None,
        )
        .await;
    assert_eq!(status, 200, "{template}");
    let rules = hearth_types::RoomVersionRules::get("12").unwrap();
    let (event, event_id) = fed.sign_event(template["event"].clone(), rules);
    let (status, answer) = fed
        .request(
            Method::PUT,
            &format!(
                "/_matrix/federation/v2/send_leave/{}/{}",
                encode(&room_id),
                encode(&event_id)
            ),
            Some(&event),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    let (_, members) = fed
        .server
        .call(
            Method::GET,
            &format!(
                "/_matrix/client/v3/rooms/{}/joined_members",
                encode(&room_id)
            ),
            Some("alice-token"),
            None,
        )
        .await;
    assert!(members["joined"]["@bob:remote.test"].is_null(), "{members}");
    fed.server.stop().await;
}
both_backends!(remote_user_leaves_by_make_leave_and_send_leave);

async fn a_remote_invite_is_countersigned_and_reaches_the_invitees_sync(backend: Backend) {
    let fed = Federation::start(backend).await;
    let rules = hearth_types::RoomVersionRules::get("10").unwrap();
    let room_id = "!elsewhere:remote.test";
    let invite = serde_json::json!({
        "room_id": room_id,
        "sender": "@bob:remote.test",
        "type": "m.room.member",
        "state_key": "@alice:hearth.test",
        "origin": REMOTE,
        "content": {"membership": "invite"},
        "prev_events": ["$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"],
        "auth_events": [],
        "depth": 3,
        "origin_server_ts": crate::now_ms(),
    });
    let (invite, event_id) = fed.sign_event(invite, rules);
    let body = serde_json::json!({"event": invite, "room_version": "10", "invite_room_state": []});
    let path = format!(
        "/_matrix/federation/v2/invite/{}/{}",
        encode(room_id),
        encode(&event_id)
    );
    let (status, answer) = fed.request(Method::PUT, &path, Some(&body)).await;
    assert_eq!(status, 200, "{answer}");
    assert!(
        answer["event"]["signatures"]["hearth.test"].is_object(),
        "{answer}"
    );
    assert!(
        answer["event"]["signatures"][REMOTE].is_object(),
        "{answer}"
    );

    let (status, sync) = fed
        .server
        .call(
            Method::GET,
            "/_matrix/client/v3/sync",
            Some("alice-token"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{sync}");
    assert!(sync["rooms"]["invite"][room_id].is_object(), "{sync}");

    // An invite for a user of another server is refused.
    let mut other = body.clone();
    other["event"]["state_key"] = serde_json::json!("@carol:other.test");
    let (status, _) = fed.request(Method::PUT, &path, Some(&other)).await;
    assert_eq!(status, 400);
    fed.server.stop().await;
}
both_backends!(a_remote_invite_is_countersigned_and_reaches_the_invitees_sync);
