//! `GET /devices`, `GET/PUT/DELETE /devices/{deviceId}`, `POST /delete_devices`.

use serde::{Deserialize, Serialize};

use super::uia::AuthData;

/// Path of the device list.
pub const PATH: &str = "/devices";
/// Path of the bulk deletion.
pub const DELETE_DEVICES_PATH: &str = "/delete_devices";

/// One device as clients see it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceInfo {
    /// The device ID.
    pub device_id: String,
    /// Its name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Last IP it was seen from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seen_ip: Option<String>,
    /// When it was last seen (ms since the epoch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seen_ts: Option<i64>,
}

/// Response of `GET /devices`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DevicesResponse {
    /// Every device of the user.
    pub devices: Vec<DeviceInfo>,
}

/// Body of `PUT /devices/{deviceId}`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateDeviceRequest {
    /// New name; absent leaves it unchanged.
    #[serde(default)]
    pub display_name: Option<String>,
}

/// Body of `DELETE /devices/{deviceId}`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteDeviceRequest {
    /// UIA data.
    #[serde(default)]
    pub auth: Option<AuthData>,
}

/// Body of `POST /delete_devices`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteDevicesRequest {
    /// UIA data.
    #[serde(default)]
    pub auth: Option<AuthData>,
    /// Devices to delete.
    pub devices: Vec<String>,
}
