//! State resolution benchmark: two forks of a room with 10,000 joined members and 1,000 conflicted
//! events (500 members renamed differently on each side, plus concurrent power level, join rule and
//! ban changes). Run with `cargo bench -p hearth-state-res --bench resolve`; prints the time per
//! resolution and the process's peak resident memory (VmHWM) before and after resolving.

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hearth_state_res::{Event, StateMap, resolve_state};
use hearth_types::RoomVersionRules;
use serde_json::{Value, json};

const MEMBERS: usize = 10_000;
const RENAMED: usize = 500;

/// Event IDs as the homeserver holds them (`hearth_types::EventId` is an `Arc<str>` too).
type Id = Arc<str>;

struct Pdu {
    event_id: Id,
    room_id: String,
    sender: String,
    event_type: &'static str,
    state_key: String,
    content: Value,
    prev_events: Vec<Id>,
    auth_events: Vec<Id>,
    ts: i64,
    depth: i64,
}

impl Event for Pdu {
    type Id = Id;
    fn event_id(&self) -> &Id {
        &self.event_id
    }
    fn room_id(&self) -> Option<&str> {
        Some(&self.room_id)
    }
    fn sender(&self) -> &str {
        &self.sender
    }
    fn event_type(&self) -> &str {
        self.event_type
    }
    fn state_key(&self) -> Option<&str> {
        Some(&self.state_key)
    }
    fn content(&self) -> &Value {
        &self.content
    }
    fn prev_events(&self) -> impl Iterator<Item = &Id> {
        self.prev_events.iter()
    }
    fn auth_events(&self) -> impl Iterator<Item = &Id> {
        self.auth_events.iter()
    }
    fn origin_server_ts(&self) -> i64 {
        self.ts
    }
    fn depth(&self) -> i64 {
        self.depth
    }
    fn redacts(&self) -> Option<&str> {
        None
    }
    fn rejected(&self) -> bool {
        false
    }
}

struct Room {
    events: HashMap<Id, Pdu>,
    last: Option<Id>,
    depth: i64,
}

/// What a new event cites and says.
struct Draft<'a> {
    sender: &'a str,
    event_type: &'static str,
    state_key: &'a str,
    content: Value,
    auth: &'a [&'a Id],
}

