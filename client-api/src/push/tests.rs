//! Push rule evaluation against the spec's default rules, one test per rule, plus the user-defined kinds and
//! every condition kind.

use serde_json::{Value, json};

use super::*;

const ME: &str = "@me:hearth.test";
const OTHER: &str = "@other:hearth.test";
const ROOM: &str = "!room:hearth.test";

fn defaults() -> Value {
    Value::Object(default_rules(ME))
}

fn room(member_count: u64, power_levels: Option<&Value>) -> RoomContext<'_> {
    RoomContext {
        user_id: ME,
        display_name: Some("Me Myself"),
        member_count,
        power_levels,
        privileged_creators: &[],
    }
}

fn message(body: &str) -> Value {
    json!({"type": "m.room.message", "sender": OTHER, "room_id": ROOM,
           "content": {"msgtype": "m.text", "body": body}})
}

/// (rule ID, notify, highlight) of the deciding rule, or `None`.
fn outcome(rules: &Value, event: &Value, room: &RoomContext<'_>) -> Option<(String, bool, bool)> {
    evaluate(rules, event, room).map(|m| (m.rule_id.to_owned(), m.notifies(), m.highlights()))
}

fn expect(event: &Value, members: u64, rule: &str, notify: bool, highlight: bool) {
    assert_eq!(
        outcome(&defaults(), event, &room(members, None)),
        Some((rule.to_owned(), notify, highlight)),
        "{event}"
    );
}

#[test]
fn plain_message_in_a_group_notifies_without_highlight() {
    expect(&message("hello all"), 5, ".m.rule.message", true, false);
}

#[test]
fn one_to_one_messages_and_encrypted_events_use_their_rules() {
    expect(&message("hi"), 2, ".m.rule.room_one_to_one", true, false);
    let encrypted =
        json!({"type": "m.room.encrypted", "sender": OTHER, "room_id": ROOM, "content": {}});
    expect(
        &encrypted,
        2,
        ".m.rule.encrypted_room_one_to_one",
        true,
        false,
    );
    expect(&encrypted, 3, ".m.rule.encrypted", true, false);
    let rules = defaults();
    let matched = evaluate(&rules, &message("hi"), &room(2, None)).unwrap();
    assert!(
        matched
            .actions
            .contains(&json!({"set_tweak": "sound", "value": "default"}))
    );
}

#[test]
fn notices_reactions_edits_acls_and_member_events_are_silent() {
    let mut notice = message("bot says");
    notice["content"]["msgtype"] = json!("m.notice");
    expect(&notice, 5, ".m.rule.suppress_notices", false, false);
    let reaction = json!({"type": "m.reaction", "sender": OTHER, "room_id": ROOM,
        "content": {"m.relates_to": {"rel_type": "m.annotation", "event_id": "$x", "key": "👍"}}});
    expect(&reaction, 5, ".m.rule.reaction", false, false);
    let mut edit = message("* fixed");
    edit["content"]["m.relates_to"] = json!({"rel_type": "m.replace", "event_id": "$x"});
    expect(&edit, 5, ".m.rule.suppress_edits", false, false);
    let acl = json!({"type": "m.room.server_acl", "state_key": "", "sender": OTHER, "room_id": ROOM, "content": {}});
    expect(&acl, 5, ".m.rule.room.server_acl", false, false);
    let join = json!({"type": "m.room.member", "state_key": OTHER, "sender": OTHER, "room_id": ROOM,
        "content": {"membership": "join"}});
    expect(&join, 5, ".m.rule.member_event", false, false);
}

#[test]
fn an_invite_for_me_notifies_but_one_for_someone_else_does_not() {
    let invite = |target: &str| {
        json!({"type": "m.room.member", "state_key": target, "sender": OTHER, "room_id": ROOM,
               "content": {"membership": "invite"}})
    };
    expect(&invite(ME), 2, ".m.rule.invite_for_me", true, false);
    expect(
        &invite("@third:hearth.test"),
        2,
        ".m.rule.member_event",
        false,
        false,
    );
}

