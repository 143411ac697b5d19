//! Reads other servers make of a room's DAG: `/event`, `/state`, `/state_ids`, `/event_auth`,
//! `/backfill` and `/get_missing_events`.
//!
//! Only servers that have (or had) a user in the room may read it, and the room's server ACL applies.
//! Events are served as stored (as signed); a redacted event is served in its redacted form; rejected
//! events are never served. Every walk is bounded.

use std::collections::{BTreeMap, HashSet, VecDeque};

use hearth_types::{RoomVersionRules, ServerName};
use serde_json::{Value, json};

use super::{FederationError, FederationService};
use crate::storage::StoredEvent;

/// Most events of an auth chain served at once.
pub const MAX_AUTH_CHAIN: usize = 50_000;
/// Most events one `/backfill` returns.
pub const MAX_BACKFILL: usize = 100;
/// Most events one `/get_missing_events` returns.
pub const MAX_GET_MISSING: usize = 50;

impl FederationService {
    /// `GET /event/{eventId}`: one event, if `origin` may read its room.
    pub async fn serve_event(
        &self,
        origin: &ServerName,
        event_id: &str,
    ) -> Result<Value, FederationError> {
        let stored = self
            .storage
            .get_event(event_id)
            .await?
            .filter(|event| !event.rejected)
            .ok_or_else(|| FederationError::NotFound(format!("unknown event {event_id}")))?;
        self.check_can_read_room(&stored.room_id, origin).await?;
        let rules = self.rules_of(&stored.room_id).await?;
        Ok(self.transaction_of(vec![served_json(&stored, rules)?]))
    }

    /// `GET /state/{roomId}?event_id=` (`ids_only` false) and `GET /state_ids/{roomId}?event_id=`: the state
    /// before the event, and the auth chain of that state.
    pub async fn serve_state(
        &self,
        origin: &ServerName,
        room_id: &str,
        event_id: &str,
        ids_only: bool,
    ) -> Result<Value, FederationError> {
        self.check_can_read_room(room_id, origin).await?;
        self.state_answer(room_id, event_id, ids_only).await
    }

    /// The state before an event and the auth chain of that state (IDs or full events), without the read
    /// check (also the body of the `send_join` answer).
    pub(super) async fn state_answer(
        &self,
        room_id: &str,
        event_id: &str,
        ids_only: bool,
    ) -> Result<Value, FederationError> {
        let event = self
            .storage
            .get_event(event_id)
            .await?
            .filter(|event| event.room_id == room_id && !event.outlier && !event.rejected)
            .ok_or_else(|| FederationError::NotFound(format!("unknown event {event_id}")))?;
        let state = self
            .rooms
            .state_before_stored_event(&event.event_id)
            .await?
            .ok_or_else(|| {
                FederationError::NotFound("the state at this event is unknown".into())
            })?;
        let state_ids: Vec<String> = state.into_values().collect();
        let auth_chain = self.auth_chain_ids(&state_ids).await?;
        if ids_only {
            return Ok(json!({ "pdu_ids": state_ids, "auth_chain_ids": auth_chain }));
        }
        let rules = self.rules_of(room_id).await?;
        Ok(json!({
            "pdus": self.served_events(&state_ids, rules).await?,
            "auth_chain": self.served_events(&auth_chain, rules).await?,
        }))
    }

    /// `GET /event_auth/{roomId}/{eventId}`: the full auth chain of an event.
    pub async fn serve_event_auth(
        &self,
        origin: &ServerName,
        room_id: &str,
        event_id: &str,
    ) -> Result<Value, FederationError> {
        self.check_can_read_room(room_id, origin).await?;
        let event = self
            .storage
            .get_event(event_id)
            .await?
            .filter(|event| event.room_id == room_id)
            .ok_or_else(|| FederationError::NotFound(format!("unknown event {event_id}")))?;
        let rules = self.rules_of(room_id).await?;
        let json: Value = serde_json::from_str(&event.json)
            .map_err(|e| FederationError::Internal(e.to_string()))?;
        let auth_ids = auth_event_ids(&json);
        let mut chain = self.auth_chain_ids(&auth_ids).await?;
        chain.extend(auth_ids);
        chain.sort();
        chain.dedup();
        Ok(json!({ "auth_chain": self.served_events(&chain, rules).await? }))
    }

    /// `GET /backfill/{roomId}?v=…&limit=`: up to `limit` events preceding (and including) `from`, walking
    /// `prev_events` breadth-first, newest first.
    pub async fn serve_backfill(
        &self,
        origin: &ServerName,
        room_id: &str,
        from: &[String],
        limit: usize,
    ) -> Result<Value, FederationError> {
        self.check_can_read_room(room_id, origin).await?;
        let rules = self.rules_of(room_id).await?;
        let limit = limit.clamp(1, MAX_BACKFILL);
        let mut seen: HashSet<String> = HashSet::new();
        let mut queue: VecDeque<String> = from.iter().take(20).cloned().collect();
        let mut found: Vec<StoredEvent> = Vec::new();
        while let Some(id) = queue.pop_front() {
            if found.len() >= limit || !seen.insert(id.clone()) {
                continue;
            }
            let Some(event) = self.storage.get_event(&id).await? else {
                continue;
            };
            if event.room_id != room_id || event.outlier {
                continue;
            }
            let json: Value = serde_json::from_str(&event.json)
                .map_err(|e| FederationError::Internal(e.to_string()))?;
            queue.extend(prev_event_ids(&json));
            if !event.rejected {
                found.push(event);
            }
        }
        found.sort_by_key(|event| std::cmp::Reverse(event.depth));
        let pdus = found
            .iter()
            .map(|event| served_json(event, rules))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(self.transaction_of(pdus))
    }

