//! `GET /openid/userinfo`: who issued an OpenID token (the only federation endpoint without X-Matrix: the
//! caller is any third party holding a token a local user requested).

use axum::Json;
use axum::Router;
use axum::extract::{RawQuery, State};
use axum::routing::get;
use hearth_client_api::MatrixError;
use hearth_client_api::error::ErrorCode;
use serde_json::{Value, json};

use super::V1;
use super::events::query_values;
use crate::http::error::ApiError;
use crate::http::state::AppState;

pub(super) fn routes() -> Router<AppState> {
    Router::new().route(&format!("{V1}/openid/userinfo"), get(userinfo))
}

/// `{"sub": <user ID>}` for a live token; 401 `M_UNKNOWN_TOKEN` for a missing, unknown or expired one.
async fn userinfo(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let owner = query_values(query.as_deref(), "access_token")
        .into_iter()
        .next()
        .and_then(|token| state.accounts.openid_token_owner(&token));
    match owner {
        Some(user) => Ok(Json(json!({ "sub": user.as_str() }))),
        None => Err(ApiError(
            MatrixError::new(ErrorCode::UnknownToken, "Access token unknown or expired")
                .with_status(401),
        )),
    }
}
