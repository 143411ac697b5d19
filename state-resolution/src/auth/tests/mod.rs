//! Rule-by-rule tables for the authorization rules, across room versions, and the test room they share.

use hearth_types::RoomVersionRules;
use serde_json::{Value, json};

use super::*;
use crate::testing::{TestEvent, TestState};

mod events;
mod membership;
mod power_levels;

pub(super) const ALICE: &str = "@alice:a.example";
pub(super) const BOB: &str = "@bob:b.example";
pub(super) const CAROL: &str = "@carol:c.example";
pub(super) const DAVE: &str = "@dave:d.example";
pub(super) const ERIN: &str = "@erin:e.example";
pub(super) const FRANK: &str = "@frank:f.example";

pub(super) fn all_versions() -> impl Iterator<Item = &'static RoomVersionRules> {
    RoomVersionRules::ALL
        .iter()
        .filter_map(|r| RoomVersionRules::get(r.id))
}

pub(super) fn create_event(rules: &RoomVersionRules, content: Value) -> TestEvent {
    let mut content = content;
    if !rules.authorization.use_room_create_sender {
        content["creator"] = json!(ALICE);
    }
    content["room_version"] = json!(rules.id);
    TestEvent::state("$create", "m.room.create", "", ALICE, content)
}

pub(super) fn member(id: &str, sender: &str, target: &str, membership: &str) -> TestEvent {
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
pub(super) fn room(rules: &RoomVersionRules, join_rule: &str) -> TestState {
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

pub(super) fn check(
    rules: &RoomVersionRules,
    state: &TestState,
    event: &TestEvent,
) -> Option<AuthRule> {
    check_auth_rules(rules, event, state.lookup())
        .err()
        .map(|e| {
            e.rejected_by()
                .unwrap_or_else(|| panic!("auth checks only reject, got {e}"))
        })
}

pub(super) fn pl_event(sender: &str, content: Value) -> TestEvent {
    TestEvent::state("$new-pl", "m.room.power_levels", "", sender, content)
}

/// The content of the test room's power levels, for building changes from it.
pub(super) fn base_pl(rules: &RoomVersionRules) -> Value {
    let mut users = json!({BOB: 50});
    if !rules.authorization.privileged_creators {
        users[ALICE] = json!(100);
    }
    json!({"users": users})
}
