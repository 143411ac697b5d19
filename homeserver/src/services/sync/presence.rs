//! Basic presence: `PUT/GET /presence/{userId}/status`. A user sets `online`, `unavailable` or `offline` and an
//! optional status message; others read it (and see changes in /sync `presence`). Idle detection and federation
//! of presence come later.

use serde_json::{Value, json};

use crate::notifier::Notifier;
use crate::services::account_data::UserDataError;
use crate::storage::{Presence, Storage};

/// The presence states the spec defines.
pub const STATES: [&str; 3] = ["online", "unavailable", "offline"];
/// Longest accepted status message, in bytes.
const MAX_STATUS_MSG_BYTES: usize = 1024;
/// How long after the last activity a user still counts as `currently_active`.
const CURRENTLY_ACTIVE_MS: i64 = 60_000;

/// The presence service. Cheap to clone.
#[derive(Clone, Debug)]
pub struct PresenceService {
    storage: Storage,
    notifier: Notifier,
}

impl PresenceService {
    /// A service over `storage` that wakes the rooms of a user whose presence changed.
    pub fn new(storage: Storage, notifier: Notifier) -> Self {
        Self { storage, notifier }
    }

    /// Sets the user's presence.
    pub async fn set_presence(
        &self,
        user_id: &str,
        state: &str,
        status_msg: Option<&str>,
        now_ms: i64,
    ) -> Result<(), UserDataError> {
        if !STATES.contains(&state) {
            return Err(UserDataError::InvalidParam(format!(
                "presence must be one of {STATES:?}"
            )));
        }
        if status_msg.is_some_and(|msg| msg.len() > MAX_STATUS_MSG_BYTES) {
            return Err(UserDataError::InvalidParam(
                "status_msg is too long".to_owned(),
            ));
        }
        self.storage
            .set_presence(user_id, state, status_msg, now_ms)
            .await?;
        self.notifier.notify_user(user_id);
        for membership in self.storage.memberships_of_user(user_id).await? {
            if membership.membership == "join" {
                self.notifier.notify_room(&membership.room_id);
            }
        }
        Ok(())
    }

    /// `/sync?set_presence=…`: sets the state only when it differs from the stored one (keeping the status
    /// message), so a client that syncs in a loop does not wake every other client each time.
    pub async fn set_presence_if_changed(
        &self,
        user_id: &str,
        state: &str,
        now_ms: i64,
    ) -> Result<(), UserDataError> {
        let current = self.storage.get_presence(user_id).await?;
        if current
            .as_ref()
            .is_some_and(|presence| presence.state == state)
        {
            return Ok(());
        }
        let status_msg = current.and_then(|presence| presence.status_msg);
        self.set_presence(user_id, state, status_msg.as_deref(), now_ms)
            .await
    }

    /// Whether `observer` may see `target`'s presence: themself, or someone sharing a joined room with them
    /// (Synapse's rule; the spec leaves it to the server).
    pub async fn may_see(&self, observer: &str, target: &str) -> Result<bool, UserDataError> {
        if observer == target {
            return Ok(true);
        }
        let joined =
            |memberships: Vec<crate::storage::Membership>| -> std::collections::HashSet<String> {
                memberships
                    .into_iter()
                    .filter(|m| m.membership == "join")
                    .map(|m| m.room_id)
                    .collect()
            };
        let mine = joined(self.storage.memberships_of_user(observer).await?);
        let theirs = joined(self.storage.memberships_of_user(target).await?);
        Ok(!mine.is_disjoint(&theirs))
    }

    /// `GET /presence/{userId}/status`; `NotFound` for users who never set one.
    pub async fn presence(&self, user_id: &str, now_ms: i64) -> Result<Value, UserDataError> {
        let presence = self
            .storage
            .get_presence(user_id)
            .await?
            .ok_or_else(|| UserDataError::NotFound("No presence for this user".to_owned()))?;
        Ok(presence_content(&presence, now_ms))
    }
}

/// The content of an `m.presence` event (and the body of `GET …/status`).
pub fn presence_content(presence: &Presence, now_ms: i64) -> Value {
    let ago = now_ms.saturating_sub(presence.last_active_ts).max(0);
    let mut content = json!({
        "presence": presence.state,
        "last_active_ago": ago,
        "currently_active": presence.state == "online" && ago < CURRENTLY_ACTIVE_MS,
    });
    if let Some(msg) = &presence.status_msg {
        content["status_msg"] = json!(msg);
    }
    content
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presence_content_reports_age_and_activity() {
        let presence = Presence {
            user_id: "@a:x".into(),
            state: "online".into(),
            status_msg: Some("hi".into()),
            last_active_ts: 1_000,
            stream_id: 1,
        };
        let content = presence_content(&presence, 2_000);
        assert_eq!(content["last_active_ago"], 1_000);
        assert_eq!(content["currently_active"], true);
        assert_eq!(content["status_msg"], "hi");
        let later = presence_content(&presence, 1_000 + CURRENTLY_ACTIVE_MS + 1);
        assert_eq!(later["currently_active"], false);
    }
}
