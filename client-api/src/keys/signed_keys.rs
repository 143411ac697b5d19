//! Device keys and cross-signing keys: shape checks and signature verification (spec, "End-to-End Encryption",
//! device keys and cross-signing).
//!
//! A device signs its own identity keys with its ed25519 key (`ed25519:<device_id>`); a cross-signing key is one
//! ed25519 public key, named `ed25519:<public key>`, with a `usage` (`master`, `self_signing`, `user_signing`).
//! Signatures follow the spec's JSON signing rules (canonical JSON without `signatures` and `unsigned`).

use hearth_crypto::keys::VerifyKey;
use hearth_crypto::signing::verify_json;
use serde_json::Value;

use super::ED25519;
use crate::error::{ErrorCode, MatrixError};

/// Most keys one device-keys or cross-signing-key object may list; real clients send two.
const MAX_KEYS_PER_OBJECT: usize = 32;

fn invalid(message: impl Into<String>) -> MatrixError {
    MatrixError::new(ErrorCode::InvalidParam, message)
}

fn bad_json(message: impl Into<String>) -> MatrixError {
    MatrixError::new(ErrorCode::BadJson, message)
}

/// Checks uploaded device keys: the object names `user_id` and `device_id` (the uploader's), lists its
/// `algorithms` and `keys` as strings, carries an `ed25519:<device_id>` key, and is signed by that key.
/// Returns the device's ed25519 public key.
pub fn check_device_keys<'a>(
    keys: &'a Value,
    user_id: &str,
    device_id: &str,
) -> Result<&'a str, MatrixError> {
    let object = keys
        .as_object()
        .ok_or_else(|| bad_json("device_keys must be an object"))?;
    if object.get("user_id").and_then(Value::as_str) != Some(user_id) {
        return Err(invalid(format!("device_keys.user_id must be {user_id}")));
    }
    if object.get("device_id").and_then(Value::as_str) != Some(device_id) {
        return Err(invalid(format!(
            "device_keys.device_id must be {device_id}"
        )));
    }
    let algorithms = object
        .get("algorithms")
        .and_then(Value::as_array)
        .ok_or_else(|| bad_json("device_keys.algorithms must be an array"))?;
    if !algorithms.iter().all(Value::is_string) {
        return Err(bad_json("device_keys.algorithms must hold strings"));
    }
    let key_map = object
        .get("keys")
        .and_then(Value::as_object)
        .ok_or_else(|| bad_json("device_keys.keys must be an object"))?;
    if key_map.len() > MAX_KEYS_PER_OBJECT || !key_map.values().all(Value::is_string) {
        return Err(bad_json("device_keys.keys must map key IDs to strings"));
    }
    let key_id = format!("{ED25519}:{device_id}");
    let public_key = key_map
        .get(&key_id)
        .and_then(Value::as_str)
        .ok_or_else(|| invalid(format!("device_keys.keys has no {key_id} key")))?;
    if !has_valid_signature(keys, user_id, &key_id, public_key) {
        return Err(invalid(format!(
            "device_keys are not signed by {key_id} of {user_id}"
        )));
    }
    Ok(public_key)
}

/// The `ed25519:<device_id>` public key of stored device keys, if present.
pub fn device_ed25519_key<'a>(keys: &'a Value, device_id: &str) -> Option<&'a str> {
    keys.get("keys")?
        .get(format!("{ED25519}:{device_id}"))?
        .as_str()
}

/// Checks a cross-signing key object of `user_id` meant for `usage` (`master`, `self_signing`,
/// `user_signing`): the right owner, the usage listed, exactly one `ed25519:<public key>` entry whose value is
/// that public key. Returns the public key (unpadded base64), which also names the key in signatures.
pub fn check_cross_signing_key<'a>(
    key: &'a Value,
    user_id: &str,
    usage: &str,
) -> Result<&'a str, MatrixError> {
    let object = key
        .as_object()
        .ok_or_else(|| bad_json(format!("the {usage} key must be an object")))?;
    if object.get("user_id").and_then(Value::as_str) != Some(user_id) {
        return Err(invalid(format!("the {usage} key must belong to {user_id}")));
    }
    let usages = object
        .get("usage")
        .and_then(Value::as_array)
        .ok_or_else(|| bad_json(format!("the {usage} key needs a usage array")))?;
    if !usages.iter().any(|u| u.as_str() == Some(usage)) {
        return Err(invalid(format!("the key's usage must include {usage}")));
    }
    let keys = object
        .get("keys")
        .and_then(Value::as_object)
        .ok_or_else(|| bad_json(format!("the {usage} key needs a keys object")))?;
    let mut entries = keys.iter();
    let (Some((key_id, value)), None) = (entries.next(), entries.next()) else {
        return Err(invalid(format!(
            "the {usage} key must hold exactly one key"
        )));
    };
    let public_key = value
        .as_str()
        .ok_or_else(|| bad_json(format!("the {usage} key's value must be a string")))?;
    if key_id.strip_prefix("ed25519:") != Some(public_key)
        || VerifyKey::from_base64(public_key).is_err()
    {
        return Err(invalid(format!(
            "the {usage} key must be one ed25519:<public key> entry holding that public key"
        )));
    }
    Ok(public_key)
}

