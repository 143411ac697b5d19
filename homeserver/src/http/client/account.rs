//! Account endpoints: `/account/whoami`.

use axum::Json;
use axum::Router;
use axum::routing::get;
use hearth_client_api::account::whoami::WhoamiResponse;

use super::v3_and_r0;
use crate::http::auth::Authenticated;
use crate::http::state::AppState;

/// The account routes.
pub fn routes() -> Router<AppState> {
    v3_and_r0(Router::new(), "/account/whoami", get(whoami))
}

/// `GET /account/whoami`: who the access token belongs to.
async fn whoami(auth: Authenticated) -> Json<WhoamiResponse> {
    Json(WhoamiResponse {
        user_id: auth.user_id.to_string(),
        device_id: auth.device_id.map(|device| device.to_string()),
        is_guest: auth.is_guest,
    })
}
