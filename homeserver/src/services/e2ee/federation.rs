//! End-to-end encryption across servers: the EDUs (`m.direct_to_device`, `m.device_list_update`,
//! `m.signing_key_update`) sent through the federation sender and received from the federation receiver, the
//! federation key endpoints' answers (`/user/devices/{userId}`, `/user/keys/query`, `/user/keys/claim`), and
//! `/keys/query` / `/keys/claim` for remote users forwarded to their servers.
//!
//! Remote answers are hostile input: only users of the answering server are taken, device keys must be
//! self-signed by the device they name, and every request is bounded in time.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use hearth_client_api::keys::signed_keys::{check_cross_signing_key, check_device_keys};
use hearth_federation::client::FederationClient;
use hearth_federation::transactions::Edu;
use hearth_federation::transactions::edu::{
    DeviceListUpdateContent, DirectToDeviceContent, SigningKeyUpdateContent,
};
use hearth_types::{ServerName, UserId};
use serde_json::{Map, Value, json};

use super::error::parse_stored;
use super::keys::KeyMaps;
use super::{E2eeService, Result};
use crate::services::outbound::FederationSender;

/// How long `/keys/query` and `/keys/claim` wait for remote servers when the client names no timeout.
const DEFAULT_REMOTE_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest a client may make them wait.
const MAX_REMOTE_TIMEOUT: Duration = Duration::from_secs(30);
/// Most messages one inbound `m.direct_to_device` EDU may queue.
const MAX_INBOUND_MESSAGES: usize = 10_000;

/// What the e2ee service needs of federation: the outbound queues and the signed request client.
#[derive(Clone)]
pub struct E2eeFederation {
    /// Queues EDUs per destination.
    pub sender: FederationSender,
    /// Signed requests to other servers.
    pub client: Arc<FederationClient>,
}

impl std::fmt::Debug for E2eeFederation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("E2eeFederation").finish_non_exhaustive()
    }
}

/// The time a client allows for remote servers, bounded.
pub(super) fn remote_timeout(timeout_ms: Option<u64>) -> Duration {
    timeout_ms
        .map_or(DEFAULT_REMOTE_TIMEOUT, Duration::from_millis)
        .min(MAX_REMOTE_TIMEOUT)
}

impl E2eeService {
    /// Connects the service to federation (once, at start-up; later calls are ignored).
    pub fn set_federation(&self, sender: FederationSender, client: Arc<FederationClient>) {
        let _ = self.federation.set(E2eeFederation { sender, client });
    }

    /// The other servers sharing a room with `user_id`.
    async fn servers_sharing_rooms(
        &self,
        federation: &E2eeFederation,
        user_id: &str,
    ) -> Result<BTreeSet<ServerName>> {
        let mut servers = BTreeSet::new();
        for membership in self.storage.memberships_of_user(user_id).await? {
            if membership.membership == "join" {
                servers.extend(
                    federation
                        .sender
                        .servers_in_room(&membership.room_id)
                        .await?,
                );
            }
        }
        servers.remove(&self.server_name);
        Ok(servers)
    }

    /// Tells the servers sharing a room with a local user that one of their devices changed (keys uploaded or
    /// changed, or the device deleted): an `m.device_list_update` with the device's current keys.
    pub async fn publish_device_change(&self, user: &UserId, device_id: &str) -> Result<()> {
        let Some(federation) = self.federation.get() else {
            return Ok(());
        };
        let servers = self
            .servers_sharing_rooms(federation, user.as_str())
            .await?;
        if servers.is_empty() {
            return Ok(());
        }
        let positions = self.storage.device_list_positions(user.as_str(), 2).await?;
        let device = self
            .storage
            .devices_with_keys(user.as_str())
            .await?
            .into_iter()
            .find(|device| device.device_id == device_id);
        let keys = device
            .as_ref()
            .and_then(|device| device.key_json.as_deref())
            .map(parse_stored)
            .transpose()?;
        let edu = Edu::DeviceListUpdate(DeviceListUpdateContent {
            user_id: user.clone(),
            device_id: device_id.to_owned(),
            device_display_name: device.as_ref().and_then(|d| d.display_name.clone()),
            stream_id: positions.first().copied().unwrap_or(0).unsigned_abs(),
            prev_id: positions
                .get(1)
                .map(|p| p.unsigned_abs())
                .into_iter()
                .collect(),
            deleted: device.is_none().then_some(true),
            keys,
        });
        for server in servers {
            if let Err(error) = federation.sender.send_edu(&server, &edu).await {
                tracing::warn!(%server, %error, "cannot queue m.device_list_update");
            }
        }
        Ok(())
    }

