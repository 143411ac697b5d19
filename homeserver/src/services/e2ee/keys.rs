//! `/keys/upload`, `/keys/query`, `/keys/claim`: device keys, one-time keys and fallback keys of local users,
//! and the query answer with cross-signing keys and the signatures the requester may see.

use std::collections::BTreeMap;

use hearth_client_api::keys::signed_keys::check_device_keys;
use hearth_types::{DeviceId, UserId};
use serde_json::{Map, Value, json};

use super::error::{bad_json, invalid_param, parse_stored};
use super::federation::remote_timeout;
use super::{E2eeService, Result};
use crate::storage::{DeviceWithKeys, KeySignature, StorageError, UploadedKey};

pub use hearth_client_api::keys::requests::{
    ClaimKeysRequest as ClaimRequest, QueryKeysRequest as QueryRequest,
    UploadKeysRequest as UploadRequest,
};

/// Most one-time or fallback keys one upload may carry.
const MAX_KEYS_PER_UPLOAD: usize = 1000;
/// Most users one query or claim may name.
pub(super) const MAX_USERS_PER_REQUEST: usize = 1000;
/// Most devices of one user one claim may name.
const MAX_DEVICES_PER_USER: usize = 1000;
/// The algorithm clients count their one-time keys by; always reported, also at zero, as clients expect.
const SIGNED_CURVE25519: &str = "signed_curve25519";

/// Splits `<algorithm>:<key id>`.
fn parse_key_name(name: &str, key: &Value) -> Result<UploadedKey> {
    let (algorithm, key_id) = name
        .split_once(':')
        .filter(|(algorithm, key_id)| !algorithm.is_empty() && !key_id.is_empty())
        .ok_or_else(|| invalid_param(format!("key name {name:?} is not <algorithm>:<key id>")))?;
    if !(key.is_string() || key.is_object()) {
        return Err(bad_json(format!(
            "key {name:?} must be a string or an object"
        )));
    }
    Ok(UploadedKey {
        algorithm: algorithm.to_owned(),
        key_id: key_id.to_owned(),
        key_json: key.to_string(),
    })
}

fn parse_keys(keys: &Map<String, Value>) -> Result<Vec<UploadedKey>> {
    if keys.len() > MAX_KEYS_PER_UPLOAD {
        return Err(invalid_param(format!(
            "at most {MAX_KEYS_PER_UPLOAD} keys per upload"
        )));
    }
    keys.iter()
        .map(|(name, key)| parse_key_name(name, key))
        .collect()
}

impl E2eeService {
    /// `POST /keys/upload` for the caller's device: stores its device keys (which must be its own and
    /// self-signed), one-time keys and fallback keys; returns the one-time key counts per algorithm.
    pub async fn upload_keys(
        &self,
        user: &UserId,
        device: &DeviceId,
        request: &UploadRequest,
    ) -> Result<BTreeMap<String, i64>> {
        let one_time = request
            .one_time_keys
            .as_ref()
            .map(parse_keys)
            .transpose()?
            .unwrap_or_default();
        let fallback = request
            .fallback_keys
            .as_ref()
            .or(request.unstable_fallback_keys.as_ref())
            .map(parse_keys)
            .transpose()?
            .unwrap_or_default();
        let mut fallback_algorithms: Vec<&str> =
            fallback.iter().map(|k| k.algorithm.as_str()).collect();
        fallback_algorithms.sort_unstable();
        if fallback_algorithms
            .windows(2)
            .any(|pair| pair[0] == pair[1])
        {
            return Err(invalid_param("at most one fallback key per algorithm"));
        }
        if let Some(device_keys) = &request.device_keys {
            check_device_keys(device_keys, user.as_str(), device.as_str())?;
            let changed = self
                .storage
                .set_device_keys(user.as_str(), device.as_str(), &device_keys.to_string())
                .await?;
            if changed.is_some() {
                self.notify_device_list_change(user.as_str()).await?;
                self.publish_device_change(user, device.as_str()).await?;
            }
        }
        if !one_time.is_empty() {
            match self
                .storage
                .add_one_time_keys(user.as_str(), device.as_str(), &one_time)
                .await
            {
                Ok(()) => {}
                Err(StorageError::Conflict(_)) => {
                    return Err(invalid_param(
                        "a one-time key with this ID was already uploaded with different content",
                    ));
                }
                Err(error) => return Err(error.into()),
            }
        }
        if !fallback.is_empty() {
            self.storage
                .set_fallback_keys(user.as_str(), device.as_str(), &fallback)
                .await?;
        }
        self.one_time_key_counts(user, device).await
    }

