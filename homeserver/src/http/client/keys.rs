//! End-to-end encryption key endpoints: `POST /keys/upload`, `POST /keys/query`, `POST /keys/claim`,
//! `GET /keys/changes`, `POST /keys/device_signing/upload` (UIA when it replaces keys) and
//! `POST /keys/signatures/upload`; and the mapping of the e2ee service's errors.

use axum::Json;
use axum::Router;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use hearth_client_api::MatrixError;
use hearth_client_api::error::ErrorCode;
use hearth_client_api::keys::requests::UploadSigningKeysRequest;
use hearth_types::DeviceId;
use serde_json::{Map, Value, json};

use super::v3_and_r0;
use crate::http::auth::Authenticated;
use crate::http::error::ApiError;
use crate::http::json::MatrixJson;
use crate::http::state::AppState;
use crate::services::e2ee::{ClaimRequest, E2eeError, QueryRequest, UploadRequest, Window};
use crate::services::sync::token::SyncToken;

/// The key routes.
pub fn routes() -> Router<AppState> {
    let router = v3_and_r0(Router::new(), "/keys/upload", post(upload));
    let router = v3_and_r0(router, "/keys/query", post(query));
    let router = v3_and_r0(router, "/keys/claim", post(claim));
    let router = v3_and_r0(router, "/keys/changes", get(changes));
    let router = v3_and_r0(
        router,
        "/keys/device_signing/upload",
        post(upload_signing_keys),
    );
    v3_and_r0(router, "/keys/signatures/upload", post(upload_signatures))
}

impl From<E2eeError> for ApiError {
    fn from(error: E2eeError) -> Self {
        ApiError(error.0)
    }
}

impl IntoResponse for E2eeError {
    fn into_response(self) -> Response {
        ApiError(self.0).into_response()
    }
}

/// The caller's device; key endpoints need one (tokens of users always have it).
pub(super) fn caller_device(auth: &Authenticated) -> Result<&DeviceId, ApiError> {
    auth.device_id.as_ref().ok_or_else(|| {
        ApiError(MatrixError::new(
            ErrorCode::InvalidParam,
            "This access token has no device",
        ))
    })
}

/// `POST /keys/upload`.
async fn upload(
    State(state): State<AppState>,
    auth: Authenticated,
    MatrixJson(body): MatrixJson<UploadRequest>,
) -> Result<Json<Value>, ApiError> {
    let device = caller_device(&auth)?;
    let counts = state.e2ee.upload_keys(&auth.user_id, device, &body).await?;
    Ok(Json(json!({ "one_time_key_counts": counts })))
}

/// `POST /keys/query`.
async fn query(
    State(state): State<AppState>,
    auth: Authenticated,
    MatrixJson(body): MatrixJson<QueryRequest>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(Value::Object(
        state.e2ee.query_keys(auth.user_id.as_str(), &body).await?,
    )))
}

/// `POST /keys/claim`.
async fn claim(
    State(state): State<AppState>,
    _auth: Authenticated,
    MatrixJson(body): MatrixJson<ClaimRequest>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(Value::Object(state.e2ee.claim_keys(&body).await?)))
}

/// `GET /keys/changes?from=…&to=…` (two `/sync` tokens).
async fn changes(
    State(state): State<AppState>,
    auth: Authenticated,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let mut from = None;
    let mut to = None;
    for (key, value) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        let token = || {
            SyncToken::parse(&value).ok_or_else(|| {
                ApiError(MatrixError::new(
                    ErrorCode::InvalidParam,
                    format!("`{key}` is not a sync token of this server"),
                ))
            })
        };
        match key.as_ref() {
            "from" => from = Some(token()?),
            "to" => to = Some(token()?),
            _ => {}
        }
    }
    let (Some(from), Some(to)) = (from, to) else {
        return Err(ApiError(MatrixError::new(
            ErrorCode::MissingParam,
            "`from` and `to` are required",
        )));
    };
    let delta = state
        .e2ee
        .device_list_delta(
            &auth.user_id,
            Window {
                since_events: from.events,
                upto_events: to.events,
                since_lists: from.device_lists,
                upto_lists: to.device_lists,
            },
        )
        .await?;
    Ok(Json(
        json!({ "changed": delta.changed, "left": delta.left }),
    ))
}

/// `POST /keys/device_signing/upload`: user-interactive auth unless this is the first upload or repeats the
/// stored keys.
async fn upload_signing_keys(
    State(state): State<AppState>,
    auth: Authenticated,
    MatrixJson(body): MatrixJson<UploadSigningKeysRequest>,
) -> Result<Json<Value>, Response> {
    let needs_auth = state
        .e2ee
        .signing_keys_upload_needs_auth(&auth.user_id, &body)
        .await
        .map_err(IntoResponse::into_response)?;
    if needs_auth {
        state
            .accounts
            .authenticate_user(&auth.user_id, body.auth.clone())
            .await
            .map_err(IntoResponse::into_response)?;
    }
    state
        .e2ee
        .upload_signing_keys(&auth.user_id, &body)
        .await
        .map_err(IntoResponse::into_response)?;
    Ok(Json(json!({})))
}

/// `POST /keys/signatures/upload`.
async fn upload_signatures(
    State(state): State<AppState>,
    auth: Authenticated,
    MatrixJson(body): MatrixJson<Map<String, Value>>,
) -> Result<Json<Value>, ApiError> {
    let failures = state.e2ee.upload_signatures(&auth.user_id, &body).await?;
    Ok(Json(json!({ "failures": failures })))
}
