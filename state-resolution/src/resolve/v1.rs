//! State resolution v1 (room version 1), as Synapse implements the spec's description: resolve power
//! levels, then join rules, then memberships, each against the state resolved so far, then every other
//! key. Ordering uses `depth` and the SHA-1 of the event ID.

use std::borrow::Borrow;
use std::collections::{BTreeMap, HashMap};

use hearth_types::RoomVersionRules;
use sha1::{Digest, Sha1};

use super::graph::{Graph, Node};
use super::{EventSource, StateMap};
use crate::StateKey;
use crate::auth::{auth_types_for_event, check_state_dependent_auth_rules};
use crate::error::Error;
use crate::event::{Event, types};

type IdOf<S> = <<S as EventSource>::Event as Event>::Id;

pub(super) fn resolve<S: EventSource>(
    rules: &RoomVersionRules,
    state_sets: &[StateMap<IdOf<S>>],
    source: &S,
) -> Result<StateMap<IdOf<S>>, Error> {
    let mut graph = Graph::new(source);
    // v1 conflicts only where two sets hold different events for a key; a missing key is no conflict.
    let mut unconflicted: StateMap<IdOf<S>> = StateMap::new();
    let mut candidates: BTreeMap<StateKey, Vec<IdOf<S>>> = BTreeMap::new();
    for set in state_sets {
        for (key, id) in set {
            let ids = candidates.entry(key.clone()).or_default();
            if !ids.contains(id) {
                ids.push(id.clone());
            }
        }
    }
    let mut conflicted: BTreeMap<StateKey, Vec<Node>> = BTreeMap::new();
    for (key, ids) in candidates {
        if let [only] = ids.as_slice() {
            unconflicted.insert(key, only.clone());
            continue;
        }
        let mut nodes = Vec::new();
        for id in &ids {
            let node = graph.intern(id)?;
            graph.load(node)?;
            if graph.event(node).is_some() {
                nodes.push(node);
            }
        }
        match nodes.as_slice() {
            [] => {}
            [only] => {
                unconflicted.insert(key, graph.id(*only).clone());
            }
            _ => {
                conflicted.insert(key, nodes);
            }
        }
    }

    // The auth state: the unconflicted entries any conflicted event's auth rules need.
    let mut auth_state: HashMap<StateKey, Node> = HashMap::new();
    for nodes in conflicted.values() {
        for &node in nodes {
            let Some(event) = graph.event(node) else {
                continue;
            };
            let keys = auth_types_for_event(
                rules,
                event.event_type(),
                event.sender(),
                event.state_key(),
                event.content(),
            );
            for key in keys {
                if let Some(id) = unconflicted.get(&key)
                    && !auth_state.contains_key(&key)
                {
                    let target = graph.intern(id)?;
                    auth_state.insert(key, target);
                }
            }
        }
    }
    for &node in auth_state.values() {
        graph.load(node)?;
    }

    let mut resolved: BTreeMap<StateKey, Node> = BTreeMap::new();
    let power_key = (types::POWER_LEVELS.to_owned(), String::new());
    let phases: [&dyn Fn(&StateKey) -> bool; 3] = [
        &|key| *key == power_key,
        &|key| key.0 == types::JOIN_RULES,
        &|key| key.0 == types::MEMBER,
    ];
    for in_phase in phases {
        let mut phase_result = Vec::new();
        for (key, nodes) in &conflicted {
            if in_phase(key) && !resolved.contains_key(key) {
                phase_result.push((
                    key.clone(),
                    resolve_auth_events(rules, &graph, nodes, &auth_state),
                ));
            }
        }
        for (key, node) in phase_result {
            resolved.insert(key.clone(), node);
            auth_state.insert(key, node);
        }
    }
    for (key, nodes) in &conflicted {
        if !resolved.contains_key(key) {
            resolved.insert(
                key.clone(),
                resolve_normal_events(rules, &graph, nodes, &auth_state),
            );
        }
    }

    for (key, node) in resolved {
        unconflicted.insert(key, graph.id(node).clone());
    }
    Ok(unconflicted)
}

