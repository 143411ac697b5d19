//! Relations: bundled aggregations (`unsigned.m.relations`) and the `/relations` and `/threads`
//! reads. Aggregations come from live relations only (see `storage::relations`), so a redacted
//! edit or reaction drops out.

use hearth_types::{DeviceId, UserId};
use serde_json::{Map, Value, json};

use super::read::{make_token, parse_token};
use super::{RoomError, RoomService};
use crate::storage::StoredEvent;

/// Deepest `recurse` walk of `/relations`.
const MAX_RECURSE_DEPTH: usize = 3;

impl RoomService {
    /// `unsigned.m.relations` of an event: the latest `m.replace` by its sender, the `m.thread`
    /// summary (count, latest event, whether `viewer` took part) and the `m.reference` chunk.
    pub(super) async fn bundled_aggregations(
        &self,
        stored: &StoredEvent,
        viewer: Option<&UserId>,
    ) -> Result<Option<Value>, RoomError> {
        let relations = self.storage.relations_to(&stored.event_id).await?;
        if relations.is_empty() {
            return Ok(None);
        }
        let mut bundle = Map::new();
        if let Some(edit) = relations.iter().rfind(|r| {
            r.rel_type == "m.replace"
                && r.sender == stored.sender
                && r.event_type == stored.event_type
        }) && let Some(edit_event) = self.storage.get_event(&edit.event_id).await?
        {
            let rules = self.room_rules(&stored.room_id).await?;
            let formatted = super::client_event::format_client_event(
                &edit_event,
                rules,
                Default::default(),
                super::now_ms(),
            );
            if let Some(formatted) = formatted {
                bundle.insert("m.replace".into(), formatted);
            }
        }
        let thread: Vec<_> = relations
            .iter()
            .filter(|r| r.rel_type == "m.thread")
            .collect();
        if let Some(latest) = thread.last()
            && let Some(latest_event) = self.storage.get_event(&latest.event_id).await?
        {
            let rules = self.room_rules(&stored.room_id).await?;
            let participated = viewer.is_some_and(|v| {
                stored.sender == v.as_str() || thread.iter().any(|r| r.sender == v.as_str())
            });
            let formatted = super::client_event::format_client_event(
                &latest_event,
                rules,
                Default::default(),
                super::now_ms(),
            );
            bundle.insert(
                "m.thread".into(),
                json!({
                    "latest_event": formatted,
                    "count": thread.len(),
                    "current_user_participated": participated,
                }),
            );
        }
        let references: Vec<Value> = relations
            .iter()
            .filter(|r| r.rel_type == "m.reference")
            .map(|r| json!({"event_id": r.event_id}))
            .collect();
        if !references.is_empty() {
            bundle.insert("m.reference".into(), json!({"chunk": references}));
        }
        Ok((!bundle.is_empty()).then_some(Value::Object(bundle)))
    }

    /// `GET /rooms/{id}/relations/{eventId}[/{relType}[/{eventType}]]`.
    #[allow(clippy::too_many_arguments)]
    pub async fn relations(
        &self,
        user: &UserId,
        device: Option<&DeviceId>,
        room_id: &str,
        event_id: &str,
        rel_type: Option<&str>,
        event_type: Option<&str>,
        from: Option<&str>,
        backward: bool,
        limit: i64,
        recurse: bool,
    ) -> Result<Value, RoomError> {
        let rules = self.room_rules(room_id).await?;
        // The parent must be visible to the caller.
        self.event_for_user(user, device, room_id, event_id).await?;
        let from = match from {
            Some(token) => parse_token(token)
                .ok_or_else(|| RoomError::InvalidParam("invalid from token".into()))?,
            None if backward => i64::MAX,
            None => 0,
        };
        let limit = limit.clamp(1, 100);
        let mut found = self
            .storage
            .relating_events(event_id, rel_type, event_type, from, backward, limit + 1)
            .await?;
        if recurse {
            let mut frontier: Vec<String> = found.iter().map(|e| e.event_id.clone()).collect();
            for _ in 1..MAX_RECURSE_DEPTH {
                let mut next = Vec::new();
                for parent in &frontier {
                    let children = self
                        .storage
                        .relating_events(parent, rel_type, event_type, from, backward, limit + 1)
                        .await?;
                    next.extend(children.iter().map(|e| e.event_id.clone()));
                    found.extend(children);
                }
                if next.is_empty() {
                    break;
                }
                frontier = next;
            }
            if backward {
                found.sort_by_key(|e| std::cmp::Reverse(e.stream_ordering));
            } else {
                found.sort_by_key(|e| e.stream_ordering);
            }
        }
        let more = found.len() as i64 > limit;
        found.truncate(limit as usize);
        let next = more.then(|| {
            let last = found.last().map_or(0, |e| e.stream_ordering);
            make_token(if backward { last - 1 } else { last })
        });
        let visible = self.visible_events(user, found).await?;
        let mut body = json!({
            "chunk": self.client_events(&visible, rules, Some((user, device))).await?,
        });
        if let Some(next) = next {
            body["next_batch"] = json!(next);
        }
        if recurse {
            body["recursion_depth"] = json!(MAX_RECURSE_DEPTH);
        }
        Ok(body)
    }

    /// `GET /rooms/{id}/threads`: thread roots, most recently active first.
    pub async fn threads(
        &self,
        user: &UserId,
        device: Option<&DeviceId>,
        room_id: &str,
        include_participated_only: bool,
        from: Option<&str>,
        limit: i64,
    ) -> Result<Value, RoomError> {
        let rules = self.room_rules(room_id).await?;
        let from = match from {
            Some(token) => parse_token(token)
                .ok_or_else(|| RoomError::InvalidParam("invalid from token".into()))?,
            None => i64::MAX,
        };
        let limit = limit.clamp(1, 100);
        let roots = self.storage.thread_roots(room_id, from, limit + 1).await?;
        let more = roots.len() as i64 > limit;
        let mut events = Vec::new();
        let mut last_latest = None;
        for (root, latest) in roots.into_iter().take(limit as usize) {
            last_latest = Some(latest);
            if let Some(event) = self.storage.get_event(&root).await? {
                events.push(event);
            }
        }
        let events = self.visible_events(user, events).await?;
        let mut chunk = Vec::new();
        for event in &events {
            let formatted = self
                .client_event(event, rules, Some((user, device)))
                .await?;
            let participated =
                formatted["unsigned"]["m.relations"]["m.thread"]["current_user_participated"]
                    .as_bool()
                    .unwrap_or(false);
            if !include_participated_only || participated {
                chunk.push(formatted);
            }
        }
        let mut body = json!({ "chunk": chunk });
        if more && let Some(latest) = last_latest {
            body["next_batch"] = json!(make_token(latest - 1));
        }
        Ok(body)
    }
}