    /// Unclaimed one-time keys of a device per algorithm, with `signed_curve25519` always present.
    pub async fn one_time_key_counts(
        &self,
        user: &UserId,
        device: &DeviceId,
    ) -> Result<BTreeMap<String, i64>> {
        let mut counts = self
            .storage
            .one_time_key_counts(user.as_str(), device.as_str())
            .await?;
        counts.entry(SIGNED_CURVE25519.to_owned()).or_insert(0);
        Ok(counts)
    }

    /// Algorithms with an unused fallback key on the device.
    pub async fn unused_fallback_key_types(
        &self,
        user: &UserId,
        device: &DeviceId,
    ) -> Result<Vec<String>> {
        Ok(self
            .storage
            .unused_fallback_key_types(user.as_str(), device.as_str())
            .await?)
    }

    /// `POST /keys/query`: keys of local users, and of remote users from their servers; a server that
    /// cannot be asked is listed in `failures`.
    pub async fn query_keys(
        &self,
        requester: &str,
        request: &QueryRequest,
    ) -> Result<Map<String, Value>> {
        if request.device_keys.len() > MAX_USERS_PER_REQUEST {
            return Err(invalid_param(format!(
                "at most {MAX_USERS_PER_REQUEST} users per query"
            )));
        }
        let mut response = self
            .query_local_keys(Some(requester), &request.device_keys)
            .await?;
        let mut failures = Map::new();
        self.query_remote_keys(
            requester,
            &request.device_keys,
            remote_timeout(request.timeout),
            &mut response,
            &mut failures,
        )
        .await?;
        response.insert("failures".to_owned(), Value::Object(failures));
        Ok(response)
    }

    /// `POST /keys/claim`: one key per requested device, from local storage or the user's server.
    pub async fn claim_keys(&self, request: &ClaimRequest) -> Result<Map<String, Value>> {
        if request.one_time_keys.len() > MAX_USERS_PER_REQUEST {
            return Err(invalid_param(format!(
                "at most {MAX_USERS_PER_REQUEST} users per claim"
            )));
        }
        let mut claimed = self.claim_local_keys(&request.one_time_keys).await?;
        let mut failures = Map::new();
        self.claim_remote_keys(
            &request.one_time_keys,
            remote_timeout(request.timeout),
            &mut claimed,
            &mut failures,
        )
        .await;
        let mut response = Map::new();
        response.insert("one_time_keys".to_owned(), Value::Object(claimed));
        response.insert("failures".to_owned(), Value::Object(failures));
        Ok(response)
    }

    /// The keys of local users for `/keys/query` (client: `requester` is the asking user; federation: `None`,
    /// which sees no user-signing keys and no signatures made with them). Returns the response members
    /// `device_keys`, `master_keys`, `self_signing_keys`, `user_signing_keys`.
    pub async fn query_local_keys(
        &self,
        requester: Option<&str>,
        wanted: &BTreeMap<String, Vec<String>>,
    ) -> Result<Map<String, Value>> {
        let mut found = KeyMaps::default();
        for (user_id, device_ids) in wanted {
            if !self.is_local(user_id) {
                continue;
            }
            let devices = self.storage.devices_with_keys(user_id).await?;
            self.add_user_keys(requester, user_id, device_ids, devices, &mut found)
                .await?;
        }
        let mut response = Map::new();
        response.insert("device_keys".to_owned(), Value::Object(found.device_keys));
        response.insert("master_keys".to_owned(), Value::Object(found.master_keys));
        response.insert(
            "self_signing_keys".to_owned(),
            Value::Object(found.self_signing_keys),
        );
        if requester.is_some() {
            response.insert(
                "user_signing_keys".to_owned(),
                Value::Object(found.user_signing_keys),
            );
        }
        Ok(response)
    }

