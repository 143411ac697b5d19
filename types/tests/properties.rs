//! Property tests over the public API: identifier parsers never panic and round-trip, redaction is
//! idempotent and never keeps more than the spec allows, and signing then verifying always succeeds.

use hearth_crypto::keys::SigningKey;
use hearth_types::pdu::{VerifiedEvent, hash_and_sign_event, verify_event};
use hearth_types::redaction::{redact, redact_in_place};
use hearth_types::{
    DeviceId, EventId, KeyId, RoomAliasId, RoomId, RoomVersionRules, ServerName, UserId,
};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

/// Checks that a successful parse keeps the input verbatim and survives serde.
fn round_trips<T>(
    input: &str,
    parsed: Result<T, hearth_types::IdError>,
) -> Result<(), TestCaseError>
where
    T: AsRef<str> + serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
{
    if let Ok(id) = parsed {
        prop_assert_eq!(id.as_ref(), input);
        let json = serde_json::to_string(&id).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let back: T =
            serde_json::from_str(&json).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(back, id);
    }
    Ok(())
}

fn server_name() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z0-9-]{1,20}(\\.[a-z0-9-]{1,20}){0,3}(:[0-9]{1,4})?",
        "[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}(:[0-9]{1,4})?",
        Just("[::1]:8448".to_owned()),
        Just("[1234:5678::abcd]".to_owned()),
    ]
}

/// Arbitrary JSON, a few levels deep.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (-1000i64..1000).prop_map(|n| json!(n)),
        "[a-z ]{0,8}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{1,6}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

const EVENT_TYPES: &[&str] = &[
    "m.room.member",
    "m.room.create",
    "m.room.join_rules",
    "m.room.power_levels",
    "m.room.aliases",
    "m.room.history_visibility",
    "m.room.redaction",
    "m.room.message",
];

const CONTENT_KEYS: &[&str] = &[
    "membership",
    "join_authorised_via_users_server",
    "third_party_invite",
    "creator",
    "join_rule",
    "allow",
    "ban",
    "invite",
    "users",
    "aliases",
    "history_visibility",
    "redacts",
    "body",
];

fn event() -> impl Strategy<Value = Value> {
    let top_keys = prop::sample::subsequence(
        vec![
            "origin",
            "membership",
            "prev_state",
            "unsigned",
            "redacts",
            "extra",
            "state_key",
            "event_id",
        ],
        0..8,
    );
    let content =
        prop::collection::btree_map(prop::sample::select(CONTENT_KEYS), json_value(), 0..6);
    (
        prop::sample::select(EVENT_TYPES),
        top_keys,
        content,
        json_value(),
    )
        .prop_map(|(ty, keys, content, v)| {
            let mut event = json!({"type": ty, "sender": "@a:x", "room_id": "!r:x", "depth": 1,
                               "origin_server_ts": 2, "prev_events": [], "auth_events": []});
            for key in keys {
                event[key] = v.clone();
            }
            event["content"] = Value::Object(
                content
                    .into_iter()
                    .map(|(k, v)| (k.to_owned(), v))
                    .collect(),
            );
            event
        })
}

fn any_rules() -> impl Strategy<Value = RoomVersionRules> {
    prop::sample::select(RoomVersionRules::ALL.to_vec())
}

proptest! {
    #[test]
    fn identifier_parsers_never_panic_and_round_trip(s in "\\PC{0,40}|[@!$#][a-zA-Z0-9:._\\[\\]-]{0,40}") {
        round_trips(&s, ServerName::parse(&s))?;
        round_trips(&s, UserId::parse(&s))?;
        round_trips(&s, RoomId::parse(&s))?;
        round_trips(&s, EventId::parse(&s))?;
        round_trips(&s, RoomAliasId::parse(&s))?;
        round_trips(&s, DeviceId::parse(&s))?;
        round_trips(&s, KeyId::parse(&s))?;
    }

    #[test]
    fn compliant_user_ids_parse_and_split(localpart in "[a-z0-9._=/+-]{1,40}", server in server_name()) {
        let id = format!("@{localpart}:{server}");
        let user = UserId::parse_for_registration(&id).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(user.localpart(), localpart.as_str());
        prop_assert_eq!(user.server_name().as_str(), server.as_str());
        prop_assert!(!user.is_historical());
    }

    #[test]
    fn redaction_is_idempotent_and_agrees_in_place(event in event(), rules in any_rules()) {
        let once = redact(&event, &rules).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let twice = redact(&once, &rules).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(&twice, &once);
        let mut in_place = event.clone();
        redact_in_place(&mut in_place, &rules).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(&in_place, &once);
        prop_assert!(once.get("unsigned").is_none());
        prop_assert!(once.get("redacts").is_none());
        if !rules.redaction.keep_origin_membership_prev_state {
            prop_assert!(once.get("origin").is_none() && once.get("membership").is_none());
        }
        let kept_content = once["content"].as_object().map_or(0, Map::len);
        prop_assert!(kept_content <= event["content"].as_object().map_or(0, Map::len));
        if event["type"] == "m.room.message" {
            prop_assert_eq!(kept_content, 0);
        }
    }

    #[test]
    fn signed_events_verify_in_every_version(content in json_value(), rules in any_rules()) {
        let key = SigningKey::from_seed("1", &[3; 32]).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let server = ServerName::parse("x").map_err(|e| TestCaseError::fail(e.to_string()))?;
        let mut event = json!({"type": "m.room.message", "sender": "@a:x", "depth": 1, "origin_server_ts": 2,
                               "prev_events": [], "auth_events": [], "content": {"c": content}});
        if !rules.authorization.room_id_is_create_event_hash {
            event["room_id"] = json!("!r:x");
        }
        if !rules.event_id_format.is_hash_based() {
            event["event_id"] = json!("$e:x");
        }
        hash_and_sign_event(&mut event, &rules, &server, &key).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let verify_key = key.verify_key();
        let outcome = verify_event(&event, &rules, |_, _| Some(verify_key))
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(outcome, VerifiedEvent::Valid);
    }
}
