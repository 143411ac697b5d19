//! Reading rooms for clients: single events, state, members, the timeline (`/messages`,
//! `/context`), and the listings `/sync` builds on (a user's memberships, events after a stream
//! position, current state).
//!
//! Pagination tokens are `s<stream ordering>`: the position just after that event. Backward
//! pagination from `sN` returns events at or before N, forward pagination events after N. Positions
//! can be zero or negative (`s-42`): backfilled history is stored below the first local event.
//!
//! A backward `/messages` walk that runs out of stored events asks other servers for older history
//! (see `backfill.rs`) and continues into it, so a client pages down to the room's creation.

use hearth_types::{DeviceId, RoomVersionRules, UserId};
use serde_json::{Map, Value, json};

use super::backfill::MAX_BACKFILL_ROUNDS;
use super::client_event::{ClientEventExtras, format_client_event};
use super::visibility::VisibilityCache;
use super::{RoomError, RoomService, now_ms};
use crate::storage::{Direction, Membership, StoredEvent};

/// How many events one `/messages` page may hold at most.
const MAX_PAGE: i64 = 1000;

/// `/members` filters.
#[derive(Debug, Default, Clone)]
pub struct MembersFilter {
    /// Only memberships as of this token (`s<stream ordering>`).
    pub at: Option<String>,
    /// Only this membership.
    pub membership: Option<String>,
    /// Everything but this membership.
    pub not_membership: Option<String>,
}

/// One `/messages` page.
#[derive(Debug, Clone)]
pub struct MessagesPage {
    /// The events, in the walk's order.
    pub chunk: Vec<Value>,
    /// The token the walk started at.
    pub start: String,
    /// The token to continue from; `None` when the walk reached the end.
    pub end: Option<String>,
    /// Member events of the chunk's senders (lazy loading).
    pub state: Vec<Value>,
}

/// Reads the stream ordering out of a pagination token (`s123`, `s-42` for backfilled history, or
/// a composite `s123_…`).
pub fn parse_token(token: &str) -> Option<i64> {
    let digits = token.strip_prefix('s').unwrap_or(token);
    let digits = digits.split(['_', '~']).next()?;
    let (negative, magnitude) = match digits.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, digits),
    };
    if magnitude.is_empty() || !magnitude.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let value: i64 = magnitude.parse().ok()?;
    Some(if negative { -value } else { value })
}

/// The token for a stream position.
pub fn make_token(stream: i64) -> String {
    format!("s{stream}")
}

impl RoomService {
    /// The user's membership rows, forgotten rooms excluded: what `/sync` iterates over.
    pub async fn memberships_of_user(&self, user: &UserId) -> Result<Vec<Membership>, RoomError> {
        Ok(self.storage.memberships_of_user(user.as_str()).await?)
    }

    /// The rooms the user is joined to.
    pub async fn joined_rooms(&self, user: &UserId) -> Result<Vec<String>, RoomError> {
        Ok(self
            .memberships_of_user(user)
            .await?
            .into_iter()
            .filter(|m| m.membership == "join")
            .map(|m| m.room_id)
            .collect())
    }

