//! The safety net behind "every error leaves as a Matrix error": axum's own extractor rejections (a malformed
//! query string, an undecodable path segment, a wrong content type) answer in plain text. This middleware turns
//! any error response that is not JSON into `{"errcode", "error"}` with the same status, keeping axum's message.

use axum::body::to_bytes;
use axum::extract::Request;
use axum::http::header::CONTENT_TYPE;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hearth_client_api::MatrixError;
use hearth_client_api::error::ErrorCode;

use super::error::ApiError;

/// Longest plain-text error body carried over into the Matrix error's message.
const MAX_MESSAGE_BYTES: usize = 4096;

/// Middleware: rewrites non-JSON error responses (status ≥ 400) as Matrix errors.
pub async fn matrix_errors_only(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/json"));
    if status.as_u16() < 400 || is_json {
        return response;
    }
    let message = match to_bytes(response.into_body(), MAX_MESSAGE_BYTES).await {
        Ok(bytes) if !bytes.is_empty() => String::from_utf8_lossy(&bytes).into_owned(),
        _ => status.canonical_reason().unwrap_or("Error").to_owned(),
    };
    ApiError(matrix_error_for(status.as_u16(), message)).into_response()
}

/// The Matrix error for a plain-text rejection with this status.
fn matrix_error_for(status: u16, message: String) -> MatrixError {
    let code = match status {
        400 if message.contains("missing field") => ErrorCode::MissingParam,
        400 => ErrorCode::InvalidParam,
        401 => ErrorCode::MissingToken,
        404 | 405 => ErrorCode::Unrecognized,
        413 => ErrorCode::TooLarge,
        415 => ErrorCode::NotJson,
        422 => ErrorCode::BadJson,
        429 => ErrorCode::LimitExceeded,
        _ => ErrorCode::Unknown,
    };
    MatrixError::new(code, message).with_status(status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_rejections_map_to_matrix_codes_keeping_status_and_message() {
        let error = matrix_error_for(
            400,
            "Failed to deserialize query string: invalid digit".into(),
        );
        assert_eq!(
            (error.status, error.errcode),
            (400, ErrorCode::InvalidParam)
        );
        assert!(error.error.contains("invalid digit"));
        let error = matrix_error_for(400, "missing field `username`".into());
        assert_eq!(error.errcode, ErrorCode::MissingParam);
        assert_eq!(
            matrix_error_for(415, String::new()).errcode,
            ErrorCode::NotJson
        );
        assert_eq!(matrix_error_for(503, String::new()).status, 503);
    }
}
