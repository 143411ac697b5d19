//! State resolution v2 (rooms v2–v11) and v2.1 (room v12), as the spec's "State resolution" section of
//! room version 2 and 12 define it.

use std::borrow::Borrow;
use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap, HashMap, HashSet};
use std::rc::Rc;

use hearth_types::RoomVersionRules;

use super::graph::{Graph, Node};
use super::{EventSource, StateMap};
use crate::StateKey;
use crate::auth::{auth_types_for_event, check_state_dependent_with};
use crate::content::{Membership, room_creators};
use crate::error::Error;
use crate::event::{Event, types};
use crate::power_levels::{PowerContext, PowerLevels, UserPower};

type IdOf<S> = <<S as EventSource>::Event as Event>::Id;

/// Resolves `state_sets` with v2, or v2.1 when `v2_1` is set (start the iterative auth checks from an
/// empty state; add the conflicted state subgraph to the full conflicted set).
pub(super) fn resolve<S: EventSource>(
    rules: &RoomVersionRules,
    state_sets: &[StateMap<IdOf<S>>],
    source: &S,
    v2_1: bool,
) -> Result<StateMap<IdOf<S>>, Error> {
    let (unconflicted, conflicted) = split_conflicted(state_sets);
    if conflicted.is_empty() {
        return Ok(unconflicted);
    }
    let mut graph = Graph::new(source);

    // The conflicted state set, per state set and as a whole, and the unconflicted events.
    let mut conflicted_nodes = Vec::new();
    let mut per_set: Vec<Vec<Node>> = vec![Vec::new(); state_sets.len()];
    for (key, ids) in &conflicted {
        for id in ids {
            conflicted_nodes.push(graph.intern(id)?);
        }
        for (i, set) in state_sets.iter().enumerate() {
            if let Some(id) = set.get(key) {
                per_set[i].push(graph.intern(id)?);
            }
        }
    }
    let mut unconflicted_nodes = Vec::with_capacity(unconflicted.len());
    for id in unconflicted.values() {
        unconflicted_nodes.push(graph.intern(id)?);
    }

    // The full conflicted set: conflicted state ∪ auth difference (∪ conflicted subgraph in v2.1),
    // leaving out events we do not have.
    let mut full: BTreeSet<Node> = conflicted_nodes.iter().copied().collect();
    full.extend(graph.auth_difference(&unconflicted_nodes, &per_set)?);
    if v2_1 {
        full.extend(graph.conflicted_subgraph(&conflicted_nodes)?);
    }
    let mut full_set: HashSet<Node> = HashSet::with_capacity(full.len());
    for node in full {
        graph.load(node)?;
        if graph.event(node).is_some_and(|e| e.state_key().is_some()) {
            full_set.insert(node);
        }
    }

    // Step 1: the power events and the part of their auth chains in the full conflicted set, sorted
    // by reverse topological power ordering.
    let power_events: Vec<Node> = full_set
        .iter()
        .copied()
        .filter(|&n| graph.event(n).is_some_and(is_power_event))
        .collect();
    let sorted_power = reverse_topological_power_sort(rules, &mut graph, &power_events, &full_set)?;

    // Step 2: iterative auth checks from the unconflicted state (v2) or an empty state (v2.1).
    let mut state = PartialState {
        base: if v2_1 { None } else { Some(&unconflicted) },
        overlay: HashMap::new(),
    };
    iterative_auth_checks(rules, &mut graph, &sorted_power, &mut state)?;

    // Step 3: the other events, in mainline order of the resolved power levels.
    let in_power: HashSet<Node> = sorted_power.iter().copied().collect();
    let others: Vec<Node> = full_set
        .iter()
        .copied()
        .filter(|n| !in_power.contains(n))
        .collect();
    let power_levels = state.get(&mut graph, &(types::POWER_LEVELS.to_owned(), String::new()))?;
    let sorted_others = mainline_sort(&mut graph, &others, power_levels)?;

    // Step 4: iterative auth checks on top of the partial state.
    iterative_auth_checks(rules, &mut graph, &sorted_others, &mut state)?;

    // Step 5: the unconflicted state wins.
    let overlay = state.overlay;
    let mut resolved = unconflicted;
    for (key, node) in overlay {
        resolved
            .entry(key)
            .or_insert_with(|| graph.id(node).clone());
    }
    Ok(resolved)
}

