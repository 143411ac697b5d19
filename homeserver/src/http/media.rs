//! Content repository endpoints: uploads under `/_matrix/media/{v3,r0,v1}`, the authenticated downloads,
//! thumbnails, config and URL previews under `/_matrix/client/v1/media`, and the deprecated unauthenticated
//! `/_matrix/media/{v3,r0}/download|thumbnail|config|preview_url`.
//!
//! Uploads stream their body to the media service, so these routes sit outside the JSON body limit of the other
//! client routes; their own limit is `[media] max_upload_bytes`. Every served file carries a safe
//! `Content-Disposition` (`attachment` unless the type is on the spec's inline list), `nosniff` and the spec's
//! sandboxing `Content-Security-Policy`.

use std::collections::HashMap;

use axum::Json;
use axum::Router;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::header::{
    CONTENT_DISPOSITION, CONTENT_LENGTH, CONTENT_SECURITY_POLICY, CONTENT_TYPE, HeaderMap,
    HeaderName, HeaderValue, X_CONTENT_TYPE_OPTIONS,
};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use hearth_client_api::MatrixError;
use hearth_client_api::error::ErrorCode;
use hearth_client_api::media::thumbnail::Method;
use hearth_client_api::media::{ConfigResponse, CreateResponse, UploadResponse, disposition};
use serde_json::{Value, json};
use tokio_util::io::ReaderStream;

use super::auth::Authenticated;
use super::error::ApiError;
use super::state::AppState;
use crate::services::media::{Access, Content, ContentBody, MediaError};

/// `Cross-Origin-Resource-Policy`, which the spec asks for on served media (v1.4).
const CROSS_ORIGIN_RESOURCE_POLICY: HeaderName =
    HeaderName::from_static("cross-origin-resource-policy");

impl From<MediaError> for ApiError {
    fn from(error: MediaError) -> Self {
        ApiError(error.to_matrix())
    }
}

/// The media routes of the client listener.
pub fn client_routes() -> Router<AppState> {
    let mut router = Router::new()
        .route("/_matrix/media/v1/create", post(create))
        .route(
            "/_matrix/media/v3/upload/{server_name}/{media_id}",
            put(upload_pending),
        )
        .route("/_matrix/client/v1/media/config", get(config))
        .route(
            "/_matrix/client/v1/media/download/{server_name}/{media_id}",
            get(download),
        )
        .route(
            "/_matrix/client/v1/media/download/{server_name}/{media_id}/{file_name}",
            get(download_as),
        )
        .route(
            "/_matrix/client/v1/media/thumbnail/{server_name}/{media_id}",
            get(thumbnail),
        )
        .route("/_matrix/client/v1/media/preview_url", get(preview_url));
    for version in ["v3", "r0", "v1"] {
        router = router.route(&format!("/_matrix/media/{version}/upload"), post(upload));
    }
    router
        .merge(legacy_routes())
        .method_not_allowed_fallback(super::error::method_not_allowed)
}

/// The deprecated unauthenticated endpoints; also served on the federation listener, where servers that predate
/// the federation media endpoints fetch media (`?allow_remote=false`).
pub fn legacy_routes() -> Router<AppState> {
    let mut router = Router::new();
    for version in ["v3", "r0"] {
        let prefix = format!("/_matrix/media/{version}");
        router = router
            .route(
                &format!("{prefix}/download/{{server_name}}/{{media_id}}"),
                get(legacy_download),
            )
            .route(
                &format!("{prefix}/download/{{server_name}}/{{media_id}}/{{file_name}}"),
                get(legacy_download_as),
            )
            .route(
                &format!("{prefix}/thumbnail/{{server_name}}/{{media_id}}"),
                get(legacy_thumbnail),
            )
            .route(&format!("{prefix}/config"), get(config))
            .route(&format!("{prefix}/preview_url"), get(preview_url));
    }
    router
}

/// Query parameters, parsed once; the last value of a repeated key wins.
struct Query(HashMap<String, String>);

