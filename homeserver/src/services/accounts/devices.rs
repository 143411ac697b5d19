//! Devices of the logged-in user: list, look up, rename, delete (deleting needs UIA, done by the caller through
//! [`AccountsService::authenticate_user`]).

use hearth_client_api::MatrixError;
use hearth_types::UserId;

use super::{AccountsService, Result};
use crate::storage::{Device, StorageError};

impl AccountsService {
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
