//! [`Pdu`]: a received or stored event with its routing and auth fields parsed once, and the JSON kept
//! exactly as it arrived.
//!
//! Construction checks only the fields the auth rules, state resolution and the DAG need (`type`,
//! `sender`, `room_id`, `state_key`, `content`, `prev_events`, `auth_events`, `depth`,
//! `origin_server_ts`); any other field, however malformed, never makes construction fail. Room-version
//! limits (sizes, list lengths, strict canonical JSON) belong to the event-format check of the receive
//! path, not here.

use std::sync::Arc;

use serde_json::{Map, Value};

use crate::error::Error;
use crate::ids::{EventId, RoomId, UserId};
use crate::pdu::compute_event_id;
use crate::room_version::RoomVersionRules;

/// An event (PDU) with typed accessors over its JSON. Cheap to clone (one reference count).
///
/// Invariants: the JSON is an object; `type` is a string; `sender` is a valid user ID; `content` is an
/// object; `state_key`, if present, is a string; `room_id` is a valid room ID, present on every event
/// except a v12+ `m.room.create`; `prev_events` and `auth_events` are lists of valid event IDs (v1/v2:
/// `[event_id, hashes]` pairs); `depth` and `origin_server_ts` are integers.
#[derive(Clone)]
pub struct Pdu {
    inner: Arc<PduInner>,
}

struct PduInner {
    json: Value,
    event_id: EventId,
    room_id: Option<RoomId>,
    sender: UserId,
    prev_events: Vec<EventId>,
    auth_events: Vec<EventId>,
    depth: i64,
    origin_server_ts: i64,
    redacts: Option<EventId>,
}

impl Pdu {
    /// Parses a received event, deriving its ID the room version's way (the `event_id` field in
    /// v1/v2, the reference hash from v3).
    pub fn from_json(json: Value, rules: &RoomVersionRules) -> Result<Self, Error> {
        let event_id = compute_event_id(&json, rules)?;
        Self::from_json_with_id(json, event_id, rules)
    }

    /// Parses an event whose ID the caller already knows (e.g. loaded from storage under that ID),
    /// skipping the reference-hash computation. The caller vouches that `event_id` is the event's ID.
    pub fn from_json_with_id(
        json: Value,
        event_id: EventId,
        rules: &RoomVersionRules,
    ) -> Result<Self, Error> {
        let object = json.as_object().ok_or(Error::NotAnObject)?;
        let event_type = required_str(object, "type")?;
        let sender =
            UserId::parse(required_str(object, "sender")?).map_err(Error::invalid_id("sender"))?;
        if !required(object, "content")?.is_object() {
            return Err(Error::InvalidField("content"));
        }
        if object.get("state_key").is_some_and(|key| !key.is_string()) {
            return Err(Error::InvalidField("state_key"));
        }
        let room_id = match object.get("room_id") {
            Some(room_id) => {
                let room_id = room_id.as_str().ok_or(Error::InvalidField("room_id"))?;
                Some(RoomId::parse(room_id).map_err(Error::invalid_id("room_id"))?)
            }
            None if rules.authorization.room_id_is_create_event_hash
                && event_type == "m.room.create" =>
            {
                None
            }
            None => return Err(Error::MissingField("room_id")),
        };
        let pairs = !rules.event_id_format.is_hash_based();
        let prev_events = event_id_list(object, "prev_events", pairs)?;
        let auth_events = event_id_list(object, "auth_events", pairs)?;
        let depth = required(object, "depth")?
            .as_i64()
            .ok_or(Error::InvalidField("depth"))?;
        let origin_server_ts = required(object, "origin_server_ts")?
            .as_i64()
            .ok_or(Error::InvalidField("origin_server_ts"))?;
        let redacts = redacts_field(object, event_type, rules);
        Ok(Self {
            inner: Arc::new(PduInner {
                event_id,
                room_id,
                sender,
                prev_events,
                auth_events,
                depth,
                origin_server_ts,
                redacts,
                json,
            }),
        })
    }

    /// The whole event exactly as received: what gets stored, forwarded and served.
    pub fn json(&self) -> &Value {
        &self.inner.json
    }

    /// The event's ID.
    pub fn event_id(&self) -> &EventId {
        &self.inner.event_id
    }

    /// The room the event belongs to, as the event states it. `None` only for v12+ create events,
    /// whose room ID is derived from their own ID (see [`Pdu::room_id_or_derived`]).
    pub fn room_id(&self) -> Option<&RoomId> {
        self.inner.room_id.as_ref()
    }

    /// The room ID, deriving it from the event ID for a v12+ create event without `room_id`.
    pub fn room_id_or_derived(&self) -> Result<RoomId, Error> {
        match &self.inner.room_id {
            Some(room_id) => Ok(room_id.clone()),
            None => RoomId::from_create_event_id(&self.inner.event_id)
                .map_err(Error::invalid_id("event_id")),
        }
    }

