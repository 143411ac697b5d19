//! Read receipts (`m.read`, `m.read.private`): the latest receipt of each user per room, receipt
//! type and thread. Every write takes a new position on the receipts stream.

use super::streams::{NEXT_POSITION, RECEIPTS};
use super::{Result, Storage, in_write_tx, on_reader};

/// A receipt as stored.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Receipt {
    /// The room.
    pub room_id: String,
    /// `m.read` or `m.read.private`.
    pub receipt_type: String,
    /// Who read.
    pub user_id: String,
    /// The thread (`main` or a thread root); `''` for an unthreaded receipt.
    pub thread_id: String,
    /// The event read up to.
    pub event_id: String,
    /// When the receipt was sent (ms since the epoch).
    pub ts: i64,
    /// Position on the receipts stream.
    pub stream_id: i64,
}

/// What a caller supplies to store a receipt.
#[derive(Debug, Clone, Copy)]
pub struct NewReceipt<'a> {
    /// The room.
    pub room_id: &'a str,
    /// `m.read` or `m.read.private`.
    pub receipt_type: &'a str,
    /// Who read.
    pub user_id: &'a str,
    /// The thread, `None` for an unthreaded receipt.
    pub thread_id: Option<&'a str>,
    /// The event read up to.
    pub event_id: &'a str,
    /// When (ms since the epoch).
    pub ts: i64,
}

const RECEIPT_COLUMNS: &str = "room_id, receipt_type, user_id, thread_id, event_id, ts, stream_id";

impl Storage {
    /// Stores a receipt, replacing the user's previous one of the same type and thread in the
    /// room, and returns its stream position.
    pub async fn set_receipt(&self, receipt: &NewReceipt<'_>) -> Result<i64> {
        let position = in_write_tx!(self, |tx| {
            let position: i64 = sqlx::query_scalar(NEXT_POSITION)
                .bind(RECEIPTS)
                .fetch_one(&mut *tx)
                .await?;
            sqlx::query(
                "INSERT INTO receipts \
                 (room_id, receipt_type, user_id, thread_id, event_id, ts, stream_id) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) \
                 ON CONFLICT (room_id, receipt_type, user_id, thread_id) \
                 DO UPDATE SET event_id = excluded.event_id, ts = excluded.ts, \
                 stream_id = excluded.stream_id",
            )
            .bind(receipt.room_id)
            .bind(receipt.receipt_type)
            .bind(receipt.user_id)
            .bind(receipt.thread_id.unwrap_or(""))
            .bind(receipt.event_id)
            .bind(receipt.ts)
            .bind(position)
            .execute(&mut *tx)
            .await?;
            position
        });
        Ok(position)
    }

    /// Receipts in a room written after `since` and at or before `upto`, in stream order.
    pub async fn room_receipts_between(
        &self,
        room_id: &str,
        since: i64,
        upto: i64,
    ) -> Result<Vec<Receipt>> {
        let sql = format!(
            "SELECT {RECEIPT_COLUMNS} FROM receipts \
             WHERE room_id = $1 AND stream_id > $2 AND stream_id <= $3 ORDER BY stream_id"
        );
        on_reader!(self, |pool| {
            Ok(sqlx::query_as(&sql)
                .bind(room_id)
                .bind(since)
                .bind(upto)
                .fetch_all(pool)
                .await?)
        })
    }

    /// The user's receipts in a room (every type and thread); what unread counts start from.
    pub async fn user_receipts_in_room(
        &self,
        room_id: &str,
        user_id: &str,
    ) -> Result<Vec<Receipt>> {
        let sql = format!(
            "SELECT {RECEIPT_COLUMNS} FROM receipts WHERE room_id = $1 AND user_id = $2 \
             ORDER BY stream_id"
        );
        on_reader!(self, |pool| {
            Ok(sqlx::query_as(&sql)
                .bind(room_id)
                .bind(user_id)
                .fetch_all(pool)
                .await?)
        })
    }
}
