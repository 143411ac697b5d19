//! [`AccountsError`]: what the accounts service answers when an operation does not succeed.

use hearth_client_api::MatrixError;
use serde_json::Value;

use crate::storage::StorageError;

/// A failed accounts operation: either user-interactive auth must continue (401 with the challenge body, which
/// carries an `errcode` only after a failed stage) or a plain Matrix error.
#[derive(Debug)]
pub enum AccountsError {
    /// Answer 401 with this body (`flows`, `params`, `session`, `completed`, optional `errcode`/`error`).
    AuthRequired(Value),
    /// Answer this error.
    Matrix(MatrixError),
}

impl From<MatrixError> for AccountsError {
    fn from(error: MatrixError) -> Self {
        AccountsError::Matrix(error)
    }
}

impl From<StorageError> for AccountsError {
    fn from(error: StorageError) -> Self {
        AccountsError::Matrix(internal(&error))
    }
}

/// Logs a server-side failure and turns it into 500 `M_UNKNOWN` without leaking details.
pub fn internal(error: &dyn std::fmt::Display) -> MatrixError {
    tracing::error!(%error, "accounts operation failed");
    MatrixError::internal()
}

/// Result alias of the accounts service.
pub type Result<T, E = AccountsError> = std::result::Result<T, E>;
