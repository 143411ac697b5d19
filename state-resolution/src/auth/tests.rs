//! Rule-by-rule tables for the authorization rules, across room versions.

use hearth_crypto::SigningKey;
use hearth_types::RoomVersionRules;
use serde_json::{Value, json};

use super::*;
use crate::testing::{TestEvent, TestState};

const ALICE: &str = "@alice:a.example";
const BOB: &str = "@bob:b.example";
const CAROL: &str = "@carol:c.example";
const DAVE: &str = "@dave:d.example";
const ERIN: &str = "@erin:e.example";
const FRANK: &str = "@frank:f.example";

fn all_versions() -> impl Iterator<Item = &'static RoomVersionRules> {
    RoomVersionRules::ALL
        .iter()
        .filter_map(|r| RoomVersionRules::get(r.id))
}

fn create_event(rules: &RoomVersionRules, content: Value) -> TestEvent {
    let mut content = content;
    if !rules.authorization.use_room_create_sender {
        content["creator"] = json!(ALICE);
    }
    content["room_version"] = json!(rules.id);
    TestEvent::state("$create", "m.room.create", "", ALICE, content)
}

fn member(id: &str, sender: &str, target: &str, membership: &str) -> TestEvent {
    TestEvent::state(
        id,
        "m.room.member",
        target,
        sender,
        json!({"membership": membership}),
    )
}

/// A room: Alice created it (PL 100, or creator), Bob is a moderator (50), Carol joined (0), Dave is
/// banned, Erin is invited, Frank knocked. Join rule as given.
fn room(rules: &RoomVersionRules, join_rule: &str) -> TestState {
    let mut users = json!({BOB: 50});
    if !rules.authorization.privileged_creators {
        users[ALICE] = json!(100);
    }
    TestState::default()
        .with(create_event(rules, json!({})))
        .with(member("$alice", ALICE, ALICE, "join"))
        .with(TestEvent::state(
            "$pl",
            "m.room.power_levels",
            "",
            ALICE,
            json!({"users": users}),
        ))
        .with(TestEvent::state(
            "$jr",
            "m.room.join_rules",
            "",
            ALICE,
            json!({"join_rule": join_rule}),
        ))
        .with(member("$bob", BOB, BOB, "join"))
        .with(member("$carol", CAROL, CAROL, "join"))
        .with(member("$dave", ALICE, DAVE, "ban"))
        .with(member("$erin", ALICE, ERIN, "invite"))
        .with(member("$frank", FRANK, FRANK, "knock"))
}

fn check(rules: &RoomVersionRules, state: &TestState, event: &TestEvent) -> Option<AuthRule> {
    check_auth_rules(rules, event, state.lookup())
        .err()
        .map(|e| {
            e.rejected_by()
                .unwrap_or_else(|| panic!("auth checks only reject, got {e}"))
        })
}

fn pl_event(sender: &str, content: Value) -> TestEvent {
    TestEvent::state("$new-pl", "m.room.power_levels", "", sender, content)
}

/// The content of the test room's power levels, for building changes from it.
fn base_pl(rules: &RoomVersionRules) -> Value {
    let mut users = json!({BOB: 50});
    if !rules.authorization.privileged_creators {
        users[ALICE] = json!(100);
    }
    json!({"users": users})
}

