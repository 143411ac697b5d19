//! The event store's write path for events other servers sent: outliers (auth chains, fetched state),
//! rejected and soft-failed events, and events whose state is not the room's current state (forks).
//!
//! Unlike the local path ([`Storage::persist_event`], which extends the current state linearly), the caller
//! says what the state before the event is (resolved across its `prev_events`) and what the room's current
//! state becomes (the state after the event, or the resolution of the forward extremities). State groups
//! keep the local path's shape: a state event's group has the state before it as parent, so "the state
//! before an event" is the parent group of a state event and the group itself of any other event.

use std::collections::HashMap;

use super::events::NewEvent;
use super::state::StateMapIds;
use super::{Backend, Result, Storage, StorageError, in_write_tx, on_reader};

/// Longest chain of deltas before a full snapshot (as in the local path).
const MAX_STATE_CHAIN: i64 = 50;

/// Inside a write transaction `$tx` (either backend): a new state group of `$room_id` without a parent,
/// holding the whole state `$state` (a [`StateMapIds`]); evaluates to the group's ID.
macro_rules! insert_snapshot_group {
    ($tx:ident, $room_id:expr, $state:expr) => {{
        let group: i64 = sqlx::query_scalar(
            "INSERT INTO state_groups (room_id, parent_group, chain_length) \
             VALUES ($1, NULL, 0) RETURNING state_group",
        )
        .bind($room_id)
        .fetch_one(&mut *$tx)
        .await?;
        for ((event_type, state_key), event_id) in $state {
            sqlx::query(
                "INSERT INTO state_group_entries (state_group, type, state_key, event_id) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(group)
            .bind(event_type)
            .bind(state_key)
            .bind(event_id)
            .execute(&mut *$tx)
            .await?;
        }
        group
    }};
}

/// The state before a remote event.
#[derive(Debug, Clone, Copy)]
pub struct StateBefore<'a> {
    /// A stored state group holding exactly `state`, when the caller knows one (one prev event: its group).
    pub group: Option<i64>,
    /// The state.
    pub state: &'a StateMapIds,
}

/// A membership row to write because the current state's member event for `user_id` changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MembershipRow {
    /// The member.
    pub user_id: String,
    /// `join`, `leave`, `invite`, `ban`, `knock`.
    pub membership: String,
    /// The member event.
    pub event_id: String,
    /// The member event's sender.
    pub sender: String,
}

/// The room's new current state after a remote event.
#[derive(Debug, Clone, Copy)]
pub struct NewCurrentState<'a> {
    /// The whole new current state.
    pub state: &'a StateMapIds,
    /// `state` is exactly the state after this event (its group becomes the room's current group).
    pub after_event: bool,
    /// Membership rows for every member entry that differs from the old current state. (A member entry
    /// missing from `state` loses its membership row.)
    pub memberships: &'a [MembershipRow],
}

/// One remote event to persist, with the receive pipeline's verdicts.
#[derive(Debug, Clone, Copy)]
pub struct RemoteEventWrite<'a> {
    /// The event and its derived facts (`txn` must be `None`).
    pub event: NewEvent<'a>,
    /// Stored without a place in the DAG (auth chain or state fetched from a peer): no state, no timeline.
    pub outlier: bool,
    /// Failed the auth rules: kept for the DAG, never served, never state.
    pub rejected: bool,
    /// Passed auth at the event but not against the current state: no timeline, not an extremity.
    pub soft_failed: bool,
    /// The state before the event; `None` for outliers.
    pub state_before: Option<StateBefore<'a>>,
    /// The new current state, when the event changes it.
    pub new_current: Option<NewCurrentState<'a>>,
    /// Backfilled history: the event's stream ordering, below every other event's (reserved by the caller,
    /// see [`Storage::lowest_stream_ordering`]). Such an event is in the DAG and the timeline (reached by
    /// backward pagination only, never by `/sync`), but never a forward extremity and never current state.
    pub backfill_position: Option<i64>,
}

