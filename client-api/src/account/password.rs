//! `POST /account/password` and `POST /account/deactivate`.

use serde::{Deserialize, Serialize};

use super::uia::AuthData;

/// Path of the password change.
pub const PATH: &str = "/account/password";
/// Path of deactivation.
pub const DEACTIVATE_PATH: &str = "/account/deactivate";

/// Body of `POST /account/password`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangePasswordRequest {
    /// UIA data.
    #[serde(default)]
    pub auth: Option<AuthData>,
    /// The new password.
    pub new_password: String,
    /// Log out every other device (default true).
    #[serde(default = "default_true")]
    pub logout_devices: bool,
}

fn default_true() -> bool {
    true
}

/// Body of `POST /account/deactivate`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeactivateRequest {
    /// UIA data.
    #[serde(default)]
    pub auth: Option<AuthData>,
    /// Whether to erase the user's data as well (Hearth removes the profile; events stay).
    #[serde(default)]
    pub erase: bool,
}

/// Response of `POST /account/deactivate`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeactivateResponse {
    /// Hearth never binds third-party IDs, so always `no-support`.
    pub id_server_unbind_result: String,
}
