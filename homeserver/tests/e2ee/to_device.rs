//! `PUT /sendToDevice`: delivery in `/sync` exactly once, deletion after acknowledgement, idempotent
//! transaction IDs, `*` for every device, and the long-poll wake-up.

use std::time::{Duration, Instant};

use hearth::storage::Backend;
use reqwest::Method;
use serde_json::{Value, json};

use crate::common::{TestServer, start};
use crate::{both_backends, call_ok, seed_device, sync};

const ALICE: &str = "@alice:hearth.test";
const BOB: &str = "@bob:hearth.test";

async fn send(server: &TestServer, token: &str, txn: &str, messages: Value) {
    call_ok(
        server,
        Method::PUT,
        &format!("/_matrix/client/v3/sendToDevice/m.room_key_request/{txn}"),
        token,
        Some(json!({ "messages": messages })),
    )
    .await;
}

fn to_device_events(sync: &Value) -> Vec<Value> {
    sync["to_device"]["events"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn next_batch(sync: &Value) -> String {
    sync["next_batch"].as_str().unwrap().to_owned()
}

async fn to_device_messages_are_delivered_once_and_deleted_after_acknowledgement(backend: Backend) {
    let server = start(backend, |_| {}).await;
    let alice = seed_device(&server.storage, ALICE, "ALICEDEV").await;
    let bob = seed_device(&server.storage, BOB, "BOBDEV").await;
    let bob_other = seed_device(&server.storage, BOB, "BOBOTHER").await;
    let initial = sync(&server, &bob, None).await;
    let since = next_batch(&initial);

    send(
        &server,
        &alice,
        "txn1",
        json!({ BOB: { "BOBDEV": { "n": 1 } } }),
    )
    .await;
    // The same transaction again (a retry) queues nothing more.
    send(
        &server,
        &alice,
        "txn1",
        json!({ BOB: { "BOBDEV": { "n": 1 } } }),
    )
    .await;
    send(
        &server,
        &alice,
        "txn2",
        json!({ BOB: { "BOBDEV": { "n": 2 }, "NOSUCHDEVICE": { "n": 0 } } }),
    )
    .await;

    let first = sync(&server, &bob, Some(&since)).await;
    let events = to_device_events(&first);
    assert_eq!(events.len(), 2, "{first}");
    assert_eq!(events[0]["sender"], ALICE);
    assert_eq!(events[0]["type"], "m.room_key_request");
    assert_eq!(events[0]["content"], json!({ "n": 1 }));
    assert_eq!(events[1]["content"], json!({ "n": 2 }));
    // Not acknowledged yet (the client retries with the same since): delivered again.
    let retry = sync(&server, &bob, Some(&since)).await;
    assert_eq!(to_device_events(&retry).len(), 2, "{retry}");
    // Acknowledged by syncing from the response's token: gone, also for the old token.
    let acked = sync(&server, &bob, Some(&next_batch(&first))).await;
    assert!(to_device_events(&acked).is_empty(), "{acked}");
    let replay = sync(&server, &bob, Some(&since)).await;
    assert!(
        to_device_events(&replay).is_empty(),
        "deleted after acknowledgement: {replay}"
    );
    // The other device got nothing.
    let other = sync(&server, &bob_other, None).await;
    assert!(to_device_events(&other).is_empty());

    // `*` reaches every device of the user.
    send(&server, &alice, "txn3", json!({ BOB: { "*": { "n": 3 } } })).await;
    for token in [&bob, &bob_other] {
        let answer = sync(&server, token, None).await;
        let events = to_device_events(&answer);
        assert_eq!(events.len(), 1, "{answer}");
        assert_eq!(events[0]["content"], json!({ "n": 3 }));
    }
    server.stop().await;
}
both_backends!(to_device_messages_are_delivered_once_and_deleted_after_acknowledgement);

async fn a_long_polling_sync_wakes_for_a_to_device_message(backend: Backend) {
    let server = start(backend, |_| {}).await;
    let alice = seed_device(&server.storage, ALICE, "ALICEDEV").await;
    let bob = seed_device(&server.storage, BOB, "BOBDEV").await;
    let since = next_batch(&sync(&server, &bob, None).await);
    let started = Instant::now();
    let poll = server
        .http
        .get(server.url(&format!(
            "/_matrix/client/v3/sync?timeout=10000&since={since}"
        )))
        .bearer_auth(&bob)
        .send();
    let sender = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        send(
            &server,
            &alice,
            "wake",
            json!({ BOB: { "BOBDEV": { "wake": true } } }),
        )
        .await;
    };
    let (response, ()) = tokio::join!(poll, sender);
    let body: Value = response.unwrap().json().await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "woken, not timed out"
    );
    assert_eq!(
        to_device_events(&body)[0]["content"],
        json!({ "wake": true }),
        "{body}"
    );
    server.stop().await;
}
both_backends!(a_long_polling_sync_wakes_for_a_to_device_message);

async fn send_to_device_refuses_bad_input(backend: Backend) {
    let server = start(backend, |_| {}).await;
    let alice = seed_device(&server.storage, ALICE, "ALICEDEV").await;
    for (what, body) in [
        ("missing messages", json!({})),
        (
            "content not an object",
            json!({ "messages": { BOB: { "D": "text" } } }),
        ),
        (
            "invalid user ID",
            json!({ "messages": { "bob": { "D": {} } } }),
        ),
    ] {
        let (status, answer) = server
            .call(
                Method::PUT,
                "/_matrix/client/v3/sendToDevice/m.test/bad",
                Some(&alice),
                Some(&body),
            )
            .await;
        assert_eq!(status, 400, "{what}: {answer}");
    }
    server.stop().await;
}
both_backends!(send_to_device_refuses_bad_input);
