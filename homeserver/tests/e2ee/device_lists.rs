//! Device-list changes made by the account endpoints: `POST /logout/all` and `POST /account/password` with
//! `logout_devices` delete devices, which must wake the long-polls of the users sharing a room and reach them as
//! `device_lists.changed` (their clients must stop encrypting for the deleted devices).

use std::time::{Duration, Instant};

use hearth::storage::Backend;
use reqwest::Method;
use serde_json::{Value, json};

use crate::common::{TestServer, open_registration, start};
use crate::{both_backends, seed_device, shared_room, sync};

const ALICE: &str = "@alice:hearth.test";
const BOB: &str = "@bob:hearth.test";

/// A long-poll `/sync` of `token` from `since` while `change` runs 300 ms later; asserts the poll was woken
/// (not timed out) and returns its answer.
async fn long_poll_woken_by(
    server: &TestServer,
    token: &str,
    since: &str,
    change: impl std::future::Future<Output = ()>,
) -> Value {
    let started = Instant::now();
    let poll = server
        .http
        .get(server.url(&format!(
            "/_matrix/client/v3/sync?timeout=10000&since={since}"
        )))
        .bearer_auth(token)
        .send();
    let change = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        change.await;
    };
    let (response, ()) = tokio::join!(poll, change);
    let body: Value = response.unwrap().json().await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "woken, not timed out: {body}"
    );
    body
}

async fn login(server: &TestServer) -> String {
    let (status, body) = server
        .call(
            Method::POST,
            "/_matrix/client/v3/login",
            None,
            Some(&json!({ "type": "m.login.password", "user": "bob", "password": "pw" })),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body["access_token"].as_str().unwrap().to_owned()
}

async fn logout_all_and_password_change_wake_room_members_with_device_list_changes(
    backend: Backend,
) {
    let server = start(backend, open_registration).await;
    let bob = server.register_open("bob", "pw").await;
    let bob_laptop = login(&server).await;
    let alice = seed_device(&server.storage, ALICE, "ALICEDEV").await;
    shared_room(&server, &alice, &bob, BOB).await;
    let since = sync(&server, &alice, None).await["next_batch"]
        .as_str()
        .unwrap()
        .to_owned();

    // A password change that logs out the other devices: bob's first device goes.
    let answer = long_poll_woken_by(&server, &alice, &since, async {
        let (status, body) = server
            .call(
                Method::POST,
                "/_matrix/client/v3/account/password",
                Some(&bob_laptop),
                Some(&json!({
                    "new_password": "pw2",
                    "logout_devices": true,
                    "auth": { "type": "m.login.password", "user": "bob", "password": "pw" },
                })),
            )
            .await;
        assert_eq!(status, 200, "{body}");
    })
    .await;
    assert_eq!(answer["device_lists"]["changed"], json!([BOB]), "{answer}");
    assert_eq!(server.storage.list_devices(BOB).await.unwrap().len(), 1);
    let since = answer["next_batch"].as_str().unwrap().to_owned();

    // Logging out everywhere deletes the remaining device.
    let answer = long_poll_woken_by(&server, &alice, &since, async {
        let (status, body) = server
            .call(
                Method::POST,
                "/_matrix/client/v3/logout/all",
                Some(&bob_laptop),
                None,
            )
            .await;
        assert_eq!(status, 200, "{body}");
    })
    .await;
    assert_eq!(answer["device_lists"]["changed"], json!([BOB]), "{answer}");
    assert!(server.storage.list_devices(BOB).await.unwrap().is_empty());
    server.stop().await;
}
both_backends!(logout_all_and_password_change_wake_room_members_with_device_list_changes);