/// The partially resolved state: what the iterative auth checks applied, over a base map.
struct PartialState<'m, Id> {
    base: Option<&'m StateMap<Id>>,
    overlay: HashMap<StateKey, Node>,
}

impl<Id: Clone + Eq + std::hash::Hash + Borrow<str>> PartialState<'_, Id> {
    fn get<S: EventSource>(
        &self,
        graph: &mut Graph<'_, S>,
        key: &StateKey,
    ) -> Result<Option<Node>, Error>
    where
        S::Event: Event<Id = Id>,
    {
        if let Some(node) = self.overlay.get(key) {
            return Ok(Some(*node));
        }
        match self.base.and_then(|base| base.get(key)) {
            Some(id) => Ok(Some(graph.intern(id)?)),
            None => Ok(None),
        }
    }
}

/// Splits the state sets into the unconflicted state map (keys present in every set with the same
/// event) and the conflicted state set (every event of every other key), as v2 defines them: a key
/// missing from some set is conflicted.
pub(super) fn split_conflicted<Id: Clone + Eq + std::hash::Hash + Borrow<str>>(
    state_sets: &[StateMap<Id>],
) -> (StateMap<Id>, HashMap<StateKey, Vec<Id>>) {
    let mut unconflicted = StateMap::new();
    let mut conflicted: HashMap<StateKey, Vec<Id>> = HashMap::new();
    let keys: HashSet<&StateKey> = state_sets.iter().flat_map(|set| set.keys()).collect();
    for key in keys {
        let mut ids: Vec<&Id> = Vec::new();
        let mut missing = false;
        for set in state_sets {
            match set.get(key) {
                Some(id) => {
                    if !ids.contains(&id) {
                        ids.push(id);
                    }
                }
                None => missing = true,
            }
        }
        if ids.len() == 1 && !missing {
            unconflicted.insert(key.clone(), ids[0].clone());
        } else {
            conflicted.insert(key.clone(), ids.into_iter().cloned().collect());
        }
    }
    (unconflicted, conflicted)
}

/// A power event: power levels, join rules, the create event (as Synapse and ruma also count it), or a
/// kick or ban (a leave or ban whose sender is not the target).
pub(super) fn is_power_event(event: &impl Event) -> bool {
    match (event.event_type(), event.state_key()) {
        (types::POWER_LEVELS | types::JOIN_RULES | types::CREATE, Some("")) => true,
        (types::MEMBER, Some(target)) => {
            matches!(
                Membership::of_content(event.content()),
                Membership::Leave | Membership::Ban
            ) && event.sender() != target
        }
        _ => false,
    }
}

/// The tie-break key of the reverse topological power ordering: higher sender power first, then older
/// `origin_server_ts`, then smaller event ID.
type PowerKey = (Reverse<UserPower>, i64, String);

/// Sorts the power events and their auth ancestors within the full conflicted set with Kahn's
/// algorithm, always taking the smallest available event by [`PowerKey`].
fn reverse_topological_power_sort<S: EventSource>(
    rules: &RoomVersionRules,
    graph: &mut Graph<'_, S>,
    power_events: &[Node],
    full_set: &HashSet<Node>,
) -> Result<Vec<Node>, Error> {
    // The subgraph: walk auth edges that stay inside the full conflicted set.
    let mut members: Vec<Node> = Vec::new();
    let mut seen: HashSet<Node> = HashSet::new();
    let mut stack: Vec<Node> = power_events.to_vec();
    while let Some(node) = stack.pop() {
        if !seen.insert(node) {
            continue;
        }
        members.push(node);
        for &target in graph.auth_edges(node) {
            if full_set.contains(&target) && !seen.contains(&target) {
                stack.push(target);
            }
        }
    }
    let mut pending_auth: HashMap<Node, usize> = HashMap::with_capacity(members.len());
    let mut cited_by: HashMap<Node, Vec<Node>> = HashMap::new();
    for &node in &members {
        let inside: Vec<Node> = graph
            .auth_edges(node)
            .iter()
            .copied()
            .filter(|t| seen.contains(t))
            .collect();
        pending_auth.insert(node, inside.len());
        for target in inside {
            cited_by.entry(target).or_default().push(node);
        }
    }
    let mut ready: BinaryHeap<Reverse<(PowerKey, Node)>> = BinaryHeap::new();
    for &node in &members {
        if pending_auth.get(&node) == Some(&0) {
            ready.push(Reverse((power_key(rules, graph, node)?, node)));
        }
    }
    let mut sorted = Vec::with_capacity(members.len());
    while let Some(Reverse((_, node))) = ready.pop() {
        sorted.push(node);
        for &citing in cited_by.get(&node).map(Vec::as_slice).unwrap_or_default() {
            if let Some(count) = pending_auth.get_mut(&citing) {
                *count -= 1;
                if *count == 0 {
                    ready.push(Reverse((power_key(rules, graph, citing)?, citing)));
                }
            }
        }
    }
    Ok(sorted)
}