/// A membership event of `target`, sent by `sender`.
fn member<'a>(sender: &'a str, target: &'a str, content: Value, auth: &'a [&'a Id]) -> Draft<'a> {
    Draft {
        sender,
        event_type: "m.room.member",
        state_key: target,
        content,
        auth,
    }
}

impl Room {
    /// Adds an event after `prev` (or after the last event) and returns its ID.
    fn add(&mut self, draft: Draft<'_>, prev: Option<&Id>) -> Id {
        self.depth += 1;
        let event_id: Id = format!("$bench{}", self.events.len()).into();
        let prev = prev.or(self.last.as_ref()).cloned();
        self.events.insert(
            event_id.clone(),
            Pdu {
                event_id: event_id.clone(),
                room_id: "!bench:hearth.test".to_owned(),
                sender: draft.sender.to_owned(),
                event_type: draft.event_type,
                state_key: draft.state_key.to_owned(),
                content: draft.content,
                prev_events: prev.into_iter().collect(),
                auth_events: draft.auth.iter().map(|a| (*a).clone()).collect(),
                ts: self.depth,
                depth: self.depth,
            },
        );
        self.last = Some(event_id.clone());
        event_id
    }
}

fn user(i: usize) -> String {
    format!("@user{i}:hearth.test")
}

fn key(event_type: &str, state_key: &str) -> (String, String) {
    (event_type.to_owned(), state_key.to_owned())
}

/// Builds the room and the two forks' states.
fn build() -> (Room, Vec<StateMap<Id>>) {
    let mut room = Room {
        events: HashMap::new(),
        last: None,
        depth: 0,
    };
    let mut state: StateMap<Id> = HashMap::new();
    let admin = user(0);
    let create = room.add(
        Draft {
            sender: &admin,
            event_type: "m.room.create",
            state_key: "",
            content: json!({"room_version": "10", "creator": admin}),
            auth: &[],
        },
        None,
    );
    state.insert(key("m.room.create", ""), create.clone());
    let admin_join = room.add(
        member(&admin, &admin, json!({"membership": "join"}), &[&create]),
        None,
    );
    state.insert(key("m.room.member", &admin), admin_join.clone());
    let pl = room.add(
        Draft {
            sender: &admin,
            event_type: "m.room.power_levels",
            state_key: "",
            content: json!({"users": {admin.clone(): 100, user(1): 50}}),
            auth: &[&create, &admin_join],
        },
        None,
    );
    state.insert(key("m.room.power_levels", ""), pl.clone());
    let jr = room.add(
        Draft {
            sender: &admin,
            event_type: "m.room.join_rules",
            state_key: "",
            content: json!({"join_rule": "public"}),
            auth: &[&create, &pl, &admin_join],
        },
        None,
    );
    state.insert(key("m.room.join_rules", ""), jr.clone());
    let mut joins = vec![admin_join.clone()];
    for i in 1..MEMBERS {
        let u = user(i);
        let join = room.add(
            member(
                &u,
                &u,
                json!({"membership": "join", "displayname": format!("user {i}")}),
                &[&create, &pl, &jr],
            ),
            None,
        );
        state.insert(key("m.room.member", &u), join.clone());
        joins.push(join);
    }
    let fork_point = room.last.clone();

    // Fork A: the admin changes power levels, then members 1..=RENAMED rename themselves.
    let mut a = state.clone();
    let pl_a = room.add(
        Draft {
            sender: &admin,
            event_type: "m.room.power_levels",
            state_key: "",
            content: json!({"users": {admin.clone(): 100, user(1): 50, user(2): 50}}),
            auth: &[&create, &pl, &admin_join],
        },
        fork_point.as_ref(),
    );
    a.insert(key("m.room.power_levels", ""), pl_a.clone());
    for (i, join) in joins.iter().enumerate().take(RENAMED + 1).skip(1) {
        let u = user(i);
        let rename = room.add(
            member(
                &u,
                &u,
                json!({"membership": "join", "displayname": format!("A{i}")}),
                &[&create, &pl_a, &jr, join],
            ),
            None,
        );
        a.insert(key("m.room.member", &u), rename);
    }
    // Fork B: the moderator bans a few members and the admin makes the room invite-only; the same
    // members rename themselves differently.
    let mut b = state;
    let mut prev = fork_point;
    for i in RENAMED + 1..RENAMED + 6 {
        let u = user(i);
        let moderator = user(1);
        let ban = room.add(
            member(
                &moderator,
                &u,
                json!({"membership": "ban"}),
                &[&create, &pl, &joins[1], &joins[i]],
            ),
            prev.as_ref(),
        );
        b.insert(key("m.room.member", &u), ban.clone());
        prev = Some(ban);
    }
    let jr_b = room.add(
        Draft {
            sender: &admin,
            event_type: "m.room.join_rules",
            state_key: "",
            content: json!({"join_rule": "invite"}),
            auth: &[&create, &pl, &admin_join],
        },
        prev.as_ref(),
    );
    b.insert(key("m.room.join_rules", ""), jr_b.clone());
    for (i, join) in joins.iter().enumerate().take(RENAMED + 1).skip(1) {
        let u = user(i);
        let rename = room.add(
            member(
                &u,
                &u,
                json!({"membership": "join", "displayname": format!("B{i}")}),
                &[&create, &pl, &jr_b, join],
            ),
            None,
        );
        b.insert(key("m.room.member", &u), rename);
    }
    (room, vec![a, b])
}

/// Time this thread has spent on a CPU, from `/proc/thread-self/schedstat` (nanoseconds): the
/// benchmark's own work even on a machine shared with other processes.
fn thread_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

fn main() {
    let (room, state_sets) = build();
    let conflicted: usize = {
        let keys: std::collections::HashSet<_> = state_sets.iter().flat_map(|s| s.keys()).collect();
        keys.into_iter()
            .map(|k| {
                state_sets
                    .iter()
                    .filter_map(|s| s.get(k))
                    .collect::<std::collections::HashSet<_>>()
            })
            .filter(|ids| ids.len() > 1)
            .map(|ids| ids.len())
            .sum()
    };
    let fetch = |id: &str| room.events.get(id);
    let rules = &RoomVersionRules::V10;
    let before = peak_rss_kib();
    let mut times: Vec<Duration> = Vec::new();
    let mut cpu: Vec<u64> = Vec::new();
    let mut resolved_len = 0;
    for _ in 0..21 {
        let start = Instant::now();
        let cpu_start = thread_cpu_ns();
        let resolved = match resolve_state(rules, black_box(&state_sets), &fetch) {
            Ok(resolved) => resolved,
            Err(e) => panic!("resolution failed: {e}"),
        };
        times.push(start.elapsed());
        cpu.push(thread_cpu_ns().saturating_sub(cpu_start));
        resolved_len = resolved.len();
        black_box(resolved);
    }
    let after = peak_rss_kib();
    times.sort();
    cpu.sort();
    println!(
        "state resolution v2: {} members, {} state entries per fork, {} conflicted events, {} events in the room",
        MEMBERS,
        state_sets[0].len(),
        conflicted,
        room.events.len()
    );
    println!(
        "  time per resolution: min {:.2} ms, median {:.2} ms, max {:.2} ms (21 runs, one thread)",
        times[0].as_secs_f64() * 1e3,
        times[times.len() / 2].as_secs_f64() * 1e3,
        times[times.len() - 1].as_secs_f64() * 1e3
    );
    println!(
        "  CPU time per resolution: min {:.2} ms, median {:.2} ms",
        cpu[0] as f64 / 1e6,
        cpu[cpu.len() / 2] as f64 / 1e6
    );
    println!(
        "  peak RSS (VmHWM): {} KiB with the room loaded, {} KiB after resolving (+{} KiB); resolved state has {} entries",
        before,
        after,
        after.saturating_sub(before),
        resolved_len
    );
}
