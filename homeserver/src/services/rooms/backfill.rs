//! Backward pagination past the oldest event this server has: the hook `/messages` calls to have older
//! history fetched from other servers (`/backfill`), and the stream positions that history is stored at.
//!
//! Backfilled events are stored *below* the timeline: each batch reserves a block of stream orderings under
//! the lowest one stored (zero and negative numbers), oldest event lowest. A backward walk therefore meets
//! them right after the events it had, in the DAG's order, and `/sync` (which reads positions after its
//! token) never shows them as new. The fetching and checking is federation's ([`HistoryBackfill`], a trait
//! here so the rooms service does not depend on federation).

use std::sync::Arc;

use super::{RoomError, RoomService};
use crate::services::outbound::BoxFuture;

/// Most times one `/messages` request asks for older history (each fetch brings at most 100 events).
pub const MAX_BACKFILL_ROUNDS: usize = 3;

/// Fetches a room's history older than the oldest event stored here from the servers in the room, checks it
/// and stores it with [`RoomService::accept_backfilled_event`]. Implemented by the inbound federation service.
pub trait HistoryBackfill: Send + Sync + std::fmt::Debug {
    /// Makes timeline events exist at or below stream position `position` of `room_id` if other servers can
    /// supply older history: returns whether the room now has timeline events at or below `position`
    /// (fetched now, or by a concurrent request for the same room). Bounded in time and count; failures are
    /// logged and answered `false`, never an error for the client.
    fn fill_history_below<'a>(&'a self, room_id: &'a str, position: i64) -> BoxFuture<'a, bool>;
}

impl RoomService {
    /// Has `/messages` fetch older history through `backfill` from now on (set once, at start-up).
    pub fn set_history_backfill(&self, backfill: Arc<dyn HistoryBackfill>) {
        let _ = self.history_backfill.set(backfill);
    }

    /// Asks the [`HistoryBackfill`] (if federation is on) for history at or below `position`; whether a
    /// walk from `position` now finds events.
    pub(super) async fn fill_history_below(&self, room_id: &str, position: i64) -> bool {
        match self.history_backfill.get() {
            Some(backfill) => backfill.fill_history_below(room_id, position).await,
            None => false,
        }
    }

    /// Whether other servers may hold history of the room older than what is stored here: federation is on
    /// and the bottom of the room's timeline has `prev_events` this server lacks.
    pub(super) async fn may_have_older_history(&self, room_id: &str) -> Result<bool, RoomError> {
        if self.history_backfill.get().is_none() {
            return Ok(false);
        }
        Ok(!self.storage.backward_extremities(room_id).await?.is_empty())
    }

    /// Reserves `count` stream positions for backfilled events, below every stored event and every position
    /// reserved before: returns the highest; the block is `highest - count + 1 ..= highest`. Give the oldest
    /// event the lowest position. (One process allocates; positions are never reused.)
    pub async fn reserve_backfill_positions(&self, count: usize) -> Result<i64, RoomError> {
        let count = i64::try_from(count).map_err(RoomError::internal)?;
        let mut floor = self.backfill_floor.lock().await;
        let stored = self.storage.lowest_stream_ordering().await?;
        let lowest = stored.min(floor.unwrap_or(i64::MAX)).min(0);
        let highest = lowest - 1;
        *floor = Some(lowest - count.max(1));
        Ok(highest)
    }
}
