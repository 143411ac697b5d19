//! [`E2eeError`]: a Matrix error to answer, or a storage failure logged and answered as 500.

use hearth_client_api::MatrixError;
use hearth_client_api::error::ErrorCode;

use crate::services::account_data::UserDataError;
use crate::storage::StorageError;

/// Why an end-to-end encryption operation failed; the HTTP edge answers the carried Matrix error.
#[derive(Debug)]
pub struct E2eeError(pub MatrixError);

/// Result alias of the service.
pub type Result<T, E = E2eeError> = std::result::Result<T, E>;

impl From<MatrixError> for E2eeError {
    fn from(error: MatrixError) -> Self {
        Self(error)
    }
}

impl From<StorageError> for E2eeError {
    fn from(error: StorageError) -> Self {
        tracing::error!(%error, "storage failure in the e2ee service");
        Self(MatrixError::internal())
    }
}

impl From<E2eeError> for UserDataError {
    fn from(error: E2eeError) -> Self {
        match error.0.errcode {
            ErrorCode::NotFound => UserDataError::NotFound(error.0.error),
            ErrorCode::Forbidden => UserDataError::Forbidden(error.0.error),
            _ => UserDataError::Internal(error.0.to_string()),
        }
    }
}

impl From<E2eeError> for crate::services::accounts::AccountsError {
    fn from(error: E2eeError) -> Self {
        Self::Matrix(error.0)
    }
}

/// 400 `M_INVALID_PARAM` with a message.
pub(super) fn invalid_param(message: impl Into<String>) -> E2eeError {
    E2eeError(MatrixError::new(ErrorCode::InvalidParam, message))
}

/// 400 `M_BAD_JSON` with a message.
pub(super) fn bad_json(message: impl Into<String>) -> E2eeError {
    E2eeError(MatrixError::new(ErrorCode::BadJson, message))
}

/// Parses JSON text the server stored itself; a failure means corrupt data (logged, answered as 500).
pub(super) fn parse_stored(text: &str) -> Result<serde_json::Value> {
    serde_json::from_str(text).map_err(|error| {
        tracing::error!(%error, "stored key JSON does not parse");
        E2eeError(MatrixError::internal())
    })
}
