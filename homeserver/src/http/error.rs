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
        // A refusal for rate limiting also carries the standard header (whole seconds, rounded up).
        let retry_after = self
            .0
            .extra
            .get("retry_after_ms")
            .and_then(|ms| ms.as_u64());
        let mut response = (status, Json(self.0)).into_response();
        if let Some(ms) = retry_after {
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from(ms.div_ceil(1000)),
            );
        }
        response
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