    /// The room's version rules (for [`format_client_event`]).
    pub async fn room_rules(&self, room_id: &str) -> Result<&'static RoomVersionRules, RoomError> {
        Ok(self.room_context(room_id).await?.rules)
    }

    /// Timeline events with `after < stream ordering <= up_to`, oldest first, at most `limit`
    /// (the newest `limit` when more exist: the caller marks the timeline `limited`).
    pub async fn timeline_between(
        &self,
        room_id: &str,
        after: i64,
        up_to: i64,
        limit: i64,
    ) -> Result<Vec<StoredEvent>, RoomError> {
        let mut events = self
            .storage
            .room_events(room_id, up_to, Some(after), Direction::Backward, limit)
            .await?;
        events.reverse();
        Ok(events)
    }

    /// The current state of a room as stored events.
    pub async fn current_state_events(&self, room_id: &str) -> Result<Vec<StoredEvent>, RoomError> {
        let ids: Vec<String> = self
            .storage
            .current_state(room_id)
            .await?
            .into_values()
            .collect();
        Ok(self.storage.get_events(&ids).await?)
    }

    /// The state after an event (or the current state when the event has no state group).
    pub async fn state_after_event(
        &self,
        event: &StoredEvent,
    ) -> Result<Vec<StoredEvent>, RoomError> {
        let ids: Vec<String> = match event.state_group {
            Some(group) => self
                .storage
                .state_group(group)
                .await?
                .into_values()
                .collect(),
            None => self
                .storage
                .current_state(&event.room_id)
                .await?
                .into_values()
                .collect(),
        };
        Ok(self.storage.get_events(&ids).await?)
    }

    /// Formats an event for `viewer`: redaction, `transaction_id` for the sending device, bundled
    /// aggregations. The one formatting path of every endpoint (and of `/sync`).
    pub async fn client_event(
        &self,
        stored: &StoredEvent,
        rules: &RoomVersionRules,
        viewer: Option<(&UserId, Option<&DeviceId>)>,
    ) -> Result<Value, RoomError> {
        let mut extras = ClientEventExtras::default();
        if let Some((user, Some(device))) = viewer
            && stored.sender == user.as_str()
            && let Some((txn_user, txn_device, txn_id)) =
                self.storage.txn_of_event(&stored.event_id).await?
            && txn_user == user.as_str()
            && txn_device == device.as_str()
        {
            extras.transaction_id = Some(txn_id);
        }
        if let Some(redaction_id) = &stored.redacted_by
            && let Some(redaction) = self.storage.get_event(redaction_id).await?
        {
            extras.redacted_because =
                format_client_event(&redaction, rules, ClientEventExtras::default(), now_ms());
        }
        if stored.redacted_by.is_none() {
            extras.relations = self
                .bundled_aggregations(stored, viewer.map(|v| v.0))
                .await?;
        }
        format_client_event(stored, rules, extras, now_ms()).ok_or_else(|| {
            RoomError::Internal(format!("stored event {} is corrupt", stored.event_id))
        })
    }

    /// Formats many events of one room.
    pub async fn client_events(
        &self,
        events: &[StoredEvent],
        rules: &RoomVersionRules,
        viewer: Option<(&UserId, Option<&DeviceId>)>,
    ) -> Result<Vec<Value>, RoomError> {
        let mut out = Vec::with_capacity(events.len());
        for event in events {
            out.push(self.client_event(event, rules, viewer).await?);
        }
        Ok(out)
    }

    /// `GET /rooms/{id}/event/{eventId}`: the event if it is in the room and visible to `user`.
    pub async fn event_for_user(
        &self,
        user: &UserId,
        device: Option<&DeviceId>,
        room_id: &str,
        event_id: &str,
    ) -> Result<Value, RoomError> {
        let rules = self.room_rules(room_id).await?;
        let stored = self
            .storage
            .get_event(event_id)
            .await?
            .filter(|e| e.room_id == room_id && !e.rejected && !e.outlier)
            .ok_or_else(|| RoomError::NotFound("event not found".into()))?;
        if !self
            .can_see(user, &stored, &mut VisibilityCache::default())
            .await?
        {
            return Err(RoomError::NotFound("event not found".into()));
        }
        self.client_event(&stored, rules, Some((user, device)))
            .await
    }

    /// The state a user may read: the current state while joined, the state at their leave
    /// afterwards; otherwise `Forbidden` (unless the room is world-readable).
    async fn readable_state(
        &self,
        user: &UserId,
        room_id: &str,
    ) -> Result<Vec<StoredEvent>, RoomError> {
        self.room_context(room_id).await?;
        match self.storage.membership(room_id, user.as_str()).await? {
            Some(m) if m.membership == "join" => self.current_state_events(room_id).await,
            Some(m) if matches!(m.membership.as_str(), "leave" | "ban") => {
                match self.storage.get_event(&m.event_id).await? {
                    Some(event) => self.state_after_event(&event).await,
                    None => Err(RoomError::Forbidden("you are not in this room".into())),
                }
            }
            _ => {
                let state = self.current_state_events(room_id).await?;
                let world_readable = state.iter().any(|e| {
                    e.event_type == "m.room.history_visibility"
                        && serde_json::from_str::<Value>(&e.json)
                            .ok()
                            .is_some_and(|j| j["content"]["history_visibility"] == "world_readable")
                });
                if world_readable {
                    Ok(state)
                } else {
                    Err(RoomError::Forbidden("you are not in this room".into()))
                }
            }
        }
    }

    /// `GET /rooms/{id}/state`.
    pub async fn room_state(&self, user: &UserId, room_id: &str) -> Result<Vec<Value>, RoomError> {
        let rules = self.room_rules(room_id).await?;
        let state = self.readable_state(user, room_id).await?;
        self.client_events(&state, rules, Some((user, None))).await
    }

    /// `GET /rooms/{id}/state/{type}/{stateKey}`: the content (or the whole event when
    /// `full_event`).
    pub async fn state_event(
        &self,
        user: &UserId,
        room_id: &str,
        event_type: &str,
        state_key: &str,
        full_event: bool,
    ) -> Result<Value, RoomError> {
        let rules = self.room_rules(room_id).await?;
        let state = self.readable_state(user, room_id).await?;
        let event = state
            .iter()
            .find(|e| e.event_type == event_type && e.state_key.as_deref() == Some(state_key))
            .ok_or_else(|| RoomError::NotFound("state event not found".into()))?;
        let client = self.client_event(event, rules, Some((user, None))).await?;
        if full_event {
            Ok(client)
        } else {
            Ok(client.get("content").cloned().unwrap_or_else(|| json!({})))
        }
    }

    /// `GET /rooms/{id}/members`.
    pub async fn members(
        &self,
        user: &UserId,
        room_id: &str,
        filter: &MembersFilter,
    ) -> Result<Vec<Value>, RoomError> {
        let rules = self.room_rules(room_id).await?;
        let mut state = self.readable_state(user, room_id).await?;
        if let Some(at) = &filter.at {
            let at = parse_token(at)
                .ok_or_else(|| RoomError::InvalidParam("invalid `at` token".into()))?;
            let latest = self
                .storage
                .room_events(room_id, at, None, Direction::Backward, 1)
                .await?;
            if let Some(event) = latest.first() {
                state = self.state_after_event(event).await?;
            }
        }
        let members: Vec<StoredEvent> = state
            .into_iter()
            .filter(|e| e.event_type == "m.room.member")
            .filter(|e| {
                let membership = serde_json::from_str::<Value>(&e.json)
                    .ok()
                    .and_then(|j| j["content"]["membership"].as_str().map(str::to_owned))
                    .unwrap_or_default();
                filter.membership.as_ref().is_none_or(|m| *m == membership)
                    && filter
                        .not_membership
                        .as_ref()
                        .is_none_or(|m| *m != membership)
            })
            .collect();
        self.client_events(&members, rules, Some((user, None)))
            .await
    }

    /// `GET /rooms/{id}/joined_members`: user ID → `{display_name, avatar_url}`.
    pub async fn joined_members(
        &self,
        user: &UserId,
        room_id: &str,
    ) -> Result<Map<String, Value>, RoomError> {
        let state = self.readable_state(user, room_id).await?;
        let mut joined = Map::new();
        for event in state.iter().filter(|e| e.event_type == "m.room.member") {
            let json: Value = serde_json::from_str(&event.json).map_err(RoomError::internal)?;
            let content = &json["content"];
            if content["membership"] != "join" {
                continue;
            }
            let Some(member) = &event.state_key else {
                continue;
            };
            let mut entry = Map::new();
            entry.insert(
                "display_name".into(),
                content.get("displayname").cloned().unwrap_or(Value::Null),
            );
            entry.insert(
                "avatar_url".into(),
                content.get("avatar_url").cloned().unwrap_or(Value::Null),
            );
            joined.insert(member.clone(), Value::Object(entry));
        }
        Ok(joined)
    }

    /// `GET /rooms/{id}/messages`.
    #[allow(clippy::too_many_arguments)]
    pub async fn messages(
        &self,
        user: &UserId,
        device: Option<&DeviceId>,
        room_id: &str,
        from: Option<&str>,
        to: Option<&str>,
        direction: Direction,
        limit: i64,
        filter: Option<&Value>,
    ) -> Result<MessagesPage, RoomError> {
        let rules = self.room_rules(room_id).await?;
        let membership = self.storage.membership(room_id, user.as_str()).await?;
        if membership.is_none() {
            self.readable_state(user, room_id).await?;
        }
        let parse = |t: &str| {
            parse_token(t).ok_or_else(|| RoomError::InvalidParam(format!("invalid token {t:?}")))
        };
        let mut position = match from {
            Some(token) => parse(token)?,
            None => match direction {
                Direction::Backward => self.storage.max_stream_ordering().await?,
                Direction::Forward => 0,
            },
        };
        let to = to.map(parse).transpose()?;
        let limit = limit.clamp(1, MAX_PAGE);
        let start = make_token(position);
        let mut cache = VisibilityCache::default();
        let mut chunk_events = Vec::new();
        let mut exhausted = false;
        let mut backfills = 0;
        for _ in 0..10 + MAX_BACKFILL_ROUNDS {
            let batch = self
                .storage
                .room_events(room_id, position, to, direction, limit)
                .await?;
            let fetched = batch.len() as i64;
            for event in batch {
                position = match direction {
                    Direction::Backward => event.stream_ordering - 1,
                    Direction::Forward => event.stream_ordering,
                };
                if (chunk_events.len() as i64) < limit
                    && matches_filter(&event, filter)
                    && self.can_see(user, &event, &mut cache).await?
                {
                    chunk_events.push(event);
                }
                if chunk_events.len() as i64 >= limit {
                    break;
                }
            }
            let full = chunk_events.len() as i64 >= limit;
            if fetched < limit {
                // Out of stored events: older history may be on other servers.
                if direction == Direction::Backward && to.is_none() {
                    if full {
                        exhausted = !self.may_have_older_history(room_id).await?;
                        break;
                    }
                    if backfills < MAX_BACKFILL_ROUNDS
                        && self.fill_history_below(room_id, position).await
                    {
                        backfills += 1;
                        continue;
                    }
                }
                exhausted = true;
                break;
            }
            if full {
                break;
            }
        }
        let chunk = self
            .client_events(&chunk_events, rules, Some((user, device)))
            .await?;
        let lazy = filter
            .and_then(|f| f.get("lazy_load_members"))
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let mut state = Vec::new();
        if lazy {
            let mut senders: Vec<&str> = chunk_events.iter().map(|e| e.sender.as_str()).collect();
            senders.sort_unstable();
            senders.dedup();
            for sender in senders {
                if let Some(id) = self
                    .storage
                    .current_state_event_id(room_id, "m.room.member", sender)
                    .await?
                    && let Some(event) = self.storage.get_event(&id).await?
                {
                    state.push(
                        self.client_event(&event, rules, Some((user, device)))
                            .await?,
                    );
                }
            }
        }
        Ok(MessagesPage {
            chunk,
            start,
            end: (!exhausted).then(|| make_token(position)),
            state,
        })
    }

    /// `GET /rooms/{id}/context/{eventId}`: the event, up to `limit` visible events around it,
    /// tokens to paginate outwards, and the state at the event.
    pub async fn context(
        &self,
        user: &UserId,
        device: Option<&DeviceId>,
        room_id: &str,
        event_id: &str,
        limit: i64,
    ) -> Result<Value, RoomError> {
        let rules = self.room_rules(room_id).await?;
        let stored = self
            .storage
            .get_event(event_id)
            .await?
            .filter(|e| e.room_id == room_id && !e.rejected && !e.outlier)
            .ok_or_else(|| RoomError::NotFound("event not found".into()))?;
        let mut cache = VisibilityCache::default();
        if !self.can_see(user, &stored, &mut cache).await? {
            return Err(RoomError::NotFound("event not found".into()));
        }
        let limit = limit.clamp(0, 100);
        let before_n = limit / 2;
        let after_n = limit - before_n;
        let before = self
            .storage
            .room_events(
                room_id,
                stored.stream_ordering - 1,
                None,
                Direction::Backward,
                before_n.max(1),
            )
            .await?;
        let after = self
            .storage
            .room_events(
                room_id,
                stored.stream_ordering,
                None,
                Direction::Forward,
                after_n.max(1),
            )
            .await?;
        let before: Vec<StoredEvent> = before.into_iter().take(before_n as usize).collect();
        let after: Vec<StoredEvent> = after.into_iter().take(after_n as usize).collect();
        let start = before
            .last()
            .map_or(stored.stream_ordering - 1, |e| e.stream_ordering - 1);
        let end = after
            .last()
            .map_or(stored.stream_ordering, |e| e.stream_ordering);
        let before = self.visible_events(user, before).await?;
        let after = self.visible_events(user, after).await?;
        let state = self.state_after_event(&stored).await?;
        Ok(json!({
            "event": self.client_event(&stored, rules, Some((user, device))).await?,
            "events_before": self.client_events(&before, rules, Some((user, device))).await?,
            "events_after": self.client_events(&after, rules, Some((user, device))).await?,
            "start": make_token(start),
            "end": make_token(end),
            "state": self.client_events(&state, rules, Some((user, device))).await?,
        }))
    }
}