impl Storage {
    /// Persists a remote event and what follows from it in one transaction; returns its stream ordering.
    /// An event stored earlier as an outlier is replaced (it gets a timeline position now). Storing an event
    /// already stored as a non-outlier is `Conflict("event")`.
    pub async fn persist_remote_event(&self, write: &RemoteEventWrite<'_>) -> Result<i64> {
        let event = &write.event;
        let is_postgres = self.backend() == Backend::Postgres;
        let in_dag = !write.outlier;
        let is_state = event.state_key.is_some() && !write.rejected && in_dag;
        let shown = in_dag && !write.rejected && !write.soft_failed;
        let adds_extremity = shown && write.backfill_position.is_none();
        let stream = in_write_tx!(self, |tx| {
            if is_postgres {
                sqlx::query("SELECT pg_advisory_xact_lock($1)")
                    .bind(super::events::EVENT_PERSIST_LOCK)
                    .execute(&mut *tx)
                    .await?;
            }
            if let Some(room) = event.new_room {
                sqlx::query(
                    "INSERT INTO rooms (room_id, room_version, creator, created_ts) \
                     VALUES ($1, $2, $3, $4) ON CONFLICT (room_id) DO NOTHING",
                )
                .bind(event.room_id)
                .bind(room.room_version)
                .bind(room.creator)
                .bind(event.origin_server_ts)
                .execute(&mut *tx)
                .await?;
            }
            let existing: Option<(bool,)> =
                sqlx::query_as("SELECT outlier FROM events WHERE event_id = $1")
                    .bind(event.event_id)
                    .fetch_optional(&mut *tx)
                    .await?;
            match existing {
                Some((true,)) if in_dag => {
                    sqlx::query("DELETE FROM events WHERE event_id = $1")
                        .bind(event.event_id)
                        .execute(&mut *tx)
                        .await?;
                }
                Some(_) => return Err(StorageError::Conflict("event")),
                None => {}
            }

            // The state group of the event: the state after it.
            let mut state_group: Option<i64> = None;
            if let Some(before) = write.state_before.filter(|_| in_dag) {
                let before_group = match before.group {
                    Some(group) => group,
                    None => insert_snapshot_group!(tx, event.room_id, before.state),
                };
                state_group = Some(before_group);
                if is_state && let Some(state_key) = event.state_key {
                    let chain: i64 = sqlx::query_scalar(
                        "SELECT chain_length FROM state_groups WHERE state_group = $1",
                    )
                    .bind(before_group)
                    .fetch_one(&mut *tx)
                    .await?;
                    let (parent, length, full) = if chain < MAX_STATE_CHAIN {
                        (Some(before_group), chain + 1, false)
                    } else {
                        (None, 0, true)
                    };
                    let group: i64 = sqlx::query_scalar(
                        "INSERT INTO state_groups (room_id, parent_group, chain_length) \
                         VALUES ($1, $2, $3) RETURNING state_group",
                    )
                    .bind(event.room_id)
                    .bind(parent)
                    .bind(length)
                    .fetch_one(&mut *tx)
                    .await?;
                    if full {
                        for ((event_type, key), event_id) in before.state {
                            if event_type == event.event_type && key == state_key {
                                continue;
                            }
                            sqlx::query(
                                "INSERT INTO state_group_entries (state_group, type, state_key, \
                                 event_id) VALUES ($1, $2, $3, $4)",
                            )
                            .bind(group)
                            .bind(event_type)
                            .bind(key)
                            .bind(event_id)
                            .execute(&mut *tx)
                            .await?;
                        }
                    }
                    sqlx::query(
                        "INSERT INTO state_group_entries (state_group, type, state_key, event_id) \
                         VALUES ($1, $2, $3, $4)",
                    )
                    .bind(group)
                    .bind(event.event_type)
                    .bind(state_key)
                    .bind(event.event_id)
                    .execute(&mut *tx)
                    .await?;
                    state_group = Some(group);
                }
            }

            // A backfilled event takes its reserved position; any other the next one.
            let insert = if write.backfill_position.is_some() {
                "INSERT INTO events (event_id, room_id, type, state_key, sender, depth, \
                 origin_server_ts, json, state_group, outlier, rejected, soft_failed, stream_ordering) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING stream_ordering"
            } else {
                "INSERT INTO events (event_id, room_id, type, state_key, sender, depth, \
                 origin_server_ts, json, state_group, outlier, rejected, soft_failed) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING stream_ordering"
            };
            let mut query = sqlx::query_scalar(insert)
                .bind(event.event_id)
                .bind(event.room_id)
                .bind(event.event_type)
                .bind(event.state_key)
                .bind(event.sender)
                .bind(event.depth)
                .bind(event.origin_server_ts)
                .bind(event.json)
                .bind(state_group)
                .bind(write.outlier)
                .bind(write.rejected)
                .bind(write.soft_failed);
            if let Some(position) = write.backfill_position {
                query = query.bind(position);
            }
            let stream: i64 = query
                .fetch_one(&mut *tx)
                .await
                .map_err(|e| StorageError::from_write(e, "event", "room"))?;

            if in_dag {
                for prev in event.prev_events {
                    sqlx::query(
                        "INSERT INTO event_edges (event_id, prev_event_id) VALUES ($1, $2) \
                         ON CONFLICT DO NOTHING",
                    )
                    .bind(event.event_id)
                    .bind(prev.as_str())
                    .execute(&mut *tx)
                    .await?;
                }
            }
            if adds_extremity {
                for prev in event.prev_events {
                    sqlx::query(
                        "DELETE FROM room_forward_extremities WHERE room_id = $1 AND event_id = $2",
                    )
                    .bind(event.room_id)
                    .bind(prev.as_str())
                    .execute(&mut *tx)
                    .await?;
                }
                sqlx::query(
                    "INSERT INTO room_forward_extremities (room_id, event_id) VALUES ($1, $2) \
                     ON CONFLICT DO NOTHING",
                )
                .bind(event.room_id)
                .bind(event.event_id)
                .execute(&mut *tx)
                .await?;
            }
            if shown {
                if let Some(relation) = event.relation {
                    sqlx::query(
                        "INSERT INTO event_relations (event_id, room_id, relates_to, rel_type, \
                         event_type, sender, aggregation_key) VALUES ($1, $2, $3, $4, $5, $6, $7) \
                         ON CONFLICT (event_id) DO NOTHING",
                    )
                    .bind(event.event_id)
                    .bind(event.room_id)
                    .bind(relation.relates_to)
                    .bind(relation.rel_type)
                    .bind(event.event_type)
                    .bind(event.sender)
                    .bind(relation.key)
                    .execute(&mut *tx)
                    .await?;
                }
                if let Some(target) = event.redacts {
                    sqlx::query(
                        "UPDATE events SET redacted_by = $1 \
                         WHERE event_id = $2 AND room_id = $3 AND redacted_by IS NULL",
                    )
                    .bind(event.event_id)
                    .bind(target)
                    .bind(event.room_id)
                    .execute(&mut *tx)
                    .await?;
                }
            }

            if let Some(current) = write.new_current.filter(|_| adds_extremity) {
                let current_group = match (current.after_event, state_group) {
                    (true, Some(group)) => group,
                    _ => insert_snapshot_group!(tx, event.room_id, current.state),
                };
                let old: Vec<(String, String, String)> = sqlx::query_as(
                    "SELECT type, state_key, event_id FROM current_state WHERE room_id = $1",
                )
                .bind(event.room_id)
                .fetch_all(&mut *tx)
                .await?;
                let old: HashMap<(String, String), String> =
                    old.into_iter().map(|(t, k, id)| ((t, k), id)).collect();
                for (event_type, state_key) in old.keys() {
                    if !current
                        .state
                        .contains_key(&(event_type.clone(), state_key.clone()))
                    {
                        sqlx::query(
                            "DELETE FROM current_state WHERE room_id = $1 AND type = $2 \
                             AND state_key = $3",
                        )
                        .bind(event.room_id)
                        .bind(event_type)
                        .bind(state_key)
                        .execute(&mut *tx)
                        .await?;
                        // A membership that resolution left out of the state (a join that lost to a
                        // concurrent change of the join rules) is no membership at all, as in Synapse.
                        if event_type == "m.room.member" {
                            sqlx::query(
                                "DELETE FROM room_memberships WHERE room_id = $1 AND user_id = $2",
                            )
                            .bind(event.room_id)
                            .bind(state_key)
                            .execute(&mut *tx)
                            .await?;
                        }
                    }
                }
                for (key, event_id) in current.state {
                    if old.get(key) == Some(event_id) {
                        continue;
                    }
                    sqlx::query(
                        "INSERT INTO current_state (room_id, type, state_key, event_id) \
                         VALUES ($1, $2, $3, $4) ON CONFLICT (room_id, type, state_key) \
                         DO UPDATE SET event_id = $4",
                    )
                    .bind(event.room_id)
                    .bind(&key.0)
                    .bind(&key.1)
                    .bind(event_id)
                    .execute(&mut *tx)
                    .await?;
                }
                sqlx::query("UPDATE rooms SET current_state_group = $1 WHERE room_id = $2")
                    .bind(current_group)
                    .bind(event.room_id)
                    .execute(&mut *tx)
                    .await?;
                for row in current.memberships {
                    let position: Option<i64> = sqlx::query_scalar(
                        "SELECT stream_ordering FROM events WHERE event_id = $1",
                    )
                    .bind(&row.event_id)
                    .fetch_optional(&mut *tx)
                    .await?;
                    sqlx::query(
                        "INSERT INTO room_memberships (room_id, user_id, membership, event_id, \
                         sender, stream_ordering, forgotten) VALUES ($1, $2, $3, $4, $5, $6, FALSE) \
                         ON CONFLICT (room_id, user_id) DO UPDATE SET membership = $3, \
                         event_id = $4, sender = $5, stream_ordering = $6, forgotten = FALSE",
                    )
                    .bind(event.room_id)
                    .bind(&row.user_id)
                    .bind(&row.membership)
                    .bind(&row.event_id)
                    .bind(&row.sender)
                    .bind(position.unwrap_or(stream))
                    .execute(&mut *tx)
                    .await?;
                }
            }
            stream
        });
        Ok(stream)
    }

