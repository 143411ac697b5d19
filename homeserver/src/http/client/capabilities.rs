//! Start-up discovery endpoints Element and other clients call before their first sync: `GET /capabilities`,
//! `GET /voip/turnServer` (no TURN server is configured yet: `{}`) and `GET /thirdparty/protocols` (no bridges:
//! `{}`).

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::routing::get;
use hearth_types::RoomVersionRules;
use serde_json::{Map, Value, json};

use super::v3_and_r0;
use crate::http::auth::Authenticated;
use crate::http::state::AppState;

/// The discovery routes.
pub fn routes() -> Router<AppState> {
    let router = v3_and_r0(Router::new(), "/capabilities", get(capabilities));
    let router = v3_and_r0(router, "/voip/turnServer", get(turn_server));
    v3_and_r0(router, "/thirdparty/protocols", get(thirdparty_protocols))
}

/// What this server lets clients do; every room version Hearth implements is stable.
async fn capabilities(State(state): State<AppState>, _auth: Authenticated) -> Json<Value> {
    let available: Map<String, Value> = RoomVersionRules::ALL
        .iter()
        .map(|rules| (rules.id.to_owned(), json!("stable")))
        .collect();
    Json(json!({
        "capabilities": {
            "m.change_password": { "enabled": true },
            "m.room_versions": {
                "default": state.default_room_version,
                "available": available,
            },
            "m.set_displayname": { "enabled": true },
            "m.set_avatar_url": { "enabled": true },
            "m.3pid_changes": { "enabled": false },
        }
    }))
}

/// No TURN server is configured: an empty object, which clients read as "no TURN".
async fn turn_server(_auth: Authenticated) -> Json<Value> {
    Json(json!({}))
}

/// No third-party protocols (bridges) are known.
async fn thirdparty_protocols(_auth: Authenticated) -> Json<Value> {
    Json(json!({}))
}
