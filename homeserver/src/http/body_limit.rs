//! Request body limits answered as Matrix errors.
//!
//! Requests that declare an oversized `Content-Length` are refused here with 413 `M_TOO_LARGE` before any
//! handler runs; bodies without a declared length are bounded by axum's `DefaultBodyLimit` when extracted.

use axum::extract::{Request, State};
use axum::http::header::CONTENT_LENGTH;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hearth_client_api::MatrixError;

use super::error::ApiError;

/// Middleware: 413 `M_TOO_LARGE` when `Content-Length` exceeds `limit` bytes.
pub async fn reject_declared_oversized_body(
    State(limit): State<u64>,
    request: Request,
    next: Next,
) -> Response {
    let declared = request
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    match declared {
        Some(length) if length > limit => ApiError(MatrixError::too_large(format!(
            "Request body of {length} bytes exceeds the limit of {limit} bytes"
        )))
        .into_response(),
        _ => next.run(request).await,
    }
}
