//! Room creation and membership: `createRoom`, `join`, `invite`, `leave`, `forget`, `kick`, `ban`,
//! `unban`, `joined_rooms`, `members`, `joined_members`. Thin: each handler calls the rooms
//! service; [`RoomError`] becomes the spec's error here.

use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, RawQuery, State};
use axum::routing::{get, post};
use hearth_client_api::MatrixError;
use hearth_client_api::error::ErrorCode;
use hearth_client_api::rooms::create_room;
use hearth_client_api::rooms::events::RoomIdResponse;
use hearth_types::{ServerName, UserId};
use serde::Deserialize;
use serde_json::{Value, json};

use super::v3_and_r0;
use crate::http::auth::Authenticated;
use crate::http::error::ApiError;
use crate::http::json::MatrixJson;
use crate::http::rate_limit::limit_user;
use crate::http::state::AppState;
use crate::ratelimit::Action;
use crate::services::rooms::{MembersFilter, RoomError};

impl From<RoomError> for ApiError {
    fn from(error: RoomError) -> Self {
        let (code, message) = match error {
            RoomError::NotFound(m) => (ErrorCode::NotFound, m),
            RoomError::Forbidden(m) => (ErrorCode::Forbidden, m),
            RoomError::BadJson(m) => (ErrorCode::BadJson, m),
            RoomError::InvalidParam(m) => (ErrorCode::InvalidParam, m),
            RoomError::RoomInUse(m) => (ErrorCode::RoomInUse, m),
            RoomError::BadAlias(m) => (ErrorCode::BadAlias, m),
            RoomError::Unknown(m) => (ErrorCode::Unknown, m),
            RoomError::AliasExists(m) => {
                return ApiError(MatrixError::new(ErrorCode::Unknown, m).with_status(409));
            }
            RoomError::TooLarge => (ErrorCode::TooLarge, "event too large".to_owned()),
            RoomError::Remote(m) => {
                return ApiError(MatrixError::new(ErrorCode::Unknown, m).with_status(502));
            }
            error @ RoomError::UnsupportedRoomVersion(_) => {
                (ErrorCode::UnsupportedRoomVersion, error.to_string())
            }
            error @ (RoomError::Storage(_) | RoomError::Internal(_)) => {
                tracing::error!(%error, "rooms service failure");
                return ApiError(
                    MatrixError::new(ErrorCode::Unknown, "internal server error").with_status(500),
                );
            }
        };
        ApiError(MatrixError::new(code, message))
    }
}

/// Every route of this module.
pub fn routes() -> Router<AppState> {
    let router = Router::new();
    let router = v3_and_r0(router, create_room::PATH, post(create));
    let router = v3_and_r0(router, "/join/{room}", post(join_by_id_or_alias));
    let router = v3_and_r0(router, "/rooms/{room}/join", post(join_by_id));
    let router = v3_and_r0(router, "/rooms/{room}/invite", post(invite));
    let router = v3_and_r0(router, "/rooms/{room}/leave", post(leave));
    let router = v3_and_r0(router, "/rooms/{room}/forget", post(forget));
    let router = v3_and_r0(router, "/rooms/{room}/kick", post(kick));
    let router = v3_and_r0(router, "/rooms/{room}/ban", post(ban));
    let router = v3_and_r0(router, "/rooms/{room}/unban", post(unban));
    let router = v3_and_r0(router, "/joined_rooms", get(joined_rooms));
    let router = v3_and_r0(router, "/rooms/{room}/members", get(members));
    v3_and_r0(router, "/rooms/{room}/joined_members", get(joined_members))
}

async fn create(
    State(state): State<AppState>,
    auth: Authenticated,
    MatrixJson(request): MatrixJson<create_room::Request>,
) -> Result<Json<create_room::Response>, ApiError> {
    limit_user(&state, Action::RoomCreation, &auth)?;
    let room_id = state.rooms.create_room(&auth.user_id, request).await?;
    Ok(Json(create_room::Response { room_id }))
}

/// The optional body of `join` and `leave`.
#[derive(Debug, Default, Deserialize)]
struct ReasonBody {
    #[serde(default)]
    reason: Option<String>,
}

/// The body of `invite`, `kick`, `ban`, `unban`.
#[derive(Debug, Deserialize)]
struct TargetBody {
    user_id: String,
    #[serde(default)]
    reason: Option<String>,
}

fn target(body: &TargetBody) -> Result<UserId, ApiError> {
    UserId::parse(&body.user_id).map_err(|_| {
        ApiError(MatrixError::new(
            ErrorCode::InvalidParam,
            format!("invalid user ID {:?}", body.user_id),
        ))
    })
}

async fn join_by_id_or_alias(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(room): Path<String>,
    RawQuery(query): RawQuery,
    MatrixJson(body): MatrixJson<ReasonBody>,
) -> Result<Json<RoomIdResponse>, ApiError> {
    limit_user(&state, Action::Join, &auth)?;
    let via = via_servers(query.as_deref());
    let room_id = join_room(&state, &auth, &room, via, body.reason).await?;
    Ok(Json(RoomIdResponse { room_id }))
}

