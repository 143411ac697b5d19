//! Sending, transaction IDs, state, redaction, /event, /messages pagination, /context, relations,
//! and durability across a restart.

use crate::both_backends;
use hearth::storage::Backend;
use reqwest::Method;
use serde_json::{Value, json};

use super::common::{start, test_config};
use super::{create_room, room_path, seed_users, send_message};

async fn retried_transactions_return_the_same_event(backend: Backend) {
    let server = start(backend, |_| {}).await;
    seed_users(&server).await;
    let room_id = create_room(&server, "alice-token", json!({})).await;
    let (status, first) = send_message(&server, "alice-token", &room_id, "txn1", "once").await;
    assert_eq!(status, 200, "{first}");
    let (status, again) = send_message(&server, "alice-token", &room_id, "txn1", "once").await;
    assert_eq!(status, 200);
    assert_eq!(first["event_id"], again["event_id"]);
    let (_, other) = send_message(&server, "alice-token", &room_id, "txn2", "twice").await;
    assert_ne!(first["event_id"], other["event_id"]);

    // The sender's device sees its transaction ID; bob does not.
    let path = room_path(
        &room_id,
        &format!("/event/{}", first["event_id"].as_str().unwrap()),
    );
    let (status, event) = server
        .call(Method::GET, &path, Some("alice-token"), None)
        .await;
    assert_eq!(status, 200, "{event}");
    assert_eq!(event["unsigned"]["transaction_id"], "txn1");
    assert_eq!(event["content"]["body"], "once");
    assert!(event["unsigned"]["age"].as_i64().unwrap() >= 0);
    let (status, _) = server
        .call(Method::GET, &path, Some("bob-token"), None)
        .await;
    assert_eq!(
        status, 404,
        "non-members cannot read events of a shared-history room"
    );
    server.stop().await;
}
both_backends!(retried_transactions_return_the_same_event);

