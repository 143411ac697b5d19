//! Client-server API handlers, one module per area. Each area exposes `routes()`; [`routes`] merges them.
//!
//! Paths are registered under `/_matrix/client/v3` and, for endpoints that existed in r0, also under
//! `/_matrix/client/r0` through [`v3_and_r0`], so older clients and bots keep working unchanged.

mod account;
mod account_data;
mod capabilities;
mod devices;
mod directory;
mod filters;
mod keys;
mod legacy;
mod login;
mod openid;
mod presence;
mod profile;
mod pushrules;
mod receipts;
mod register;
mod room_events;
mod room_keys;
mod rooms;
mod synapse_admin;
mod sync;
mod to_device;
mod typing;

use axum::Router;
use axum::routing::MethodRouter;

use super::state::AppState;

/// The stable client API prefix.
pub const V3: &str = "/_matrix/client/v3";
/// The legacy prefix still called by older clients for the endpoints that existed in r0.
pub const R0: &str = "/_matrix/client/r0";

/// Every client-API area's routes, merged.
pub fn routes() -> Router<AppState> {
    Router::new()
        .merge(account::routes())
        .merge(register::routes())
        .merge(login::routes())
        .merge(devices::routes())
        .merge(profile::routes())
        .merge(synapse_admin::routes())
        .merge(rooms::routes())
        .merge(room_events::routes())
        .merge(directory::routes())
        .merge(account_data::routes())
        .merge(capabilities::routes())
        .merge(filters::routes())
        .merge(legacy::routes())
        .merge(presence::routes())
        .merge(pushrules::routes())
        .merge(receipts::routes())
        .merge(sync::routes())
        .merge(typing::routes())
        .merge(keys::routes())
        .merge(to_device::routes())
        .merge(room_keys::routes())
        .merge(openid::routes())
}

/// Registers `handler` at `{V3}{path}` and `{R0}{path}` (`path` starts with `/`).
pub fn v3_and_r0(
    router: Router<AppState>,
    path: &str,
    handler: MethodRouter<AppState>,
) -> Router<AppState> {
    router
        .route(&format!("{V3}{path}"), handler.clone())
        .route(&format!("{R0}{path}"), handler)
}
