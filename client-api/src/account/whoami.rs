//! `GET /_matrix/client/v3/account/whoami` — who owns the presented access token.

use serde::{Deserialize, Serialize};

/// Path below the client API prefix.
pub const PATH: &str = "/account/whoami";

/// Response body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WhoamiResponse {
    /// The token owner's full user ID.
    pub user_id: String,
    /// The token's device, absent for tokens without one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_id: Option<String>,
    /// Whether the owner is a guest.
    #[serde(default)]
    pub is_guest: bool,
}
