//! Filters (`POST /user/{userId}/filter`, `GET /user/{userId}/filter/{filterId}`, and the `filter` parameter of
//! `/sync` and `/messages`): what a client asks the server to leave out.
//!
//! Parsing is lenient about unknown fields (the spec adds fields over time) and strict about the types of known
//! ones, so a malformed filter fails with `M_BAD_JSON` instead of silently matching everything. Matching follows
//! the spec: `not_*` lists win over allow lists, an absent allow list allows everything, and type patterns may
//! use `*` as a wildcard.

use serde::{Deserialize, Serialize};

/// Path of `POST /user/{userId}/filter` (after the version prefix).
pub const CREATE_PATH: &str = "/user/{user_id}/filter";
/// Path of `GET /user/{userId}/filter/{filterId}` (after the version prefix).
pub const GET_PATH: &str = "/user/{user_id}/filter/{filter_id}";

/// A whole filter definition.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Filter {
    /// Which fields of each event to keep (dotted paths); `None` keeps all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_fields: Option<Vec<String>>,
    /// `client` (default) or `federation`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_format: Option<EventFormat>,
    /// Filter for presence events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub presence: Option<EventFilter>,
    /// Filter for global account data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_data: Option<EventFilter>,
    /// Filters for everything inside rooms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room: Option<RoomFilter>,
}

/// The format events are returned in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventFormat {
    /// The client format (the default).
    Client,
    /// The raw federation PDU.
    Federation,
}

/// A filter on events outside rooms (presence, global account data).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EventFilter {
    /// Maximum number of events to return.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
    /// Senders to leave out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_senders: Option<Vec<String>>,
    /// Event types to leave out (`*` wildcards).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_types: Option<Vec<String>>,
    /// Only these senders, if given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub senders: Option<Vec<String>>,
    /// Only these event types (`*` wildcards), if given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub types: Option<Vec<String>>,
}

/// Filters for the rooms part of a sync.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RoomFilter {
    /// Per-room account data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_data: Option<RoomEventFilter>,
    /// Typing notifications and receipts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ephemeral: Option<RoomEventFilter>,
    /// Whether rooms the user left are included (default false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include_leave: Option<bool>,
    /// Rooms to leave out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_rooms: Option<Vec<String>>,
    /// Only these rooms, if given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rooms: Option<Vec<String>>,
    /// The `state` section.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<RoomEventFilter>,
    /// The `timeline` section.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeline: Option<RoomEventFilter>,
}

/// A filter on room events.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RoomEventFilter {
    /// Maximum number of events to return.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
    /// Senders to leave out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_senders: Option<Vec<String>>,
    /// Event types to leave out (`*` wildcards).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_types: Option<Vec<String>>,
    /// Only these senders, if given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub senders: Option<Vec<String>>,
    /// Only these event types (`*` wildcards), if given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub types: Option<Vec<String>>,
    /// Rooms to leave out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_rooms: Option<Vec<String>>,
    /// Only these rooms, if given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rooms: Option<Vec<String>>,
    /// `true`: only events with a `url` in their content; `false`: only events without.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contains_url: Option<bool>,
    /// Send member events only for the senders of returned events.
    #[serde(default)]
    pub lazy_load_members: bool,
    /// With lazy loading: resend member events the client may already have.
    #[serde(default)]
    pub include_redundant_members: bool,
    /// Ask for per-thread unread counts.
    #[serde(default)]
    pub unread_thread_notifications: bool,
}

/// The response of `POST /user/{userId}/filter`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateFilterResponse {
    /// The new filter's ID, to pass as `filter` to `/sync`.
    pub filter_id: String,
}

/// Whether `value` matches a type pattern where `*` matches any run of characters.
pub fn type_matches(pattern: &str, value: &str) -> bool {
    let Some((head, rest)) = pattern.split_once('*') else {
        return pattern == value;
    };
    let Some(mut remainder) = value.strip_prefix(head) else {
        return false;
    };
    let mut pieces: Vec<&str> = rest.split('*').collect();
    let tail = pieces.pop().unwrap_or_default();
    for piece in pieces {
        match remainder.find(piece) {
            Some(index) => remainder = &remainder[index + piece.len()..],
            None => return false,
        }
    }
    remainder.len() >= tail.len() && remainder.ends_with(tail)
}