fn power_key<S: EventSource>(
    rules: &RoomVersionRules,
    graph: &mut Graph<'_, S>,
    node: Node,
) -> Result<PowerKey, Error> {
    let power = sender_power_from_auth_events(rules, graph, node)?;
    let ts = graph.event(node).map_or(0, Event::origin_server_ts);
    Ok((Reverse(power), ts, graph.id_str(node).to_owned()))
}

/// The sender's power level "when looking at their respective auth_events": the power levels event
/// among the event's auth events (creators count as the room version says), or, without one, 100 for
/// the creator and 0 for everyone else.
fn sender_power_from_auth_events<S: EventSource>(
    rules: &RoomVersionRules,
    graph: &mut Graph<'_, S>,
    node: Node,
) -> Result<UserPower, Error> {
    let create = create_event_for(rules, graph, node)?;
    let mut power_levels = None;
    for target in graph.auth_edges(node).to_vec() {
        graph.load(target)?;
        if let Some(event) = graph.event(target)
            && event.event_type() == types::POWER_LEVELS
            && event.state_key() == Some("")
        {
            power_levels = Some(target);
        }
    }
    let Some(event) = graph.event(node) else {
        return Ok(UserPower::Level(0));
    };
    let context = PowerContext {
        levels: power_levels
            .and_then(|pl| graph.event(pl))
            .map(|pl| Rc::new(PowerLevels::from_state(rules, pl.content()))),
        creators: create
            .and_then(|c| graph.event(c))
            .map(|c| room_creators(rules, c))
            .unwrap_or_default(),
        creators_are_privileged: rules.authorization.privileged_creators,
    };
    Ok(context.user_power(event.sender()))
}

/// The create event that governs an event: among its auth events, or (v12) named by its room ID.
fn create_event_for<S: EventSource>(
    rules: &RoomVersionRules,
    graph: &mut Graph<'_, S>,
    node: Node,
) -> Result<Option<Node>, Error> {
    if rules.authorization.room_id_is_create_event_hash {
        let create_id = graph
            .event(node)
            .and_then(Event::room_id)
            .and_then(|room| room.strip_prefix('!'))
            .map(|hash| format!("${hash}"));
        return match create_id {
            Some(id) => graph.fetch_by_str(&id),
            None => Ok(None),
        };
    }
    for target in graph.auth_edges(node).to_vec() {
        graph.load(target)?;
        if graph
            .event(target)
            .is_some_and(|e| e.event_type() == types::CREATE && e.state_key() == Some(""))
        {
            return Ok(Some(target));
        }
    }
    Ok(None)
}

/// The power levels event among a node's auth events.
fn power_levels_auth_event<S: EventSource>(
    graph: &mut Graph<'_, S>,
    node: Node,
) -> Result<Option<Node>, Error> {
    graph.load(node)?;
    for target in graph.auth_edges(node).to_vec() {
        graph.load(target)?;
        if graph
            .event(target)
            .is_some_and(|e| e.event_type() == types::POWER_LEVELS && e.state_key() == Some(""))
        {
            return Ok(Some(target));
        }
    }
    Ok(None)
}

