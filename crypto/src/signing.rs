//! Signing and verifying JSON objects (spec appendices, "Signing JSON").
//!
//! The signed bytes are the canonical JSON of the object without its `signatures` and `unsigned` members.
//! Signatures live in `signatures.<server name>.<key id>` as unpadded base64, so one object can carry
//! signatures by several servers and several keys. Event signing additionally redacts the event first;
//! that is the caller's job (the redaction algorithm depends on the room version, owned by `hearth_types`).

use crate::Error;
use crate::canonical_json::to_canonical_bytes_without_keys;
use crate::keys::{SigningKey, VerifyKey};
use serde_json::{Map, Value};

/// Top-level members that signatures never cover.
const UNSIGNED_MEMBERS: &[&str] = &["signatures", "unsigned"];

/// The base64 signature `key` makes over `value` (an object), without modifying `value`.
///
/// Useful when the signature must be placed somewhere other than `value.signatures`, e.g. the
/// `X-Matrix` authorization header.
pub fn signature_for(value: &Value, key: &SigningKey) -> Result<String, Error> {
    if !value.is_object() {
        return Err(Error::NotAnObject);
    }
    let message = to_canonical_bytes_without_keys(value, UNSIGNED_MEMBERS)?;
    Ok(crate::base64::encode(&key.sign(&message)))
}

/// Sign `value` (an object) as `server_name` with `key`, adding `signatures.<server_name>.<key id>`.
///
/// Existing signatures, by this or other servers, are kept; a previous signature with the same key ID is
/// replaced. `unsigned` is left in place but not covered. On error `value` is unchanged.
pub fn sign_json(value: &mut Value, server_name: &str, key: &SigningKey) -> Result<(), Error> {
    let signature = signature_for(value, key)?;
    let object = value.as_object_mut().ok_or(Error::NotAnObject)?;
    let signatures = object
        .entry("signatures")
        .or_insert_with(|| Value::Object(Map::new()))
        .as_object_mut()
        .ok_or(Error::MalformedField("signatures"))?;
    let by_server = signatures
        .entry(server_name)
        .or_insert_with(|| Value::Object(Map::new()))
        .as_object_mut()
        .ok_or(Error::MalformedField("signatures"))?;
    by_server.insert(key.key_id().as_str().to_owned(), Value::String(signature));
    Ok(())
}

