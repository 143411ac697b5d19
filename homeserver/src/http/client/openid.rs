//! `POST /user/{userId}/openid/request_token`: an OpenID token for the caller, which a third party exchanges
//! for the caller's user ID through `GET /_matrix/federation/v1/openid/userinfo`.

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::routing::post;
use serde_json::{Value, json};

use super::account_data::require_self;
use super::v3_and_r0;
use crate::http::auth::Authenticated;
use crate::http::error::ApiError;
use crate::http::json::MatrixJson;
use crate::http::state::AppState;

/// The OpenID route.
pub fn routes() -> Router<AppState> {
    v3_and_r0(
        Router::new(),
        "/user/{user_id}/openid/request_token",
        post(request_token),
    )
}

/// Issues a token for the caller (only for themselves: 403 `M_FORBIDDEN` for another user's ID). The body is
/// an empty object, reserved by the spec.
async fn request_token(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(user_id): Path<String>,
    MatrixJson(_body): MatrixJson<Value>,
) -> Result<Json<Value>, ApiError> {
    require_self(&auth, &user_id)?;
    let token = state.accounts.request_openid_token(&auth.user_id);
    Ok(Json(json!({
        "access_token": token.access_token,
        "token_type": "Bearer",
        "matrix_server_name": state.server_name.as_str(),
        "expires_in": token.expires_in,
    })))
}