/// Sorts events by mainline ordering based on the power levels event `power_levels`: events whose
/// nearest mainline ancestor is older first (those with none at all first of all), then older
/// `origin_server_ts`, then smaller event ID.
fn mainline_sort<S: EventSource>(
    graph: &mut Graph<'_, S>,
    events: &[Node],
    power_levels: Option<Node>,
) -> Result<Vec<Node>, Error> {
    if events.is_empty() {
        return Ok(Vec::new());
    }
    // The mainline: P0 (the resolved power levels), P1 (the power levels among P0's auth events), …
    let mut position: HashMap<Node, usize> = HashMap::new();
    let mut current = power_levels;
    while let Some(node) = current {
        if position.contains_key(&node) {
            break;
        }
        position.insert(node, position.len());
        current = power_levels_auth_event(graph, node)?;
    }
    // Mainline positions, memoised for every power levels event met on the way.
    let mut memo: HashMap<Node, Option<usize>> = HashMap::new();
    let mut keys: Vec<(Reverse<usize>, i64, String, Node)> = Vec::with_capacity(events.len());
    for &event in events {
        let mut path: Vec<Node> = Vec::new();
        let mut current = power_levels_auth_event(graph, event)?;
        let found = loop {
            let Some(node) = current else {
                break None;
            };
            if let Some(&pos) = position.get(&node) {
                break Some(pos);
            }
            if let Some(&known) = memo.get(&node) {
                break known;
            }
            if path.contains(&node) {
                break None;
            }
            path.push(node);
            current = power_levels_auth_event(graph, node)?;
        };
        for node in path {
            memo.insert(node, found);
        }
        let ts = graph.event(event).map_or(0, Event::origin_server_ts);
        keys.push((
            Reverse(found.unwrap_or(usize::MAX)),
            ts,
            graph.id_str(event).to_owned(),
            event,
        ));
    }
    keys.sort();
    Ok(keys.into_iter().map(|(.., node)| node).collect())
}

/// Applies each event in order to `state` if it passes the state-dependent auth rules against the
/// state, falling back to its own (non-rejected) auth events for keys the state lacks.
fn iterative_auth_checks<S: EventSource>(
    rules: &RoomVersionRules,
    graph: &mut Graph<'_, S>,
    events: &[Node],
    state: &mut PartialState<'_, IdOf<S>>,
) -> Result<(), Error> {
    // Each power levels event is read once, however many events it authorises.
    let mut cache: HashMap<Node, Rc<PowerLevels>> = HashMap::new();
    for &node in events {
        graph.load(node)?;
        let Some(event) = graph.event(node) else {
            continue;
        };
        let Some(state_key) = event.state_key() else {
            continue;
        };
        let key: StateKey = (event.event_type().to_owned(), state_key.to_owned());
        let wanted = auth_types_for_event(
            rules,
            event.event_type(),
            event.sender(),
            Some(state_key),
            event.content(),
        );

        // The auth state: the event's own auth events, then (v12) the create event named by the room
        // ID, then the state's entries for the keys the rules need.
        let mut auth_nodes: Vec<Node> = Vec::new();
        for target in graph.auth_edges(node).to_vec() {
            graph.load(target)?;
            if graph
                .event(target)
                .is_some_and(|e| !e.rejected() && e.state_key().is_some())
            {
                auth_nodes.push(target);
            }
        }
        if rules.authorization.room_id_is_create_event_hash
            && let Some(create) = create_event_for(rules, graph, node)?
        {
            auth_nodes.push(create);
        }
        for wanted_key in &wanted {
            if let Some(target) = state.get(graph, wanted_key)? {
                graph.load(target)?;
                if graph.event(target).is_some_and(|e| !e.rejected()) {
                    auth_nodes.push(target);
                }
            }
        }
        // Later entries override earlier ones with the same key.
        let mut by_key: HashMap<(&str, &str), Node> = HashMap::with_capacity(auth_nodes.len());
        for target in auth_nodes {
            if let Some(e) = graph.event(target) {
                by_key.insert((e.event_type(), e.state_key().unwrap_or_default()), target);
            }
        }
        if let Some(pl) = by_key.get(&(types::POWER_LEVELS, "")).copied()
            && !cache.contains_key(&pl)
            && let Some(pl_event) = graph.event(pl)
        {
            cache.insert(
                pl,
                Rc::new(PowerLevels::from_state(rules, pl_event.content())),
            );
        }
        let Some(event) = graph.event(node) else {
            continue;
        };
        let power_levels_node = by_key.get(&(types::POWER_LEVELS, "")).copied();
        let allowed = check_state_dependent_with(
            rules,
            event,
            |event_type, state_key| {
                by_key
                    .get(&(event_type, state_key))
                    .and_then(|&n| graph.event(n))
            },
            |pl| match power_levels_node.and_then(|n| cache.get(&n)) {
                Some(levels) => Rc::clone(levels),
                None => Rc::new(PowerLevels::from_state(rules, pl.content())),
            },
        );
        if allowed.is_ok() {
            state.overlay.insert(key, node);
        }
    }
    Ok(())
}