async fn paginates_messages_in_both_directions(backend: Backend) {
    let server = start(backend, |_| {}).await;
    seed_users(&server).await;
    let room_id = create_room(&server, "alice-token", json!({"room_version": "11"})).await;
    for i in 0..25 {
        let (status, body) = send_message(
            &server,
            "alice-token",
            &room_id,
            &format!("t{i}"),
            &format!("m{i}"),
        )
        .await;
        assert_eq!(status, 200, "{body}");
    }
    // Backwards from the end, 10 at a time, until the create event.
    let mut from: Option<String> = None;
    let mut bodies = Vec::new();
    let mut total = 0;
    for _ in 0..10 {
        let query = match &from {
            Some(token) => format!("?dir=b&limit=10&from={token}"),
            None => "?dir=b&limit=10".to_owned(),
        };
        let (status, page) = server
            .call(
                Method::GET,
                &format!("{}{query}", room_path(&room_id, "/messages")),
                Some("alice-token"),
                None,
            )
            .await;
        assert_eq!(status, 200, "{page}");
        let chunk = page["chunk"].as_array().unwrap();
        total += chunk.len();
        bodies.extend(
            chunk
                .iter()
                .filter_map(|e| e["content"]["body"].as_str().map(str::to_owned)),
        );
        match page["end"].as_str() {
            Some(end) => from = Some(end.to_owned()),
            None => break,
        }
    }
    let expected: Vec<String> = (0..25).rev().map(|i| format!("m{i}")).collect();
    assert_eq!(bodies, expected, "newest first, nothing lost or repeated");
    assert!(total > 25, "state events of the room's creation come too");

    // Forwards from the start.
    let (status, page) = server
        .call(
            Method::GET,
            &format!("{}?dir=f&limit=100", room_path(&room_id, "/messages")),
            Some("alice-token"),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let chunk = page["chunk"].as_array().unwrap();
    assert_eq!(chunk[0]["type"], "m.room.create");
    let forward: Vec<&str> = chunk
        .iter()
        .filter_map(|e| e["content"]["body"].as_str())
        .collect();
    assert_eq!(forward.len(), 25);
    assert_eq!(forward[0], "m0");

    // A filter on types.
    let filter = super::encode(&json!({"types": ["m.room.message"]}).to_string());
    let (_, page) = server
        .call(
            Method::GET,
            &format!(
                "{}?dir=b&limit=5&filter={filter}",
                room_path(&room_id, "/messages")
            ),
            Some("alice-token"),
            None,
        )
        .await;
    let chunk = page["chunk"].as_array().unwrap();
    assert_eq!(chunk.len(), 5);
    assert!(chunk.iter().all(|e| e["type"] == "m.room.message"));

    // /context around a message.
    let middle = chunk[2]["event_id"].as_str().unwrap();
    let (status, context) = server
        .call(
            Method::GET,
            &format!(
                "{}?limit=4",
                room_path(&room_id, &format!("/context/{middle}"))
            ),
            Some("alice-token"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{context}");
    assert_eq!(context["event"]["event_id"], middle);
    assert_eq!(context["events_before"].as_array().unwrap().len(), 2);
    assert_eq!(context["events_after"].as_array().unwrap().len(), 2);
    server.stop().await;
}
both_backends!(paginates_messages_in_both_directions);

async fn redaction_strips_content_and_edits_aggregate(backend: Backend) {
    let server = start(backend, |_| {}).await;
    seed_users(&server).await;
    let room_id = create_room(&server, "alice-token", json!({"preset": "public_chat"})).await;
    let (_, _) = server
        .call(
            Method::POST,
            &room_path(&room_id, "/join"),
            Some("bob-token"),
            Some(&json!({})),
        )
        .await;
    let (_, original) = send_message(&server, "alice-token", &room_id, "o", "typo").await;
    let original_id = original["event_id"].as_str().unwrap().to_owned();
    let (status, edit) = server
        .call(
            Method::PUT,
            &room_path(&room_id, "/send/m.room.message/e1"),
            Some("alice-token"),
            Some(&json!({
                "msgtype": "m.text", "body": "* fixed",
                "m.new_content": {"msgtype": "m.text", "body": "fixed"},
                "m.relates_to": {"rel_type": "m.replace", "event_id": original_id},
            })),
        )
        .await;
    assert_eq!(status, 200, "{edit}");
    let path = room_path(&room_id, &format!("/event/{original_id}"));
    let (_, event) = server
        .call(Method::GET, &path, Some("bob-token"), None)
        .await;
    assert_eq!(
        event["unsigned"]["m.relations"]["m.replace"]["event_id"],
        edit["event_id"]
    );
    let (status, relations) = server
        .call(
            Method::GET,
            &format!(
                "/_matrix/client/v1/rooms/{}/relations/{}",
                super::encode(&room_id),
                original_id
            ),
            Some("bob-token"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{relations}");
    assert_eq!(relations["chunk"].as_array().unwrap().len(), 1);

    // Bob may not redact Alice's message; Alice may redact her edit, which leaves the aggregation.
    let edit_id = edit["event_id"].as_str().unwrap();
    let (status, _) = server
        .call(
            Method::PUT,
            &room_path(&room_id, &format!("/redact/{original_id}/r1")),
            Some("bob-token"),
            Some(&json!({})),
        )
        .await;
    assert_eq!(status, 403);
    let (status, redaction) = server
        .call(
            Method::PUT,
            &room_path(&room_id, &format!("/redact/{edit_id}/r2")),
            Some("alice-token"),
            Some(&json!({"reason": "oops"})),
        )
        .await;
    assert_eq!(status, 200, "{redaction}");
    let (_, event) = server
        .call(Method::GET, &path, Some("bob-token"), None)
        .await;
    assert!(event["unsigned"].get("m.relations").is_none(), "{event}");
    let (_, redacted) = server
        .call(
            Method::GET,
            &room_path(&room_id, &format!("/event/{edit_id}")),
            Some("bob-token"),
            None,
        )
        .await;
    assert_eq!(redacted["content"], json!({}));
    assert_eq!(
        redacted["unsigned"]["redacted_because"]["event_id"],
        redaction["event_id"]
    );
    server.stop().await;
}
both_backends!(redaction_strips_content_and_edits_aggregate);

async fn sent_events_survive_a_restart(backend: Backend) {
    let server = start(backend, |_| {}).await;
    seed_users(&server).await;
    let room_id = create_room(&server, "alice-token", json!({})).await;
    let (status, sent) = send_message(&server, "alice-token", &room_id, "d1", "durable").await;
    assert_eq!(status, 200);
    let super::common::TestServer {
        server: running,
        storage,
        _db,
        http,
        _data_dir,
    } = server;
    storage.close().await;
    running.shutdown().await;
    let restarted = hearth::start(test_config(_data_dir.path(), &_db.url))
        .await
        .unwrap();
    let url = format!(
        "http://{}{}",
        restarted.client_addr,
        room_path(
            &room_id,
            &format!("/event/{}", sent["event_id"].as_str().unwrap())
        )
    );
    let response = http
        .get(url)
        .bearer_auth("alice-token")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let event: Value = response.json().await.unwrap();
    assert_eq!(event["content"]["body"], "durable");
    // The room keeps working after the restart (extremities and state were persisted).
    let url = format!(
        "http://{}{}",
        restarted.client_addr,
        room_path(&room_id, "/send/m.room.message/d2")
    );
    let response = http
        .put(url)
        .bearer_auth("alice-token")
        .json(&json!({"msgtype": "m.text", "body": "after"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    restarted.shutdown().await;
}
both_backends!(sent_events_survive_a_restart);
