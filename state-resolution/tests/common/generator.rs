//! Random room DAGs: forks, merges, concurrent power level changes, bans against joins, join rule
//! changes, and events citing stale auth events. Every state resolution the simulated server performs
//! with more than one state set is reported to a callback, so a differential test can replay it.

use std::collections::HashMap;

use hearth_state_res::{
    Event, StateMap, auth_types_for_event, check_against_auth_events, check_auth_rules,
    resolve_state,
};
use hearth_types::RoomVersionRules;
use serde_json::{Value, json};

use super::{EventMap, TestPdu};

/// A small deterministic PRNG (xorshift64*), so every case is reproducible from its seed.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

const USERS: [&str; 7] = [
    "@alice:one.test",
    "@bob:one.test",
    "@carol:two.test",
    "@dave:two.test",
    "@erin:three.test",
    "@frank:three.test",
    "@gina:one.test",
];

/// A generated room: its events in causal order and the states after each of its leaves.
pub struct Room {
    pub rules: &'static RoomVersionRules,
    pub events: Vec<TestPdu>,
    pub map: EventMap,
    pub leaf_states: Vec<StateMap<String>>,
}

/// Generates a room with `steps` events after the bootstrap, reporting every multi-set resolution.
pub fn generate(
    seed: u64,
    rules: &'static RoomVersionRules,
    steps: usize,
    mut on_resolve: impl FnMut(&[StateMap<String>], &EventMap),
) -> Room {
    let mut rng = Rng::new(seed);
    let mut room = Builder {
        rules,
        events: Vec::new(),
        map: EventMap::new(),
        after: HashMap::new(),
        tips: Vec::new(),
        ts: 0,
    };
    room.bootstrap(&mut rng);
    for _ in 0..steps {
        room.step(&mut rng, &mut on_resolve);
    }
    let leaf_states: Vec<StateMap<String>> =
        room.tips.iter().map(|t| room.after[t].clone()).collect();
    if leaf_states.len() > 1 {
        on_resolve(&leaf_states, &room.map);
    }
    Room {
        rules,
        events: room.events,
        map: room.map,
        leaf_states,
    }
}

/// The parts of a new event that the generator chooses.
struct Draft<'a> {
    sender: &'a str,
    event_type: &'a str,
    state_key: Option<&'a str>,
    content: Value,
}

struct Builder {
    rules: &'static RoomVersionRules,
    events: Vec<TestPdu>,
    map: EventMap,
    after: HashMap<String, StateMap<String>>,
    tips: Vec<String>,
    ts: i64,
}

impl Builder {
    fn room_id(&self) -> String {
        if self.rules.authorization.room_id_is_create_event_hash {
            self.events
                .first()
                .map(|c| format!("!{}", &c.event_id[1..]))
                .unwrap_or_default()
        } else {
            "!room:one.test".to_owned()
        }
    }

    fn bootstrap(&mut self, rng: &mut Rng) {
        let alice = USERS[0];
        let mut create_content = json!({"room_version": self.rules.id});
        if !self.rules.authorization.use_room_create_sender {
            create_content["creator"] = json!(alice);
        }
        self.add(
            rng,
            Draft {
                sender: alice,
                event_type: "m.room.create",
                state_key: Some(""),
                content: create_content,
            },
            None,
            None,
        );
        self.add(
            rng,
            Draft {
                sender: alice,
                event_type: "m.room.member",
                state_key: Some(alice),
                content: json!({"membership": "join"}),
            },
            None,
            None,
        );
        let pl = self.power_levels_content(rng, &[(USERS[1], 50)], true);
        self.add(
            rng,
            Draft {
                sender: alice,
                event_type: "m.room.power_levels",
                state_key: Some(""),
                content: pl,
            },
            None,
            None,
        );
        self.add(
            rng,
            Draft {
                sender: alice,
                event_type: "m.room.join_rules",
                state_key: Some(""),
                content: json!({"join_rule": "public"}),
            },
            None,
            None,
        );
        for user in &USERS[1..4] {
            self.add(
                rng,
                Draft {
                    sender: user,
                    event_type: "m.room.member",
                    state_key: Some(user),
                    content: json!({"membership": "join"}),
                },
                None,
                None,
            );
        }
    }