/// Joins through the remote rooms service when federation is on (it joins locally when this server is in
/// the room), else locally.
async fn join_room(
    state: &AppState,
    auth: &Authenticated,
    room: &str,
    via: Vec<ServerName>,
    reason: Option<String>,
) -> Result<String, ApiError> {
    // Guests join only (local) rooms whose guest access is `can_join` (spec, "Guest Access").
    if auth.is_guest {
        let room_id = state.rooms.resolve_room(room).await?;
        if !state.rooms.guests_can_join(&room_id).await? {
            return Err(ApiError(MatrixError::new(
                ErrorCode::GuestAccessForbidden,
                "Guests may not join this room",
            )));
        }
    }
    Ok(match &state.remote_rooms {
        Some(remote) => remote.join(&auth.user_id, room, via, reason).await?,
        None => state.rooms.join(&auth.user_id, room, reason).await?,
    })
}

/// The `server_name` (deprecated) and `via` query parameters: servers to join through. Invalid names are
/// ignored, as they could not be contacted anyway.
fn via_servers(query: Option<&str>) -> Vec<ServerName> {
    url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .filter(|(key, _)| key == "server_name" || key == "via")
        .filter_map(|(_, value)| ServerName::parse(&value).ok())
        .take(20)
        .collect()
}

async fn join_by_id(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(room): Path<String>,
    MatrixJson(body): MatrixJson<ReasonBody>,
) -> Result<Json<RoomIdResponse>, ApiError> {
    if !room.starts_with('!') {
        return Err(ApiError(MatrixError::new(
            ErrorCode::InvalidParam,
            "not a room ID",
        )));
    }
    limit_user(&state, Action::Join, &auth)?;
    let room_id = join_room(&state, &auth, &room, Vec::new(), body.reason).await?;
    Ok(Json(RoomIdResponse { room_id }))
}

async fn invite(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(room): Path<String>,
    MatrixJson(body): MatrixJson<TargetBody>,
) -> Result<Json<Value>, ApiError> {
    let target = target(&body)?;
    limit_user(&state, Action::Invite, &auth)?;
    state
        .rooms
        .invite(&auth.user_id, &room, &target, body.reason)
        .await?;
    Ok(Json(json!({})))
}

async fn leave(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(room): Path<String>,
    MatrixJson(body): MatrixJson<ReasonBody>,
) -> Result<Json<Value>, ApiError> {
    match &state.remote_rooms {
        Some(remote) => remote.leave(&auth.user_id, &room, body.reason).await?,
        None => {
            state.rooms.leave(&auth.user_id, &room, body.reason).await?;
        }
    }
    Ok(Json(json!({})))
}

async fn forget(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(room): Path<String>,
) -> Result<Json<Value>, ApiError> {
    state.rooms.forget(&auth.user_id, &room).await?;
    Ok(Json(json!({})))
}

async fn kick(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(room): Path<String>,
    MatrixJson(body): MatrixJson<TargetBody>,
) -> Result<Json<Value>, ApiError> {
    let target = target(&body)?;
    state
        .rooms
        .kick(&auth.user_id, &room, &target, body.reason)
        .await?;
    Ok(Json(json!({})))
}

async fn ban(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(room): Path<String>,
    MatrixJson(body): MatrixJson<TargetBody>,
) -> Result<Json<Value>, ApiError> {
    let target = target(&body)?;
    state
        .rooms
        .ban(&auth.user_id, &room, &target, body.reason)
        .await?;
    Ok(Json(json!({})))
}

async fn unban(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(room): Path<String>,
    MatrixJson(body): MatrixJson<TargetBody>,
) -> Result<Json<Value>, ApiError> {
    let target = target(&body)?;
    state
        .rooms
        .unban(&auth.user_id, &room, &target, body.reason)
        .await?;
    Ok(Json(json!({})))
}

async fn joined_rooms(
    State(state): State<AppState>,
    auth: Authenticated,
) -> Result<Json<Value>, ApiError> {
    let rooms = state.rooms.joined_rooms(&auth.user_id).await?;
    Ok(Json(json!({ "joined_rooms": rooms })))
}

/// Query of `/members`.
#[derive(Debug, Default, Deserialize)]
struct MembersQuery {
    at: Option<String>,
    membership: Option<String>,
    not_membership: Option<String>,
}

async fn members(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(room): Path<String>,
    Query(query): Query<MembersQuery>,
) -> Result<Json<Value>, ApiError> {
    let filter = MembersFilter {
        at: query.at,
        membership: query.membership,
        not_membership: query.not_membership,
    };
    let chunk = state.rooms.members(&auth.user_id, &room, &filter).await?;
    Ok(Json(json!({ "chunk": chunk })))
}

async fn joined_members(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(room): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let joined = state.rooms.joined_members(&auth.user_id, &room).await?;
    Ok(Json(json!({ "joined": joined })))
}
