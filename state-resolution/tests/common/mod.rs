//! Shared test support: an owned event type, a fixture loader and a room simulator that computes the
//! state after every event the way a server does.

#![allow(dead_code)]

pub mod generator;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use hearth_state_res::{Event, StateMap, check_auth_rules, resolve_state};
use hearth_types::RoomVersionRules;
use serde_json::Value;

/// An owned PDU.
#[derive(Clone, Debug)]
pub struct TestPdu {
    pub event_id: String,
    pub room_id: Option<String>,
    pub sender: String,
    pub event_type: String,
    pub state_key: Option<String>,
    pub content: Value,
    pub prev_events: Vec<String>,
    pub auth_events: Vec<String>,
    pub origin_server_ts: i64,
    pub depth: i64,
    pub rejected: bool,
}

impl Event for TestPdu {
    type Id = String;

    fn event_id(&self) -> &String {
        &self.event_id
    }
    fn room_id(&self) -> Option<&str> {
        self.room_id.as_deref()
    }
    fn sender(&self) -> &str {
        &self.sender
    }
    fn event_type(&self) -> &str {
        &self.event_type
    }
    fn state_key(&self) -> Option<&str> {
        self.state_key.as_deref()
    }
    fn content(&self) -> &Value {
        &self.content
    }
    fn prev_events(&self) -> impl Iterator<Item = &String> {
        self.prev_events.iter()
    }
    fn auth_events(&self) -> impl Iterator<Item = &String> {
        self.auth_events.iter()
    }
    fn origin_server_ts(&self) -> i64 {
        self.origin_server_ts
    }
    fn depth(&self) -> i64 {
        self.depth
    }
    fn redacts(&self) -> Option<&str> {
        None
    }
    fn rejected(&self) -> bool {
        self.rejected
    }
}

/// All events of a room by ID.
pub type EventMap = HashMap<String, TestPdu>;

/// A state key as used in fixtures: `"type|state_key"`.
pub fn key_string(key: &(String, String)) -> String {
    format!("{}|{}", key.0, key.1)
}

/// A loaded fixture.
pub struct Fixture {
    pub name: String,
    pub rules: &'static RoomVersionRules,
    pub events: Vec<TestPdu>,
    pub state_sets: Option<Vec<Vec<String>>>,
    pub expected: BTreeMap<String, String>,
}

fn expand_user(name: &str) -> String {
    if name.starts_with('@') {
        name.to_owned()
    } else {
        format!("@{name}:hearth.test")
    }
}