/// The parts of a `RoomEventFilter` applied to `/messages`: `types`, `not_types`, `senders`,
/// `not_senders` (types may end in `*`).
fn matches_filter(event: &StoredEvent, filter: Option<&Value>) -> bool {
    let Some(filter) = filter else { return true };
    let list = |key: &str| -> Option<Vec<&str>> {
        filter
            .get(key)
            .and_then(Value::as_array)
            .map(|items| items.iter().filter_map(Value::as_str).collect())
    };
    let type_matches = |pattern: &str| match pattern.strip_suffix('*') {
        Some(prefix) => event.event_type.starts_with(prefix),
        None => event.event_type == pattern,
    };
    if list("not_types").is_some_and(|types| types.iter().any(|t| type_matches(t))) {
        return false;
    }
    if list("types").is_some_and(|types| !types.iter().any(|t| type_matches(t))) {
        return false;
    }
    if list("not_senders").is_some_and(|s| s.contains(&event.sender.as_str())) {
        return false;
    }
    if list("senders").is_some_and(|s| !s.contains(&event.sender.as_str())) {
        return false;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_accept_composite_forms() {
        assert_eq!(parse_token(&make_token(42)), Some(42));
        assert_eq!(parse_token("s7_3_1"), Some(7));
        assert_eq!(parse_token("garbage"), None);
        assert_eq!(parse_token(&make_token(-42)), Some(-42));
        assert_eq!(parse_token("s-"), None);
        assert_eq!(parse_token("s--1"), None);
        assert_eq!(parse_token("s+1"), None);
    }
}
