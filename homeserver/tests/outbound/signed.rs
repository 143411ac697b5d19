//! The whole outbound path of a running server: a message sent over the client API reaches a peer (a TLS
//! server on loopback standing in for another homeserver) as `PUT /_matrix/federation/v1/send/{txnId}` whose
//! X-Matrix signature verifies with the key the server publishes, with exactly `Content-Type: application/json`.

use std::time::Duration;

use hearth::storage::Backend;
use hearth_crypto::VerifyKey;
use hearth_federation::auth::authenticate_request;
use reqwest::Method;
use serde_json::{Value, json};

use crate::both_backends;
use crate::peer::{accept_all, fake_peer, federating_server};

async fn a_local_message_reaches_a_peer_as_a_signed_transaction(backend: Backend) {
    let peer_dir = tempfile::tempdir().unwrap();
    let (peer, mut received) = fake_peer(peer_dir.path(), accept_all()).await;
    let server = federating_server(backend).await;
    let token = server
        .register_open("alice", "a long enough password")
        .await;
    let (status, created) = server
        .call(
            Method::POST,
            "/_matrix/client/v3/createRoom",
            Some(&token),
            Some(&json!({"preset": "public_chat"})),
        )
        .await;
    assert_eq!(status, 200, "{created}");
    let room_id = created["room_id"].as_str().unwrap().to_owned();
    // A user of the peer is in the room (in production their join arrives over federation).
    server
        ._db
        .raw_execute(&format!(
            "INSERT INTO room_memberships (room_id, user_id, membership, event_id, sender, \
             stream_ordering, forgotten) VALUES ('{room_id}', '@bob:{peer}', 'join', '$x', \
             '@bob:{peer}', 0, FALSE)"
        ))
        .await;
    let encoded = url::form_urlencoded::byte_serialize(room_id.as_bytes()).collect::<String>();
    let (status, sent) = server
        .call(
            Method::PUT,
            &format!("/_matrix/client/v3/rooms/{encoded}/send/m.room.message/t1"),
            Some(&token),
            Some(&json!({"msgtype": "m.text", "body": "over the wire"})),
        )
        .await;
    assert_eq!(status, 200, "{sent}");

    // The transaction carrying the message (earlier ones may carry the room's creation).
    let mut found = None;
    while found.is_none() {
        let request = tokio::time::timeout(Duration::from_secs(20), received.recv())
            .await
            .expect("a transaction within 20 s")
            .expect("the peer is running");
        let body: Value = serde_json::from_slice(&request.body).expect("JSON body");
        let carries = body["pdus"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|pdu| pdu["content"]["body"] == "over the wire");
        if carries {
            found = Some((request, body));
        }
    }
    let (request, body) = found.unwrap();
    assert_eq!(request.method, "PUT");
    assert!(
        request.target.starts_with("/_matrix/federation/v1/send/"),
        "{}",
        request.target
    );
    assert_eq!(
        request.headers.get("content-type").map(String::as_str),
        Some("application/json")
    );
    assert_eq!(body["origin"], "hearth.test");

    // The signature verifies with the key the server publishes.
    let (status, keys) = server
        .call(Method::GET, "/_matrix/key/v2/server", None, None)
        .await;
    assert_eq!(status, 200);
    let key = keys["verify_keys"]
        .as_object()
        .and_then(|keys| keys.values().next())
        .and_then(|key| key["key"].as_str())
        .expect("a published key");
    let verify_key = VerifyKey::from_base64(key).expect("key decodes");
    let origin = authenticate_request(
        &request.method,
        &request.target,
        Some(&body),
        request
            .headers
            .get("authorization")
            .map_or("", String::as_str),
        &peer,
        |_, _| async move { Some(verify_key) },
    )
    .await
    .expect("X-Matrix verifies");
    assert_eq!(origin.as_str(), "hearth.test");
    server.stop().await;
}
both_backends!(a_local_message_reaches_a_peer_as_a_signed_transaction);
