//! The server's federation signing key: loading it (or generating it on first start), recording it in the
//! database so retired keys stay published, and building the signed `/_matrix/key/v2/server` document.
//!
//! The key file uses Synapse's format (`ed25519 <version> <base64 seed>`), read and written by
//! `hearth_crypto::keys`; this module only decides where it lives and what to do with it.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hearth_crypto::SigningKey;
use hearth_federation::discovery::server_keys::{OldVerifyKeyEntry, ServerKeys};
use serde_json::Value;

use crate::error::Error;
use crate::storage::{ServerSigningKey, Storage};

/// Keys this server used to sign with, by key ID, as published in `old_verify_keys`.
pub type OldVerifyKeys = BTreeMap<String, OldVerifyKeyEntry>;

/// Loads the signing key at `path`, generating it (and its directory) if the file does not exist yet.
///
/// The same file on every start means the same key ID and public key, which other servers have cached; a lost
/// key file forces every peer to refetch keys and invalidates nothing already signed.
pub fn load_or_generate_signing_key(path: &Path) -> Result<SigningKey, Error> {
    if let Some(parent) = path
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty())
    {
        std::fs::create_dir_all(parent).map_err(|source| Error::CreateDir {
            path: parent.to_owned(),
            source,
        })?;
    }
    let existed = path.exists();
    let key = hearth_crypto::keys::load_or_generate(path).map_err(|source| Error::SigningKey {
        path: path.to_owned(),
        source,
    })?;
    if existed {
        tracing::info!(key_id = %key.key_id(), path = %path.display(), "loaded signing key");
    } else {
        tracing::info!(key_id = %key.key_id(), path = %path.display(), "generated a new signing key");
    }
    Ok(key)
}

/// Records `key` as the current signing key and retires any other key still marked current (the operator
/// replaced the key file). Returns every retired key, for `old_verify_keys`.
///
/// Retired keys stay published so that events and requests signed with them remain verifiable.
pub async fn record_signing_key(
    storage: &Storage,
    key: &SigningKey,
    valid_until_ts: u64,
    now_ms: u64,
) -> Result<OldVerifyKeys, Error> {
    let key_id = key.key_id().as_str();
    let now = to_db_millis(now_ms);
    for stored in storage.list_server_signing_keys().await? {
        if stored.key_id != key_id && stored.expired_ts.is_none() {
            tracing::warn!(old_key_id = %stored.key_id, new_key_id = %key_id, "signing key changed; retiring the old key");
            storage
                .expire_server_signing_key(&stored.key_id, now)
                .await?;
        }
    }
    storage
        .store_server_signing_key(&ServerSigningKey {
            key_id: key_id.to_owned(),
            public_key: key.verify_key().as_bytes().to_vec(),
            valid_until_ts: to_db_millis(valid_until_ts),
            expired_ts: None,
        })
        .await?;
    let old_keys = storage
        .list_server_signing_keys()
        .await?
        .into_iter()
        .filter(|stored| stored.key_id != key_id)
        .filter_map(|stored| {
            let expired_ts = u64::try_from(stored.expired_ts?).ok()?;
            let entry = OldVerifyKeyEntry {
                key: hearth_crypto::base64::encode(&stored.public_key),
                expired_ts,
            };
            Some((stored.key_id, entry))
        })
        .collect();
    Ok(old_keys)
}

/// The signed server keys document: `key` as the only current key, `old_keys` as retired ones, valid until
/// `valid_until_ts` (ms since the epoch), signed by `key` as `server_name`.
pub fn server_keys_document(
    server_name: &str,
    key: &SigningKey,
    old_keys: &OldVerifyKeys,
    valid_until_ts: u64,
) -> Result<Value, hearth_crypto::Error> {
    let mut document = ServerKeys::with_single_key(
        server_name,
        key.key_id().as_str(),
        key.public_key_base64(),
        valid_until_ts,
    );
    document.old_verify_keys = old_keys.clone();
    // Serialising plain fields and string-keyed maps cannot fail; the mapping only avoids a panic path.
    let mut value =
        serde_json::to_value(&document).map_err(|_| hearth_crypto::Error::NotAnObject)?;
    hearth_crypto::sign_json(&mut value, server_name, key)?;
    Ok(value)
}

/// Milliseconds since the Unix epoch, from the system clock.
pub fn now_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// `now_ms + validity`, saturating.
pub fn valid_until(now_ms: u64, validity: Duration) -> u64 {
    now_ms.saturating_add(u64::try_from(validity.as_millis()).unwrap_or(u64::MAX))
}

fn to_db_millis(ms: u64) -> i64 {
    i64::try_from(ms).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hearth_crypto::VerifyKey;

    #[test]
    fn generates_once_and_reuses_the_key_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/signing.key");
        let first = load_or_generate_signing_key(&path).unwrap();
        let second = load_or_generate_signing_key(&path).unwrap();
        assert_eq!(first.key_id(), second.key_id());
        assert_eq!(first.public_key_base64(), second.public_key_base64());
    }

    #[test]
    fn unreadable_key_file_is_an_error_naming_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("signing.key");
        std::fs::write(&path, "not a key file").unwrap();
        let error = load_or_generate_signing_key(&path).unwrap_err().to_string();
        assert!(error.contains("signing.key"), "{error}");
    }

    #[test]
    fn document_is_signed_by_its_own_key_and_lists_old_keys() {
        let key = SigningKey::generate();
        let mut old = OldVerifyKeys::new();
        old.insert(
            "ed25519:old".into(),
            OldVerifyKeyEntry {
                key: "AAAA".into(),
                expired_ts: 5,
            },
        );
        let doc = server_keys_document("example.org", &key, &old, 1_000).unwrap();
        assert_eq!(doc["server_name"], "example.org");
        assert_eq!(doc["valid_until_ts"], 1_000);
        assert_eq!(doc["old_verify_keys"]["ed25519:old"]["expired_ts"], 5);
        let key_id = key.key_id().as_str();
        let public = doc["verify_keys"][key_id]["key"].as_str().unwrap();
        let verify_key = VerifyKey::from_base64(public).unwrap();
        hearth_crypto::verify_json(&doc, "example.org", key_id, &verify_key).unwrap();
    }

    #[test]
    fn valid_until_saturates() {
        assert_eq!(valid_until(1_000, Duration::from_secs(1)), 2_000);
        assert_eq!(valid_until(u64::MAX, Duration::from_secs(1)), u64::MAX);
    }
}
