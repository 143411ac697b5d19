//! Devices: list, get, rename, delete with UIA, bulk delete.

use hearth::storage::Backend;
use reqwest::Method;
use serde_json::json;

use crate::both_backends;
use crate::common::{open_registration, start};

async fn devices_are_listed_renamed_and_deleted_with_uia(backend: Backend) {
    let server = start(backend, open_registration).await;
    let token = server.register_open("alice", "pw").await;
    let login = json!({"type": "m.login.password", "user": "alice", "password": "pw", "device_id": "SECOND"});
    let (status, _) = server
        .call(Method::POST, "/_matrix/client/v3/login", None, Some(&login))
        .await;
    assert_eq!(status, 200);
    let (status, list) = server
        .call(
            Method::GET,
            "/_matrix/client/v3/devices",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(list["devices"].as_array().unwrap().len(), 2);

    let (status, _) = server
        .call(
            Method::PUT,
            "/_matrix/client/v3/devices/SECOND",
            Some(&token),
            Some(&json!({"display_name": "laptop"})),
        )
        .await;
    assert_eq!(status, 200);
    let (status, device) = server
        .call(
            Method::GET,
            "/_matrix/client/r0/devices/SECOND",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(device["display_name"], "laptop");
    let (status, body) = server
        .call(
            Method::GET,
            "/_matrix/client/v3/devices/NOPE",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(
        (status, body["errcode"].as_str()),
        (404, Some("M_NOT_FOUND"))
    );
    let (status, body) = server
        .call(
            Method::PUT,
            "/_matrix/client/v3/devices/NOPE",
            Some(&token),
            Some(&json!({"display_name": "x"})),
        )
        .await;
    assert_eq!(
        (status, body["errcode"].as_str()),
        (404, Some("M_NOT_FOUND"))
    );

    let (status, challenge) = server
        .call(
            Method::DELETE,
            "/_matrix/client/v3/devices/SECOND",
            Some(&token),
            Some(&json!({})),
        )
        .await;
    assert_eq!(status, 401);
    let auth = json!({"type": "m.login.password", "session": challenge["session"], "identifier": {"type": "m.id.user", "user": "alice"}, "password": "pw"});
    let (status, body) = server
        .call(
            Method::DELETE,
            "/_matrix/client/v3/devices/SECOND",
            Some(&token),
            Some(&json!({"auth": auth})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (_, list) = server
        .call(
            Method::GET,
            "/_matrix/client/v3/devices",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(list["devices"].as_array().unwrap().len(), 1);

    let (status, _) = server
        .call(
            Method::POST,
            "/_matrix/client/v3/delete_devices",
            Some(&token),
            Some(&json!({"devices": ["X"]})),
        )
        .await;
    assert_eq!(status, 401);
    let (status, body) = server
        .call(
            Method::POST,
            "/_matrix/client/v3/delete_devices",
            Some(&token),
            Some(&json!({"devices": "X"})),
        )
        .await;
    assert_eq!(
        (status, body["errcode"].as_str()),
        (400, Some("M_BAD_JSON"))
    );
    let own = list["devices"][0]["device_id"].clone();
    let auth = json!({"type": "m.login.password", "user": "alice", "password": "pw"});
    let (status, _) = server
        .call(
            Method::POST,
            "/_matrix/client/v3/delete_devices",
            Some(&token),
            Some(&json!({"devices": [own, "UNKNOWN"], "auth": auth})),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = server
        .call(
            Method::GET,
            "/_matrix/client/v3/devices",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(status, 401, "deleting the own device revokes its token");
    server.stop().await;
}
both_backends!(devices_are_listed_renamed_and_deleted_with_uia);

async fn a_uia_session_cannot_be_finished_by_another_user(backend: Backend) {
    let server = start(backend, open_registration).await;
    let alice = server.register_open("alice", "pw").await;
    let bob = server.register_open("bob", "pw").await;
    let (_, challenge) = server
        .call(
            Method::POST,
            "/_matrix/client/v3/delete_devices",
            Some(&alice),
            Some(&json!({"devices": []})),
        )
        .await;
    let auth = json!({"type": "m.login.password", "session": challenge["session"], "user": "bob", "password": "pw"});
    let (status, body) = server
        .call(
            Method::POST,
            "/_matrix/client/v3/delete_devices",
            Some(&bob),
            Some(&json!({"devices": [], "auth": auth})),
        )
        .await;
    assert_eq!(
        (status, body["errcode"].as_str()),
        (403, Some("M_FORBIDDEN"))
    );
    server.stop().await;
}
both_backends!(a_uia_session_cannot_be_finished_by_another_user);
