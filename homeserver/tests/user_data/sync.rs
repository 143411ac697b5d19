//! `/sync` over real HTTP: initial and incremental sync, long-polling woken by a message, timeouts, typing and
//! receipts in the other user's sync, account data, filters, errors.

use std::time::{Duration, Instant};

use hearth::storage::Backend;
use reqwest::Method;
use serde_json::{Value, json};

use crate::both_backends;
use crate::common::{TestServer, start};
use crate::seed::user_with_token;

const ALICE: &str = "@alice:hearth.test";
const BOB: &str = "@bob:hearth.test";

/// Alice creates a room and invites Bob, who joins; returns the room ID.
pub(crate) async fn shared_room(server: &TestServer) -> String {
    user_with_token(&server.storage, ALICE, "alice-token").await;
    user_with_token(&server.storage, BOB, "bob-token").await;
    let (status, body) = server
        .call(
            Method::POST,
            "/_matrix/client/v3/createRoom",
            Some("alice-token"),
            Some(&json!({"name": "Sync test", "invite": [BOB]})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let room_id = body["room_id"].as_str().unwrap().to_owned();
    let (status, body) = server
        .call(
            Method::POST,
            &format!("/_matrix/client/v3/rooms/{room_id}/join"),
            Some("bob-token"),
            Some(&json!({})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    room_id
}

pub(crate) async fn sync(server: &TestServer, token: &str, query: &str) -> Value {
    let (status, body) = server
        .call(
            Method::GET,
            &format!("/_matrix/client/v3/sync?{query}"),
            Some(token),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body
}

pub(crate) async fn send_message(
    server: &TestServer,
    token: &str,
    room_id: &str,
    txn: &str,
    body: &str,
) -> String {
    let (status, response) = server
        .call(
            Method::PUT,
            &format!("/_matrix/client/v3/rooms/{room_id}/send/m.room.message/{txn}"),
            Some(token),
            Some(&json!({"msgtype": "m.text", "body": body})),
        )
        .await;
    assert_eq!(status, 200, "{response}");
    response["event_id"].as_str().unwrap().to_owned()
}

fn timeline_bodies(sync: &Value, room_id: &str) -> Vec<String> {
    sync["rooms"]["join"][room_id]["timeline"]["events"]
        .as_array()
        .map(|events| {
            events
                .iter()
                .filter_map(|event| event["content"]["body"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

async fn initial_and_incremental_sync_deliver_messages(backend: Backend) {
    let server = start(backend, |_| {}).await;
    let room_id = shared_room(&server).await;
    send_message(&server, "alice-token", &room_id, "t1", "hello").await;
    let initial = sync(&server, "bob-token", "").await;
    let room = &initial["rooms"]["join"][&room_id];
    assert!(room.is_object(), "{initial}");
    assert_eq!(
        timeline_bodies(&initial, &room_id),
        vec!["hello".to_owned()]
    );
    let state_types: Vec<&str> = room["state"]["events"]
        .as_array()
        .unwrap()
        .iter()
        .chain(room["timeline"]["events"].as_array().unwrap())
        .filter_map(|event| event["type"].as_str())
        .collect();
    assert!(state_types.contains(&"m.room.create"), "{state_types:?}");
    assert!(state_types.contains(&"m.room.name"));
    assert_eq!(room["summary"]["m.joined_member_count"], 2);
    assert_eq!(room["unread_notifications"]["notification_count"], 1);
    assert!(initial["device_lists"]["changed"].is_array());
    assert!(initial["device_one_time_keys_count"].is_object());
    let push_rules = initial["account_data"]["events"]
        .as_array()
        .unwrap()
        .iter()
        .any(|event| event["type"] == "m.push_rules");
    assert!(push_rules, "initial sync carries the push rules");

    let since = initial["next_batch"].as_str().unwrap().to_owned();
    send_message(&server, "alice-token", &room_id, "t2", "second").await;
    let incremental = sync(&server, "bob-token", &format!("since={since}&timeout=0")).await;
    assert_eq!(
        timeline_bodies(&incremental, &room_id),
        vec!["second".to_owned()]
    );
    assert_eq!(
        incremental["rooms"]["join"][&room_id]["timeline"]["limited"],
        false
    );
    assert!(
        incremental["rooms"]["join"][&room_id]["state"]["events"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    server.stop().await;
}
both_backends!(initial_and_incremental_sync_deliver_messages);

async fn long_poll_returns_promptly_when_a_message_arrives(backend: Backend) {
    let server = start(backend, |_| {}).await;
    let room_id = shared_room(&server).await;
    let since = sync(&server, "bob-token", "").await["next_batch"]
        .as_str()
        .unwrap()
        .to_owned();
    let started = Instant::now();
    let waiting = {
        let http = server.http.clone();
        let url = server.url(&format!(
            "/_matrix/client/v3/sync?since={since}&timeout=15000"
        ));
        tokio::spawn(async move {
            let response = http.get(url).bearer_auth("bob-token").send().await.unwrap();
            (Instant::now(), response.json::<Value>().await.unwrap())
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    send_message(&server, "alice-token", &room_id, "lp", "wake up").await;
    let sent_at = Instant::now();
    let (answered_at, body) = waiting.await.unwrap();
    assert_eq!(timeline_bodies(&body, &room_id), vec!["wake up".to_owned()]);
    assert!(
        answered_at.duration_since(sent_at) < Duration::from_secs(2),
        "the long poll answered {:?} after the send",
        answered_at.duration_since(sent_at)
    );
    assert!(started.elapsed() < Duration::from_secs(10));
    server.stop().await;
}
both_backends!(long_poll_returns_promptly_when_a_message_arrives);

async fn long_poll_times_out_empty(backend: Backend) {
    let server = start(backend, |_| {}).await;
    let room_id = shared_room(&server).await;
    let since = sync(&server, "bob-token", "").await["next_batch"]
        .as_str()
        .unwrap()
        .to_owned();
    let started = Instant::now();
    let body = sync(&server, "bob-token", &format!("since={since}&timeout=500")).await;
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(450), "waited {elapsed:?}");
    assert!(elapsed < Duration::from_secs(5), "waited {elapsed:?}");
    assert!(body["rooms"]["join"][&room_id].is_null(), "{body}");
    assert_eq!(body["next_batch"], since.as_str());
    server.stop().await;
}
both_backends!(long_poll_times_out_empty);

async fn typing_receipts_and_account_data_reach_sync(backend: Backend) {
    let server = start(backend, |_| {}).await;
    let room_id = shared_room(&server).await;
    let event_id = send_message(&server, "alice-token", &room_id, "t1", "read me").await;
    let since = sync(&server, "bob-token", "").await["next_batch"]
        .as_str()
        .unwrap()
        .to_owned();

    let (status, body) = server
        .call(
            Method::PUT,
            &format!("/_matrix/client/v3/rooms/{room_id}/typing/{ALICE}"),
            Some("alice-token"),
            Some(&json!({"typing": true, "timeout": 10000})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let body = sync(&server, "bob-token", &format!("since={since}&timeout=5000")).await;
    let ephemeral = &body["rooms"]["join"][&room_id]["ephemeral"]["events"];
    let typing = ephemeral
        .as_array()
        .unwrap()
        .iter()
        .find(|event| event["type"] == "m.typing")
        .expect("typing notification in Bob's sync");
    assert_eq!(typing["content"]["user_ids"], json!([ALICE]));
    let since = body["next_batch"].as_str().unwrap().to_owned();

    let (status, body) = server
        .call(
            Method::POST,
            &format!("/_matrix/client/v3/rooms/{room_id}/receipt/m.read/{event_id}"),
            Some("bob-token"),
            Some(&json!({})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = server
        .call(
            Method::POST,
            &format!("/_matrix/client/v3/rooms/{room_id}/read_markers"),
            Some("bob-token"),
            Some(&json!({"m.fully_read": event_id})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let alice = sync(&server, "alice-token", "").await;
    let receipts = alice["rooms"]["join"][&room_id]["ephemeral"]["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|event| event["type"] == "m.receipt")
        .cloned()
        .expect("Bob's receipt in Alice's sync");
    assert!(receipts["content"][&event_id]["m.read"][BOB]["ts"].is_u64());

    let bob = sync(&server, "bob-token", &format!("since={since}&timeout=0")).await;
    let room = &bob["rooms"]["join"][&room_id];
    assert_eq!(
        room["unread_notifications"]["notification_count"], 0,
        "{bob}"
    );
    let fully_read = room["account_data"]["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|event| event["type"] == "m.fully_read")
        .expect("read marker in Bob's room account data");
    assert_eq!(fully_read["content"]["event_id"], event_id.as_str());

    let (status, _) = server
        .call(
            Method::PUT,
            &format!("/_matrix/client/v3/user/{BOB}/account_data/m.direct"),
            Some("bob-token"),
            Some(&json!({ALICE: [room_id]})),
        )
        .await;
    assert_eq!(status, 200);
    let since = bob["next_batch"].as_str().unwrap();
    let bob = sync(&server, "bob-token", &format!("since={since}&timeout=5000")).await;
    let direct = bob["account_data"]["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|event| event["type"] == "m.direct")
        .expect("m.direct in Bob's sync");
    assert_eq!(direct["content"][ALICE], json!([room_id]));

    let (status, body) = server
        .call(
            Method::POST,
            &format!("/_matrix/client/v3/rooms/{room_id}/receipt/m.read/$unknown"),
            Some("bob-token"),
            Some(&json!({})),
        )
        .await;
    assert_eq!(
        (status, body["errcode"].as_str()),
        (404, Some("M_NOT_FOUND"))
    );
    server.stop().await;
}
both_backends!(typing_receipts_and_account_data_reach_sync);

async fn filters_limit_the_timeline_and_ignored_users_are_hidden(backend: Backend) {
    let server = start(backend, |_| {}).await;
    let room_id = shared_room(&server).await;
    for n in 0..5 {
        send_message(
            &server,
            "alice-token",
            &room_id,
            &format!("m{n}"),
            &format!("message {n}"),
        )
        .await;
    }
    let filter = json!({"room": {"timeline": {"limit": 2}}});
    let (_, created) = server
        .call(
            Method::POST,
            &format!("/_matrix/client/v3/user/{BOB}/filter"),
            Some("bob-token"),
            Some(&filter),
        )
        .await;
    let filter_id = created["filter_id"].as_str().unwrap();
    let body = sync(&server, "bob-token", &format!("filter={filter_id}")).await;
    let timeline = &body["rooms"]["join"][&room_id]["timeline"];
    assert_eq!(
        timeline_bodies(&body, &room_id),
        vec!["message 3", "message 4"]
    );
    assert_eq!(timeline["limited"], true);
    assert!(timeline["prev_batch"].is_string());
    let inline = url_encode(&json!({"room": {"timeline": {"limit": 1}}}).to_string());
    let body = sync(&server, "bob-token", &format!("filter={inline}")).await;
    assert_eq!(timeline_bodies(&body, &room_id), vec!["message 4"]);

    let (status, _) = server
        .call(
            Method::PUT,
            &format!("/_matrix/client/v3/user/{BOB}/account_data/m.ignored_user_list"),
            Some("bob-token"),
            Some(&json!({"ignored_users": {ALICE: {}}})),
        )
        .await;
    assert_eq!(status, 200);
    let since = body["next_batch"].as_str().unwrap();
    send_message(
        &server,
        "alice-token",
        &room_id,
        "hidden",
        "you cannot see me",
    )
    .await;
    let body = sync(&server, "bob-token", &format!("since={since}&timeout=0")).await;
    assert!(timeline_bodies(&body, &room_id).is_empty(), "{body}");

    let (status, body) = server
        .call(
            Method::GET,
            "/_matrix/client/v3/sync?since=garbage",
            Some("bob-token"),
            None,
        )
        .await;
    assert_eq!(
        (status, body["errcode"].as_str()),
        (400, Some("M_INVALID_PARAM"))
    );
    let (status, body) = server
        .call(
            Method::GET,
            "/_matrix/client/v3/sync?filter=%7Bnope",
            Some("bob-token"),
            None,
        )
        .await;
    assert_eq!(
        (status, body["errcode"].as_str()),
        (400, Some("M_BAD_JSON"))
    );
    let (status, body) = server
        .call(Method::GET, "/_matrix/client/r0/sync", None, None)
        .await;
    assert_eq!(
        (status, body["errcode"].as_str()),
        (401, Some("M_MISSING_TOKEN"))
    );
    server.stop().await;
}
both_backends!(filters_limit_the_timeline_and_ignored_users_are_hidden);

fn url_encode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

async fn sync_token_survives_a_restart(backend: Backend) {
    let server = start(backend, |_| {}).await;
    let room_id = shared_room(&server).await;
    let since = sync(&server, "bob-token", "").await["next_batch"]
        .as_str()
        .unwrap()
        .to_owned();
    send_message(&server, "alice-token", &room_id, "before", "before restart").await;
    let TestServer {
        server: running,
        storage,
        _db,
        http,
        _data_dir,
    } = server;
    running.shutdown().await;
    let restarted = hearth::start(crate::common::test_config(_data_dir.path(), &_db.url))
        .await
        .expect("server restarts on the same database");
    let server = TestServer {
        server: restarted,
        storage,
        _db,
        http,
        _data_dir,
    };
    send_message(&server, "alice-token", &room_id, "after", "after restart").await;
    let body = sync(&server, "bob-token", &format!("since={since}&timeout=0")).await;
    assert_eq!(
        timeline_bodies(&body, &room_id),
        vec!["before restart".to_owned(), "after restart".to_owned()],
        "nothing is lost across the restart"
    );
    server.stop().await;
}
both_backends!(sync_token_survives_a_restart);

async fn legacy_events_and_initial_sync_serve_the_same_streams(backend: Backend) {
    let server = start(backend, |_| {}).await;
    let room_id = shared_room(&server).await;
    send_message(&server, "alice-token", &room_id, "old", "old message").await;
    let (status, initial) = server
        .call(
            Method::GET,
            "/_matrix/client/r0/initialSync?limit=5",
            Some("bob-token"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{initial}");
    let room = initial["rooms"]
        .as_array()
        .unwrap()
        .iter()
        .find(|room| room["room_id"] == room_id.as_str())
        .expect("the joined room is listed");
    assert_eq!(room["membership"], "join");
    assert!(
        room["messages"]["chunk"]
            .as_array()
            .unwrap()
            .iter()
            .any(|event| event["content"]["body"] == "old message")
    );
    let from = initial["end"].as_str().unwrap().to_owned();
    send_message(&server, "alice-token", &room_id, "new", "new message").await;
    let (status, events) = server
        .call(
            Method::GET,
            &format!("/_matrix/client/v3/events?from={from}&timeout=5000"),
            Some("bob-token"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{events}");
    assert_eq!(events["start"], from.as_str());
    let chunk = events["chunk"].as_array().unwrap();
    assert!(
        chunk
            .iter()
            .any(|event| event["content"]["body"] == "new message"
                && event["room_id"] == room_id.as_str()),
        "{events}"
    );
    let (status, body) = server
        .call(
            Method::GET,
            "/_matrix/client/v3/events?from=nope",
            Some("bob-token"),
            None,
        )
        .await;
    assert_eq!(
        (status, body["errcode"].as_str()),
        (400, Some("M_INVALID_PARAM"))
    );
    server.stop().await;
}
both_backends!(legacy_events_and_initial_sync_serve_the_same_streams);