/// Check `value`'s signature by `server_name` with key `key_id`, against the public key `key`.
///
/// Errors tell the caller what went wrong: [`Error::SignatureMissing`] (no such signature: maybe fetch
/// another key), [`Error::SignatureBadBase64`], [`Error::SignatureInvalid`] (forged or content changed),
/// [`Error::MalformedField`] when `signatures` is not an object of objects of strings.
pub fn verify_json(
    value: &Value,
    server_name: &str,
    key_id: &str,
    key: &VerifyKey,
) -> Result<(), Error> {
    let object = value.as_object().ok_or(Error::NotAnObject)?;
    let missing = || Error::SignatureMissing {
        server: server_name.to_owned(),
        key_id: key_id.to_owned(),
    };
    let signatures = object.get("signatures").ok_or_else(missing)?;
    let by_server = signatures
        .as_object()
        .ok_or(Error::MalformedField("signatures"))?
        .get(server_name)
        .ok_or_else(missing)?;
    let signature_b64 = by_server
        .as_object()
        .ok_or(Error::MalformedField("signatures"))?
        .get(key_id)
        .ok_or_else(missing)?
        .as_str()
        .ok_or(Error::MalformedField("signatures"))?;
    let signature = crate::base64::decode(signature_b64).map_err(|_| Error::SignatureBadBase64)?;
    let message = to_canonical_bytes_without_keys(value, UNSIGNED_MEMBERS)?;
    key.verify(&message, &signature)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn key(version: &str, seed: u8) -> SigningKey {
        match SigningKey::from_seed(version, &[seed; 32]) {
            Ok(k) => k,
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn signs_and_verifies_an_object() {
        let k = key("1", 7);
        let mut value = json!({"a": 1, "unsigned": {"age": 5}});
        assert!(sign_json(&mut value, "example.org", &k).is_ok());
        assert!(verify_json(&value, "example.org", "ed25519:1", &k.verify_key()).is_ok());
        assert_eq!(value["unsigned"], json!({"age": 5}));
    }

    #[test]
    fn keeps_other_servers_and_keys_when_adding_a_signature() {
        let (k1, k2) = (key("1", 1), key("2", 2));
        let mut value = json!({"a": 1});
        assert!(sign_json(&mut value, "one.example", &k1).is_ok());
        assert!(sign_json(&mut value, "two.example", &k2).is_ok());
        assert!(sign_json(&mut value, "one.example", &k2).is_ok());
        assert!(verify_json(&value, "one.example", "ed25519:1", &k1.verify_key()).is_ok());
        assert!(verify_json(&value, "one.example", "ed25519:2", &k2.verify_key()).is_ok());
        assert!(verify_json(&value, "two.example", "ed25519:2", &k2.verify_key()).is_ok());
    }

    #[test]
    fn verification_ignores_unsigned_but_not_other_fields() {
        let k = key("1", 3);
        let mut value = json!({"a": 1});
        assert!(sign_json(&mut value, "s", &k).is_ok());
        value["unsigned"] = json!({"added": true});
        assert!(verify_json(&value, "s", "ed25519:1", &k.verify_key()).is_ok());
        value["b"] = json!(2);
        assert!(matches!(
            verify_json(&value, "s", "ed25519:1", &k.verify_key()),
            Err(Error::SignatureInvalid)
        ));
    }

    #[test]
    fn distinguishes_missing_bad_base64_and_forged_signatures() {
        let k = key("1", 4);
        let vk = k.verify_key();
        let unsigned = json!({"a": 1});
        assert!(matches!(
            verify_json(&unsigned, "s", "ed25519:1", &vk),
            Err(Error::SignatureMissing { .. })
        ));
        let other_server = json!({"a": 1, "signatures": {"t": {"ed25519:1": "AAAA"}}});
        assert!(matches!(
            verify_json(&other_server, "s", "ed25519:1", &vk),
            Err(Error::SignatureMissing { .. })
        ));
        let bad_b64 = json!({"a": 1, "signatures": {"s": {"ed25519:1": "not base64!"}}});
        assert!(matches!(
            verify_json(&bad_b64, "s", "ed25519:1", &vk),
            Err(Error::SignatureBadBase64)
        ));
        let forged =
            json!({"a": 1, "signatures": {"s": {"ed25519:1": crate::base64::encode(&[0u8; 64])}}});
        assert!(matches!(
            verify_json(&forged, "s", "ed25519:1", &vk),
            Err(Error::SignatureInvalid)
        ));
        let short = json!({"a": 1, "signatures": {"s": {"ed25519:1": "AAAA"}}});
        assert!(matches!(
            verify_json(&short, "s", "ed25519:1", &vk),
            Err(Error::SignatureInvalid)
        ));
    }

    #[test]
    fn rejects_non_objects_and_malformed_signature_maps() {
        let k = key("1", 5);
        let mut array = json!([1]);
        assert!(matches!(
            sign_json(&mut array, "s", &k),
            Err(Error::NotAnObject)
        ));
        let mut bad = json!({"signatures": []});
        assert!(matches!(
            sign_json(&mut bad, "s", &k),
            Err(Error::MalformedField(_))
        ));
        assert_eq!(bad, json!({"signatures": []}));
        let mut bad_server = json!({"signatures": {"s": "x"}});
        assert!(matches!(
            sign_json(&mut bad_server, "s", &k),
            Err(Error::MalformedField(_))
        ));
        let not_string = json!({"signatures": {"s": {"ed25519:1": 5}}});
        assert!(matches!(
            verify_json(&not_string, "s", "ed25519:1", &k.verify_key()),
            Err(Error::MalformedField(_))
        ));
        assert!(matches!(
            verify_json(&json!("x"), "s", "ed25519:1", &k.verify_key()),
            Err(Error::NotAnObject)
        ));
    }

    #[test]
    fn signature_for_matches_what_sign_json_stores() {
        let k = key("1", 6);
        let mut value = json!({"x": "y", "unsigned": {}});
        let detached = signature_for(&value, &k).ok();
        assert!(sign_json(&mut value, "s", &k).is_ok());
        assert_eq!(
            detached.as_deref(),
            value["signatures"]["s"]["ed25519:1"].as_str()
        );
    }
}
