//! Aliases, canonical alias validation and the public room directory.

use crate::both_backends;
use hearth::storage::Backend;
use reqwest::Method;
use serde_json::json;

use super::common::start;
use super::{create_room, encode, room_path, seed_users};

async fn aliases_and_directory(backend: Backend) {
    let server = start(backend, |_| {}).await;
    seed_users(&server).await;
    let room_id = create_room(
        &server,
        "alice-token",
        json!({"visibility": "public", "preset": "public_chat", "name": "Garden Party"}),
    )
    .await;
    let alias_path = format!(
        "/_matrix/client/v3/directory/room/{}",
        encode("#garden:hearth.test")
    );
    let (status, body) = server
        .call(
            Method::PUT,
            &alias_path,
            Some("alice-token"),
            Some(&json!({"room_id": room_id})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = server
        .call(
            Method::PUT,
            &alias_path,
            Some("alice-token"),
            Some(&json!({"room_id": room_id})),
        )
        .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["errcode"], "M_UNKNOWN");
    let (status, body) = server.call(Method::GET, &alias_path, None, None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["room_id"], room_id.as_str());

    // A canonical alias must point at the room.
    let (status, body) = server
        .call(
            Method::PUT,
            &room_path(&room_id, "/state/m.room.canonical_alias"),
            Some("alice-token"),
            Some(&json!({"alias": "#elsewhere:hearth.test"})),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["errcode"], "M_BAD_ALIAS");
    let (status, body) = server
        .call(
            Method::PUT,
            &room_path(&room_id, "/state/m.room.canonical_alias"),
            Some("alice-token"),
            Some(&json!({"alias": "#garden:hearth.test"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");

    let (status, body) = server
        .call(
            Method::GET,
            &room_path(&room_id, "/aliases"),
            Some("alice-token"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["aliases"], json!(["#garden:hearth.test"]));

    let (status, body) = server
        .call(Method::GET, "/_matrix/client/v3/publicRooms", None, None)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["chunk"][0]["room_id"], room_id.as_str());
    assert_eq!(body["chunk"][0]["name"], "Garden Party");
    let (status, body) = server
        .call(
            Method::POST,
            "/_matrix/client/v3/publicRooms",
            Some("bob-token"),
            Some(&json!({"filter": {"generic_search_term": "nothing-like-it"}})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["chunk"], json!([]));

    // Bob (not the creator, no power) cannot delete the alias; Alice can.
    let (status, _) = server
        .call(Method::DELETE, &alias_path, Some("bob-token"), None)
        .await;
    assert_eq!(status, 403);
    let (status, _) = server
        .call(Method::DELETE, &alias_path, Some("alice-token"), None)
        .await;
    assert_eq!(status, 200);
    let (status, body) = server.call(Method::GET, &alias_path, None, None).await;
    assert_eq!(status, 404, "{body}");
    server.stop().await;
}
both_backends!(aliases_and_directory);
