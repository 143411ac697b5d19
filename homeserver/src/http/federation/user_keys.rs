//! End-to-end encryption keys for other servers: `GET /user/devices/{userId}`, `POST /user/keys/query`,
//! `POST /user/keys/claim` — about this server's users only.

use std::collections::BTreeMap;

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::routing::{get, post};
use hearth_client_api::MatrixError;
use hearth_client_api::error::ErrorCode;
use hearth_types::UserId;
use serde_json::{Value, json};

use super::{FederationOrigin, SignedJson, V1};
use crate::http::error::ApiError;
use crate::http::state::AppState;
use crate::services::e2ee::{ClaimRequest, QueryRequest};

/// Most users one request may name.
const MAX_USERS: usize = 1000;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route(&format!("{V1}/user/devices/{{user_id}}"), get(user_devices))
        .route(&format!("{V1}/user/keys/query"), post(keys_query))
        .route(&format!("{V1}/user/keys/claim"), post(keys_claim))
}

fn local_user(state: &AppState, user_id: &str) -> Result<UserId, ApiError> {
    let user = UserId::parse(user_id).map_err(|error| {
        ApiError(MatrixError::new(
            ErrorCode::InvalidParam,
            format!("invalid user ID: {error}"),
        ))
    })?;
    if user.server_name() != &state.server_name {
        return Err(ApiError(MatrixError::new(
            ErrorCode::InvalidParam,
            "the user does not belong to this server",
        )));
    }
    Ok(user)
}

fn too_many() -> ApiError {
    ApiError(MatrixError::new(
        ErrorCode::InvalidParam,
        format!("at most {MAX_USERS} users per request"),
    ))
}

/// `GET /user/devices/{userId}`.
async fn user_devices(
    State(state): State<AppState>,
    FederationOrigin(_origin): FederationOrigin,
    Path(user_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let user = local_user(&state, &user_id)?;
    Ok(Json(state.e2ee.federation_user_devices(&user).await?))
}

/// `POST /user/keys/query`: keys of this server's users (no user-signing keys for other servers).
async fn keys_query(
    State(state): State<AppState>,
    request: SignedJson<QueryRequest>,
) -> Result<Json<Value>, ApiError> {
    if request.body.device_keys.len() > MAX_USERS {
        return Err(too_many());
    }
    let local: BTreeMap<String, Vec<String>> = request
        .body
        .device_keys
        .into_iter()
        .filter(|(user, _)| local_user(&state, user).is_ok())
        .collect();
    let answer = state.e2ee.query_local_keys(None, &local).await?;
    Ok(Json(Value::Object(answer)))
}

/// `POST /user/keys/claim`: one key per requested device of this server's users.
async fn keys_claim(
    State(state): State<AppState>,
    request: SignedJson<ClaimRequest>,
) -> Result<Json<Value>, ApiError> {
    if request.body.one_time_keys.len() > MAX_USERS {
        return Err(too_many());
    }
    let local: BTreeMap<String, BTreeMap<String, String>> = request
        .body
        .one_time_keys
        .into_iter()
        .filter(|(user, _)| local_user(&state, user).is_ok())
        .collect();
    let claimed = state.e2ee.claim_local_keys(&local).await?;
    Ok(Json(json!({ "one_time_keys": claimed })))
}
