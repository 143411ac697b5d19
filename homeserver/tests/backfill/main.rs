//! Outbound backfill between two in-process Hearths on both backends: a user of one server joins a room of
//! the other and pages back through its whole history (fetched with `/backfill`), which never shows up in
//! `/sync`, never moves the forward extremities or the current state; a tampering proxy in front of the
//! room's server proves that a forged event and another room's event in a `/backfill` answer are dropped and
//! that pagination still ends.

#[allow(dead_code)]
#[path = "../accounts/common.rs"]
mod common;

mod history;
mod hostile;
mod proxy;

use common::{TestServer, start};
use hearth::storage::Backend;
use reqwest::Method;
use serde_json::{Value, json};

use proxy::Proxy;

/// A Hearth whose server name is its proxy's address.
pub struct Peer {
    pub server: TestServer,
    pub proxy: Proxy,
    _proxy_dir: tempfile::TempDir,
}

impl Peer {
    /// A server with federation on (loopback, self-signed certificates) and open registration, reached by
    /// other servers through its proxy.
    pub async fn start(backend: Backend) -> Self {
        let proxy_dir = tempfile::tempdir().unwrap();
        let proxy = Proxy::start(proxy_dir.path()).await;
        let name = proxy.name.clone();
        let server = start(backend, |config| {
            config.server_name = name;
            config.federation.enabled = true;
            config.listen.federation = "127.0.0.1:0".parse().unwrap();
            config.federation.verify_peer_certificates = false;
            config.federation.allowed_ip_ranges = vec!["127.0.0.0/8".parse().unwrap()];
            config.registration.open = true;
            config.registration.token_required = false;
        })
        .await;
        let federation = server.server.federation_addr.expect("federation listens");
        proxy.state.target.set(federation).unwrap();
        Self {
            server,
            proxy,
            _proxy_dir: proxy_dir,
        }
    }

    /// The server name.
    pub fn name(&self) -> &str {
        &self.proxy.name
    }

    /// Registers `localpart`; returns the access token.
    pub async fn register(&self, localpart: &str) -> String {
        self.server
            .register_open(localpart, "a long enough password")
            .await
    }

    /// A client call that must succeed; returns the body.
    pub async fn ok(&self, method: Method, path: &str, token: &str, body: Option<&Value>) -> Value {
        let (status, answer) = self.server.call(method, path, Some(token), body).await;
        assert_eq!(status, 200, "{path}: {answer}");
        answer
    }

    /// Sends a text message; returns its event ID.
    pub async fn say(&self, token: &str, room_id: &str, txn: &str, body: &str) -> String {
        let answer = self
            .ok(
                Method::PUT,
                &format!(
                    "/_matrix/client/v3/rooms/{}/send/m.room.message/{txn}",
                    encode(room_id)
                ),
                token,
                Some(&json!({"msgtype": "m.text", "body": body})),
            )
            .await;
        answer["event_id"].as_str().unwrap().to_owned()
    }

    /// A public room (shared history) with `count` messages `m0`… from the token's user; returns its ID.
    pub async fn room_with_history(&self, token: &str, count: usize) -> String {
        let created = self
            .ok(
                Method::POST,
                "/_matrix/client/v3/createRoom",
                token,
                Some(&json!({"preset": "public_chat", "name": "History"})),
            )
            .await;
        let room_id = created["room_id"].as_str().unwrap().to_owned();
        for i in 0..count {
            self.say(token, &room_id, &format!("t{i}"), &format!("m{i}"))
                .await;
        }
        room_id
    }

    /// Joins `room_id` hosted on `via`.
    pub async fn join_remote(&self, token: &str, room_id: &str, via: &str) {
        self.ok(
            Method::POST,
            &format!(
                "/_matrix/client/v3/join/{}?server_name={}",
                encode(room_id),
                encode(via)
            ),
            token,
            Some(&json!({})),
        )
        .await;
    }

    /// Pages `/messages` backwards from `from` (or the newest event) `limit` at a time until `end` is absent;
    /// returns every event, newest first, and the number of pages. Fails if paging does not end.
    pub async fn page_back(
        &self,
        token: &str,
        room_id: &str,
        from: Option<&str>,
        limit: usize,
    ) -> (Vec<Value>, usize) {
        let mut from = from.map(str::to_owned);
        let mut events = Vec::new();
        for page in 1..=200 {
            let mut path = format!(
                "/_matrix/client/v3/rooms/{}/messages?dir=b&limit={limit}",
                encode(room_id)
            );
            if let Some(token) = &from {
                path.push_str(&format!("&from={}", encode(token)));
            }
            let answer = self.ok(Method::GET, &path, token, None).await;
            events.extend(answer["chunk"].as_array().unwrap().iter().cloned());
            match answer["end"].as_str() {
                Some(end) => from = Some(end.to_owned()),
                None => return (events, page),
            }
        }
        panic!("pagination did not end after 200 pages");
    }
}

/// The message bodies among `events` (newest first as paged), oldest first.
pub fn bodies_oldest_first(events: &[Value]) -> Vec<String> {
    let mut bodies: Vec<String> = events
        .iter()
        .filter(|e| e["type"] == "m.room.message")
        .filter_map(|e| e["content"]["body"].as_str().map(str::to_owned))
        .collect();
    bodies.reverse();
    bodies
}

/// Percent-encodes a path segment or query value.
pub fn encode(segment: &str) -> String {
    url::form_urlencoded::byte_serialize(segment.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}
