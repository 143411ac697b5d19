//! Login endpoints: `GET/POST /login`, `POST /logout`, `POST /logout/all`.

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::routing::{get, post};
use hearth_client_api::MatrixError;
use hearth_client_api::account::login::{
    LOGOUT_ALL_PATH, LOGOUT_PATH, LoginFlow, LoginFlowsResponse, LoginRequest, LoginResponse, PATH,
};
use hearth_client_api::error::ErrorCode;
use serde_json::{Value, json};

use super::v3_and_r0;
use crate::http::auth::Authenticated;
use crate::http::json::MatrixJson;
use crate::http::rate_limit::ClientIp;
use crate::http::state::AppState;
use crate::ratelimit::Action;
use crate::services::accounts::AccountsError;

/// The login routes.
pub fn routes() -> Router<AppState> {
    let router = v3_and_r0(Router::new(), PATH, get(login_flows).post(login));
    let router = v3_and_r0(router, LOGOUT_PATH, post(logout));
    v3_and_r0(router, LOGOUT_ALL_PATH, post(logout_all))
}

/// `GET /login`: the login types offered.
async fn login_flows(State(state): State<AppState>) -> Json<LoginFlowsResponse> {
    Json(LoginFlowsResponse {
        flows: state
            .accounts
            .login_types()
            .into_iter()
            .map(|kind| LoginFlow {
                kind: kind.to_owned(),
            })
            .collect(),
    })
}

/// `POST /login`. Every attempt counts against the client IP and (for passwords) the account; failed
/// password attempts also against the account's failure bucket, which refuses further attempts while empty.
async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    MatrixJson(body): MatrixJson<LoginRequest>,
) -> Result<Json<LoginResponse>, AccountsError> {
    let accounts = &state.accounts;
    let limiter = &state.rate_limiter;
    limiter.acquire(Action::LoginAddress, &ip.to_string())?;
    let device_id = body.device_id.as_deref();
    let display_name = body.initial_device_display_name.as_deref();
    let result = match body.kind.as_str() {
        "m.login.password" => {
            let password = body
                .password
                .as_deref()
                .ok_or_else(|| MatrixError::new(ErrorCode::MissingParam, "Missing password"))?;
            let typed = body
                .identifier
                .as_ref()
                .and_then(|identifier| identifier.user.as_deref())
                .or(body.user.as_deref())
                .unwrap_or_default();
            let account = accounts
                .resolve_user(typed)
                .map_or_else(|| typed.to_lowercase(), |user| user.to_string());
            limiter.acquire(Action::LoginAccount, &account)?;
            limiter.check(Action::LoginFailure, &account)?;
            let result = accounts
                .login_password(
                    body.identifier.as_ref(),
                    body.user.as_deref(),
                    password,
                    device_id,
                    display_name,
                )
                .await;
            if let Err(AccountsError::Matrix(error)) = &result
                && error.errcode == ErrorCode::Forbidden
            {
                limiter.record(Action::LoginFailure, &account);
            }
            result?
        }
        "org.matrix.login.jwt" => {
            let token = body
                .token
                .as_deref()
                .ok_or_else(|| MatrixError::new(ErrorCode::MissingParam, "Missing token"))?;
            accounts.login_jwt(token, device_id, display_name).await?
        }
        _ => {
            return Err(MatrixError::new(ErrorCode::Unknown, "Unknown login type")
                .with_status(400)
                .into());
        }
    };
    Ok(Json(LoginResponse {
        user_id: result.user_id.to_string(),
        access_token: result.session.access_token,
        device_id: result.session.device_id,
        home_server: state.server_name.to_string(),
    }))
}

/// `POST /logout`: this token and its device.
async fn logout(
    State(state): State<AppState>,
    auth: Authenticated,
) -> Result<Json<Value>, AccountsError> {
    state
        .accounts
        .logout(&auth.user_id, auth.device_id.as_ref(), &auth.token_hash)
        .await?;
    if let Some(device) = &auth.device_id {
        state
            .e2ee
            .devices_deleted(&auth.user_id, &[device.as_str().to_owned()])
            .await?;
    }
    Ok(Json(json!({})))
}

/// `POST /logout/all`: every token and device of the user.
async fn logout_all(
    State(state): State<AppState>,
    auth: Authenticated,
) -> Result<Json<Value>, AccountsError> {
    let deleted = state.accounts.logout_all(&auth.user_id).await?;
    state.e2ee.devices_deleted(&auth.user_id, &deleted).await?;
    Ok(Json(json!({})))
}
