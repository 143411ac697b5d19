//! Rate limits of the unauthenticated account endpoints over real HTTP: registrations per client IP (only
//! completed ones count), login attempts per IP and per account, and failed logins per account.

use hearth::config::RateLimit;
use hearth::storage::Backend;
use reqwest::Method;
use serde_json::{Value, json};

use crate::both_backends;
use crate::common::{open_registration, start};

const REGISTER: &str = "/_matrix/client/v3/register";
const LOGIN: &str = "/_matrix/client/v3/login";

fn assert_limited(status: u16, body: &Value) {
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["errcode"], "M_LIMIT_EXCEEDED", "{body}");
    assert!(
        body["retry_after_ms"].as_u64().is_some_and(|ms| ms > 0),
        "{body}"
    );
}

async fn registrations_per_address_are_limited_after_the_burst(backend: Backend) {
    let server = start(backend, |config| {
        open_registration(config);
        config.rate_limits.enabled = true;
        config.rate_limits.registration = RateLimit::new(0.001, 2.0);
    })
    .await;
    // The UIA round trip that only asks for the flows creates nothing and is not counted.
    for _ in 0..3 {
        let (status, body) = server
            .call(
                Method::POST,
                REGISTER,
                None,
                Some(&json!({"username": "x"})),
            )
            .await;
        assert_eq!(status, 401, "{body}");
    }
    server.register_open("first", "pw").await;
    server.register_open("second", "pw").await;
    let (status, body) = server
        .call(
            Method::POST,
            REGISTER,
            None,
            Some(
                &json!({"username": "third", "password": "pw", "auth": {"type": "m.login.dummy"}}),
            ),
        )
        .await;
    assert_limited(status, &body);
    server.stop().await;
}
both_backends!(registrations_per_address_are_limited_after_the_burst);

async fn failed_logins_lock_the_account_out_for_a_while(backend: Backend) {
    let server = start(backend, |config| {
        open_registration(config);
        config.rate_limits.enabled = true;
        config.rate_limits.login_failures = RateLimit::new(0.001, 2.0);
    })
    .await;
    server.register_open("alice", "right").await;
    server.register_open("bob", "right").await;
    let attempt = |user: &str, password: &str| json!({"type": "m.login.password", "identifier": {"type": "m.id.user", "user": user}, "password": password});
    for _ in 0..2 {
        let (status, body) = server
            .call(Method::POST, LOGIN, None, Some(&attempt("alice", "wrong")))
            .await;
        assert_eq!(
            (status, body["errcode"].as_str()),
            (403, Some("M_FORBIDDEN")),
            "{body}"
        );
    }
    // Even the right password waits now, under either spelling of the user ID.
    for user in ["alice", "@alice:hearth.test"] {
        let (status, body) = server
            .call(Method::POST, LOGIN, None, Some(&attempt(user, "right")))
            .await;
        assert_limited(status, &body);
    }
    let (status, body) = server
        .call(Method::POST, LOGIN, None, Some(&attempt("bob", "right")))
        .await;
    assert_eq!(status, 200, "{body}");
    server.stop().await;
}
both_backends!(failed_logins_lock_the_account_out_for_a_while);

async fn login_attempts_per_address_are_limited(backend: Backend) {
    let server = start(backend, |config| {
        open_registration(config);
        config.rate_limits.enabled = true;
        config.rate_limits.login_address = RateLimit::new(0.001, 2.0);
    })
    .await;
    server.register_open("carol", "pw").await;
    let login = json!({"type": "m.login.password", "user": "carol", "password": "pw"});
    for _ in 0..2 {
        let (status, body) = server.call(Method::POST, LOGIN, None, Some(&login)).await;
        assert_eq!(status, 200, "{body}");
    }
    let (status, body) = server.call(Method::POST, LOGIN, None, Some(&login)).await;
    assert_limited(status, &body);
    server.stop().await;
}
both_backends!(login_attempts_per_address_are_limited);