#[test]
fn membership_transitions_follow_the_rules_in_every_version() {
    use AuthRule::*;
    // (sender, target, membership, join rule, expected)
    let cases: &[(&str, &str, &str, &str, Option<AuthRule>)] = &[
        // Joins.
        (FRANK, FRANK, "join", "public", None),
        (ALICE, FRANK, "join", "public", Some(JoinSenderIsNotTarget)),
        (DAVE, DAVE, "join", "public", Some(JoinWhileBanned)),
        (ERIN, ERIN, "join", "invite", None),
        (CAROL, CAROL, "join", "invite", None),
        (
            FRANK,
            FRANK,
            "join",
            "invite",
            Some(JoinNotAllowedByJoinRule),
        ),
        (
            FRANK,
            FRANK,
            "join",
            "private",
            Some(JoinNotAllowedByJoinRule),
        ),
        (
            FRANK,
            FRANK,
            "join",
            "nonsense",
            Some(JoinNotAllowedByJoinRule),
        ),
        // Invites.
        (CAROL, FRANK, "invite", "invite", None),
        (
            FRANK,
            "@new:x",
            "invite",
            "invite",
            Some(InviteSenderNotJoined),
        ),
        (
            ALICE,
            BOB,
            "invite",
            "invite",
            Some(InviteTargetJoinedOrBanned),
        ),
        (
            ALICE,
            DAVE,
            "invite",
            "invite",
            Some(InviteTargetJoinedOrBanned),
        ),
        // Leaves and kicks.
        (CAROL, CAROL, "leave", "public", None),
        (ERIN, ERIN, "leave", "public", None),
        (DAVE, DAVE, "leave", "public", Some(LeaveWithoutMembership)),
        (
            "@stranger:x",
            "@stranger:x",
            "leave",
            "public",
            Some(LeaveWithoutMembership),
        ),
        (BOB, CAROL, "leave", "public", None),
        (CAROL, BOB, "leave", "public", Some(KickInsufficientPower)),
        (BOB, ALICE, "leave", "public", Some(KickInsufficientPower)),
        (ERIN, CAROL, "leave", "public", Some(KickSenderNotJoined)),
        (BOB, DAVE, "leave", "public", None),
        (CAROL, DAVE, "leave", "public", Some(UnbanInsufficientPower)),
        (ALICE, DAVE, "leave", "public", None),
        // Bans.
        (ALICE, BOB, "ban", "public", None),
        (BOB, CAROL, "ban", "public", None),
        (CAROL, BOB, "ban", "public", Some(BanInsufficientPower)),
        (BOB, ALICE, "ban", "public", Some(BanInsufficientPower)),
        (ERIN, CAROL, "ban", "public", Some(BanSenderNotJoined)),
        // Unknown membership.
        (CAROL, CAROL, "dance", "public", Some(UnknownMembership)),
    ];
    for rules in all_versions() {
        for (sender, target, membership, join_rule, expected) in cases {
            let state = room(rules, join_rule);
            let event = member("$new", sender, target, membership);
            assert_eq!(
                check(rules, &state, &event),
                *expected,
                "v{}: {sender} {membership} {target} under {join_rule}",
                rules.id
            );
        }
    }
}

#[test]
fn member_events_need_a_state_key_and_membership() {
    let rules = &RoomVersionRules::V10;
    let state = room(rules, "public");
    let mut no_key = member("$m", CAROL, CAROL, "join");
    no_key.state_key = None;
    assert_eq!(
        check(rules, &state, &no_key),
        Some(AuthRule::MemberMissingMembership)
    );
    let no_membership = TestEvent::state(
        "$m",
        "m.room.member",
        CAROL,
        CAROL,
        json!({"membership": 3}),
    );
    assert_eq!(
        check(rules, &state, &no_membership),
        Some(AuthRule::MemberMissingMembership)
    );
}

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
fn the_creator_joins_right_after_the_create_event() {
    for rules in all_versions() {
        let state = TestState::default().with(create_event(rules, json!({})));
        let mut join = member("$j", ALICE, ALICE, "join");
        join.prev_events = vec!["$create".to_owned()];
        assert_eq!(check(rules, &state, &join), None, "v{}", rules.id);
        let mut other = member("$j", BOB, BOB, "join");
        other.prev_events = vec!["$create".to_owned()];
        assert_eq!(
            check(rules, &state, &other),
            Some(AuthRule::JoinNotAllowedByJoinRule),
            "v{}",
            rules.id
        );
    }
}

