//! Inbound federation over real HTTPS on both backends, against a fake remote server (`remote.test`) whose
//! signing key is pre-seeded in the key cache: X-Matrix authentication, the notary endpoints, the PDU receive
//! pipeline through `/send` (hashes, signatures, auth, soft fail, size, idempotency) and the
//! `make_join`/`send_join` handshake.

#[allow(dead_code)]
#[path = "../accounts/common.rs"]
mod common;

#[allow(dead_code)]
#[path = "../outbound/peer.rs"]
mod peer;

mod auth;
mod device_cache;
mod e2ee;
mod fork;
mod join;
mod openid;
mod remote_join_sync;
#[path = "../user_data/seed.rs"]
mod seed;
mod send;

use common::TestServer;
use hearth::storage::{Backend, NewAccessToken, NewUser, RemoteServerKey, TokenHash};
use hearth_crypto::SigningKey;
use hearth_federation::auth::sign_request;
use hearth_types::pdu::{compute_event_id, hash_and_sign_event};
use hearth_types::{RoomVersionRules, ServerName};
use reqwest::Method;
use serde_json::{Value, json};

/// The fake remote server's name.
pub const REMOTE: &str = "remote.test";
/// Our server's name.
pub const LOCAL: &str = "hearth.test";

/// A Hearth with federation on, alice (token `alice-token`) seeded, and the fake remote's key cached.
pub struct Federation {
    pub server: TestServer,
    pub remote_key: SigningKey,
    pub https: reqwest::Client,
    /// The fake remote's server name ([`REMOTE`] unless started with [`Federation::start_as`]).
    pub remote: String,
}

impl Federation {
    pub async fn start(backend: Backend) -> Self {
        Self::start_as(backend, REMOTE).await
    }

    /// As [`Federation::start`], with the fake remote named `remote` (e.g. the `127.0.0.1:<port>` of a TLS
    /// peer the server can reach back).
    pub async fn start_as(backend: Backend, remote: &str) -> Self {
        let server = common::start(backend, |config| {
            config.federation.enabled = true;
            config.listen.federation = "127.0.0.1:0".parse().unwrap();
            config.federation.verify_peer_certificates = false;
            config.federation.allowed_ip_ranges = vec!["127.0.0.0/8".parse().unwrap()];
        })
        .await;
        let storage = &server.storage;
        storage
            .create_user(&NewUser {
                user_id: "@alice:hearth.test",
                password_hash: None,
                created_ts: 1,
                is_admin: false,
                is_guest: false,
                displayname: Some("Alice"),
            })
            .await
            .unwrap();
        storage
            .create_device("@alice:hearth.test", "DEV", None, 1)
            .await
            .unwrap();
        storage
            .insert_access_token(&NewAccessToken {
                token_hash: TokenHash::of("alice-token"),
                user_id: "@alice:hearth.test",
                device_id: Some("DEV"),
                created_ts: 1,
                expires_ts: None,
            })
            .await
            .unwrap();
        let remote_key = SigningKey::generate_with_version("remote1").unwrap();
        let now = now_ms();
        let mut document = json!({
            "server_name": remote,
            "valid_until_ts": now + 86_400_000,
            "verify_keys": {remote_key.key_id().as_str(): {"key": remote_key.public_key_base64()}},
            "old_verify_keys": {},
        });
        hearth_crypto::sign_json(&mut document, remote, &remote_key).unwrap();
        storage
            .store_remote_server_keys(&[RemoteServerKey {
                server_name: remote.into(),
                key_id: remote_key.key_id().as_str().into(),
                public_key: remote_key.verify_key().as_bytes().to_vec(),
                valid_until_ts: now + 86_400_000,
                expired_ts: None,
                fetched_ts: now,
                source: remote.into(),
                key_json: Some(document.to_string()),
            }])
            .await
            .unwrap();
        let https = reqwest::Client::builder()
            .danger_accept_invalid_certs(true)
            .timeout(std::time::Duration::from_secs(60))
            .build()
            .unwrap();
        Self {
            server,
            remote_key,
            https,
            remote: remote.to_owned(),
        }
    }

    /// `https://<federation listener><path>`.
    pub fn url(&self, path: &str) -> String {
        format!(
            "https://{}{path}",
            self.server.server.federation_addr.expect("federation runs")
        )
    }

    /// A federation request signed by the fake remote for `destination`; `sign: false` sends no header.
    pub async fn request_as(
        &self,
        key: &SigningKey,
        destination: &str,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> (u16, Value) {
        let header = sign_request(
            key,
            &ServerName::parse(&self.remote).unwrap(),
            &ServerName::parse(destination).unwrap(),
            method.as_str(),
            path,
            body,
        )
        .unwrap();
        let mut request = self
            .https
            .request(method, self.url(path))
            .header("authorization", header.to_header_value());
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(serde_json::to_vec(body).unwrap());
        }
        read(request.send().await.expect("answered")).await
    }

    /// A correctly signed federation request from the fake remote.
    pub async fn request(&self, method: Method, path: &str, body: Option<&Value>) -> (u16, Value) {
        self.request_as(&self.remote_key, LOCAL, method, path, body)
            .await
    }

    /// A request without any Authorization header.
    pub async fn unsigned(&self, method: Method, path: &str) -> (u16, Value) {
        read(
            self.https
                .request(method, self.url(path))
                .send()
                .await
                .expect("answered"),
        )
        .await
    }