    /// Adds `user_id`'s `devices` (all when `device_ids` is empty) and stored cross-signing keys to `found`, with
    /// the stored signatures `requester` may see. Local users' devices come from their uploads, remote users'
    /// from the device-list cache.
    pub(super) async fn add_user_keys(
        &self,
        requester: Option<&str>,
        user_id: &str,
        device_ids: &[String],
        devices: Vec<DeviceWithKeys>,
        found: &mut KeyMaps,
    ) -> Result<()> {
        let signatures = self.storage.key_signatures_of(user_id).await?;
        // Signatures over a user's keys are public when the user made them (device ↔ master,
        // self-signing → devices); a signature by someone else's user-signing key only to that someone.
        let visible = |signature: &&KeySignature| {
            signature.signer_user_id == user_id
                || requester == Some(signature.signer_user_id.as_str())
        };
        let mut by_device = Map::new();
        for device in devices {
            let Some(key_json) = device.key_json else {
                continue;
            };
            if !device_ids.is_empty() && !device_ids.contains(&device.device_id) {
                continue;
            }
            let mut keys: Value = parse_stored(&key_json)?;
            merge_signatures(
                &mut keys,
                signatures
                    .iter()
                    .filter(|s| s.target_key_id == device.device_id)
                    .filter(visible),
            );
            if let Some(object) = keys.as_object_mut() {
                let unsigned = object.entry("unsigned").or_insert_with(|| json!({}));
                if let (Some(unsigned), Some(name)) =
                    (unsigned.as_object_mut(), device.display_name)
                {
                    unsigned.insert("device_display_name".to_owned(), json!(name));
                }
            }
            by_device.insert(device.device_id, keys);
        }
        found
            .device_keys
            .insert(user_id.to_owned(), Value::Object(by_device));
        for key in self.storage.cross_signing_keys(user_id).await? {
            let mut value: Value = parse_stored(&key.key_json)?;
            merge_signatures(
                &mut value,
                signatures
                    .iter()
                    .filter(|s| s.target_key_id == key.public_key)
                    .filter(visible),
            );
            let map = match key.key_type.as_str() {
                "master" => &mut found.master_keys,
                "self_signing" => &mut found.self_signing_keys,
                "user_signing" if requester == Some(user_id) => &mut found.user_signing_keys,
                _ => continue,
            };
            map.insert(user_id.to_owned(), value);
        }
        Ok(())
    }

    /// Claims one key per requested device of local users: a one-time key, else the fallback key. Devices
    /// without either are left out, as the spec asks. Returns `one_time_keys`.
    pub async fn claim_local_keys(
        &self,
        wanted: &BTreeMap<String, BTreeMap<String, String>>,
    ) -> Result<Map<String, Value>> {
        let mut claimed = Map::new();
        for (user_id, devices) in wanted {
            if !self.is_local(user_id) {
                continue;
            }
            if devices.len() > MAX_DEVICES_PER_USER {
                return Err(invalid_param(format!(
                    "at most {MAX_DEVICES_PER_USER} devices per user"
                )));
            }
            let mut per_device = Map::new();
            for (device_id, algorithm) in devices {
                let Some((key_id, key_json)) = self
                    .storage
                    .claim_key(user_id, device_id, algorithm)
                    .await?
                else {
                    continue;
                };
                let key: Value = parse_stored(&key_json)?;
                per_device.insert(
                    device_id.clone(),
                    json!({ format!("{algorithm}:{key_id}"): key }),
                );
            }
            if !per_device.is_empty() {
                claimed.insert(user_id.clone(), Value::Object(per_device));
            }
        }
        Ok(claimed)
    }
}

/// The key members of a `/keys/query` answer, per user.
#[derive(Debug, Default)]
pub(super) struct KeyMaps {
    pub device_keys: Map<String, Value>,
    pub master_keys: Map<String, Value>,
    pub self_signing_keys: Map<String, Value>,
    pub user_signing_keys: Map<String, Value>,
}

/// Adds stored signatures to a key object's `signatures`, keeping the ones it already carries.
pub(super) fn merge_signatures<'a>(
    key: &mut Value,
    signatures: impl Iterator<Item = &'a KeySignature>,
) {
    let Some(object) = key.as_object_mut() else {
        return;
    };
    let all = object.entry("signatures").or_insert_with(|| json!({}));
    let Some(all) = all.as_object_mut() else {
        return;
    };
    for signature in signatures {
        let by_signer = all
            .entry(signature.signer_user_id.clone())
            .or_insert_with(|| json!({}));
        if let Some(by_signer) = by_signer.as_object_mut() {
            by_signer.insert(signature.signer_key_id.clone(), json!(signature.signature));
        }
    }
}