#[test]
fn v1_to_v10_take_the_creator_from_content_and_v11_from_the_sender() {
    for rules in all_versions() {
        let mut create = create_event(rules, json!({}));
        create.sender = BOB.to_owned();
        if !rules.authorization.use_room_create_sender {
            create.content["creator"] = json!(ALICE);
        }
        let state = TestState::default().with(create);
        let mut join = member("$j", ALICE, ALICE, "join");
        join.prev_events = vec!["$create".to_owned()];
        let expected = if rules.authorization.use_room_create_sender {
            Some(AuthRule::JoinNotAllowedByJoinRule)
        } else {
            None
        };
        assert_eq!(check(rules, &state, &join), expected, "v{}", rules.id);
    }
}

#[test]
fn knocking_exists_from_v7_and_knock_restricted_from_v10() {
    for rules in all_versions() {
        let knocking = rules.authorization.knocking;
        let knock = member("$k", "@new:x", "@new:x", "knock");
        let under = |join_rule| check(rules, &room(rules, join_rule), &knock);
        if knocking {
            assert_eq!(under("knock"), None, "v{}", rules.id);
            assert_eq!(
                under("public"),
                Some(AuthRule::KnockNotAllowedByJoinRule),
                "v{}",
                rules.id
            );
            assert_eq!(
                under("invite"),
                Some(AuthRule::KnockNotAllowedByJoinRule),
                "v{}",
                rules.id
            );
            let expected = if rules.authorization.knock_restricted_join_rule {
                None
            } else {
                Some(AuthRule::KnockNotAllowedByJoinRule)
            };
            assert_eq!(under("knock_restricted"), expected, "v{}", rules.id);
            let state = room(rules, "knock");
            assert_eq!(
                check(rules, &state, &member("$k", ALICE, "@new:x", "knock")),
                Some(AuthRule::KnockSenderIsNotTarget)
            );
            for already in [CAROL, DAVE, ERIN] {
                assert_eq!(
                    check(rules, &state, &member("$k", already, already, "knock")),
                    Some(AuthRule::KnockInvalidMembership),
                    "v{} {already}",
                    rules.id
                );
            }
            // A knocking user may rescind the knock, and an invited knocker may join.
            assert_eq!(
                check(rules, &state, &member("$l", FRANK, FRANK, "leave")),
                None
            );
        } else {
            assert_eq!(
                under("knock"),
                Some(AuthRule::UnknownMembership),
                "v{}",
                rules.id
            );
            let state = room(rules, "knock");
            assert_eq!(
                check(rules, &state, &member("$j", ERIN, ERIN, "join")),
                Some(AuthRule::JoinNotAllowedByJoinRule),
                "the knock join rule is unknown before v7"
            );
            assert_eq!(
                check(rules, &state, &member("$l", FRANK, FRANK, "leave")),
                Some(AuthRule::LeaveWithoutMembership),
                "knock is not a membership before v7"
            );
        }
    }
}

