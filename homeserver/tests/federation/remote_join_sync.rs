//! `/sync` of a room joined over federation: the room's earlier state came with `send_join` and is stored off
//! the stream (outliers), so the joiner's first sync of the room must still carry it in `state` (clients learn
//! from it, among others, that the room is encrypted).

use hearth::storage::{
    Backend, MembershipRow, NewCurrentState, NewEvent, NewRoom, RemoteEventWrite, StateBefore,
    StateMapIds,
};
use serde_json::{Value, json};

use crate::{Federation, alice_sync as sync, both_backends, now_ms};

const ROOM: &str = "!elsewhere:remote.test";
const BOB: &str = "@bob:remote.test";
const ALICE: &str = "@alice:hearth.test";

/// Persists one event of the remote room: an outlier (state that came with the join) or, with `state`, the
/// join on the stream with the state before it and the room's new current state.
async fn persist(
    fed: &Federation,
    (event_id, event_type, state_key, sender, content): (&str, &str, &str, &str, Value),
    depth: i64,
    prev_events: &[String],
    on_stream: Option<(&StateMapIds, &StateMapIds)>,
) {
    let json = json!({
        "room_id": ROOM, "type": event_type, "state_key": state_key, "sender": sender,
        "content": content, "depth": depth, "origin_server_ts": now_ms(), "prev_events": prev_events,
        "auth_events": [],
    })
    .to_string();
    let memberships = [
        MembershipRow {
            user_id: BOB.into(),
            membership: "join".into(),
            event_id: "$bob".into(),
            sender: BOB.into(),
        },
        MembershipRow {
            user_id: ALICE.into(),
            membership: "join".into(),
            event_id: "$alice".into(),
            sender: ALICE.into(),
        },
    ];
    let event = NewEvent {
        event_id,
        room_id: ROOM,
        event_type,
        state_key: Some(state_key),
        sender,
        depth,
        origin_server_ts: now_ms(),
        json: &json,
        prev_events,
        membership: (event_type == "m.room.member").then_some("join"),
        relation: None,
        redacts: None,
        txn: None,
        new_room: (event_type == "m.room.create").then_some(NewRoom {
            room_version: "10",
            creator: BOB,
        }),
        now_ms: now_ms(),
    };
    fed.server
        .storage
        .persist_remote_event(&RemoteEventWrite {
            event,
            outlier: on_stream.is_none(),
            rejected: false,
            soft_failed: false,
            state_before: on_stream.map(|(before, _)| StateBefore {
                group: None,
                state: before,
            }),
            new_current: on_stream.map(|(_, after)| NewCurrentState {
                state: after,
                after_event: true,
                memberships: &memberships,
            }),
            backfill_position: None,
        })
        .await
        .unwrap();
}

async fn a_room_joined_over_federation_syncs_with_the_state_that_came_with_the_join(
    backend: Backend,
) {
    let fed = Federation::start(backend).await;
    let since = sync(&fed, None).await["next_batch"]
        .as_str()
        .unwrap()
        .to_owned();
    let outliers = [
        (
            "$create",
            "m.room.create",
            "",
            BOB,
            json!({ "creator": BOB, "room_version": "10" }),
        ),
        (
            "$bob",
            "m.room.member",
            BOB,
            BOB,
            json!({ "membership": "join" }),
        ),
        (
            "$rules",
            "m.room.join_rules",
            "",
            BOB,
            json!({ "join_rule": "public" }),
        ),
        (
            "$encryption",
            "m.room.encryption",
            "",
            BOB,
            json!({ "algorithm": "m.megolm.v1.aes-sha2" }),
        ),
    ];
    let mut before = StateMapIds::new();
    for (depth, event) in outliers.into_iter().enumerate() {
        before.insert((event.1.into(), event.2.into()), event.0.into());
        persist(&fed, event, depth as i64 + 1, &[], None).await;
    }
    let mut after = before.clone();
    after.insert(("m.room.member".into(), ALICE.into()), "$alice".into());
    let join = (
        "$alice",
        "m.room.member",
        ALICE,
        ALICE,
        json!({ "membership": "join" }),
    );
    persist(
        &fed,
        join,
        5,
        &["$encryption".to_owned()],
        Some((&before, &after)),
    )
    .await;

    for answer in [sync(&fed, Some(&since)).await, sync(&fed, None).await] {
        let room = &answer["rooms"]["join"][ROOM];
        let state: Vec<&str> = room["state"]["events"]
            .as_array()
            .unwrap_or_else(|| panic!("the room is joined: {answer}"))
            .iter()
            .filter_map(|event| event["event_id"].as_str())
            .collect();
        for expected in ["$create", "$bob", "$rules", "$encryption"] {
            assert!(state.contains(&expected), "{expected} in {answer}");
        }
        assert_eq!(
            room["timeline"]["events"][0]["event_id"], "$alice",
            "{answer}"
        );
    }
    fed.server.stop().await;
}
both_backends!(a_room_joined_over_federation_syncs_with_the_state_that_came_with_the_join);
