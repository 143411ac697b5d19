//! The spec's server-default push rules (v1.17 and later: mentions through `m.mentions`, not the body), as the
//! `m.push_rules` content a new user starts with.

use serde_json::{Map, Value, json};

/// The spec's server-default push rules for `user_id` ("Default Override Rules" and "Default Underride Rules"),
/// as the content of `m.push_rules`.
pub fn default_rules(user_id: &str) -> Map<String, Value> {
    fn rule(rule_id: &str, enabled: bool, conditions: Value, actions: Value) -> Value {
        json!({
            "rule_id": rule_id,
            "default": true,
            "enabled": enabled,
            "conditions": conditions,
            "actions": actions,
        })
    }
    fn event_match(key: &str, pattern: &str) -> Value {
        json!({ "kind": "event_match", "key": key, "pattern": pattern })
    }
    let sound = |value: &str| json!({ "set_tweak": "sound", "value": value });
    let highlight = json!({ "set_tweak": "highlight" });
    let one_to_one = json!({ "kind": "room_member_count", "is": "2" });

    let overrides = vec![
        rule(".m.rule.master", false, json!([]), json!([])),
        rule(
            ".m.rule.suppress_notices",
            true,
            json!([event_match("content.msgtype", "m.notice")]),
            json!([]),
        ),
        rule(
            ".m.rule.invite_for_me",
            true,
            json!([
                event_match("type", "m.room.member"),
                event_match("content.membership", "invite"),
                event_match("state_key", user_id),
            ]),
            json!(["notify", sound("default")]),
        ),
        rule(
            ".m.rule.member_event",
            true,
            json!([event_match("type", "m.room.member")]),
            json!([]),
        ),
        rule(
            ".m.rule.is_user_mention",
            true,
            json!([{
                "kind": "event_property_contains",
                "key": "content.m\\.mentions.user_ids",
                "value": user_id,
            }]),
            json!(["notify", sound("default"), highlight.clone()]),
        ),
        rule(
            ".m.rule.is_room_mention",
            true,
            json!([
                { "kind": "event_property_is", "key": "content.m\\.mentions.room", "value": true },
                { "kind": "sender_notification_permission", "key": "room" },
            ]),
            json!(["notify", highlight.clone()]),
        ),
        rule(
            ".m.rule.tombstone",
            true,
            json!([
                event_match("type", "m.room.tombstone"),
                event_match("state_key", "")
            ]),
            json!(["notify", highlight]),
        ),
        rule(
            ".m.rule.reaction",
            true,
            json!([event_match("type", "m.reaction")]),
            json!([]),
        ),
        rule(
            ".m.rule.room.server_acl",
            true,
            json!([
                event_match("type", "m.room.server_acl"),
                event_match("state_key", "")
            ]),
            json!([]),
        ),
        rule(
            ".m.rule.suppress_edits",
            true,
            json!([{
                "kind": "event_property_is",
                "key": "content.m\\.relates_to.rel_type",
                "value": "m.replace",
            }]),
            json!([]),
        ),
    ];
    let underrides = vec![
        rule(
            ".m.rule.call",
            true,
            json!([event_match("type", "m.call.invite")]),
            json!(["notify", sound("ring")]),
        ),
        rule(
            ".m.rule.encrypted_room_one_to_one",
            true,
            json!([one_to_one.clone(), event_match("type", "m.room.encrypted")]),
            json!(["notify", sound("default")]),
        ),
        rule(
            ".m.rule.room_one_to_one",
            true,
            json!([one_to_one, event_match("type", "m.room.message")]),
            json!(["notify", sound("default")]),
        ),
        rule(
            ".m.rule.message",
            true,
            json!([event_match("type", "m.room.message")]),
            json!(["notify"]),
        ),
        rule(
            ".m.rule.encrypted",
            true,
            json!([event_match("type", "m.room.encrypted")]),
            json!(["notify"]),
        ),
    ];
    let mut global = Map::new();
    global.insert("override".to_owned(), Value::Array(overrides));
    global.insert("content".to_owned(), json!([]));
    global.insert("room".to_owned(), json!([]));
    global.insert("sender".to_owned(), json!([]));
    global.insert("underride".to_owned(), Value::Array(underrides));
    let mut content = Map::new();
    content.insert("global".to_owned(), Value::Object(global));
    content
}
