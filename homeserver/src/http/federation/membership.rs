//! Membership handshakes: `make_join`/`send_join` (v2), `make_leave`/`send_leave` (v2),
//! `make_knock`/`send_knock`, `invite` (v2).

use axum::Json;
use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::routing::{get, put};
use serde::Deserialize;
use serde_json::{Value, json};

use super::events::query_values;
use super::{FederationOrigin, SignedJson, V1, V2};
use crate::http::error::ApiError;
use crate::http::state::AppState;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            &format!("{V1}/make_join/{{room_id}}/{{user_id}}"),
            get(make_join),
        )
        .route(
            &format!("{V2}/send_join/{{room_id}}/{{event_id}}"),
            put(send_join),
        )
        .route(
            &format!("{V1}/make_leave/{{room_id}}/{{user_id}}"),
            get(make_leave),
        )
        .route(
            &format!("{V2}/send_leave/{{room_id}}/{{event_id}}"),
            put(send_leave),
        )
        .route(
            &format!("{V1}/make_knock/{{room_id}}/{{user_id}}"),
            get(make_knock),
        )
        .route(
            &format!("{V1}/send_knock/{{room_id}}/{{event_id}}"),
            put(send_knock),
        )
        .route(
            &format!("{V2}/invite/{{room_id}}/{{event_id}}"),
            put(invite),
        )
}

async fn make_join(
    State(state): State<AppState>,
    FederationOrigin(origin): FederationOrigin,
    Path((room_id, user_id)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    // No `ver` means the asking server supports only version 1 (spec).
    let mut versions = query_values(query.as_deref(), "ver");
    if versions.is_empty() {
        versions.push("1".into());
    }
    Ok(Json(
        state
            .federation
            .make_membership(&origin, &room_id, &user_id, "join", Some(&versions))
            .await?,
    ))
}

async fn make_leave(
    State(state): State<AppState>,
    FederationOrigin(origin): FederationOrigin,
    Path((room_id, user_id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(
        state
            .federation
            .make_membership(&origin, &room_id, &user_id, "leave", None)
            .await?,
    ))
}

async fn make_knock(
    State(state): State<AppState>,
    FederationOrigin(origin): FederationOrigin,
    Path((room_id, user_id)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let versions = query_values(query.as_deref(), "ver");
    Ok(Json(
        state
            .federation
            .make_membership(&origin, &room_id, &user_id, "knock", Some(&versions))
            .await?,
    ))
}

async fn send_join(
    State(state): State<AppState>,
    Path((room_id, event_id)): Path<(String, String)>,
    request: SignedJson<Value>,
) -> Result<Json<Value>, ApiError> {
    let (event, _) = state
        .federation
        .send_membership(&request.origin, &room_id, &event_id, "join", request.body)
        .await?;
    Ok(Json(
        state.federation.send_join_response(&room_id, event).await?,
    ))
}

async fn send_leave(
    State(state): State<AppState>,
    Path((room_id, event_id)): Path<(String, String)>,
    request: SignedJson<Value>,
) -> Result<Json<Value>, ApiError> {
    state
        .federation
        .send_membership(&request.origin, &room_id, &event_id, "leave", request.body)
        .await?;
    Ok(Json(json!({})))
}

async fn send_knock(
    State(state): State<AppState>,
    Path((room_id, event_id)): Path<(String, String)>,
    request: SignedJson<Value>,
) -> Result<Json<Value>, ApiError> {
    state
        .federation
        .send_membership(&request.origin, &room_id, &event_id, "knock", request.body)
        .await?;
    Ok(Json(state.federation.knock_room_state(&room_id).await?))
}

#[derive(Debug, Deserialize)]
struct InviteRequest {
    event: Value,
    room_version: String,
    #[serde(default)]
    invite_room_state: Vec<Value>,
}

async fn invite(
    State(state): State<AppState>,
    Path((room_id, event_id)): Path<(String, String)>,
    request: SignedJson<InviteRequest>,
) -> Result<Json<Value>, ApiError> {
    let body = request.body;
    let event = state
        .federation
        .receive_invite(
            &request.origin,
            &room_id,
            &event_id,
            &body.room_version,
            body.event,
            body.invite_room_state,
        )
        .await?;
    Ok(Json(json!({ "event": event })))
}
