//! Synapse's shared-secret registration, `GET/POST /_synapse/admin/v1/register`, which provisioning scripts and
//! test suites use to create accounts (enabled by `[registration] shared_secret`).

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::routing::get;
use hearth_client_api::account::register::RegisterResponse;
use serde::Deserialize;
use serde_json::{Value, json};

use super::register::register_response;
use crate::http::json::MatrixJson;
use crate::http::state::AppState;
use crate::services::accounts::{AccountsError, SharedSecretRequest};

/// Path of the endpoint.
pub const PATH: &str = "/_synapse/admin/v1/register";

/// The route.
pub fn routes() -> Router<AppState> {
    Router::new().route(PATH, get(nonce).post(register))
}

/// Body of the `POST`.
#[derive(Debug, Deserialize)]
struct Body {
    nonce: String,
    username: String,
    password: String,
    mac: String,
    #[serde(default)]
    admin: bool,
    #[serde(default)]
    displayname: Option<String>,
}

/// `GET`: `{"nonce": …}`.
async fn nonce(State(state): State<AppState>) -> Result<Json<Value>, AccountsError> {
    let nonce = state.accounts.new_registration_nonce()?;
    Ok(Json(json!({ "nonce": nonce })))
}

/// `POST`: creates the account when nonce and MAC check out.
async fn register(
    State(state): State<AppState>,
    MatrixJson(body): MatrixJson<Body>,
) -> Result<Json<RegisterResponse>, AccountsError> {
    let account = state
        .accounts
        .register_with_shared_secret(&SharedSecretRequest {
            nonce: &body.nonce,
            username: &body.username,
            password: &body.password,
            admin: body.admin,
            displayname: body.displayname.as_deref(),
            mac: &body.mac,
        })
        .await?;
    Ok(Json(register_response(&state, account)))
}