/// Highest depth first, then the smallest SHA-1 (hex) of the event ID.
fn ordered<S: EventSource>(graph: &Graph<'_, S>, nodes: &[Node]) -> Vec<Node> {
    let mut keyed: Vec<(std::cmp::Reverse<i64>, String, Node)> = nodes
        .iter()
        .map(|&n| {
            let depth = graph.event(n).map_or(0, Event::depth);
            let id: &str = graph.id(n).borrow();
            let digest = Sha1::digest(id.as_bytes());
            let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
            (std::cmp::Reverse(depth), hex, n)
        })
        .collect();
    keyed.sort();
    keyed.into_iter().map(|(.., n)| n).collect()
}

fn passes<S: EventSource>(
    rules: &RoomVersionRules,
    graph: &Graph<'_, S>,
    node: Node,
    auth_state: &HashMap<StateKey, Node>,
) -> bool {
    let Some(event) = graph.event(node) else {
        return false;
    };
    check_state_dependent_auth_rules(rules, event, |event_type, state_key| {
        auth_state
            .get(&(event_type.to_owned(), state_key.to_owned()))
            .and_then(|&n| graph.event(n))
    })
    .is_ok()
}

/// Power levels, join rules and memberships: start from the oldest event and keep moving to the next
/// newer one while it passes auth against the state with the previous one applied.
fn resolve_auth_events<S: EventSource>(
    rules: &RoomVersionRules,
    graph: &Graph<'_, S>,
    nodes: &[Node],
    auth_state: &HashMap<StateKey, Node>,
) -> Node {
    let mut oldest_first = ordered(graph, nodes);
    oldest_first.reverse();
    let mut state = auth_state.clone();
    let mut chosen = oldest_first[0];
    for &next in &oldest_first[1..] {
        if let Some(event) = graph.event(chosen) {
            let key = (
                event.event_type().to_owned(),
                event.state_key().unwrap_or_default().to_owned(),
            );
            state.insert(key, chosen);
        }
        if !passes(rules, graph, next, &state) {
            return chosen;
        }
        chosen = next;
    }
    chosen
}

