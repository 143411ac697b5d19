//! The redaction algorithm: which parts of an event survive a redaction, per room version.
//!
//! Redaction serves two purposes: removing content when an `m.room.redaction` is applied, and defining
//! the part of an event that signatures and reference hashes cover. Both must agree bit for bit with
//! every other server, so the algorithm is driven only by the room version's [`RedactionRules`]
//! (spec: `content/rooms/fragments/v1-redactions.md`, `v6-`, `v9-`, `v11-redactions.md`).
//!
//! The redacted form keeps no `unsigned` data: the spec's keep list does not include it. Servers that
//! serve redacted events to clients add `unsigned.redacted_because` (and similar) afterwards.

use serde_json::{Map, Value};

use crate::error::Error;
use crate::room_version::{RedactionRules, RoomVersionRules};

/// Top-level keys every room version keeps.
const KEPT_TOP_LEVEL_KEYS: &[&str] = &[
    "event_id",
    "type",
    "room_id",
    "sender",
    "state_key",
    "content",
    "hashes",
    "signatures",
    "depth",
    "prev_events",
    "auth_events",
    "origin_server_ts",
];

/// Top-level keys kept only while [`RedactionRules::keep_origin_membership_prev_state`] holds (v1–v10).
const LEGACY_TOP_LEVEL_KEYS: &[&str] = &["origin", "membership", "prev_state"];

/// `m.room.power_levels` content keys kept in every room version.
const POWER_LEVELS_KEYS: &[&str] = &[
    "ban",
    "events",
    "events_default",
    "kick",
    "redact",
    "state_default",
    "users",
    "users_default",
];

/// Returns the redacted copy of `event` under `rules`, leaving `event` untouched. Only the kept parts
/// are copied, so redacting a large message costs little.
///
/// Fails if `event` is not an object or its `content` is present but not an object. An absent
/// `content` stays absent (adding one would change the event's hashes).
pub fn redact(event: &Value, rules: &RoomVersionRules) -> Result<Value, Error> {
    let object = event.as_object().ok_or(Error::NotAnObject)?;
    let rules = &rules.redaction;
    let mut redacted = Map::new();
    for (key, value) in object {
        if key == "content" {
            let content = value.as_object().ok_or(Error::InvalidField("content"))?;
            let event_type = object
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or_default();
            redacted.insert(
                key.clone(),
                Value::Object(redacted_content(event_type, content, rules)),
            );
        } else if is_kept_top_level_key(key, rules) {
            redacted.insert(key.clone(), value.clone());
        }
    }
    Ok(Value::Object(redacted))
}

/// Redacts `event` in place; on error the event is unchanged. Cheaper than [`redact`] when the caller
/// owns the event and no longer needs the full form (e.g. when applying a redaction to stored JSON).
pub fn redact_in_place(event: &mut Value, rules: &RoomVersionRules) -> Result<(), Error> {
    let object = event.as_object_mut().ok_or(Error::NotAnObject)?;
    if object
        .get("content")
        .is_some_and(|content| !content.is_object())
    {
        return Err(Error::InvalidField("content"));
    }
    let rules = &rules.redaction;
    object.retain(|key, _| is_kept_top_level_key(key, rules));
    let event_type = object
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    if let Some(Value::Object(content)) = object.get_mut("content") {
        let kept = redacted_content(&event_type, content, rules);
        *content = kept;
    }
    Ok(())
}

/// The content that survives redaction of an event of type `event_type`: the keys the room version
/// keeps for that type, nothing for other types. Useful on its own when serving redacted events.
pub fn redacted_content(
    event_type: &str,
    content: &Map<String, Value>,
    rules: &RedactionRules,
) -> Map<String, Value> {
    let mut kept = Map::new();
    for (key, value) in content {
        if event_type == "m.room.member" && key == "third_party_invite" {
            if let Some(signed) = kept_third_party_invite(value, rules) {
                kept.insert(key.clone(), signed);
            }
        } else if is_kept_content_key(event_type, key, rules) {
            kept.insert(key.clone(), value.clone());
        }
    }
    kept
}

/// Whether a top-level key survives redaction.
fn is_kept_top_level_key(key: &str, rules: &RedactionRules) -> bool {
    KEPT_TOP_LEVEL_KEYS.contains(&key)
        || (rules.keep_origin_membership_prev_state && LEGACY_TOP_LEVEL_KEYS.contains(&key))
}

/// Whether `content.<key>` of an event of `event_type` survives redaction (all keys but
/// `m.room.member`'s `third_party_invite`, which is handled by [`kept_third_party_invite`]).
fn is_kept_content_key(event_type: &str, key: &str, rules: &RedactionRules) -> bool {
    match event_type {
        "m.room.member" => {
            key == "membership"
                || (rules.keep_member_join_authorised_via_users_server
                    && key == "join_authorised_via_users_server")
        }
        "m.room.create" => rules.keep_all_create_content || key == "creator",
        "m.room.join_rules" => {
            key == "join_rule" || (rules.keep_join_rules_allow && key == "allow")
        }
        "m.room.power_levels" => {
            POWER_LEVELS_KEYS.contains(&key) || (rules.keep_power_levels_invite && key == "invite")
        }
        "m.room.aliases" => rules.keep_room_aliases_aliases && key == "aliases",
        "m.room.history_visibility" => key == "history_visibility",
        "m.room.redaction" => rules.keep_redaction_redacts && key == "redacts",
        _ => false,
    }
}

