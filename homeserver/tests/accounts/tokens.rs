//! The access-token extractor, through `/account/whoami`: header and query tokens, missing, unknown, expired
//! and deactivated-owner tokens.

use hearth::storage::{Backend, NewAccessToken, NewUser, TokenHash};
use reqwest::Method;

use crate::both_backends;
use crate::common::start;

async fn seed(
    storage: &hearth::storage::Storage,
    user_id: &str,
    token: &str,
    expires: Option<i64>,
) {
    storage
        .create_user(&NewUser {
            user_id,
            password_hash: None,
            created_ts: 1,
            is_admin: false,
            is_guest: false,
            displayname: None,
        })
        .await
        .unwrap();
    storage
        .create_device(user_id, "DEV", None, 1)
        .await
        .unwrap();
    storage
        .insert_access_token(&NewAccessToken {
            token_hash: TokenHash::of(token),
            user_id,
            device_id: Some("DEV"),
            created_ts: 1,
            expires_ts: expires,
        })
        .await
        .unwrap();
}

async fn whoami_accepts_header_and_query_tokens(backend: Backend) {
    let server = start(backend, |_| {}).await;
    seed(&server.storage, "@alice:hearth.test", "secret-token", None).await;
    let (status, body) = server
        .call(
            Method::GET,
            "/_matrix/client/v3/account/whoami",
            Some("secret-token"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["user_id"], "@alice:hearth.test");
    assert_eq!(body["device_id"], "DEV");
    assert_eq!(body["is_guest"], false);
    let (status, body) = server
        .call(
            Method::GET,
            "/_matrix/client/r0/account/whoami?access_token=secret-token",
            None,
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["user_id"], "@alice:hearth.test");
    server.stop().await;
}
both_backends!(whoami_accepts_header_and_query_tokens);

async fn whoami_rejects_missing_unknown_and_expired_tokens(backend: Backend) {
    let server = start(backend, |_| {}).await;
    seed(&server.storage, "@bob:hearth.test", "expired", Some(1_000)).await;
    let path = "/_matrix/client/v3/account/whoami";
    let (status, body) = server.call(Method::GET, path, None, None).await;
    assert_eq!(
        (status, body["errcode"].as_str()),
        (401, Some("M_MISSING_TOKEN"))
    );
    let (status, body) = server.call(Method::GET, path, Some("nope"), None).await;
    assert_eq!(
        (status, body["errcode"].as_str()),
        (401, Some("M_UNKNOWN_TOKEN"))
    );
    assert_eq!(body["soft_logout"], false);
    let (status, body) = server.call(Method::GET, path, Some("expired"), None).await;
    assert_eq!(
        (status, body["errcode"].as_str()),
        (401, Some("M_UNKNOWN_TOKEN"))
    );
    assert_eq!(body["soft_logout"], true);
    server.stop().await;
}
both_backends!(whoami_rejects_missing_unknown_and_expired_tokens);

async fn tokens_of_deactivated_users_are_rejected(backend: Backend) {
    let server = start(backend, |_| {}).await;
    seed(&server.storage, "@carol:hearth.test", "carol-token", None).await;
    server
        .storage
        .deactivate_user("@carol:hearth.test")
        .await
        .unwrap();
    let (status, body) = server
        .call(
            Method::GET,
            "/_matrix/client/v3/account/whoami",
            Some("carol-token"),
            None,
        )
        .await;
    assert_eq!(
        (status, body["errcode"].as_str()),
        (401, Some("M_UNKNOWN_TOKEN"))
    );
    server.stop().await;
}
both_backends!(tokens_of_deactivated_users_are_rejected);
