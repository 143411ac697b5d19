//! `GET /_matrix/key/v2/server`: this server's signing keys, signed by itself.

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::routing::get;
use hearth_client_api::MatrixError;
use serde_json::Value;

use super::error::ApiError;
use super::state::AppState;
use crate::signing_key::{now_millis, server_keys_document, valid_until};

/// The key routes, for both listeners. The deprecated `/{keyId}` form answers the same document, as the spec
/// allows servers to ignore the key ID.
pub fn routes() -> Router<AppState> {
    let path = hearth_federation::discovery::server_keys::PATH;
    Router::new()
        .route(path, get(server_keys))
        .route(&format!("{path}/{{key_id}}"), get(server_keys))
}

/// Builds and signs the document on each request, so `valid_until_ts` is always now + `[keys] valid_for`.
async fn server_keys(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let valid_until_ts = valid_until(now_millis(), state.key_validity);
    server_keys_document(
        state.server_name.as_ref(),
        &state.signing_key,
        &state.old_verify_keys,
        valid_until_ts,
    )
    .map(Json)
    .map_err(|error| {
        tracing::error!(%error, "cannot sign the server keys document");
        ApiError(MatrixError::internal())
    })
}
