//! Transactions and DAG reads: `PUT /send/{txnId}`, `GET /event/{eventId}`, `GET /state/{roomId}`,
//! `GET /state_ids/{roomId}`, `GET /event_auth/{roomId}/{eventId}`, `GET /backfill/{roomId}`,
//! `POST /get_missing_events/{roomId}`.

use axum::Json;
use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::routing::{get, post, put};
use hearth_client_api::MatrixError;
use hearth_client_api::error::ErrorCode;
use hearth_federation::transactions::send::{SendTransactionResponse, Transaction};
use serde::Deserialize;
use serde_json::Value;

use super::{FederationOrigin, SignedJson, V1};
use crate::http::error::ApiError;
use crate::http::state::AppState;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route(&format!("{V1}/send/{{txn_id}}"), put(send_transaction))
        .route(&format!("{V1}/event/{{event_id}}"), get(event))
        .route(&format!("{V1}/state/{{room_id}}"), get(state))
        .route(&format!("{V1}/state_ids/{{room_id}}"), get(state_ids))
        .route(
            &format!("{V1}/event_auth/{{room_id}}/{{event_id}}"),
            get(event_auth),
        )
        .route(&format!("{V1}/backfill/{{room_id}}"), get(backfill))
        .route(
            &format!("{V1}/get_missing_events/{{room_id}}"),
            post(get_missing_events),
        )
}

/// The values of every `name=` parameter of a raw query string.
pub(super) fn query_values(query: Option<&str>, name: &str) -> Vec<String> {
    query
        .map(|query| {
            url::form_urlencoded::parse(query.as_bytes())
                .filter(|(key, _)| key == name)
                .map(|(_, value)| value.into_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn required_param(query: Option<&str>, name: &str) -> Result<String, ApiError> {
    query_values(query, name).into_iter().next().ok_or_else(|| {
        ApiError(MatrixError::new(
            ErrorCode::MissingParam,
            format!("missing query parameter {name}"),
        ))
    })
}

async fn send_transaction(
    State(state): State<AppState>,
    Path(txn_id): Path<String>,
    request: SignedJson<Transaction>,
) -> Result<Json<SendTransactionResponse>, ApiError> {
    Ok(Json(
        state
            .federation
            .receive_transaction(&request.origin, &txn_id, request.body)
            .await?,
    ))
}

async fn event(
    State(state): State<AppState>,
    FederationOrigin(origin): FederationOrigin,
    Path(event_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(
        state.federation.serve_event(&origin, &event_id).await?,
    ))
}

async fn state(
    State(state): State<AppState>,
    FederationOrigin(origin): FederationOrigin,
    Path(room_id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let event_id = required_param(query.as_deref(), "event_id")?;
    Ok(Json(
        state
            .federation
            .serve_state(&origin, &room_id, &event_id, false)
            .await?,
    ))
}

async fn state_ids(
    State(state): State<AppState>,
    FederationOrigin(origin): FederationOrigin,
    Path(room_id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let event_id = required_param(query.as_deref(), "event_id")?;
    Ok(Json(
        state
            .federation
            .serve_state(&origin, &room_id, &event_id, true)
            .await?,
    ))
}

async fn event_auth(
    State(state): State<AppState>,
    FederationOrigin(origin): FederationOrigin,
    Path((room_id, event_id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(
        state
            .federation
            .serve_event_auth(&origin, &room_id, &event_id)
            .await?,
    ))
}

async fn backfill(
    State(state): State<AppState>,
    FederationOrigin(origin): FederationOrigin,
    Path(room_id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let from = query_values(query.as_deref(), "v");
    if from.is_empty() {
        return Err(ApiError(MatrixError::new(
            ErrorCode::MissingParam,
            "missing query parameter v",
        )));
    }
    let limit = required_param(query.as_deref(), "limit")?
        .parse::<usize>()
        .map_err(|_| {
            ApiError(MatrixError::new(
                ErrorCode::InvalidParam,
                "limit must be an integer",
            ))
        })?;
    Ok(Json(
        state
            .federation
            .serve_backfill(&origin, &room_id, &from, limit)
            .await?,
    ))
}

#[derive(Debug, Deserialize)]
struct MissingEventsRequest {
    #[serde(default)]
    earliest_events: Vec<String>,
    latest_events: Vec<String>,
    #[serde(default = "default_missing_limit")]
    limit: usize,
    #[serde(default)]
    min_depth: i64,
}

fn default_missing_limit() -> usize {
    10
}

async fn get_missing_events(
    State(state): State<AppState>,
    Path(room_id): Path<String>,
    request: SignedJson<MissingEventsRequest>,
) -> Result<Json<Value>, ApiError> {
    let body = request.body;
    Ok(Json(
        state
            .federation
            .serve_missing_events(
                &request.origin,
                &room_id,
                &body.earliest_events,
                &body.latest_events,
                body.limit,
                body.min_depth,
            )
            .await?,
    ))
}
