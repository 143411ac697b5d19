//! [`RoomError`]: what the rooms service can refuse or fail with; the HTTP layer maps each variant
//! to the spec's `errcode`.

use crate::storage::StorageError;

/// Why a rooms-service operation failed.
#[derive(Debug, thiserror::Error)]
pub enum RoomError {
    /// The room, event or alias is unknown (or invisible to the caller): `M_NOT_FOUND`.
    #[error("{0}")]
    NotFound(String),
    /// The caller may not do this (auth rules, power levels, membership): `M_FORBIDDEN`.
    #[error("{0}")]
    Forbidden(String),
    /// The request is well-formed JSON but its content is invalid: `M_BAD_JSON`.
    #[error("{0}")]
    BadJson(String),
    /// A parameter has an invalid value: `M_INVALID_PARAM`.
    #[error("{0}")]
    InvalidParam(String),
    /// The requested room version is not supported: `M_UNSUPPORTED_ROOM_VERSION`.
    #[error("room version {0} is not supported")]
    UnsupportedRoomVersion(String),
    /// The alias is taken: `M_ROOM_IN_USE`.
    #[error("{0}")]
    RoomInUse(String),
    /// The alias exists already (`PUT /directory/room`): 409 `M_UNKNOWN`, as the spec shows.
    #[error("{0}")]
    AliasExists(String),
    /// The alias is malformed or points elsewhere: `M_BAD_ALIAS`.
    #[error("{0}")]
    BadAlias(String),
    /// A request the spec answers with 400 `M_UNKNOWN` (forgetting a room one is still in).
    #[error("{0}")]
    Unknown(String),
    /// The event would exceed the PDU size limit: `M_TOO_LARGE`.
    #[error("event too large")]
    TooLarge,
    /// Another server, asked on the user's behalf (join, invite, leave over federation), failed or refused:
    /// 502 `M_UNKNOWN` with its reason.
    #[error("{0}")]
    Remote(String),
    /// A database failure.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// A bug or corrupt stored data (an event that no longer parses, a signing failure).
    #[error("internal error: {0}")]
    Internal(String),
}

impl RoomError {
    /// An internal error from anything displayable.
    pub(crate) fn internal(error: impl std::fmt::Display) -> Self {
        Self::Internal(error.to_string())
    }
}
