//! `/register` and its checks: config-driven flows, UIA sessions, registration tokens, guests, inhibit_login,
//! username rules, malformed bodies.

use hearth::storage::{Backend, NewRegistrationToken};
use reqwest::Method;
use serde_json::json;

use crate::both_backends;
use crate::common::{open_registration, start};

const REGISTER: &str = "/_matrix/client/v3/register";

async fn registration_is_closed_by_default(backend: Backend) {
    let server = start(backend, |config| config.registration.token_required = false).await;
    let (status, body) = server
        .call(
            Method::POST,
            REGISTER,
            None,
            Some(&json!({"username": "a", "password": "p"})),
        )
        .await;
    assert_eq!(
        (status, body["errcode"].as_str()),
        (403, Some("M_FORBIDDEN"))
    );
    server.stop().await;
}
both_backends!(registration_is_closed_by_default);

async fn open_registration_runs_the_dummy_flow_and_logs_in(backend: Backend) {
    let server = start(backend, open_registration).await;
    let request =
        json!({"username": "Alice", "password": "pw", "initial_device_display_name": "phone"});
    let (status, challenge) = server
        .call(Method::POST, REGISTER, None, Some(&request))
        .await;
    assert_eq!(status, 401, "{challenge}");
    assert_eq!(challenge["flows"], json!([{"stages": ["m.login.dummy"]}]));
    assert!(challenge.get("errcode").is_none());
    let session = challenge["session"].as_str().unwrap();
    let mut with_auth = request.clone();
    with_auth["auth"] = json!({"type": "m.login.dummy", "session": session});
    let (status, body) = server
        .call(Method::POST, REGISTER, None, Some(&with_auth))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["user_id"], "@alice:hearth.test");
    let token = body["access_token"].as_str().unwrap();
    let (status, whoami) = server
        .call(
            Method::GET,
            "/_matrix/client/v3/account/whoami",
            Some(token),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(whoami["device_id"], body["device_id"]);
    let device = server
        .storage
        .get_device("@alice:hearth.test", body["device_id"].as_str().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(device.display_name.as_deref(), Some("phone"));
    // The same session cannot be replayed after it completed.
    let (status, _) = server
        .call(Method::POST, REGISTER, None, Some(&with_auth))
        .await;
    assert_eq!(status, 400);
    server.stop().await;
}
both_backends!(open_registration_runs_the_dummy_flow_and_logs_in);

async fn rejects_taken_invalid_and_over_long_usernames(backend: Backend) {
    let server = start(backend, open_registration).await;
    server.register_open("bob", "pw").await;
    let dummy = json!({"type": "m.login.dummy"});
    for (username, code) in [
        (json!("bob"), "M_USER_IN_USE"),
        (json!("BOB"), "M_USER_IN_USE"),
        (json!("b ob"), "M_INVALID_USERNAME"),
        (json!("_bot"), "M_INVALID_USERNAME"),
        (json!("é"), "M_INVALID_USERNAME"),
        (json!("x".repeat(250)), "M_INVALID_USERNAME"),
    ] {
        let (status, body) = server
            .call(
                Method::POST,
                REGISTER,
                None,
                Some(&json!({"username": username, "password": "p", "auth": dummy})),
            )
            .await;
        assert_eq!(
            (status, body["errcode"].as_str()),
            (400, Some(code)),
            "{username}"
        );
    }
    let (status, body) = server
        .call(
            Method::GET,
            "/_matrix/client/v3/register/available?username=bob",
            None,
            None,
        )
        .await;
    assert_eq!(
        (status, body["errcode"].as_str()),
        (400, Some("M_USER_IN_USE"))
    );
    let (status, body) = server
        .call(
            Method::GET,
            "/_matrix/client/r0/register/available?username=carol",
            None,
            None,
        )
        .await;
    assert_eq!((status, body["available"].as_bool()), (200, Some(true)));
    let (status, body) = server
        .call(
            Method::GET,
            "/_matrix/client/v3/register/available",
            None,
            None,
        )
        .await;
    assert_eq!(
        (status, body["errcode"].as_str()),
        (400, Some("M_MISSING_PARAM"))
    );
    server.stop().await;
}
both_backends!(rejects_taken_invalid_and_over_long_usernames);

async fn malformed_bodies_get_json_errors(backend: Backend) {
    let server = start(backend, open_registration).await;
    let (status, body) = server.call_raw(Method::POST, REGISTER, "{not json").await;
    assert_eq!(
        (status, body["errcode"].as_str()),
        (400, Some("M_NOT_JSON"))
    );
    let (status, body) = server
        .call_raw(
            Method::POST,
            REGISTER,
            r#"{"username": 5, "auth": {"type": "m.login.dummy"}}"#,
        )
        .await;
    assert_eq!(
        (status, body["errcode"].as_str()),
        (400, Some("M_BAD_JSON"))
    );
    let (status, body) = server
        .call_raw(
            Method::POST,
            "/_matrix/client/v3/login",
            r#"{"password": "x"}"#,
        )
        .await;
    assert_eq!(
        (status, body["errcode"].as_str()),
        (400, Some("M_MISSING_PARAM"))
    );
    server.stop().await;
}
both_backends!(malformed_bodies_get_json_errors);

async fn inhibit_login_creates_the_account_without_a_token(backend: Backend) {
    let server = start(backend, open_registration).await;
    let (status, body) = server
        .call(
            Method::POST,
            REGISTER,
            None,
            Some(&json!({"username": "dave", "password": "pw", "inhibit_login": true, "auth": {"type": "m.login.dummy"}})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["user_id"], "@dave:hearth.test");
    assert!(body.get("access_token").is_none());
    assert!(
        server
            .storage
            .list_devices("@dave:hearth.test")
            .await
            .unwrap()
            .is_empty()
    );
    server.stop().await;
}
both_backends!(inhibit_login_creates_the_account_without_a_token);

async fn registration_tokens_are_checked_and_used_up(backend: Backend) {
    let server = start(backend, |_| {}).await;
    for (token, uses, expiry) in [("one-use", Some(1), None), ("expired", None, Some(1))] {
        server
            .storage
            .create_registration_token(&NewRegistrationToken {
                token,
                uses_allowed: uses,
                expiry_ts: expiry,
                created_ts: 0,
            })
            .await
            .unwrap();
    }
    let validity = "/_matrix/client/v1/register/m.login.registration_token/validity?token=";
    let (_, body) = server
        .call(Method::GET, &format!("{validity}one-use"), None, None)
        .await;
    assert_eq!(body["valid"], true);
    let (_, body) = server
        .call(Method::GET, &format!("{validity}expired"), None, None)
        .await;
    assert_eq!(body["valid"], false);
    let (_, body) = server
        .call(Method::GET, &format!("{validity}unknown"), None, None)
        .await;
    assert_eq!(body["valid"], false);

    let (status, challenge) = server
        .call(
            Method::POST,
            REGISTER,
            None,
            Some(&json!({"username": "erin", "password": "pw"})),
        )
        .await;
    assert_eq!(status, 401);
    assert_eq!(
        challenge["flows"],
        json!([{"stages": ["m.login.registration_token", "m.login.dummy"]}])
    );
    let session = challenge["session"].as_str().unwrap();
    for bad in ["expired", "unknown", ""] {
        let (status, body) = server
            .call(
                Method::POST,
                REGISTER,
                None,
                Some(&json!({"username": "erin", "password": "pw",
                    "auth": {"type": "m.login.registration_token", "token": bad, "session": session}})),
            )
            .await;
        assert_eq!(
            (status, body["errcode"].as_str()),
            (401, Some("M_UNAUTHORIZED")),
            "{bad}"
        );
    }
    // The dummy stage alone does not complete the flow.
    let (status, body) = server
        .call(
            Method::POST,
            REGISTER,
            None,
            Some(
                &json!({"username": "erin", "auth": {"type": "m.login.dummy", "session": session}}),
            ),
        )
        .await;
    assert_eq!(status, 401, "{body}");
    let (status, body) = server
        .call(
            Method::POST,
            REGISTER,
            None,
            Some(&json!({"username": "erin", "password": "pw",
                "auth": {"type": "m.login.registration_token", "token": "one-use", "session": session}})),
        )
        .await;
    // The dummy stage was completed above, so the token completes the flow.
    assert_eq!(status, 200, "{body}");
    let stored = server
        .storage
        .get_registration_token("one-use")
        .await
        .unwrap()
        .unwrap();
    assert_eq!((stored.pending, stored.completed), (0, 1));
    let (status, body) = server
        .call(
            Method::POST,
            REGISTER,
            None,
            Some(&json!({"username": "frank", "password": "pw",
                "auth": {"type": "m.login.registration_token", "token": "one-use"}})),
        )
        .await;
    assert_eq!(
        (status, body["errcode"].as_str()),
        (401, Some("M_UNAUTHORIZED")),
        "used up"
    );
    server.stop().await;
}
both_backends!(registration_tokens_are_checked_and_used_up);

async fn guests_register_only_when_enabled(backend: Backend) {
    let server = start(backend, |config| config.registration.guests = true).await;
    let (status, body) = server
        .call(
            Method::POST,
            "/_matrix/client/r0/register?kind=guest",
            None,
            Some(&json!({})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (_, whoami) = server
        .call(
            Method::GET,
            "/_matrix/client/v3/account/whoami",
            body["access_token"].as_str(),
            None,
        )
        .await;
    assert_eq!(whoami["is_guest"], true);
    server.stop().await;
    let server = start(backend, |_| {}).await;
    let (status, body) = server
        .call(
            Method::POST,
            "/_matrix/client/v3/register?kind=guest",
            None,
            Some(&json!({})),
        )
        .await;
    assert_eq!(
        (status, body["errcode"].as_str()),
        (403, Some("M_GUEST_ACCESS_FORBIDDEN"))
    );
    server.stop().await;
}
both_backends!(guests_register_only_when_enabled);
