//! Devices of local users: one per login session, the unit that owns access tokens (and its
//! end-to-end keys and to-device messages). Deleting a device deletes those through the foreign keys.

use super::device_lists::record_device_list_change;
use super::users::expect_one_row;
use super::{Result, Storage, StorageError, in_write_tx, on_reader, on_writer};

/// A device as stored.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Device {
    /// Owner's full user ID.
    pub user_id: String,
    /// Device ID, unique per user (chosen by the client or generated at login).
    pub device_id: String,
    /// Human-readable name shown in device lists.
    pub display_name: Option<String>,
    /// When the device was created (ms since the epoch).
    pub created_ts: i64,
    /// Last time the device used the API, if recorded.
    pub last_seen_ts: Option<i64>,
    /// Client IP address of that last use.
    pub last_seen_ip: Option<String>,
}

const DEVICE_COLUMNS: &str =
    "user_id, device_id, display_name, created_ts, last_seen_ts, last_seen_ip";

impl Storage {
    /// Creates a device. `Conflict("device")` if the user already has this device ID,
    /// `NotFound("user")` if the user does not exist.
    pub async fn create_device(
        &self,
        user_id: &str,
        device_id: &str,
        display_name: Option<&str>,
        created_ts: i64,
    ) -> Result<Device> {
        let sql = format!(
            "INSERT INTO devices (user_id, device_id, display_name, created_ts) \
             VALUES ($1, $2, $3, $4) RETURNING {DEVICE_COLUMNS}"
        );
        on_writer!(self, |pool| {
            sqlx::query_as(&sql)
                .bind(user_id)
                .bind(device_id)
                .bind(display_name)
                .bind(created_ts)
                .fetch_one(pool)
                .await
                .map_err(|e| StorageError::from_write(e, "device", "user"))
        })
    }

    /// Looks up one device of a user.
    pub async fn get_device(&self, user_id: &str, device_id: &str) -> Result<Option<Device>> {
        let sql =
            format!("SELECT {DEVICE_COLUMNS} FROM devices WHERE user_id = $1 AND device_id = $2");
        on_reader!(self, |pool| {
            Ok(sqlx::query_as(&sql)
                .bind(user_id)
                .bind(device_id)
                .fetch_optional(pool)
                .await?)
        })
    }

    /// All devices of a user, ordered by device ID (empty for unknown users).
    pub async fn list_devices(&self, user_id: &str) -> Result<Vec<Device>> {
        let sql =
            format!("SELECT {DEVICE_COLUMNS} FROM devices WHERE user_id = $1 ORDER BY device_id");
        on_reader!(self, |pool| {
            Ok(sqlx::query_as(&sql).bind(user_id).fetch_all(pool).await?)
        })
    }

    /// Renames a device (or clears its name). `NotFound("device")` if absent.
    pub async fn set_device_display_name(
        &self,
        user_id: &str,
        device_id: &str,
        display_name: Option<&str>,
    ) -> Result<()> {
        let affected = on_writer!(self, |pool| {
            sqlx::query(
                "UPDATE devices SET display_name = $3 WHERE user_id = $1 AND device_id = $2",
            )
            .bind(user_id)
            .bind(device_id)
            .bind(display_name)
            .execute(pool)
            .await?
            .rows_affected()
        });
        expect_one_row(affected, "device")
    }

    /// Records that the device used the API at `seen_ts` from `ip`. `NotFound("device")` if
    /// absent. Callers should rate-limit this (e.g. once a minute per device): it is a write.
    pub async fn record_device_seen(
        &self,
        user_id: &str,
        device_id: &str,
        seen_ts: i64,
        ip: Option<&str>,
    ) -> Result<()> {
        let affected = on_writer!(self, |pool| {
            sqlx::query(
                "UPDATE devices SET last_seen_ts = $3, last_seen_ip = $4 \
                 WHERE user_id = $1 AND device_id = $2",
            )
            .bind(user_id)
            .bind(device_id)
            .bind(seen_ts)
            .bind(ip)
            .execute(pool)
            .await?
            .rows_affected()
        });
        expect_one_row(affected, "device")
    }

    /// Deletes a device and, through the foreign keys, its access tokens, end-to-end keys and queued
    /// to-device messages; records the change on the device-list stream (other users' clients stop
    /// encrypting for it). `NotFound("device")` if absent.
    pub async fn delete_device(&self, user_id: &str, device_id: &str) -> Result<()> {
        let affected = in_write_tx!(self, |tx| {
            let affected = sqlx::query("DELETE FROM devices WHERE user_id = $1 AND device_id = $2")
                .bind(user_id)
                .bind(device_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if affected > 0 {
                record_device_list_change!(tx, user_id, device_id);
            }
            affected
        });
        expect_one_row(affected, "device")
    }
}
