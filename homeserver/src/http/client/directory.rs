//! Aliases and the room directory: `/directory/room/{alias}`, `/rooms/{id}/aliases`,
//! `/directory/list/room/{id}`, `/publicRooms` (GET and POST).

use std::collections::HashMap;

use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::routing::get;
use hearth_client_api::MatrixError;
use hearth_client_api::error::ErrorCode;
use hearth_types::{RoomAliasId, ServerName};
use serde::Deserialize;
use serde_json::{Value, json};

use super::v3_and_r0;
use crate::http::auth::Authenticated;
use crate::http::error::ApiError;
use crate::http::json::MatrixJson;
use crate::http::state::AppState;

/// Every route of this module.
pub fn routes() -> Router<AppState> {
    let router = Router::new();
    let router = v3_and_r0(
        router,
        "/directory/room/{alias}",
        get(get_alias).put(put_alias).delete(delete_alias),
    );
    let router = v3_and_r0(router, "/rooms/{room}/aliases", get(room_aliases));
    let router = v3_and_r0(
        router,
        "/directory/list/room/{room}",
        get(get_visibility).put(put_visibility),
    );
    v3_and_r0(
        router,
        "/publicRooms",
        get(public_rooms_get).post(public_rooms_post),
    )
}

#[derive(Debug, Deserialize)]
struct AliasBody {
    room_id: String,
}

async fn put_alias(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(alias): Path<String>,
    MatrixJson(body): MatrixJson<AliasBody>,
) -> Result<Json<Value>, ApiError> {
    state
        .rooms
        .create_alias(&auth.user_id, &alias, &body.room_id)
        .await?;
    Ok(Json(json!({})))
}

async fn get_alias(
    State(state): State<AppState>,
    Path(alias): Path<String>,
) -> Result<Json<Value>, ApiError> {
    if let (Some(remote), Ok(parsed)) = (&state.remote_rooms, RoomAliasId::parse(&alias))
        && *parsed.server_name() != state.server_name
    {
        let (room_id, servers) = remote.query_alias(&parsed).await?;
        let servers: Vec<&str> = servers.iter().map(ServerName::as_str).collect();
        return Ok(Json(json!({"room_id": room_id, "servers": servers})));
    }
    let (room_id, servers) = state.rooms.lookup_alias(&alias).await?;
    Ok(Json(json!({"room_id": room_id, "servers": servers})))
}

async fn delete_alias(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(alias): Path<String>,
) -> Result<Json<Value>, ApiError> {
    state
        .rooms
        .delete_alias(&auth.user_id, &alias, auth.is_admin)
        .await?;
    Ok(Json(json!({})))
}

async fn room_aliases(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(room): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let aliases = state.rooms.room_aliases(&auth.user_id, &room).await?;
    Ok(Json(json!({ "aliases": aliases })))
}

async fn get_visibility(
    State(state): State<AppState>,
    Path(room): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let public = state.rooms.directory_visibility(&room).await?;
    Ok(Json(
        json!({"visibility": if public { "public" } else { "private" }}),
    ))
}

#[derive(Debug, Deserialize)]
struct VisibilityBody {
    #[serde(default)]
    visibility: Option<String>,
}

async fn put_visibility(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(room): Path<String>,
    MatrixJson(body): MatrixJson<VisibilityBody>,
) -> Result<Json<Value>, ApiError> {
    let public = match body.visibility.as_deref() {
        Some("public") => true,
        None | Some("private") => false,
        Some(_) => {
            return Err(ApiError(MatrixError::new(
                ErrorCode::InvalidParam,
                "visibility must be public or private",
            )));
        }
    };
    state
        .rooms
        .set_directory_visibility(&auth.user_id, &room, public, auth.is_admin)
        .await?;
    Ok(Json(json!({})))
}

async fn public_rooms_get(
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let limit = match query.get("limit") {
        Some(l) => Some(l.parse::<usize>().map_err(|_| {
            ApiError(MatrixError::new(
                ErrorCode::InvalidParam,
                "limit must be an integer",
            ))
        })?),
        None => None,
    };
    Ok(Json(
        state
            .rooms
            .public_rooms(limit, query.get("since").map(String::as_str), None)
            .await?,
    ))
}

#[derive(Debug, Default, Deserialize)]
struct PublicRoomsBody {
    #[serde(default)]
    limit: Option<usize>,
    #[serde(default)]
    since: Option<String>,
    #[serde(default)]
    filter: Option<PublicRoomsFilter>,
}

#[derive(Debug, Default, Deserialize)]
struct PublicRoomsFilter {
    #[serde(default)]
    generic_search_term: Option<String>,
}

async fn public_rooms_post(
    State(state): State<AppState>,
    _auth: Authenticated,
    MatrixJson(body): MatrixJson<PublicRoomsBody>,
) -> Result<Json<Value>, ApiError> {
    let search = body.filter.and_then(|f| f.generic_search_term);
    Ok(Json(
        state
            .rooms
            .public_rooms(body.limit, body.since.as_deref(), search.as_deref())
            .await?,
    ))
}
