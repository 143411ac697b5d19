//! `PUT /sendToDevice/{eventType}/{txnId}`: queue messages for devices (`*`: every device of the user), once
//! per transaction ID of the sending device, and wake the recipients' `/sync`.

use std::collections::BTreeMap;

use hearth_types::{DeviceId, ServerName, UserId};
use serde_json::Value;

use super::error::{bad_json, invalid_param};
use super::{E2eeService, Result};
use crate::storage::NewToDevice;

/// Most messages (after expanding `*`) one request may queue.
const MAX_MESSAGES_PER_REQUEST: usize = 10_000;

/// A `/sendToDevice` call.
#[derive(Debug)]
pub struct SendToDevice<'a> {
    /// The sending user.
    pub sender: &'a UserId,
    /// The sending device (transaction IDs are scoped to it).
    pub sender_device: &'a DeviceId,
    /// The client's transaction ID.
    pub txn_id: &'a str,
    /// The event type of every message.
    pub event_type: &'a str,
    /// User → device ID or `*` → content.
    pub messages: &'a BTreeMap<String, BTreeMap<String, Value>>,
}

impl E2eeService {
    /// Queues the messages: for local devices in the inbox, for remote users as `m.direct_to_device` EDUs to
    /// their servers. A repeated transaction ID of the same device is accepted and changes nothing. Messages
    /// for unknown local devices are dropped.
    pub async fn send_to_device(&self, send: &SendToDevice<'_>) -> Result<()> {
        let mut local: BTreeMap<String, BTreeMap<String, Value>> = BTreeMap::new();
        let mut remote: BTreeMap<ServerName, BTreeMap<UserId, BTreeMap<String, Value>>> =
            BTreeMap::new();
        for (user_id, devices) in send.messages {
            let user = UserId::parse(user_id)
                .map_err(|error| invalid_param(format!("invalid user ID {user_id:?}: {error}")))?;
            if devices.values().any(|content| !content.is_object()) {
                return Err(bad_json("to-device message content must be an object"));
            }
            if self.is_local(user.as_str()) {
                local.insert(user_id.clone(), devices.clone());
            } else {
                remote
                    .entry(user.server_name().clone())
                    .or_default()
                    .insert(user, devices.clone());
            }
        }
        let fresh = self
            .queue_local_to_device(
                send.sender,
                send.sender_device.as_str(),
                send.txn_id,
                send.event_type,
                &local,
            )
            .await?;
        if fresh {
            self.send_remote_to_device(send.sender, send.event_type, remote)
                .await;
        }
        Ok(())
    }

    /// Queues messages for local users' devices (`*`: every device) once per `(sender, sender_device,
    /// txn_id)` and wakes the recipients; false when the transaction was already handled.
    pub(super) async fn queue_local_to_device(
        &self,
        sender: &UserId,
        sender_device: &str,
        txn_id: &str,
        event_type: &str,
        messages: &BTreeMap<String, BTreeMap<String, Value>>,
    ) -> Result<bool> {
        let mut targets = Vec::new();
        for (user_id, devices) in messages {
            for (device_id, content) in devices {
                let device_ids = if device_id == "*" {
                    self.storage
                        .list_devices(user_id)
                        .await?
                        .into_iter()
                        .map(|device| device.device_id)
                        .collect()
                } else {
                    vec![device_id.clone()]
                };
                for target in device_ids {
                    targets.push((user_id.as_str(), target, content.to_string()));
                }
                if targets.len() > MAX_MESSAGES_PER_REQUEST {
                    return Err(invalid_param(format!(
                        "at most {MAX_MESSAGES_PER_REQUEST} messages per request"
                    )));
                }
            }
        }
        let queued: Vec<NewToDevice<'_>> = targets
            .iter()
            .map(|(user_id, device_id, content)| NewToDevice {
                user_id,
                device_id,
                content: content.clone(),
            })
            .collect();
        let fresh = self
            .storage
            .queue_to_device(
                sender.as_str(),
                sender_device,
                txn_id,
                event_type,
                &queued,
                super::now_ms(),
            )
            .await?;
        if fresh.is_none() {
            return Ok(false);
        }
        let mut woken: Vec<&str> = queued.iter().map(|m| m.user_id).collect();
        woken.sort_unstable();
        woken.dedup();
        for user_id in woken {
            self.notifier.notify_user(user_id);
        }
        Ok(true)
    }
}

impl E2eeService {
    /// Deletes the device's messages at or before `upto`: it synced from a token that included them.
    pub async fn acknowledge_to_device(
        &self,
        user: &UserId,
        device: &DeviceId,
        upto: i64,
    ) -> Result<()> {
        if self
            .storage
            .has_to_device_messages_upto(user.as_str(), device.as_str(), upto)
            .await?
        {
            self.storage
                .delete_to_device_messages(user.as_str(), device.as_str(), upto)
                .await?;
        }
        Ok(())
    }

    /// The device's messages in `(since, upto]`, oldest first, at most `limit`, as `/sync` events
    /// (`sender`, `type`, `content`), with the position of the last one.
    pub async fn pending_to_device(
        &self,
        user: &UserId,
        device: &DeviceId,
        since: i64,
        upto: i64,
        limit: i64,
    ) -> Result<(Vec<Value>, Option<i64>)> {
        let messages = self
            .storage
            .to_device_messages(user.as_str(), device.as_str(), since, upto, limit)
            .await?;
        let last = messages.last().map(|m| m.stream_id);
        let events = messages
            .into_iter()
            .map(|message| {
                Ok(serde_json::json!({
                    "sender": message.sender,
                    "type": message.event_type,
                    "content": super::error::parse_stored(&message.content)?,
                }))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok((events, last))
    }
}
