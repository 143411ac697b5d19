//! The PDU fan-out: local events, in stream order, into the queues of the servers in their rooms. The task
//! keeps its position in memory, so an event of a room without other servers costs two reads (the events,
//! the room's members) and no write.

use std::sync::Arc;
use std::time::Duration;

use hearth_types::{ServerName, UserId};

use super::{Inner, now_ms};
use crate::storage::StorageError;

/// Events read per fan-out step.
const EVENTS_PER_STEP: i64 = 200;
/// The stored fan-out position may lag the real one by this many stream orderings of events that needed no
/// queueing (rooms with no other server): a restart re-reads at most that many events, and a busy server
/// with no federation writes the position once per this many events instead of once per event.
const MAX_UNSTORED_EVENTS: i64 = 1_000;

/// The fan-out task's memory: its position. Only the fan-out task moves the position, so the stored one is
/// read once; anything unexpected resets it.
#[derive(Default)]
struct FanoutState {
    /// The position as stored in `federation_fanout_position` (`None`: read it).
    stored: Option<i64>,
    /// The position up to which events were examined (≥ `stored`).
    position: i64,
}

/// The fan-out task: a step whenever events were persisted, until nothing is left.
pub(super) async fn run(inner: Arc<Inner>) {
    let mut state = FanoutState::default();
    loop {
        match step(&inner, &mut state).await {
            Ok(true) => {}
            Ok(false) => inner.fanout_wake.notified().await,
            Err(StorageError::Conflict(_)) => state = FanoutState::default(),
            Err(error) => {
                tracing::warn!(%error, "federation fan-out failed; retrying");
                state = FanoutState::default();
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

/// Queues the next events after the fan-out position; `true` if there may be more.
async fn step(inner: &Arc<Inner>, state: &mut FanoutState) -> Result<bool, StorageError> {
    let stored = match state.stored {
        Some(stored) => stored,
        None => {
            let stored = inner.storage.fanout_position().await?;
            state.stored = Some(stored);
            state.position = stored;
            stored
        }
    };
    let events = inner
        .storage
        .events_after(state.position, EVENTS_PER_STEP)
        .await?;
    let Some(last) = events.last() else {
        return Ok(false);
    };
    let to = last.stream_ordering;
    let mut queued: Vec<(String, String)> = Vec::new();
    let mut destinations: Vec<ServerName> = Vec::new();
    for event in &events {
        let Ok(sender) = UserId::parse(&event.sender) else {
            continue;
        };
        if event.outlier
            || event.rejected
            || event.soft_failed
            || *sender.server_name() != inner.server_name
        {
            // Events of other servers are sent by their origin.
            continue;
        }
        let mut servers = inner.servers_in_room(&event.room_id).await?;
        if event.event_type == "m.room.member"
            && let Some(target) = event
                .state_key
                .as_deref()
                .and_then(|k| UserId::parse(k).ok())
            && *target.server_name() != inner.server_name
        {
            // The invitee's, kicked or banned user's server learns of it even with nobody joined.
            servers.insert(target.server_name().clone());
        }
        for server in servers {
            queued.push((server.as_str().to_owned(), event.event_id.clone()));
            if !destinations.contains(&server) {
                destinations.push(server);
            }
        }
    }
    state.position = to;
    if !queued.is_empty() || to - stored >= MAX_UNSTORED_EVENTS {
        inner
            .storage
            .commit_fanout(stored, to, &queued, now_ms())
            .await?;
        state.stored = Some(to);
    }
    for destination in &destinations {
        inner.wake_destination(destination);
    }
    Ok(events.len() as i64 == EVENTS_PER_STEP)
}
