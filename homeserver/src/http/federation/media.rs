//! Federation media: `GET /_matrix/federation/v1/media/download/{mediaId}` and `/thumbnail/{mediaId}` (spec
//! v1.11), this server's own media for other servers, X-Matrix authenticated.
//!
//! The answer is `multipart/mixed` with exactly two parts: the metadata JSON (`{}`), then the content with its
//! `Content-Type` and a safe `Content-Disposition`, streamed from the file. Unknown, expired and quarantined
//! media is 404 `M_NOT_FOUND`; media of other servers is never served (the path carries no server name).

use std::collections::HashMap;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::HeaderValue;
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures_util::StreamExt;
use hearth_client_api::MatrixError;
use hearth_client_api::error::ErrorCode;
use hearth_client_api::media::disposition;
use hearth_federation::media::{DOWNLOAD_PATH, MultipartFrame, THUMBNAIL_PATH};

use super::FederationOrigin;
use crate::http::error::ApiError;
use crate::http::media::{content_body, thumbnail_request};
use crate::http::state::AppState;
use crate::services::media::{Access, Content};

/// The federation media routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(DOWNLOAD_PATH, get(download))
        .route(THUMBNAIL_PATH, get(thumbnail))
}

/// `timeout_ms`, if given, as a non-negative integer.
fn timeout_ms(query: &HashMap<String, String>) -> Result<Option<u64>, ApiError> {
    query
        .get("timeout_ms")
        .map(|value| {
            value.parse::<u64>().map_err(|_| {
                ApiError(MatrixError::new(
                    ErrorCode::InvalidParam,
                    "`timeout_ms` must be a non-negative integer",
                ))
            })
        })
        .transpose()
}

/// `GET /_matrix/federation/v1/media/download/{mediaId}`.
async fn download(
    State(state): State<AppState>,
    FederationOrigin(origin): FederationOrigin,
    Path(media_id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let wait = state.media.wait_for(timeout_ms(&query)?);
    let content = state
        .media
        .download(
            state.server_name.as_str(),
            &media_id,
            wait,
            Access::Authenticated,
        )
        .await?;
    tracing::debug!(%origin, media_id, "media served over federation");
    Ok(multipart_response(content))
}

/// `GET /_matrix/federation/v1/media/thumbnail/{mediaId}?width=…&height=…&method=…`.
async fn thumbnail(
    State(state): State<AppState>,
    FederationOrigin(origin): FederationOrigin,
    Path(media_id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let request = thumbnail_request(&query)?;
    let wait = state.media.wait_for(timeout_ms(&query)?);
    if let Some(animated) = query.get("animated")
        && animated != "true"
        && animated != "false"
    {
        return Err(ApiError(MatrixError::new(
            ErrorCode::InvalidParam,
            "`animated` must be true or false",
        )));
    }
    let content = state
        .media
        .thumbnail(
            state.server_name.as_str(),
            &media_id,
            request,
            wait,
            Access::Authenticated,
        )
        .await?;
    tracing::debug!(%origin, media_id, "thumbnail served over federation");
    Ok(multipart_response(content))
}

/// The spec's two-part answer: `{}` as metadata, then the content, streamed.
fn multipart_response(content: Content) -> Response {
    let frame = MultipartFrame::new();
    let content_type = HeaderValue::from_str(&content.content_type)
        .ok()
        .and_then(|value| value.to_str().ok().map(str::to_owned))
        .unwrap_or_else(|| "application/octet-stream".to_owned());
    let head = frame.head(
        &content_type,
        &disposition::content_disposition(&content_type, content.file_name.as_deref()),
    );
    let tail = frame.tail();
    let length = head.len() as u64 + content.size + tail.len() as u64;
    let stream =
        futures_util::stream::once(
            async move { Ok::<_, axum::Error>(axum::body::Bytes::from(head)) },
        )
        .chain(content_body(content.body).into_data_stream())
        .chain(futures_util::stream::once(async move {
            Ok(axum::body::Bytes::from(tail))
        }));
    let mut response = Body::from_stream(stream).into_response();
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&frame.content_type()) {
        headers.insert(CONTENT_TYPE, value);
    }
    headers.insert(CONTENT_LENGTH, HeaderValue::from(length));
    response
}
