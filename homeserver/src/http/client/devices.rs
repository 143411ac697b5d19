//! Device endpoints: `GET /devices`, `GET/PUT/DELETE /devices/{deviceId}`, `POST /delete_devices`.

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::routing::{get, post};
use hearth_client_api::account::devices::{
    DELETE_DEVICES_PATH, DeleteDeviceRequest, DeleteDevicesRequest, DeviceInfo, DevicesResponse,
    PATH, UpdateDeviceRequest,
};
use serde_json::{Value, json};

use super::v3_and_r0;
use crate::http::auth::Authenticated;
use crate::http::json::MatrixJson;
use crate::http::state::AppState;
use crate::services::accounts::AccountsError;
use crate::storage::Device;

/// The device routes.
pub fn routes() -> Router<AppState> {
    let router = v3_and_r0(Router::new(), PATH, get(list));
    let router = v3_and_r0(
        router,
        &format!("{PATH}/{{device_id}}"),
        get(get_one).put(update).delete(delete_one),
    );
    v3_and_r0(router, DELETE_DEVICES_PATH, post(delete_many))
}

fn info(device: Device) -> DeviceInfo {
    DeviceInfo {
        device_id: device.device_id,
        display_name: device.display_name,
        last_seen_ip: device.last_seen_ip,
        last_seen_ts: device.last_seen_ts,
    }
}

/// `GET /devices`.
async fn list(
    State(state): State<AppState>,
    auth: Authenticated,
) -> Result<Json<DevicesResponse>, AccountsError> {
    let devices = state.accounts.devices(&auth.user_id).await?;
    Ok(Json(DevicesResponse {
        devices: devices.into_iter().map(info).collect(),
    }))
}

/// `GET /devices/{deviceId}`.
async fn get_one(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(device_id): Path<String>,
) -> Result<Json<DeviceInfo>, AccountsError> {
    let device = state.accounts.device(&auth.user_id, &device_id).await?;
    Ok(Json(info(device)))
}

/// `PUT /devices/{deviceId}`.
async fn update(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(device_id): Path<String>,
    MatrixJson(body): MatrixJson<UpdateDeviceRequest>,
) -> Result<Json<Value>, AccountsError> {
    state
        .accounts
        .rename_device(&auth.user_id, &device_id, body.display_name.as_deref())
        .await?;
    Ok(Json(json!({})))
}

/// `DELETE /devices/{deviceId}` (UIA).
async fn delete_one(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(device_id): Path<String>,
    MatrixJson(body): MatrixJson<DeleteDeviceRequest>,
) -> Result<Json<Value>, AccountsError> {
    state.accounts.device(&auth.user_id, &device_id).await?;
    state
        .accounts
        .authenticate_user(&auth.user_id, body.auth)
        .await?;
    state
        .accounts
        .delete_devices(&auth.user_id, std::slice::from_ref(&device_id))
        .await?;
    state
        .e2ee
        .devices_deleted(&auth.user_id, &[device_id])
        .await?;
    Ok(Json(json!({})))
}

/// `POST /delete_devices` (UIA).
async fn delete_many(
    State(state): State<AppState>,
    auth: Authenticated,
    MatrixJson(body): MatrixJson<DeleteDevicesRequest>,
) -> Result<Json<Value>, AccountsError> {
    state
        .accounts
        .authenticate_user(&auth.user_id, body.auth)
        .await?;
    state
        .accounts
        .delete_devices(&auth.user_id, &body.devices)
        .await?;
    state
        .e2ee
        .devices_deleted(&auth.user_id, &body.devices)
        .await?;
    Ok(Json(json!({})))
}
