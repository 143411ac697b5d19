//! Remote users' device lists, cached as Synapse does: for a user of another server who shares a room with a
//! local user, the devices and cross-signing keys their server announced — a snapshot from `GET
//! /_matrix/federation/v1/user/devices/{userId}`, kept current by `m.device_list_update` and
//! `m.signing_key_update` EDUs. An update whose `prev_id` is not the cached `stream_id` means updates were
//! missed: the cache is marked stale and the next `/keys/query` fetches a new snapshot. Every update (applied or
//! not) is a device-list change, so the local users sharing a room see the user in `device_lists.changed`.
//!
//! Remote answers are hostile input: only the answering server's own users, devices self-signed by the device
//! they name, cross-signing keys of the right shape, at most [`MAX_DEVICES`] devices.

use std::time::Duration;

use hearth_client_api::keys::signed_keys::{check_cross_signing_key, check_device_keys};
use hearth_federation::transactions::edu::{DeviceListUpdateContent, SigningKeyUpdateContent};
use hearth_types::UserId;
use serde_json::Value;

use super::federation::E2eeFederation;
use super::keys::KeyMaps;
use super::{E2eeService, Result, now_ms};
use crate::services::outbound::encode_path_segment;
use crate::storage::{CrossSigningKey, RemoteDevice, RemoteUpdate};

/// Most devices of one remote user a snapshot may carry (Synapse's bound): more is treated as a failed resync.
const MAX_DEVICES: usize = 1000;

impl E2eeService {
    /// Whether a user of another server is joined to a room this server is in (so its clients care about the
    /// user's devices and its server sends their updates here).
    pub(super) async fn shares_room(&self, user_id: &str) -> Result<bool> {
        Ok(self
            .storage
            .memberships_of_user(user_id)
            .await?
            .iter()
            .any(|membership| membership.membership == "join"))
    }

    /// An `m.device_list_update` from the user's own server: applied to the cache when it follows on from it,
    /// else the cache is marked stale; the local users sharing a room are woken either way. Updates of users
    /// no local user shares a room with drop the cache, as the server will stop sending them.
    pub(super) async fn receive_device_list_update(
        &self,
        content: DeviceListUpdateContent,
    ) -> Result<()> {
        let user = content.user_id.as_str();
        if !self.shares_room(user).await? {
            self.storage.forget_remote_device_list(user).await?;
            return Ok(());
        }
        let stream_id = i64::try_from(content.stream_id).unwrap_or(i64::MAX);
        let mut prev_ids: Vec<i64> = content
            .prev_id
            .iter()
            .map(|prev| i64::try_from(*prev).unwrap_or(i64::MAX))
            .collect();
        let deleted = content.deleted == Some(true);
        let keys_valid = content
            .keys
            .as_ref()
            .is_none_or(|keys| check_device_keys(keys, user, &content.device_id).is_ok());
        if !keys_valid {
            // Keys that do not check out are not cached: resync, and let the snapshot decide.
            prev_ids.clear();
        }
        let device = RemoteDevice {
            device_id: content.device_id.clone(),
            display_name: content.device_display_name,
            key_json: content.keys.as_ref().map(Value::to_string),
        };
        let outcome = self
            .storage
            .apply_remote_device_update(
                user,
                stream_id,
                &prev_ids,
                &content.device_id,
                (!deleted).then_some(&device),
                now_ms(),
            )
            .await?;
        if outcome != RemoteUpdate::Seen {
            self.notify_device_list_change(user).await?;
        }
        Ok(())
    }

    /// An `m.signing_key_update` from the user's own server: the master and self-signing keys that check out
    /// are cached (a device-list change), when the user shares a room with a local user.
    pub(super) async fn receive_signing_key_update(
        &self,
        content: SigningKeyUpdateContent,
    ) -> Result<()> {
        let user = content.user_id.as_str();
        if !self.shares_room(user).await? {
            return Ok(());
        }
        let keys = checked_cross_signing_keys(
            user,
            content.master_key.as_ref(),
            content.self_signing_key.as_ref(),
        );
        if keys.is_empty() {
            return Ok(());
        }
        self.storage.set_cross_signing_keys(user, &keys).await?;
        self.notify_device_list_change(user).await
    }

    /// Adds the cached keys of remote users who share a room with a local user to `found`, fetching a new
    /// snapshot (in parallel, within `timeout`) for those not cached or stale. Returns the users this could not
    /// answer (not sharing a room, or their server did not give a usable snapshot), for `/user/keys/query`.
    pub(super) async fn query_cached_devices(
        &self,
        federation: &E2eeFederation,
        requester: &str,
        wanted: Vec<(UserId, Vec<String>)>,
        timeout: Duration,
        found: &mut KeyMaps,
    ) -> Result<Vec<(UserId, Vec<String>)>> {
        let mut uncached = Vec::new();
        let mut cached = Vec::new();
        let mut resync = tokio::task::JoinSet::new();
        for (user, device_ids) in wanted {
            if !self.shares_room(user.as_str()).await? {
                self.storage
                    .forget_remote_device_list(user.as_str())
                    .await?;
                uncached.push((user, device_ids));
            } else if self
                .storage
                .remote_device_list_is_fresh(user.as_str())
                .await?
            {
                cached.push((user, device_ids));
            } else {
                let client = federation.client.clone();
                resync.spawn(async move {
                    let path = format!(
                        "/_matrix/federation/v1/user/devices/{}",
                        encode_path_segment(user.as_str())
                    );
                    let answer = tokio::time::timeout(
                        timeout,
                        client.get_json::<Value>(user.server_name(), &path),
                    )
                    .await;
                    let answer = match answer {
                        Ok(Ok(answer)) => Ok(answer),
                        Ok(Err(error)) => Err(error.to_string()),
                        Err(_) => Err("timed out".to_owned()),
                    };
                    (user, device_ids, answer)
                });
            }
        }
        while let Some(joined) = resync.join_next().await {
            let Ok((user, device_ids, answer)) = joined else {
                continue;
            };
            let stored = match answer {
                Ok(answer) => self.store_device_snapshot(&user, &answer).await?,
                Err(reason) => {
                    tracing::info!(%user, %reason, "device list resync failed");
                    false
                }
            };
            if stored {
                cached.push((user, device_ids));
            } else {
                uncached.push((user, device_ids));
            }
        }
        for (user, device_ids) in cached {
            let devices = self.storage.remote_devices(user.as_str()).await?;
            self.add_user_keys(Some(requester), user.as_str(), &device_ids, devices, found)
                .await?;
        }
        Ok(uncached)
    }