    /// The user who sent the event.
    pub fn sender(&self) -> &UserId {
        &self.inner.sender
    }

    /// The event type (`type`).
    pub fn event_type(&self) -> &str {
        self.object()
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }

    /// The state key; `None` for non-state (message) events.
    pub fn state_key(&self) -> Option<&str> {
        self.object().get("state_key").and_then(Value::as_str)
    }

    /// Whether this is a state event (has a `state_key`, possibly empty).
    pub fn is_state(&self) -> bool {
        self.state_key().is_some()
    }

    /// The event content; always a JSON object.
    pub fn content(&self) -> &Value {
        self.object()
            .get("content")
            .unwrap_or_else(|| empty_object())
    }

    /// The event content as a map.
    pub fn content_object(&self) -> &Map<String, Value> {
        self.content().as_object().unwrap_or_else(|| empty_map())
    }

    /// `content.membership` of an `m.room.member` event, if it is a string.
    pub fn membership(&self) -> Option<&str> {
        match self.event_type() {
            "m.room.member" => self
                .content_object()
                .get("membership")
                .and_then(Value::as_str),
            _ => None,
        }
    }

    /// The events this one follows in the DAG.
    pub fn prev_events(&self) -> &[EventId] {
        &self.inner.prev_events
    }

    /// The events that authorise this one.
    pub fn auth_events(&self) -> &[EventId] {
        &self.inner.auth_events
    }

    /// `depth`: the event's height in the DAG as the sender claims it.
    pub fn depth(&self) -> i64 {
        self.inner.depth
    }

    /// `origin_server_ts` in milliseconds, as the sender claims it.
    pub fn origin_server_ts(&self) -> i64 {
        self.inner.origin_server_ts
    }

    /// For `m.room.redaction`, the event it redacts: top-level `redacts` in v1–v10, `content.redacts`
    /// from v11. `None` for other events, or when the field is absent or not a valid event ID (the
    /// redaction then has nothing to apply to).
    pub fn redacts(&self) -> Option<&EventId> {
        self.inner.redacts.as_ref()
    }

    fn object(&self) -> &Map<String, Value> {
        self.inner.json.as_object().unwrap_or_else(|| empty_map())
    }
}

/// Fallbacks for accessors whose field the constructor guarantees; never reached in practice, but they
/// keep the accessors free of panics.
fn empty_object() -> &'static Value {
    static EMPTY: std::sync::OnceLock<Value> = std::sync::OnceLock::new();
    EMPTY.get_or_init(|| Value::Object(Map::new()))
}

fn empty_map() -> &'static Map<String, Value> {
    static EMPTY: std::sync::OnceLock<Map<String, Value>> = std::sync::OnceLock::new();
    EMPTY.get_or_init(Map::new)
}

impl std::fmt::Debug for Pdu {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pdu")
            .field("event_id", &self.event_id().as_str())
            .field("type", &self.event_type())
            .field("state_key", &self.state_key())
            .field("sender", &self.sender().as_str())
            .finish_non_exhaustive()
    }
}

impl PartialEq for Pdu {
    /// Two views are equal when they are the same event with the same JSON.
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
            || (self.inner.event_id == other.inner.event_id && self.inner.json == other.inner.json)
    }
}

fn required<'a>(object: &'a Map<String, Value>, field: &'static str) -> Result<&'a Value, Error> {
    object.get(field).ok_or(Error::MissingField(field))
}

fn required_str<'a>(object: &'a Map<String, Value>, field: &'static str) -> Result<&'a str, Error> {
    required(object, field)?
        .as_str()
        .ok_or(Error::InvalidField(field))
}

/// Parses `prev_events`/`auth_events`: a list of event IDs, or in v1/v2 a list of `[event_id, hashes]`
/// pairs (only the ID is used).
fn event_id_list(
    object: &Map<String, Value>,
    field: &'static str,
    pairs: bool,
) -> Result<Vec<EventId>, Error> {
    let list = required(object, field)?
        .as_array()
        .ok_or(Error::InvalidField(field))?;
    list.iter()
        .map(|entry| {
            let id = if pairs {
                entry.as_array().and_then(|pair| pair.first())
            } else {
                Some(entry)
            };
            let id = id
                .and_then(Value::as_str)
                .ok_or(Error::InvalidField(field))?;
            EventId::parse(id).map_err(Error::invalid_id(field))
        })
        .collect()
}

