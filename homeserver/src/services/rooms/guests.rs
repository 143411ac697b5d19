//! Guest accounts in rooms (spec "Guest Access", server behaviour): a guest may join only a room whose
//! `m.room.guest_access` is `can_join`, and when a room stops allowing guests its local guest members leave.

use hearth_types::UserId;
use serde_json::Value;

use super::{RoomError, RoomService};

impl RoomService {
    /// Whether the room's current `m.room.guest_access` is `can_join`.
    pub async fn guests_can_join(&self, room_id: &str) -> Result<bool, RoomError> {
        let Some(event_id) = self
            .storage
            .current_state_event_id(room_id, "m.room.guest_access", "")
            .await?
        else {
            return Ok(false);
        };
        let Some(event) = self.storage.get_event(&event_id).await? else {
            return Ok(false);
        };
        let json: Value = serde_json::from_str(&event.json).map_err(RoomError::internal)?;
        Ok(json["content"]["guest_access"] == "can_join")
    }

    /// After a change of `m.room.guest_access`: if guests may no longer join, every local guest who is joined
    /// leaves. Returns how many left.
    pub async fn remove_guests_if_forbidden(&self, room_id: &str) -> Result<usize, RoomError> {
        if self.guests_can_join(room_id).await? {
            return Ok(0);
        }
        let mut removed = 0;
        for member in self.storage.room_memberships(room_id).await? {
            if member.membership != "join" {
                continue;
            }
            let is_local_guest = self
                .storage
                .get_user(&member.user_id)
                .await?
                .is_some_and(|user| user.is_guest);
            if !is_local_guest {
                continue;
            }
            let Ok(user) = UserId::parse(&member.user_id) else {
                continue;
            };
            self.leave(&user, room_id, None).await?;
            removed += 1;
        }
        Ok(removed)
    }
}
