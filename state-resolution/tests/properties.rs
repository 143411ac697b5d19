//! Property tests over generated rooms of every room version: the resolution does not depend on the
//! order of its inputs, leaves a single state alone, and never lets an unauthorised event in.

mod common;

use common::generator::{Rng, generate};
use common::{EventMap, TestPdu, readable};
use hearth_state_res::{StateMap, resolve_state};
use hearth_types::RoomVersionRules;
use proptest::prelude::*;
use serde_json::json;

fn rules(index: usize) -> &'static RoomVersionRules {
    let all = &RoomVersionRules::ALL;
    RoomVersionRules::get(all[index % all.len()].id).unwrap_or(&RoomVersionRules::V10)
}

fn resolve(
    rules: &RoomVersionRules,
    sets: &[StateMap<String>],
    events: &EventMap,
) -> StateMap<String> {
    let fetch = |id: &str| events.get(id);
    resolve_state(rules, sets, &fetch).unwrap_or_else(|e| panic!("resolution failed: {e}"))
}

/// One resolution input: the state sets and the room's events.
type Case = (Vec<StateMap<String>>, EventMap);

/// Every multi-set resolution of a generated room, with the room's events.
fn cases(seed: u64, version: usize, steps: usize) -> (&'static RoomVersionRules, Vec<Case>) {
    let rules = rules(version);
    let mut cases = Vec::new();
    generate(seed, rules, steps, |sets, events| {
        cases.push((sets.to_vec(), events.clone()))
    });
    (rules, cases)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn resolution_does_not_depend_on_the_order_of_state_sets(
        seed in any::<u64>(), version in 0usize..12, steps in 5usize..35, shuffle in any::<u64>()
    ) {
        let (rules, cases) = cases(seed, version, steps);
        let mut rng = Rng::new(shuffle);
        for (sets, events) in cases {
            let expected = readable(&resolve(rules, &sets, &events));
            let mut permuted = sets.clone();
            for i in (1..permuted.len()).rev() {
                permuted.swap(i, rng.below(i + 1));
            }
            // Rebuild each map so its internal iteration order differs too.
            let permuted: Vec<StateMap<String>> =
                permuted.into_iter().map(|m| m.into_iter().collect::<Vec<_>>().into_iter().rev().collect()).collect();
            prop_assert_eq!(readable(&resolve(rules, &permuted, &events)), expected);
        }
    }

    #[test]
    fn resolving_one_state_set_returns_it_unchanged(seed in any::<u64>(), version in 0usize..12, steps in 5usize..30) {
        let rules = rules(version);
        let room = generate(seed, rules, steps, |_, _| {});
        for state in &room.leaf_states {
            prop_assert_eq!(readable(&resolve(rules, std::slice::from_ref(state), &room.map)), readable(state));
            // Resolving a state against itself changes nothing either.
            prop_assert_eq!(readable(&resolve(rules, &[state.clone(), state.clone()], &room.map)), readable(state));
        }
    }

    /// Room version 1 is exempt: its algorithm (spec, room v1 "State resolution") takes the oldest
    /// conflicted power levels, join rules and member events without an auth check, one of the flaws
    /// that state resolution v2 fixed.
    #[test]
    fn an_event_that_fails_auth_never_enters_the_resolved_state(
        seed in any::<u64>(), version in 1usize..12, steps in 5usize..30, kind in 0usize..3
    ) {
        let rules = rules(version);
        let room = generate(seed, rules, steps, |_, _| {});
        let mut events = room.map.clone();
        // Mallory never joined: whatever she sends fails the auth rules in every state.
        let template = room.events.iter().find(|e| e.event_type == "m.room.member").cloned();
        let Some(template) = template else { return Ok(()); };
        let (event_type, state_key, content) = match kind {
            0 => ("m.room.power_levels", "", json!({"users": {"@mallory:evil.test": 100}})),
            1 => ("m.room.member", "@alice:one.test", json!({"membership": "ban"})),
            _ => ("m.room.join_rules", "", json!({"join_rule": "public"})),
        };
        let forged = TestPdu {
            event_id: "$forged".to_owned(),
            sender: "@mallory:evil.test".to_owned(),
            event_type: event_type.to_owned(),
            state_key: Some(state_key.to_owned()),
            content,
            origin_server_ts: 0,
            ..template
        };
        events.insert(forged.event_id.clone(), forged.clone());
        let mut sets = room.leaf_states.clone();
        let mut lying = sets[0].clone();
        lying.insert((event_type.to_owned(), state_key.to_owned()), forged.event_id.clone());
        sets.push(lying);
        let resolved = resolve(rules, &sets, &events);
        prop_assert!(!resolved.values().any(|id| id == "$forged"), "{:?}", readable(&resolved));
    }

    /// `depth` is claimed by the sender and only steers the auth-difference walk's early stop; for
    /// state resolution v2 and v2.1 lying depths (auth events "newer" than the events citing them)
    /// must not change the result.
    #[test]
    fn hostile_depths_do_not_change_a_v2_resolution(
        seed in any::<u64>(), version in 1usize..12, steps in 5usize..30, noise in any::<u64>()
    ) {
        let (rules, cases) = cases(seed, version, steps);
        let mut rng = Rng::new(noise);
        for (sets, events) in cases {
            let expected = readable(&resolve(rules, &sets, &events));
            let lying: EventMap = events
                .iter()
                .map(|(id, e)| (id.clone(), TestPdu { depth: rng.below(1000) as i64, ..e.clone() }))
                .collect();
            prop_assert_eq!(readable(&resolve(rules, &sets, &lying)), expected);
        }
    }
}
