//! The PDU fan-out: local events, in stream order, into the queues of the servers in their rooms.

use std::sync::Arc;
use std::time::Duration;

use hearth_types::{ServerName, UserId};

use super::{Inner, now_ms};
use crate::storage::StorageError;

/// Events read per fan-out step.
const EVENTS_PER_STEP: i64 = 200;

/// The fan-out task: a step whenever events were persisted, until nothing is left.
pub(super) async fn run(inner: Arc<Inner>) {
    loop {
        match step(&inner).await {
            Ok(true) => {}
            Ok(false) => inner.fanout_wake.notified().await,
            Err(StorageError::Conflict(_)) => {}
            Err(error) => {
                tracing::warn!(%error, "federation fan-out failed; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

/// Queues the next events after the fan-out position; `true` if there may be more.
async fn step(inner: &Arc<Inner>) -> Result<bool, StorageError> {
    let from = inner.storage.fanout_position().await?;
    let events = inner.storage.events_after(from, EVENTS_PER_STEP).await?;
    let Some(last) = events.last() else {
        return Ok(false);
    };
    let to = last.stream_ordering;
    let mut queued: Vec<(String, String)> = Vec::new();
    let mut destinations: Vec<ServerName> = Vec::new();
    for event in &events {
        if event.outlier || event.rejected || event.soft_failed {
            continue;
        }
        let Ok(sender) = UserId::parse(&event.sender) else {
            continue;
        };
        if *sender.server_name() != inner.server_name {
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
    inner
        .storage
        .commit_fanout(from, to, &queued, now_ms())
        .await?;
    for destination in &destinations {
        inner.wake_destination(destination);
    }
    Ok(events.len() as i64 == EVENTS_PER_STEP)
}
