//! The cache of remote users' device lists: for a user of another server who shares a room with a local user,
//! the devices and keys their server announced (a `/user/devices` snapshot, then one `m.device_list_update` EDU
//! per change) and the origin's `stream_id` of the newest update applied. `/keys/query` answers from it while it
//! is fresh; an update that does not follow on from the cached `stream_id` marks it stale, and the next query
//! fetches a new snapshot.
//!
//! A user is cached from their first snapshot until no local user shares a room with them any more (then the
//! rows are dropped: their server stops sending updates, so the cache could only grow stale).

use super::cross_signing::{CrossSigningKey, upsert_cross_signing_key};
use super::device_lists::record_device_list_change;
use super::e2e_keys::DeviceWithKeys;
use super::{Result, Storage, in_write_tx, on_reader, on_writer};

/// A device as a remote server announced it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteDevice {
    /// The device ID.
    pub device_id: String,
    /// Its public display name, if the server sent one.
    pub display_name: Option<String>,
    /// Its device keys (JSON text, as signed by the device), `None` when the server sent none.
    pub key_json: Option<String>,
}

/// What became of one `m.device_list_update`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemoteUpdate {
    /// It followed on from the cached list and was applied; the local device-list change's position.
    Applied(i64),
    /// Its `stream_id` was already applied (a retried or older EDU): nothing changed.
    Seen,
    /// The cache cannot take it (not cached, stale, or updates were missed): the cache is marked stale and
    /// a local device-list change recorded at this position, so clients query and the query resyncs.
    Gap(i64),
}

impl Storage {
    /// Whether `user_id`'s device list is cached and fresh (not stale).
    pub async fn remote_device_list_is_fresh(&self, user_id: &str) -> Result<bool> {
        let stale: Option<bool> = on_reader!(self, |pool| {
            sqlx::query_scalar("SELECT stale FROM remote_device_lists WHERE user_id = $1")
                .bind(user_id)
                .fetch_optional(pool)
                .await?
        });
        Ok(stale == Some(false))
    }

    /// The cached devices of a remote user, by device ID.
    pub async fn remote_devices(&self, user_id: &str) -> Result<Vec<DeviceWithKeys>> {
        on_reader!(self, |pool| {
            Ok(sqlx::query_as(
                "SELECT device_id, display_name, key_json FROM remote_devices \
                 WHERE user_id = $1 ORDER BY device_id",
            )
            .bind(user_id)
            .fetch_all(pool)
            .await?)
        })
    }

    /// Replaces the cached device list of `user_id` with a snapshot at the origin's `stream_id` (and the
    /// cross-signing keys that came with it), marking it fresh. A snapshot older than an update already
    /// applied to a fresh cache is ignored (false).
    pub async fn replace_remote_devices(
        &self,
        user_id: &str,
        stream_id: i64,
        devices: &[RemoteDevice],
        cross_signing: &[CrossSigningKey],
        now_ms: i64,
    ) -> Result<bool> {
        let stored = in_write_tx!(self, |tx| {
            let current: Option<(i64, bool)> = sqlx::query_as(
                "SELECT stream_id, stale FROM remote_device_lists WHERE user_id = $1",
            )
            .bind(user_id)
            .fetch_optional(&mut *tx)
            .await?;
            if current.is_some_and(|(current, stale)| !stale && current > stream_id) {
                false
            } else {
                sqlx::query(
                    "INSERT INTO remote_device_lists (user_id, stream_id, stale, updated_ts) \
                     VALUES ($1, $2, FALSE, $3) ON CONFLICT (user_id) DO UPDATE SET \
                     stream_id = excluded.stream_id, stale = FALSE, updated_ts = excluded.updated_ts",
                )
                .bind(user_id)
                .bind(stream_id)
                .bind(now_ms)
                .execute(&mut *tx)
                .await?;
                sqlx::query("DELETE FROM remote_devices WHERE user_id = $1")
                    .bind(user_id)
                    .execute(&mut *tx)
                    .await?;
                for device in devices {
                    sqlx::query(
                        "INSERT INTO remote_devices (user_id, device_id, display_name, key_json) \
                         VALUES ($1, $2, $3, $4) ON CONFLICT (user_id, device_id) DO NOTHING",
                    )
                    .bind(user_id)
                    .bind(&device.device_id)
                    .bind(&device.display_name)
                    .bind(&device.key_json)
                    .execute(&mut *tx)
                    .await?;
                }
                for key in cross_signing {
                    upsert_cross_signing_key!(tx, user_id, key);
                }
                true
            }
        });
        Ok(stored)
    }

