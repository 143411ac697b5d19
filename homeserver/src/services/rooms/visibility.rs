//! History visibility: which events of a room a user may see (`/messages`, `/context`, `/event`,
//! and `/sync` through [`RoomService::visible_events`]).
//!
//! The check uses the state after each event (so a user sees their own join and leave): allowed
//! when the room is `world_readable` there, when the user is joined there, when it is `shared` and
//! the user is joined now, or when it is `invited` and the user was invited there.

use std::collections::HashMap;

use hearth_types::UserId;
use serde_json::Value;

use super::{RoomError, RoomService};
use crate::storage::StoredEvent;

/// Per-request memo of (history visibility, the user's membership) by state group.
#[derive(Debug, Default)]
pub(super) struct VisibilityCache {
    by_group: HashMap<i64, (String, Option<String>)>,
    joined_now: Option<bool>,
}

impl RoomService {
    /// The events among `events` (one room) that `user` may see, in the same order.
    pub async fn visible_events(
        &self,
        user: &UserId,
        events: Vec<StoredEvent>,
    ) -> Result<Vec<StoredEvent>, RoomError> {
        let mut cache = VisibilityCache::default();
        let mut visible = Vec::with_capacity(events.len());
        for event in events {
            if self.can_see(user, &event, &mut cache).await? {
                visible.push(event);
            }
        }
        Ok(visible)
    }

    /// Whether `user` may see `event`.
    pub(super) async fn can_see(
        &self,
        user: &UserId,
        event: &StoredEvent,
        cache: &mut VisibilityCache,
    ) -> Result<bool, RoomError> {
        let Some(group) = event.state_group else {
            return Ok(false);
        };
        let (visibility, membership) = match cache.by_group.get(&group) {
            Some(known) => known.clone(),
            None => {
                let state = self.storage.state_group(group).await?;
                let visibility =
                    match state.get(&("m.room.history_visibility".to_owned(), String::new())) {
                        Some(id) => self
                            .content_field(id, "history_visibility")
                            .await?
                            .unwrap_or_else(|| "shared".to_owned()),
                        None => "shared".to_owned(),
                    };
                let membership =
                    match state.get(&("m.room.member".to_owned(), user.as_str().to_owned())) {
                        Some(id) => self.content_field(id, "membership").await?,
                        None => None,
                    };
                cache
                    .by_group
                    .insert(group, (visibility.clone(), membership.clone()));
                (visibility, membership)
            }
        };
        if visibility == "world_readable" || membership.as_deref() == Some("join") {
            return Ok(true);
        }
        match visibility.as_str() {
            "shared" => {
                let joined = match cache.joined_now {
                    Some(joined) => joined,
                    None => {
                        let joined = self
                            .storage
                            .membership(&event.room_id, user.as_str())
                            .await?
                            .is_some_and(|m| m.membership == "join");
                        cache.joined_now = Some(joined);
                        joined
                    }
                };
                Ok(joined)
            }
            "invited" => Ok(membership.as_deref() == Some("invite")),
            _ => Ok(false),
        }
    }

    /// A string field of a stored event's content (as stored, unredacted values).
    async fn content_field(
        &self,
        event_id: &str,
        field: &str,
    ) -> Result<Option<String>, RoomError> {
        let Some(stored) = self.storage.get_event(event_id).await? else {
            return Ok(None);
        };
        let json: Value = serde_json::from_str(&stored.json).map_err(RoomError::internal)?;
        Ok(json
            .get("content")
            .and_then(|c| c.get(field))
            .and_then(Value::as_str)
            .map(str::to_owned))
    }
}