    /// Power levels with every top-level level written out (see the docs: ruma-state-res compares
    /// defaults where Hearth compares written values, and the generator stays where both agree).
    fn power_levels_content(
        &self,
        rng: &mut Rng,
        users: &[(&str, i64)],
        include_alice: bool,
    ) -> Value {
        let levels = [0, 0, 25, 50, 50, 75, 100];
        let mut content = json!({
            "users_default": 0,
            "events_default": *rng.pick(&[0, 0, 10]),
            "state_default": *rng.pick(&[50, 50, 25]),
            "ban": *rng.pick(&levels[2..]),
            "kick": *rng.pick(&levels[2..]),
            "redact": 50,
            "invite": *rng.pick(&levels),
            "events": {"m.room.topic": *rng.pick(&levels), "m.room.power_levels": *rng.pick(&[50, 100])},
            "users": {},
        });
        if include_alice && !self.rules.authorization.privileged_creators {
            content["users"][USERS[0]] = json!(100);
        }
        for (user, level) in users {
            content["users"][*user] = json!(level);
        }
        content
    }

    fn step(&mut self, rng: &mut Rng, on_resolve: &mut impl FnMut(&[StateMap<String>], &EventMap)) {
        // Choose prev events: extend a tip, merge two recent events, or fork from an older one.
        let recent: Vec<String> = self
            .events
            .iter()
            .rev()
            .take(12)
            .map(|e| e.event_id.clone())
            .collect();
        let prev: Vec<String> = match rng.below(100) {
            0..=54 => vec![rng.pick(&self.tips).clone()],
            55..=84 => {
                let a = rng.pick(&self.tips).clone();
                let b = rng.pick(&recent).clone();
                if a == b { vec![a] } else { vec![a, b] }
            }
            _ => vec![rng.pick(&recent).clone()],
        };
        let states: Vec<StateMap<String>> = prev.iter().map(|p| self.after[p].clone()).collect();
        if states.len() > 1 {
            on_resolve(&states, &self.map);
        }
        let fetch = |id: &str| self.map.get(id);
        let before = match resolve_state(self.rules, &states, &fetch) {
            Ok(state) => state,
            Err(e) => panic!("resolution failed: {e}"),
        };
        let sender = *rng.pick(&USERS);
        let target = *rng.pick(&USERS);
        let auth = &self.rules.authorization;
        let (event_type, state_key, content): (&str, Option<&str>, Value) = match rng.below(100) {
            0..=14 => (
                "m.room.member",
                Some(sender),
                json!({"membership": "join", "displayname": format!("n{}", rng.below(9))}),
            ),
            15..=22 => (
                "m.room.member",
                Some(target),
                json!({"membership": "leave"}),
            ),
            23..=30 => ("m.room.member", Some(target), json!({"membership": "ban"})),
            31..=37 => (
                "m.room.member",
                Some(target),
                json!({"membership": "invite"}),
            ),
            38..=41 if auth.knocking => (
                "m.room.member",
                Some(sender),
                json!({"membership": "knock"}),
            ),
            42..=45 if auth.restricted_join_rule => {
                let via = *rng.pick(&USERS);
                (
                    "m.room.member",
                    Some(sender),
                    json!({"membership": "join", "join_authorised_via_users_server": via}),
                )
            }
            46..=63 => {
                let users: Vec<(&str, i64)> = (0..rng.below(4))
                    .map(|_| (*rng.pick(&USERS[1..]), *rng.pick(&[0, 25, 50, 75, 100])))
                    .collect();
                let content = self.power_levels_content(rng, &users, true);
                ("m.room.power_levels", Some(""), content)
            }
            64..=75 => {
                let mut rules = vec!["public", "invite"];
                if auth.knocking {
                    rules.push("knock");
                }
                if auth.restricted_join_rule {
                    rules.push("restricted");
                }
                if auth.knock_restricted_join_rule {
                    rules.push("knock_restricted");
                }
                let rule = *rng.pick(&rules);
                let mut content = json!({"join_rule": rule});
                if rule.contains("restricted") {
                    content["allow"] =
                        json!([{"type": "m.room_membership", "room_id": "!space:one.test"}]);
                }
                ("m.room.join_rules", Some(""), content)
            }
            76..=89 => (
                "m.room.topic",
                Some(""),
                json!({"topic": format!("t{}", rng.below(100))}),
            ),
            _ => ("m.room.message", None, json!({"body": "hi"})),
        };
        // Sometimes cite the auth events of a stale state (a server that missed recent events).
        let auth_state = if rng.chance(10) {
            let old = rng.pick(&self.events).event_id.clone();
            Some(self.after[&old].clone())
        } else {
            None
        };
        self.add(
            rng,
            Draft {
                sender,
                event_type,
                state_key,
                content,
            },
            Some((prev, before)),
            auth_state,
        );
    }