fn expand_id(id: &str) -> String {
    format!("${id}")
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn raw_events(dir: &Path, file: &str) -> Vec<Value> {
    let json = read_json(&dir.join(file));
    let mut events = Vec::new();
    for include in json["include"].as_array().into_iter().flatten() {
        events.extend(raw_events(dir, include.as_str().unwrap_or_default()));
    }
    events.extend(json["events"].as_array().cloned().unwrap_or_default());
    events
}

/// Loads `tests/fixtures/<file>`.
pub fn load_fixture(file: &str) -> Fixture {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let json = read_json(&dir.join(file));
    let version = json["room_version"].as_str().unwrap_or_default();
    let rules =
        RoomVersionRules::get(version).unwrap_or_else(|| panic!("{file}: unknown room version"));
    let raw = raw_events(&dir, file);
    let create_id = raw
        .first()
        .and_then(|e| e["id"].as_str())
        .map(expand_id)
        .unwrap_or_default();
    let room_id = if rules.authorization.room_id_is_create_event_hash {
        format!("!{}", &create_id[1..])
    } else {
        "!room:hearth.test".to_owned()
    };
    let mut depths: HashMap<String, i64> = HashMap::new();
    let mut events = Vec::new();
    for (index, e) in raw.iter().enumerate() {
        let ids = |field: &str| -> Vec<String> {
            e[field]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(expand_id)
                .collect()
        };
        let event_id = expand_id(e["id"].as_str().unwrap_or_default());
        let prev_events = ids("prev");
        let depth = prev_events
            .iter()
            .filter_map(|p| depths.get(p))
            .max()
            .map_or(0, |d| d + 1);
        depths.insert(event_id.clone(), depth);
        let event_type = e["type"].as_str().unwrap_or_default().to_owned();
        let is_v12_create =
            rules.authorization.room_id_is_create_event_hash && event_type == "m.room.create";
        events.push(TestPdu {
            event_id,
            room_id: (!is_v12_create).then(|| room_id.clone()),
            sender: expand_user(e["sender"].as_str().unwrap_or_default()),
            event_type,
            state_key: e["key"].as_str().map(str::to_owned),
            content: e["content"].clone(),
            prev_events,
            auth_events: ids("auth"),
            origin_server_ts: e["ts"].as_i64().unwrap_or(index as i64),
            depth,
            rejected: false,
        });
    }
    let state_sets = json["state_sets"].as_array().map(|sets| {
        sets.iter()
            .map(|set| {
                set.as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .map(expand_id)
                    .collect()
            })
            .collect()
    });
    let expected = json["expected"]
        .as_object()
        .map(|o| {
            o.iter()
                .map(|(k, v)| (k.clone(), expand_id(v.as_str().unwrap_or_default())))
                .collect()
        })
        .unwrap_or_default();
    Fixture {
        name: file.to_owned(),
        rules,
        events,
        state_sets,
        expected,
    }
}

/// Builds a state map from event IDs, using each event's type and state key.
pub fn state_map(events: &EventMap, ids: &[String]) -> StateMap<String> {
    ids.iter()
        .map(|id| {
            let e = &events[id];
            (
                (
                    e.event_type.clone(),
                    e.state_key.clone().unwrap_or_default(),
                ),
                id.clone(),
            )
        })
        .collect()
}

/// A state map as sorted `"type|key" -> id` for comparisons and messages.
pub fn readable(state: &StateMap<String>) -> BTreeMap<String, String> {
    state
        .iter()
        .map(|(k, v)| (key_string(k), v.clone()))
        .collect()
}

/// Walks the DAG in the given (causal) order, computing the state after each event as a server does:
/// the state before an event resolves the states after its `prev_events`; a state event that passes
/// the auth rules against it is added. Returns the states after each leaf and the states after every
/// event.
pub fn simulate(
    rules: &RoomVersionRules,
    events: &[TestPdu],
) -> (Vec<StateMap<String>>, HashMap<String, StateMap<String>>) {
    let map: EventMap = events
        .iter()
        .map(|e| (e.event_id.clone(), e.clone()))
        .collect();
    let fetch = |id: &str| map.get(id);
    let mut after: HashMap<String, StateMap<String>> = HashMap::new();
    let mut cited = std::collections::HashSet::new();
    for event in events {
        let prev_states: Vec<StateMap<String>> = event
            .prev_events
            .iter()
            .filter_map(|p| after.get(p).cloned())
            .collect();
        cited.extend(event.prev_events.iter().cloned());
        let before = resolve_state(rules, &prev_states, &fetch)
            .unwrap_or_else(|e| panic!("resolution failed: {e}"));
        let mut state = before.clone();
        if let Some(state_key) = &event.state_key {
            let allowed = check_auth_rules(rules, event, |t: &str, k: &str| {
                before
                    .get(&(t.to_owned(), k.to_owned()))
                    .and_then(|id| map.get(id))
            });
            if allowed.is_ok() {
                state.insert(
                    (event.event_type.clone(), state_key.clone()),
                    event.event_id.clone(),
                );
            }
        }
        after.insert(event.event_id.clone(), state);
    }
    let leaves = events
        .iter()
        .filter(|e| !cited.contains(&e.event_id))
        .map(|e| after[&e.event_id].clone())
        .collect();
    (leaves, after)
}
