//! [`FederationError`] as the spec's error responses.

use hearth_client_api::MatrixError;
use hearth_client_api::error::ErrorCode;

use crate::http::error::ApiError;
use crate::services::federation::FederationError;

impl From<FederationError> for ApiError {
    fn from(error: FederationError) -> Self {
        let (code, status) = match &error {
            FederationError::NotFound(_) => (ErrorCode::NotFound, 404),
            FederationError::Forbidden(_) => (ErrorCode::Forbidden, 403),
            FederationError::BadJson(_) => (ErrorCode::BadJson, 400),
            FederationError::InvalidParam(_) => (ErrorCode::InvalidParam, 400),
            FederationError::IncompatibleRoomVersion(_) => {
                (ErrorCode::IncompatibleRoomVersion, 400)
            }
            FederationError::UnsupportedRoomVersion(_) => (ErrorCode::UnsupportedRoomVersion, 400),
            FederationError::Internal(_) => {
                tracing::error!(%error, "federation request failed");
                return ApiError(MatrixError::internal());
            }
        };
        let mut matrix = MatrixError::new(code, error.to_string()).with_status(status);
        if let FederationError::IncompatibleRoomVersion(version) = &error {
            matrix = matrix.with_field("room_version", version.clone());
        }
        ApiError(matrix)
    }
}
