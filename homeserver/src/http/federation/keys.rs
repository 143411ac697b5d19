//! The notary endpoints: `GET /_matrix/key/v2/query/{serverName}` and `POST /_matrix/key/v2/query`.
//! Unauthenticated, as the spec defines them; the key service bounds what one request may cause.

use std::collections::BTreeMap;

use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use hearth_client_api::MatrixError;
use hearth_client_api::error::ErrorCode;
use hearth_federation::keys::query::{
    BATCH_PATH, KeyCriteria, KeyQueryRequest, KeyQueryResponse, SINGLE_PATH_PREFIX,
};
use serde::Deserialize;
use serde_json::Value;

use crate::http::error::ApiError;
use crate::http::json::MatrixJson;
use crate::http::state::AppState;
use crate::services::keys::NotaryError;
use crate::signing_key::{now_millis, server_keys_document, valid_until};

pub(super) fn routes() -> Router<AppState> {
    Router::new().route(BATCH_PATH, post(query_batch)).route(
        &format!("{SINGLE_PATH_PREFIX}{{server_name}}"),
        get(query_single),
    )
}

#[derive(Debug, Deserialize)]
struct SingleQuery {
    minimum_valid_until_ts: Option<u64>,
}

async fn query_single(
    State(state): State<AppState>,
    Path(server_name): Path<String>,
    Query(query): Query<SingleQuery>,
) -> Result<Json<KeyQueryResponse>, ApiError> {
    let mut servers = BTreeMap::new();
    let mut criteria = BTreeMap::new();
    if query.minimum_valid_until_ts.is_some() {
        // A single-server query asks about all keys; the criterion applies to each current key.
        criteria.insert(
            String::new(),
            KeyCriteria {
                minimum_valid_until_ts: query.minimum_valid_until_ts,
            },
        );
    }
    servers.insert(server_name, criteria);
    answer(&state, &servers).await
}

async fn query_batch(
    State(state): State<AppState>,
    MatrixJson(request): MatrixJson<KeyQueryRequest>,
) -> Result<Json<KeyQueryResponse>, ApiError> {
    answer(&state, &request.server_keys).await
}

async fn answer(
    state: &AppState,
    servers: &BTreeMap<String, BTreeMap<String, KeyCriteria>>,
) -> Result<Json<KeyQueryResponse>, ApiError> {
    let own = || -> Option<Value> {
        server_keys_document(
            state.server_name.as_str(),
            &state.signing_key,
            &state.old_verify_keys,
            valid_until(now_millis(), state.key_validity),
        )
        .ok()
    };
    match state.keys.notary_query(servers, own).await {
        Ok(server_keys) => Ok(Json(KeyQueryResponse { server_keys })),
        Err(NotaryError::TooManyServers) => Err(ApiError(
            MatrixError::new(
                ErrorCode::InvalidParam,
                NotaryError::TooManyServers.to_string(),
            )
            .with_status(400),
        )),
        Err(error) => {
            tracing::error!(%error, "notary query failed");
            Err(ApiError(MatrixError::internal()))
        }
    }
}
