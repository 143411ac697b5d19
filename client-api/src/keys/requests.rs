//! Request bodies of the key endpoints (`/keys/upload`, `/keys/query`, `/keys/claim`, `/sendToDevice`,
//! `/keys/device_signing/upload`, `/keys/signatures/upload`, `/room_keys/*`). Key objects stay
//! [`serde_json::Value`]: they are signed, so the server stores them as sent.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::account::uia::AuthData;

/// `POST /keys/upload`.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct UploadKeysRequest {
    /// The device's identity keys, signed by the device.
    #[serde(default)]
    pub device_keys: Option<Value>,
    /// New one-time keys: `<algorithm>:<key id>` → key (a string or a signed object).
    #[serde(default)]
    pub one_time_keys: Option<Map<String, Value>>,
    /// New fallback keys, same shape; replaces the fallback key of each algorithm.
    #[serde(default)]
    pub fallback_keys: Option<Map<String, Value>>,
    /// The unstable name of `fallback_keys` (MSC2732) that older clients still send.
    #[serde(default, rename = "org.matrix.msc2732.fallback_keys")]
    pub unstable_fallback_keys: Option<Map<String, Value>>,
}

/// `POST /keys/query` (and the federation `/user/keys/query`).
#[derive(Clone, Debug, Default, Deserialize)]
pub struct QueryKeysRequest {
    /// User → device IDs wanted (empty: all devices).
    pub device_keys: BTreeMap<String, Vec<String>>,
    /// How long to wait for remote servers, in ms.
    #[serde(default)]
    pub timeout: Option<u64>,
}

/// `POST /keys/claim` (and the federation `/user/keys/claim`).
#[derive(Clone, Debug, Default, Deserialize)]
pub struct ClaimKeysRequest {
    /// User → device → algorithm.
    pub one_time_keys: BTreeMap<String, BTreeMap<String, String>>,
    /// How long to wait for remote servers, in ms.
    #[serde(default)]
    pub timeout: Option<u64>,
}

/// `PUT /sendToDevice/{eventType}/{txnId}`.
#[derive(Clone, Debug, Deserialize)]
pub struct SendToDeviceRequest {
    /// User → device ID (or `*` for every device) → content.
    pub messages: BTreeMap<String, BTreeMap<String, Value>>,
}

/// `POST /keys/device_signing/upload`.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct UploadSigningKeysRequest {
    /// The master key.
    #[serde(default)]
    pub master_key: Option<Value>,
    /// The self-signing key, signed by the master key.
    #[serde(default)]
    pub self_signing_key: Option<Value>,
    /// The user-signing key, signed by the master key.
    #[serde(default)]
    pub user_signing_key: Option<Value>,
    /// User-interactive authentication.
    #[serde(default)]
    pub auth: Option<AuthData>,
}

/// `POST /room_keys/version` and `PUT /room_keys/version/{version}`.
#[derive(Clone, Debug, Deserialize)]
pub struct BackupVersionRequest {
    /// The backup algorithm.
    pub algorithm: String,
    /// Algorithm-dependent data (an object).
    pub auth_data: Map<String, Value>,
    /// On update: if present, must equal the version in the path.
    #[serde(default)]
    pub version: Option<String>,
}
