//! Relations between events (`m.relates_to`): what `/relations`, `/threads` and bundled
//! aggregations read. Redacted and rejected relating events are left out, so redacting an edit or
//! a reaction removes it from every aggregation.

use super::events::StoredEvent;
use super::{Result, Storage, on_reader};

/// One relating event, in stream order.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Relation {
    /// The relating event.
    pub event_id: String,
    /// Its `rel_type`.
    pub rel_type: String,
    /// Its event type.
    pub event_type: String,
    /// Its sender.
    pub sender: String,
    /// Its stream ordering.
    pub stream_ordering: i64,
}

impl Storage {
    /// Every live relation pointing at `event_id`, oldest first.
    pub async fn relations_to(&self, event_id: &str) -> Result<Vec<Relation>> {
        on_reader!(self, |pool| {
            Ok(sqlx::query_as(
                "SELECT r.event_id, r.rel_type, r.event_type, r.sender, e.stream_ordering \
                 FROM event_relations r JOIN events e ON e.event_id = r.event_id \
                 WHERE r.relates_to = $1 AND e.redacted_by IS NULL AND NOT e.rejected \
                 ORDER BY e.stream_ordering",
            )
            .bind(event_id)
            .fetch_all(pool)
            .await?)
        })
    }

    /// The relating events of `event_id` (optionally of one `rel_type` and event type), newest
    /// first when `backward`, from stream position `from` (inclusive backward, exclusive forward).
    pub async fn relating_events(
        &self,
        event_id: &str,
        rel_type: Option<&str>,
        event_type: Option<&str>,
        from: i64,
        backward: bool,
        limit: i64,
    ) -> Result<Vec<StoredEvent>> {
        let columns = super::events::EVENT_COLUMNS
            .split(", ")
            .map(|c| format!("e.{c}"))
            .collect::<Vec<_>>()
            .join(", ");
        let (cmp, order) = if backward {
            ("<=", "DESC")
        } else {
            (">", "ASC")
        };
        let sql = format!(
            "SELECT {columns} FROM event_relations r JOIN events e ON e.event_id = r.event_id \
             WHERE r.relates_to = $1 AND ($2 IS NULL OR r.rel_type = $2) \
             AND ($3 IS NULL OR r.event_type = $3) AND e.stream_ordering {cmp} $4 \
             AND NOT e.rejected ORDER BY e.stream_ordering {order} LIMIT $5"
        );
        on_reader!(self, |pool| {
            Ok(sqlx::query_as(&sql)
                .bind(event_id)
                .bind(rel_type)
                .bind(event_type)
                .bind(from)
                .bind(limit)
                .fetch_all(pool)
                .await?)
        })
    }

    /// Thread roots of a room (events with at least one live `m.thread` relation), most recently
    /// active first, with the stream ordering of their latest reply; only threads whose latest
    /// reply is at or before `from`.
    pub async fn thread_roots(
        &self,
        room_id: &str,
        from: i64,
        limit: i64,
    ) -> Result<Vec<(String, i64)>> {
        on_reader!(self, |pool| {
            Ok(sqlx::query_as(
                "SELECT r.relates_to, MAX(e.stream_ordering) AS latest \
                 FROM event_relations r JOIN events e ON e.event_id = r.event_id \
                 WHERE r.room_id = $1 AND r.rel_type = 'm.thread' AND e.redacted_by IS NULL \
                 AND NOT e.rejected GROUP BY r.relates_to HAVING MAX(e.stream_ordering) <= $2 \
                 ORDER BY latest DESC LIMIT $3",
            )
            .bind(room_id)
            .bind(from)
            .bind(limit)
            .fetch_all(pool)
            .await?)
        })
    }
}
