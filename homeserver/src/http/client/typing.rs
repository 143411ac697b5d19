//! `PUT /rooms/{roomId}/typing/{userId}`: the caller starts (with a timeout) or stops typing in a room.

use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::routing::put;
use hearth_client_api::MatrixError;
use hearth_client_api::error::ErrorCode;
use serde::Deserialize;
use serde_json::{Value, json};

use super::account_data::{parse_room_id, require_self};
use super::v3_and_r0;
use crate::http::auth::Authenticated;
use crate::http::error::ApiError;
use crate::http::json::MatrixJson;
use crate::http::state::AppState;

/// Timeout used when a client starts typing without one.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// The typing route.
pub fn routes() -> Router<AppState> {
    v3_and_r0(
        Router::new(),
        "/rooms/{room_id}/typing/{user_id}",
        put(set_typing),
    )
}

/// The request body.
#[derive(Debug, Deserialize)]
struct TypingBody {
    typing: bool,
    #[serde(default)]
    timeout: Option<u64>,
}

async fn set_typing(
    State(state): State<AppState>,
    auth: Authenticated,
    Path((room_id, user_id)): Path<(String, String)>,
    MatrixJson(body): MatrixJson<TypingBody>,
) -> Result<Json<Value>, ApiError> {
    require_self(&auth, &user_id)?;
    let room_id = parse_room_id(&room_id)?;
    let joined = state
        .storage
        .membership(room_id.as_str(), &user_id)
        .await
        .map_err(|error| {
            tracing::error!(%error, "membership lookup failed");
            MatrixError::internal()
        })?
        .is_some_and(|membership| membership.membership == "join");
    if !joined {
        return Err(
            MatrixError::new(ErrorCode::Forbidden, "You are not joined to this room").into(),
        );
    }
    let timeout = body
        .typing
        .then(|| body.timeout.map_or(DEFAULT_TIMEOUT, Duration::from_millis));
    state.typing.set_typing(room_id.as_str(), &user_id, timeout);
    if let Some(sender) = &state.federation_sender {
        sender.typing(&room_id, &auth.user_id, body.typing).await;
    }
    Ok(Json(json!({})))
}
