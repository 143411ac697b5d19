//! Server-side key backup: `/room_keys/version[/{version}]` (create, read, update, delete) and
//! `/room_keys/keys[/{roomId}[/{sessionId}]]` (store with the spec's replacement rule, read, delete), answering
//! `etag` and `count` after each write.

use hearth_client_api::MatrixError;
use hearth_client_api::error::ErrorCode;
use hearth_client_api::keys::MEGOLM_BACKUP_V1;
use hearth_client_api::keys::backup::{KeyBackupData, replaces};
use hearth_client_api::keys::requests::BackupVersionRequest;
use hearth_types::UserId;
use serde_json::{Map, Value, json};

use super::error::{bad_json, invalid_param, parse_stored};
use super::{E2eeService, Result};
use crate::storage::{BackedUpKey, BackupWrite};

/// Most sessions one upload may carry.
const MAX_SESSIONS_PER_UPLOAD: usize = 10_000;

/// A backup version as `GET /room_keys/version` answers it.
#[derive(Debug, Clone, PartialEq)]
pub struct BackupInfo {
    /// The version (a decimal string on the wire).
    pub version: i64,
    /// The algorithm.
    pub algorithm: String,
    /// Its auth data.
    pub auth_data: Value,
    /// Number of keys.
    pub count: i64,
    /// Changes whenever the keys change.
    pub etag: String,
}

impl BackupInfo {
    /// The JSON body.
    pub fn to_json(&self) -> Value {
        json!({
            "version": self.version.to_string(),
            "algorithm": self.algorithm,
            "auth_data": self.auth_data,
            "count": self.count,
            "etag": self.etag,
        })
    }
}

/// Which keys of a version a `/room_keys/keys` request addresses.
#[derive(Debug, Clone, Copy, Default)]
pub struct RoomKeysSelection<'a> {
    /// One room, or every room.
    pub room_id: Option<&'a str>,
    /// One session of that room, or every session.
    pub session_id: Option<&'a str>,
}

/// Parses a backup version as a path or query parameter; anything that is not a version this server
/// hands out cannot exist, so it answers like an unknown version.
fn parse_version(version: &str) -> Result<i64> {
    version
        .parse::<i64>()
        .ok()
        .filter(|v| *v > 0)
        .ok_or_else(unknown_version)
}

fn unknown_version() -> super::E2eeError {
    MatrixError::not_found("Unknown backup version").into()
}

fn check_algorithm(algorithm: &str) -> Result<()> {
    if algorithm != MEGOLM_BACKUP_V1 {
        return Err(invalid_param(format!(
            "unsupported backup algorithm {algorithm:?}"
        )));
    }
    Ok(())
}

impl E2eeService {
    /// `POST /room_keys/version`: a new backup version, which becomes the current one.
    pub async fn create_backup(
        &self,
        user: &UserId,
        request: &BackupVersionRequest,
    ) -> Result<i64> {
        check_algorithm(&request.algorithm)?;
        let auth_data = Value::Object(request.auth_data.clone()).to_string();
        Ok(self
            .storage
            .create_backup_version(user.as_str(), &request.algorithm, &auth_data)
            .await?)
    }

    /// `GET /room_keys/version[/{version}]`: a version's info (`None`: the current version).
    pub async fn backup_info(&self, user: &UserId, version: Option<&str>) -> Result<BackupInfo> {
        let version = version.map(parse_version).transpose()?;
        let stored = self
            .storage
            .backup_version(user.as_str(), version)
            .await?
            .ok_or_else(|| MatrixError::not_found("No current backup version"))?;
        let count = self
            .storage
            .backup_key_count(user.as_str(), stored.version)
            .await?;
        Ok(BackupInfo {
            version: stored.version,
            algorithm: stored.algorithm,
            auth_data: parse_stored(&stored.auth_data)?,
            count,
            etag: stored.etag.to_string(),
        })
    }

    /// `PUT /room_keys/version/{version}`: replaces the auth data; the algorithm must stay the same.
    pub async fn update_backup(
        &self,
        user: &UserId,
        version: &str,
        request: &BackupVersionRequest,
    ) -> Result<()> {
        if request.version.as_deref().is_some_and(|v| v != version) {
            return Err(invalid_param(
                "the version in the body differs from the path",
            ));
        }
        let number = parse_version(version)?;
        let stored = self
            .storage
            .backup_version(user.as_str(), Some(number))
            .await?
            .ok_or_else(unknown_version)?;
        if stored.algorithm != request.algorithm {
            return Err(invalid_param("the algorithm does not match the backup's"));
        }
        let auth_data = Value::Object(request.auth_data.clone()).to_string();
        self.storage
            .update_backup_auth_data(user.as_str(), number, &auth_data)
            .await
            .map_err(|_| unknown_version())
    }

    /// `DELETE /room_keys/version/{version}`: deletes the version and its keys; deleting a deleted version
    /// succeeds again, a version that never existed is 404.
    pub async fn delete_backup(&self, user: &UserId, version: &str) -> Result<()> {
        let number = parse_version(version)?;
        if self
            .storage
            .delete_backup_version(user.as_str(), number)
            .await?
        {
            Ok(())
        } else {
            Err(unknown_version())
        }
    }

