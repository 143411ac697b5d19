//! Rule 5: membership transitions, knocking, restricted joins and third-party invites.

use hearth_crypto::SigningKey;
use hearth_types::RoomVersionRules;
use serde_json::{Value, json};

use super::*;
use crate::testing::{TestEvent, TestState};

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
