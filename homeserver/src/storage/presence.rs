//! Presence of local users: the state they last set (`online`, `unavailable`, `offline`), an
//! optional status message and when they were last active. Every write takes a new position on the
//! presence stream.

use super::streams::{NEXT_POSITION, PRESENCE};
use super::{Result, Storage, StorageError, in_write_tx, on_reader};

/// A user's presence as stored.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Presence {
    /// The user.
    pub user_id: String,
    /// `online`, `unavailable` or `offline`.
    pub state: String,
    /// Free-text status, if set.
    pub status_msg: Option<String>,
    /// When the user was last active (ms since the epoch).
    pub last_active_ts: i64,
    /// Position on the presence stream.
    pub stream_id: i64,
}

const PRESENCE_COLUMNS: &str = "user_id, state, status_msg, last_active_ts, stream_id";

impl Storage {
    /// Sets a user's presence and returns its stream position. `state` must be one of the three
    /// spec values (the table checks it). `NotFound("user")` if the user does not exist.
    pub async fn set_presence(
        &self,
        user_id: &str,
        state: &str,
        status_msg: Option<&str>,
        last_active_ts: i64,
    ) -> Result<i64> {
        let position = in_write_tx!(self, |tx| {
            let position: i64 = sqlx::query_scalar(NEXT_POSITION)
                .bind(PRESENCE)
                .fetch_one(&mut *tx)
                .await?;
            sqlx::query(
                "INSERT INTO presence (user_id, state, status_msg, last_active_ts, stream_id) \
                 VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (user_id) DO UPDATE SET state = excluded.state, \
                 status_msg = excluded.status_msg, last_active_ts = excluded.last_active_ts, \
                 stream_id = excluded.stream_id",
            )
            .bind(user_id)
            .bind(state)
            .bind(status_msg)
            .bind(last_active_ts)
            .bind(position)
            .execute(&mut *tx)
            .await
            .map_err(|e| StorageError::from_write(e, "presence", "user"))?;
            position
        });
        Ok(position)
    }

    /// A user's presence, if ever set.
    pub async fn get_presence(&self, user_id: &str) -> Result<Option<Presence>> {
        let sql = format!("SELECT {PRESENCE_COLUMNS} FROM presence WHERE user_id = $1");
        on_reader!(self, |pool| {
            Ok(sqlx::query_as(&sql)
                .bind(user_id)
                .fetch_optional(pool)
                .await?)
        })
    }

    /// Presence updates of all users after `since` and at or before `upto`, in stream order;
    /// the caller keeps those of users that share a room with the syncing user.
    pub async fn presence_between(&self, since: i64, upto: i64) -> Result<Vec<Presence>> {
        let sql = format!(
            "SELECT {PRESENCE_COLUMNS} FROM presence WHERE stream_id > $1 AND stream_id <= $2 \
             ORDER BY stream_id"
        );
        on_reader!(self, |pool| {
            Ok(sqlx::query_as(&sql)
                .bind(since)
                .bind(upto)
                .fetch_all(pool)
                .await?)
        })
    }
}