    /// `PUT /room_keys/keys[...]`: `sessions` is room → session → key backup data. The version must be the
    /// current one (403 `M_WRONG_ROOM_KEYS_VERSION` with `current_version` otherwise). Answers etag and count.
    pub async fn put_backup_keys(
        &self,
        user: &UserId,
        version: &str,
        rooms: &Map<String, Value>,
    ) -> Result<(String, i64)> {
        let number = parse_version(version)?;
        let mut keys = Vec::new();
        for (room_id, room) in rooms {
            let sessions = room
                .get("sessions")
                .and_then(Value::as_object)
                .ok_or_else(|| bad_json(format!("room {room_id} needs a sessions object")))?;
            for (session_id, data) in sessions {
                let data: KeyBackupData = serde_json::from_value(data.clone())
                    .map_err(|error| bad_json(format!("session {session_id}: {error}")))?;
                keys.push(to_stored(room_id, session_id, &data)?);
                if keys.len() > MAX_SESSIONS_PER_UPLOAD {
                    return Err(invalid_param(format!(
                        "at most {MAX_SESSIONS_PER_UPLOAD} sessions per upload"
                    )));
                }
            }
        }
        let better = |stored: &BackedUpKey, uploaded: &BackedUpKey| {
            replaces(&to_data(stored), &to_data(uploaded))
        };
        match self
            .storage
            .put_backup_keys(user.as_str(), number, &keys, &better)
            .await?
        {
            BackupWrite::Done { etag, count } => Ok((etag.to_string(), count)),
            BackupWrite::WrongVersion(current) => {
                if current.is_none()
                    && !self
                        .storage
                        .backup_version_existed(user.as_str(), number)
                        .await?
                {
                    return Err(unknown_version());
                }
                let error =
                    MatrixError::new(ErrorCode::WrongRoomKeysVersion, "Wrong backup version");
                Err(match current {
                    Some(current) => error.with_field("current_version", current.to_string()),
                    None => error,
                }
                .into())
            }
        }
    }

    /// `GET /room_keys/keys[...]`: the selected keys as `{rooms: {room: {sessions: {...}}}}`, as
    /// `{sessions: {...}}` for one room, or as one session's data (404 when absent).
    pub async fn get_backup_keys(
        &self,
        user: &UserId,
        version: &str,
        selection: RoomKeysSelection<'_>,
    ) -> Result<Value> {
        let number = parse_version(version)?;
        self.storage
            .backup_version(user.as_str(), Some(number))
            .await?
            .ok_or_else(unknown_version)?;
        let keys = self
            .storage
            .backup_keys(
                user.as_str(),
                number,
                selection.room_id,
                selection.session_id,
            )
            .await?;
        if selection.session_id.is_some() {
            let key = keys
                .first()
                .ok_or_else(|| MatrixError::not_found("No such session in the backup"))?;
            return Ok(serde_json::to_value(to_data_checked(key)?).unwrap_or_default());
        }
        let mut rooms: Map<String, Value> = Map::new();
        for key in &keys {
            let room = rooms
                .entry(key.room_id.clone())
                .or_insert_with(|| json!({ "sessions": {} }));
            room["sessions"][&key.session_id] =
                serde_json::to_value(to_data_checked(key)?).unwrap_or_default();
        }
        if let Some(room_id) = selection.room_id {
            return Ok(rooms
                .remove(room_id)
                .unwrap_or_else(|| json!({ "sessions": {} })));
        }
        Ok(json!({ "rooms": rooms }))
    }

    /// `DELETE /room_keys/keys[...]`: deletes the selected keys; answers etag and count.
    pub async fn delete_backup_keys(
        &self,
        user: &UserId,
        version: &str,
        selection: RoomKeysSelection<'_>,
    ) -> Result<(String, i64)> {
        let number = parse_version(version)?;
        self.storage
            .backup_version(user.as_str(), Some(number))
            .await?
            .ok_or_else(unknown_version)?;
        let (etag, count) = self
            .storage
            .delete_backup_keys(
                user.as_str(),
                number,
                selection.room_id,
                selection.session_id,
            )
            .await?;
        Ok((etag.to_string(), count))
    }
}

fn to_stored(room_id: &str, session_id: &str, data: &KeyBackupData) -> Result<BackedUpKey> {
    if !data.session_data.is_object() {
        return Err(bad_json("session_data must be an object"));
    }
    let number = |n: u64| i64::try_from(n).map_err(|_| invalid_param("number out of range"));
    Ok(BackedUpKey {
        room_id: room_id.to_owned(),
        session_id: session_id.to_owned(),
        first_message_index: number(data.first_message_index)?,
        forwarded_count: number(data.forwarded_count)?,
        is_verified: data.is_verified,
        session_data: data.session_data.to_string(),
    })
}

/// The replacement-relevant view of a stored key (session data not needed for the decision).
fn to_data(key: &BackedUpKey) -> KeyBackupData {
    KeyBackupData {
        first_message_index: u64::try_from(key.first_message_index).unwrap_or(0),
        forwarded_count: u64::try_from(key.forwarded_count).unwrap_or(0),
        is_verified: key.is_verified,
        session_data: Value::Null,
    }
}

fn to_data_checked(key: &BackedUpKey) -> Result<KeyBackupData> {
    Ok(KeyBackupData {
        session_data: parse_stored(&key.session_data)?,
        ..to_data(key)
    })
}
