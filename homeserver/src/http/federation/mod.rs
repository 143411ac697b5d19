//! Server-server API handlers on the TLS federation listener: X-Matrix authentication ([`auth`]), the notary
//! key endpoints ([`keys`]), and the federation endpoints proper, one module per area.
//!
//! Other areas (E2EE device queries, media) add their own modules and merge their routes in [`routes`];
//! their handlers take [`FederationOrigin`] or [`SignedJson`] to get a verified origin.

pub mod auth;
mod error;
mod events;
mod keys;
mod media;
mod membership;
mod openid;
mod query;
mod user_keys;

use axum::Router;

pub use auth::{FederationOrigin, SignedJson};

use super::state::AppState;

/// The stable federation prefix.
pub const V1: &str = "/_matrix/federation/v1";
/// The federation prefix of the v2 endpoints (`send_join`, `send_leave`, `invite`).
pub const V2: &str = "/_matrix/federation/v2";

/// Every federation area's routes, merged.
pub fn routes() -> Router<AppState> {
    Router::new()
        .merge(keys::routes())
        .merge(events::routes())
        .merge(membership::routes())
        .merge(query::routes())
        .merge(user_keys::routes())
        .merge(openid::routes())
        .merge(media::routes())
}
