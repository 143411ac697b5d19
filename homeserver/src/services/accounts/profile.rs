//! Profiles of local users: display name and avatar URL.
//!
//! Changing them does not yet update the user's `m.room.member` events: that propagation belongs to the rooms
//! service, which should call into [`AccountsService::set_displayname`]'s caller (the HTTP handler) once it
//! exists.

use hearth_client_api::MatrixError;
use hearth_client_api::error::ErrorCode;
use hearth_types::UserId;

use super::{AccountsService, Result};

/// Longest display name or avatar URL accepted, in bytes (Synapse's bounds are 256 and 1000; one limit that
/// keeps member events well below the event size limit).
pub const MAX_PROFILE_FIELD_BYTES: usize = 1000;

/// A user's public profile.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Profile {
    /// Display name, if set.
    pub displayname: Option<String>,
    /// `mxc://` avatar URL, if set.
    pub avatar_url: Option<String>,
}

impl AccountsService {
    /// The profile of a local user; 404 `M_NOT_FOUND` for unknown, deactivated and remote users.
    pub async fn profile(&self, user_id: &UserId) -> Result<Profile> {
        if user_id.server_name() != &self.server_name {
            return Err(MatrixError::not_found("Profile not found").into());
        }
        match self.storage.get_user(user_id.as_str()).await? {
            Some(user) if !user.deactivated => Ok(Profile {
                displayname: user.displayname,
                avatar_url: user.avatar_url,
            }),
            _ => Err(MatrixError::not_found("Profile not found").into()),
        }
    }

    /// Sets (or clears, with `None`) the display name of `target` on behalf of `requester`.
    pub async fn set_displayname(
        &self,
        requester: &UserId,
        is_admin: bool,
        target: &UserId,
        displayname: Option<&str>,
    ) -> Result<()> {
        self.check_profile_write(requester, is_admin, target, displayname)
            .await?;
        Ok(self
            .storage
            .set_displayname(target.as_str(), displayname)
            .await?)
    }

    /// Sets (or clears, with `None`) the avatar URL of `target` on behalf of `requester`.
    pub async fn set_avatar_url(
        &self,
        requester: &UserId,
        is_admin: bool,
        target: &UserId,
        avatar_url: Option<&str>,
    ) -> Result<()> {
        self.check_profile_write(requester, is_admin, target, avatar_url)
            .await?;
        Ok(self
            .storage
            .set_avatar_url(target.as_str(), avatar_url)
            .await?)
    }

    async fn check_profile_write(
        &self,
        requester: &UserId,
        is_admin: bool,
        target: &UserId,
        value: Option<&str>,
    ) -> Result<()> {
        if requester != target && !is_admin {
            return Err(MatrixError::new(
                ErrorCode::Forbidden,
                "You may only change your own profile",
            )
            .into());
        }
        if value.is_some_and(|value| value.len() > MAX_PROFILE_FIELD_BYTES) {
            return Err(MatrixError::new(
                ErrorCode::InvalidParam,
                format!("Profile fields are limited to {MAX_PROFILE_FIELD_BYTES} bytes"),
            )
            .into());
        }
        self.profile(target).await.map(|_| ())
    }
}
