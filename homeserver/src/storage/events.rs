//! The event store's write path and event reads: persisting one event with everything that follows
//! from it (state, extremities, membership, relation, redaction mark, transaction ID) in ONE
//! transaction, and reading events back by ID or by stream position.
//!
//! Events are stored as the PDU exactly as signed (canonical JSON without `unsigned`), so what
//! federation sends later is byte for byte what the client API built and checked.

use super::{Backend, Result, Storage, StorageError, in_write_tx, on_reader};

/// Longest chain of state-group deltas before a full snapshot is written, so reading any state
/// walks at most this many groups.
const MAX_STATE_CHAIN: i64 = 50;

/// Columns of [`StoredEvent`], in the order the struct reads them.
pub(super) const EVENT_COLUMNS: &str = "stream_ordering, event_id, room_id, type, state_key, \
    sender, depth, origin_server_ts, json, state_group, outlier, rejected, soft_failed, redacted_by";

/// The room row an `m.room.create` event brings into existence.
#[derive(Debug, Clone, Copy)]
pub struct NewRoom<'a> {
    /// The room version's identifier (`"12"`).
    pub room_version: &'a str,
    /// The create event's sender.
    pub creator: &'a str,
}

/// An `m.relates_to` worth indexing (it has both `rel_type` and `event_id`).
#[derive(Debug, Clone, Copy)]
pub struct NewRelation<'a> {
    /// The event related to.
    pub relates_to: &'a str,
    /// `m.annotation`, `m.replace`, `m.thread`, `m.reference`, …
    pub rel_type: &'a str,
    /// The annotation key (`m.annotation` only).
    pub key: Option<&'a str>,
}

/// The client transaction that produced a local event.
#[derive(Debug, Clone, Copy)]
pub struct TxnKey<'a> {
    /// The sending user.
    pub user_id: &'a str,
    /// The sending device.
    pub device_id: &'a str,
    /// The client's transaction ID.
    pub txn_id: &'a str,
}

/// One event to persist, with the derived facts the caller already parsed from its JSON.
#[derive(Debug, Clone, Copy)]
pub struct NewEvent<'a> {
    /// The event ID.
    pub event_id: &'a str,
    /// The room ID (for a v12 create event: the ID derived from it).
    pub room_id: &'a str,
    /// `type`.
    pub event_type: &'a str,
    /// `state_key`; `Some` makes this a state event that enters the room state.
    pub state_key: Option<&'a str>,
    /// `sender`.
    pub sender: &'a str,
    /// `depth`.
    pub depth: i64,
    /// `origin_server_ts`.
    pub origin_server_ts: i64,
    /// The PDU as signed: canonical JSON text without `unsigned`.
    pub json: &'a str,
    /// `prev_events`: they stop being forward extremities.
    pub prev_events: &'a [String],
    /// `content.membership` of an `m.room.member` event.
    pub membership: Option<&'a str>,
    /// The event's relation, if any.
    pub relation: Option<NewRelation<'a>>,
    /// For `m.room.redaction`: the event it redacts.
    pub redacts: Option<&'a str>,
    /// The client transaction, for a local send with a transaction ID.
    pub txn: Option<TxnKey<'a>>,
    /// `Some` for the create event: the room row to insert first.
    pub new_room: Option<NewRoom<'a>>,
    /// When the event is persisted (ms since the epoch), for the transaction-ID row.
    pub now_ms: i64,
}

/// An event as stored, with this server's bookkeeping about it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct StoredEvent {
    /// Global position; orders the timeline for /sync and /messages.
    pub stream_ordering: i64,
    /// The event ID.
    pub event_id: String,
    /// The room.
    pub room_id: String,
    /// `type`.
    #[sqlx(rename = "type")]
    pub event_type: String,
    /// `state_key`, `None` for message events.
    pub state_key: Option<String>,
    /// `sender`.
    pub sender: String,
    /// `depth`.
    pub depth: i64,
    /// `origin_server_ts`.
    pub origin_server_ts: i64,
    /// The PDU as signed (canonical JSON).
    pub json: String,
    /// The state after this event; `None` for outliers (state unknown).
    pub state_group: Option<i64>,
    /// Stored without its place in the DAG being known (federation auth chains).
    pub outlier: bool,
    /// Failed the auth rules; kept for the DAG, never served.
    pub rejected: bool,
    /// Passed auth at the event but not against the current state; kept out of timelines.
    pub soft_failed: bool,
    /// The redaction event that redacted this event, if any.
    pub redacted_by: Option<String>,
}