    /// Tells the servers sharing a room with a local user that their cross-signing keys changed: an
    /// `m.signing_key_update` with the master and self-signing keys.
    pub async fn publish_signing_keys(&self, user: &UserId) -> Result<()> {
        let Some(federation) = self.federation.get() else {
            return Ok(());
        };
        let servers = self
            .servers_sharing_rooms(federation, user.as_str())
            .await?;
        if servers.is_empty() {
            return Ok(());
        }
        let mut content = SigningKeyUpdateContent {
            user_id: user.clone(),
            master_key: None,
            self_signing_key: None,
        };
        for key in self.storage.cross_signing_keys(user.as_str()).await? {
            match key.key_type.as_str() {
                "master" => content.master_key = Some(parse_stored(&key.key_json)?),
                "self_signing" => content.self_signing_key = Some(parse_stored(&key.key_json)?),
                _ => {}
            }
        }
        let edu = Edu::SigningKeyUpdate(content);
        for server in servers {
            if let Err(error) = federation.sender.send_edu(&server, &edu).await {
                tracing::warn!(%server, %error, "cannot queue m.signing_key_update");
            }
        }
        Ok(())
    }

    /// Queues to-device messages for remote users as one `m.direct_to_device` EDU per server. Without
    /// federation they are dropped (logged).
    pub(super) async fn send_remote_to_device(
        &self,
        sender: &UserId,
        event_type: &str,
        remote: BTreeMap<ServerName, BTreeMap<UserId, BTreeMap<String, Value>>>,
    ) {
        let Some(federation) = self.federation.get() else {
            if !remote.is_empty() {
                tracing::info!(
                    "to-device messages for remote users dropped: federation is disabled"
                );
            }
            return;
        };
        for (server, messages) in remote {
            let edu = Edu::DirectToDevice(DirectToDeviceContent {
                sender: sender.clone(),
                message_type: event_type.to_owned(),
                message_id: hearth_crypto::random::random_token(16),
                messages,
            });
            if let Err(error) = federation.sender.send_edu(&server, &edu).await {
                tracing::warn!(%server, %error, "cannot queue m.direct_to_device");
            }
        }
    }

    /// Handles an end-to-end encryption EDU from `origin` (the federation receiver's dispatch point).
    /// Anything about users of another server than `origin` is ignored.
    pub async fn receive_edu(&self, origin: &ServerName, edu: Edu) -> Result<()> {
        match edu {
            Edu::DirectToDevice(content) => self.receive_to_device(origin, content).await,
            Edu::DeviceListUpdate(content) if content.user_id.server_name() == origin => {
                self.receive_device_list_update(content).await
            }
            Edu::SigningKeyUpdate(content) if content.user_id.server_name() == origin => {
                self.receive_signing_key_update(content).await
            }
            _ => Ok(()),
        }
    }

    /// Queues an inbound `m.direct_to_device` for local devices, once per (sender, message ID).
    async fn receive_to_device(
        &self,
        origin: &ServerName,
        content: DirectToDeviceContent,
    ) -> Result<()> {
        if content.sender.server_name() != origin {
            return Ok(());
        }
        let mut local = BTreeMap::new();
        let mut count = 0;
        for (user, devices) in content.messages {
            if user.server_name() != &self.server_name {
                continue;
            }
            count += devices.len();
            local.insert(user.as_str().to_owned(), devices);
        }
        if count > MAX_INBOUND_MESSAGES {
            tracing::info!(%origin, count, "oversized m.direct_to_device skipped");
            return Ok(());
        }
        // Transaction IDs of remote senders are scoped to the empty device (no local device has it).
        self.queue_local_to_device(
            &content.sender,
            "",
            &content.message_id,
            &content.message_type,
            &local,
        )
        .await?;
        Ok(())
    }

    /// `GET /_matrix/federation/v1/user/devices/{userId}`: a local user's devices with keys, the stream
    /// position of their device list and their master and self-signing keys.
    pub async fn federation_user_devices(&self, user: &UserId) -> Result<Value> {
        let mut devices = Vec::new();
        for device in self.storage.devices_with_keys(user.as_str()).await? {
            let Some(key_json) = device.key_json else {
                continue;
            };
            let mut entry =
                json!({ "device_id": device.device_id, "keys": parse_stored(&key_json)? });
            if let Some(name) = device.display_name {
                entry["device_display_name"] = json!(name);
            }
            devices.push(entry);
        }
        let stream_id = self
            .storage
            .latest_device_list_change(user.as_str())
            .await?;
        let mut answer = json!({ "user_id": user, "stream_id": stream_id, "devices": devices });
        let wanted = BTreeMap::from([(user.as_str().to_owned(), Vec::new())]);
        let keys = self.query_local_keys(None, &wanted).await?;
        if let Some(master) = keys.get("master_keys").and_then(|k| k.get(user.as_str())) {
            answer["master_key"] = master.clone();
        }
        if let Some(ssk) = keys
            .get("self_signing_keys")
            .and_then(|k| k.get(user.as_str()))
        {
            answer["self_signing_key"] = ssk.clone();
        }
        Ok(answer)
    }

