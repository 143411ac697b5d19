//! Rooms, memberships, aliases and the public room directory.

use super::{Result, Storage, StorageError, on_reader, on_writer};

/// A room as stored.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Room {
    /// The room ID.
    pub room_id: String,
    /// The room version identifier.
    pub room_version: String,
    /// The create event's sender.
    pub creator: String,
    /// When the room was created (the create event's `origin_server_ts`).
    pub created_ts: i64,
    /// Listed in the public room directory.
    pub is_public: bool,
    /// The state after the room's newest event.
    pub current_state_group: Option<i64>,
}

/// A user's latest membership in a room.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Membership {
    /// The room.
    pub room_id: String,
    /// The member.
    pub user_id: String,
    /// `join`, `invite`, `leave`, `ban` or `knock`.
    pub membership: String,
    /// The `m.room.member` event.
    pub event_id: String,
    /// Who sent it (differs from `user_id` for invites, kicks and bans).
    pub sender: String,
    /// Its stream ordering: where /sync sees the change.
    pub stream_ordering: i64,
    /// The user forgot the room (only possible once they left).
    pub forgotten: bool,
}

const MEMBERSHIP_COLUMNS: &str =
    "room_id, user_id, membership, event_id, sender, stream_ordering, forgotten";

impl Storage {
    /// One room, if this server knows it.
    pub async fn get_room(&self, room_id: &str) -> Result<Option<Room>> {
        on_reader!(self, |pool| {
            Ok(sqlx::query_as(
                "SELECT room_id, room_version, creator, created_ts, is_public, \
                 current_state_group FROM rooms WHERE room_id = $1",
            )
            .bind(room_id)
            .fetch_optional(pool)
            .await?)
        })
    }

    /// Every membership row of a user (forgotten rooms excluded): for /joined_rooms and /sync.
    pub async fn memberships_of_user(&self, user_id: &str) -> Result<Vec<Membership>> {
        let sql = format!(
            "SELECT {MEMBERSHIP_COLUMNS} FROM room_memberships \
             WHERE user_id = $1 AND NOT forgotten ORDER BY stream_ordering"
        );
        on_reader!(self, |pool| {
            Ok(sqlx::query_as(&sql).bind(user_id).fetch_all(pool).await?)
        })
    }

    /// A user's membership row in one room, forgotten or not.
    pub async fn membership(&self, room_id: &str, user_id: &str) -> Result<Option<Membership>> {
        let sql = format!(
            "SELECT {MEMBERSHIP_COLUMNS} FROM room_memberships WHERE room_id = $1 AND user_id = $2"
        );
        on_reader!(self, |pool| {
            Ok(sqlx::query_as(&sql)
                .bind(room_id)
                .bind(user_id)
                .fetch_optional(pool)
                .await?)
        })
    }

    /// The membership rows of a room (all memberships; callers filter).
    pub async fn room_memberships(&self, room_id: &str) -> Result<Vec<Membership>> {
        let sql = format!(
            "SELECT {MEMBERSHIP_COLUMNS} FROM room_memberships WHERE room_id = $1 ORDER BY user_id"
        );
        on_reader!(self, |pool| {
            Ok(sqlx::query_as(&sql).bind(room_id).fetch_all(pool).await?)
        })
    }

    /// Marks a room forgotten for a user; only allowed when they are not joined or invited.
    /// Returns whether a row changed.
    pub async fn forget_room(&self, room_id: &str, user_id: &str) -> Result<bool> {
        let done = on_writer!(self, |pool| {
            sqlx::query(
                "UPDATE room_memberships SET forgotten = TRUE WHERE room_id = $1 AND user_id = $2 \
                 AND membership IN ('leave', 'ban')",
            )
            .bind(room_id)
            .bind(user_id)
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(done > 0)
    }

    /// Creates an alias; `Conflict("alias")` if taken, `NotFound("room")` for an unknown room.
    pub async fn create_alias(
        &self,
        alias: &str,
        room_id: &str,
        creator: &str,
        now_ms: i64,
    ) -> Result<()> {
        on_writer!(self, |pool| {
            sqlx::query(
                "INSERT INTO room_aliases (alias, room_id, creator, created_ts) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(alias)
            .bind(room_id)
            .bind(creator)
            .bind(now_ms)
            .execute(pool)
            .await
            .map(|_| ())
            .map_err(|e| StorageError::from_write(e, "alias", "room"))
        })?;
        Ok(())
    }

    /// The room and creator of an alias.
    pub async fn get_alias(&self, alias: &str) -> Result<Option<(String, String)>> {
        on_reader!(self, |pool| {
            Ok(
                sqlx::query_as("SELECT room_id, creator FROM room_aliases WHERE alias = $1")
                    .bind(alias)
                    .fetch_optional(pool)
                    .await?,
            )
        })
    }

    /// Deletes an alias; returns whether it existed.
    pub async fn delete_alias(&self, alias: &str) -> Result<bool> {
        let done = on_writer!(self, |pool| {
            sqlx::query("DELETE FROM room_aliases WHERE alias = $1")
                .bind(alias)
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(done > 0)
    }

    /// The local aliases pointing at a room.
    pub async fn aliases_of_room(&self, room_id: &str) -> Result<Vec<String>> {
        on_reader!(self, |pool| {
            Ok(sqlx::query_scalar(
                "SELECT alias FROM room_aliases WHERE room_id = $1 ORDER BY alias",
            )
            .bind(room_id)
            .fetch_all(pool)
            .await?)
        })
    }

    /// Publishes or hides a room in the public room directory.
    pub async fn set_room_public(&self, room_id: &str, is_public: bool) -> Result<bool> {
        let done = on_writer!(self, |pool| {
            sqlx::query("UPDATE rooms SET is_public = $1 WHERE room_id = $2")
                .bind(is_public)
                .bind(room_id)
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(done > 0)
    }

    /// Room IDs in the public directory, ordered by ID, after `since` (exclusive).
    pub async fn public_room_ids(&self) -> Result<Vec<String>> {
        on_reader!(self, |pool| {
            Ok(
                sqlx::query_scalar("SELECT room_id FROM rooms WHERE is_public ORDER BY room_id")
                    .fetch_all(pool)
                    .await?,
            )
        })
    }

    /// How many members each room has with `membership = 'join'`.
    pub async fn joined_member_count(&self, room_id: &str) -> Result<i64> {
        on_reader!(self, |pool| {
            Ok(sqlx::query_scalar(
                "SELECT COUNT(*) FROM room_memberships WHERE room_id = $1 AND membership = 'join'",
            )
            .bind(room_id)
            .fetch_one(pool)
            .await?)
        })
    }
}