/// The spec's allow/deny rule: denied if in `not`, else allowed if `allow` is absent or contains it.
fn allowed(
    value: &str,
    allow: Option<&[String]>,
    deny: Option<&[String]>,
    matches: fn(&str, &str) -> bool,
) -> bool {
    if deny.is_some_and(|deny| deny.iter().any(|pattern| matches(pattern, value))) {
        return false;
    }
    allow.is_none_or(|allow| allow.iter().any(|pattern| matches(pattern, value)))
}

fn equals(pattern: &str, value: &str) -> bool {
    pattern == value
}

impl EventFilter {
    /// Whether an event of `event_type` from `sender` passes.
    pub fn allows(&self, event_type: &str, sender: Option<&str>) -> bool {
        allowed(
            event_type,
            self.types.as_deref(),
            self.not_types.as_deref(),
            type_matches,
        ) && sender.is_none_or(|sender| {
            allowed(
                sender,
                self.senders.as_deref(),
                self.not_senders.as_deref(),
                equals,
            )
        })
    }
}

impl RoomEventFilter {
    /// Whether an event of `event_type` from `sender` in `room_id` passes (`contains_url` is checked by
    /// [`RoomEventFilter::allows_content`]).
    pub fn allows(&self, room_id: &str, event_type: &str, sender: &str) -> bool {
        allowed(
            room_id,
            self.rooms.as_deref(),
            self.not_rooms.as_deref(),
            equals,
        ) && allowed(
            event_type,
            self.types.as_deref(),
            self.not_types.as_deref(),
            type_matches,
        ) && allowed(
            sender,
            self.senders.as_deref(),
            self.not_senders.as_deref(),
            equals,
        )
    }

    /// Whether the event's content passes `contains_url`.
    pub fn allows_content(&self, content: &serde_json::Value) -> bool {
        match self.contains_url {
            None => true,
            Some(wanted) => content.get("url").is_some() == wanted,
        }
    }
}

impl RoomFilter {
    /// Whether the room is included at all.
    pub fn allows_room(&self, room_id: &str) -> bool {
        allowed(
            room_id,
            self.rooms.as_deref(),
            self.not_rooms.as_deref(),
            equals,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcard_type_patterns_match_like_the_spec_says() {
        assert!(type_matches("m.*", "m.room.message"));
        assert!(type_matches("*", "anything"));
        assert!(type_matches("m.room.*.x", "m.room.a.b.x"));
        assert!(type_matches("m.room.message", "m.room.message"));
        assert!(!type_matches("m.room.message", "m.room.messages"));
        assert!(!type_matches("m.*.x", "m.room.y"));
        assert!(!type_matches("a*a", "a"));
    }

    #[test]
    fn not_lists_win_over_allow_lists() {
        let filter: RoomEventFilter = serde_json::from_value(serde_json::json!({
            "types": ["m.*"], "not_types": ["m.room.member"], "not_senders": ["@spam:x"]
        }))
        .unwrap();
        assert!(filter.allows("!r:x", "m.room.message", "@a:x"));
        assert!(!filter.allows("!r:x", "m.room.member", "@a:x"));
        assert!(!filter.allows("!r:x", "m.room.message", "@spam:x"));
        assert!(!filter.allows("!r:x", "org.custom", "@a:x"));
    }

    #[test]
    fn unknown_fields_are_ignored_and_wrong_types_rejected() {
        let filter: Filter = serde_json::from_value(serde_json::json!({
            "room": {"timeline": {"limit": 10, "lazy_load_members": true}, "future_field": 1}
        }))
        .unwrap();
        let timeline = filter.room.unwrap().timeline.unwrap();
        assert_eq!(timeline.limit, Some(10));
        assert!(timeline.lazy_load_members);
        assert!(
            serde_json::from_value::<Filter>(serde_json::json!({"room": {"rooms": "!a:x"}}))
                .is_err()
        );
        assert!(
            serde_json::from_value::<Filter>(
                serde_json::json!({"room": {"timeline": {"limit": -1}}})
            )
            .is_err()
        );
    }

    #[test]
    fn contains_url_selects_on_content() {
        let filter = RoomEventFilter {
            contains_url: Some(true),
            ..RoomEventFilter::default()
        };
        assert!(filter.allows_content(&serde_json::json!({"url": "mxc://a/b"})));
        assert!(!filter.allows_content(&serde_json::json!({"body": "x"})));
    }
}