    /// `POST /get_missing_events/{roomId}`: events reachable backwards from `latest` that are not reachable
    /// from `earliest`, up to `limit`, at depth `min_depth` or deeper, oldest first.
    pub async fn serve_missing_events(
        &self,
        origin: &ServerName,
        room_id: &str,
        earliest: &[String],
        latest: &[String],
        limit: usize,
        min_depth: i64,
    ) -> Result<Value, FederationError> {
        self.check_can_read_room(room_id, origin).await?;
        let rules = self.rules_of(room_id).await?;
        let limit = limit.clamp(1, MAX_GET_MISSING);
        let stop: HashSet<&String> = earliest.iter().collect();
        let mut seen: HashSet<String> = latest.iter().cloned().collect();
        let mut queue: VecDeque<String> = VecDeque::new();
        for id in latest.iter().take(20) {
            if let Some(event) = self.storage.get_event(id).await?
                && event.room_id == room_id
            {
                let json: Value = serde_json::from_str(&event.json)
                    .map_err(|e| FederationError::Internal(e.to_string()))?;
                queue.extend(prev_event_ids(&json));
            }
        }
        let mut found: Vec<StoredEvent> = Vec::new();
        while let Some(id) = queue.pop_front() {
            if found.len() >= limit {
                break;
            }
            if stop.contains(&id) || !seen.insert(id.clone()) {
                continue;
            }
            let Some(event) = self.storage.get_event(&id).await? else {
                continue;
            };
            if event.room_id != room_id || event.outlier || event.depth < min_depth {
                continue;
            }
            let json: Value = serde_json::from_str(&event.json)
                .map_err(|e| FederationError::Internal(e.to_string()))?;
            queue.extend(prev_event_ids(&json));
            if !event.rejected {
                found.push(event);
            }
        }
        found.sort_by_key(|event| (event.depth, event.stream_ordering));
        let events = found
            .iter()
            .map(|event| served_json(event, rules))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(json!({ "events": events }))
    }

    /// The auth chain of `ids` (not including them), bounded by [`MAX_AUTH_CHAIN`].
    async fn auth_chain_ids(&self, ids: &[String]) -> Result<Vec<String>, FederationError> {
        let mut chain: BTreeMap<String, ()> = BTreeMap::new();
        let mut queue: VecDeque<String> = VecDeque::new();
        for id in ids {
            if let Some(event) = self.storage.get_event(id).await? {
                let json: Value = serde_json::from_str(&event.json)
                    .map_err(|e| FederationError::Internal(e.to_string()))?;
                queue.extend(auth_event_ids(&json));
            }
        }
        while let Some(id) = queue.pop_front() {
            if chain.contains_key(&id) {
                continue;
            }
            if chain.len() >= MAX_AUTH_CHAIN {
                return Err(FederationError::Internal("auth chain too large".into()));
            }
            let Some(event) = self.storage.get_event(&id).await? else {
                continue;
            };
            let json: Value = serde_json::from_str(&event.json)
                .map_err(|e| FederationError::Internal(e.to_string()))?;
            queue.extend(auth_event_ids(&json));
            chain.insert(id, ());
        }
        Ok(chain.into_keys().collect())
    }

    /// The stored events among `ids` as served (rejected ones left out).
    async fn served_events(
        &self,
        ids: &[String],
        rules: &RoomVersionRules,
    ) -> Result<Vec<Value>, FederationError> {
        let mut events = Vec::with_capacity(ids.len());
        for event in self.storage.get_events(ids).await? {
            if !event.rejected {
                events.push(served_json(&event, rules)?);
            }
        }
        Ok(events)
    }

    /// The room's version rules.
    pub(super) async fn rules_of(
        &self,
        room_id: &str,
    ) -> Result<&'static RoomVersionRules, FederationError> {
        let room = self
            .storage
            .get_room(room_id)
            .await?
            .ok_or_else(|| FederationError::NotFound(format!("unknown room {room_id}")))?;
        RoomVersionRules::get(&room.room_version)
            .ok_or(FederationError::UnsupportedRoomVersion(room.room_version))
    }

    /// `{origin, origin_server_ts, pdus}`, the shape of `/event` and `/backfill` answers.
    fn transaction_of(&self, pdus: Vec<Value>) -> Value {
        json!({
            "origin": self.server_name.as_str(),
            "origin_server_ts": crate::signing_key::now_millis(),
            "pdus": pdus,
        })
    }
}

/// A stored event as served over federation: as signed, redacted if it was redacted.
fn served_json(event: &StoredEvent, rules: &RoomVersionRules) -> Result<Value, FederationError> {
    let json: Value =
        serde_json::from_str(&event.json).map_err(|e| FederationError::Internal(e.to_string()))?;
    if event.redacted_by.is_some() {
        return hearth_types::redaction::redact(&json, rules)
            .map_err(|e| FederationError::Internal(e.to_string()));
    }
    Ok(json)
}

/// Event IDs of a list of references: plain IDs (v3+) or `[id, hashes]` pairs (v1, v2).
fn reference_ids(list: Option<&Value>) -> Vec<String> {
    list.and_then(Value::as_array)
        .map(|refs| {
            refs.iter()
                .filter_map(|r| r.as_str().or_else(|| r.get(0).and_then(Value::as_str)))
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// `auth_events` of an event as IDs.
pub(super) fn auth_event_ids(event: &Value) -> Vec<String> {
    reference_ids(event.get("auth_events"))
}

/// `prev_events` of an event as IDs.
fn prev_event_ids(event: &Value) -> Vec<String> {
    reference_ids(event.get("prev_events"))
}
