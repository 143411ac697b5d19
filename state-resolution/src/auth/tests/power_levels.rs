//! Rule 10 and power levels in general: who may change what, value formats, v12 creators.

use hearth_types::RoomVersionRules;
use serde_json::{Value, json};

use super::*;
use crate::testing::TestEvent;

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
