//! Filter endpoints: `POST /user/{userId}/filter`, `GET /user/{userId}/filter/{filterId}`.

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::routing::{get, post};
use hearth_client_api::sync::filter::CreateFilterResponse;
use serde_json::{Map, Value};

use super::account_data::require_self;
use super::v3_and_r0;
use crate::http::auth::Authenticated;
use crate::http::error::ApiError;
use crate::http::json::MatrixJson;
use crate::http::state::AppState;

/// The filter routes.
pub fn routes() -> Router<AppState> {
    let router = v3_and_r0(Router::new(), "/user/{user_id}/filter", post(create_filter));
    v3_and_r0(
        router,
        "/user/{user_id}/filter/{filter_id}",
        get(get_filter),
    )
}

async fn create_filter(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(user_id): Path<String>,
    MatrixJson(filter): MatrixJson<Map<String, Value>>,
) -> Result<Json<CreateFilterResponse>, ApiError> {
    require_self(&auth, &user_id)?;
    let filter_id = state
        .account_data
        .create_filter(&user_id, &Value::Object(filter))
        .await?;
    Ok(Json(CreateFilterResponse { filter_id }))
}

async fn get_filter(
    State(state): State<AppState>,
    auth: Authenticated,
    Path((user_id, filter_id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    require_self(&auth, &user_id)?;
    Ok(Json(state.account_data.filter(&user_id, &filter_id).await?))
}
