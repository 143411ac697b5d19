//! Keys of local devices: device (identity) keys, one-time keys and fallback keys. Key objects are stored as the
//! JSON text the device signed. Claiming deletes a one-time key in the claiming transaction, so each one is
//! handed out exactly once, also to concurrent claims.

use std::collections::BTreeMap;

use super::device_lists::record_device_list_change;
use super::{Result, Storage, StorageError, in_write_tx, on_reader};

/// A one-time or fallback key as uploaded: `<algorithm>:<key id>` split, and the key (JSON text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadedKey {
    /// The algorithm, e.g. `signed_curve25519`.
    pub algorithm: String,
    /// The key ID after the colon.
    pub key_id: String,
    /// The key: a JSON string or a signed object, as text.
    pub key_json: String,
}

/// A local device with its uploaded identity keys, if any.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct DeviceWithKeys {
    /// The device.
    pub device_id: String,
    /// Its display name.
    pub display_name: Option<String>,
    /// Its device keys (JSON text), `None` until uploaded.
    pub key_json: Option<String>,
}

/// How many times a claim retries after a concurrent claim took the key it picked.
const CLAIM_ATTEMPTS: usize = 16;

impl Storage {
    /// Stores a device's identity keys. Returns the device-list position of the change, or `None` when the
    /// same keys were already stored (nothing changed). `NotFound("device")` for an unknown device.
    pub async fn set_device_keys(
        &self,
        user_id: &str,
        device_id: &str,
        key_json: &str,
    ) -> Result<Option<i64>> {
        let changed = in_write_tx!(self, |tx| {
            let existing: Option<String> = sqlx::query_scalar(
                "SELECT key_json FROM e2e_device_keys WHERE user_id = $1 AND device_id = $2",
            )
            .bind(user_id)
            .bind(device_id)
            .fetch_optional(&mut *tx)
            .await?;
            if existing.as_deref() == Some(key_json) {
                None
            } else {
                sqlx::query(
                    "INSERT INTO e2e_device_keys (user_id, device_id, key_json) VALUES ($1, $2, $3) \
                     ON CONFLICT (user_id, device_id) DO UPDATE SET key_json = excluded.key_json",
                )
                .bind(user_id)
                .bind(device_id)
                .bind(key_json)
                .execute(&mut *tx)
                .await
                .map_err(|e| StorageError::from_write(e, "device keys", "device"))?;
                Some(record_device_list_change!(tx, user_id, device_id))
            }
        });
        Ok(changed)
    }

    /// Every device of a local user with its keys (devices without uploaded keys included, `key_json` None).
    pub async fn devices_with_keys(&self, user_id: &str) -> Result<Vec<DeviceWithKeys>> {
        on_reader!(self, |pool| {
            Ok(sqlx::query_as(
                "SELECT d.device_id, d.display_name, k.key_json FROM devices d \
                 LEFT JOIN e2e_device_keys k ON k.user_id = d.user_id AND k.device_id = d.device_id \
                 WHERE d.user_id = $1 ORDER BY d.device_id",
            )
            .bind(user_id)
            .fetch_all(pool)
            .await?)
        })
    }

    /// Adds one-time keys. A key ID already stored with the same key is skipped (a retried upload);
    /// with a different key it is `Conflict("one-time key")` and nothing is stored.
    pub async fn add_one_time_keys(
        &self,
        user_id: &str,
        device_id: &str,
        keys: &[UploadedKey],
    ) -> Result<()> {
        in_write_tx!(self, |tx| {
            for key in keys {
                let existing: Option<String> = sqlx::query_scalar(
                    "SELECT key_json FROM e2e_one_time_keys \
                     WHERE user_id = $1 AND device_id = $2 AND algorithm = $3 AND key_id = $4",
                )
                .bind(user_id)
                .bind(device_id)
                .bind(&key.algorithm)
                .bind(&key.key_id)
                .fetch_optional(&mut *tx)
                .await?;
                match existing {
                    Some(stored) if stored == key.key_json => {}
                    Some(_) => return Err(StorageError::Conflict("one-time key")),
                    None => {
                        sqlx::query(
                            "INSERT INTO e2e_one_time_keys \
                             (user_id, device_id, algorithm, key_id, key_json) \
                             VALUES ($1, $2, $3, $4, $5)",
                        )
                        .bind(user_id)
                        .bind(device_id)
                        .bind(&key.algorithm)
                        .bind(&key.key_id)
                        .bind(&key.key_json)
                        .execute(&mut *tx)
                        .await
                        .map_err(|e| StorageError::from_write(e, "one-time key", "device"))?;
                    }
                }
            }
        });
        Ok(())
    }

