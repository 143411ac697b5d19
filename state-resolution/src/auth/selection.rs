//! The auth events selection (server-server API, "Auth events selection"): which state entries an
//! event's `auth_events` must come from, and therefore which state the auth rules may look at.

use hearth_types::RoomVersionRules;
use serde_json::Value;

use crate::content::Membership;
use crate::event::types;

/// A state key: `(event type, state key)`.
pub type StateKey = (String, String);

/// The `(type, state_key)` pairs whose current state events belong in the `auth_events` of a new event
/// with these fields, in a stable order without duplicates.
///
/// Used both to build new events (look each pair up in the current state) and to check received ones
/// (rule 3.2 rejects auth events outside this list). Malformed optional content (a third-party invite
/// without a string token, say) simply adds nothing: the auth rules reject such events on their own.
pub fn auth_types_for_event(
    rules: &RoomVersionRules,
    event_type: &str,
    sender: &str,
    state_key: Option<&str>,
    content: &Value,
) -> Vec<StateKey> {
    if event_type == types::CREATE {
        return Vec::new();
    }
    let mut keys: Vec<StateKey> = Vec::with_capacity(6);
    let mut push = |event_type: &str, state_key: &str| {
        if !keys.iter().any(|(t, k)| t == event_type && k == state_key) {
            keys.push((event_type.to_owned(), state_key.to_owned()));
        }
    };
    if !rules.authorization.room_id_is_create_event_hash {
        push(types::CREATE, "");
    }
    push(types::POWER_LEVELS, "");
    push(types::MEMBER, sender);
    if event_type == types::MEMBER {
        if let Some(target) = state_key {
            push(types::MEMBER, target);
        }
        let membership = Membership::of_content(content);
        if matches!(
            membership,
            Membership::Join | Membership::Invite | Membership::Knock
        ) {
            push(types::JOIN_RULES, "");
        }
        if membership == Membership::Invite
            && let Some(token) = content
                .get("third_party_invite")
                .and_then(|invite| invite.get("signed"))
                .and_then(|signed| signed.get("token"))
                .and_then(Value::as_str)
        {
            push(types::THIRD_PARTY_INVITE, token);
        }
        if membership == Membership::Join
            && rules.authorization.restricted_join_rule
            && let Some(authoriser) = content
                .get("join_authorised_via_users_server")
                .and_then(Value::as_str)
        {
            push(types::MEMBER, authoriser);
        }
    }
    keys
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn keys(
        rules: &RoomVersionRules,
        event_type: &str,
        state_key: Option<&str>,
        content: Value,
    ) -> Vec<String> {
        auth_types_for_event(rules, event_type, "@alice:x", state_key, &content)
            .into_iter()
            .map(|(t, k)| format!("{t}|{k}"))
            .collect()
    }

    #[test]
    fn create_events_have_no_auth_events() {
        assert!(keys(&RoomVersionRules::V10, "m.room.create", Some(""), json!({})).is_empty());
    }

    #[test]
    fn ordinary_events_need_create_power_levels_and_sender_membership() {
        assert_eq!(
            keys(&RoomVersionRules::V11, "m.room.message", None, json!({})),
            [
                "m.room.create|",
                "m.room.power_levels|",
                "m.room.member|@alice:x"
            ]
        );
    }

    #[test]
    fn v12_never_selects_the_create_event() {
        assert_eq!(
            keys(&RoomVersionRules::V12, "m.room.message", None, json!({})),
            ["m.room.power_levels|", "m.room.member|@alice:x"]
        );
    }

    #[test]
    fn invites_with_third_party_tokens_select_the_invite_event() {
        let content =
            json!({"membership": "invite", "third_party_invite": {"signed": {"token": "tok"}}});
        assert_eq!(
            keys(
                &RoomVersionRules::V6,
                "m.room.member",
                Some("@bob:y"),
                content
            ),
            [
                "m.room.create|",
                "m.room.power_levels|",
                "m.room.member|@alice:x",
                "m.room.member|@bob:y",
                "m.room.join_rules|",
                "m.room.third_party_invite|tok"
            ]
        );
    }

    #[test]
    fn restricted_joins_select_the_authorising_member_only_where_supported() {
        let content = json!({"membership": "join", "join_authorised_via_users_server": "@mod:z"});
        let v8 = keys(
            &RoomVersionRules::V8,
            "m.room.member",
            Some("@alice:x"),
            content.clone(),
        );
        assert!(v8.contains(&"m.room.member|@mod:z".to_owned()));
        let v7 = keys(
            &RoomVersionRules::V7,
            "m.room.member",
            Some("@alice:x"),
            content,
        );
        assert!(!v7.contains(&"m.room.member|@mod:z".to_owned()));
        assert_eq!(v7.len(), 4, "no duplicate sender/target entry: {v7:?}");
    }

    #[test]
    fn leaves_do_not_select_join_rules_and_malformed_tokens_add_nothing() {
        let leave = keys(
            &RoomVersionRules::V10,
            "m.room.member",
            Some("@bob:y"),
            json!({"membership": "leave"}),
        );
        assert!(!leave.iter().any(|k| k.starts_with("m.room.join_rules")));
        let bad_token =
            json!({"membership": "invite", "third_party_invite": {"signed": {"token": 7}}});
        let invite = keys(
            &RoomVersionRules::V10,
            "m.room.member",
            Some("@bob:y"),
            bad_token,
        );
        assert!(
            !invite
                .iter()
                .any(|k| k.starts_with("m.room.third_party_invite"))
        );
    }
}
