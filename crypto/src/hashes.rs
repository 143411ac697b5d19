//! Event content hashes and reference hashes (server-server API, "Calculating the content hash" and
//! "Calculating the reference hash").
//!
//! The content hash covers the full event (minus `unsigned`, `signatures`, `hashes`) so that tampering
//! with redactable content is detectable even though signatures only cover the redacted form. The
//! reference hash covers the redacted event (minus `signatures`, `unsigned`) and names the event in room
//! v3+. Redaction itself is per room version and lives in `hearth_types`; callers pass a redacted event.

use crate::Error;
use crate::canonical_json::to_canonical_bytes_without_keys;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// SHA-256 of the canonical JSON of `event` without `unsigned`, `signatures` and `hashes`.
pub fn content_hash(event: &Value) -> Result<[u8; 32], Error> {
    if !event.is_object() {
        return Err(Error::NotAnObject);
    }
    let bytes = to_canonical_bytes_without_keys(event, &["unsigned", "signatures", "hashes"])?;
    Ok(Sha256::digest(&bytes).into())
}

/// SHA-256 of the canonical JSON of an already-redacted event without `signatures` and `unsigned`.
pub fn reference_hash(redacted_event: &Value) -> Result<[u8; 32], Error> {
    if !redacted_event.is_object() {
        return Err(Error::NotAnObject);
    }
    let bytes = to_canonical_bytes_without_keys(redacted_event, &["signatures", "unsigned"])?;
    Ok(Sha256::digest(&bytes).into())
}

/// Compute the content hash of `event` and store it as `hashes.sha256` (unpadded base64), keeping any
/// other entries of `hashes`. Fails without modifying the event if `hashes` exists but is not an object.
pub fn add_content_hash(event: &mut Value) -> Result<(), Error> {
    let hash = content_hash(event)?;
    let object = event.as_object_mut().ok_or(Error::NotAnObject)?;
    object
        .entry("hashes")
        .or_insert_with(|| Value::Object(Map::new()))
        .as_object_mut()
        .ok_or(Error::MalformedField("hashes"))?
        .insert(
            "sha256".to_owned(),
            Value::String(crate::base64::encode(&hash)),
        );
    Ok(())
}

/// Whether `event`'s `hashes.sha256` matches its content.
///
/// `Ok(false)` means well-formed but different: per the spec the receiver then redacts the event rather
/// than rejecting it. Errors mean there is no usable hash at all ([`Error::ContentHashMissing`],
/// [`Error::ContentHashMalformed`]) or the event is not an object.
pub fn verify_content_hash(event: &Value) -> Result<bool, Error> {
    let object = event.as_object().ok_or(Error::NotAnObject)?;
    let claimed = object
        .get("hashes")
        .and_then(|h| h.get("sha256"))
        .ok_or(Error::ContentHashMissing)?
        .as_str()
        .ok_or(Error::ContentHashMalformed)?;
    let claimed = crate::base64::decode(claimed).map_err(|_| Error::ContentHashMalformed)?;
    if claimed.len() != 32 {
        return Err(Error::ContentHashMalformed);
    }
    Ok(claimed == content_hash(event)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn content_hash_ignores_unsigned_signatures_and_hashes() {
        let plain = json!({"type": "X", "content": {}});
        let decorated = json!({"type": "X", "content": {}, "unsigned": {"a": 1}, "signatures": {"s": {}}, "hashes": {"sha256": "x"}});
        assert_eq!(content_hash(&plain).ok(), content_hash(&decorated).ok());
        let changed = json!({"type": "Y", "content": {}});
        assert_ne!(content_hash(&plain).ok(), content_hash(&changed).ok());
    }

    #[test]
    fn reference_hash_covers_hashes_but_not_signatures_or_unsigned() {
        let base = json!({"type": "X", "hashes": {"sha256": "a"}});
        let with_sigs =
            json!({"type": "X", "hashes": {"sha256": "a"}, "signatures": {}, "unsigned": {}});
        let other_hash = json!({"type": "X", "hashes": {"sha256": "b"}});
        assert_eq!(reference_hash(&base).ok(), reference_hash(&with_sigs).ok());
        assert_ne!(reference_hash(&base).ok(), reference_hash(&other_hash).ok());
    }

    #[test]
    fn added_content_hash_verifies_and_detects_tampering() {
        let mut event = json!({"type": "m.room.message", "content": {"body": "hi"}, "hashes": {"other": "keep"}});
        assert!(add_content_hash(&mut event).is_ok());
        assert_eq!(event["hashes"]["other"], "keep");
        assert_eq!(verify_content_hash(&event).ok(), Some(true));
        event["content"]["body"] = json!("bye");
        assert_eq!(verify_content_hash(&event).ok(), Some(false));
    }

    #[test]
    fn verify_content_hash_distinguishes_missing_and_malformed_hashes() {
        assert!(matches!(
            verify_content_hash(&json!({})),
            Err(Error::ContentHashMissing)
        ));
        assert!(matches!(
            verify_content_hash(&json!({"hashes": {}})),
            Err(Error::ContentHashMissing)
        ));
        assert!(matches!(
            verify_content_hash(&json!({"hashes": {"sha256": 1}})),
            Err(Error::ContentHashMalformed)
        ));
        assert!(matches!(
            verify_content_hash(&json!({"hashes": {"sha256": "!!"}})),
            Err(Error::ContentHashMalformed)
        ));
        assert!(matches!(
            verify_content_hash(&json!({"hashes": {"sha256": "AAAA"}})),
            Err(Error::ContentHashMalformed)
        ));
        assert!(matches!(
            verify_content_hash(&json!([])),
            Err(Error::NotAnObject)
        ));
    }

    #[test]
    fn add_content_hash_refuses_a_non_object_hashes_field() {
        let mut event = json!({"hashes": "x"});
        assert!(matches!(
            add_content_hash(&mut event),
            Err(Error::MalformedField("hashes"))
        ));
        assert_eq!(event, json!({"hashes": "x"}));
    }
}
