//! Room aliases, `m.room.canonical_alias` validation and the public room directory.

use hearth_types::{RoomAliasId, UserId};
use serde_json::{Map, Value, json};

use super::{RoomError, RoomService, now_ms};
use crate::storage::StorageError;

/// Largest page of `/publicRooms`.
const MAX_DIRECTORY_PAGE: usize = 500;

impl RoomService {
    /// Parses a local alias; `InvalidParam` for a malformed one, `BadAlias` for another server's.
    fn local_alias(&self, alias: &str) -> Result<RoomAliasId, RoomError> {
        let parsed = RoomAliasId::parse(alias)
            .map_err(|_| RoomError::InvalidParam(format!("invalid room alias {alias:?}")))?;
        if parsed.server_name() != &self.server_name {
            return Err(RoomError::InvalidParam(
                "aliases of other servers cannot be managed here".into(),
            ));
        }
        Ok(parsed)
    }

    /// `PUT /directory/room/{alias}`: only room members may point an alias at a room.
    pub async fn create_alias(
        &self,
        user: &UserId,
        alias: &str,
        room_id: &str,
    ) -> Result<(), RoomError> {
        let alias = self.local_alias(alias)?;
        self.room_context(room_id).await?;
        let joined = self
            .storage
            .membership(room_id, user.as_str())
            .await?
            .is_some_and(|m| m.membership == "join");
        if !joined {
            return Err(RoomError::Forbidden("you are not in this room".into()));
        }
        self.storage
            .create_alias(alias.as_str(), room_id, user.as_str(), now_ms())
            .await
            .map_err(|e| match e {
                StorageError::Conflict(_) => {
                    RoomError::AliasExists("room alias already exists".into())
                }
                other => other.into(),
            })
    }

    /// `GET /directory/room/{alias}`: `(room_id, servers)`.
    pub async fn lookup_alias(&self, alias: &str) -> Result<(String, Vec<String>), RoomError> {
        let alias = RoomAliasId::parse(alias)
            .map_err(|_| RoomError::InvalidParam(format!("invalid room alias {alias:?}")))?;
        let (room_id, _) = self
            .storage
            .get_alias(alias.as_str())
            .await?
            .ok_or_else(|| RoomError::NotFound("room alias not found".into()))?;
        Ok((room_id, vec![self.server_name.as_str().to_owned()]))
    }

    /// `DELETE /directory/room/{alias}`: the alias's creator, or a user with power to change
    /// `m.room.canonical_alias`, may delete it.
    pub async fn delete_alias(
        &self,
        user: &UserId,
        alias: &str,
        is_admin: bool,
    ) -> Result<(), RoomError> {
        let alias = self.local_alias(alias)?;
        let (room_id, creator) = self
            .storage
            .get_alias(alias.as_str())
            .await?
            .ok_or_else(|| RoomError::NotFound("room alias not found".into()))?;
        if creator != user.as_str() && !is_admin {
            let context = self.room_context(&room_id).await?;
            let power = self
                .user_power(&context, &Default::default(), user.as_str())
                .await?;
            if power < 50 {
                return Err(RoomError::Forbidden("you may not delete this alias".into()));
            }
        }
        self.storage.delete_alias(alias.as_str()).await?;
        Ok(())
    }

    /// `GET /rooms/{id}/aliases`: members only (or anyone in a world-readable room).
    pub async fn room_aliases(
        &self,
        user: &UserId,
        room_id: &str,
    ) -> Result<Vec<String>, RoomError> {
        self.room_state(user, room_id).await?;
        Ok(self.storage.aliases_of_room(room_id).await?)
    }

    /// Checks an `m.room.canonical_alias` content: every local alias it names must exist and point
    /// at this room (`BadAlias` otherwise).
    pub(super) async fn validate_canonical_alias(
        &self,
        room_id: &str,
        content: &Value,
    ) -> Result<(), RoomError> {
        let mut aliases: Vec<&Value> = Vec::new();
        if let Some(alias) = content.get("alias").filter(|a| !a.is_null()) {
            aliases.push(alias);
        }
        if let Some(alt) = content.get("alt_aliases") {
            let list = alt
                .as_array()
                .ok_or_else(|| RoomError::BadJson("alt_aliases must be a list".into()))?;
            aliases.extend(list.iter());
        }
        for alias in aliases {
            let text = alias
                .as_str()
                .ok_or_else(|| RoomError::BadJson("aliases must be strings".into()))?;
            let parsed = RoomAliasId::parse(text)
                .map_err(|_| RoomError::InvalidParam(format!("invalid room alias {text:?}")))?;
            if parsed.server_name() != &self.server_name {
                continue;
            }
            match self.storage.get_alias(text).await? {
                Some((target, _)) if target == room_id => {}
                _ => {
                    return Err(RoomError::BadAlias(format!(
                        "{text} does not point to this room"
                    )));
                }
            }
        }
        Ok(())
    }

