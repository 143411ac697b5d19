//! OpenID: a local user's token from `POST /user/{userId}/openid/request_token` names them at
//! `GET /openid/userinfo` (no X-Matrix), and nothing else.

use hearth::storage::Backend;
use reqwest::Method;
use serde_json::json;

use crate::{Federation, both_backends, encode};

async fn an_openid_token_is_exchanged_for_its_owner_and_grants_nothing_else(backend: Backend) {
    let fed = Federation::start(backend).await;
    let (status, token) = fed
        .server
        .call(
            Method::POST,
            &format!(
                "/_matrix/client/v3/user/{}/openid/request_token",
                encode("@alice:hearth.test")
            ),
            Some("alice-token"),
            Some(&json!({})),
        )
        .await;
    assert_eq!(status, 200, "{token}");
    assert_eq!(token["token_type"], "Bearer");
    assert_eq!(token["matrix_server_name"], "hearth.test");
    assert_eq!(token["expires_in"], 3600);
    let access_token = token["access_token"].as_str().unwrap().to_owned();
    assert!(access_token.len() >= 32, "{access_token}");

    // Any third party may ask, without signing the request.
    let userinfo = |token: &str| {
        format!(
            "/_matrix/federation/v1/openid/userinfo?access_token={}",
            encode(token)
        )
    };
    let (status, body) = fed.unsigned(Method::GET, &userinfo(&access_token)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, json!({"sub": "@alice:hearth.test"}));

    for unknown in [
        userinfo("not-a-token"),
        "/_matrix/federation/v1/openid/userinfo".into(),
    ] {
        let (status, body) = fed.unsigned(Method::GET, &unknown).await;
        assert_eq!(status, 401, "{unknown}: {body}");
        assert_eq!(body["errcode"], "M_UNKNOWN_TOKEN");
    }

    // The token is no client access token, and nobody gets one for somebody else.
    let (status, body) = fed
        .server
        .call(
            Method::GET,
            "/_matrix/client/v3/account/whoami",
            Some(&access_token),
            None,
        )
        .await;
    assert_eq!(status, 401, "{body}");
    let (status, body) = fed
        .server
        .call(
            Method::POST,
            &format!(
                "/_matrix/client/v3/user/{}/openid/request_token",
                encode("@bob:hearth.test")
            ),
            Some("alice-token"),
            Some(&json!({})),
        )
        .await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["errcode"], "M_FORBIDDEN");
    fed.server.stop().await;
}
both_backends!(an_openid_token_is_exchanged_for_its_owner_and_grants_nothing_else);
