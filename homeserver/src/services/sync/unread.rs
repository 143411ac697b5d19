//! Unread counts of `/sync`'s `unread_notifications`: the events after the user's latest read receipt (and
//! after their join) that their push rules say notify (`notification_count`) and highlight
//! (`highlight_count`). The rules are evaluated by the pure [`hearth_client_api::push`] evaluator against the
//! room as it is now (member count, power levels, the user's display name there, v12 creators).

use hearth_client_api::push::{self, RoomContext};
use hearth_types::UserId;
use serde_json::{Value, json};

use super::SyncService;
use super::receipts::{READ, READ_PRIVATE};
use crate::services::account_data::UserDataError;

/// Upper bound on the events scanned for one room's unread counts.
const MAX_UNREAD_SCAN: i64 = 1000;

/// `notification_count` and `highlight_count` of one room.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UnreadCounts {
    /// Events whose deciding rule has the `notify` action.
    pub notifications: u64,
    /// Events whose deciding rule sets the `highlight` tweak.
    pub highlights: u64,
}

impl SyncService {
    /// The unread counts of `room_id` for `user`, whose rule set (`m.push_rules` content) is `rules`.
    pub(super) async fn unread_counts(
        &self,
        user: &UserId,
        room_id: &str,
        rules: &Value,
    ) -> Result<UnreadCounts, UserDataError> {
        // Only what happened since the user joined counts (not, e.g., the invite that brought them in).
        let mut read_up_to = self
            .storage
            .membership(room_id, user.as_str())
            .await?
            .map_or(0, |membership| membership.stream_ordering);
        for receipt in self
            .storage
            .user_receipts_in_room(room_id, user.as_str())
            .await?
        {
            if (receipt.receipt_type == READ || receipt.receipt_type == READ_PRIVATE)
                && (receipt.thread_id.is_empty() || receipt.thread_id == "main")
                && let Some(event) = self.storage.get_event(&receipt.event_id).await?
            {
                read_up_to = read_up_to.max(event.stream_ordering);
            }
        }
        let events = self
            .rooms
            .timeline_between(room_id, read_up_to, i64::MAX, MAX_UNREAD_SCAN)
            .await?;
        let mut counts = UnreadCounts::default();
        if events.iter().all(|event| event.sender == user.as_str()) {
            return Ok(counts);
        }

        let power_levels = self
            .state_content(room_id, "m.room.power_levels", "")
            .await?;
        let member = self
            .state_content(room_id, "m.room.member", user.as_str())
            .await?;
        let display_name = member
            .as_ref()
            .and_then(|content| content["displayname"].as_str());
        let creators = self.privileged_creators(room_id).await?;
        let creators: Vec<&str> = creators.iter().map(String::as_str).collect();
        let member_count = self.storage.joined_member_count(room_id).await?;
        let context = RoomContext {
            user_id: user.as_str(),
            display_name,
            member_count: u64::try_from(member_count).unwrap_or(0),
            power_levels: power_levels.as_ref(),
            privileged_creators: &creators,
        };
        for event in &events {
            if event.sender == user.as_str() {
                continue;
            }
            let mut json: Value =
                serde_json::from_str(&event.json).map_err(UserDataError::internal)?;
            json["room_id"] = json!(room_id);
            if let Some(matched) = push::evaluate(rules, &json, &context) {
                counts.notifications += u64::from(matched.notifies());
                counts.highlights += u64::from(matched.highlights());
            }
        }
        Ok(counts)
    }

    /// The content of a current state event, if the room has it.
    async fn state_content(
        &self,
        room_id: &str,
        event_type: &str,
        state_key: &str,
    ) -> Result<Option<Value>, UserDataError> {
        let Some(event_id) = self
            .storage
            .current_state_event_id(room_id, event_type, state_key)
            .await?
        else {
            return Ok(None);
        };
        let Some(event) = self.storage.get_event(&event_id).await? else {
            return Ok(None);
        };
        let json: Value = serde_json::from_str(&event.json).map_err(UserDataError::internal)?;
        Ok(Some(json["content"].clone()))
    }

    /// Room v12's creators (the create event's sender and `additional_creators`), who outrank every power
    /// level; empty for older versions.
    async fn privileged_creators(&self, room_id: &str) -> Result<Vec<String>, UserDataError> {
        if !self
            .rooms
            .room_rules(room_id)
            .await?
            .authorization
            .privileged_creators
        {
            return Ok(Vec::new());
        }
        let Some(event_id) = self
            .storage
            .current_state_event_id(room_id, "m.room.create", "")
            .await?
        else {
            return Ok(Vec::new());
        };
        let Some(create) = self.storage.get_event(&event_id).await? else {
            return Ok(Vec::new());
        };
        let json: Value = serde_json::from_str(&create.json).map_err(UserDataError::internal)?;
        let mut creators = vec![create.sender];
        creators.extend(
            json["content"]["additional_creators"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(str::to_owned),
        );
        Ok(creators)
    }
}