    /// `GET/PUT /directory/list/room/{id}`: reads the directory visibility.
    pub async fn directory_visibility(&self, room_id: &str) -> Result<bool, RoomError> {
        Ok(self
            .storage
            .get_room(room_id)
            .await?
            .ok_or_else(|| RoomError::NotFound("unknown room".into()))?
            .is_public)
    }

    /// `PUT /directory/list/room/{id}`: room admins (power ≥ 50 for canonical alias) may publish.
    pub async fn set_directory_visibility(
        &self,
        user: &UserId,
        room_id: &str,
        public: bool,
        is_admin: bool,
    ) -> Result<(), RoomError> {
        let context = self.room_context(room_id).await?;
        if !is_admin {
            let power = self
                .user_power(&context, &Default::default(), user.as_str())
                .await?;
            if power < 50 {
                return Err(RoomError::Forbidden("you may not publish this room".into()));
            }
        }
        self.storage.set_room_public(room_id, public).await?;
        Ok(())
    }

    /// `/publicRooms`: published rooms with their summary, filtered by `generic_search_term`,
    /// paginated by offset tokens (`p<offset>`).
    pub async fn public_rooms(
        &self,
        limit: Option<usize>,
        since: Option<&str>,
        search: Option<&str>,
    ) -> Result<Value, RoomError> {
        let offset = match since {
            Some(token) => token
                .strip_prefix('p')
                .and_then(|n| n.parse::<usize>().ok())
                .ok_or_else(|| RoomError::InvalidParam("invalid since token".into()))?,
            None => 0,
        };
        let limit = limit
            .unwrap_or(MAX_DIRECTORY_PAGE)
            .clamp(1, MAX_DIRECTORY_PAGE);
        let search = search.map(str::to_lowercase).filter(|s| !s.is_empty());
        let mut rooms = Vec::new();
        for room_id in self.storage.public_room_ids().await? {
            let summary = self.room_summary(&room_id).await?;
            if let Some(term) = &search {
                let haystack = ["name", "topic", "canonical_alias"]
                    .iter()
                    .filter_map(|k| summary.get(*k).and_then(Value::as_str))
                    .map(str::to_lowercase)
                    .collect::<Vec<_>>()
                    .join(" ");
                if !haystack.contains(term.as_str()) {
                    continue;
                }
            }
            rooms.push(Value::Object(summary));
        }
        rooms.sort_by_key(|r| std::cmp::Reverse(r["num_joined_members"].as_i64().unwrap_or(0)));
        let total = rooms.len();
        let page: Vec<Value> = rooms.into_iter().skip(offset).take(limit).collect();
        let mut body = json!({"chunk": page, "total_room_count_estimate": total});
        if offset + limit < total {
            body["next_batch"] = json!(format!("p{}", offset + limit));
        }
        if offset > 0 {
            body["prev_batch"] = json!(format!("p{}", offset.saturating_sub(limit)));
        }
        Ok(body)
    }

    /// The directory entry of a room, from its current state.
    async fn room_summary(&self, room_id: &str) -> Result<Map<String, Value>, RoomError> {
        let mut summary = Map::new();
        summary.insert("room_id".into(), json!(room_id));
        summary.insert(
            "num_joined_members".into(),
            json!(self.storage.joined_member_count(room_id).await?),
        );
        let mut world_readable = false;
        let mut guest_can_join = false;
        for event in self.current_state_events(room_id).await? {
            let json: Value = serde_json::from_str(&event.json).map_err(RoomError::internal)?;
            let content = &json["content"];
            match (event.event_type.as_str(), event.state_key.as_deref()) {
                ("m.room.name", Some("")) => copy(&mut summary, "name", content.get("name")),
                ("m.room.topic", Some("")) => copy(&mut summary, "topic", content.get("topic")),
                ("m.room.avatar", Some("")) => copy(&mut summary, "avatar_url", content.get("url")),
                ("m.room.canonical_alias", Some("")) => {
                    copy(&mut summary, "canonical_alias", content.get("alias"));
                }
                ("m.room.join_rules", Some("")) => {
                    copy(&mut summary, "join_rule", content.get("join_rule"));
                }
                ("m.room.create", Some("")) => copy(&mut summary, "room_type", content.get("type")),
                ("m.room.history_visibility", Some("")) => {
                    world_readable = content["history_visibility"] == "world_readable";
                }
                ("m.room.guest_access", Some("")) => {
                    guest_can_join = content["guest_access"] == "can_join";
                }
                _ => {}
            }
        }
        summary.insert("world_readable".into(), json!(world_readable));
        summary.insert("guest_can_join".into(), json!(guest_can_join));
        Ok(summary)
    }
}

/// Copies a string value into the summary when present.
fn copy(summary: &mut Map<String, Value>, key: &str, value: Option<&Value>) {
    if let Some(value) = value.filter(|v| v.is_string()) {
        summary.insert(key.to_owned(), value.clone());
    }
}