/// Which way `/messages` walks the timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Towards older events.
    Backward,
    /// Towards newer events.
    Forward,
}

impl Storage {
    /// Persists one event and everything that follows from it in one transaction; returns its
    /// stream ordering. Committed (durable) when this returns.
    ///
    /// `Conflict("event")` if the event ID is stored already, `Conflict("room")` if `new_room`
    /// names an existing room, `NotFound("room")` if the room does not exist.
    pub async fn persist_event(&self, event: &NewEvent<'_>) -> Result<i64> {
        let is_postgres = self.backend() == Backend::Postgres;
        let stream = in_write_tx!(self, |tx| {
            if is_postgres {
                // Serialises writers so stream orderings become visible in increasing order.
                sqlx::query("SELECT pg_advisory_xact_lock($1)")
                    .bind(EVENT_PERSIST_LOCK)
                    .execute(&mut *tx)
                    .await?;
            }
            if let Some(room) = event.new_room {
                sqlx::query(
                    "INSERT INTO rooms (room_id, room_version, creator, created_ts) \
                     VALUES ($1, $2, $3, $4)",
                )
                .bind(event.room_id)
                .bind(room.room_version)
                .bind(room.creator)
                .bind(event.origin_server_ts)
                .execute(&mut *tx)
                .await
                .map_err(|e| StorageError::from_write(e, "room", "room"))?;
            }
            let current: Option<(Option<i64>,)> =
                sqlx::query_as("SELECT current_state_group FROM rooms WHERE room_id = $1")
                    .bind(event.room_id)
                    .fetch_optional(&mut *tx)
                    .await?;
            let Some((current_group,)) = current else {
                return Err(StorageError::NotFound("room"));
            };
            let state_group = match event.state_key {
                None => current_group,
                Some(state_key) => {
                    if let Some(membership) = event.membership {
                        sqlx::query(
                            "INSERT INTO room_memberships (room_id, user_id, membership, event_id, \
                             sender, stream_ordering, forgotten) VALUES ($1, $2, $3, $4, $5, 0, FALSE) \
                             ON CONFLICT (room_id, user_id) DO UPDATE SET membership = $3, \
                             event_id = $4, sender = $5, forgotten = FALSE",
                        )
                        .bind(event.room_id)
                        .bind(state_key)
                        .bind(membership)
                        .bind(event.event_id)
                        .bind(event.sender)
                        .execute(&mut *tx)
                        .await?;
                    }
                    let parent_chain: Option<i64> = match current_group {
                        Some(group) => {
                            sqlx::query_scalar(
                                "SELECT chain_length FROM state_groups WHERE state_group = $1",
                            )
                            .bind(group)
                            .fetch_optional(&mut *tx)
                            .await?
                        }
                        None => None,
                    };
                    let (parent, chain) = match (current_group, parent_chain) {
                        (Some(group), Some(length)) if length < MAX_STATE_CHAIN => {
                            (Some(group), length + 1)
                        }
                        _ => (None, 0),
                    };
                    let group: i64 = sqlx::query_scalar(
                        "INSERT INTO state_groups (room_id, parent_group, chain_length) \
                         VALUES ($1, $2, $3) RETURNING state_group",
                    )
                    .bind(event.room_id)
                    .bind(parent)
                    .bind(chain)
                    .fetch_one(&mut *tx)
                    .await?;
                    if parent.is_none() {
                        // A full snapshot: the current state (the state of `current_group`).
                        sqlx::query(
                            "INSERT INTO state_group_entries (state_group, type, state_key, event_id) \
                             SELECT $1, type, state_key, event_id FROM current_state \
                             WHERE room_id = $2",
                        )
                        .bind(group)
                        .bind(event.room_id)
                        .execute(&mut *tx)
                        .await?;
                    }
                    sqlx::query(
                        "INSERT INTO state_group_entries (state_group, type, state_key, event_id) \
                         VALUES ($1, $2, $3, $4) ON CONFLICT (state_group, type, state_key) \
                         DO UPDATE SET event_id = $4",
                    )
                    .bind(group)
                    .bind(event.event_type)
                    .bind(state_key)
                    .bind(event.event_id)
                    .execute(&mut *tx)
                    .await?;
                    sqlx::query(
                        "INSERT INTO current_state (room_id, type, state_key, event_id) \
                         VALUES ($1, $2, $3, $4) ON CONFLICT (room_id, type, state_key) \
                         DO UPDATE SET event_id = $4",
                    )
                    .bind(event.room_id)
                    .bind(event.event_type)
                    .bind(state_key)
                    .bind(event.event_id)
                    .execute(&mut *tx)
                    .await?;
                    sqlx::query("UPDATE rooms SET current_state_group = $1 WHERE room_id = $2")
                        .bind(group)
                        .bind(event.room_id)
                        .execute(&mut *tx)
                        .await?;
                    Some(group)
                }
            };
            let stream: i64 = sqlx::query_scalar(
                "INSERT INTO events (event_id, room_id, type, state_key, sender, depth, \
                 origin_server_ts, json, state_group) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING stream_ordering",
            )
            .bind(event.event_id)
            .bind(event.room_id)
            .bind(event.event_type)
            .bind(event.state_key)
            .bind(event.sender)
            .bind(event.depth)
            .bind(event.origin_server_ts)
            .bind(event.json)
            .bind(state_group)
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| StorageError::from_write(e, "event", "room"))?;
            if event.membership.is_some() {
                sqlx::query(
                    "UPDATE room_memberships SET stream_ordering = $1 \
                     WHERE room_id = $2 AND event_id = $3",
                )
                .bind(stream)
                .bind(event.room_id)
                .bind(event.event_id)
                .execute(&mut *tx)
                .await?;
            }
            for prev in event.prev_events {
                sqlx::query(
                    "INSERT INTO event_edges (event_id, prev_event_id) VALUES ($1, $2) \
                     ON CONFLICT DO NOTHING",
                )
                .bind(event.event_id)
                .bind(prev.as_str())
                .execute(&mut *tx)
                .await?;
                sqlx::query(
                    "DELETE FROM room_forward_extremities WHERE room_id = $1 AND event_id = $2",
                )
                .bind(event.room_id)
                .bind(prev.as_str())
                .execute(&mut *tx)
                .await?;
            }
            sqlx::query("INSERT INTO room_forward_extremities (room_id, event_id) VALUES ($1, $2)")
                .bind(event.room_id)
                .bind(event.event_id)
                .execute(&mut *tx)
                .await?;
            if let Some(relation) = event.relation {
                sqlx::query(
                    "INSERT INTO event_relations (event_id, room_id, relates_to, rel_type, \
                     event_type, sender, aggregation_key) VALUES ($1, $2, $3, $4, $5, $6, $7)",
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
            if let Some(txn) = event.txn {
                sqlx::query(
                    "INSERT INTO event_txn_ids (user_id, device_id, txn_id, event_id, created_ts) \
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(txn.user_id)
                .bind(txn.device_id)
                .bind(txn.txn_id)
                .bind(event.event_id)
                .bind(event.now_ms)
                .execute(&mut *tx)
                .await
                .map_err(|e| StorageError::from_write(e, "transaction ID", "room"))?;
            }
            stream
        });
        Ok(stream)
    }

    /// One event by ID, whatever its flags.
    pub async fn get_event(&self, event_id: &str) -> Result<Option<StoredEvent>> {
        let sql = format!("SELECT {EVENT_COLUMNS} FROM events WHERE event_id = $1");
        on_reader!(self, |pool| {
            Ok(sqlx::query_as(&sql)
                .bind(event_id)
                .fetch_optional(pool)
                .await?)
        })
    }

    /// The events among `event_ids` that are stored, in no particular order.
    pub async fn get_events(&self, event_ids: &[String]) -> Result<Vec<StoredEvent>> {
        let mut events = Vec::with_capacity(event_ids.len());
        for id in event_ids {
            if let Some(event) = self.get_event(id).await? {
                events.push(event);
            }
        }
        Ok(events)
    }

    /// The event a client transaction produced, if the transaction was seen before.
    pub async fn txn_event_id(&self, txn: &TxnKey<'_>) -> Result<Option<String>> {
        on_reader!(self, |pool| {
            Ok(sqlx::query_scalar(
                "SELECT event_id FROM event_txn_ids \
                 WHERE user_id = $1 AND device_id = $2 AND txn_id = $3",
            )
            .bind(txn.user_id)
            .bind(txn.device_id)
            .bind(txn.txn_id)
            .fetch_optional(pool)
            .await?)
        })
    }

    /// The (user, device) whose transaction produced `event_id`, for `unsigned.transaction_id`.
    pub async fn txn_of_event(&self, event_id: &str) -> Result<Option<(String, String, String)>> {
        on_reader!(self, |pool| {
            Ok(sqlx::query_as(
                "SELECT user_id, device_id, txn_id FROM event_txn_ids WHERE event_id = $1",
            )
            .bind(event_id)
            .fetch_optional(pool)
            .await?)
        })
    }

    /// The highest stream ordering stored (0 when there are no events): the "now" of the timeline.
    pub async fn max_stream_ordering(&self) -> Result<i64> {
        on_reader!(self, |pool| {
            Ok(
                sqlx::query_scalar::<_, Option<i64>>("SELECT MAX(stream_ordering) FROM events")
                    .fetch_one(pool)
                    .await?
                    .unwrap_or(0),
            )
        })
    }

    /// Timeline events of a room from position `from`: backward = stream ordering `<= from`,
    /// newest first; forward = `> from`, oldest first. `to` bounds the walk the same way
    /// (exclusive of events beyond it). Outliers, rejected and soft-failed events are skipped.
    /// Positions may be negative (backfilled history, see `storage/backfill.rs`).
    pub async fn room_events(
        &self,
        room_id: &str,
        from: i64,
        to: Option<i64>,
        direction: Direction,
        limit: i64,
    ) -> Result<Vec<StoredEvent>> {
        let sql = match direction {
            Direction::Backward => format!(
                "SELECT {EVENT_COLUMNS} FROM events WHERE room_id = $1 AND stream_ordering <= $2 \
                 AND stream_ordering > $3 AND NOT outlier AND NOT rejected AND NOT soft_failed \
                 ORDER BY stream_ordering DESC LIMIT $4"
            ),
            Direction::Forward => format!(
                "SELECT {EVENT_COLUMNS} FROM events WHERE room_id = $1 AND stream_ordering > $2 \
                 AND stream_ordering <= $3 AND NOT outlier AND NOT rejected AND NOT soft_failed \
                 ORDER BY stream_ordering ASC LIMIT $4"
            ),
        };
        let bound = match direction {
            // Backfilled history sits at zero and negative positions.
            Direction::Backward => to.unwrap_or(i64::MIN),
            Direction::Forward => to.unwrap_or(i64::MAX),
        };
        on_reader!(self, |pool| {
            Ok(sqlx::query_as(&sql)
                .bind(room_id)
                .bind(from)
                .bind(bound)
                .bind(limit)
                .fetch_all(pool)
                .await?)
        })
    }
}

/// Key for `pg_advisory_xact_lock` around event persistence (the bytes spell "hearthev").
pub(super) const EVENT_PERSIST_LOCK: i64 = 0x6865_6172_7468_6576;