/// The redacted event's ID, wherever this room version keeps it.
fn redacts_field(
    object: &Map<String, Value>,
    event_type: &str,
    rules: &RoomVersionRules,
) -> Option<EventId> {
    if event_type != "m.room.redaction" {
        return None;
    }
    let field = match rules.redacts_in_content {
        true => object.get("content")?.get("redacts")?,
        false => object.get("redacts")?,
    };
    EventId::parse(field.as_str()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn v11_message() -> Value {
        json!({
            "type": "m.room.message", "sender": "@a:x", "room_id": "!r:x", "origin_server_ts": 7, "depth": 3,
            "prev_events": ["$Rqnc-F-dvnEYJTyHq_iKxU2bZ1CI92-kuZq3a5lr5Zg"], "auth_events": [],
            "content": {"body": "hi"}, "hashes": {"sha256": "x"}, "signatures": {},
        })
    }

    #[test]
    fn exposes_typed_fields_and_keeps_the_json() {
        let json = v11_message();
        let pdu = Pdu::from_json(json.clone(), &RoomVersionRules::V11).unwrap();
        assert_eq!(pdu.json(), &json);
        assert_eq!(pdu.event_type(), "m.room.message");
        assert_eq!(pdu.sender().as_str(), "@a:x");
        assert_eq!(pdu.room_id().map(RoomId::as_str), Some("!r:x"));
        assert_eq!(pdu.state_key(), None);
        assert_eq!(pdu.prev_events().len(), 1);
        assert_eq!((pdu.depth(), pdu.origin_server_ts()), (3, 7));
        assert_eq!(pdu.content()["body"], "hi");
        assert_eq!(
            pdu.event_id(),
            &compute_event_id(&json, &RoomVersionRules::V11).unwrap()
        );
    }

    #[test]
    fn malformed_unrelated_fields_do_not_fail_construction() {
        let mut json = v11_message();
        json["unsigned"] = json!("not an object");
        json["hashes"] = json!(42);
        json["content"]["m.relates_to"] = json!(["garbage"]);
        json["redacts"] = json!(17);
        assert!(Pdu::from_json(json, &RoomVersionRules::V11).is_ok());
    }

    #[test]
    fn rejects_malformed_essential_fields() {
        let cases: [(&str, Value); 6] = [
            ("sender", json!("nobody")),
            ("type", json!(1)),
            ("content", json!([])),
            ("prev_events", json!(["not-an-id"])),
            ("depth", json!("3")),
            ("state_key", json!(null)),
        ];
        for (field, value) in cases {
            let mut json = v11_message();
            json[field] = value;
            assert!(
                Pdu::from_json(json, &RoomVersionRules::V11).is_err(),
                "{field}"
            );
        }
        let mut json = v11_message();
        json.as_object_mut().unwrap().remove("room_id");
        assert!(matches!(
            Pdu::from_json(json, &RoomVersionRules::V11),
            Err(Error::MissingField("room_id"))
        ));
    }

    #[test]
    fn v1_events_use_the_event_id_field_and_id_hash_pairs() {
        let json = json!({
            "type": "m.room.member", "state_key": "@a:x", "sender": "@a:x", "room_id": "!r:x",
            "event_id": "$e1:x", "origin_server_ts": 1, "depth": 2,
            "prev_events": [["$e0:x", {"sha256": "abc"}]], "auth_events": [["$c:x", {"sha256": "def"}]],
            "content": {"membership": "join"},
        });
        let pdu = Pdu::from_json(json, &RoomVersionRules::V1).unwrap();
        assert_eq!(pdu.event_id().as_str(), "$e1:x");
        assert_eq!(pdu.prev_events()[0].as_str(), "$e0:x");
        assert_eq!(pdu.auth_events()[0].as_str(), "$c:x");
        assert_eq!(pdu.membership(), Some("join"));
        assert!(pdu.is_state());
    }

    #[test]
    fn redacts_moves_into_content_in_v11() {
        let target = "$Rqnc-F-dvnEYJTyHq_iKxU2bZ1CI92-kuZq3a5lr5Zg";
        let mut json = v11_message();
        json["type"] = json!("m.room.redaction");
        json["redacts"] = json!(target);
        let v10 = Pdu::from_json(json.clone(), &RoomVersionRules::V10).unwrap();
        assert_eq!(v10.redacts().map(EventId::as_str), Some(target));
        assert_eq!(
            Pdu::from_json(json.clone(), &RoomVersionRules::V11)
                .unwrap()
                .redacts(),
            None
        );
        json["content"]["redacts"] = json!(target);
        let v11 = Pdu::from_json(json, &RoomVersionRules::V11).unwrap();
        assert_eq!(v11.redacts().map(EventId::as_str), Some(target));
    }

    #[test]
    fn v12_create_event_has_no_room_id_and_derives_it() {
        let json = json!({
            "type": "m.room.create", "state_key": "", "sender": "@a:x", "origin_server_ts": 1, "depth": 1,
            "prev_events": [], "auth_events": [], "content": {"room_version": "12"},
        });
        let pdu = Pdu::from_json(json.clone(), &RoomVersionRules::V12).unwrap();
        assert_eq!(pdu.room_id(), None);
        assert_eq!(
            pdu.room_id_or_derived().unwrap(),
            crate::pdu::room_id_for_v12_create_event(&json).unwrap()
        );
        // Before v12 a create event needs its room ID like any other event.
        assert!(Pdu::from_json(json, &RoomVersionRules::V11).is_err());
    }
}
