//! The device-list change stream: one row per change of a user's devices or keys (a device's keys uploaded or
//! changed, a device deleted, new cross-signing keys or signatures), for local and remote users alike. `/sync`
//! (`device_lists.changed`), `/keys/changes` and the federation sender read it by position.

use super::streams::NEXT_POSITION;
use super::{Result, Storage, in_write_tx, on_reader};

/// Name of the device-list stream's counter.
pub(super) const DEVICE_LISTS: &str = "device_lists";

/// Inserts one change row; bind position, user, device (`''` for cross-signing keys).
pub(super) const INSERT_CHANGE: &str =
    "INSERT INTO device_list_changes (stream_id, user_id, device_id) VALUES ($1, $2, $3)";

/// Records a change of `$user`'s device `$device` inside the open transaction `$tx`; evaluates to the
/// position. The caller's transaction keeps the counter row locked until commit (see [`super::streams`]).
macro_rules! record_device_list_change {
    ($tx:ident, $user:expr, $device:expr) => {{
        let position: i64 = sqlx::query_scalar($crate::storage::streams::NEXT_POSITION)
            .bind($crate::storage::device_lists::DEVICE_LISTS)
            .fetch_one(&mut *$tx)
            .await?;
        sqlx::query($crate::storage::device_lists::INSERT_CHANGE)
            .bind(position)
            .bind($user)
            .bind($device)
            .execute(&mut *$tx)
            .await?;
        position
    }};
}
pub(super) use record_device_list_change;

impl Storage {
    /// Records that `user_id`'s device list changed (device `device_id`, `""` for cross-signing keys) and
    /// returns the new position of the device-list stream.
    pub async fn record_device_list_change(&self, user_id: &str, device_id: &str) -> Result<i64> {
        let position = in_write_tx!(self, |tx| {
            let position: i64 = sqlx::query_scalar(NEXT_POSITION)
                .bind(DEVICE_LISTS)
                .fetch_one(&mut *tx)
                .await?;
            sqlx::query(INSERT_CHANGE)
                .bind(position)
                .bind(user_id)
                .bind(device_id)
                .execute(&mut *tx)
                .await?;
            position
        });
        Ok(position)
    }

    /// The users whose device lists changed after `since` and at or before `upto`, each once.
    pub async fn device_list_changes_between(&self, since: i64, upto: i64) -> Result<Vec<String>> {
        on_reader!(self, |pool| {
            Ok(sqlx::query_scalar(
                "SELECT DISTINCT user_id FROM device_list_changes \
                 WHERE stream_id > $1 AND stream_id <= $2",
            )
            .bind(since)
            .bind(upto)
            .fetch_all(pool)
            .await?)
        })
    }

    /// The position of the newest change of `user_id`'s device list (0 if it never changed): the
    /// `stream_id` this server announces for the user over federation.
    pub async fn latest_device_list_change(&self, user_id: &str) -> Result<i64> {
        on_reader!(self, |pool| {
            Ok(sqlx::query_scalar(
                "SELECT COALESCE(MAX(stream_id), 0) FROM device_list_changes WHERE user_id = $1",
            )
            .bind(user_id)
            .fetch_one(pool)
            .await?)
        })
    }

    /// The newest `limit` positions of changes of `user_id`'s device list, newest first (for the
    /// `stream_id`/`prev_id` of outgoing device-list updates).
    pub async fn device_list_positions(&self, user_id: &str, limit: i64) -> Result<Vec<i64>> {
        on_reader!(self, |pool| {
            Ok(sqlx::query_scalar(
                "SELECT stream_id FROM device_list_changes WHERE user_id = $1 \
                 ORDER BY stream_id DESC LIMIT $2",
            )
            .bind(user_id)
            .bind(limit)
            .fetch_all(pool)
            .await?)
        })
    }
}
