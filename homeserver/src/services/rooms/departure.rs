//! Leaving every room at once, for account deactivation: the user's `leave` membership event in each room they
//! are joined to, invited to or knocking on, so the other members see them go and no invite stays pending.

use hearth_types::UserId;

use super::{RoomError, RoomService};

impl RoomService {
    /// Sends `user`'s leave in every room where their membership is `join`, `invite` or `knock`. A room that
    /// refuses (the auth rules) is logged and skipped, so one odd room cannot keep the account in the others;
    /// storage failures are returned. Returns how many rooms were left.
    pub async fn leave_all_rooms(&self, user: &UserId) -> Result<usize, RoomError> {
        let mut left = 0;
        for membership in self.memberships_of_user(user).await? {
            if !matches!(membership.membership.as_str(), "join" | "invite" | "knock") {
                continue;
            }
            match self.leave(user, &membership.room_id, None).await {
                Ok(_) => left += 1,
                Err(error @ (RoomError::Storage(_) | RoomError::Internal(_))) => return Err(error),
                Err(error) => {
                    tracing::warn!(%user, room_id = %membership.room_id, %error, "could not leave room on deactivation");
                }
            }
        }
        Ok(left)
    }
}
