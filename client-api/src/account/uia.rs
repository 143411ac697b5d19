//! User-interactive authentication: the `auth` object clients send with protected requests.

use serde::{Deserialize, Serialize};

/// The `auth` object of a request protected by user-interactive auth (the fields of the stages Hearth offers:
/// `m.login.dummy`, `m.login.password`, `m.login.registration_token`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthData {
    /// Stage type being attempted; absent when the client only names its session.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// The UIA session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
    /// `m.login.password`: who (modern form).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identifier: Option<UserIdentifier>,
    /// `m.login.password`: who (legacy form).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// `m.login.password`: the password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// `m.login.registration_token`: the token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

/// A login identifier (`m.id.user`, `m.id.thirdparty`, `m.id.phone`); Hearth resolves only `m.id.user`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserIdentifier {
    /// The identifier type.
    #[serde(rename = "type")]
    pub kind: String,
    /// For `m.id.user`: a localpart or a full user ID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
}
