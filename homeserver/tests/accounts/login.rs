//! `/login` (password and JWT), `/logout`, `/logout/all`, `/account/password`, `/account/deactivate`.

use hearth::storage::Backend;
use jsonwebtoken::{EncodingKey, Header};
use reqwest::Method;
use serde_json::json;

use crate::both_backends;
use crate::common::{open_registration, start};

const LOGIN: &str = "/_matrix/client/v3/login";
const WHOAMI: &str = "/_matrix/client/v3/account/whoami";

async fn password_login_accepts_localpart_full_id_and_legacy_user(backend: Backend) {
    let server = start(backend, open_registration).await;
    server.register_open("alice", "correct horse").await;
    let (status, flows) = server.call(Method::GET, LOGIN, None, None).await;
    assert_eq!(status, 200);
    assert_eq!(flows["flows"], json!([{"type": "m.login.password"}]));
    for body in [
        json!({"type": "m.login.password", "identifier": {"type": "m.id.user", "user": "alice"}, "password": "correct horse"}),
        json!({"type": "m.login.password", "identifier": {"type": "m.id.user", "user": "@alice:hearth.test"}, "password": "correct horse"}),
        json!({"type": "m.login.password", "user": "alice", "password": "correct horse", "device_id": "MYDEVICE"}),
    ] {
        let (status, login) = server
            .call(Method::POST, "/_matrix/client/r0/login", None, Some(&body))
            .await;
        assert_eq!(status, 200, "{body} -> {login}");
        assert_eq!(login["user_id"], "@alice:hearth.test");
        let (status, _) = server
            .call(Method::GET, WHOAMI, login["access_token"].as_str(), None)
            .await;
        assert_eq!(status, 200);
    }
    let (_, again) = server
        .call(Method::POST, LOGIN, None, Some(&json!({"type": "m.login.password", "user": "alice", "password": "correct horse", "device_id": "MYDEVICE"})))
        .await;
    assert_eq!(again["device_id"], "MYDEVICE");
    for body in [
        json!({"type": "m.login.password", "user": "alice", "password": "wrong"}),
        json!({"type": "m.login.password", "user": "nobody", "password": "wrong"}),
        json!({"type": "m.login.password", "user": "@alice:elsewhere.test", "password": "correct horse"}),
    ] {
        let (status, error) = server.call(Method::POST, LOGIN, None, Some(&body)).await;
        assert_eq!(
            (status, error["errcode"].as_str()),
            (403, Some("M_FORBIDDEN")),
            "{body}"
        );
    }
    let (status, error) = server
        .call(
            Method::POST,
            LOGIN,
            None,
            Some(&json!({"type": "m.login.sso"})),
        )
        .await;
    assert_eq!(
        (status, error["errcode"].as_str()),
        (400, Some("M_UNKNOWN"))
    );
    server.stop().await;
}
both_backends!(password_login_accepts_localpart_full_id_and_legacy_user);

