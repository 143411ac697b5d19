//! The to-device inbox of local devices: messages wait here, each at its own position of the `to_device`
//! stream, until the device syncs with a token past them; `/sendToDevice` transaction IDs make a retried send
//! deliver once.

use super::streams::{NEXT_POSITION, TO_DEVICE};
use super::{Result, Storage, in_write_tx, on_reader, on_writer};

/// One message for one device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewToDevice<'a> {
    /// The recipient (local user).
    pub user_id: &'a str,
    /// The recipient's device.
    pub device_id: &'a str,
    /// The event content (JSON text).
    pub content: String,
}

/// A queued message as read for `/sync`.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ToDeviceMessage {
    /// Position on the to-device stream.
    pub stream_id: i64,
    /// Who sent it.
    pub sender: String,
    /// The event type.
    pub event_type: String,
    /// The content (JSON text).
    pub content: String,
}

impl Storage {
    /// Queues `messages` of `event_type` from `sender` unless the transaction `(sender, sender_device,
    /// txn_id)` was already handled; in one transaction with the transaction ID. Messages for devices that do
    /// not exist (any more) are dropped. Returns the stream position of the last message queued, `None` for a
    /// repeated transaction.
    pub async fn queue_to_device(
        &self,
        sender: &str,
        sender_device: &str,
        txn_id: &str,
        event_type: &str,
        messages: &[NewToDevice<'_>],
        now_ms: i64,
    ) -> Result<Option<i64>> {
        let position = in_write_tx!(self, |tx| {
            let fresh = sqlx::query(
                "INSERT INTO to_device_txns (sender, device_id, txn_id, ts) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (sender, device_id, txn_id) DO NOTHING",
            )
            .bind(sender)
            .bind(sender_device)
            .bind(txn_id)
            .bind(now_ms)
            .execute(&mut *tx)
            .await?
            .rows_affected()
                == 1;
            if fresh {
                let mut last = 0;
                for message in messages {
                    let position: i64 = sqlx::query_scalar(NEXT_POSITION)
                        .bind(TO_DEVICE)
                        .fetch_one(&mut *tx)
                        .await?;
                    sqlx::query(
                        "INSERT INTO to_device_inbox \
                         (stream_id, user_id, device_id, sender, event_type, content) \
                         SELECT $1, $2, $3, $4, $5, $6 WHERE EXISTS \
                         (SELECT 1 FROM devices WHERE user_id = $2 AND device_id = $3)",
                    )
                    .bind(position)
                    .bind(message.user_id)
                    .bind(message.device_id)
                    .bind(sender)
                    .bind(event_type)
                    .bind(&message.content)
                    .execute(&mut *tx)
                    .await?;
                    last = position;
                }
                Some(last)
            } else {
                None
            }
        });
        Ok(position)
    }

    /// Messages for a device after `since` and at or before `upto`, oldest first, at most `limit`.
    pub async fn to_device_messages(
        &self,
        user_id: &str,
        device_id: &str,
        since: i64,
        upto: i64,
        limit: i64,
    ) -> Result<Vec<ToDeviceMessage>> {
        on_reader!(self, |pool| {
            Ok(sqlx::query_as(
                "SELECT stream_id, sender, event_type, content FROM to_device_inbox \
                 WHERE user_id = $1 AND device_id = $2 AND stream_id > $3 AND stream_id <= $4 \
                 ORDER BY stream_id LIMIT $5",
            )
            .bind(user_id)
            .bind(device_id)
            .bind(since)
            .bind(upto)
            .bind(limit)
            .fetch_all(pool)
            .await?)
        })
    }

    /// Deletes the device's messages at or before `upto`: the device acknowledged them by syncing from a
    /// token that includes them.
    pub async fn delete_to_device_messages(
        &self,
        user_id: &str,
        device_id: &str,
        upto: i64,
    ) -> Result<u64> {
        on_writer!(self, |pool| {
            Ok(sqlx::query(
                "DELETE FROM to_device_inbox \
                 WHERE user_id = $1 AND device_id = $2 AND stream_id <= $3",
            )
            .bind(user_id)
            .bind(device_id)
            .bind(upto)
            .execute(pool)
            .await?
            .rows_affected())
        })
    }

    /// Whether the device has any message at or before `upto` still queued (to skip the delete when not).
    pub async fn has_to_device_messages_upto(
        &self,
        user_id: &str,
        device_id: &str,
        upto: i64,
    ) -> Result<bool> {
        on_reader!(self, |pool| {
            Ok(sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM to_device_inbox \
                 WHERE user_id = $1 AND device_id = $2 AND stream_id <= $3)",
            )
            .bind(user_id)
            .bind(device_id)
            .bind(upto)
            .fetch_one(pool)
            .await?)
        })
    }
}