    /// Unclaimed one-time keys of a device, counted per algorithm.
    pub async fn one_time_key_counts(
        &self,
        user_id: &str,
        device_id: &str,
    ) -> Result<BTreeMap<String, i64>> {
        let rows: Vec<(String, i64)> = on_reader!(self, |pool| {
            sqlx::query_as(
                "SELECT algorithm, COUNT(*) FROM e2e_one_time_keys \
                 WHERE user_id = $1 AND device_id = $2 GROUP BY algorithm",
            )
            .bind(user_id)
            .bind(device_id)
            .fetch_all(pool)
            .await?
        });
        Ok(rows.into_iter().collect())
    }

    /// Sets the fallback key of each listed algorithm, replacing the previous one. Re-uploading the key that
    /// is already stored keeps its `used` flag; a new key starts unused.
    pub async fn set_fallback_keys(
        &self,
        user_id: &str,
        device_id: &str,
        keys: &[UploadedKey],
    ) -> Result<()> {
        in_write_tx!(self, |tx| {
            for key in keys {
                sqlx::query(
                    "INSERT INTO e2e_fallback_keys \
                     (user_id, device_id, algorithm, key_id, key_json, used) \
                     VALUES ($1, $2, $3, $4, $5, FALSE) \
                     ON CONFLICT (user_id, device_id, algorithm) DO UPDATE SET \
                     used = CASE WHEN e2e_fallback_keys.key_id = excluded.key_id \
                     AND e2e_fallback_keys.key_json = excluded.key_json \
                     THEN e2e_fallback_keys.used ELSE FALSE END, \
                     key_id = excluded.key_id, key_json = excluded.key_json",
                )
                .bind(user_id)
                .bind(device_id)
                .bind(&key.algorithm)
                .bind(&key.key_id)
                .bind(&key.key_json)
                .execute(&mut *tx)
                .await
                .map_err(|e| StorageError::from_write(e, "fallback key", "device"))?;
            }
        });
        Ok(())
    }

    /// Algorithms for which the device has a fallback key that no claim has handed out yet.
    pub async fn unused_fallback_key_types(
        &self,
        user_id: &str,
        device_id: &str,
    ) -> Result<Vec<String>> {
        on_reader!(self, |pool| {
            Ok(sqlx::query_scalar(
                "SELECT algorithm FROM e2e_fallback_keys \
                 WHERE user_id = $1 AND device_id = $2 AND used = FALSE ORDER BY algorithm",
            )
            .bind(user_id)
            .bind(device_id)
            .fetch_all(pool)
            .await?)
        })
    }

    /// Claims a key of `algorithm` for the device: a one-time key (deleted, so no other claim gets it), else
    /// the fallback key (marked used, handed out again until replaced). Returns `(key id, key JSON)`.
    pub async fn claim_key(
        &self,
        user_id: &str,
        device_id: &str,
        algorithm: &str,
    ) -> Result<Option<(String, String)>> {
        for _ in 0..CLAIM_ATTEMPTS {
            let claimed = in_write_tx!(self, |tx| {
                let candidate: Option<(String, String)> = sqlx::query_as(
                    "SELECT key_id, key_json FROM e2e_one_time_keys \
                     WHERE user_id = $1 AND device_id = $2 AND algorithm = $3 \
                     ORDER BY key_id LIMIT 1",
                )
                .bind(user_id)
                .bind(device_id)
                .bind(algorithm)
                .fetch_optional(&mut *tx)
                .await?;
                match candidate {
                    Some((key_id, key_json)) => {
                        // A concurrent claim (PostgreSQL) may have deleted it since the SELECT: then the
                        // DELETE affects no row and this attempt starts over with the next key.
                        let deleted = sqlx::query(
                            "DELETE FROM e2e_one_time_keys WHERE user_id = $1 AND device_id = $2 \
                             AND algorithm = $3 AND key_id = $4",
                        )
                        .bind(user_id)
                        .bind(device_id)
                        .bind(algorithm)
                        .bind(&key_id)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                        (deleted == 1).then_some(Some((key_id, key_json)))
                    }
                    None => {
                        let fallback: Option<(String, String)> = sqlx::query_as(
                            "UPDATE e2e_fallback_keys SET used = TRUE \
                             WHERE user_id = $1 AND device_id = $2 AND algorithm = $3 \
                             RETURNING key_id, key_json",
                        )
                        .bind(user_id)
                        .bind(device_id)
                        .bind(algorithm)
                        .fetch_optional(&mut *tx)
                        .await?;
                        Some(fallback)
                    }
                }
            });
            if let Some(result) = claimed {
                return Ok(result);
            }
        }
        Err(StorageError::Conflict("one-time key claim"))
    }
}
