//! Cross-signing: `POST /keys/device_signing/upload` (the user's master, self-signing and user-signing keys)
//! and `POST /keys/signatures/upload` (signatures over the user's own devices and master key, and over other
//! users' master keys). Every signature is verified before it is stored.

use hearth_client_api::keys::requests::UploadSigningKeysRequest;
use hearth_client_api::keys::signed_keys::{
    check_cross_signing_key, device_ed25519_key, has_valid_signature,
};
use hearth_types::UserId;
use serde_json::{Map, Value, json};

use super::error::{invalid_param, parse_stored};
use super::{E2eeService, Result};
use crate::storage::{CrossSigningKey, KeySignature};

/// Most keys one signatures upload may name.
const MAX_SIGNED_OBJECTS: usize = 1000;

/// The three cross-signing key types with the request field of each.
const KEY_TYPES: [&str; 3] = ["master", "self_signing", "user_signing"];

impl E2eeService {
    /// Whether this upload needs user-interactive auth: only when it would replace keys the user already has
    /// (spec v1.11: the first upload, and repeating the stored keys exactly, need none).
    pub async fn signing_keys_upload_needs_auth(
        &self,
        user: &UserId,
        request: &UploadSigningKeysRequest,
    ) -> Result<bool> {
        let stored = self.storage.cross_signing_keys(user.as_str()).await?;
        if !stored.iter().any(|key| key.key_type == "master") {
            return Ok(false);
        }
        for (key_type, uploaded) in KEY_TYPES.iter().zip(uploaded_keys(request)) {
            let Some(uploaded) = uploaded else {
                continue;
            };
            let same = stored.iter().any(|key| {
                key.key_type == *key_type
                    && serde_json::from_str::<Value>(&key.key_json).ok().as_ref() == Some(uploaded)
            });
            if !same {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Stores the uploaded cross-signing keys after checking each (owner, usage, one ed25519 key) and that
    /// the self-signing and user-signing keys are signed by the master key (the uploaded or the stored one).
    pub async fn upload_signing_keys(
        &self,
        user: &UserId,
        request: &UploadSigningKeysRequest,
    ) -> Result<()> {
        let user_id = user.as_str();
        let master = match &request.master_key {
            Some(master) => Some(check_cross_signing_key(master, user_id, "master")?.to_owned()),
            None => self
                .storage
                .cross_signing_keys(user_id)
                .await?
                .into_iter()
                .find(|key| key.key_type == "master")
                .map(|key| key.public_key),
        };
        let mut keys = Vec::new();
        for (key_type, uploaded) in KEY_TYPES.iter().zip(uploaded_keys(request)) {
            let Some(uploaded) = uploaded else {
                continue;
            };
            let public_key = check_cross_signing_key(uploaded, user_id, key_type)?;
            if *key_type != "master" {
                let Some(master) = master.as_deref() else {
                    return Err(invalid_param(format!(
                        "the {key_type} key needs a master key to be signed by"
                    )));
                };
                if !has_valid_signature(uploaded, user_id, &format!("ed25519:{master}"), master) {
                    return Err(invalid_param(format!(
                        "the {key_type} key is not signed by the master key"
                    )));
                }
            }
            keys.push(CrossSigningKey {
                key_type: (*key_type).to_owned(),
                public_key: public_key.to_owned(),
                key_json: uploaded.to_string(),
            });
        }
        if keys.is_empty() {
            return Ok(());
        }
        self.storage.set_cross_signing_keys(user_id, &keys).await?;
        self.notify_device_list_change(user_id).await?;
        self.publish_signing_keys(user).await
    }

    /// `POST /keys/signatures/upload`: verifies and stores each signature; what cannot be accepted is listed
    /// in the returned `failures` (user → key ID → error), the rest is stored.
    pub async fn upload_signatures(
        &self,
        user: &UserId,
        body: &Map<String, Value>,
    ) -> Result<Map<String, Value>> {
        let total: usize = body
            .values()
            .map(|keys| keys.as_object().map_or(1, Map::len))
            .sum();
        if total > MAX_SIGNED_OBJECTS {
            return Err(invalid_param(format!(
                "at most {MAX_SIGNED_OBJECTS} signed keys per upload"
            )));
        }
        let signer = user.as_str();
        let own_keys = self.storage.cross_signing_keys(signer).await?;
        let own_key = |key_type: &str| {
            own_keys
                .iter()
                .find(|key| key.key_type == key_type)
                .map(|key| key.public_key.clone())
        };
        let self_signing = own_key("self_signing");
        let user_signing = own_key("user_signing");
        let master = own_key("master");
        let mut accepted = Vec::new();
        let mut failures = Map::new();
        for (target_user, objects) in body {
            let Some(objects) = objects.as_object() else {
                failures.insert(target_user.clone(), json!({}));
                continue;
            };
            for (key_id, signed) in objects {
                let outcome = if target_user == signer {
                    if master.as_deref() == Some(key_id.as_str()) {
                        self.own_master_signatures(signer, key_id, signed).await
                    } else {
                        self.own_device_signature(signer, key_id, signed, self_signing.as_deref())
                            .await
                    }
                } else {
                    self.other_master_signature(
                        signer,
                        target_user,
                        key_id,
                        signed,
                        user_signing.as_deref(),
                    )
                    .await
                };
                match outcome? {
                    Ok(mut signatures) => accepted.append(&mut signatures),
                    Err(reason) => {
                        let entry = failures
                            .entry(target_user.clone())
                            .or_insert_with(|| json!({}));
                        if let Some(entry) = entry.as_object_mut() {
                            entry.insert(
                                key_id.clone(),
                                json!({ "errcode": "M_INVALID_SIGNATURE", "error": reason }),
                            );
                        }
                    }
                }
            }
        }
        if !accepted.is_empty() {
            self.storage.add_key_signatures(&accepted).await?;
            let mut targets: Vec<&str> =
                accepted.iter().map(|s| s.target_user_id.as_str()).collect();
            targets.sort_unstable();
            targets.dedup();
            for target in targets {
                self.notify_device_list_change(target).await?;
            }
        }
        Ok(failures)
    }

    /// The signer's own device keys signed by their self-signing key.
    async fn own_device_signature(
        &self,
        signer: &str,
        device_id: &str,
        signed: &Value,
        self_signing: Option<&str>,
    ) -> Result<Result<Vec<KeySignature>, String>> {
        let Some(self_signing) = self_signing else {
            return Ok(Err("no self-signing key is uploaded".to_owned()));
        };
        let stored = self
            .storage
            .devices_with_keys(signer)
            .await?
            .into_iter()
            .find(|device| device.device_id == device_id)
            .and_then(|device| device.key_json);
        let Some(stored) = stored else {
            return Ok(Err(format!("unknown device {device_id}")));
        };
        if !same_key(&parse_stored(&stored)?, signed) {
            return Ok(Err(
                "the signed object differs from the device's keys".to_owned()
            ));
        }
        let key_id = format!("ed25519:{self_signing}");
        Ok(verified(
            signed,
            signer,
            &key_id,
            self_signing,
            signer,
            device_id,
        ))
    }

    /// The signer's own master key signed by one or more of their devices.
    async fn own_master_signatures(
        &self,
        signer: &str,
        master: &str,
        signed: &Value,
    ) -> Result<Result<Vec<KeySignature>, String>> {
        let stored = self
            .storage
            .cross_signing_keys(signer)
            .await?
            .into_iter()
            .find(|key| key.key_type == "master");
        let Some(stored) = stored else {
            return Ok(Err("no master key is uploaded".to_owned()));
        };
        if !same_key(&parse_stored(&stored.key_json)?, signed) {
            return Ok(Err(
                "the signed object differs from the master key".to_owned()
            ));
        }
        let devices = self.storage.devices_with_keys(signer).await?;
        let mut signatures = Vec::new();
        let by_signer = signed
            .get("signatures")
            .and_then(|s| s.get(signer))
            .and_then(Value::as_object);
        for key_id in by_signer.into_iter().flat_map(Map::keys) {
            let Some(device_id) = key_id.strip_prefix("ed25519:") else {
                continue;
            };
            let device_key = devices
                .iter()
                .find(|device| device.device_id == device_id)
                .and_then(|device| device.key_json.as_deref())
                .map(parse_stored)
                .transpose()?;
            let Some(public_key) = device_key
                .as_ref()
                .and_then(|keys| device_ed25519_key(keys, device_id))
            else {
                continue;
            };
            if let Ok(mut found) = verified(signed, signer, key_id, public_key, signer, master) {
                signatures.append(&mut found);
            }
        }
        if signatures.is_empty() {
            return Ok(Err(
                "no valid signature by one of the user's devices".to_owned()
            ));
        }
        Ok(Ok(signatures))
    }

    /// Another user's master key signed by the signer's user-signing key.
    async fn other_master_signature(
        &self,
        signer: &str,
        target_user: &str,
        key_id: &str,
        signed: &Value,
        user_signing: Option<&str>,
    ) -> Result<Result<Vec<KeySignature>, String>> {
        let Some(user_signing) = user_signing else {
            return Ok(Err("no user-signing key is uploaded".to_owned()));
        };
        let master = self
            .storage
            .cross_signing_keys(target_user)
            .await?
            .into_iter()
            .find(|key| key.key_type == "master");
        let Some(master) = master.filter(|master| master.public_key == key_id) else {
            return Ok(Err(format!(
                "{key_id} is not the master key of {target_user}"
            )));
        };
        if !same_key(&parse_stored(&master.key_json)?, signed) {
            return Ok(Err(
                "the signed object differs from the master key".to_owned()
            ));
        }
        let signing_key_id = format!("ed25519:{user_signing}");
        Ok(verified(
            signed,
            signer,
            &signing_key_id,
            user_signing,
            target_user,
            key_id,
        ))
    }
}

/// The request's three keys in [`KEY_TYPES`] order.
fn uploaded_keys(request: &UploadSigningKeysRequest) -> [Option<&Value>; 3] {
    [
        request.master_key.as_ref(),
        request.self_signing_key.as_ref(),
        request.user_signing_key.as_ref(),
    ]
}

/// Whether two key objects are the same key (everything but `signatures` and `unsigned` equal).
fn same_key(stored: &Value, signed: &Value) -> bool {
    let strip = |value: &Value| {
        let mut value = value.clone();
        if let Some(object) = value.as_object_mut() {
            object.remove("signatures");
            object.remove("unsigned");
        }
        value
    };
    strip(stored) == strip(signed)
}

/// The signature `signer`'s `key_id` made on `signed`, if it verifies with `public_key`, as a row to store.
fn verified(
    signed: &Value,
    signer: &str,
    key_id: &str,
    public_key: &str,
    target_user: &str,
    target_key: &str,
) -> Result<Vec<KeySignature>, String> {
    let signature = hearth_client_api::keys::signed_keys::signature_of(signed, signer, key_id)
        .ok_or_else(|| format!("no signature by {key_id}"))?;
    if !has_valid_signature(signed, signer, key_id, public_key) {
        return Err(format!("the signature by {key_id} does not verify"));
    }
    Ok(vec![KeySignature {
        signer_user_id: signer.to_owned(),
        signer_key_id: key_id.to_owned(),
        target_user_id: target_user.to_owned(),
        target_key_id: target_key.to_owned(),
        signature: signature.to_owned(),
    }])
}