/// The redacted `third_party_invite` of a member event: `{"signed": …}` alone where the room version
/// keeps it (v11+) and the original has one; otherwise the key is dropped.
fn kept_third_party_invite(value: &Value, rules: &RedactionRules) -> Option<Value> {
    if !rules.keep_member_third_party_invite_signed {
        return None;
    }
    let signed = value.as_object()?.get("signed")?;
    let mut kept = Map::new();
    kept.insert("signed".to_owned(), signed.clone());
    Some(Value::Object(kept))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn redacted(event: &Value, rules: &RoomVersionRules) -> Value {
        let copy = redact(event, rules).unwrap();
        let mut in_place = event.clone();
        redact_in_place(&mut in_place, rules).unwrap();
        assert_eq!(copy, in_place, "redact and redact_in_place must agree");
        copy
    }

    fn state_event(event_type: &str, content: Value) -> Value {
        json!({
            "type": event_type,
            "state_key": "",
            "sender": "@a:x",
            "room_id": "!r:x",
            "origin": "x",
            "origin_server_ts": 1,
            "depth": 2,
            "membership": "join",
            "prev_state": [],
            "prev_events": [],
            "auth_events": [],
            "hashes": {"sha256": "h"},
            "signatures": {"x": {"ed25519:1": "s"}},
            "unsigned": {"age": 5, "redacted_because": {}},
            "redacts": "$e:x",
            "extra": true,
            "content": content,
        })
    }

    #[test]
    fn strips_unknown_top_level_keys_unsigned_and_message_content() {
        let event = json!({
            "type": "m.room.message", "sender": "@a:x", "room_id": "!r:x", "event_id": "$e:x",
            "content": {"body": "hi", "msgtype": "m.text"}, "unsigned": {"age": 1}, "custom": 1,
        });
        for rules in RoomVersionRules::ALL {
            let out = redacted(&event, &rules);
            assert_eq!(
                out,
                json!({"type": "m.room.message", "sender": "@a:x", "room_id": "!r:x", "event_id": "$e:x", "content": {}}),
                "v{}",
                rules.id
            );
        }
    }

    #[test]
    fn top_level_redacts_is_dropped_in_every_version() {
        let event = state_event("m.room.redaction", json!({}));
        for rules in RoomVersionRules::ALL {
            assert!(
                redacted(&event, &rules).get("redacts").is_none(),
                "v{}",
                rules.id
            );
        }
    }

    #[test]
    fn v11_drops_origin_membership_and_prev_state() {
        let event = state_event("m.room.topic", json!({"topic": "t"}));
        let v10 = redacted(&event, &RoomVersionRules::V10);
        for key in ["origin", "membership", "prev_state"] {
            assert!(v10.get(key).is_some(), "v10 keeps {key}");
        }
        let v11 = redacted(&event, &RoomVersionRules::V11);
        for key in [
            "origin",
            "membership",
            "prev_state",
            "unsigned",
            "extra",
            "redacts",
        ] {
            assert!(v11.get(key).is_none(), "v11 drops {key}");
        }
        for key in [
            "type",
            "state_key",
            "sender",
            "room_id",
            "origin_server_ts",
            "depth",
            "hashes",
            "signatures",
        ] {
            assert!(v11.get(key).is_some(), "v11 keeps {key}");
        }
        assert_eq!(v11["content"], json!({}));
    }

    #[test]
    fn v6_drops_aliases_content() {
        let event = state_event("m.room.aliases", json!({"aliases": ["#a:x"], "other": 1}));
        assert_eq!(
            redacted(&event, &RoomVersionRules::V5)["content"],
            json!({"aliases": ["#a:x"]})
        );
        assert_eq!(
            redacted(&event, &RoomVersionRules::V6)["content"],
            json!({})
        );
    }

    #[test]
    fn v8_keeps_join_rules_allow() {
        let allow = json!([{"type": "m.room_membership", "room_id": "!s:x"}]);
        let event = state_event(
            "m.room.join_rules",
            json!({"join_rule": "restricted", "allow": allow, "x": 1}),
        );
        assert_eq!(
            redacted(&event, &RoomVersionRules::V7)["content"],
            json!({"join_rule": "restricted"})
        );
        assert_eq!(
            redacted(&event, &RoomVersionRules::V8)["content"],
            json!({"join_rule": "restricted", "allow": allow})
        );
    }

    #[test]
    fn v9_keeps_join_authorised_via_users_server() {
        let event = state_event(
            "m.room.member",
            json!({"membership": "join", "join_authorised_via_users_server": "@b:y", "displayname": "A"}),
        );
        assert_eq!(
            redacted(&event, &RoomVersionRules::V8)["content"],
            json!({"membership": "join"})
        );
        assert_eq!(
            redacted(&event, &RoomVersionRules::V9)["content"],
            json!({"membership": "join", "join_authorised_via_users_server": "@b:y"})
        );
    }

    #[test]
    fn v11_keeps_all_create_content() {
        let content = json!({"creator": "@a:x", "room_version": "11", "m.federate": false, "type": "m.space"});
        let event = state_event("m.room.create", content.clone());
        assert_eq!(
            redacted(&event, &RoomVersionRules::V10)["content"],
            json!({"creator": "@a:x"})
        );
        assert_eq!(redacted(&event, &RoomVersionRules::V11)["content"], content);
    }

    #[test]
    fn v11_keeps_power_levels_invite() {
        let content = json!({
            "ban": 50, "events": {"m.room.name": 50}, "events_default": 0, "kick": 50, "redact": 50,
            "state_default": 50, "users": {"@a:x": 100}, "users_default": 0, "invite": 0,
            "notifications": {"room": 50},
        });
        let event = state_event("m.room.power_levels", content.clone());
        let mut expected_v10 = content.clone();
        let expected_v10_map = expected_v10.as_object_mut().unwrap();
        expected_v10_map.remove("invite");
        expected_v10_map.remove("notifications");
        assert_eq!(
            redacted(&event, &RoomVersionRules::V10)["content"],
            expected_v10
        );
        let mut expected_v11 = content;
        expected_v11
            .as_object_mut()
            .unwrap()
            .remove("notifications");
        assert_eq!(
            redacted(&event, &RoomVersionRules::V11)["content"],
            expected_v11
        );
    }

    #[test]
    fn v11_keeps_redaction_redacts_in_content() {
        let event = state_event(
            "m.room.redaction",
            json!({"redacts": "$e", "reason": "spam"}),
        );
        assert_eq!(
            redacted(&event, &RoomVersionRules::V10)["content"],
            json!({})
        );
        assert_eq!(
            redacted(&event, &RoomVersionRules::V11)["content"],
            json!({"redacts": "$e"})
        );
    }

    #[test]
    fn v11_keeps_only_signed_of_third_party_invite() {
        let signed =
            json!({"mxid": "@a:x", "token": "t", "signatures": {"id": {"ed25519:0": "s"}}});
        let event = state_event(
            "m.room.member",
            json!({"membership": "invite", "third_party_invite": {"display_name": "a…", "signed": signed}}),
        );
        assert_eq!(
            redacted(&event, &RoomVersionRules::V10)["content"],
            json!({"membership": "invite"})
        );
        assert_eq!(
            redacted(&event, &RoomVersionRules::V11)["content"],
            json!({"membership": "invite", "third_party_invite": {"signed": signed}})
        );
        // Without `signed` (or when not an object) the whole key goes.
        for invite in [json!({"display_name": "a"}), json!("x")] {
            let event = state_event(
                "m.room.member",
                json!({"membership": "invite", "third_party_invite": invite}),
            );
            assert_eq!(
                redacted(&event, &RoomVersionRules::V11)["content"],
                json!({"membership": "invite"})
            );
        }
    }

    #[test]
    fn v12_create_without_room_id_keeps_additional_creators() {
        let content = json!({"room_version": "12", "additional_creators": ["@b:y", "@c:z"]});
        let mut event = state_event("m.room.create", content.clone());
        event.as_object_mut().unwrap().remove("room_id");
        let out = redacted(&event, &RoomVersionRules::V12);
        assert_eq!(out["content"], content);
        assert!(out.get("room_id").is_none());
        assert_eq!(out, redacted(&event, &RoomVersionRules::V11));
    }

    #[test]
    fn history_visibility_is_kept_in_every_version() {
        let event = state_event(
            "m.room.history_visibility",
            json!({"history_visibility": "shared", "x": 1}),
        );
        for rules in RoomVersionRules::ALL {
            assert_eq!(
                redacted(&event, &rules)["content"],
                json!({"history_visibility": "shared"})
            );
        }
    }

    #[test]
    fn missing_content_stays_missing_and_bad_content_is_an_error() {
        let event = json!({"type": "m.room.message", "sender": "@a:x"});
        assert_eq!(redacted(&event, &RoomVersionRules::V11), event);
        let mut bad = json!({"type": "m.room.message", "content": "x"});
        assert!(matches!(
            redact(&bad, &RoomVersionRules::V11),
            Err(Error::InvalidField("content"))
        ));
        let before = bad.clone();
        assert!(redact_in_place(&mut bad, &RoomVersionRules::V11).is_err());
        assert_eq!(bad, before);
        assert!(matches!(
            redact(&json!([]), &RoomVersionRules::V1),
            Err(Error::NotAnObject)
        ));
    }

    #[test]
    fn redaction_is_idempotent() {
        let event = state_event(
            "m.room.member",
            json!({"membership": "join", "avatar_url": "mxc://x/y"}),
        );
        for rules in RoomVersionRules::ALL {
            let once = redacted(&event, &rules);
            assert_eq!(redacted(&once, &rules), once, "v{}", rules.id);
        }
    }
}