#[test]
fn a_user_mention_highlights() {
    let mut mention = message("hey you");
    mention["content"]["m.mentions"] = json!({"user_ids": [ME]});
    expect(&mention, 5, ".m.rule.is_user_mention", true, true);
    mention["content"]["m.mentions"] = json!({"user_ids": ["@else:hearth.test"]});
    expect(&mention, 5, ".m.rule.message", true, false);
    // The body alone no longer mentions anyone (legacy rules removed in v1.17).
    expect(
        &message("Me Myself: look"),
        5,
        ".m.rule.message",
        true,
        false,
    );
}

#[test]
fn a_room_mention_highlights_only_from_senders_with_the_notification_power() {
    let mut mention = message("@room listen");
    mention["content"]["m.mentions"] = json!({"room": true});
    let rules = defaults();
    let levels = json!({"users": {OTHER: 50}, "users_default": 0});
    assert_eq!(
        outcome(&rules, &mention, &room(5, Some(&levels))),
        Some((".m.rule.is_room_mention".to_owned(), true, true))
    );
    let levels = json!({"users": {OTHER: 10}, "users_default": 0});
    assert_eq!(
        outcome(&rules, &mention, &room(5, Some(&levels))),
        Some((".m.rule.message".to_owned(), true, false))
    );
    let levels = json!({"users_default": 0, "notifications": {"room": 0}});
    assert_eq!(
        outcome(&rules, &mention, &room(5, Some(&levels))).map(|o| o.0),
        Some(".m.rule.is_room_mention".to_owned())
    );
    // Without power levels only a privileged creator (room v12) may.
    assert_eq!(
        outcome(&rules, &mention, &room(5, None)).map(|o| o.0),
        Some(".m.rule.message".to_owned())
    );
    let creators = [OTHER];
    let context = RoomContext {
        privileged_creators: &creators,
        ..room(5, None)
    };
    assert_eq!(
        outcome(&rules, &mention, &context).map(|o| o.0),
        Some(".m.rule.is_room_mention".to_owned())
    );
    // `"room": "true"` is not `true`.
    mention["content"]["m.mentions"] = json!({"room": "true"});
    let levels = json!({"users": {OTHER: 100}});
    assert_eq!(
        outcome(&rules, &mention, &room(5, Some(&levels))).map(|o| o.0),
        Some(".m.rule.message".to_owned())
    );
}

#[test]
fn a_tombstone_highlights_and_a_call_rings() {
    let tombstone = json!({"type": "m.room.tombstone", "state_key": "", "sender": OTHER, "room_id": ROOM,
        "content": {"body": "moved", "replacement_room": "!new:hearth.test"}});
    expect(&tombstone, 5, ".m.rule.tombstone", true, true);
    let mut not_state = tombstone.clone();
    not_state.as_object_mut().unwrap().remove("state_key");
    assert_eq!(outcome(&defaults(), &not_state, &room(5, None)), None);
    let call = json!({"type": "m.call.invite", "sender": OTHER, "room_id": ROOM, "content": {}});
    expect(&call, 2, ".m.rule.call", true, false);
    let rules = defaults();
    assert!(
        evaluate(&rules, &call, &room(2, None))
            .unwrap()
            .actions
            .contains(&json!({"set_tweak": "sound", "value": "ring"}))
    );
}

#[test]
fn own_events_and_unknown_types_never_match() {
    let mut own = message("mine");
    own["sender"] = json!(ME);
    assert_eq!(outcome(&defaults(), &own, &room(5, None)), None);
    let custom =
        json!({"type": "org.example.thing", "sender": OTHER, "room_id": ROOM, "content": {}});
    assert_eq!(outcome(&defaults(), &custom, &room(5, None)), None);
}

