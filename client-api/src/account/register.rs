//! `POST /register`, `GET /register/available`, `GET /register/m.login.registration_token/validity`.

use serde::{Deserialize, Serialize};

use super::uia::AuthData;

/// Path of registration.
pub const PATH: &str = "/register";
/// Path of the availability check.
pub const AVAILABLE_PATH: &str = "/register/available";
/// Path of the registration-token check.
pub const TOKEN_VALIDITY_PATH: &str = "/register/m.login.registration_token/validity";

/// Body of `POST /register`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisterRequest {
    /// UIA data.
    #[serde(default)]
    pub auth: Option<AuthData>,
    /// Desired localpart.
    #[serde(default)]
    pub username: Option<String>,
    /// Password.
    #[serde(default)]
    pub password: Option<String>,
    /// Device ID for the first login.
    #[serde(default)]
    pub device_id: Option<String>,
    /// Display name of that device.
    #[serde(default)]
    pub initial_device_display_name: Option<String>,
    /// Create the account without logging in.
    #[serde(default)]
    pub inhibit_login: bool,
    /// Whether the client supports refresh tokens (Hearth issues none).
    #[serde(default)]
    pub refresh_token: bool,
}

/// Query of `POST /register`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct RegisterQuery {
    /// `user` (default) or `guest`.
    #[serde(default)]
    pub kind: Option<String>,
}

/// Response of `POST /register` (and of shared-secret registration, which answers the same shape).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisterResponse {
    /// The new user.
    pub user_id: String,
    /// Absent with `inhibit_login`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token: Option<String>,
    /// Absent with `inhibit_login`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_id: Option<String>,
    /// Deprecated server name field older clients read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub home_server: Option<String>,
}

/// Query of the availability check.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct AvailableQuery {
    /// The localpart to check.
    pub username: String,
}

/// Response of the availability check (failures are errors).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AvailableResponse {
    /// Always true.
    pub available: bool,
}

/// Query of the token validity check.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct TokenValidityQuery {
    /// The token to check.
    pub token: String,
}

/// Response of the token validity check.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenValidityResponse {
    /// Whether the token could be used now.
    pub valid: bool,
}
