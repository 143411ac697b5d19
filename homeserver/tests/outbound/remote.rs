//! The client side of federation against a fake peer: inviting a remote user (`/invite` v2, countersigned),
//! a refused invite stores nothing, remote alias lookups and remote profiles.

use std::sync::Arc;
use std::time::Duration;

use hearth::storage::Backend;
use reqwest::Method;
use serde_json::{Value, json};

use crate::both_backends;
use crate::peer::{Responder, fake_peer, federating_server};

/// A peer that countersigns invites (adds a signature of its own), resolves `#room:<peer>` and serves
/// `@bob`'s profile; everything else is 404.
fn friendly_peer() -> Responder {
    Arc::new(|method, target, body| {
        if method == "PUT" && target.starts_with("/_matrix/federation/v2/invite/") {
            let mut event = body["event"].clone();
            let peer = event["state_key"]
                .as_str()
                .and_then(|user| user.split_once(':'))
                .map(|(_, server)| server.to_owned())
                .unwrap_or_default();
            event["signatures"][peer] = json!({"ed25519:peer": "c2lnbmF0dXJl"});
            return (200, json!({"event": event}));
        }
        if method == "GET" && target.starts_with("/_matrix/federation/v1/query/directory") {
            return (
                200,
                json!({"room_id": "!remote:elsewhere.test", "servers": ["elsewhere.test"]}),
            );
        }
        if method == "GET" && target.starts_with("/_matrix/federation/v1/query/profile") {
            return (
                200,
                json!({"displayname": "Bob on the peer", "avatar_url": "mxc://peer/bob"}),
            );
        }
        (404, json!({"errcode": "M_NOT_FOUND", "error": "no"}))
    })
}

