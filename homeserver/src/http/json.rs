//! [`MatrixJson`]: the request-body extractor of client endpoints, answering malformed bodies with the spec's
//! codes instead of axum's plain-text rejections.
//!
//! Not JSON at all → 400 `M_NOT_JSON`; JSON of the wrong shape → 400 `M_BAD_JSON`, or `M_MISSING_PARAM` when a
//! required field is absent; a body over the limit → 413 `M_TOO_LARGE`. An empty body reads as `{}`, because
//! clients send bodiless `POST`s to endpoints whose fields are all optional (`/logout`, `/register?kind=guest`).
//! The `Content-Type` header is not checked: clients and bots omit or mislabel it, and Synapse accepts that.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use hearth_client_api::MatrixError;
use hearth_client_api::error::ErrorCode;
use serde::de::DeserializeOwned;

use super::error::ApiError;

/// A JSON request body parsed into `T`.
#[derive(Clone, Debug)]
pub struct MatrixJson<T>(pub T);

/// Parses a body as the extractor does; shared with handlers that read the body themselves.
pub fn parse_body<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, MatrixError> {
    let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        bytes
    };
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|error| {
        MatrixError::new(ErrorCode::NotJson, format!("Body is not JSON: {error}"))
    })?;
    serde_json::from_value(value).map_err(|error| {
        let message = error.to_string();
        let code = if message.starts_with("missing field") {
            ErrorCode::MissingParam
        } else {
            ErrorCode::BadJson
        };
        MatrixError::new(code, message)
    })
}

/// Reads a request body within the router's limit: 413 `M_TOO_LARGE` past it, `M_NOT_JSON` when unreadable.
pub async fn read_body<S: Send + Sync>(request: Request, state: &S) -> Result<Bytes, MatrixError> {
    Bytes::from_request(request, state)
        .await
        .map_err(|rejection| {
            if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                MatrixError::too_large("Request body is too large")
            } else {
                MatrixError::new(ErrorCode::NotJson, "Cannot read the request body")
            }
        })
}

impl<S, T> FromRequest<S> for MatrixJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = read_body(request, state).await?;
        Ok(MatrixJson(parse_body(&bytes)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    struct Body {
        #[allow(dead_code)]
        name: String,
    }

    #[test]
    fn non_json_is_not_json() {
        let error = parse_body::<Body>(b"{nope").unwrap_err();
        assert_eq!(error.errcode, ErrorCode::NotJson);
        assert_eq!(error.status, 400);
    }

    #[test]
    fn wrong_type_is_bad_json_and_missing_field_is_missing_param() {
        let error = parse_body::<Body>(br#"{"name": 3}"#).unwrap_err();
        assert_eq!(error.errcode, ErrorCode::BadJson);
        let error = parse_body::<Body>(b"{}").unwrap_err();
        assert_eq!(error.errcode, ErrorCode::MissingParam);
    }

    #[test]
    fn empty_body_reads_as_empty_object() {
        let value: serde_json::Value = parse_body(b"  ").unwrap();
        assert_eq!(value, serde_json::json!({}));
    }
}