    /// alice creates a public room of `version`; returns its ID.
    pub async fn public_room(&self, version: &str) -> String {
        let (status, body) = self
            .server
            .call(
                Method::POST,
                "/_matrix/client/v3/createRoom",
                Some("alice-token"),
                Some(&json!({"preset": "public_chat", "room_version": version, "room_alias_name": "fed"})),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body["room_id"].as_str().unwrap().to_owned()
    }

    /// Hashes and signs `event` as the remote; returns it with its event ID.
    pub fn sign_event(&self, mut event: Value, rules: &RoomVersionRules) -> (Value, String) {
        hash_and_sign_event(
            &mut event,
            rules,
            &ServerName::parse(&self.remote).unwrap(),
            &self.remote_key,
        )
        .unwrap();
        let id = compute_event_id(&event, rules).unwrap();
        (event, id.as_str().to_owned())
    }

    /// `make_join` + `send_join` for `user` (of the remote): returns the join event's ID.
    pub async fn join(&self, room_id: &str, user: &str) -> String {
        let (status, template) = self
            .request(
                Method::GET,
                &format!(
                    "/_matrix/federation/v1/make_join/{}/{}?ver=10&ver=11&ver=12",
                    encode(room_id),
                    encode(user)
                ),
                None,
            )
            .await;
        assert_eq!(status, 200, "{template}");
        let version = template["room_version"].as_str().unwrap().to_owned();
        let rules = RoomVersionRules::get(&version).unwrap();
        let (event, event_id) = self.sign_event(template["event"].clone(), rules);
        let (status, answer) = self
            .request(
                Method::PUT,
                &format!(
                    "/_matrix/federation/v2/send_join/{}/{}",
                    encode(room_id),
                    encode(&event_id)
                ),
                Some(&event),
            )
            .await;
        assert_eq!(status, 200, "{answer}");
        event_id
    }

    /// The room's event that a new remote event should follow: the newest in alice's timeline.
    pub async fn latest_event(&self, room_id: &str) -> (String, i64) {
        let (status, body) = self
            .server
            .call(
                Method::GET,
                &format!(
                    "/_matrix/client/v3/rooms/{}/messages?dir=b&limit=1",
                    encode(room_id)
                ),
                Some("alice-token"),
                None,
            )
            .await;
        assert_eq!(status, 200, "{body}");
        let event_id = body["chunk"][0]["event_id"].as_str().unwrap().to_owned();
        let stored = self
            .server
            .storage
            .get_event(&event_id)
            .await
            .unwrap()
            .unwrap();
        (event_id, stored.depth)
    }

    /// The current state event ID of `(type, key)`.
    pub async fn state_id(&self, room_id: &str, event_type: &str, key: &str) -> String {
        self.server
            .storage
            .current_state_event_id(room_id, event_type, key)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("no {event_type} state"))
    }

    /// A message event from `sender` following the latest event, with the usual auth events.
    pub async fn message(&self, room_id: &str, sender: &str, body: &str) -> Value {
        let (prev, depth) = self.latest_event(room_id).await;
        let mut auth = vec![
            self.state_id(room_id, "m.room.power_levels", "").await,
            self.state_id(room_id, "m.room.member", sender).await,
        ];
        let rules = self.rules(room_id).await;
        if !rules.authorization.room_id_is_create_event_hash {
            auth.push(self.state_id(room_id, "m.room.create", "").await);
        }
        json!({
            "room_id": room_id,
            "sender": sender,
            "type": "m.room.message",
            "content": {"msgtype": "m.text", "body": body},
            "prev_events": [prev],
            "auth_events": auth,
            "depth": depth + 1,
            "origin_server_ts": now_ms(),
        })
    }

    /// The room's version rules.
    pub async fn rules(&self, room_id: &str) -> &'static RoomVersionRules {
        let room = self
            .server
            .storage
            .get_room(room_id)
            .await
            .unwrap()
            .unwrap();
        RoomVersionRules::get(&room.room_version).unwrap()
    }

    /// `PUT /send/{txn}` with these PDUs; returns status and body.
    pub async fn send(&self, txn: &str, pdus: Vec<Value>) -> (u16, Value) {
        self.request(
            Method::PUT,
            &format!("/_matrix/federation/v1/send/{txn}"),
            Some(&json!({"origin": self.remote, "origin_server_ts": now_ms(), "pdus": pdus})),
        )
        .await
    }

    /// The bodies of alice's view of the timeline, oldest first.
    pub async fn timeline_bodies(&self, room_id: &str) -> Vec<String> {
        let (status, body) = self
            .server
            .call(
                Method::GET,
                &format!(
                    "/_matrix/client/v3/rooms/{}/messages?dir=b&limit=100",
                    encode(room_id)
                ),
                Some("alice-token"),
                None,
            )
            .await;
        assert_eq!(status, 200, "{body}");
        let mut bodies: Vec<String> = body["chunk"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["type"] == "m.room.message")
            .map(|e| {
                e["content"]["body"]
                    .as_str()
                    .unwrap_or("<redacted>")
                    .to_owned()
            })
            .collect();
        bodies.reverse();
        bodies
    }
}

async fn read(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response.text().await.expect("body reads");
    let json = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, json)
}

/// Percent-encodes a path segment.
pub fn encode(segment: &str) -> String {
    url::form_urlencoded::byte_serialize(segment.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

/// Alice's `/sync` (no wait), from `since` when given; asserts 200.
pub async fn alice_sync(fed: &Federation, since: Option<&str>) -> Value {
    let path = match since {
        Some(since) => format!("/_matrix/client/v3/sync?timeout=0&since={since}"),
        None => "/_matrix/client/v3/sync?timeout=0".to_owned(),
    };
    let (status, body) = fed
        .server
        .call(Method::GET, &path, Some("alice-token"), None)
        .await;
    assert_eq!(status, 200, "{body}");
    body
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}
