//! Cross-signing keys (master, self-signing, user-signing) of local and remote users, and the signatures users
//! upload over keys (their own devices and master key, other users' master keys). Both changes are device-list
//! changes of the user whose keys they concern.

use super::device_lists::record_device_list_change;
use super::{Result, Storage, in_write_tx, on_reader};

/// One stored cross-signing key.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct CrossSigningKey {
    /// `master`, `self_signing` or `user_signing`.
    pub key_type: String,
    /// The unpadded base64 ed25519 public key (the key ID after `ed25519:`).
    pub public_key: String,
    /// The key object as uploaded (JSON text).
    pub key_json: String,
}

/// A signature made by one key over another.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct KeySignature {
    /// Who signed.
    pub signer_user_id: String,
    /// With which key: `ed25519:<device ID or public key>`.
    pub signer_key_id: String,
    /// Whose key was signed.
    pub target_user_id: String,
    /// Which key: a device ID or a cross-signing public key.
    pub target_key_id: String,
    /// The unpadded base64 signature.
    pub signature: String,
}

/// Stores `$key` (a [`CrossSigningKey`]) as `$user`'s key of its type, replacing the previous one, inside the
/// open transaction `$tx`.
macro_rules! upsert_cross_signing_key {
    ($tx:ident, $user:expr, $key:expr) => {
        sqlx::query(
            "INSERT INTO e2e_cross_signing_keys (user_id, key_type, public_key, key_json) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (user_id, key_type) DO UPDATE SET \
             public_key = excluded.public_key, key_json = excluded.key_json",
        )
        .bind($user)
        .bind(&$key.key_type)
        .bind(&$key.public_key)
        .bind(&$key.key_json)
        .execute(&mut *$tx)
        .await?;
    };
}
pub(super) use upsert_cross_signing_key;

impl Storage {
    /// Stores cross-signing keys of a user (each replaces the previous key of its type) and records one
    /// device-list change; returns its position.
    pub async fn set_cross_signing_keys(
        &self,
        user_id: &str,
        keys: &[CrossSigningKey],
    ) -> Result<i64> {
        let position = in_write_tx!(self, |tx| {
            for key in keys {
                upsert_cross_signing_key!(tx, user_id, key);
            }
            record_device_list_change!(tx, user_id, "")
        });
        Ok(position)
    }

    /// The stored cross-signing keys of a user.
    pub async fn cross_signing_keys(&self, user_id: &str) -> Result<Vec<CrossSigningKey>> {
        on_reader!(self, |pool| {
            Ok(sqlx::query_as(
                "SELECT key_type, public_key, key_json FROM e2e_cross_signing_keys \
                 WHERE user_id = $1 ORDER BY key_type",
            )
            .bind(user_id)
            .fetch_all(pool)
            .await?)
        })
    }

    /// Stores signatures (replacing an earlier one by the same key over the same key) and records a
    /// device-list change of every target user, in one transaction.
    pub async fn add_key_signatures(&self, signatures: &[KeySignature]) -> Result<()> {
        if signatures.is_empty() {
            return Ok(());
        }
        let mut targets: Vec<(&str, &str)> = signatures
            .iter()
            .map(|s| (s.target_user_id.as_str(), s.target_key_id.as_str()))
            .collect();
        targets.sort_unstable();
        targets.dedup();
        in_write_tx!(self, |tx| {
            for signature in signatures {
                sqlx::query(
                    "INSERT INTO e2e_cross_signing_signatures \
                     (signer_user_id, signer_key_id, target_user_id, target_key_id, signature) \
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT \
                     (target_user_id, target_key_id, signer_user_id, signer_key_id) \
                     DO UPDATE SET signature = excluded.signature",
                )
                .bind(&signature.signer_user_id)
                .bind(&signature.signer_key_id)
                .bind(&signature.target_user_id)
                .bind(&signature.target_key_id)
                .bind(&signature.signature)
                .execute(&mut *tx)
                .await?;
            }
            for (user_id, key_id) in &targets {
                record_device_list_change!(tx, *user_id, *key_id);
            }
        });
        Ok(())
    }

    /// Every stored signature over keys of `target_user_id`.
    pub async fn key_signatures_of(&self, target_user_id: &str) -> Result<Vec<KeySignature>> {
        on_reader!(self, |pool| {
            Ok(sqlx::query_as(
                "SELECT signer_user_id, signer_key_id, target_user_id, target_key_id, signature \
                 FROM e2e_cross_signing_signatures WHERE target_user_id = $1",
            )
            .bind(target_user_id)
            .fetch_all(pool)
            .await?)
        })
    }
}
