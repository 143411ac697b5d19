//! Rate limits of room actions over real HTTP: events (messages, state, redactions), room creation, joins and
//! invites answer 429 `M_LIMIT_EXCEEDED` with `retry_after_ms` (and `Retry-After`) once the user's bucket is
//! empty; other users and server admins are not affected.

use hearth::config::RateLimit;
use hearth::storage::Backend;
use reqwest::Method;
use serde_json::{Value, json};

use super::common::start;
use super::{create_room, room_path, seed_users, send_message};
use crate::both_backends;

/// A limit that allows `burst` actions and then none for about 1000 s.
const fn tight(burst: f64) -> RateLimit {
    RateLimit::new(0.001, burst)
}

fn assert_limited(status: u16, body: &Value) {
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["errcode"], "M_LIMIT_EXCEEDED", "{body}");
    let wait = body["retry_after_ms"].as_u64().expect("retry_after_ms");
    assert!(wait > 0 && wait <= 1_000_000, "{body}");
}

async fn sending_events_beyond_the_burst_is_refused_with_m_limit_exceeded(backend: Backend) {
    let server = start(backend, |config| {
        config.rate_limits.enabled = true;
        config.rate_limits.message = tight(3.0);
    })
    .await;
    seed_users(&server).await;
    let room_id = create_room(&server, "alice-token", json!({"preset": "public_chat"})).await;
    for txn in ["1", "2"] {
        let (status, body) = send_message(&server, "alice-token", &room_id, txn, "hi").await;
        assert_eq!(status, 200, "{body}");
    }
    // State events count as messages too: this is the third and last.
    let (status, body) = server
        .call(
            Method::PUT,
            &room_path(&room_id, "/state/m.room.topic/"),
            Some("alice-token"),
            Some(&json!({"topic": "busy"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");

    let response = server
        .http
        .put(server.url(&room_path(&room_id, "/send/m.room.message/4")))
        .bearer_auth("alice-token")
        .json(&json!({"msgtype": "m.text", "body": "one too many"}))
        .send()
        .await
        .unwrap();
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    assert_limited(status, &body);
    assert!((1..=1000).contains(&retry_after), "{retry_after}");
    let (status, body) = server
        .call(
            Method::PUT,
            &room_path(&room_id, "/redact/$whatever/5"),
            Some("alice-token"),
            Some(&json!({})),
        )
        .await;
    assert_limited(status, &body);

    // Bob's bucket is his own.
    let (status, body) = server
        .call(
            Method::POST,
            &room_path(&room_id, "/join"),
            Some("bob-token"),
            Some(&json!({})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = send_message(&server, "bob-token", &room_id, "1", "hello").await;
    assert_eq!(status, 200, "{body}");

    // A server admin is never limited.
    server
        .storage
        .set_admin("@alice:hearth.test", true)
        .await
        .unwrap();
    for txn in ["6", "7", "8", "9"] {
        let (status, body) = send_message(&server, "alice-token", &room_id, txn, "admin").await;
        assert_eq!(status, 200, "{body}");
    }
    server.stop().await;
}
both_backends!(sending_events_beyond_the_burst_is_refused_with_m_limit_exceeded);

async fn room_creation_joins_and_invites_have_their_own_limits(backend: Backend) {
    let server = start(backend, |config| {
        config.rate_limits.enabled = true;
        config.rate_limits.room_creation = tight(2.0);
        config.rate_limits.joins = tight(1.0);
        config.rate_limits.invites = tight(1.0);
    })
    .await;
    seed_users(&server).await;
    let first = create_room(&server, "alice-token", json!({"preset": "public_chat"})).await;
    let second = create_room(&server, "alice-token", json!({"preset": "public_chat"})).await;
    let (status, body) = server
        .call(
            Method::POST,
            "/_matrix/client/v3/createRoom",
            Some("alice-token"),
            Some(&json!({})),
        )
        .await;
    assert_limited(status, &body);

    let (status, body) = server
        .call(
            Method::POST,
            &format!("/_matrix/client/v3/join/{}", super::encode(&first)),
            Some("bob-token"),
            Some(&json!({})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = server
        .call(
            Method::POST,
            &room_path(&second, "/join"),
            Some("bob-token"),
            Some(&json!({})),
        )
        .await;
    assert_limited(status, &body);

    let invite = |user: &'static str| json!({"user_id": user});
    let (status, body) = server
        .call(
            Method::POST,
            &room_path(&second, "/invite"),
            Some("alice-token"),
            Some(&invite("@carol:hearth.test")),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = server
        .call(
            Method::POST,
            &room_path(&second, "/invite"),
            Some("alice-token"),
            Some(&invite("@bob:hearth.test")),
        )
        .await;
    assert_limited(status, &body);
    server.stop().await;
}
both_backends!(room_creation_joins_and_invites_have_their_own_limits);
