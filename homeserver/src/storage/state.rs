//! Room state reads: the current state, state snapshots (state groups stored as deltas against a
//! parent, so a new event in a big room costs one row, not a copy of the member list) and the
//! forward extremities new local events point at.

use std::collections::HashMap;

use super::{Result, Storage, on_reader};

/// A room state: `(event type, state key)` → event ID.
pub type StateMapIds = HashMap<(String, String), String>;

impl Storage {
    /// The room's current state, `(type, state_key)` → event ID.
    pub async fn current_state(&self, room_id: &str) -> Result<StateMapIds> {
        let rows: Vec<(String, String, String)> = on_reader!(self, |pool| {
            sqlx::query_as("SELECT type, state_key, event_id FROM current_state WHERE room_id = $1")
                .bind(room_id)
                .fetch_all(pool)
                .await?
        });
        Ok(rows.into_iter().map(|(t, k, id)| ((t, k), id)).collect())
    }

    /// The event ID of one current state entry.
    pub async fn current_state_event_id(
        &self,
        room_id: &str,
        event_type: &str,
        state_key: &str,
    ) -> Result<Option<String>> {
        on_reader!(self, |pool| {
            Ok(sqlx::query_scalar(
                "SELECT event_id FROM current_state \
                 WHERE room_id = $1 AND type = $2 AND state_key = $3",
            )
            .bind(room_id)
            .bind(event_type)
            .bind(state_key)
            .fetch_optional(pool)
            .await?)
        })
    }

    /// The full state of a state group: its entries over its parents', nearest group winning.
    pub async fn state_group(&self, state_group: i64) -> Result<StateMapIds> {
        const SQL: &str = "WITH RECURSIVE chain (sg, parent, lvl) AS ( \
                SELECT state_group, parent_group, CAST(0 AS BIGINT) FROM state_groups WHERE state_group = $1 \
                UNION ALL \
                SELECT g.state_group, g.parent_group, c.lvl + 1 \
                FROM state_groups g JOIN chain c ON g.state_group = c.parent) \
            SELECT e.type, e.state_key, e.event_id, c.lvl \
            FROM state_group_entries e JOIN chain c ON e.state_group = c.sg";
        let rows: Vec<(String, String, String, i64)> = on_reader!(self, |pool| {
            sqlx::query_as(SQL)
                .bind(state_group)
                .fetch_all(pool)
                .await?
        });
        let mut best: HashMap<(String, String), (i64, String)> = HashMap::new();
        for (event_type, state_key, event_id, level) in rows {
            let entry = best
                .entry((event_type, state_key))
                .or_insert((i64::MAX, String::new()));
            if level < entry.0 {
                *entry = (level, event_id);
            }
        }
        Ok(best.into_iter().map(|(key, (_, id))| (key, id)).collect())
    }

    /// The parent of a state group (for a state event's group: the state before the event).
    pub async fn state_group_parent(&self, state_group: i64) -> Result<Option<i64>> {
        on_reader!(self, |pool| {
            Ok(sqlx::query_scalar::<_, Option<i64>>(
                "SELECT parent_group FROM state_groups WHERE state_group = $1",
            )
            .bind(state_group)
            .fetch_optional(pool)
            .await?
            .flatten())
        })
    }

    /// The room's forward extremities (events with no successor yet) and the greatest depth
    /// among them: new local events list them as `prev_events` at depth + 1.
    pub async fn forward_extremities(&self, room_id: &str) -> Result<(Vec<String>, i64)> {
        let rows: Vec<(String, i64)> = on_reader!(self, |pool| {
            sqlx::query_as(
                "SELECT f.event_id, e.depth FROM room_forward_extremities f \
                 JOIN events e ON e.event_id = f.event_id WHERE f.room_id = $1 \
                 ORDER BY e.depth DESC, e.stream_ordering DESC",
            )
            .bind(room_id)
            .fetch_all(pool)
            .await?
        });
        let depth = rows.iter().map(|(_, depth)| *depth).max().unwrap_or(0);
        Ok((rows.into_iter().map(|(id, _)| id).collect(), depth))
    }
}
