//! Account endpoints: `/account/whoami`, `/account/password`, `/account/deactivate`; and how the accounts
//! service's errors become responses (a UIA challenge is a 401 with the challenge body).

use axum::Json;
use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use hearth_client_api::account::password::{
    ChangePasswordRequest, DEACTIVATE_PATH, DeactivateRequest, DeactivateResponse, PATH,
};
use hearth_client_api::account::whoami::WhoamiResponse;
use serde_json::{Value, json};

use super::v3_and_r0;
use crate::http::auth::Authenticated;
use crate::http::error::ApiError;
use crate::http::json::MatrixJson;
use crate::http::state::AppState;
use crate::services::accounts::AccountsError;

/// The account routes.
pub fn routes() -> Router<AppState> {
    let router = v3_and_r0(Router::new(), "/account/whoami", get(whoami));
    let router = v3_and_r0(router, PATH, post(change_password));
    v3_and_r0(router, DEACTIVATE_PATH, post(deactivate))
}

impl IntoResponse for AccountsError {
    fn into_response(self) -> Response {
        match self {
            AccountsError::AuthRequired(body) => {
                (StatusCode::UNAUTHORIZED, Json(body)).into_response()
            }
            AccountsError::Matrix(error) => ApiError(error).into_response(),
        }
    }
}

/// `GET /account/whoami`: who the access token belongs to.
async fn whoami(auth: Authenticated) -> Json<WhoamiResponse> {
    Json(WhoamiResponse {
        user_id: auth.user_id.to_string(),
        device_id: auth.device_id.map(|device| device.to_string()),
        is_guest: auth.is_guest,
    })
}

/// `POST /account/password` (UIA: the current password).
async fn change_password(
    axum::extract::State(state): axum::extract::State<AppState>,
    auth: Authenticated,
    MatrixJson(body): MatrixJson<ChangePasswordRequest>,
) -> Result<Json<Value>, AccountsError> {
    state
        .accounts
        .authenticate_user(&auth.user_id, body.auth)
        .await?;
    let deleted = state
        .accounts
        .change_password(
            &auth.user_id,
            &body.new_password,
            body.logout_devices,
            auth.device_id.as_ref(),
        )
        .await?;
    state.e2ee.devices_deleted(&auth.user_id, &deleted).await?;
    Ok(Json(json!({})))
}

/// `POST /account/deactivate` (UIA: the current password): the user leaves every room and rejects every
/// pending invite, so the other members see them go; then the account is closed (logged out everywhere, its ID
/// never reused; with `erase`, its profile removed).
async fn deactivate(
    axum::extract::State(state): axum::extract::State<AppState>,
    auth: Authenticated,
    MatrixJson(body): MatrixJson<DeactivateRequest>,
) -> Result<Json<DeactivateResponse>, AccountsError> {
    state
        .accounts
        .authenticate_user(&auth.user_id, body.auth)
        .await?;
    // Leave first: if that fails the account is still usable and the client can simply retry.
    if let Err(error) = state.rooms.leave_all_rooms(&auth.user_id).await {
        tracing::error!(user = %auth.user_id, %error, "account could not leave its rooms on deactivation");
        return Err(hearth_client_api::MatrixError::internal().into());
    }
    state.accounts.deactivate(&auth.user_id, body.erase).await?;
    Ok(Json(DeactivateResponse {
        id_server_unbind_result: "no-support".to_owned(),
    }))
}
