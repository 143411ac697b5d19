//! Profiles: read by anyone, written by the owner only.

use hearth::storage::Backend;
use reqwest::Method;
use serde_json::json;

use crate::both_backends;
use crate::common::{open_registration, start};

async fn profile_fields_are_read_and_written(backend: Backend) {
    let server = start(backend, open_registration).await;
    let alice = server.register_open("alice", "pw").await;
    let bob = server.register_open("bob", "pw").await;
    let (status, profile) = server
        .call(
            Method::GET,
            "/_matrix/client/v3/profile/@alice:hearth.test",
            None,
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        profile["displayname"], "alice",
        "the localpart is the initial display name"
    );
    let (status, _) = server
        .call(
            Method::PUT,
            "/_matrix/client/v3/profile/@alice:hearth.test/displayname",
            Some(&alice),
            Some(&json!({"displayname": "Alice A."})),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = server
        .call(
            Method::PUT,
            "/_matrix/client/r0/profile/@alice:hearth.test/avatar_url",
            Some(&alice),
            Some(&json!({"avatar_url": "mxc://hearth.test/abc"})),
        )
        .await;
    assert_eq!(status, 200);
    let (_, name) = server
        .call(
            Method::GET,
            "/_matrix/client/v3/profile/@alice:hearth.test/displayname",
            None,
            None,
        )
        .await;
    assert_eq!(name, json!({"displayname": "Alice A."}));
    let (_, avatar) = server
        .call(
            Method::GET,
            "/_matrix/client/v3/profile/@alice:hearth.test/avatar_url",
            None,
            None,
        )
        .await;
    assert_eq!(avatar, json!({"avatar_url": "mxc://hearth.test/abc"}));

    let (status, body) = server
        .call(
            Method::PUT,
            "/_matrix/client/v3/profile/@alice:hearth.test/displayname",
            Some(&bob),
            Some(&json!({"displayname": "pwned"})),
        )
        .await;
    assert_eq!(
        (status, body["errcode"].as_str()),
        (403, Some("M_FORBIDDEN"))
    );
    let (status, body) = server
        .call(
            Method::PUT,
            "/_matrix/client/v3/profile/@alice:hearth.test/displayname",
            None,
            Some(&json!({"displayname": "x"})),
        )
        .await;
    assert_eq!(
        (status, body["errcode"].as_str()),
        (401, Some("M_MISSING_TOKEN"))
    );
    let (status, body) = server
        .call(
            Method::PUT,
            "/_matrix/client/v3/profile/@alice:hearth.test/displayname",
            Some(&alice),
            Some(&json!({"displayname": 7})),
        )
        .await;
    assert_eq!(
        (status, body["errcode"].as_str()),
        (400, Some("M_BAD_JSON"))
    );
    let (status, body) = server
        .call(
            Method::GET,
            "/_matrix/client/v3/profile/@nobody:hearth.test",
            None,
            None,
        )
        .await;
    assert_eq!(
        (status, body["errcode"].as_str()),
        (404, Some("M_NOT_FOUND"))
    );
    let (status, body) = server
        .call(
            Method::GET,
            "/_matrix/client/v3/profile/not-a-user",
            None,
            None,
        )
        .await;
    assert_eq!(
        (status, body["errcode"].as_str()),
        (400, Some("M_INVALID_PARAM"))
    );
    server.stop().await;
}
both_backends!(profile_fields_are_read_and_written);
