//! Events in the client format: what `/sync`, `/messages`, `/event`, `/context` and `/state`
//! serve. One function, so every endpoint shows an event the same way.
//!
//! The client format keeps `content`, `event_id`, `origin_server_ts`, `room_id`, `sender`,
//! `type`, `state_key` and `redacts`, and adds `unsigned` (`age`, `transaction_id` for the
//! sender's own device, `redacted_because`, bundled `m.relations`). The signed PDU fields
//! (`hashes`, `signatures`, `auth_events`, `prev_events`, `depth`, `origin`) stay server-side.

use hearth_types::RoomVersionRules;
use hearth_types::redaction::redact;
use serde_json::{Map, Value, json};

use crate::storage::StoredEvent;

/// What the client format adds around the stored PDU; all optional.
#[derive(Debug, Default, Clone)]
pub struct ClientEventExtras {
    /// The client's transaction ID, only for the device that sent the event.
    pub transaction_id: Option<String>,
    /// The redaction event (already in client format) when the event is redacted.
    pub redacted_because: Option<Value>,
    /// Bundled aggregations (`unsigned.m.relations`).
    pub relations: Option<Value>,
    /// `unsigned.prev_content` of a state event.
    pub prev_content: Option<Value>,
}

/// Formats a stored event for clients. A redacted event (`stored.redacted_by`) is served in its
/// redacted form (content stripped per `rules`). `now_ms` gives `unsigned.age`.
/// Returns `None` only if the stored JSON does not parse (corrupt data).
pub fn format_client_event(
    stored: &StoredEvent,
    rules: &RoomVersionRules,
    extras: ClientEventExtras,
    now_ms: i64,
) -> Option<Value> {
    let mut pdu: Value = serde_json::from_str(&stored.json).ok()?;
    if stored.redacted_by.is_some() {
        pdu = redact(&pdu, rules).ok()?;
    }
    let object = pdu.as_object_mut()?;
    let mut event = Map::new();
    event.insert(
        "content".into(),
        object.remove("content").unwrap_or_else(|| json!({})),
    );
    event.insert("event_id".into(), json!(stored.event_id));
    event.insert("origin_server_ts".into(), json!(stored.origin_server_ts));
    event.insert("room_id".into(), json!(stored.room_id));
    event.insert("sender".into(), json!(stored.sender));
    event.insert("type".into(), json!(stored.event_type));
    if let Some(key) = &stored.state_key {
        event.insert("state_key".into(), json!(key));
    }
    let redacts = object.remove("redacts").or_else(|| {
        (stored.event_type == "m.room.redaction")
            .then(|| event.get("content")?.get("redacts").cloned())
            .flatten()
    });
    if let Some(redacts) = redacts {
        event.insert("redacts".into(), redacts);
    }
    let mut unsigned = Map::new();
    unsigned.insert(
        "age".into(),
        json!(now_ms.saturating_sub(stored.origin_server_ts).max(0)),
    );
    if let Some(txn) = extras.transaction_id {
        unsigned.insert("transaction_id".into(), json!(txn));
    }
    if let Some(because) = extras.redacted_because {
        unsigned.insert("redacted_because".into(), because);
    }
    if let Some(relations) = extras.relations {
        unsigned.insert("m.relations".into(), relations);
    }
    if let Some(prev) = extras.prev_content {
        unsigned.insert("prev_content".into(), prev);
    }
    event.insert("unsigned".into(), Value::Object(unsigned));
    Some(Value::Object(event))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(json: Value, redacted_by: Option<&str>) -> StoredEvent {
        StoredEvent {
            stream_ordering: 5,
            event_id: "$e".into(),
            room_id: "!r:hs".into(),
            event_type: json["type"].as_str().unwrap_or_default().into(),
            state_key: json["state_key"].as_str().map(str::to_owned),
            sender: "@a:hs".into(),
            depth: 3,
            origin_server_ts: 1000,
            json: json.to_string(),
            state_group: Some(1),
            outlier: false,
            rejected: false,
            soft_failed: false,
            redacted_by: redacted_by.map(str::to_owned),
        }
    }

    #[test]
    fn keeps_client_fields_and_drops_signed_pdu_fields() {
        let event = stored(
            json!({"type": "m.room.message", "room_id": "!r:hs", "sender": "@a:hs",
                   "content": {"body": "hi"}, "depth": 3, "origin_server_ts": 1000,
                   "prev_events": [], "auth_events": [], "hashes": {"sha256": "x"},
                   "signatures": {}}),
            None,
        );
        let extras = ClientEventExtras {
            transaction_id: Some("t1".into()),
            ..Default::default()
        };
        let client = format_client_event(&event, &RoomVersionRules::V12, extras, 1500).unwrap();
        assert_eq!(client["content"]["body"], "hi");
        assert_eq!(client["event_id"], "$e");
        assert_eq!(client["unsigned"]["age"], 500);
        assert_eq!(client["unsigned"]["transaction_id"], "t1");
        for field in [
            "hashes",
            "signatures",
            "prev_events",
            "auth_events",
            "depth",
        ] {
            assert!(
                client.get(field).is_none(),
                "{field} leaked to the client format"
            );
        }
    }

    #[test]
    fn serves_redacted_events_without_their_content() {
        let event = stored(
            json!({"type": "m.room.message", "room_id": "!r:hs", "sender": "@a:hs",
                   "content": {"body": "secret"}, "depth": 3, "origin_server_ts": 1000,
                   "prev_events": [], "auth_events": []}),
            Some("$redaction"),
        );
        let extras = ClientEventExtras {
            redacted_because: Some(json!({"event_id": "$redaction"})),
            ..Default::default()
        };
        let client = format_client_event(&event, &RoomVersionRules::V11, extras, 1000).unwrap();
        assert_eq!(client["content"], json!({}));
        assert_eq!(
            client["unsigned"]["redacted_because"]["event_id"],
            "$redaction"
        );
    }
}