#[test]
fn the_master_rule_when_enabled_silences_everything() {
    let mut rules = defaults();
    rules["global"]["override"][0]["enabled"] = json!(true);
    assert_eq!(
        outcome(&rules, &message("anything"), &room(2, None)),
        Some((".m.rule.master".to_owned(), false, false))
    );
}

#[test]
fn user_rules_of_every_kind_apply_in_the_specs_order() {
    let mut rules = defaults();
    rules["global"]["content"] = json!([{"rule_id": "cake", "enabled": true, "default": false, "pattern": "cake",
        "actions": ["notify", {"set_tweak": "highlight"}]}]);
    rules["global"]["room"] =
        json!([{"rule_id": ROOM, "enabled": true, "default": false, "actions": []}]);
    rules["global"]["sender"] = json!([{"rule_id": OTHER, "enabled": true, "default": false,
        "actions": ["notify", {"set_tweak": "highlight", "value": false}]}]);
    // content beats room: a word-boundary match on the body.
    assert_eq!(
        outcome(&rules, &message("who ate my cake?"), &room(5, None)),
        Some(("cake".to_owned(), true, true))
    );
    // "cupcake" is not the word "cake": the room rule (muted) decides.
    assert_eq!(
        outcome(&rules, &message("cupcakes"), &room(5, None)),
        Some((ROOM.to_owned(), false, false))
    );
    // Another room: the sender rule, whose highlight is explicitly false.
    let mut elsewhere = message("cupcakes");
    elsewhere["room_id"] = json!("!elsewhere:hearth.test");
    assert_eq!(
        outcome(&rules, &elsewhere, &room(5, None)),
        Some((OTHER.to_owned(), true, false))
    );
    // A disabled rule is skipped.
    rules["global"]["content"][0]["enabled"] = json!(false);
    assert_eq!(
        outcome(&rules, &message("cake"), &room(5, None)).map(|o| o.0),
        Some(ROOM.to_owned())
    );
}

#[test]
fn unknown_conditions_disable_their_rule_and_historical_actions_are_ignored() {
    let mut rules = defaults();
    rules["global"]["override"] = json!([
        {"rule_id": "future", "enabled": true, "conditions": [{"kind": "org.example.future"}], "actions": ["notify"]},
        {"rule_id": "old", "enabled": true, "conditions": [], "actions": ["dont_notify", "coalesce"]},
    ]);
    assert_eq!(
        outcome(&rules, &message("x"), &room(5, None)),
        Some(("old".to_owned(), false, false))
    );
}

fn holds(condition: Value, event: &Value, context: &RoomContext<'_>) -> bool {
    condition_holds(&condition, event, context)
}

#[test]
fn event_match_is_whole_value_except_for_the_body_and_needs_a_string() {
    let event = json!({"type": "m.room.topic", "state_key": "", "sender": OTHER, "room_id": ROOM,
        "content": {"topic": "Lunch plans", "count": 3, "body": "Lunch plans"}});
    let context = room(5, None);
    assert!(holds(
        json!({"kind": "event_match", "key": "content.topic", "pattern": "lunc?*"}),
        &event,
        &context
    ));
    assert!(!holds(
        json!({"kind": "event_match", "key": "content.topic", "pattern": "lunch"}),
        &event,
        &context
    ));
    assert!(holds(
        json!({"kind": "event_match", "key": "content.body", "pattern": "lunch"}),
        &event,
        &context
    ));
    assert!(!holds(
        json!({"kind": "event_match", "key": "content.count", "pattern": "*"}),
        &event,
        &context
    ));
    assert!(!holds(
        json!({"kind": "event_match", "key": "content.absent", "pattern": "*"}),
        &event,
        &context
    ));
    assert!(!holds(
        json!({"kind": "event_match", "key": "content.topic"}),
        &event,
        &context
    ));
}