#[test]
fn restricted_joins_need_a_joined_authoriser_with_invite_power() {
    for rules in all_versions() {
        for join_rule in ["restricted", "knock_restricted"] {
            let supported = if join_rule == "restricted" {
                rules.authorization.restricted_join_rule
            } else {
                rules.authorization.knock_restricted_join_rule
            };
            let mut state = room(rules, join_rule);
            let join = |authoriser: Option<&str>| {
                let mut content = json!({"membership": "join"});
                if let Some(user) = authoriser {
                    content["join_authorised_via_users_server"] = json!(user);
                }
                TestEvent::state("$j", "m.room.member", "@new:x", "@new:x", content)
            };
            let case = |state: &TestState, authoriser| check(rules, state, &join(authoriser));
            if !supported {
                assert_eq!(
                    case(&state, Some(BOB)),
                    Some(AuthRule::JoinNotAllowedByJoinRule),
                    "v{}",
                    rules.id
                );
                continue;
            }
            assert_eq!(case(&state, Some(BOB)), None, "v{} {join_rule}", rules.id);
            assert_eq!(
                case(&state, None),
                Some(AuthRule::RestrictedJoinNotAuthorised)
            );
            assert_eq!(
                case(&state, Some(ERIN)),
                Some(AuthRule::RestrictedJoinNotAuthorised),
                "invited, not joined"
            );
            // Raise the invite level above Carol's: she can no longer authorise joins.
            assert_eq!(case(&state, Some(CAROL)), None);
            let mut content = base_pl(rules);
            content["invite"] = json!(10);
            state = state.with(TestEvent::state(
                "$pl2",
                "m.room.power_levels",
                "",
                ALICE,
                content,
            ));
            assert_eq!(
                case(&state, Some(CAROL)),
                Some(AuthRule::RestrictedJoinNotAuthorised)
            );
            // An invited user joins without an authoriser.
            assert_eq!(
                check(rules, &state, &member("$j", ERIN, ERIN, "join")),
                None
            );
        }
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
fn power_level_changes_are_bounded_by_the_sender() {
    use AuthRule::*;
    for rules in all_versions() {
        let state = room(rules, "public");
        let with = |changes: Value| {
            let mut content = base_pl(rules);
            if let (Some(target), Some(changes)) = (content.as_object_mut(), changes.as_object()) {
                for (k, v) in changes {
                    target.insert(k.clone(), v.clone());
                }
            }
            content
        };
        let cases: Vec<(&str, Value, Option<AuthRule>)> = vec![
            (BOB, with(json!({"kick": 40})), None),
            (
                BOB,
                with(json!({"kick": 60})),
                Some(PowerLevelsChangeAboveSender),
            ),
            (BOB, with(json!({"events": {"m.room.name": 50}})), None),
            (
                BOB,
                with(json!({"events": {"m.room.name": 51}})),
                Some(PowerLevelsEventsChangeAboveSender),
            ),
            (BOB, with(json!({"users": {BOB: 50, CAROL: 50}})), None),
            (
                BOB,
                with(json!({"users": {BOB: 50, CAROL: 51}})),
                Some(PowerLevelsUserChangeAboveSender),
            ),
            (BOB, with(json!({"users": {BOB: 10}})), None),
            (
                CAROL,
                with(json!({"kick": 40})),
                Some(InsufficientPowerForEventType),
            ),
        ];
        for (sender, content, expected) in cases {
            // The users map above replaces the base one; keep Alice where she is allowed.
            let mut content = content;
            if !rules.authorization.privileged_creators && content["users"].get(ALICE).is_none() {
                content["users"][ALICE] = json!(100);
            }
            assert_eq!(
                check(rules, &state, &pl_event(sender, content.clone())),
                expected,
                "v{} {content}",
                rules.id
            );
        }
        // Bob may not demote a peer at his own level, but may demote himself.
        let peers = room(rules, "public").with(TestEvent::state(
            "$pl2",
            "m.room.power_levels",
            "",
            ALICE,
            with(json!({"users": {BOB: 50, CAROL: 50, ALICE: 100}})),
        ));
        let mut demote_carol = with(json!({"users": {BOB: 50, CAROL: 0, ALICE: 100}}));
        let mut demote_self = with(json!({"users": {BOB: 0, CAROL: 50, ALICE: 100}}));
        if rules.authorization.privileged_creators {
            for content in [&mut demote_carol, &mut demote_self] {
                content["users"]
                    .as_object_mut()
                    .map(|users| users.remove(ALICE));
            }
            let peers = peers.clone().with(TestEvent::state(
                "$pl2",
                "m.room.power_levels",
                "",
                ALICE,
                with(json!({"users": {BOB: 50, CAROL: 50}})),
            ));
            assert_eq!(
                check(rules, &peers, &pl_event(BOB, demote_carol)),
                Some(PowerLevelsUserChangeAboveSender)
            );
            assert_eq!(check(rules, &peers, &pl_event(BOB, demote_self)), None);
        } else {
            assert_eq!(
                check(rules, &peers, &pl_event(BOB, demote_carol)),
                Some(PowerLevelsUserChangeAboveSender)
            );
            assert_eq!(check(rules, &peers, &pl_event(BOB, demote_self)), None);
        }
    }
}

#[test]
fn adding_or_removing_a_level_compares_written_values_only() {
    // Bob (50) adds `ban: 40` where the event had none (default 50): the "current value" is absent, so
    // only the new value is compared (Synapse; ruma-state-res compares the default — see the docs).
    let rules = &RoomVersionRules::V10;
    let state = room(rules, "public");
    let mut content = base_pl(rules);
    content["ban"] = json!(40);
    assert_eq!(check(rules, &state, &pl_event(BOB, content)), None);
}

#[test]
fn notifications_levels_are_limited_from_v6() {
    for rules in all_versions() {
        let state = room(rules, "public");
        let mut content = base_pl(rules);
        content["notifications"] = json!({"room": 100});
        let expected = rules
            .authorization
            .limit_notifications_power_levels
            .then_some(AuthRule::PowerLevelsEventsChangeAboveSender);
        assert_eq!(
            check(rules, &state, &pl_event(BOB, content)),
            expected,
            "v{}",
            rules.id
        );
    }
}

#[test]
fn stringy_power_levels_are_accepted_before_v10_and_floats_before_v6() {
    for rules in all_versions() {
        let state = room(rules, "public");
        let mut stringy = base_pl(rules);
        stringy["kick"] = json!(" +40 ");
        let expected = rules
            .authorization
            .integer_power_levels
            .then_some(AuthRule::PowerLevelsInvalidContent);
        assert_eq!(
            check(rules, &state, &pl_event(BOB, stringy)),
            expected,
            "v{}",
            rules.id
        );
        let mut floaty = base_pl(rules);
        floaty["kick"] = json!(40.7);
        let expected = rules
            .strict_canonical_json
            .then_some(AuthRule::PowerLevelsInvalidContent);
        assert_eq!(
            check(rules, &state, &pl_event(BOB, floaty)),
            expected,
            "v{}",
            rules.id
        );
        // A stringy level already in the state counts with its value where the version allows it.
        let mut current = base_pl(rules);
        current["users"][CAROL] = json!("50");
        let state = state.with(TestEvent::state(
            "$pl2",
            "m.room.power_levels",
            "",
            ALICE,
            current,
        ));
        let topic = TestEvent::state("$t", "m.room.topic", "", CAROL, json!({}));
        let expected = rules
            .authorization
            .integer_power_levels
            .then_some(AuthRule::InsufficientPowerForEventType);
        assert_eq!(check(rules, &state, &topic), expected, "v{}", rules.id);
    }
}

#[test]
fn power_levels_need_valid_user_ids() {
    for rules in all_versions() {
        let state = room(rules, "public");
        let mut content = base_pl(rules);
        content["users"]["not a user"] = json!(0);
        assert_eq!(
            check(rules, &state, &pl_event(BOB, content)),
            Some(AuthRule::PowerLevelsInvalidContent),
            "v{}",
            rules.id
        );
    }
}

#[test]
fn v12_creators_have_infinite_power_and_cannot_be_listed() {
    let rules = &RoomVersionRules::V12;
    let state =
        room(rules, "public").with(create_event(rules, json!({"additional_creators": [CAROL]})));
    // Carol is an additional creator: she outranks Bob and may ban him.
    assert_eq!(check(rules, &state, &member("$b", CAROL, BOB, "ban")), None);
    assert_eq!(
        check(rules, &state, &member("$b", BOB, CAROL, "ban")),
        Some(AuthRule::BanInsufficientPower)
    );
    assert_eq!(
        check(rules, &state, &member("$b", BOB, ALICE, "leave")),
        Some(AuthRule::KickInsufficientPower)
    );
    let listed = pl_event(ALICE, json!({"users": {CAROL: 100}}));
    assert_eq!(
        check(rules, &state, &listed),
        Some(AuthRule::PowerLevelsListCreator)
    );
    let listed_self = pl_event(ALICE, json!({"users": {ALICE: 100}}));
    assert_eq!(
        check(rules, &state, &listed_self),
        Some(AuthRule::PowerLevelsListCreator)
    );
    // The creator can set any level, even i64::MAX.
    assert_eq!(
        check(
            rules,
            &state,
            &pl_event(ALICE, json!({"users": {BOB: 9_007_199_254_740_991_i64}}))
        ),
        None
    );
    // Before v12 the same content is fine: creators are ordinary users.
    let v11 = &RoomVersionRules::V11;
    let state = room(v11, "public");
    assert_eq!(
        check(
            v11,
            &state,
            &pl_event(ALICE, json!({"users": {ALICE: 100}}))
        ),
        None
    );
}

fn signed_third_party_invite(key: &SigningKey, mxid: &str, token: &str) -> Value {
    let mut signed = json!({"mxid": mxid, "token": token, "sender": CAROL});
    if let Err(e) = hearth_crypto::sign_json(&mut signed, "id.example", key) {
        panic!("signing failed: {e}");
    }
    json!({"display_name": "f***@example.org", "signed": signed})
}

#[test]
fn third_party_invites_verify_the_signed_block() {
    let key = SigningKey::generate();
    let other_key = SigningKey::generate();
    for rules in all_versions() {
        let tpi = TestEvent::state(
            "$tpi",
            "m.room.third_party_invite",
            "tok",
            CAROL,
            json!({"public_key": key.public_key_base64(), "key_validity_url": "https://id.example/check"}),
        );
        let state = room(rules, "invite").with(tpi);
        let invite = |sender: &str, target: &str, third_party: Value| {
            TestEvent::state(
                "$i",
                "m.room.member",
                target,
                sender,
                json!({"membership": "invite", "third_party_invite": third_party}),
            )
        };
        let good = signed_third_party_invite(&key, "@new:x", "tok");
        assert_eq!(
            check(rules, &state, &invite(CAROL, "@new:x", good.clone())),
            None,
            "v{}",
            rules.id
        );
        assert_eq!(
            check(rules, &state, &invite(BOB, "@new:x", good.clone())),
            Some(AuthRule::ThirdPartyInviteSenderMismatch)
        );
        assert_eq!(
            check(rules, &state, &invite(CAROL, "@other:x", good)),
            Some(AuthRule::ThirdPartyInviteMalformed)
        );
        let forged = signed_third_party_invite(&other_key, "@new:x", "tok");
        assert_eq!(
            check(rules, &state, &invite(CAROL, "@new:x", forged)),
            Some(AuthRule::ThirdPartyInviteBadSignature)
        );
        let mut tampered = signed_third_party_invite(&key, "@new:x", "tok");
        tampered["signed"]["extra"] = json!("changed after signing");
        assert_eq!(
            check(rules, &state, &invite(CAROL, "@new:x", tampered)),
            Some(AuthRule::ThirdPartyInviteBadSignature)
        );
        let unknown_token = signed_third_party_invite(&key, "@new:x", "other");
        assert_eq!(
            check(rules, &state, &invite(CAROL, "@new:x", unknown_token)),
            Some(AuthRule::ThirdPartyInviteNoMatchingToken)
        );
        assert_eq!(
            check(rules, &state, &invite(CAROL, "@new:x", json!({}))),
            Some(AuthRule::ThirdPartyInviteMalformed)
        );
        let for_banned = signed_third_party_invite(&key, DAVE, "tok");
        assert_eq!(
            check(rules, &state, &invite(CAROL, DAVE, for_banned)),
            Some(AuthRule::ThirdPartyInviteTargetBanned)
        );
        // Keys listed in `public_keys` count too.
        let listed = TestEvent::state(
            "$tpi",
            "m.room.third_party_invite",
            "tok",
            CAROL,
            json!({"public_key": other_key.public_key_base64(), "public_keys": [{"public_key": key.public_key_base64()}]}),
        );
        let state = state.with(listed);
        let good = signed_third_party_invite(&key, "@new:x", "tok");
        assert_eq!(check(rules, &state, &invite(CAROL, "@new:x", good)), None);
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
