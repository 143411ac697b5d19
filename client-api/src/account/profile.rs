//! `GET /profile/{userId}`, `GET/PUT /profile/{userId}/displayname`, `GET/PUT /profile/{userId}/avatar_url`.

use serde::{Deserialize, Serialize};

/// A user's profile (also the body of the per-field `GET`s, with one field present).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileResponse {
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub displayname: Option<String>,
    /// `mxc://` avatar URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avatar_url: Option<String>,
}

/// Body of `PUT /profile/{userId}/displayname`; `null` or absent clears it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetDisplaynameRequest {
    /// The new display name.
    #[serde(default)]
    pub displayname: Option<String>,
}

/// Body of `PUT /profile/{userId}/avatar_url`; `null` or absent clears it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetAvatarUrlRequest {
    /// The new avatar URL.
    #[serde(default)]
    pub avatar_url: Option<String>,
}
