//! Registration endpoints: `POST /register`, `GET /register/available`,
//! `GET /register/m.login.registration_token/validity`.

use axum::Json;
use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::routing::{get, post};
use hearth_client_api::MatrixError;
use hearth_client_api::account::register::{
    AVAILABLE_PATH, AvailableQuery, AvailableResponse, PATH, RegisterQuery, RegisterRequest,
    RegisterResponse, TOKEN_VALIDITY_PATH, TokenValidityQuery, TokenValidityResponse,
};
use hearth_client_api::error::ErrorCode;

use super::v3_and_r0;
use crate::http::json::MatrixJson;
use crate::http::rate_limit::ClientIp;
use crate::http::state::AppState;
use crate::ratelimit::Action;
use crate::services::accounts::{self, AccountsError};

/// The registration routes; the token validity check is a `v1` endpoint (also served under `v3`).
pub fn routes() -> Router<AppState> {
    let router = v3_and_r0(Router::new(), PATH, post(register));
    let router = v3_and_r0(router, AVAILABLE_PATH, get(available));
    router
        .route(
            &format!("/_matrix/client/v1{TOKEN_VALIDITY_PATH}"),
            get(token_validity),
        )
        .route(
            &format!("{}{TOKEN_VALIDITY_PATH}", super::V3),
            get(token_validity),
        )
}

/// A query string that does not fit: 400 `M_MISSING_PARAM` / `M_INVALID_PARAM`.
pub fn query_error(rejection: &QueryRejection) -> MatrixError {
    let message = rejection.body_text();
    let code = if message.contains("missing field") {
        ErrorCode::MissingParam
    } else {
        ErrorCode::InvalidParam
    };
    MatrixError::new(code, message)
}

/// `POST /register`. Limited per client IP: an address that created `registration.burst_count` accounts
/// recently is refused (429) until its bucket refills; UIA round trips that create nothing are not counted.
async fn register(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    query: Result<Query<RegisterQuery>, QueryRejection>,
    MatrixJson(body): MatrixJson<RegisterRequest>,
) -> Result<Json<RegisterResponse>, AccountsError> {
    let Query(query) = query.map_err(|rejection| query_error(&rejection))?;
    let guest = match query.kind.as_deref() {
        None | Some("user") => false,
        Some("guest") => true,
        Some(other) => {
            return Err(MatrixError::new(
                ErrorCode::InvalidParam,
                format!("Unknown account kind `{other}`"),
            )
            .into());
        }
    };
    let ip = ip.to_string();
    state.rate_limiter.check(Action::Registration, &ip)?;
    let account = state
        .accounts
        .register(accounts::RegisterRequest {
            username: body.username,
            password: body.password,
            device_id: body.device_id,
            initial_device_display_name: body.initial_device_display_name,
            inhibit_login: body.inhibit_login,
            auth: body.auth,
            guest,
        })
        .await?;
    state.rate_limiter.record(Action::Registration, &ip);
    Ok(Json(register_response(&state, account)))
}

/// The response shape shared with shared-secret registration.
pub fn register_response(state: &AppState, account: accounts::NewAccount) -> RegisterResponse {
    let (access_token, device_id) = match account.session {
        Some(session) => (Some(session.access_token), Some(session.device_id)),
        None => (None, None),
    };
    RegisterResponse {
        user_id: account.user_id.to_string(),
        access_token,
        device_id,
        home_server: Some(state.server_name.to_string()),
    }
}

/// `GET /register/available?username=`.
async fn available(
    State(state): State<AppState>,
    query: Result<Query<AvailableQuery>, QueryRejection>,
) -> Result<Json<AvailableResponse>, AccountsError> {
    let Query(query) = query.map_err(|rejection| query_error(&rejection))?;
    state.accounts.username_available(&query.username).await?;
    Ok(Json(AvailableResponse { available: true }))
}

/// `GET /register/m.login.registration_token/validity?token=`.
async fn token_validity(
    State(state): State<AppState>,
    query: Result<Query<TokenValidityQuery>, QueryRejection>,
) -> Result<Json<TokenValidityResponse>, AccountsError> {
    let Query(query) = query.map_err(|rejection| query_error(&rejection))?;
    let valid = state
        .accounts
        .registration_token_valid(&query.token)
        .await?;
    Ok(Json(TokenValidityResponse { valid }))
}
