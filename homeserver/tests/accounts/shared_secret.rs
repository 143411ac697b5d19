//! `/_synapse/admin/v1/register`: nonce + HMAC-SHA1, single-use nonces, disabled without a secret.

use hearth::services::accounts::SharedSecretRequest;
use hearth::services::accounts::shared_secret::shared_secret_mac;
use hearth::storage::Backend;
use reqwest::Method;
use serde_json::json;

use crate::both_backends;
use crate::common::start;

const PATH: &str = "/_synapse/admin/v1/register";

async fn nonce(server: &crate::common::TestServer) -> String {
    let (status, body) = server.call(Method::GET, PATH, None, None).await;
    assert_eq!(status, 200, "{body}");
    body["nonce"].as_str().unwrap().to_owned()
}

fn mac(secret: &str, nonce: &str, username: &str, password: &str, admin: bool) -> String {
    shared_secret_mac(
        secret,
        &SharedSecretRequest {
            nonce,
            username,
            password,
            admin,
            displayname: None,
            mac: "",
        },
    )
}

async fn registers_with_a_correct_mac_only(backend: Backend) {
    let server = start(backend, |config| {
        config.registration.shared_secret = "s3cret".into()
    })
    .await;
    let first = nonce(&server).await;
    let body = json!({"nonce": first, "username": "admin", "password": "pw", "admin": true,
        "mac": mac("s3cret", &first, "admin", "pw", true)});
    let (status, created) = server.call(Method::POST, PATH, None, Some(&body)).await;
    assert_eq!(status, 200, "{created}");
    assert_eq!(created["user_id"], "@admin:hearth.test");
    let user = server
        .storage
        .get_user("@admin:hearth.test")
        .await
        .unwrap()
        .unwrap();
    assert!(user.is_admin);
    let (status, _) = server
        .call(
            Method::GET,
            "/_matrix/client/v3/account/whoami",
            created["access_token"].as_str(),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let (status, replay) = server.call(Method::POST, PATH, None, Some(&body)).await;
    assert_eq!(
        (status, replay["errcode"].as_str()),
        (400, Some("M_UNKNOWN")),
        "nonces are single-use"
    );

    let second = nonce(&server).await;
    let wrong = json!({"nonce": second, "username": "mallory", "password": "pw", "admin": true,
        "mac": mac("s3cret", &second, "mallory", "pw", false)});
    let (status, body) = server.call(Method::POST, PATH, None, Some(&wrong)).await;
    assert_eq!(
        (status, body["errcode"].as_str()),
        (403, Some("M_FORBIDDEN"))
    );
    assert!(
        server
            .storage
            .get_user("@mallory:hearth.test")
            .await
            .unwrap()
            .is_none()
    );
    server.stop().await;
}
both_backends!(registers_with_a_correct_mac_only);

async fn is_disabled_without_a_secret(backend: Backend) {
    let server = start(backend, |_| {}).await;
    let (status, body) = server.call(Method::GET, PATH, None, None).await;
    assert_eq!((status, body["errcode"].as_str()), (400, Some("M_UNKNOWN")));
    server.stop().await;
}
both_backends!(is_disabled_without_a_secret);
