//! Create events, `auth_events`, federation, aliases, redactions, sizes and signatures.

use hearth_types::RoomVersionRules;
use serde_json::json;

use super::*;
use crate::testing::{TestEvent, TestState};

#[test]
fn an_unrelated_malformed_field_never_rejects() {
    for rules in all_versions() {
        let state = room(rules, "public");
        let join = TestEvent::state(
            "$m",
            "m.room.member",
            FRANK,
            FRANK,
            json!({"membership": "join", "displayname": {"nested": [1, 2]}, "avatar_url": 5, "reason": null}),
        );
        assert_eq!(check(rules, &state, &join), None, "v{}", rules.id);
        let topic = TestEvent::state(
            "$t",
            "m.room.topic",
            "",
            BOB,
            json!({"topic": ["not", "a", "string"]}),
        );
        assert_eq!(check(rules, &state, &topic), None, "v{}", rules.id);
    }
}

#[test]
fn non_members_cannot_send_and_power_levels_gate_event_types() {
    for rules in all_versions() {
        let state = room(rules, "public");
        let message =
            |sender| TestEvent::message("$m", "m.room.message", sender, json!({"body": "hi"}));
        assert_eq!(check(rules, &state, &message(CAROL)), None);
        assert_eq!(
            check(rules, &state, &message(FRANK)),
            Some(AuthRule::SenderNotJoined)
        );
        assert_eq!(
            check(rules, &state, &message(ERIN)),
            Some(AuthRule::SenderNotJoined)
        );
        let topic =
            |sender| TestEvent::state("$t", "m.room.topic", "", sender, json!({"topic": "x"}));
        assert_eq!(
            check(rules, &state, &topic(BOB)),
            None,
            "state_default is 50"
        );
        assert_eq!(
            check(rules, &state, &topic(CAROL)),
            Some(AuthRule::InsufficientPowerForEventType)
        );
        let owned = |key| TestEvent::state("$o", "m.custom", key, BOB, json!({}));
        assert_eq!(check(rules, &state, &owned(BOB)), None);
        assert_eq!(
            check(rules, &state, &owned(CAROL)),
            Some(AuthRule::StateKeyIsAnotherUser)
        );
        let tpi = |sender| {
            TestEvent::state(
                "$tpi",
                "m.room.third_party_invite",
                "tok",
                sender,
                json!({}),
            )
        };
        assert_eq!(
            check(rules, &state, &tpi(CAROL)),
            None,
            "invite level defaults to 0"
        );
    }
}

#[test]
fn events_entries_override_the_defaults() {
    for rules in all_versions() {
        let mut content = base_pl(rules);
        content["events"] = json!({"m.room.topic": 0, "m.room.message": 10});
        let state = room(rules, "public").with(TestEvent::state(
            "$pl2",
            "m.room.power_levels",
            "",
            ALICE,
            content,
        ));
        let topic = TestEvent::state("$t", "m.room.topic", "", CAROL, json!({"topic": "x"}));
        assert_eq!(check(rules, &state, &topic), None);
        let message = TestEvent::message("$m", "m.room.message", CAROL, json!({}));
        assert_eq!(
            check(rules, &state, &message),
            Some(AuthRule::InsufficientPowerForEventType)
        );
    }
}

#[test]
fn unfederated_rooms_reject_other_servers() {
    for rules in all_versions() {
        let state = room(rules, "public").with(create_event(rules, json!({"m.federate": false})));
        let local = TestEvent::message("$m", "m.room.message", "@alice2:a.example", json!({}));
        let remote = TestEvent::message("$m", "m.room.message", CAROL, json!({}));
        assert_eq!(
            check(rules, &state, &local),
            Some(AuthRule::SenderNotJoined)
        );
        assert_eq!(
            check(rules, &state, &remote),
            Some(AuthRule::RoomNotFederated)
        );
    }
}

#[test]
fn aliases_are_special_only_before_v6() {
    for rules in all_versions() {
        let state = room(rules, "public");
        let aliases = |key: &str, sender| {
            TestEvent::state("$al", "m.room.aliases", key, sender, json!({"aliases": []}))
        };
        if rules.authorization.special_case_room_aliases {
            assert_eq!(check(rules, &state, &aliases("c.example", CAROL)), None);
            assert_eq!(
                check(rules, &state, &aliases("f.example", FRANK)),
                None,
                "even non-members"
            );
            assert_eq!(
                check(rules, &state, &aliases("a.example", CAROL)),
                Some(AuthRule::AliasesStateKeyMismatch)
            );
        } else {
            assert_eq!(
                check(rules, &state, &aliases("c.example", CAROL)),
                Some(AuthRule::InsufficientPowerForEventType)
            );
            assert_eq!(
                check(rules, &state, &aliases("f.example", FRANK)),
                Some(AuthRule::SenderNotJoined)
            );
        }
    }
}