impl Query {
    fn parse(raw: Option<&str>) -> Query {
        Query(
            url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
                .into_owned()
                .collect(),
        )
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    /// An optional non-negative integer parameter.
    fn number(&self, key: &str) -> Result<Option<u64>, MatrixError> {
        self.get(key)
            .map(|value| {
                value.parse::<u64>().map_err(|_| {
                    MatrixError::new(
                        ErrorCode::InvalidParam,
                        format!("`{key}` must be a non-negative integer"),
                    )
                })
            })
            .transpose()
    }

    /// An optional boolean parameter (`true`/`false`).
    fn boolean(&self, key: &str) -> Result<Option<bool>, MatrixError> {
        self.get(key)
            .map(|value| match value {
                "true" => Ok(true),
                "false" => Ok(false),
                _ => Err(MatrixError::new(
                    ErrorCode::InvalidParam,
                    format!("`{key}` must be true or false"),
                )),
            })
            .transpose()
    }
}

/// Refuses guests (the spec does not list the media upload endpoints among those guests may use).
fn refuse_guest(auth: &Authenticated) -> Result<(), ApiError> {
    if auth.is_guest {
        return Err(MatrixError::new(
            ErrorCode::GuestAccessForbidden,
            "Guest accounts cannot upload media",
        )
        .into());
    }
    Ok(())
}

/// 413 before reading a body whose declared length is over the limit.
fn refuse_declared_oversize(headers: &HeaderMap, limit: u64) -> Result<(), ApiError> {
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    match declared {
        Some(length) if length > limit => Err(MediaError::TooLarge { limit }.into()),
        _ => Ok(()),
    }
}

fn header_str(headers: &HeaderMap, name: HeaderName) -> Option<&str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

/// `POST /_matrix/media/{v3,r0,v1}/upload?filename=…`.
async fn upload(
    State(state): State<AppState>,
    auth: Authenticated,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Body,
) -> Result<Json<UploadResponse>, ApiError> {
    refuse_guest(&auth)?;
    refuse_declared_oversize(&headers, state.media.max_upload_bytes())?;
    let query = Query::parse(query.as_deref());
    let content_uri = state
        .media
        .upload(
            &auth.user_id,
            header_str(&headers, CONTENT_TYPE),
            query.get("filename"),
            body.into_data_stream(),
        )
        .await?;
    Ok(Json(UploadResponse { content_uri }))
}

/// `POST /_matrix/media/v1/create`.
async fn create(
    State(state): State<AppState>,
    auth: Authenticated,
) -> Result<Json<CreateResponse>, ApiError> {
    refuse_guest(&auth)?;
    let (content_uri, expires) = state.media.create(&auth.user_id).await?;
    Ok(Json(CreateResponse {
        content_uri,
        unused_expires_at: Some(expires),
    }))
}

/// `PUT /_matrix/media/v3/upload/{serverName}/{mediaId}?filename=…`.
async fn upload_pending(
    State(state): State<AppState>,
    auth: Authenticated,
    Path((server_name, media_id)): Path<(String, String)>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    refuse_guest(&auth)?;
    refuse_declared_oversize(&headers, state.media.max_upload_bytes())?;
    let query = Query::parse(query.as_deref());
    state
        .media
        .upload_pending(
            &auth.user_id,
            &server_name,
            &media_id,
            header_str(&headers, CONTENT_TYPE),
            query.get("filename"),
            body.into_data_stream(),
        )
        .await?;
    Ok(Json(json!({})))
}

/// `GET …/media/config` (authenticated on both paths, as in the spec).
async fn config(State(state): State<AppState>, _auth: Authenticated) -> Json<ConfigResponse> {
    Json(ConfigResponse {
        upload_size: Some(state.media.max_upload_bytes()),
    })
}

/// `GET /_matrix/client/v1/media/download/{serverName}/{mediaId}`.
async fn download(
    State(state): State<AppState>,
    _auth: Authenticated,
    Path((server_name, media_id)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    serve_download(
        &state,
        &server_name,
        &media_id,
        None,
        query,
        Access::Authenticated,
    )
    .await
}

/// `GET /_matrix/client/v1/media/download/{serverName}/{mediaId}/{fileName}`.
async fn download_as(
    State(state): State<AppState>,
    _auth: Authenticated,
    Path((server_name, media_id, file_name)): Path<(String, String, String)>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    serve_download(
        &state,
        &server_name,
        &media_id,
        Some(file_name),
        query,
        Access::Authenticated,
    )
    .await
}

/// `GET /_matrix/media/{v3,r0}/download/{serverName}/{mediaId}` (deprecated, no authentication).
async fn legacy_download(
    State(state): State<AppState>,
    Path((server_name, media_id)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    serve_download(&state, &server_name, &media_id, None, query, Access::Legacy).await
}

/// `GET /_matrix/media/{v3,r0}/download/{serverName}/{mediaId}/{fileName}` (deprecated).
async fn legacy_download_as(
    State(state): State<AppState>,
    Path((server_name, media_id, file_name)): Path<(String, String, String)>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    serve_download(
        &state,
        &server_name,
        &media_id,
        Some(file_name),
        query,
        Access::Legacy,
    )
    .await
}

async fn serve_download(
    state: &AppState,
    server_name: &str,
    media_id: &str,
    file_name: Option<String>,
    query: Option<String>,
    access: Access,
) -> Result<Response, ApiError> {
    let query = Query::parse(query.as_deref());
    let wait = state.media.wait_for(query.number("timeout_ms")?);
    refuse_remote_if_asked(state, server_name, &query)?;
    let mut content = state
        .media
        .download(server_name, media_id, wait, access)
        .await?;
    if file_name.is_some() {
        content.file_name = file_name;
    }
    Ok(media_response(content))
}

/// `allow_remote=false` (legacy endpoints): answer 404 instead of fetching another server's media.
fn refuse_remote_if_asked(
    state: &AppState,
    server_name: &str,
    query: &Query,
) -> Result<(), ApiError> {
    if query.boolean("allow_remote")? == Some(false) && server_name != state.server_name.as_str() {
        return Err(MediaError::NotFound("remote media was not asked for".to_owned()).into());
    }
    Ok(())
}

/// `GET /_matrix/client/v1/media/thumbnail/{serverName}/{mediaId}`.
async fn thumbnail(
    State(state): State<AppState>,
    _auth: Authenticated,
    Path((server_name, media_id)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    serve_thumbnail(
        &state,
        &server_name,
        &media_id,
        query,
        Access::Authenticated,
    )
    .await
}

/// `GET /_matrix/media/{v3,r0}/thumbnail/{serverName}/{mediaId}` (deprecated, no authentication).
async fn legacy_thumbnail(
    State(state): State<AppState>,
    Path((server_name, media_id)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    serve_thumbnail(&state, &server_name, &media_id, query, Access::Legacy).await
}

async fn serve_thumbnail(
    state: &AppState,
    server_name: &str,
    media_id: &str,
    query: Option<String>,
    access: Access,
) -> Result<Response, ApiError> {
    let query = Query::parse(query.as_deref());
    let request = thumbnail_request(&query)?;
    let wait = state.media.wait_for(query.number("timeout_ms")?);
    refuse_remote_if_asked(state, server_name, &query)?;
    query.boolean("animated")?;
    let content = state
        .media
        .thumbnail(server_name, media_id, request, wait, access)
        .await?;
    Ok(media_response(content))
}

/// `width`, `height` (required, positive) and `method` (`crop` or `scale`, default `scale`).
pub(crate) fn thumbnail_request(
    query: &impl ThumbnailQuery,
) -> Result<(u32, u32, Method), MatrixError> {
    let dimension = |key: &str| -> Result<u32, MatrixError> {
        let value = query
            .value(key)
            .ok_or_else(|| MatrixError::new(ErrorCode::MissingParam, format!("Missing `{key}`")))?;
        value.parse::<u32>().ok().filter(|n| *n > 0).ok_or_else(|| {
            MatrixError::new(
                ErrorCode::InvalidParam,
                format!("`{key}` must be a positive integer"),
            )
        })
    };
    let method = match query.value("method") {
        None => Method::Scale,
        Some(value) => Method::parse(value).ok_or_else(|| {
            MatrixError::new(ErrorCode::InvalidParam, "`method` must be crop or scale")
        })?,
    };
    Ok((dimension("width")?, dimension("height")?, method))
}

/// Lets the federation thumbnail endpoint share [`thumbnail_request`].
pub(crate) trait ThumbnailQuery {
    /// The value of a query parameter.
    fn value(&self, key: &str) -> Option<&str>;
}

impl ThumbnailQuery for Query {
    fn value(&self, key: &str) -> Option<&str> {
        self.get(key)
    }
}

impl ThumbnailQuery for HashMap<String, String> {
    fn value(&self, key: &str) -> Option<&str> {
        self.get(key).map(String::as_str)
    }
}

/// `GET …/media/preview_url?url=…&ts=…` (authenticated on both paths).
async fn preview_url(
    State(state): State<AppState>,
    _auth: Authenticated,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let query = Query::parse(query.as_deref());
    let url = query
        .get("url")
        .ok_or_else(|| MatrixError::new(ErrorCode::MissingParam, "Missing `url`"))?;
    query.number("ts")?;
    Ok(Json(state.url_previews.preview(url).await?))
}

/// The headers every piece of served media carries.
pub(crate) fn safety_headers(headers: &mut HeaderMap, content_type: &str, file_name: Option<&str>) {
    let content_type = HeaderValue::from_str(content_type)
        .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"));
    let disposition = disposition::content_disposition(
        content_type.to_str().unwrap_or("application/octet-stream"),
        file_name,
    );
    headers.insert(CONTENT_TYPE, content_type);
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        headers.insert(CONTENT_DISPOSITION, value);
    }
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(
        CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(disposition::CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        CROSS_ORIGIN_RESOURCE_POLICY,
        HeaderValue::from_static("cross-origin"),
    );
}

/// The body of served media: the file streamed, or generated bytes.
pub(crate) fn content_body(body: ContentBody) -> Body {
    match body {
        ContentBody::File(file) => Body::from_stream(ReaderStream::new(file)),
        ContentBody::Bytes(bytes) => Body::from(bytes),
    }
}

/// A 200 response with the content and its safety headers.
fn media_response(content: Content) -> Response {
    let mut response = content_body(content.body).into_response();
    let headers = response.headers_mut();
    safety_headers(headers, &content.content_type, content.file_name.as_deref());
    headers.insert(CONTENT_LENGTH, HeaderValue::from(content.size));
    response
}
