//! Typed views of the EDUs servers exchange (spec: "Typing Notifications", "Presence", "Receipts",
//! "Device Management", "End-to-End Encryption", "Send-to-device messaging").
//!
//! An EDU is `{"edu_type": …, "content": …}`. [`Edu::parse`] turns one raw EDU into a typed value;
//! unknown types are `Ok(None)` (ignored, as the spec requires of unknown data), malformed known types
//! are errors the receiver logs and skips — never a reason to fail the whole transaction.

use std::collections::BTreeMap;

use hearth_types::{EventId, RoomId, UserId};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The EDUs Hearth understands.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "edu_type", content = "content")]
pub enum Edu {
    /// A user started or stopped typing in a room.
    #[serde(rename = "m.typing")]
    Typing(TypingContent),
    /// Read receipts, by room.
    #[serde(rename = "m.receipt")]
    Receipt(ReceiptContent),
    /// Presence updates of the origin's users.
    #[serde(rename = "m.presence")]
    Presence(PresenceContent),
    /// One change to one device of a user.
    #[serde(rename = "m.device_list_update")]
    DeviceListUpdate(DeviceListUpdateContent),
    /// A user's cross-signing keys changed.
    #[serde(rename = "m.signing_key_update")]
    SigningKeyUpdate(SigningKeyUpdateContent),
    /// To-device messages for users on the receiving server.
    #[serde(rename = "m.direct_to_device")]
    DirectToDevice(DirectToDeviceContent),
}

/// EDU types [`Edu`] knows.
const KNOWN_TYPES: &[&str] = &[
    "m.typing",
    "m.receipt",
    "m.presence",
    "m.device_list_update",
    "m.signing_key_update",
    "m.direct_to_device",
];

impl Edu {
    /// Parses a raw EDU: `Ok(None)` for an unknown `edu_type`, an error for a malformed known one.
    pub fn parse(raw: &Value) -> Result<Option<Self>, serde_json::Error> {
        match raw.get("edu_type").and_then(Value::as_str) {
            Some(kind) if KNOWN_TYPES.contains(&kind) => Self::deserialize(raw).map(Some),
            _ => Ok(None),
        }
    }

    /// The raw EDU to put in a transaction.
    pub fn to_value(&self) -> Result<Value, serde_json::Error> {
        serde_json::to_value(self)
    }
}

/// `m.typing` content.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TypingContent {
    /// The room.
    pub room_id: RoomId,
    /// The typing user; must belong to the origin.
    pub user_id: UserId,
    /// Whether the user is typing now.
    pub typing: bool,
}

/// `m.receipt` content: room → receipt type (`m.read`, `m.read.private` never leaves the server) →
/// user → receipt.
pub type ReceiptContent = BTreeMap<RoomId, BTreeMap<String, BTreeMap<UserId, UserReceipt>>>;

/// One user's receipt in a room.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UserReceipt {
    /// Receipt metadata: `ts`, optionally `thread_id`; kept open for extensions.
    pub data: Value,
    /// The events read up to (one for `m.read`).
    pub event_ids: Vec<EventId>,
}

/// `m.presence` content.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PresenceContent {
    /// The updates.
    pub push: Vec<PresenceUpdate>,
}

/// One user's presence.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PresenceUpdate {
    /// The user; must belong to the origin.
    pub user_id: UserId,
    /// `online`, `offline` or `unavailable`.
    pub presence: String,
    /// Milliseconds since the user was last active.
    pub last_active_ago: u64,
    /// Whether the user is active right now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currently_active: Option<bool>,
    /// A free-form status message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_msg: Option<String>,
}

/// `m.device_list_update` content.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeviceListUpdateContent {
    /// The device's owner; must belong to the origin.
    pub user_id: UserId,
    /// The changed device.
    pub device_id: String,
    /// The device's public name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_display_name: Option<String>,
    /// Position of this update in the user's update stream.
    pub stream_id: u64,
    /// The updates this one follows; unknown ones mean the receiver must resync.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub prev_id: Vec<u64>,
    /// The device was deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted: Option<bool>,
    /// The device's identity keys, signed by the device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keys: Option<Value>,
}

/// `m.signing_key_update` content.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SigningKeyUpdateContent {
    /// The user; must belong to the origin.
    pub user_id: UserId,
    /// The new master key, if it changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub master_key: Option<Value>,
    /// The new self-signing key, if it changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub self_signing_key: Option<Value>,
}

/// `m.direct_to_device` content.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DirectToDeviceContent {
    /// The sending user; must belong to the origin.
    pub sender: UserId,
    /// The event type of every message.
    #[serde(rename = "type")]
    pub message_type: String,
    /// Unique per sender, for deduplication.
    pub message_id: String,
    /// Messages by user, then device ID (`*` for all devices).
    pub messages: BTreeMap<UserId, BTreeMap<String, Value>>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_every_known_edu_type() {
        let raws = [
            json!({"edu_type": "m.typing", "content": {"room_id": "!r:a.example", "user_id": "@u:a.example", "typing": true}}),
            json!({"edu_type": "m.receipt", "content": {"!r:a.example": {"m.read": {"@u:a.example": {"data": {"ts": 1}, "event_ids": ["$e:a.example"]}}}}}),
            json!({"edu_type": "m.presence", "content": {"push": [{"user_id": "@u:a.example", "presence": "online", "last_active_ago": 5, "currently_active": true}]}}),
            json!({"edu_type": "m.device_list_update", "content": {"user_id": "@u:a.example", "device_id": "D", "stream_id": 6, "prev_id": [5], "deleted": false}}),
            json!({"edu_type": "m.signing_key_update", "content": {"user_id": "@u:a.example", "master_key": {"keys": {}}}}),
            json!({"edu_type": "m.direct_to_device", "content": {"sender": "@u:a.example", "type": "m.room_key_request", "message_id": "m1", "messages": {"@v:b.example": {"*": {"x": 1}}}}}),
        ];
        for raw in raws {
            let parsed = Edu::parse(&raw);
            let Ok(Some(edu)) = parsed else {
                panic!("{raw}: {parsed:?}")
            };
            assert_eq!(edu.to_value().ok(), Some(raw), "round trip");
        }
    }

    #[test]
    fn unknown_edu_types_are_ignored_and_malformed_known_ones_are_errors() {
        assert!(matches!(
            Edu::parse(&json!({"edu_type": "org.example.custom", "content": 5})),
            Ok(None)
        ));
        assert!(matches!(Edu::parse(&json!({"content": {}})), Ok(None)));
        assert!(
            Edu::parse(&json!({"edu_type": "m.typing", "content": {"room_id": "!r:a.example"}}))
                .is_err()
        );
        assert!(Edu::parse(&json!({"edu_type": "m.typing", "content": {"room_id": "bad", "user_id": "@u:a", "typing": true}})).is_err());
    }
}