#[test]
fn redactions_are_checked_by_auth_only_in_v1_and_v2() {
    for rules in all_versions() {
        let state = room(rules, "public");
        let redaction = |id: &str, redacts: &str| {
            let mut event = TestEvent::message(id, "m.room.redaction", CAROL, json!({}));
            event.redacts = Some(redacts.to_owned());
            event
        };
        let same_server = redaction("$r:c.example", "$target:c.example");
        let other_server = redaction("$r:c.example", "$target:a.example");
        assert_eq!(check(rules, &state, &same_server), None);
        let expected = rules
            .authorization
            .redaction_checked_by_auth_rules
            .then_some(AuthRule::RedactionNotAllowed);
        assert_eq!(
            check(rules, &state, &other_server),
            expected,
            "v{}",
            rules.id
        );
        let mut by_moderator = other_server.clone();
        by_moderator.sender = BOB.to_owned();
        assert_eq!(check(rules, &state, &by_moderator), None);
    }
}

#[test]
fn create_events_follow_rule_one() {
    use AuthRule::*;
    for rules in all_versions() {
        let mut create = create_event(rules, json!({}));
        if rules.authorization.room_id_is_create_event_hash {
            create.room_id = None;
        } else {
            create.room_id = Some("!room:a.example".to_owned());
        }
        let state = TestState::default();
        assert_eq!(check(rules, &state, &create), None, "v{}", rules.id);

        let mut with_prev = create.clone();
        with_prev.prev_events = vec!["$x".to_owned()];
        assert_eq!(check(rules, &state, &with_prev), Some(CreateHasPrevEvents));

        let mut unknown = create.clone();
        unknown.content["room_version"] = json!("99");
        assert_eq!(
            check(rules, &state, &unknown),
            Some(CreateUnknownRoomVersion)
        );

        let mut wrong_room = create.clone();
        wrong_room.room_id = Some("!room:elsewhere.example".to_owned());
        let expected = if rules.authorization.room_id_is_create_event_hash {
            CreateHasRoomId
        } else {
            CreateRoomIdDomainMismatch
        };
        assert_eq!(check(rules, &state, &wrong_room), Some(expected));

        let mut no_creator = create.clone();
        no_creator
            .content
            .as_object_mut()
            .map(|c| c.remove("creator"));
        let expected =
            (!rules.authorization.use_room_create_sender).then_some(CreateMissingCreator);
        assert_eq!(check(rules, &state, &no_creator), expected, "v{}", rules.id);

        let mut bad_additional = create.clone();
        bad_additional.content["additional_creators"] = json!(["not-a-user"]);
        let expected = rules
            .authorization
            .privileged_creators
            .then_some(CreateInvalidAdditionalCreators);
        assert_eq!(
            check(rules, &state, &bad_additional),
            expected,
            "v{}",
            rules.id
        );
    }
}

/// A v12 room where every auth event is a real event fetched by ID.
fn fetcher<'a>(events: &'a [TestEvent]) -> impl Fn(&str) -> Option<&'a TestEvent> + 'a {
    move |id| events.iter().find(|e| e.event_id == id)
}

#[test]
fn auth_events_must_be_the_selected_unrejected_events_of_the_room() {
    use AuthRule::*;
    let rules = &RoomVersionRules::V10;
    let create = create_event(rules, json!({}));
    let join = member("$alice", ALICE, ALICE, "join");
    let pl = TestEvent::state(
        "$pl",
        "m.room.power_levels",
        "",
        ALICE,
        json!({"users": {ALICE: 100}}),
    );
    let topic = TestEvent::state("$topic", "m.room.topic", "", ALICE, json!({}));
    let mut rejected_pl = pl.clone();
    rejected_pl.event_id = "$rejected".to_owned();
    rejected_pl.rejected = true;
    let mut other_room = pl.clone();
    other_room.event_id = "$other-room".to_owned();
    other_room.room_id = Some("!other:x".to_owned());
    let events = [create, join, pl, topic, rejected_pl, other_room];
    let message = |auth: &[&str]| {
        let mut event = TestEvent::message("$m", "m.room.message", ALICE, json!({}));
        event.auth_events = auth.iter().map(|s| (*s).to_owned()).collect();
        event
    };
    let run = |auth: &[&str]| {
        check_against_auth_events(rules, &message(auth), fetcher(&events))
            .err()
            .map(|e| e.rejected_by().unwrap_or(AuthRule::Format))
    };
    assert_eq!(run(&["$create", "$alice", "$pl"]), None);
    assert_eq!(
        run(&["$create", "$alice", "$pl", "$pl"]),
        Some(DuplicateAuthEvent)
    );
    assert_eq!(
        run(&["$create", "$alice", "$topic"]),
        Some(UnexpectedAuthEvent)
    );
    assert_eq!(
        run(&["$create", "$alice", "$rejected"]),
        Some(RejectedAuthEvent)
    );
    assert_eq!(
        run(&["$create", "$alice", "$other-room"]),
        Some(AuthEventInOtherRoom)
    );
    assert_eq!(run(&["$alice", "$pl"]), Some(MissingCreateAuthEvent));
    assert_eq!(
        check_against_auth_events(rules, &message(&["$create", "$unknown"]), fetcher(&events)),
        Err(Error::MissingEvent("$unknown".to_owned()))
    );
}

