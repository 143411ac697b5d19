//! `GET /rooms/{roomId}/initialSync`: one room's snapshot in the pre-/sync shape — its state, the latest
//! messages with pagination tokens, the caller's membership and room account data, the members' presence and the
//! room's receipts. Built from the same reads as `/state` and `/messages`, so history visibility applies: a
//! former member sees the room as it was when they left, a non-member only a `world_readable` room.

use hearth_types::{DeviceId, UserId};
use serde_json::{Value, json};

use super::SyncService;
use super::presence::presence_content;
use super::receipts::receipt_event;
use crate::services::account_data::UserDataError;
use crate::storage::Direction;

/// Most messages one room initial sync returns.
const MAX_LIMIT: i64 = 100;

impl SyncService {
    /// The room's snapshot for `user` with up to `limit` of its latest visible messages.
    pub async fn room_initial_sync(
        &self,
        user: &UserId,
        device: Option<&DeviceId>,
        room_id: &str,
        limit: i64,
    ) -> Result<Value, UserDataError> {
        // Also the visibility check: 403 for a non-member of a room that is not world-readable.
        let state = self.rooms.room_state(user, room_id).await?;
        let page = self
            .rooms
            .messages(
                user,
                device,
                room_id,
                None,
                None,
                Direction::Backward,
                limit.clamp(1, MAX_LIMIT),
                None,
            )
            .await?;
        let mut chunk = page.chunk;
        chunk.reverse();
        let membership = self.storage.membership(room_id, user.as_str()).await?;
        let is_public = self.rooms.directory_visibility(room_id).await?;

        let mut account_data = Vec::new();
        for entry in self
            .storage
            .account_data_between(user.as_str(), 0, i64::MAX)
            .await?
        {
            if entry.room_id.as_deref() == Some(room_id) {
                let content: Value =
                    serde_json::from_str(&entry.content).map_err(UserDataError::internal)?;
                account_data.push(json!({ "type": entry.data_type, "content": content }));
            }
        }

        let now = i64::try_from(crate::signing_key::now_millis()).unwrap_or(i64::MAX);
        let mut presence = Vec::new();
        for member in self.storage.room_memberships(room_id).await? {
            if member.membership != "join" {
                continue;
            }
            if let Some(stored) = self.storage.get_presence(&member.user_id).await? {
                presence.push(json!({
                    "type": "m.presence",
                    "sender": member.user_id,
                    "content": presence_content(&stored, now),
                }));
            }
        }
        let receipts = self
            .storage
            .room_receipts_between(room_id, 0, i64::MAX)
            .await?;
        let receipts: Vec<Value> = receipt_event(&receipts, user.as_str())
            .map(|event| vec![event])
            .unwrap_or_default();

        let end = page.start;
        let start = page.end.unwrap_or_else(|| "s0".to_owned());
        let mut body = json!({
            "room_id": room_id,
            "messages": { "chunk": chunk, "start": start, "end": end },
            "state": state,
            "visibility": if is_public { "public" } else { "private" },
            "account_data": account_data,
            "presence": presence,
            "receipts": receipts,
        });
        if let Some(membership) = membership {
            body["membership"] = json!(membership.membership);
        }
        Ok(body)
    }
}
