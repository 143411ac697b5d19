//! The outbound federation queues (migration `0009_federation_outbound`): the PDU fan-out position over the
//! event stream, one queue of PDUs and EDUs per destination, and each destination's retry state.
//!
//! The federation sender (`services::outbound`) is the only user. A queue row is deleted only after a
//! transaction carrying it was answered, so whatever is queued survives restarts.

use super::events::EVENT_COLUMNS;
use super::{Result, Storage, StorageError, StoredEvent, in_write_tx, on_reader};

/// A queue row's ID and its event ID or EDU text.
type QueueRow = (i64, String);

/// One PDU queued for a destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedPdu {
    /// The queue row.
    pub queue_id: i64,
    /// The event to send.
    pub event_id: String,
}

/// One EDU queued for a destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedEdu {
    /// The queue row.
    pub queue_id: i64,
    /// The EDU object as JSON text.
    pub edu: String,
}

/// The oldest items of a destination's queue, bounded per kind: the content of the next transaction.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutboundBatch {
    /// PDUs in queue order.
    pub pdus: Vec<QueuedPdu>,
    /// EDUs in queue order.
    pub edus: Vec<QueuedEdu>,
}

impl OutboundBatch {
    /// Nothing to send.
    pub fn is_empty(&self) -> bool {
        self.pdus.is_empty() && self.edus.is_empty()
    }

    /// The queue rows the batch carries.
    pub fn queue_ids(&self) -> Vec<i64> {
        self.pdus
            .iter()
            .map(|p| p.queue_id)
            .chain(self.edus.iter().map(|e| e.queue_id))
            .collect()
    }
}

/// A destination's retry state.
#[derive(Debug, Clone, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct DestinationRetry {
    /// Consecutive failed transactions.
    pub failures: i64,
    /// No attempt before this time (ms); 0 means now.
    pub retry_at_ts: i64,
    /// When a transaction last succeeded.
    pub last_success_ts: Option<i64>,
    /// Why the last transaction failed, if it did.
    pub last_error: Option<String>,
}

impl Storage {
    /// The stream ordering up to which local events have been fanned out to the queues.
    pub async fn fanout_position(&self) -> Result<i64> {
        on_reader!(self, |pool| {
            Ok(sqlx::query_scalar(
                "SELECT stream_ordering FROM federation_fanout_position WHERE id = 1",
            )
            .fetch_one(pool)
            .await?)
        })
    }