#[test]
fn property_paths_unescape_dots_and_backslashes() {
    let event = json!({"content": {"m.relates_to": {"rel_type": "m.thread"}, "m\\foo": 1, "a": {"b": 2}, "x\\y": 3}});
    assert_eq!(
        property(&event, "content.m\\.relates_to.rel_type"),
        Some(&json!("m.thread"))
    );
    assert_eq!(property(&event, "content.m\\\\foo"), Some(&json!(1)));
    assert_eq!(property(&event, "content.a.b"), Some(&json!(2)));
    assert_eq!(property(&event, "content.x\\y"), Some(&json!(3)));
    assert_eq!(property(&event, "content.m.relates_to"), None);
}

#[test]
fn event_property_is_and_contains_compare_scalars_exactly() {
    let event = json!({"content": {"m.federate": true, "n": 1, "s": "true", "none": null,
        "alt_aliases": ["#a:x", "#b:x", {"o": 1}], "nested": {"k": 1}}});
    let context = room(5, None);
    let is = |key: &str, value: Value| {
        holds(
            json!({"kind": "event_property_is", "key": key, "value": value}),
            &event,
            &context,
        )
    };
    assert!(is("content.m\\.federate", json!(true)));
    assert!(!is("content.s", json!(true)));
    assert!(!is("content.n", json!("1")));
    assert!(is("content.n", json!(1)));
    assert!(is("content.none", Value::Null));
    assert!(!is("content.nested", json!({"k": 1})));
    let contains = |key: &str, value: Value| {
        holds(
            json!({"kind": "event_property_contains", "key": key, "value": value}),
            &event,
            &context,
        )
    };
    assert!(contains("content.alt_aliases", json!("#b:x")));
    assert!(!contains("content.alt_aliases", json!(":x")));
    assert!(!contains("content.alt_aliases", json!({"o": 1})));
    assert!(!contains("content.s", json!("true")));
}

#[test]
fn contains_display_name_matches_whole_words_literally() {
    let condition = json!({"kind": "contains_display_name"});
    let context = room(5, None);
    assert!(holds(
        condition.clone(),
        &message("hi me myself, look"),
        &context
    ));
    assert!(!holds(
        condition.clone(),
        &message("hi me myselfish"),
        &context
    ));
    let no_name = RoomContext {
        display_name: None,
        ..context
    };
    assert!(!holds(condition.clone(), &message("Me Myself"), &no_name));
    let empty = RoomContext {
        display_name: Some(""),
        ..context
    };
    assert!(!holds(condition, &message("anything"), &empty));
}

#[test]
fn room_member_count_understands_every_prefix() {
    let event = message("x");
    let count = |is: &str, members: u64| {
        holds(
            json!({"kind": "room_member_count", "is": is}),
            &event,
            &room(members, None),
        )
    };
    assert!(count("2", 2) && !count("2", 3));
    assert!(count("==2", 2));
    assert!(count("<3", 2) && !count("<3", 3));
    assert!(count("<=3", 3) && !count("<=3", 4));
    assert!(count(">3", 4) && !count(">3", 3));
    assert!(count(">=3", 3) && !count(">=3", 2));
    assert!(
        !count("", 0) && !count("x", 0) && !count("=2", 2) && !count("-1", 0) && !count("2 ", 2)
    );
}

#[test]
fn sender_notification_permission_reads_string_levels_and_defaults() {
    let event = message("x");
    let condition = json!({"kind": "sender_notification_permission", "key": "room"});
    let levels = json!({"users": {OTHER: "75"}});
    assert!(holds(condition.clone(), &event, &room(5, Some(&levels))));
    let levels = json!({"users_default": 50});
    assert!(holds(condition.clone(), &event, &room(5, Some(&levels))));
    let levels = json!({"users_default": 49});
    assert!(!holds(condition.clone(), &event, &room(5, Some(&levels))));
    let levels = json!({"users_default": 0, "notifications": {"custom": 0}});
    let custom = json!({"kind": "sender_notification_permission", "key": "custom"});
    assert!(holds(custom, &event, &room(5, Some(&levels))));
}
