//! Stream positions of the per-user sync streams (account data, receipts, presence, to-device messages,
//! device-list changes).
//!
//! Each stream has one counter row in `stream_positions`. A writer bumps the counter with
//! [`NEXT_POSITION`] inside the same transaction as the row it writes; the counter row stays locked
//! until commit, so positions become visible in increasing order and a reader that observed
//! position `N` has observed every change at or below `N`. /sync tokens embed these positions, so
//! they survive restarts.

use super::{Result, Storage, on_reader};

/// Bumps a stream's counter and returns the new position; bind the stream name as `$1`.
/// Run it inside the write transaction that stores the change.
pub(super) const NEXT_POSITION: &str =
    "UPDATE stream_positions SET position = position + 1 WHERE stream = $1 RETURNING position";

/// Name of the account-data stream's counter.
pub(super) const ACCOUNT_DATA: &str = "account_data";
/// Name of the receipts stream's counter.
pub(super) const RECEIPTS: &str = "receipts";
/// Name of the presence stream's counter.
pub(super) const PRESENCE: &str = "presence";
/// Name of the to-device stream's counter.
pub(super) const TO_DEVICE: &str = "to_device";

/// The newest committed position of each per-user stream; the upper bound a /sync reads up to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StreamPositions {
    /// Global and per-room account data (including tags, `m.direct`, push rules).
    pub account_data: i64,
    /// Read receipts of every room.
    pub receipts: i64,
    /// Presence of every local user.
    pub presence: i64,
    /// To-device messages of every local device.
    pub to_device: i64,
    /// Changes of device lists and keys, of local and remote users.
    pub device_lists: i64,
}

impl Storage {
    /// The current position of every per-user stream.
    pub async fn stream_positions(&self) -> Result<StreamPositions> {
        let rows: Vec<(String, i64)> = on_reader!(self, |pool| {
            sqlx::query_as("SELECT stream, position FROM stream_positions")
                .fetch_all(pool)
                .await?
        });
        let mut positions = StreamPositions::default();
        for (stream, position) in rows {
            match stream.as_str() {
                ACCOUNT_DATA => positions.account_data = position,
                RECEIPTS => positions.receipts = position,
                PRESENCE => positions.presence = position,
                TO_DEVICE => positions.to_device = position,
                super::device_lists::DEVICE_LISTS => positions.device_lists = position,
                _ => {}
            }
        }
        Ok(positions)
    }
}
