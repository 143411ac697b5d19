//! Matrix errors as HTTP responses, and the fallbacks for unknown endpoints and wrong methods.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use hearth_client_api::MatrixError;

/// A [`MatrixError`] on its way out: its status and its JSON body.
///
/// The wrapper exists because neither the error type nor `IntoResponse` belongs to this crate.
#[derive(Debug)]
pub struct ApiError(pub MatrixError);

impl From<MatrixError> for ApiError {
    fn from(error: MatrixError) -> Self {
        Self(error)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.0.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (status, Json(self.0)).into_response()
    }
}

/// Any path no route matches: 404 `M_UNRECOGNIZED`, as the spec asks of unknown endpoints.
pub async fn unrecognized_endpoint() -> ApiError {
    MatrixError::unrecognized().into()
}

/// A known path with a method it does not support: 405 `M_UNRECOGNIZED`.
pub async fn method_not_allowed() -> ApiError {
    MatrixError::method_not_allowed().into()
}
