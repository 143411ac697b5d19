//! Reads for outbound backfill: where a room's known history ends, and the stream positions backfilled
//! events take.
//!
//! Backfilled events get stream orderings *below* every stored event (zero and negative numbers), so a
//! backward `/messages` walk reaches them right after the oldest events this server had, and `/sync`, which
//! only reads positions after its (positive) token, never sees them. Writing them is
//! [`Storage::persist_remote_event`] with `backfill_position`.

use super::{Result, Storage, on_reader};

/// How many of a room's oldest timeline events are searched for unknown `prev_events`.
pub const BACKWARD_EXTREMITY_WINDOW: i64 = 100;
/// Most backward extremities returned (and asked for in one `/backfill`).
pub const MAX_BACKWARD_EXTREMITIES: i64 = 20;

impl Storage {
    /// The lowest stream ordering stored (0 when no event is stored): backfill positions are reserved below
    /// it.
    pub async fn lowest_stream_ordering(&self) -> Result<i64> {
        on_reader!(self, |pool| {
            Ok(
                sqlx::query_scalar::<_, Option<i64>>("SELECT MIN(stream_ordering) FROM events")
                    .fetch_one(pool)
                    .await?
                    .unwrap_or(0),
            )
        })
    }

    /// The room's backward extremities at the bottom of its timeline: `prev_events` of its
    /// [`BACKWARD_EXTREMITY_WINDOW`] oldest timeline events (by stream ordering) that are not themselves in
    /// the timeline (unknown, or known only as outliers). Newest first (by the depth of the event that
    /// points at them), at most [`MAX_BACKWARD_EXTREMITIES`]. Empty when the room's history is complete
    /// down to its create event (or to events whose predecessors failed for good).
    pub async fn backward_extremities(&self, room_id: &str) -> Result<Vec<String>> {
        let rows: Vec<(String, i64)> = on_reader!(self, |pool| {
            sqlx::query_as(
                "SELECT edges.prev_event_id, MAX(bottom.depth) AS newest FROM \
                 (SELECT event_id, depth FROM events WHERE room_id = $1 AND NOT outlier \
                  AND NOT rejected ORDER BY stream_ordering ASC LIMIT $2) AS bottom \
                 JOIN event_edges AS edges ON edges.event_id = bottom.event_id \
                 WHERE NOT EXISTS (SELECT 1 FROM events AS prev \
                   WHERE prev.event_id = edges.prev_event_id AND NOT prev.outlier) \
                 GROUP BY edges.prev_event_id ORDER BY newest DESC, edges.prev_event_id LIMIT $3",
            )
            .bind(room_id)
            .bind(BACKWARD_EXTREMITY_WINDOW)
            .bind(MAX_BACKWARD_EXTREMITIES)
            .fetch_all(pool)
            .await?
        });
        Ok(rows.into_iter().map(|(id, _)| id).collect())
    }

    /// Whether the room has a timeline event (not an outlier, rejected or soft-failed) at or below stream
    /// position `position`: whether a backward walk from there finds anything.
    pub async fn has_timeline_events_at_or_below(
        &self,
        room_id: &str,
        position: i64,
    ) -> Result<bool> {
        let found: Option<i64> = on_reader!(self, |pool| {
            sqlx::query_scalar(
                "SELECT stream_ordering FROM events WHERE room_id = $1 AND stream_ordering <= $2 \
                 AND NOT outlier AND NOT rejected AND NOT soft_failed LIMIT 1",
            )
            .bind(room_id)
            .bind(position)
            .fetch_optional(pool)
            .await?
        });
        Ok(found.is_some())
    }
}