    /// Keys of remote users: from the device-list cache for users sharing a room with this server (resynced
    /// first when missing or stale), else asked of each user's server (in parallel); all bounded by `timeout`.
    /// Merges what checks out into `response`, and lists servers that failed in `failures`.
    pub(super) async fn query_remote_keys(
        &self,
        requester: &str,
        wanted: &BTreeMap<String, Vec<String>>,
        timeout: Duration,
        response: &mut Map<String, Value>,
        failures: &mut Map<String, Value>,
    ) -> Result<()> {
        let by_server = group_by_server(wanted, &self.server_name);
        if by_server.is_empty() {
            return Ok(());
        }
        let Some(federation) = self.federation.get() else {
            for server in by_server.keys() {
                failures.insert(server.to_string(), unavailable("federation is disabled"));
            }
            return Ok(());
        };
        let deadline = tokio::time::Instant::now() + timeout;
        let users = by_server
            .into_values()
            .flatten()
            .filter_map(|(user, devices)| Some((UserId::parse(&user).ok()?, devices)))
            .collect();
        let mut found = KeyMaps::default();
        let uncached = self
            .query_cached_devices(federation, requester, users, timeout, &mut found)
            .await?;
        for (field, map) in [
            ("device_keys", found.device_keys),
            ("master_keys", found.master_keys),
            ("self_signing_keys", found.self_signing_keys),
        ] {
            for (user, value) in map {
                insert_under(response, field, &user, value);
            }
        }
        let mut by_server: BTreeMap<ServerName, BTreeMap<String, Vec<String>>> = BTreeMap::new();
        for (user, devices) in uncached {
            by_server
                .entry(user.server_name().clone())
                .or_default()
                .insert(user.as_str().to_owned(), devices);
        }
        if by_server.is_empty() {
            return Ok(());
        }
        let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
        let path = "/_matrix/federation/v1/user/keys/query";
        for (server, answer) in
            ask_servers(federation, by_server, path, "device_keys", remaining).await
        {
            match answer {
                Ok(answer) => merge_remote_keys(&server, &answer, response),
                Err(reason) => {
                    failures.insert(server.to_string(), unavailable(&reason));
                }
            }
        }
        Ok(())
    }

    /// Claims keys of remote users from their servers (in parallel, bounded by `timeout`).
    pub(super) async fn claim_remote_keys(
        &self,
        wanted: &BTreeMap<String, BTreeMap<String, String>>,
        timeout: Duration,
        claimed: &mut Map<String, Value>,
        failures: &mut Map<String, Value>,
    ) {
        let by_server = group_by_server(wanted, &self.server_name);
        if by_server.is_empty() {
            return;
        }
        let Some(federation) = self.federation.get() else {
            for server in by_server.keys() {
                failures.insert(server.to_string(), unavailable("federation is disabled"));
            }
            return;
        };
        let path = "/_matrix/federation/v1/user/keys/claim";
        for (server, answer) in
            ask_servers(federation, by_server, path, "one_time_keys", timeout).await
        {
            match answer {
                Ok(answer) => {
                    let keys = answer.get("one_time_keys").and_then(Value::as_object);
                    for (user, devices) in keys.into_iter().flatten() {
                        if belongs_to(user, &server) && devices.is_object() {
                            claimed.insert(user.clone(), devices.clone());
                        }
                    }
                }
                Err(reason) => {
                    failures.insert(server.to_string(), unavailable(&reason));
                }
            }
        }
    }
}

/// POSTs `{field: users}` to `path` on every server at once, each bounded by `timeout`; the answers (or why
/// there is none) per server.
async fn ask_servers<T: serde::Serialize + Send + 'static>(
    federation: &E2eeFederation,
    by_server: BTreeMap<ServerName, T>,
    path: &'static str,
    field: &'static str,
    timeout: Duration,
) -> Vec<(ServerName, std::result::Result<Value, String>)> {
    let mut requests = tokio::task::JoinSet::new();
    for (server, users) in by_server {
        let client = federation.client.clone();
        requests.spawn(async move {
            let body = json!({ field: users });
            let answer =
                tokio::time::timeout(timeout, client.post_json::<_, Value>(&server, path, &body))
                    .await;
            let answer = match answer {
                Ok(Ok(answer)) => Ok(answer),
                Ok(Err(error)) => Err(error.to_string()),
                Err(_) => Err("timed out".to_owned()),
            };
            (server, answer)
        });
    }
    let mut answers = Vec::new();
    while let Some(joined) = requests.join_next().await {
        if let Ok(answer) = joined {
            answers.push(answer);
        }
    }
    answers
}