#[test]
fn v12_events_name_their_create_event_by_room_id_and_never_list_it() {
    use AuthRule::*;
    let rules = &RoomVersionRules::V12;
    let mut create = create_event(rules, json!({}));
    create.event_id = "$hash".to_owned();
    create.room_id = None;
    let mut join = member("$alice", ALICE, ALICE, "join");
    join.room_id = Some("!hash".to_owned());
    join.prev_events = vec!["$hash".to_owned()];
    let mut rejected_create = create.clone();
    rejected_create.event_id = "$bad".to_owned();
    rejected_create.rejected = true;
    let events = [create, join.clone(), rejected_create];
    let message = |room: &str, auth: &[&str]| {
        let mut event = TestEvent::message("$m", "m.room.message", ALICE, json!({}));
        event.room_id = Some(room.to_owned());
        event.auth_events = auth.iter().map(|s| (*s).to_owned()).collect();
        event
    };
    let run = |event: &TestEvent| {
        check_against_auth_events(rules, event, fetcher(&events))
            .err()
            .map(|e| e.rejected_by().unwrap_or(Format))
    };
    assert_eq!(run(&join), None);
    assert_eq!(run(&message("!hash", &["$alice"])), None);
    assert_eq!(
        run(&message("!hash", &["$hash", "$alice"])),
        Some(UnexpectedAuthEvent)
    );
    assert_eq!(
        run(&message("!bad", &["$alice"])),
        Some(RoomIdNotCreateEvent)
    );
    assert_eq!(
        run(&message("!room:server", &["$alice"])),
        Some(RoomIdNotCreateEvent)
    );
}

#[test]
fn format_checks_bound_sizes() {
    let rules = &RoomVersionRules::V10;
    let ok = TestEvent::message("$m", "m.room.message", ALICE, json!({}));
    assert_eq!(check_event_format(rules, &ok, 1000), Ok(()));
    assert_eq!(
        check_event_format(rules, &ok, 70_000)
            .err()
            .and_then(|e| e.rejected_by()),
        Some(AuthRule::SizeLimit)
    );
    let mut long_type = ok.clone();
    long_type.event_type = "x".repeat(256);
    assert_eq!(
        check_event_format(rules, &long_type, 1000)
            .err()
            .and_then(|e| e.rejected_by()),
        Some(AuthRule::SizeLimit)
    );
    let mut no_room = ok;
    no_room.room_id = None;
    assert_eq!(
        check_event_format(rules, &no_room, 1000)
            .err()
            .and_then(|e| e.rejected_by()),
        Some(AuthRule::Format)
    );
}

#[test]
fn required_signatures_follow_the_room_version() {
    let mut join = TestEvent::state(
        "$j:ev.example",
        "m.room.member",
        FRANK,
        FRANK,
        json!({"membership": "join", "join_authorised_via_users_server": BOB}),
    );
    let servers = |rules: &RoomVersionRules, event: &TestEvent| {
        servers_required_to_sign(rules, event)
            .into_iter()
            .collect::<Vec<_>>()
    };
    assert_eq!(
        servers(&RoomVersionRules::V1, &join),
        ["ev.example", "f.example"]
    );
    assert_eq!(servers(&RoomVersionRules::V7, &join), ["f.example"]);
    assert_eq!(
        servers(&RoomVersionRules::V8, &join),
        ["b.example", "f.example"]
    );
    join.content["membership"] = json!("leave");
    assert_eq!(servers(&RoomVersionRules::V8, &join), ["f.example"]);
}