    /// Records a membership this server learned outside the room's DAG (an invite from another server to a
    /// room we are not in): the member's row points at the (outlier) event, unless the member is joined.
    pub async fn set_out_of_band_membership(
        &self,
        room_id: &str,
        row: &MembershipRow,
    ) -> Result<()> {
        super::on_writer!(self, |pool| {
            sqlx::query(
                "INSERT INTO room_memberships (room_id, user_id, membership, event_id, sender, \
                 stream_ordering, forgotten) \
                 SELECT $1, $2, $3, $4, $5, stream_ordering, FALSE FROM events WHERE event_id = $4 \
                 ON CONFLICT (room_id, user_id) DO UPDATE SET membership = excluded.membership, \
                 event_id = excluded.event_id, sender = excluded.sender, \
                 stream_ordering = excluded.stream_ordering, forgotten = FALSE \
                 WHERE room_memberships.membership <> 'join'",
            )
            .bind(room_id)
            .bind(&row.user_id)
            .bind(&row.membership)
            .bind(&row.event_id)
            .bind(&row.sender)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// The state before a stored, non-outlier event: the parent group of a state event's group, the group
    /// itself otherwise; `None` when unknown (outliers, rejected state events without a group, full
    /// snapshots without a parent).
    pub async fn state_group_before_event(&self, event_id: &str) -> Result<Option<i64>> {
        let row: Option<(Option<String>, Option<i64>, bool, bool)> = on_reader!(self, |pool| {
            sqlx::query_as(
                "SELECT state_key, state_group, outlier, rejected FROM events WHERE event_id = $1",
            )
            .bind(event_id)
            .fetch_optional(pool)
            .await?
        });
        let Some((state_key, group, outlier, rejected)) = row else {
            return Ok(None);
        };
        match (group, outlier) {
            (Some(group), false) if state_key.is_none() || rejected => Ok(Some(group)),
            (Some(group), false) => self.state_group_parent(group).await,
            _ => Ok(None),
        }
    }

    /// The events with these IDs that are stored as outliers or in the DAG, as `(event_id, outlier)`.
    pub async fn known_event_ids(&self, event_ids: &[String]) -> Result<HashMap<String, bool>> {
        let mut known = HashMap::new();
        for id in event_ids {
            let row: Option<(bool,)> = on_reader!(self, |pool| {
                sqlx::query_as("SELECT outlier FROM events WHERE event_id = $1")
                    .bind(id)
                    .fetch_optional(pool)
                    .await?
            });
            if let Some((outlier,)) = row {
                known.insert(id.clone(), outlier);
            }
        }
        Ok(known)
    }
}
