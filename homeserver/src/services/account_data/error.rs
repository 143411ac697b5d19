//! [`UserDataError`]: what the per-user data services (account data, tags, filters, push rules, receipts, typing,
//! presence, sync) can refuse or fail with; the HTTP layer maps each variant to the spec's `errcode` once.

use crate::storage::StorageError;

/// Why a per-user data operation failed.
#[derive(Debug, thiserror::Error)]
pub enum UserDataError {
    /// The entry, room, event, filter or rule does not exist: `M_NOT_FOUND`.
    #[error("{0}")]
    NotFound(String),
    /// The caller may not do this (another user's data, a room they are not in): `M_FORBIDDEN`.
    #[error("{0}")]
    Forbidden(String),
    /// Well-formed JSON with invalid content: `M_BAD_JSON`.
    #[error("{0}")]
    BadJson(String),
    /// A parameter has an invalid value: `M_INVALID_PARAM`.
    #[error("{0}")]
    InvalidParam(String),
    /// The type is managed by the server and cannot be set by clients: 405 `M_BAD_JSON`.
    #[error("{0}")]
    ServerManaged(String),
    /// A database failure.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// A bug or corrupt stored data.
    #[error("internal error: {0}")]
    Internal(String),
}

impl UserDataError {
    /// An internal error from anything displayable.
    pub(crate) fn internal(error: impl std::fmt::Display) -> Self {
        Self::Internal(error.to_string())
    }
}

impl From<crate::services::rooms::RoomError> for UserDataError {
    fn from(error: crate::services::rooms::RoomError) -> Self {
        use crate::services::rooms::RoomError;
        match error {
            RoomError::NotFound(message) => Self::NotFound(message),
            RoomError::Forbidden(message) => Self::Forbidden(message),
            RoomError::BadJson(message) => Self::BadJson(message),
            RoomError::InvalidParam(message) => Self::InvalidParam(message),
            RoomError::Storage(error) => Self::Storage(error),
            other => Self::Internal(other.to_string()),
        }
    }
}
