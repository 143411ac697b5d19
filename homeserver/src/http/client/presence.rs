//! `GET/PUT /presence/{userId}/status`: basic presence.

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::routing::get;
use serde::Deserialize;
use serde_json::{Value, json};

use super::account_data::require_self;
use super::v3_and_r0;
use crate::http::auth::Authenticated;
use crate::http::error::ApiError;
use crate::http::json::MatrixJson;
use crate::http::state::AppState;
use crate::signing_key::now_millis;

/// The presence routes.
pub fn routes() -> Router<AppState> {
    v3_and_r0(
        Router::new(),
        "/presence/{user_id}/status",
        get(get_status).put(put_status),
    )
}

/// The PUT body.
#[derive(Debug, Deserialize)]
struct StatusBody {
    presence: String,
    #[serde(default)]
    status_msg: Option<String>,
}

fn now_ms() -> i64 {
    i64::try_from(now_millis()).unwrap_or(i64::MAX)
}

async fn get_status(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(user_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    if !state
        .presence
        .may_see(auth.user_id.as_str(), &user_id)
        .await?
    {
        return Err(crate::services::account_data::UserDataError::Forbidden(
            "You may only see the presence of users you share a room with".to_owned(),
        )
        .into());
    }
    Ok(Json(state.presence.presence(&user_id, now_ms()).await?))
}

async fn put_status(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(user_id): Path<String>,
    MatrixJson(body): MatrixJson<StatusBody>,
) -> Result<Json<Value>, ApiError> {
    require_self(&auth, &user_id)?;
    state
        .presence
        .set_presence(
            &user_id,
            &body.presence,
            body.status_msg.as_deref(),
            now_ms(),
        )
        .await?;
    if let Some(sender) = &state.federation_sender {
        sender
            .presence(&auth.user_id, &body.presence, body.status_msg.as_deref())
            .await;
    }
    Ok(Json(json!({})))
}
