//! The scenario fixtures in `tests/fixtures/`: each resolves to its expected state, whatever the order
//! of the state sets.

mod common;

use common::{EventMap, load_fixture, readable, simulate, state_map};
use hearth_state_res::resolve_state;

fn run(file: &str) {
    let fixture = load_fixture(file);
    let events: EventMap = fixture
        .events
        .iter()
        .map(|e| (e.event_id.clone(), e.clone()))
        .collect();
    let fetch = |id: &str| events.get(id);
    let state_sets = match &fixture.state_sets {
        Some(sets) => sets.iter().map(|ids| state_map(&events, ids)).collect(),
        None => simulate(fixture.rules, &fixture.events).0,
    };
    let mut orders = vec![state_sets.clone()];
    let mut reversed = state_sets.clone();
    reversed.reverse();
    orders.push(reversed);
    for sets in orders {
        let resolved = resolve_state(fixture.rules, &sets, &fetch)
            .unwrap_or_else(|e| panic!("{}: resolution failed: {e}", fixture.name));
        assert_eq!(readable(&resolved), fixture.expected, "{}", fixture.name);
    }
}

#[test]
fn private_chat_bootstrap_resolves_to_its_own_state() {
    run("bootstrap-private.json");
}

#[test]
fn public_chat_bootstrap_resolves_to_its_own_state() {
    run("bootstrap-public.json");
}

#[test]
fn ties_in_power_are_broken_by_origin_server_ts_before_event_id() {
    run("origin-server-ts-tiebreak.json");
}

#[test]
fn a_ban_supersedes_the_banned_users_concurrent_power_levels() {
    run("ban-vs-power-levels.json");
}

#[test]
fn a_demotion_supersedes_the_demoted_users_concurrent_topic() {
    run("topic-vs-power-levels.json");
}

#[test]
fn the_admins_power_levels_supersede_the_moderators() {
    run("power-levels-admin-vs-mod.json");
}

#[test]
fn a_ban_supersedes_the_banned_users_concurrent_topic() {
    run("topic-vs-ban.json");
}

#[test]
fn a_join_rule_change_supersedes_a_concurrent_join() {
    run("join-rules-vs-join.json");
}

#[test]
fn concurrent_joins_both_land_in_the_state() {
    run("concurrent-joins.json");
}

#[test]
fn msc4297_problem_a_loses_the_join_rules_under_v2() {
    run("msc4297-problem-a-v11.json");
}

#[test]
fn msc4297_problem_a_keeps_the_join_rules_under_v2_1() {
    run("msc4297-problem-a-v12.json");
}

#[test]
fn msc4297_problem_b_resets_power_levels_under_v2() {
    run("msc4297-problem-b-v11.json");
}

#[test]
fn msc4297_problem_b_keeps_the_latest_power_levels_under_v2_1() {
    run("msc4297-problem-b-v12.json");
}
