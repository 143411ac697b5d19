//! Membership changes a client asks for: join, invite, leave, kick, ban, unban, forget. Each is an
//! `m.room.member` event through the one write path; the auth rules decide whether it is allowed.

use hearth_types::UserId;
use serde_json::{Map, Value, json};

use super::build::EventTemplate;
use super::{RoomError, RoomService, SentEvent};

impl RoomService {
    /// Resolves a room ID or a local alias to a room ID this server knows.
    pub async fn resolve_room(&self, id_or_alias: &str) -> Result<String, RoomError> {
        if id_or_alias.starts_with('#') {
            return self
                .storage
                .get_alias(id_or_alias)
                .await?
                .map(|(room_id, _)| room_id)
                .ok_or_else(|| RoomError::NotFound(format!("unknown room alias {id_or_alias}")));
        }
        if !id_or_alias.starts_with('!') {
            return Err(RoomError::InvalidParam(format!(
                "{id_or_alias:?} is neither a room ID nor a room alias"
            )));
        }
        if self.storage.get_room(id_or_alias).await?.is_none() {
            return Err(RoomError::NotFound(format!("unknown room {id_or_alias}")));
        }
        Ok(id_or_alias.to_owned())
    }

    /// Joins `user` to a room (by ID or alias); returns the room ID.
    pub async fn join(
        &self,
        user: &UserId,
        id_or_alias: &str,
        reason: Option<String>,
    ) -> Result<String, RoomError> {
        let room_id = self.resolve_room(id_or_alias).await?;
        let mut content = self.profile_content(user, "join").await?;
        if let Some(reason) = reason {
            content.insert("reason".into(), json!(reason));
        }
        self.member_event(user, &room_id, user, content).await?;
        Ok(room_id)
    }

    /// `sender` invites `target`.
    pub async fn invite(
        &self,
        sender: &UserId,
        room_id: &str,
        target: &UserId,
        reason: Option<String>,
    ) -> Result<SentEvent, RoomError> {
        let mut content = Map::new();
        content.insert("membership".into(), json!("invite"));
        if let Some(reason) = reason {
            content.insert("reason".into(), json!(reason));
        }
        self.member_event(sender, room_id, target, content).await
    }

    /// `user` leaves (or rejects an invite).
    pub async fn leave(
        &self,
        user: &UserId,
        room_id: &str,
        reason: Option<String>,
    ) -> Result<SentEvent, RoomError> {
        self.set_membership(user, room_id, user, "leave", reason)
            .await
    }

    /// `sender` kicks `target` (a leave sent by someone else).
    pub async fn kick(
        &self,
        sender: &UserId,
        room_id: &str,
        target: &UserId,
        reason: Option<String>,
    ) -> Result<SentEvent, RoomError> {
        let current = self.storage.membership(room_id, target.as_str()).await?;
        if !current
            .as_ref()
            .is_some_and(|m| matches!(m.membership.as_str(), "join" | "invite" | "knock"))
        {
            self.room_context(room_id).await?;
            return Err(RoomError::Forbidden(format!("{target} is not in the room")));
        }
        self.set_membership(sender, room_id, target, "leave", reason)
            .await
    }

    /// `sender` bans `target`.
    pub async fn ban(
        &self,
        sender: &UserId,
        room_id: &str,
        target: &UserId,
        reason: Option<String>,
    ) -> Result<SentEvent, RoomError> {
        self.set_membership(sender, room_id, target, "ban", reason)
            .await
    }

    /// `sender` lifts the ban of `target`.
    pub async fn unban(
        &self,
        sender: &UserId,
        room_id: &str,
        target: &UserId,
        reason: Option<String>,
    ) -> Result<SentEvent, RoomError> {
        let current = self.storage.membership(room_id, target.as_str()).await?;
        if current.as_ref().is_none_or(|m| m.membership != "ban") {
            self.room_context(room_id).await?;
            return Err(RoomError::Forbidden(format!("{target} is not banned")));
        }
        self.set_membership(sender, room_id, target, "leave", reason)
            .await
    }

    /// Re-sends the user's `m.room.member` join event in every room they are joined to, with their
    /// current global display name and avatar (called after a profile change). Rooms where the
    /// auth rules refuse the update are skipped; returns how many rooms were updated.
    pub async fn propagate_profile(&self, user: &UserId) -> Result<usize, RoomError> {
        let mut updated = 0;
        for room_id in self.joined_rooms(user).await? {
            let content = self.profile_content(user, "join").await?;
            match self.member_event(user, &room_id, user, content).await {
                Ok(_) => updated += 1,
                Err(RoomError::Forbidden(reason)) => {
                    tracing::debug!(%room_id, %reason, "profile update refused in room");
                }
                Err(other) => return Err(other),
            }
        }
        Ok(updated)
    }

    /// Hides a room the user left from their room lists. `InvalidParam` while still joined or
    /// invited; `NotFound` if they were never in it.
    pub async fn forget(&self, user: &UserId, room_id: &str) -> Result<(), RoomError> {
        match self.storage.membership(room_id, user.as_str()).await? {
            None => Err(RoomError::NotFound("you were never in this room".into())),
            Some(m) if matches!(m.membership.as_str(), "join" | "invite" | "knock") => Err(
                RoomError::Unknown("you must leave the room before forgetting it".into()),
            ),
            Some(_) => {
                self.storage.forget_room(room_id, user.as_str()).await?;
                Ok(())
            }
        }
    }

    async fn set_membership(
        &self,
        sender: &UserId,
        room_id: &str,
        target: &UserId,
        membership: &str,
        reason: Option<String>,
    ) -> Result<SentEvent, RoomError> {
        let mut content = Map::new();
        content.insert("membership".into(), json!(membership));
        if let Some(reason) = reason {
            content.insert("reason".into(), json!(reason));
        }
        self.member_event(sender, room_id, target, content).await
    }

    async fn member_event(
        &self,
        sender: &UserId,
        room_id: &str,
        target: &UserId,
        content: Map<String, Value>,
    ) -> Result<SentEvent, RoomError> {
        self.send_event(
            sender,
            room_id,
            EventTemplate::state("m.room.member", target.as_str(), Value::Object(content)),
            None,
        )
        .await
    }

    /// `{"membership": …}` with the user's global display name and avatar.
    pub(crate) async fn profile_content(
        &self,
        user: &UserId,
        membership: &str,
    ) -> Result<Map<String, Value>, RoomError> {
        let mut content = Map::new();
        content.insert("membership".into(), json!(membership));
        if let Some(profile) = self.storage.get_user(user.as_str()).await? {
            if let Some(name) = profile.displayname {
                content.insert("displayname".into(), json!(name));
            }
            if let Some(avatar) = profile.avatar_url {
                content.insert("avatar_url".into(), json!(avatar));
            }
        }
        Ok(content)
    }
}