/// Whether `value` carries a valid signature by `signer`'s key `key_id` (e.g. `ed25519:DEVICE` or
/// `ed25519:<public key>`) for the unpadded base64 ed25519 `public_key`.
pub fn has_valid_signature(value: &Value, signer: &str, key_id: &str, public_key: &str) -> bool {
    let Ok(key) = VerifyKey::from_base64(public_key) else {
        return false;
    };
    verify_json(value, signer, key_id, &key).is_ok()
}

/// The signature string `signer` made with `key_id` on `value`, if present (not verified).
pub fn signature_of<'a>(value: &'a Value, signer: &str, key_id: &str) -> Option<&'a str> {
    value.get("signatures")?.get(signer)?.get(key_id)?.as_str()
}

#[cfg(test)]
mod tests {
    use hearth_crypto::keys::SigningKey;
    use hearth_crypto::signing::sign_json;
    use serde_json::json;

    use super::*;

    fn signed_device_keys(user: &str, device: &str, key: &SigningKey) -> Value {
        let mut keys = json!({
            "user_id": user,
            "device_id": device,
            "algorithms": ["m.olm.v1.curve25519-aes-sha2", "m.megolm.v1.aes-sha2"],
            "keys": {
                format!("curve25519:{device}"): "Y3VydmU",
                format!("ed25519:{device}"): key.public_key_base64(),
            },
        });
        sign_json(&mut keys, user, key).unwrap();
        keys
    }

    #[test]
    fn accepts_self_signed_device_keys() {
        let key = SigningKey::from_seed("DEV", &[7; 32]).unwrap();
        let keys = signed_device_keys("@a:x", "DEV", &key);
        assert_eq!(
            check_device_keys(&keys, "@a:x", "DEV").unwrap(),
            key.public_key_base64()
        );
    }

    #[test]
    fn refuses_unsigned_wrongly_signed_or_foreign_device_keys() {
        let key = SigningKey::from_seed("DEV", &[7; 32]).unwrap();
        let keys = signed_device_keys("@a:x", "DEV", &key);
        let mut unsigned = keys.clone();
        unsigned.as_object_mut().unwrap().remove("signatures");
        assert!(check_device_keys(&unsigned, "@a:x", "DEV").is_err());
        let mut tampered = keys.clone();
        tampered["algorithms"] = json!(["m.megolm.v1.aes-sha2"]);
        assert!(check_device_keys(&tampered, "@a:x", "DEV").is_err());
        assert!(check_device_keys(&keys, "@b:x", "DEV").is_err());
        assert!(check_device_keys(&keys, "@a:x", "OTHER").is_err());
    }

    #[test]
    fn cross_signing_keys_need_one_matching_ed25519_entry_and_usage() {
        let key = SigningKey::from_seed("x", &[9; 32]).unwrap();
        let public = key.public_key_base64();
        let good = json!({
            "user_id": "@a:x", "usage": ["master"], "keys": { format!("ed25519:{public}"): public },
        });
        assert_eq!(
            check_cross_signing_key(&good, "@a:x", "master").unwrap(),
            public
        );
        assert!(check_cross_signing_key(&good, "@a:x", "self_signing").is_err());
        assert!(check_cross_signing_key(&good, "@b:x", "master").is_err());
        let renamed = json!({
            "user_id": "@a:x", "usage": ["master"], "keys": { "ed25519:other": public },
        });
        assert!(check_cross_signing_key(&renamed, "@a:x", "master").is_err());
        let two = json!({
            "user_id": "@a:x", "usage": ["master"],
            "keys": { format!("ed25519:{public}"): public, "ed25519:b": "b" },
        });
        assert!(check_cross_signing_key(&two, "@a:x", "master").is_err());
    }
}