    /// Adds an event. `context` is `(prev_events, state before)`; without it the event extends the
    /// single tip (bootstrap). Returns its ID.
    fn add(
        &mut self,
        rng: &mut Rng,
        draft: Draft<'_>,
        context: Option<(Vec<String>, StateMap<String>)>,
        auth_state: Option<StateMap<String>>,
    ) -> String {
        let Draft {
            sender,
            event_type,
            state_key,
            content,
        } = draft;
        let (prev, before) = match context {
            Some(context) => context,
            None => {
                let prev: Vec<String> = self.tips.clone();
                let before = prev
                    .first()
                    .map(|p| self.after[p].clone())
                    .unwrap_or_default();
                (prev, before)
            }
        };
        let source = auth_state.as_ref().unwrap_or(&before);
        let auth_events: Vec<String> =
            auth_types_for_event(self.rules, event_type, sender, state_key, &content)
                .into_iter()
                .filter_map(|key| source.get(&key).cloned())
                .collect();
        self.ts += if rng.chance(15) { 0 } else { 1 };
        let depth = prev
            .iter()
            .filter_map(|p| self.map.get(p))
            .map(|e| e.depth)
            .max()
            .map_or(0, |d| d + 1);
        let event_id = format!("${}-{:x}", self.events.len(), rng.next() % 0xffff);
        let is_v12_create =
            event_type == "m.room.create" && self.rules.authorization.room_id_is_create_event_hash;
        let mut event = TestPdu {
            event_id: event_id.clone(),
            room_id: None,
            sender: sender.to_owned(),
            event_type: event_type.to_owned(),
            state_key: state_key.map(str::to_owned),
            content,
            prev_events: prev.clone(),
            auth_events,
            origin_server_ts: self.ts,
            depth,
            rejected: false,
        };
        if !is_v12_create {
            event.room_id = Some(if event_type == "m.room.create" {
                "!room:one.test".to_owned()
            } else {
                self.room_id()
            });
        }
        let fetch = |id: &str| {
            self.map
                .get(id)
                .or((id == event.event_id).then_some(&event))
        };
        let passes_auth_events = check_against_auth_events(self.rules, &event, fetch).is_ok();
        let passes_state = check_auth_rules(self.rules, &event, |t: &str, k: &str| {
            before
                .get(&(t.to_owned(), k.to_owned()))
                .and_then(|id| self.map.get(id))
        })
        .is_ok();
        event.rejected = !(passes_auth_events && passes_state);
        let mut after = before;
        if !event.rejected
            && let Some(key) = event.state_key()
        {
            after.insert((event.event_type.clone(), key.to_owned()), event_id.clone());
        }
        self.tips.retain(|t| !prev.contains(t));
        if !event.rejected {
            self.tips.push(event_id.clone());
        }
        if self.tips.is_empty() {
            self.tips = prev;
        }
        self.after.insert(event_id.clone(), after);
        self.map.insert(event_id.clone(), event.clone());
        self.events.push(event);
        event_id
    }
}
