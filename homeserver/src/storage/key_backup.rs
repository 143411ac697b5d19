//! Server-side key backups: backup versions per user (numbered from 1, never reused; a deleted version stays
//! as a tombstone with its keys removed) and the backed-up megolm sessions of each version. Every change to a
//! version's keys bumps its `etag`.

use super::{Result, Storage, StorageError, in_write_tx, on_reader};

/// A backup version's metadata.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct BackupVersion {
    /// The version number.
    pub version: i64,
    /// The backup algorithm.
    pub algorithm: String,
    /// The algorithm's auth data (JSON text).
    pub auth_data: String,
    /// Changes whenever the version's keys change.
    pub etag: i64,
}

/// One backed-up session.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct BackedUpKey {
    /// The room of the session.
    pub room_id: String,
    /// The megolm session ID.
    pub session_id: String,
    /// First message index the key decrypts.
    pub first_message_index: i64,
    /// Times the key was forwarded.
    pub forwarded_count: i64,
    /// Whether the uploader verified the key's origin.
    pub is_verified: bool,
    /// The encrypted session data (JSON text).
    pub session_data: String,
}

/// What a write to a version's keys decides per session, given the stored copy (if any).
pub type KeepOrReplace<'a> = &'a (dyn Fn(&BackedUpKey, &BackedUpKey) -> bool + Sync);

/// Outcome of a write to the keys of a version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackupWrite {
    /// Done: the version's etag and key count after the write.
    Done {
        /// The etag.
        etag: i64,
        /// The number of keys.
        count: i64,
    },
    /// The version is not the user's current one; carries the current version (None: no backup at all).
    WrongVersion(Option<i64>),
}

const VERSION_COLUMNS: &str = "version, algorithm, auth_data, etag";
const KEY_COLUMNS: &str =
    "room_id, session_id, first_message_index, forwarded_count, is_verified, session_data";

