//! `/sync` room sections beyond the basics: unread counts from push-rule evaluation (notify and highlight), the
//! exact `state` of a limited incremental sync, and lazy-loaded members with and without redundant members.

use hearth::storage::Backend;
use reqwest::Method;
use serde_json::{Value, json};

use crate::both_backends;
use crate::common::{TestServer, start};
use crate::seed::user_with_token;
use crate::sync::{send_message, shared_room, sync};

async fn send(server: &TestServer, token: &str, room_id: &str, txn: &str, content: Value) {
    let (status, body) = server
        .call(
            Method::PUT,
            &format!("/_matrix/client/v3/rooms/{room_id}/send/m.room.message/{txn}"),
            Some(token),
            Some(&content),
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

async fn set_topic(server: &TestServer, room_id: &str, topic: &str) {
    let (status, body) = server
        .call(
            Method::PUT,
            &format!("/_matrix/client/v3/rooms/{room_id}/state/m.room.topic/"),
            Some("alice-token"),
            Some(&json!({"topic": topic})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

fn encode(filter: &Value) -> String {
    url::form_urlencoded::byte_serialize(filter.to_string().as_bytes()).collect()
}

fn events<'a>(sync: &'a Value, room_id: &str, section: &str) -> Vec<&'a Value> {
    sync["rooms"]["join"][room_id][section]["events"]
        .as_array()
        .map(|events| events.iter().collect())
        .unwrap_or_default()
}

async fn unread_counts_follow_the_push_rules(backend: Backend) {
    let server = start(backend, |_| {}).await;
    let room_id = shared_room(&server).await;
    send(
        &server,
        "alice-token",
        &room_id,
        "1",
        json!({"msgtype": "m.text", "body": "hello"}),
    )
    .await;
    send(
        &server,
        "alice-token",
        &room_id,
        "2",
        json!({"msgtype": "m.text", "body": "bob, look", "m.mentions": {"user_ids": ["@bob:hearth.test"]}}),
    )
    .await;
    send(
        &server,
        "alice-token",
        &room_id,
        "3",
        json!({"msgtype": "m.notice", "body": "bot noise"}),
    )
    .await;
    let body = sync(&server, "bob-token", "").await;
    let unread = &body["rooms"]["join"][&room_id]["unread_notifications"];
    assert_eq!(unread["notification_count"], 2, "{body}");
    assert_eq!(unread["highlight_count"], 1, "{body}");
    // Alice's own messages never count for her.
    let body = sync(&server, "alice-token", "").await;
    let unread = &body["rooms"]["join"][&room_id]["unread_notifications"];
    assert_eq!(
        (
            unread["notification_count"].as_u64(),
            unread["highlight_count"].as_u64()
        ),
        (Some(0), Some(0))
    );

    // Bob mutes the room with a room rule: plain messages stop counting, while the mention still does (the
    // override rules are checked before room rules).
    let (status, response) = server
        .call(
            Method::PUT,
            &format!("/_matrix/client/v3/pushrules/global/room/{room_id}"),
            Some("bob-token"),
            Some(&json!({"actions": []})),
        )
        .await;
    assert_eq!(status, 200, "{response}");
    let body = sync(&server, "bob-token", "").await;
    let unread = &body["rooms"]["join"][&room_id]["unread_notifications"];
    assert_eq!(
        (
            unread["notification_count"].as_u64(),
            unread["highlight_count"].as_u64()
        ),
        (Some(1), Some(1))
    );
    server.stop().await;
}
both_backends!(unread_counts_follow_the_push_rules);

async fn limited_incremental_state_is_the_state_at_the_start_of_the_timeline(backend: Backend) {
    let server = start(backend, |_| {}).await;
    let room_id = shared_room(&server).await;
    set_topic(&server, &room_id, "zero").await;
    let filter = encode(&json!({"room": {"timeline": {"limit": 2}}}));
    let first = sync(&server, "bob-token", &format!("filter={filter}")).await;
    let since = first["next_batch"].as_str().unwrap().to_owned();

    // In the gap: "one" (not in the timeline), then "two" as the first event of the limited timeline.
    set_topic(&server, &room_id, "one").await;
    send_message(&server, "alice-token", &room_id, "a", "filler a").await;
    send_message(&server, "alice-token", &room_id, "b", "filler b").await;
    set_topic(&server, &room_id, "two").await;
    send_message(&server, "alice-token", &room_id, "c", "last").await;

    let body = sync(
        &server,
        "bob-token",
        &format!("since={since}&timeout=0&filter={filter}"),
    )
    .await;
    let room = &body["rooms"]["join"][&room_id];
    assert_eq!(room["timeline"]["limited"], true, "{body}");
    let timeline = events(&body, &room_id, "timeline");
    assert_eq!(timeline[0]["content"]["topic"], "two", "{body}");
    let topics: Vec<&Value> = events(&body, &room_id, "state")
        .into_iter()
        .filter(|event| event["type"] == "m.room.topic")
        .map(|event| &event["content"]["topic"])
        .collect();
    assert_eq!(
        topics,
        vec![&json!("one")],
        "the topic as it was when the timeline starts: {body}"
    );
    // Unchanged state (the name) is not resent.
    assert!(
        events(&body, &room_id, "state")
            .iter()
            .all(|event| event["type"] != "m.room.name"),
        "{body}"
    );
    server.stop().await;
}
both_backends!(limited_incremental_state_is_the_state_at_the_start_of_the_timeline);

fn member_state_keys(sync: &Value, room_id: &str) -> Vec<String> {
    let mut keys: Vec<String> = events(sync, room_id, "state")
        .into_iter()
        .filter(|event| event["type"] == "m.room.member")
        .filter_map(|event| event["state_key"].as_str().map(str::to_owned))
        .collect();
    keys.sort();
    keys
}

async fn lazy_loading_skips_members_the_device_already_has_unless_redundant_ones_are_asked_for(
    backend: Backend,
) {
    let server = start(backend, |_| {}).await;
    let room_id = shared_room(&server).await;
    user_with_token(&server.storage, "@carol:hearth.test", "carol-token").await;
    let (status, body) = server
        .call(
            Method::POST,
            &format!("/_matrix/client/v3/rooms/{room_id}/invite"),
            Some("alice-token"),
            Some(&json!({"user_id": "@carol:hearth.test"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = server
        .call(
            Method::POST,
            &format!("/_matrix/client/v3/rooms/{room_id}/join"),
            Some("carol-token"),
            Some(&json!({})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    send_message(&server, "alice-token", &room_id, "1", "from alice").await;

    let lazy =
        encode(&json!({"room": {"state": {"lazy_load_members": true}, "timeline": {"limit": 1}}}));
    let initial = sync(&server, "bob-token", &format!("filter={lazy}")).await;
    assert_eq!(
        member_state_keys(&initial, &room_id),
        vec!["@alice:hearth.test", "@bob:hearth.test"],
        "only the timeline's sender and bob himself: {initial}"
    );
    let since = initial["next_batch"].as_str().unwrap().to_owned();

    send_message(&server, "carol-token", &room_id, "1", "from carol").await;
    let body = sync(
        &server,
        "bob-token",
        &format!("since={since}&timeout=0&filter={lazy}"),
    )
    .await;
    assert_eq!(
        member_state_keys(&body, &room_id),
        vec!["@carol:hearth.test"],
        "{body}"
    );
    let since = body["next_batch"].as_str().unwrap().to_owned();

    send_message(&server, "alice-token", &room_id, "2", "alice again").await;
    let body = sync(
        &server,
        "bob-token",
        &format!("since={since}&timeout=0&filter={lazy}"),
    )
    .await;
    assert!(
        member_state_keys(&body, &room_id).is_empty(),
        "alice's member event was sent already: {body}"
    );

    let redundant = encode(
        &json!({"room": {"state": {"lazy_load_members": true, "include_redundant_members": true},
        "timeline": {"limit": 1}}}),
    );
    let body = sync(
        &server,
        "bob-token",
        &format!("since={since}&timeout=0&filter={redundant}"),
    )
    .await;
    assert_eq!(
        member_state_keys(&body, &room_id),
        vec!["@alice:hearth.test"],
        "{body}"
    );
    server.stop().await;
}
both_backends!(
    lazy_loading_skips_members_the_device_already_has_unless_redundant_ones_are_asked_for
);