    /// Events after stream ordering `after`, oldest first, at most `limit` (all kinds: the caller picks).
    pub async fn events_after(&self, after: i64, limit: i64) -> Result<Vec<StoredEvent>> {
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE stream_ordering > $1 \
             ORDER BY stream_ordering LIMIT $2"
        );
        on_reader!(self, |pool| {
            Ok(sqlx::query_as(&sql)
                .bind(after)
                .bind(limit)
                .fetch_all(pool)
                .await?)
        })
    }

    /// The users joined to `room_id` (local and remote).
    pub async fn joined_user_ids(&self, room_id: &str) -> Result<Vec<String>> {
        on_reader!(self, |pool| {
            Ok(sqlx::query_scalar(
                "SELECT user_id FROM room_memberships WHERE room_id = $1 AND membership = 'join'",
            )
            .bind(room_id)
            .fetch_all(pool)
            .await?)
        })
    }

    /// Queues `pdus` (destination, event ID) and moves the fan-out position from `from` to `to`, in one
    /// transaction. `Conflict("fan-out position")` if the position is no longer `from` (another fan-out ran).
    pub async fn commit_fanout(
        &self,
        from: i64,
        to: i64,
        pdus: &[(String, String)],
        now_ms: i64,
    ) -> Result<()> {
        in_write_tx!(self, |tx| {
            let moved = sqlx::query(
                "UPDATE federation_fanout_position SET stream_ordering = $1 \
                 WHERE id = 1 AND stream_ordering = $2",
            )
            .bind(to)
            .bind(from)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if moved != 1 {
                return Err(StorageError::Conflict("fan-out position"));
            }
            for (destination, event_id) in pdus {
                sqlx::query(
                    "INSERT INTO federation_outbound_queue (destination, event_id, created_ts) \
                     VALUES ($1, $2, $3)",
                )
                .bind(destination)
                .bind(event_id)
                .bind(now_ms)
                .execute(&mut *tx)
                .await?;
            }
        });
        Ok(())
    }

    /// Queues one EDU (JSON text) for each of `destinations`, in one transaction. `expires_ts`: drop it
    /// unsent after this time.
    pub async fn queue_edu(
        &self,
        destinations: &[String],
        edu: &str,
        expires_ts: Option<i64>,
        now_ms: i64,
    ) -> Result<()> {
        if destinations.is_empty() {
            return Ok(());
        }
        in_write_tx!(self, |tx| {
            for destination in destinations {
                sqlx::query(
                    "INSERT INTO federation_outbound_queue (destination, edu, expires_ts, created_ts) \
                     VALUES ($1, $2, $3, $4)",
                )
                .bind(destination)
                .bind(edu)
                .bind(expires_ts)
                .bind(now_ms)
                .execute(&mut *tx)
                .await?;
            }
        });
        Ok(())
    }

    /// The next transaction's content for `destination`: its oldest ≤ `max_pdus` PDUs and ≤ `max_edus`
    /// unexpired EDUs.
    pub async fn outbound_batch(
        &self,
        destination: &str,
        max_pdus: i64,
        max_edus: i64,
        now_ms: i64,
    ) -> Result<OutboundBatch> {
        let (pdus, edus): (Vec<QueueRow>, Vec<QueueRow>) = on_reader!(self, |pool| {
            let pdus = sqlx::query_as(
                "SELECT queue_id, event_id FROM federation_outbound_queue \
                 WHERE destination = $1 AND event_id IS NOT NULL ORDER BY queue_id LIMIT $2",
            )
            .bind(destination)
            .bind(max_pdus)
            .fetch_all(pool)
            .await?;
            let edus = sqlx::query_as(
                "SELECT queue_id, edu FROM federation_outbound_queue \
                 WHERE destination = $1 AND edu IS NOT NULL \
                 AND (expires_ts IS NULL OR expires_ts >= $2) ORDER BY queue_id LIMIT $3",
            )
            .bind(destination)
            .bind(now_ms)
            .bind(max_edus)
            .fetch_all(pool)
            .await?;
            (pdus, edus)
        });
        Ok(OutboundBatch {
            pdus: pdus
                .into_iter()
                .map(|(queue_id, event_id)| QueuedPdu { queue_id, event_id })
                .collect(),
            edus: edus
                .into_iter()
                .map(|(queue_id, edu)| QueuedEdu { queue_id, edu })
                .collect(),
        })
    }

    /// A transaction to `destination` was answered (or refused for good, with `error`): its rows and the
    /// destination's expired EDUs are deleted, and the destination's failures are reset.
    pub async fn finish_outbound(
        &self,
        destination: &str,
        queue_ids: &[i64],
        error: Option<&str>,
        now_ms: i64,
    ) -> Result<()> {
        in_write_tx!(self, |tx| {
            for queue_id in queue_ids {
                sqlx::query(
                    "DELETE FROM federation_outbound_queue WHERE destination = $1 AND queue_id = $2",
                )
                .bind(destination)
                .bind(queue_id)
                .execute(&mut *tx)
                .await?;
            }
            sqlx::query(
                "DELETE FROM federation_outbound_queue \
                 WHERE destination = $1 AND expires_ts IS NOT NULL AND expires_ts < $2",
            )
            .bind(destination)
            .bind(now_ms)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO federation_destinations \
                 (destination, failures, retry_at_ts, last_success_ts, last_error) \
                 VALUES ($1, 0, 0, $2, $3) ON CONFLICT (destination) DO UPDATE \
                 SET failures = 0, retry_at_ts = 0, last_success_ts = $2, last_error = $3",
            )
            .bind(destination)
            .bind(now_ms)
            .bind(error)
            .execute(&mut *tx)
            .await?;
        });
        Ok(())
    }

    /// A transaction to `destination` failed: records the failure count, the earliest next attempt and why.
    pub async fn record_outbound_failure(
        &self,
        destination: &str,
        failures: i64,
        retry_at_ts: i64,
        error: &str,
    ) -> Result<()> {
        in_write_tx!(self, |tx| {
            sqlx::query(
                "INSERT INTO federation_destinations (destination, failures, retry_at_ts, last_error) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (destination) DO UPDATE \
                 SET failures = $2, retry_at_ts = $3, last_error = $4",
            )
            .bind(destination)
            .bind(failures)
            .bind(retry_at_ts)
            .bind(error)
            .execute(&mut *tx)
            .await?;
        });
        Ok(())
    }

    /// `destination` proved it is up (it sent us a request): the next attempt may be made at once. The
    /// failure count restarts too, so a new outage backs off from the shortest delay again.
    pub async fn reset_destination_backoff(&self, destination: &str) -> Result<()> {
        in_write_tx!(self, |tx| {
            sqlx::query(
                "UPDATE federation_destinations SET failures = 0, retry_at_ts = 0 WHERE destination = $1",
            )
            .bind(destination)
            .execute(&mut *tx)
            .await?;
        });
        Ok(())
    }

    /// A destination's retry state (all zero for one never tried).
    pub async fn destination_retry(&self, destination: &str) -> Result<DestinationRetry> {
        let found: Option<DestinationRetry> = on_reader!(self, |pool| {
            sqlx::query_as(
                "SELECT failures, retry_at_ts, last_success_ts, last_error \
                 FROM federation_destinations WHERE destination = $1",
            )
            .bind(destination)
            .fetch_optional(pool)
            .await?
        });
        Ok(found.unwrap_or_default())
    }

    /// Destinations with something queued: the queues to resume at start-up.
    pub async fn destinations_with_queue(&self) -> Result<Vec<String>> {
        on_reader!(self, |pool| {
            Ok(sqlx::query_scalar(
                "SELECT DISTINCT destination FROM federation_outbound_queue ORDER BY destination",
            )
            .fetch_all(pool)
            .await?)
        })
    }

    /// How many PDUs and EDUs are queued for `destination` (expired EDUs included).
    pub async fn outbound_queue_len(&self, destination: &str) -> Result<i64> {
        on_reader!(self, |pool| {
            Ok(sqlx::query_scalar(
                "SELECT COUNT(*) FROM federation_outbound_queue WHERE destination = $1",
            )
            .bind(destination)
            .fetch_one(pool)
            .await?)
        })
    }
}
