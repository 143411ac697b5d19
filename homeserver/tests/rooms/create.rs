//! createRoom in several room versions; the stored events are valid signed PDUs.

use crate::both_backends;
use hearth::storage::Backend;
use hearth_types::pdu::{compute_event_id, verify_event_content_hash, verify_event_signatures};
use hearth_types::{RoomVersionRules, ServerName};
use reqwest::Method;
use serde_json::{Value, json};

use super::common::start;
use super::{create_room, room_path, seed_users};

async fn creates_rooms_whose_events_are_valid_signed_pdus(backend: Backend) {
    let server = start(backend, |_| {}).await;
    seed_users(&server).await;
    let key_path = server._data_dir.path().join("signing.key");
    let key = hearth::signing_key::load_or_generate_signing_key(&key_path).unwrap();
    let verify_key = key.verify_key();
    let ours = ServerName::parse("hearth.test").unwrap();
    for version in ["1", "2", "3", "5", "10", "11", "12"] {
        let room_id = create_room(
            &server,
            "alice-token",
            json!({"room_version": version, "name": "Room", "topic": "t", "preset": "public_chat"}),
        )
        .await;
        if version == "12" {
            assert!(
                !room_id.contains(':'),
                "v12 room IDs have no server name: {room_id}"
            );
        }
        let (status, state) = server
            .call(
                Method::GET,
                &room_path(&room_id, "/state"),
                Some("alice-token"),
                None,
            )
            .await;
        assert_eq!(status, 200, "{state}");
        let state = state.as_array().expect("state list").clone();
        let types: Vec<&str> = state.iter().filter_map(|e| e["type"].as_str()).collect();
        for expected in [
            "m.room.create",
            "m.room.member",
            "m.room.power_levels",
            "m.room.join_rules",
            "m.room.history_visibility",
            "m.room.name",
            "m.room.topic",
        ] {
            assert!(
                types.contains(&expected),
                "v{version}: {expected} missing in {types:?}"
            );
        }
        let create = state.iter().find(|e| e["type"] == "m.room.create").unwrap();
        assert_eq!(create["content"]["room_version"], version);
        let rules = RoomVersionRules::get(version).unwrap();
        for event in &state {
            let event_id = event["event_id"].as_str().unwrap();
            assert!(
                event.get("signatures").is_none(),
                "client format hides signatures"
            );
            let stored = server.storage.get_event(event_id).await.unwrap().unwrap();
            let pdu: Value = serde_json::from_str(&stored.json).unwrap();
            assert_eq!(compute_event_id(&pdu, rules).unwrap().as_str(), event_id);
            verify_event_content_hash(&pdu).unwrap();
            verify_event_signatures(&pdu, rules, |server, _| {
                (server == &ours).then_some(verify_key)
            })
            .unwrap_or_else(|e| panic!("v{version} {event_id}: {e}"));
            if event["type"] != "m.room.create" {
                assert!(pdu["depth"].as_i64().unwrap() > 1);
                assert!(!pdu["prev_events"].as_array().unwrap().is_empty());
                if version != "12" {
                    // v12 events never list the create event, so the creator's join has none.
                    assert!(!pdu["auth_events"].as_array().unwrap().is_empty());
                }
            }
        }
    }
    server.stop().await;
}
both_backends!(creates_rooms_whose_events_are_valid_signed_pdus);

async fn rejects_unknown_room_versions_and_bad_bodies(backend: Backend) {
    let server = start(backend, |_| {}).await;
    seed_users(&server).await;
    let (status, body) = server
        .call(
            Method::POST,
            "/_matrix/client/v3/createRoom",
            Some("alice-token"),
            Some(&json!({"room_version": "99"})),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["errcode"], "M_UNSUPPORTED_ROOM_VERSION");
    let (status, body) = server
        .call_raw(Method::POST, "/_matrix/client/v3/createRoom", "{not json")
        .await;
    assert_eq!(status, 401, "no token is checked first: {body}");
    let response = server
        .http
        .post(server.url("/_matrix/client/v3/createRoom"))
        .bearer_auth("alice-token")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["errcode"], "M_NOT_JSON");
    let (status, body) = server
        .call(
            Method::POST,
            "/_matrix/client/v3/createRoom",
            Some("alice-token"),
            Some(&json!({"invite": "not-a-list"})),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["errcode"], "M_BAD_JSON");
    let (status, body) = server
        .call(
            Method::POST,
            "/_matrix/client/v3/createRoom",
            None,
            Some(&json!({})),
        )
        .await;
    assert_eq!(status, 401);
    assert_eq!(body["errcode"], "M_MISSING_TOKEN");
    server.stop().await;
}
both_backends!(rejects_unknown_room_versions_and_bad_bodies);

async fn default_room_version_is_twelve(backend: Backend) {
    let server = start(backend, |_| {}).await;
    seed_users(&server).await;
    let room_id = create_room(&server, "alice-token", json!({})).await;
    let (status, create) = server
        .call(
            Method::GET,
            &room_path(&room_id, "/state/m.room.create"),
            Some("alice-token"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{create}");
    assert_eq!(create["room_version"], "12");
    server.stop().await;
}
both_backends!(default_room_version_is_twelve);

async fn concurrent_identical_create_room_requests_make_distinct_rooms(backend: Backend) {
    let server = start(backend, |_| {}).await;
    seed_users(&server).await;
    let body = json!({"preset": "private_chat"});
    let (a, b, c, d) = tokio::join!(
        create_room(&server, "alice-token", body.clone()),
        create_room(&server, "alice-token", body.clone()),
        create_room(&server, "alice-token", body.clone()),
        create_room(&server, "alice-token", body.clone()),
    );
    let distinct: std::collections::HashSet<_> = [a, b, c, d].into_iter().collect();
    assert_eq!(distinct.len(), 4, "room IDs collided: {distinct:?}");
}

both_backends!(concurrent_identical_create_room_requests_make_distinct_rooms);