async fn logout_revokes_the_token_and_logout_all_every_token(backend: Backend) {
    let server = start(backend, open_registration).await;
    let first = server.register_open("bob", "pw").await;
    let login = json!({"type": "m.login.password", "user": "bob", "password": "pw"});
    let (_, second) = server.call(Method::POST, LOGIN, None, Some(&login)).await;
    let (_, third) = server.call(Method::POST, LOGIN, None, Some(&login)).await;
    let (status, _) = server
        .call(
            Method::POST,
            "/_matrix/client/v3/logout",
            Some(&first),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let (status, body) = server.call(Method::GET, WHOAMI, Some(&first), None).await;
    assert_eq!(
        (status, body["errcode"].as_str()),
        (401, Some("M_UNKNOWN_TOKEN"))
    );
    assert_eq!(
        server
            .storage
            .list_devices("@bob:hearth.test")
            .await
            .unwrap()
            .len(),
        2
    );
    let (status, _) = server
        .call(
            Method::POST,
            "/_matrix/client/r0/logout/all",
            second["access_token"].as_str(),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = server
        .call(Method::GET, WHOAMI, third["access_token"].as_str(), None)
        .await;
    assert_eq!(status, 401);
    assert!(
        server
            .storage
            .list_devices("@bob:hearth.test")
            .await
            .unwrap()
            .is_empty()
    );
    server.stop().await;
}
both_backends!(logout_revokes_the_token_and_logout_all_every_token);

async fn password_change_needs_the_old_password_and_logs_out_other_devices(backend: Backend) {
    let server = start(backend, open_registration).await;
    let token = server.register_open("carol", "old").await;
    let (_, other) = server
        .call(
            Method::POST,
            LOGIN,
            None,
            Some(&json!({"type": "m.login.password", "user": "carol", "password": "old"})),
        )
        .await;
    let path = "/_matrix/client/v3/account/password";
    let (status, challenge) = server
        .call(
            Method::POST,
            path,
            Some(&token),
            Some(&json!({"new_password": "new"})),
        )
        .await;
    assert_eq!(status, 401);
    assert_eq!(
        challenge["flows"],
        json!([{"stages": ["m.login.password"]}])
    );
    let session = challenge["session"].as_str().unwrap();
    let (status, failed) = server
        .call(
            Method::POST,
            path,
            Some(&token),
            Some(&json!({"new_password": "new", "auth": {"type": "m.login.password", "session": session,
                "identifier": {"type": "m.id.user", "user": "carol"}, "password": "wrong"}})),
        )
        .await;
    assert_eq!(
        (status, failed["errcode"].as_str()),
        (401, Some("M_FORBIDDEN"))
    );
    let (status, body) = server
        .call(
            Method::POST,
            path,
            Some(&token),
            Some(&json!({"new_password": "new", "auth": {"type": "m.login.password", "session": session,
                "identifier": {"type": "m.id.user", "user": "carol"}, "password": "old"}})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = server.call(Method::GET, WHOAMI, Some(&token), None).await;
    assert_eq!(status, 200, "the changing device stays logged in");
    let (status, _) = server
        .call(Method::GET, WHOAMI, other["access_token"].as_str(), None)
        .await;
    assert_eq!(status, 401, "other devices are logged out");
    let (status, _) = server
        .call(
            Method::POST,
            LOGIN,
            None,
            Some(&json!({"type": "m.login.password", "user": "carol", "password": "new"})),
        )
        .await;
    assert_eq!(status, 200);
    server.stop().await;
}
both_backends!(password_change_needs_the_old_password_and_logs_out_other_devices);

async fn deactivation_locks_the_account_for_good(backend: Backend) {
    let server = start(backend, open_registration).await;
    let token = server.register_open("dan", "pw").await;
    let path = "/_matrix/client/v3/account/deactivate";
    let (status, _) = server
        .call(Method::POST, path, Some(&token), Some(&json!({})))
        .await;
    assert_eq!(status, 401);
    let (status, body) = server
        .call(
            Method::POST,
            path,
            Some(&token),
            Some(&json!({"auth": {"type": "m.login.password", "user": "dan", "password": "pw"}})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["id_server_unbind_result"], "no-support");
    let (status, _) = server.call(Method::GET, WHOAMI, Some(&token), None).await;
    assert_eq!(status, 401);
    let (status, body) = server
        .call(
            Method::POST,
            LOGIN,
            None,
            Some(&json!({"type": "m.login.password", "user": "dan", "password": "pw"})),
        )
        .await;
    assert_eq!(
        (status, body["errcode"].as_str()),
        (403, Some("M_FORBIDDEN"))
    );
    let (status, body) = server
        .call(
            Method::POST,
            "/_matrix/client/v3/register",
            None,
            Some(&json!({"username": "dan", "auth": {"type": "m.login.dummy"}})),
        )
        .await;
    assert_eq!(
        (status, body["errcode"].as_str()),
        (400, Some("M_USER_IN_USE"))
    );
    server.stop().await;
}
both_backends!(deactivation_locks_the_account_for_good);

fn jwt(claims: serde_json::Value, secret: &str) -> String {
    jsonwebtoken::encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

async fn jwt_login_creates_the_account_and_rejects_bad_tokens(backend: Backend) {
    let server = start(backend, |config| {
        config.login.jwt.enabled = true;
        config.login.jwt.secret = "jwt-secret".into();
        config.login.jwt.issuer = "issuer.test".into();
    })
    .await;
    let (_, flows) = server.call(Method::GET, LOGIN, None, None).await;
    assert!(
        flows["flows"]
            .as_array()
            .unwrap()
            .contains(&json!({"type": "org.matrix.login.jwt"}))
    );
    let good = jwt(json!({"sub": "erin", "iss": "issuer.test"}), "jwt-secret");
    let (status, body) = server
        .call(
            Method::POST,
            LOGIN,
            None,
            Some(&json!({"type": "org.matrix.login.jwt", "token": good})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["user_id"], "@erin:hearth.test");
    let (status, _) = server
        .call(
            Method::POST,
            LOGIN,
            None,
            Some(&json!({"type": "org.matrix.login.jwt", "token": good})),
        )
        .await;
    assert_eq!(status, 200, "second login of the now existing account");
    for bad in [
        jwt(json!({"sub": "erin", "iss": "issuer.test"}), "wrong-secret"),
        jwt(json!({"sub": "erin", "iss": "other"}), "jwt-secret"),
        jwt(
            json!({"sub": "erin", "iss": "issuer.test", "exp": 1}),
            "jwt-secret",
        ),
        "not.a.jwt".to_owned(),
    ] {
        let (status, body) = server
            .call(
                Method::POST,
                LOGIN,
                None,
                Some(&json!({"type": "org.matrix.login.jwt", "token": bad})),
            )
            .await;
        assert_eq!(
            (status, body["errcode"].as_str()),
            (403, Some("M_FORBIDDEN")),
            "{body}"
        );
    }
    server.stop().await;
}
both_backends!(jwt_login_creates_the_account_and_rejects_bad_tokens);

async fn jwt_login_is_off_by_default(backend: Backend) {
    let server = start(backend, |_| {}).await;
    let token = jwt(json!({"sub": "erin"}), "");
    let (status, body) = server
        .call(
            Method::POST,
            LOGIN,
            None,
            Some(&json!({"type": "org.matrix.login.jwt", "token": token})),
        )
        .await;
    assert_eq!((status, body["errcode"].as_str()), (400, Some("M_UNKNOWN")));
    server.stop().await;
}
both_backends!(jwt_login_is_off_by_default);
