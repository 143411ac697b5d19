//! Account data endpoints: global and per-room account data, room tags; and the mapping of the per-user data
//! services' errors to Matrix errors, shared by the handlers of those services.

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::routing::{get, put};
use hearth_client_api::MatrixError;
use hearth_client_api::error::ErrorCode;
use hearth_types::RoomId;
use serde_json::{Map, Value, json};

use super::v3_and_r0;
use crate::http::auth::Authenticated;
use crate::http::error::ApiError;
use crate::http::json::MatrixJson;
use crate::http::state::AppState;
use crate::services::account_data::UserDataError;

/// The account data and tag routes.
pub fn routes() -> Router<AppState> {
    let router = v3_and_r0(
        Router::new(),
        "/user/{user_id}/account_data/{data_type}",
        get(get_global).put(put_global),
    );
    let router = v3_and_r0(
        router,
        "/user/{user_id}/rooms/{room_id}/account_data/{data_type}",
        get(get_room).put(put_room),
    );
    let router = v3_and_r0(
        router,
        "/user/{user_id}/rooms/{room_id}/tags",
        get(get_tags),
    );
    v3_and_r0(
        router,
        "/user/{user_id}/rooms/{room_id}/tags/{tag}",
        put(put_tag).delete(delete_tag),
    )
}

impl From<UserDataError> for ApiError {
    fn from(error: UserDataError) -> Self {
        let matrix = match error {
            UserDataError::NotFound(message) => MatrixError::new(ErrorCode::NotFound, message),
            UserDataError::Forbidden(message) => MatrixError::new(ErrorCode::Forbidden, message),
            UserDataError::BadJson(message) => MatrixError::new(ErrorCode::BadJson, message),
            UserDataError::InvalidParam(message) => {
                MatrixError::new(ErrorCode::InvalidParam, message)
            }
            UserDataError::ServerManaged(message) => {
                MatrixError::new(ErrorCode::BadJson, message).with_status(405)
            }
            UserDataError::Storage(error) => {
                tracing::error!(%error, "storage failure in a user data service");
                MatrixError::internal()
            }
            UserDataError::Internal(error) => {
                tracing::error!(%error, "internal failure in a user data service");
                MatrixError::internal()
            }
        };
        ApiError(matrix)
    }
}

/// Only the owner may read or write a user's data: 403 `M_FORBIDDEN` otherwise.
pub(super) fn require_self(auth: &Authenticated, user_id: &str) -> Result<(), ApiError> {
    if auth.user_id.as_str() == user_id {
        Ok(())
    } else {
        Err(MatrixError::new(ErrorCode::Forbidden, "Cannot access another user's data").into())
    }
}

/// A room ID from the path, or 400 `M_INVALID_PARAM`.
pub(super) fn parse_room_id(room_id: &str) -> Result<RoomId, ApiError> {
    RoomId::parse(room_id).map_err(|error| {
        MatrixError::new(ErrorCode::InvalidParam, format!("Invalid room ID: {error}")).into()
    })
}

async fn get_global(
    State(state): State<AppState>,
    auth: Authenticated,
    Path((user_id, data_type)): Path<(String, String)>,
) -> Result<Json<Map<String, Value>>, ApiError> {
    require_self(&auth, &user_id)?;
    Ok(Json(
        state.account_data.get(&user_id, None, &data_type).await?,
    ))
}

async fn put_global(
    State(state): State<AppState>,
    auth: Authenticated,
    Path((user_id, data_type)): Path<(String, String)>,
    MatrixJson(content): MatrixJson<Map<String, Value>>,
) -> Result<Json<Value>, ApiError> {
    require_self(&auth, &user_id)?;
    state
        .account_data
        .set_by_client(&user_id, None, &data_type, content)
        .await?;
    Ok(Json(json!({})))
}

async fn get_room(
    State(state): State<AppState>,
    auth: Authenticated,
    Path((user_id, room_id, data_type)): Path<(String, String, String)>,
) -> Result<Json<Map<String, Value>>, ApiError> {
    require_self(&auth, &user_id)?;
    let room_id = parse_room_id(&room_id)?;
    Ok(Json(
        state
            .account_data
            .get(&user_id, Some(room_id.as_str()), &data_type)
            .await?,
    ))
}

async fn put_room(
    State(state): State<AppState>,
    auth: Authenticated,
    Path((user_id, room_id, data_type)): Path<(String, String, String)>,
    MatrixJson(content): MatrixJson<Map<String, Value>>,
) -> Result<Json<Value>, ApiError> {
    require_self(&auth, &user_id)?;
    let room_id = parse_room_id(&room_id)?;
    state
        .account_data
        .set_by_client(&user_id, Some(room_id.as_str()), &data_type, content)
        .await?;
    Ok(Json(json!({})))
}

async fn get_tags(
    State(state): State<AppState>,
    auth: Authenticated,
    Path((user_id, room_id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    require_self(&auth, &user_id)?;
    let room_id = parse_room_id(&room_id)?;
    Ok(Json(
        state.account_data.tags(&user_id, room_id.as_str()).await?,
    ))
}

async fn put_tag(
    State(state): State<AppState>,
    auth: Authenticated,
    Path((user_id, room_id, tag)): Path<(String, String, String)>,
    MatrixJson(content): MatrixJson<Map<String, Value>>,
) -> Result<Json<Value>, ApiError> {
    require_self(&auth, &user_id)?;
    let room_id = parse_room_id(&room_id)?;
    state
        .account_data
        .put_tag(&user_id, room_id.as_str(), &tag, content)
        .await?;
    Ok(Json(json!({})))
}

async fn delete_tag(
    State(state): State<AppState>,
    auth: Authenticated,
    Path((user_id, room_id, tag)): Path<(String, String, String)>,
) -> Result<Json<Value>, ApiError> {
    require_self(&auth, &user_id)?;
    let room_id = parse_room_id(&room_id)?;
    state
        .account_data
        .delete_tag(&user_id, room_id.as_str(), &tag)
        .await?;
    Ok(Json(json!({})))
}