impl Storage {
    /// Creates the user's next backup version (which becomes the current one) and returns its number.
    pub async fn create_backup_version(
        &self,
        user_id: &str,
        algorithm: &str,
        auth_data: &str,
    ) -> Result<i64> {
        let version = in_write_tx!(self, |tx| {
            // PostgreSQL: serialise creations per user, so two concurrent ones do not pick the same number.
            if self.backend() == super::Backend::Postgres {
                sqlx::query("SELECT 1 FROM users WHERE user_id = $1 FOR UPDATE")
                    .bind(user_id)
                    .execute(&mut *tx)
                    .await?;
            }
            let version: i64 = sqlx::query_scalar(
                "SELECT COALESCE(MAX(version), 0) + 1 FROM e2e_room_keys_versions WHERE user_id = $1",
            )
            .bind(user_id)
            .fetch_one(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO e2e_room_keys_versions (user_id, version, algorithm, auth_data) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(user_id)
            .bind(version)
            .bind(algorithm)
            .bind(auth_data)
            .execute(&mut *tx)
            .await
            .map_err(|e| StorageError::from_write(e, "backup version", "user"))?;
            version
        });
        Ok(version)
    }

    /// A version (`None`: the current one, the newest not deleted); `None` if it does not exist or was
    /// deleted.
    pub async fn backup_version(
        &self,
        user_id: &str,
        version: Option<i64>,
    ) -> Result<Option<BackupVersion>> {
        let sql = format!(
            "SELECT {VERSION_COLUMNS} FROM e2e_room_keys_versions \
             WHERE user_id = $1 AND deleted = FALSE AND ($2 IS NULL OR version = $2) \
             ORDER BY version DESC LIMIT 1"
        );
        on_reader!(self, |pool| {
            Ok(sqlx::query_as(&sql)
                .bind(user_id)
                .bind(version)
                .fetch_optional(pool)
                .await?)
        })
    }

    /// Whether the version ever existed (deleted ones included).
    pub async fn backup_version_existed(&self, user_id: &str, version: i64) -> Result<bool> {
        on_reader!(self, |pool| {
            Ok(sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM e2e_room_keys_versions \
                 WHERE user_id = $1 AND version = $2)",
            )
            .bind(user_id)
            .bind(version)
            .fetch_one(pool)
            .await?)
        })
    }

    /// Replaces a live version's auth data. `NotFound("backup version")` if absent or deleted.
    pub async fn update_backup_auth_data(
        &self,
        user_id: &str,
        version: i64,
        auth_data: &str,
    ) -> Result<()> {
        let affected = super::on_writer!(self, |pool| {
            sqlx::query(
                "UPDATE e2e_room_keys_versions SET auth_data = $3 \
                 WHERE user_id = $1 AND version = $2 AND deleted = FALSE",
            )
            .bind(user_id)
            .bind(version)
            .bind(auth_data)
            .execute(pool)
            .await?
            .rows_affected()
        });
        super::users::expect_one_row(affected, "backup version")
    }

    /// Deletes a version: its keys go, the version stays as a tombstone so its number is never reused.
    /// Returns false if the version never existed.
    pub async fn delete_backup_version(&self, user_id: &str, version: i64) -> Result<bool> {
        let existed = in_write_tx!(self, |tx| {
            sqlx::query("DELETE FROM e2e_room_keys WHERE user_id = $1 AND version = $2")
                .bind(user_id)
                .bind(version)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "UPDATE e2e_room_keys_versions SET deleted = TRUE \
                 WHERE user_id = $1 AND version = $2",
            )
            .bind(user_id)
            .bind(version)
            .execute(&mut *tx)
            .await?
            .rows_affected()
                == 1
        });
        Ok(existed)
    }

    /// How many keys a version holds.
    pub async fn backup_key_count(&self, user_id: &str, version: i64) -> Result<i64> {
        on_reader!(self, |pool| {
            Ok(sqlx::query_scalar(
                "SELECT COUNT(*) FROM e2e_room_keys WHERE user_id = $1 AND version = $2",
            )
            .bind(user_id)
            .bind(version)
            .fetch_one(pool)
            .await?)
        })
    }

    /// Stores sessions into `version` if it is the user's current version, each only where `replaces(stored,
    /// uploaded)` says the upload is better than the stored copy; bumps the etag if anything changed.
    pub async fn put_backup_keys(
        &self,
        user_id: &str,
        version: i64,
        keys: &[BackedUpKey],
        replaces: KeepOrReplace<'_>,
    ) -> Result<BackupWrite> {
        let sql = format!(
            "SELECT {KEY_COLUMNS} FROM e2e_room_keys \
             WHERE user_id = $1 AND version = $2 AND room_id = $3 AND session_id = $4"
        );
        let outcome = in_write_tx!(self, |tx| {
            if self.backend() == super::Backend::Postgres {
                sqlx::query("SELECT 1 FROM users WHERE user_id = $1 FOR UPDATE")
                    .bind(user_id)
                    .execute(&mut *tx)
                    .await?;
            }
            let current: Option<i64> = sqlx::query_scalar(
                "SELECT MAX(version) FROM e2e_room_keys_versions \
                 WHERE user_id = $1 AND deleted = FALSE",
            )
            .bind(user_id)
            .fetch_one(&mut *tx)
            .await?;
            if current != Some(version) {
                BackupWrite::WrongVersion(current)
            } else {
                let mut changed = false;
                for key in keys {
                    let stored: Option<BackedUpKey> = sqlx::query_as(&sql)
                        .bind(user_id)
                        .bind(version)
                        .bind(&key.room_id)
                        .bind(&key.session_id)
                        .fetch_optional(&mut *tx)
                        .await?;
                    if stored.as_ref().is_some_and(|stored| !replaces(stored, key)) {
                        continue;
                    }
                    changed = true;
                    sqlx::query(
                        "INSERT INTO e2e_room_keys (user_id, version, room_id, session_id, \
                         first_message_index, forwarded_count, is_verified, session_data) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                         ON CONFLICT (user_id, version, room_id, session_id) DO UPDATE SET \
                         first_message_index = excluded.first_message_index, \
                         forwarded_count = excluded.forwarded_count, \
                         is_verified = excluded.is_verified, session_data = excluded.session_data",
                    )
                    .bind(user_id)
                    .bind(version)
                    .bind(&key.room_id)
                    .bind(&key.session_id)
                    .bind(key.first_message_index)
                    .bind(key.forwarded_count)
                    .bind(key.is_verified)
                    .bind(&key.session_data)
                    .execute(&mut *tx)
                    .await?;
                }
                let etag: i64 = if changed {
                    sqlx::query_scalar(
                        "UPDATE e2e_room_keys_versions SET etag = etag + 1 \
                         WHERE user_id = $1 AND version = $2 RETURNING etag",
                    )
                    .bind(user_id)
                    .bind(version)
                    .fetch_one(&mut *tx)
                    .await?
                } else {
                    sqlx::query_scalar(
                        "SELECT etag FROM e2e_room_keys_versions WHERE user_id = $1 AND version = $2",
                    )
                    .bind(user_id)
                    .bind(version)
                    .fetch_one(&mut *tx)
                    .await?
                };
                let count: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM e2e_room_keys WHERE user_id = $1 AND version = $2",
                )
                .bind(user_id)
                .bind(version)
                .fetch_one(&mut *tx)
                .await?;
                BackupWrite::Done { etag, count }
            }
        });
        Ok(outcome)
    }

    /// Keys of a version, optionally only of one room or one session, ordered by room and session.
    pub async fn backup_keys(
        &self,
        user_id: &str,
        version: i64,
        room_id: Option<&str>,
        session_id: Option<&str>,
    ) -> Result<Vec<BackedUpKey>> {
        let sql = format!(
            "SELECT {KEY_COLUMNS} FROM e2e_room_keys WHERE user_id = $1 AND version = $2 \
             AND ($3 IS NULL OR room_id = $3) AND ($4 IS NULL OR session_id = $4) \
             ORDER BY room_id, session_id"
        );
        on_reader!(self, |pool| {
            Ok(sqlx::query_as(&sql)
                .bind(user_id)
                .bind(version)
                .bind(room_id)
                .bind(session_id)
                .fetch_all(pool)
                .await?)
        })
    }

    /// Deletes keys of a version (all, one room's or one session) and bumps the etag; returns the etag and
    /// count after the delete.
    pub async fn delete_backup_keys(
        &self,
        user_id: &str,
        version: i64,
        room_id: Option<&str>,
        session_id: Option<&str>,
    ) -> Result<(i64, i64)> {
        let result = in_write_tx!(self, |tx| {
            sqlx::query(
                "DELETE FROM e2e_room_keys WHERE user_id = $1 AND version = $2 \
                 AND ($3 IS NULL OR room_id = $3) AND ($4 IS NULL OR session_id = $4)",
            )
            .bind(user_id)
            .bind(version)
            .bind(room_id)
            .bind(session_id)
            .execute(&mut *tx)
            .await?;
            let etag: i64 = sqlx::query_scalar(
                "UPDATE e2e_room_keys_versions SET etag = etag + 1 \
                 WHERE user_id = $1 AND version = $2 RETURNING etag",
            )
            .bind(user_id)
            .bind(version)
            .fetch_one(&mut *tx)
            .await?;
            let count: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM e2e_room_keys WHERE user_id = $1 AND version = $2",
            )
            .bind(user_id)
            .bind(version)
            .fetch_one(&mut *tx)
            .await?;
            (etag, count)
        });
        Ok(result)
    }
}