/// Every other key: the newest event that passes auth; the oldest if none does.
fn resolve_normal_events<S: EventSource>(
    rules: &RoomVersionRules,
    graph: &Graph<'_, S>,
    nodes: &[Node],
    auth_state: &HashMap<StateKey, Node>,
) -> Node {
    let newest_first = ordered(graph, nodes);
    for &node in &newest_first {
        if passes(rules, graph, node, auth_state) {
            return node;
        }
    }
    newest_first[newest_first.len() - 1]
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use hearth_types::RoomVersionRules;
    use serde_json::json;

    use crate::resolve::{StateMap, resolve_state};
    use crate::testing::TestEvent;

    const ALICE: &str = "@alice:a.example";
    const BOB: &str = "@bob:b.example";

    fn event(
        id: &str,
        event_type: &str,
        key: &str,
        sender: &str,
        content: serde_json::Value,
        depth: i64,
    ) -> TestEvent {
        let mut e = TestEvent::state(id, event_type, key, sender, content);
        e.depth = depth;
        e
    }

    /// A v1 room: Alice (100) and Bob (0) joined; `extra` events are the candidates.
    fn resolve(extra: &[TestEvent], sets: &[&[(&str, &str, &str)]]) -> StateMap<String> {
        let mut events: HashMap<String, TestEvent> = HashMap::new();
        let base = [
            event(
                "$create",
                "m.room.create",
                "",
                ALICE,
                json!({"creator": ALICE}),
                0,
            ),
            event(
                "$alice",
                "m.room.member",
                ALICE,
                ALICE,
                json!({"membership": "join"}),
                1,
            ),
            event(
                "$pl",
                "m.room.power_levels",
                "",
                ALICE,
                json!({"users": {ALICE: 100}}),
                2,
            ),
            event(
                "$jr",
                "m.room.join_rules",
                "",
                ALICE,
                json!({"join_rule": "public"}),
                3,
            ),
            event(
                "$bob",
                "m.room.member",
                BOB,
                BOB,
                json!({"membership": "join"}),
                4,
            ),
        ];
        for e in base.iter().chain(extra) {
            events.insert(e.event_id.clone(), e.clone());
        }
        let common: Vec<(&str, &str, &str)> = vec![
            ("m.room.create", "", "$create"),
            ("m.room.member", ALICE, "$alice"),
            ("m.room.power_levels", "", "$pl"),
            ("m.room.join_rules", "", "$jr"),
            ("m.room.member", BOB, "$bob"),
        ];
        let state_sets: Vec<StateMap<String>> = sets
            .iter()
            .map(|set| {
                common
                    .iter()
                    .chain(set.iter())
                    .map(|(t, k, id)| (((*t).to_owned(), (*k).to_owned()), (*id).to_owned()))
                    .collect()
            })
            .collect();
        let fetch = |id: &str| events.get(id);
        match resolve_state(&RoomVersionRules::V1, &state_sets, &fetch) {
            Ok(state) => state,
            Err(e) => panic!("{e}"),
        }
    }

    fn topic(state: &StateMap<String>) -> Option<&str> {
        state
            .get(&("m.room.topic".to_owned(), String::new()))
            .map(String::as_str)
    }

    #[test]
    fn the_deepest_authorised_topic_wins() {
        let older = event("$t1", "m.room.topic", "", ALICE, json!({"topic": "old"}), 5);
        let newer = event("$t2", "m.room.topic", "", ALICE, json!({"topic": "new"}), 6);
        let state = resolve(
            &[older, newer],
            &[
                &[("m.room.topic", "", "$t1")],
                &[("m.room.topic", "", "$t2")],
            ],
        );
        assert_eq!(topic(&state), Some("$t2"));
    }

    #[test]
    fn an_unauthorised_deeper_topic_loses() {
        let alices = event("$t1", "m.room.topic", "", ALICE, json!({"topic": "old"}), 5);
        let bobs = event(
            "$t2",
            "m.room.topic",
            "",
            BOB,
            json!({"topic": "bob was here"}),
            9,
        );
        let state = resolve(
            &[alices, bobs],
            &[
                &[("m.room.topic", "", "$t1")],
                &[("m.room.topic", "", "$t2")],
            ],
        );
        assert_eq!(topic(&state), Some("$t1"));
    }

    #[test]
    fn equal_depths_are_ordered_by_sha1_of_the_event_id() {
        // Among equal depths the smaller SHA-1 (hex) of the event ID is tried first.
        let x = event("$x", "m.room.topic", "", ALICE, json!({}), 5);
        let y = event("$y", "m.room.topic", "", ALICE, json!({}), 5);
        let state = resolve(
            &[x, y],
            &[&[("m.room.topic", "", "$x")], &[("m.room.topic", "", "$y")]],
        );
        let digest = |id: &str| {
            use sha1::{Digest, Sha1};
            Sha1::digest(id.as_bytes())
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        };
        let expected = if digest("$x") < digest("$y") {
            "$x"
        } else {
            "$y"
        };
        assert_eq!(topic(&state), Some(expected));
    }

    #[test]
    fn power_levels_move_forward_only_while_authorised() {
        // Alice's newer levels pass; Bob's even newer ones (he has 0) do not, so Alice's stay.
        let pl2 = event(
            "$pl2",
            "m.room.power_levels",
            "",
            ALICE,
            json!({"users": {ALICE: 100, BOB: 10}}),
            5,
        );
        let pl3 = event(
            "$pl3",
            "m.room.power_levels",
            "",
            BOB,
            json!({"users": {ALICE: 100, BOB: 100}}),
            6,
        );
        let state = resolve(
            &[pl2, pl3],
            &[
                &[("m.room.power_levels", "", "$pl2")],
                &[("m.room.power_levels", "", "$pl3")],
            ],
        );
        assert_eq!(
            state[&("m.room.power_levels".to_owned(), String::new())],
            "$pl2"
        );
    }

    #[test]
    fn a_key_missing_from_one_state_is_not_a_conflict() {
        let t = event("$t1", "m.room.topic", "", BOB, json!({}), 5);
        let state = resolve(&[t], &[&[("m.room.topic", "", "$t1")], &[]]);
        assert_eq!(
            topic(&state),
            Some("$t1"),
            "v1 keeps it without an auth check"
        );
    }
}