    /// Applies one `m.device_list_update` of a remote user who shares a room with a local user: when the cache
    /// is fresh and `prev_ids` is exactly the cached `stream_id`, the device is replaced (`Some`) or removed
    /// (`None`) and the cache moves to `stream_id`; otherwise the cache is marked stale. Either way a local
    /// device-list change is recorded, unless the update was seen already.
    pub async fn apply_remote_device_update(
        &self,
        user_id: &str,
        stream_id: i64,
        prev_ids: &[i64],
        device_id: &str,
        device: Option<&RemoteDevice>,
        now_ms: i64,
    ) -> Result<RemoteUpdate> {
        let outcome = in_write_tx!(self, |tx| {
            let current: Option<(i64, bool)> = sqlx::query_as(
                "SELECT stream_id, stale FROM remote_device_lists WHERE user_id = $1",
            )
            .bind(user_id)
            .fetch_optional(&mut *tx)
            .await?;
            match current {
                Some((current, _)) if stream_id <= current => RemoteUpdate::Seen,
                Some((current, false))
                    if !prev_ids.is_empty() && prev_ids.iter().all(|prev| *prev == current) =>
                {
                    sqlx::query(
                        "UPDATE remote_device_lists SET stream_id = $2, updated_ts = $3 \
                         WHERE user_id = $1",
                    )
                    .bind(user_id)
                    .bind(stream_id)
                    .bind(now_ms)
                    .execute(&mut *tx)
                    .await?;
                    sqlx::query("DELETE FROM remote_devices WHERE user_id = $1 AND device_id = $2")
                        .bind(user_id)
                        .bind(device_id)
                        .execute(&mut *tx)
                        .await?;
                    if let Some(device) = device {
                        sqlx::query(
                            "INSERT INTO remote_devices (user_id, device_id, display_name, key_json) \
                             VALUES ($1, $2, $3, $4)",
                        )
                        .bind(user_id)
                        .bind(device_id)
                        .bind(&device.display_name)
                        .bind(&device.key_json)
                        .execute(&mut *tx)
                        .await?;
                    }
                    RemoteUpdate::Applied(record_device_list_change!(tx, user_id, device_id))
                }
                _ => {
                    sqlx::query("UPDATE remote_device_lists SET stale = TRUE WHERE user_id = $1")
                        .bind(user_id)
                        .execute(&mut *tx)
                        .await?;
                    RemoteUpdate::Gap(record_device_list_change!(tx, user_id, device_id))
                }
            }
        });
        Ok(outcome)
    }

    /// Marks a cached device list stale (the next query fetches a new snapshot); no-op when not cached.
    pub async fn mark_remote_device_list_stale(&self, user_id: &str) -> Result<()> {
        on_writer!(self, |pool| {
            sqlx::query("UPDATE remote_device_lists SET stale = TRUE WHERE user_id = $1")
                .bind(user_id)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Forgets the cached device list of a remote user no local user shares a room with any more.
    pub async fn forget_remote_device_list(&self, user_id: &str) -> Result<()> {
        on_writer!(self, |pool| {
            sqlx::query("DELETE FROM remote_device_lists WHERE user_id = $1")
                .bind(user_id)
                .execute(pool)
                .await?;
        });
        Ok(())
    }
}