fn encode(segment: &str) -> String {
    url::form_urlencoded::byte_serialize(segment.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

async fn inviting_a_remote_user_stores_the_invite_their_server_countersigned(backend: Backend) {
    let peer_dir = tempfile::tempdir().unwrap();
    let (peer, mut received) = fake_peer(peer_dir.path(), friendly_peer()).await;
    let server = federating_server(backend).await;
    let token = server
        .register_open("alice", "a long enough password")
        .await;
    let (status, created) = server
        .call(
            Method::POST,
            "/_matrix/client/v3/createRoom",
            Some(&token),
            Some(&json!({"name": "Plans", "is_direct": true})),
        )
        .await;
    assert_eq!(status, 200, "{created}");
    let room_id = created["room_id"].as_str().unwrap().to_owned();
    let bob = format!("@bob:{peer}");
    let (status, body) = server
        .call(
            Method::POST,
            &format!("/_matrix/client/v3/rooms/{}/invite", encode(&room_id)),
            Some(&token),
            Some(&json!({"user_id": bob})),
        )
        .await;
    assert_eq!(status, 200, "{body}");

    let request = loop {
        let request = tokio::time::timeout(Duration::from_secs(20), received.recv())
            .await
            .expect("the invite within 20 s")
            .expect("peer running");
        if request.target.contains("/invite/") {
            break request;
        }
    };
    assert_eq!(request.method, "PUT");
    let sent: Value = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(sent["room_version"], "12");
    assert_eq!(sent["event"]["state_key"], bob.as_str());
    assert_eq!(sent["event"]["content"]["membership"], "invite");
    let stripped = sent["invite_room_state"]
        .as_array()
        .expect("stripped state");
    let create = stripped
        .iter()
        .find(|e| e["type"] == "m.room.create")
        .expect("the create event");
    assert!(
        create["signatures"].is_object(),
        "the create event is sent in full: {create}"
    );
    assert!(
        stripped
            .iter()
            .any(|e| e["type"] == "m.room.name" && e["content"]["name"] == "Plans")
    );

    // What the room holds is the countersigned event.
    let (status, members) = server
        .call(
            Method::GET,
            &format!("/_matrix/client/v3/rooms/{}/members", encode(&room_id)),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(status, 200, "{members}");
    let invite = members["chunk"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["state_key"] == bob.as_str())
        .expect("bob's membership")
        .clone();
    assert_eq!(invite["content"]["membership"], "invite");
    let stored = server
        .storage
        .get_event(invite["event_id"].as_str().unwrap())
        .await
        .unwrap()
        .expect("stored");
    let stored: Value = serde_json::from_str(&stored.json).unwrap();
    assert_eq!(
        stored["signatures"][peer.as_str()]["ed25519:peer"],
        "c2lnbmF0dXJl"
    );
    server.stop().await;
}
both_backends!(inviting_a_remote_user_stores_the_invite_their_server_countersigned);

async fn an_invite_the_remote_server_refuses_is_not_stored(backend: Backend) {
    let peer_dir = tempfile::tempdir().unwrap();
    let refuse: Responder =
        Arc::new(|_, _, _| (403, json!({"errcode": "M_FORBIDDEN", "error": "not here"})));
    let (peer, _received) = fake_peer(peer_dir.path(), refuse).await;
    let server = federating_server(backend).await;
    let token = server
        .register_open("alice", "a long enough password")
        .await;
    let (_, created) = server
        .call(
            Method::POST,
            "/_matrix/client/v3/createRoom",
            Some(&token),
            Some(&json!({})),
        )
        .await;
    let room_id = created["room_id"].as_str().unwrap().to_owned();
    let bob = format!("@bob:{peer}");
    let (status, body) = server
        .call(
            Method::POST,
            &format!("/_matrix/client/v3/rooms/{}/invite", encode(&room_id)),
            Some(&token),
            Some(&json!({"user_id": bob})),
        )
        .await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["errcode"], "M_FORBIDDEN");
    let membership = server.storage.membership(&room_id, &bob).await.unwrap();
    assert!(membership.is_none(), "{membership:?}");
    // The room still works.
    let (status, _) = server
        .call(
            Method::PUT,
            &format!(
                "/_matrix/client/v3/rooms/{}/send/m.room.message/t1",
                encode(&room_id)
            ),
            Some(&token),
            Some(&json!({"msgtype": "m.text", "body": "still here"})),
        )
        .await;
    assert_eq!(status, 200);
    server.stop().await;
}
both_backends!(an_invite_the_remote_server_refuses_is_not_stored);

async fn remote_aliases_and_profiles_are_asked_of_their_server(backend: Backend) {
    let peer_dir = tempfile::tempdir().unwrap();
    let (peer, mut received) = fake_peer(peer_dir.path(), friendly_peer()).await;
    let server = federating_server(backend).await;
    let alias = format!("#room:{peer}");
    let (status, body) = server
        .call(
            Method::GET,
            &format!("/_matrix/client/v3/directory/room/{}", encode(&alias)),
            None,
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["room_id"], "!remote:elsewhere.test");
    assert_eq!(body["servers"], json!([peer.as_str(), "elsewhere.test"]));
    let request = received.recv().await.unwrap();
    assert_eq!(
        request.target,
        format!(
            "/_matrix/federation/v1/query/directory?room_alias={}",
            encode(&alias)
        )
    );

    let bob = format!("@bob:{peer}");
    let (status, body) = server
        .call(
            Method::GET,
            &format!("/_matrix/client/v3/profile/{}", encode(&bob)),
            None,
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({"displayname": "Bob on the peer", "avatar_url": "mxc://peer/bob"})
    );

    // An alias its server does not know is 404 M_NOT_FOUND.
    let unknown: Responder =
        Arc::new(|_, _, _| (404, json!({"errcode": "M_NOT_FOUND", "error": "no"})));
    let other_dir = tempfile::tempdir().unwrap();
    let (other, _requests) = fake_peer(other_dir.path(), unknown).await;
    let missing = format!("#nothing:{other}");
    let (status, body) = server
        .call(
            Method::GET,
            &format!("/_matrix/client/v3/directory/room/{}", encode(&missing)),
            None,
            None,
        )
        .await;
    assert_eq!(
        (status, body["errcode"].as_str()),
        (404, Some("M_NOT_FOUND")),
        "{body}"
    );
    server.stop().await;
}
both_backends!(remote_aliases_and_profiles_are_asked_of_their_server);
