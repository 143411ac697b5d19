//! The HTTP edge: routers for the client and federation listeners, the handlers joining API types to the
//! server's state, Matrix-shaped errors, CORS, body limits, and the connection loop with graceful shutdown.
//!
//! Handlers are thin: they read [`AppState`], call into the layers below, and turn results into responses.
//! Every error leaves as a Matrix error body (`{"errcode", "error"}`), including unknown endpoints and methods.

pub mod auth;
mod body_limit;
pub mod client;
mod cors;
mod discovery;
mod error;
pub mod federation;
mod federation_version;
mod guest;
mod health;
pub mod json;
mod media;
mod plain_errors;
pub mod rate_limit;
pub mod serve;
mod server_keys;
mod state;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use tower_http::trace::TraceLayer;

pub use auth::Authenticated;
pub use error::ApiError;
pub use state::AppState;

/// Routes of the plain-HTTP client listener: client discovery, health, the server keys (for tools and
/// notaries that ask there) and `/.well-known/matrix/*`. CORS applies to every response, errors included.
pub fn client_router(state: AppState) -> Router {
    let body_limit = state.max_request_body_bytes;
    Router::new()
        .route("/health", get(health::health))
        .route(
            hearth_client_api::discovery::versions::PATH,
            get(discovery::client_versions),
        )
        .route(
            hearth_client_api::discovery::well_known::PATH,
            get(discovery::well_known_client),
        )
        .route(
            hearth_federation::discovery::well_known::PATH,
            get(discovery::well_known_server),
        )
        .merge(server_keys::routes())
        .merge(client::routes())
        .fallback(error::unrecognized_endpoint)
        .method_not_allowed_fallback(error::method_not_allowed)
        .layer(DefaultBodyLimit::max(
            usize::try_from(body_limit).unwrap_or(usize::MAX),
        ))
        .layer(axum::middleware::from_fn_with_state(
            body_limit,
            body_limit::reject_declared_oversized_body,
        ))
        // Media uploads stream their bodies under their own limit, so they join after the body limits.
        .merge(media::client_routes())
        .layer(axum::middleware::from_fn(plain_errors::matrix_errors_only))
        .layer(cors::client_cors_layer())
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// Routes of the TLS federation listener: the server keys, the software version, `/.well-known/matrix/server`,
/// the notary key endpoints and the X-Matrix-authenticated federation API ([`federation`]).
pub fn federation_router(state: AppState) -> Router {
    let body_limit = state.max_request_body_bytes;
    Router::new()
        .route(
            hearth_federation::discovery::version::PATH,
            get(federation_version::federation_version),
        )
        .route(
            hearth_federation::discovery::well_known::PATH,
            get(discovery::well_known_server),
        )
        .merge(server_keys::routes())
        .merge(federation::routes())
        .merge(media::legacy_routes())
        .fallback(error::unrecognized_endpoint)
        .method_not_allowed_fallback(error::method_not_allowed)
        .layer(DefaultBodyLimit::max(
            usize::try_from(body_limit).unwrap_or(usize::MAX),
        ))
        .layer(axum::middleware::from_fn_with_state(
            body_limit,
            body_limit::reject_declared_oversized_body,
        ))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}
