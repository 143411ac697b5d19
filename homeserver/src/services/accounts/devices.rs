//! Devices of the logged-in user: list, look up, rename, delete (deleting needs UIA, done by the caller through
//! [`AccountsService::authenticate_user`]).

use std::time::{Duration, Instant};

use hearth_client_api::MatrixError;
use hearth_types::UserId;

use super::{AccountsService, Result};
use crate::storage::{Device, StorageError};

/// A device's `last_seen_ts`/`last_seen_ip` is written at most this often (a database write per request would
/// cost more than the request).
pub const DEVICE_SEEN_INTERVAL: Duration = Duration::from_secs(60);
/// Above this many remembered devices, entries older than the interval are swept out.
const SEEN_SWEEP_ABOVE: usize = 50_000;

impl AccountsService {
    /// Notes that a device made an authenticated request from `ip` at `now_ms`: records it in storage when the
    /// device's last write is older than [`DEVICE_SEEN_INTERVAL`] (so at most once a minute per device, and
    /// after a restart on the first request). The write happens in the background; a failure is logged.
    pub fn device_seen(&self, user_id: &UserId, device_id: &str, ip: String, now_ms: i64) {
        let now = Instant::now();
        {
            let mut seen = self
                .seen
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let key = (user_id.as_str().to_owned(), device_id.to_owned());
            if seen
                .get(&key)
                .is_some_and(|last| now.saturating_duration_since(*last) < DEVICE_SEEN_INTERVAL)
            {
                return;
            }
            if seen.len() > SEEN_SWEEP_ABOVE {
                seen.retain(|_, last| now.saturating_duration_since(*last) < DEVICE_SEEN_INTERVAL);
            }
            seen.insert(key, now);
        }
        let storage = self.storage.clone();
        let (user_id, device_id) = (user_id.as_str().to_owned(), device_id.to_owned());
        tokio::spawn(async move {
            match storage
                .record_device_seen(&user_id, &device_id, now_ms, Some(&ip))
                .await
            {
                Ok(()) | Err(StorageError::NotFound(_)) => {}
                Err(error) => {
                    tracing::warn!(%user_id, %device_id, %error, "could not record device activity")
                }
            }
        });
    }

    /// All devices of `user_id`.
    pub async fn devices(&self, user_id: &UserId) -> Result<Vec<Device>> {
        Ok(self.storage.list_devices(user_id.as_str()).await?)
    }

    /// One device; 404 `M_NOT_FOUND` if the user has no such device.
    pub async fn device(&self, user_id: &UserId, device_id: &str) -> Result<Device> {
        self.storage
            .get_device(user_id.as_str(), device_id)
            .await?
            .ok_or_else(|| device_not_found().into())
    }

    /// Renames a device (`None` leaves the name as it is, per the spec's optional field); 404 if absent.
    pub async fn rename_device(
        &self,
        user_id: &UserId,
        device_id: &str,
        display_name: Option<&str>,
    ) -> Result<()> {
        let device = self.device(user_id, device_id).await?;
        let Some(display_name) = display_name else {
            return Ok(());
        };
        if device.display_name.as_deref() == Some(display_name) {
            return Ok(());
        }
        match self
            .storage
            .set_device_display_name(user_id.as_str(), device_id, Some(display_name))
            .await
        {
            Ok(()) => Ok(()),
            Err(StorageError::NotFound(_)) => Err(device_not_found().into()),
            Err(error) => Err(error.into()),
        }
    }

    /// Deletes devices (and their tokens); unknown device IDs are ignored, as the spec asks of
    /// `/delete_devices`.
    pub async fn delete_devices(&self, user_id: &UserId, device_ids: &[String]) -> Result<()> {
        for device_id in device_ids {
            match self
                .storage
                .delete_device(user_id.as_str(), device_id)
                .await
            {
                Ok(()) | Err(StorageError::NotFound(_)) => {}
                Err(error) => return Err(error.into()),
            }
        }
        Ok(())
    }
}

fn device_not_found() -> MatrixError {
    MatrixError::not_found("Unknown device")
}