    /// Caches a `/user/devices` answer for `user` after checking it; false when it is not usable.
    async fn store_device_snapshot(&self, user: &UserId, answer: &Value) -> Result<bool> {
        let Some(snapshot) = parse_device_snapshot(user, answer) else {
            tracing::info!(%user, "unusable /user/devices answer");
            return Ok(false);
        };
        self.storage
            .replace_remote_devices(
                user.as_str(),
                snapshot.stream_id,
                &snapshot.devices,
                &snapshot.cross_signing,
                now_ms(),
            )
            .await?;
        Ok(true)
    }
}

/// A checked `/user/devices` answer.
#[derive(Debug)]
struct DeviceSnapshot {
    stream_id: i64,
    devices: Vec<RemoteDevice>,
    cross_signing: Vec<CrossSigningKey>,
}

/// Checks a `/user/devices` answer about `user`: it must name the user and carry a `stream_id` and at most
/// [`MAX_DEVICES`] devices. Device keys that are not self-signed by the device they name are left out (the
/// device stays, without keys); cross-signing keys of the wrong shape too.
fn parse_device_snapshot(user: &UserId, answer: &Value) -> Option<DeviceSnapshot> {
    if answer.get("user_id").and_then(Value::as_str) != Some(user.as_str()) {
        return None;
    }
    let stream_id = answer.get("stream_id").and_then(Value::as_i64)?;
    let listed = answer.get("devices").and_then(Value::as_array)?;
    if listed.len() > MAX_DEVICES {
        return None;
    }
    let devices = listed
        .iter()
        .filter_map(|device| {
            let device_id = device.get("device_id")?.as_str()?;
            let keys = device
                .get("keys")
                .filter(|keys| check_device_keys(keys, user.as_str(), device_id).is_ok());
            Some(RemoteDevice {
                device_id: device_id.to_owned(),
                display_name: device
                    .get("device_display_name")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                key_json: keys.map(Value::to_string),
            })
        })
        .collect();
    Some(DeviceSnapshot {
        stream_id,
        devices,
        cross_signing: checked_cross_signing_keys(
            user.as_str(),
            answer.get("master_key"),
            answer.get("self_signing_key"),
        ),
    })
}

/// The master and self-signing keys among those given that have the right shape for `user`.
fn checked_cross_signing_keys(
    user: &str,
    master: Option<&Value>,
    self_signing: Option<&Value>,
) -> Vec<CrossSigningKey> {
    [("master", master), ("self_signing", self_signing)]
        .into_iter()
        .filter_map(|(usage, key)| {
            let key = key?;
            let public_key = check_cross_signing_key(key, user, usage).ok()?;
            Some(CrossSigningKey {
                key_type: usage.to_owned(),
                public_key: public_key.to_owned(),
                key_json: key.to_string(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::services::e2ee::test_keys::signed_device;

    #[test]
    fn snapshots_keep_self_signed_keys_and_refuse_other_users_and_huge_lists() {
        let user = UserId::parse("@a:remote.example").unwrap();
        let mut forged = signed_device("@a:remote.example", "FORGED", 2);
        forged["keys"]["curve25519:FORGED"] = json!("swapped");
        let answer = json!({
            "user_id": "@a:remote.example", "stream_id": 7,
            "devices": [
                { "device_id": "GOOD", "keys": signed_device("@a:remote.example", "GOOD", 1),
                  "device_display_name": "phone" },
                { "device_id": "FORGED", "keys": forged },
                { "device_id": "NOKEYS" },
            ],
            "master_key": { "user_id": "@a:remote.example", "usage": ["user_signing"], "keys": {} },
        });
        let snapshot = parse_device_snapshot(&user, &answer).unwrap();
        assert_eq!(snapshot.stream_id, 7);
        let with_keys: Vec<_> = snapshot
            .devices
            .iter()
            .filter(|d| d.key_json.is_some())
            .map(|d| d.device_id.as_str())
            .collect();
        assert_eq!(with_keys, ["GOOD"]);
        assert_eq!(snapshot.devices.len(), 3);
        assert!(snapshot.cross_signing.is_empty(), "wrong usage refused");

        let mut other = answer.clone();
        other["user_id"] = json!("@b:remote.example");
        assert!(parse_device_snapshot(&user, &other).is_none());
        let mut huge = answer;
        huge["devices"] = Value::Array(vec![json!({ "device_id": "X" }); MAX_DEVICES + 1]);
        assert!(parse_device_snapshot(&user, &huge).is_none());
    }
}
