//! Server-side key backup: `/room_keys/version` (create, current), `/room_keys/version/{version}` (get,
//! update, delete) and `/room_keys/keys[/{roomId}[/{sessionId}]]` (put, get, delete; `?version=` required).

use std::collections::HashMap;

use axum::Json;
use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::routing::{get, post};
use hearth_client_api::MatrixError;
use hearth_client_api::error::ErrorCode;
use hearth_client_api::keys::requests::BackupVersionRequest;
use serde_json::{Map, Value, json};

use super::v3_and_r0;
use crate::http::auth::Authenticated;
use crate::http::error::ApiError;
use crate::http::json::MatrixJson;
use crate::http::state::AppState;
use crate::services::e2ee::RoomKeysSelection;

/// The key backup routes.
pub fn routes() -> Router<AppState> {
    let router = v3_and_r0(
        Router::new(),
        "/room_keys/version",
        post(create_version).get(current_version),
    );
    let router = v3_and_r0(
        router,
        "/room_keys/version/{version}",
        get(get_version).put(update_version).delete(delete_version),
    );
    let keys = get(get_keys).put(put_keys).delete(delete_keys);
    let router = v3_and_r0(router, "/room_keys/keys", keys.clone());
    let router = v3_and_r0(router, "/room_keys/keys/{room_id}", keys.clone());
    v3_and_r0(router, "/room_keys/keys/{room_id}/{session_id}", keys)
}

/// The required `version` query parameter.
fn version_param(query: Option<String>) -> Result<String, ApiError> {
    url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .find(|(key, _)| key == "version")
        .map(|(_, value)| value.into_owned())
        .ok_or_else(|| {
            ApiError(MatrixError::new(
                ErrorCode::MissingParam,
                "the `version` query parameter is required",
            ))
        })
}

async fn create_version(
    State(state): State<AppState>,
    auth: Authenticated,
    MatrixJson(body): MatrixJson<BackupVersionRequest>,
) -> Result<Json<Value>, ApiError> {
    let version = state.e2ee.create_backup(&auth.user_id, &body).await?;
    Ok(Json(json!({ "version": version.to_string() })))
}

async fn current_version(
    State(state): State<AppState>,
    auth: Authenticated,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(
        state.e2ee.backup_info(&auth.user_id, None).await?.to_json(),
    ))
}

async fn get_version(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(version): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(
        state
            .e2ee
            .backup_info(&auth.user_id, Some(&version))
            .await?
            .to_json(),
    ))
}

async fn update_version(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(version): Path<String>,
    MatrixJson(body): MatrixJson<BackupVersionRequest>,
) -> Result<Json<Value>, ApiError> {
    state
        .e2ee
        .update_backup(&auth.user_id, &version, &body)
        .await?;
    Ok(Json(json!({})))
}

async fn delete_version(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(version): Path<String>,
) -> Result<Json<Value>, ApiError> {
    state.e2ee.delete_backup(&auth.user_id, &version).await?;
    Ok(Json(json!({})))
}

/// The `{roomId}` and `{sessionId}` path parameters, where the route has them.
type KeysPath = Option<Path<HashMap<String, String>>>;

fn selection(path: &KeysPath) -> RoomKeysSelection<'_> {
    let param = |name: &str| {
        path.as_ref()
            .and_then(|Path(p)| p.get(name))
            .map(String::as_str)
    };
    RoomKeysSelection {
        room_id: param("room_id"),
        session_id: param("session_id"),
    }
}

/// `PUT /room_keys/keys` (`{"rooms": …}`), `…/{roomId}` (`{"sessions": …}`) or `…/{roomId}/{sessionId}`
/// (one session's data).
async fn put_keys(
    State(state): State<AppState>,
    auth: Authenticated,
    path: KeysPath,
    RawQuery(query): RawQuery,
    MatrixJson(body): MatrixJson<Value>,
) -> Result<Json<Value>, ApiError> {
    let version = version_param(query)?;
    let rooms = match selection(&path) {
        RoomKeysSelection {
            room_id: Some(room_id),
            session_id: Some(session_id),
        } => {
            let mut rooms = Map::new();
            rooms.insert(
                room_id.to_owned(),
                json!({ "sessions": { session_id: body } }),
            );
            rooms
        }
        RoomKeysSelection {
            room_id: Some(room_id),
            session_id: None,
        } => {
            let mut rooms = Map::new();
            rooms.insert(room_id.to_owned(), body);
            rooms
        }
        _ => body
            .get("rooms")
            .and_then(Value::as_object)
            .cloned()
            .ok_or_else(|| {
                ApiError(MatrixError::new(
                    ErrorCode::BadJson,
                    "`rooms` must be an object",
                ))
            })?,
    };
    let (etag, count) = state
        .e2ee
        .put_backup_keys(&auth.user_id, &version, &rooms)
        .await?;
    Ok(Json(json!({ "etag": etag, "count": count })))
}

/// `GET /room_keys/keys[/{roomId}[/{sessionId}]]`.
async fn get_keys(
    State(state): State<AppState>,
    auth: Authenticated,
    path: KeysPath,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let version = version_param(query)?;
    Ok(Json(
        state
            .e2ee
            .get_backup_keys(&auth.user_id, &version, selection(&path))
            .await?,
    ))
}

/// `DELETE /room_keys/keys[/{roomId}[/{sessionId}]]`.
async fn delete_keys(
    State(state): State<AppState>,
    auth: Authenticated,
    path: KeysPath,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let version = version_param(query)?;
    let (etag, count) = state
        .e2ee
        .delete_backup_keys(&auth.user_id, &version, selection(&path))
        .await?;
    Ok(Json(json!({ "etag": etag, "count": count })))
}
