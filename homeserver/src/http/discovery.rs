//! Discovery endpoints: `/_matrix/client/versions` and the `/.well-known/matrix/{client,server}` documents.

use axum::Json;
use axum::extract::State;
use hearth_client_api::MatrixError;
use hearth_client_api::discovery::versions::VersionsResponse;
use hearth_client_api::discovery::well_known::ClientWellKnown;
use hearth_federation::discovery::well_known::ServerWellKnown;

use super::error::ApiError;
use super::state::AppState;

/// The spec versions Hearth implements (see [`hearth_client_api::discovery::versions::SUPPORTED_VERSIONS`]).
pub async fn client_versions() -> Json<VersionsResponse> {
    Json(VersionsResponse::hearth())
}

/// `/.well-known/matrix/client` from `[well_known] client`; 404 `M_NOT_FOUND` when not configured.
pub async fn well_known_client(
    State(state): State<AppState>,
) -> Result<Json<ClientWellKnown>, ApiError> {
    match &state.well_known_client {
        Some(base_url) => Ok(Json(ClientWellKnown::new(base_url.clone()))),
        None => Err(MatrixError::not_found("No client discovery document is configured").into()),
    }
}

/// `/.well-known/matrix/server` from `[well_known] server` (or the server name's host with the federation
/// port); 404 `M_NOT_FOUND` when federation is disabled.
pub async fn well_known_server(
    State(state): State<AppState>,
) -> Result<Json<ServerWellKnown>, ApiError> {
    match &state.well_known_server {
        Some(server) => Ok(Json(ServerWellKnown {
            server: server.clone(),
        })),
        None => Err(MatrixError::not_found("Federation is disabled on this server").into()),
    }
}
