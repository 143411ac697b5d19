//! `PUT /sendToDevice/{eventType}/{txnId}`: send-to-device messaging.

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::routing::put;
use hearth_client_api::keys::requests::SendToDeviceRequest;
use serde_json::{Value, json};

use super::keys::caller_device;
use super::v3_and_r0;
use crate::http::auth::Authenticated;
use crate::http::error::ApiError;
use crate::http::json::MatrixJson;
use crate::http::state::AppState;
use crate::services::e2ee::SendToDevice;

/// The send-to-device route.
pub fn routes() -> Router<AppState> {
    v3_and_r0(
        Router::new(),
        "/sendToDevice/{event_type}/{txn_id}",
        put(send_to_device),
    )
}

async fn send_to_device(
    State(state): State<AppState>,
    auth: Authenticated,
    Path((event_type, txn_id)): Path<(String, String)>,
    MatrixJson(body): MatrixJson<SendToDeviceRequest>,
) -> Result<Json<Value>, ApiError> {
    let device = caller_device(&auth)?;
    state
        .e2ee
        .send_to_device(&SendToDevice {
            sender: &auth.user_id,
            sender_device: device,
            txn_id: &txn_id,
            event_type: &event_type,
            messages: &body.messages,
        })
        .await?;
    Ok(Json(json!({})))
}
