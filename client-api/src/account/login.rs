//! `GET/POST /login`, `POST /logout`, `POST /logout/all`.

use serde::{Deserialize, Serialize};

use super::uia::UserIdentifier;

/// Path of login.
pub const PATH: &str = "/login";
/// Path of logout.
pub const LOGOUT_PATH: &str = "/logout";
/// Path of logout everywhere.
pub const LOGOUT_ALL_PATH: &str = "/logout/all";

/// One login type `GET /login` offers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginFlow {
    /// E.g. `m.login.password`.
    #[serde(rename = "type")]
    pub kind: String,
}

/// Response of `GET /login`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginFlowsResponse {
    /// The offered types.
    pub flows: Vec<LoginFlow>,
}

/// Body of `POST /login`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginRequest {
    /// `m.login.password` or `org.matrix.login.jwt`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Who (`m.login.password`).
    #[serde(default)]
    pub identifier: Option<UserIdentifier>,
    /// Who, legacy form.
    #[serde(default)]
    pub user: Option<String>,
    /// The password.
    #[serde(default)]
    pub password: Option<String>,
    /// The JWT (`org.matrix.login.jwt`).
    #[serde(default)]
    pub token: Option<String>,
    /// Reuse this device.
    #[serde(default)]
    pub device_id: Option<String>,
    /// Name of a newly created device.
    #[serde(default)]
    pub initial_device_display_name: Option<String>,
    /// Whether the client supports refresh tokens (Hearth issues none).
    #[serde(default)]
    pub refresh_token: bool,
}

/// Response of `POST /login`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginResponse {
    /// Who logged in.
    pub user_id: String,
    /// The new token.
    pub access_token: String,
    /// The device.
    pub device_id: String,
    /// Deprecated server name field older clients read.
    pub home_server: String,
}
