//! Queries: `GET /query/directory`, `GET /query/profile`, `GET`/`POST /publicRooms`.

use axum::Json;
use axum::Router;
use axum::extract::{RawQuery, State};
use axum::routing::get;
use hearth_client_api::MatrixError;
use hearth_client_api::error::ErrorCode;
use hearth_types::UserId;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::events::query_values;
use super::{FederationOrigin, SignedJson, V1};
use crate::http::error::ApiError;
use crate::http::state::AppState;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route(&format!("{V1}/query/directory"), get(query_directory))
        .route(&format!("{V1}/query/profile"), get(query_profile))
        .route(
            &format!("{V1}/publicRooms"),
            get(public_rooms_get).post(public_rooms_post),
        )
}

fn param(query: Option<&str>, name: &str) -> Option<String> {
    query_values(query, name).into_iter().next()
}

fn missing(name: &str) -> ApiError {
    ApiError(MatrixError::new(
        ErrorCode::MissingParam,
        format!("missing query parameter {name}"),
    ))
}

async fn query_directory(
    State(state): State<AppState>,
    FederationOrigin(_origin): FederationOrigin,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let alias = param(query.as_deref(), "room_alias").ok_or_else(|| missing("room_alias"))?;
    let (room_id, servers) = state.rooms.lookup_alias(&alias).await?;
    Ok(Json(json!({ "room_id": room_id, "servers": servers })))
}

async fn query_profile(
    State(state): State<AppState>,
    FederationOrigin(_origin): FederationOrigin,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let user_id = param(query.as_deref(), "user_id").ok_or_else(|| missing("user_id"))?;
    let user = UserId::parse(&user_id).map_err(|e| {
        ApiError(MatrixError::new(
            ErrorCode::InvalidParam,
            format!("invalid user ID: {e}"),
        ))
    })?;
    let field = param(query.as_deref(), "field");
    let profile = state
        .accounts
        .profile(&user)
        .await
        .map_err(|_| ApiError(MatrixError::not_found("Profile not found")))?;
    let mut answer = Map::new();
    let wants = |name: &str| field.as_deref().is_none_or(|f| f == name);
    if wants("displayname")
        && let Some(name) = profile.displayname
    {
        answer.insert("displayname".into(), json!(name));
    }
    if wants("avatar_url")
        && let Some(url) = profile.avatar_url
    {
        answer.insert("avatar_url".into(), json!(url));
    }
    Ok(Json(Value::Object(answer)))
}

async fn public_rooms_get(
    State(state): State<AppState>,
    FederationOrigin(_origin): FederationOrigin,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let limit = param(query.as_deref(), "limit")
        .map(|l| l.parse::<usize>())
        .transpose()
        .map_err(|_| {
            ApiError(MatrixError::new(
                ErrorCode::InvalidParam,
                "limit must be an integer",
            ))
        })?;
    let since = param(query.as_deref(), "since");
    Ok(Json(
        state
            .rooms
            .public_rooms(limit, since.as_deref(), None)
            .await?,
    ))
}

#[derive(Debug, Default, Deserialize)]
struct PublicRoomsRequest {
    limit: Option<usize>,
    since: Option<String>,
    filter: Option<PublicRoomsFilter>,
}

#[derive(Debug, Default, Deserialize)]
struct PublicRoomsFilter {
    generic_search_term: Option<String>,
}

async fn public_rooms_post(
    State(state): State<AppState>,
    request: SignedJson<PublicRoomsRequest>,
) -> Result<Json<Value>, ApiError> {
    let body = request.body;
    let search = body.filter.and_then(|f| f.generic_search_term);
    Ok(Json(
        state
            .rooms
            .public_rooms(body.limit, body.since.as_deref(), search.as_deref())
            .await?,
    ))
}