/// The requested users grouped by their (remote) server.
fn group_by_server<T: Clone>(
    wanted: &BTreeMap<String, T>,
    own: &ServerName,
) -> BTreeMap<ServerName, BTreeMap<String, T>> {
    let mut by_server: BTreeMap<ServerName, BTreeMap<String, T>> = BTreeMap::new();
    for (user, value) in wanted {
        let Ok(parsed) = UserId::parse(user) else {
            continue;
        };
        if parsed.server_name() == own {
            continue;
        }
        by_server
            .entry(parsed.server_name().clone())
            .or_default()
            .insert(user.clone(), value.clone());
    }
    by_server
}

fn belongs_to(user: &str, server: &ServerName) -> bool {
    UserId::parse(user).is_ok_and(|user| user.server_name() == server)
}

fn unavailable(reason: &str) -> Value {
    json!({ "errcode": "M_UNAVAILABLE", "error": reason })
}

/// Takes from a remote `/user/keys/query` answer what concerns the server's own users and checks out: device
/// keys self-signed by the device they name, master and self-signing keys of the right shape.
fn merge_remote_keys(server: &ServerName, answer: &Value, response: &mut Map<String, Value>) {
    if let Some(users) = answer.get("device_keys").and_then(Value::as_object) {
        for (user, devices) in users {
            let Some(devices) = devices.as_object().filter(|_| belongs_to(user, server)) else {
                continue;
            };
            let valid: Map<String, Value> = devices
                .iter()
                .filter(|(device_id, keys)| check_device_keys(keys, user, device_id).is_ok())
                .map(|(device_id, keys)| (device_id.clone(), keys.clone()))
                .collect();
            insert_under(response, "device_keys", user, Value::Object(valid));
        }
    }
    for (field, usage) in [
        ("master_keys", "master"),
        ("self_signing_keys", "self_signing"),
    ] {
        if let Some(users) = answer.get(field).and_then(Value::as_object) {
            for (user, key) in users {
                if belongs_to(user, server) && check_cross_signing_key(key, user, usage).is_ok() {
                    insert_under(response, field, user, key.clone());
                }
            }
        }
    }
}

fn insert_under(response: &mut Map<String, Value>, field: &str, user: &str, value: Value) {
    if let Some(map) = response
        .entry(field.to_owned())
        .or_insert_with(|| json!({}))
        .as_object_mut()
    {
        map.insert(user.to_owned(), value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::services::e2ee::test_keys::signed_device;

    #[test]
    fn remote_answers_keep_only_the_servers_own_users_and_self_signed_devices() {
        let server = ServerName::parse("remote.example").unwrap();
        let mut forged = signed_device("@a:remote.example", "FORGED", 2);
        forged["keys"]["curve25519:FORGED"] = json!("swapped");
        let answer = json!({
            "device_keys": {
                "@a:remote.example": {
                    "GOOD": signed_device("@a:remote.example", "GOOD", 1),
                    "FORGED": forged,
                    "MISNAMED": signed_device("@a:remote.example", "OTHER", 3),
                },
                "@victim:hearth.test": { "D": signed_device("@victim:hearth.test", "D", 4) },
            },
            "master_keys": { "@victim:hearth.test": { "user_id": "@victim:hearth.test" } },
        });
        let mut response = Map::new();
        merge_remote_keys(&server, &answer, &mut response);
        let devices = response["device_keys"]["@a:remote.example"]
            .as_object()
            .unwrap();
        assert_eq!(devices.keys().collect::<Vec<_>>(), ["GOOD"]);
        assert!(response["device_keys"].get("@victim:hearth.test").is_none());
        assert!(response.get("master_keys").is_none());
    }

    #[test]
    fn requests_group_remote_users_by_server_and_skip_local_and_invalid_ones() {
        let own = ServerName::parse("hearth.test").unwrap();
        let wanted = BTreeMap::from([
            ("@a:one.example".to_owned(), 1),
            ("@b:one.example".to_owned(), 2),
            ("@c:two.example".to_owned(), 3),
            ("@me:hearth.test".to_owned(), 4),
            ("not a user".to_owned(), 5),
        ]);
        let grouped = group_by_server(&wanted, &own);
        assert_eq!(grouped.len(), 2);
        assert_eq!(grouped[&ServerName::parse("one.example").unwrap()].len(), 2);
    }

    #[test]
    fn remote_timeouts_are_bounded() {
        assert_eq!(remote_timeout(None), DEFAULT_REMOTE_TIMEOUT);
        assert_eq!(remote_timeout(Some(3_600_000)), MAX_REMOTE_TIMEOUT);
        assert_eq!(remote_timeout(Some(500)), Duration::from_millis(500));
    }
}
