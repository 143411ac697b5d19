//! Joining a room hosted on other servers: `make_join` on a resident server → fill in and sign the join
//! event for the room's version → `send_join` (v2) → verify the returned state and auth chain and store the
//! room (the inbound checks do both) → fan the join out. Runs as its own task, so a big room never holds up
//! the caller's other requests or other rooms.

use hearth_crypto::canonical_json;
use hearth_federation::membership::make_join::MakeJoinResponse;
use hearth_federation::membership::send_join::SendJoinResponse;
use hearth_types::pdu::{compute_event_id, hash_and_sign_event};
use hearth_types::room_version::RoomVersionStability;
use hearth_types::{EventId, RoomAliasId, RoomId, RoomVersionRules, ServerName, UserId};
use serde_json::{Map, Value, json};

use super::{JOIN_ANSWER_TIMEOUT, RemoteRooms, now_ms, remote_error};
use crate::services::outbound::encode_path_segment;
use crate::services::rooms::RoomError;
use std::sync::Arc;

/// The largest PDU the spec allows, in bytes of canonical JSON.
const MAX_PDU_BYTES: usize = 65_536;
/// Most servers tried for one join.
const MAX_JOIN_CANDIDATES: usize = 10;

impl RemoteRooms {
    /// Joins `user` to a room by ID or alias, through `via` servers when this server is not in the room;
    /// returns the room ID. A room this server takes part in is joined locally.
    pub async fn join(
        self: &Arc<Self>,
        user: &UserId,
        id_or_alias: &str,
        via: Vec<ServerName>,
        reason: Option<String>,
    ) -> Result<String, RoomError> {
        let (room_id, mut servers) = if id_or_alias.starts_with('#') {
            let alias = RoomAliasId::parse(id_or_alias)
                .map_err(|e| RoomError::InvalidParam(format!("invalid room alias: {e}")))?;
            if *alias.server_name() == self.server_name {
                return self.rooms.join(user, id_or_alias, reason).await;
            }
            let (room_id, servers) = self.query_alias(&alias).await?;
            (room_id, servers)
        } else {
            let room_id = RoomId::parse(id_or_alias)
                .map_err(|e| RoomError::InvalidParam(format!("invalid room ID: {e}")))?;
            (room_id, Vec::new())
        };
        let known = self.storage.get_room(room_id.as_str()).await?.is_some();
        if known && self.has_local_member(room_id.as_str()).await? {
            return self.rooms.join(user, room_id.as_str(), reason).await;
        }
        servers.extend(via);
        if let Some(server) = room_id.server_name() {
            servers.push(server.clone());
        }
        if let Some(membership) = self
            .storage
            .membership(room_id.as_str(), user.as_str())
            .await?
            && membership.membership == "invite"
            && let Ok(inviter) = UserId::parse(&membership.sender)
        {
            servers.insert(0, inviter.server_name().clone());
        }
        let mut candidates = self.candidates(servers);
        candidates.truncate(MAX_JOIN_CANDIDATES);
        if candidates.is_empty() {
            if known {
                return self.rooms.join(user, room_id.as_str(), reason).await;
            }
            return Err(RoomError::NotFound(format!(
                "no known servers to join {room_id} through"
            )));
        }
        let this = self.clone();
        let user = user.clone();
        let task_room = room_id.clone();
        let task = tokio::spawn(async move {
            this.join_through(&user, &task_room, &candidates, reason)
                .await
        });
        match tokio::time::timeout(JOIN_ANSWER_TIMEOUT, task).await {
            Ok(Ok(result)) => result.map(|()| room_id.as_str().to_owned()),
            Ok(Err(panicked)) => Err(RoomError::internal(panicked)),
            Err(_) => Err(RoomError::Remote(format!(
                "joining {room_id} takes longer than {} s; it continues in the background",
                JOIN_ANSWER_TIMEOUT.as_secs()
            ))),
        }
    }

    /// Tries each candidate in turn until one join succeeds.
    async fn join_through(
        &self,
        user: &UserId,
        room_id: &RoomId,
        candidates: &[ServerName],
        reason: Option<String>,
    ) -> Result<(), RoomError> {
        let mut last = RoomError::NotFound(format!("no server could join {room_id}"));
        for server in candidates {
            tracing::info!(%room_id, %server, %user, "joining a room over federation");
            match self.join_via(user, room_id, server, reason.clone()).await {
                Ok(()) => {
                    tracing::info!(%room_id, %server, %user, "joined a room over federation");
                    return Ok(());
                }
                Err(error) => {
                    tracing::info!(%room_id, %server, %error, "remote join failed; trying the next server");
                    last = error;
                }
            }
        }
        Err(last)
    }

    /// One attempt: `make_join` and `send_join` on `server`, then verify and store.
    async fn join_via(
        &self,
        user: &UserId,
        room_id: &RoomId,
        server: &ServerName,
        reason: Option<String>,
    ) -> Result<(), RoomError> {
        let versions: String = RoomVersionRules::ALL
            .iter()
            .filter(|rules| rules.stability == RoomVersionStability::Stable)
            .map(|rules| format!("ver={}", rules.id))
            .collect::<Vec<_>>()
            .join("&");
        let (template, rules) = self
            .membership_template("make_join", server, room_id, user, &versions)
            .await?;
        let mut content = self.rooms.profile_content(user, "join").await?;
        if let Some(reason) = reason {
            content.insert("reason".into(), json!(reason));
        }
        let (event, event_id) =
            self.sign_membership(template, rules, room_id, user, "join", content)?;
        let path = format!(
            "/_matrix/federation/v2/send_join/{}/{}",
            encode_path_segment(room_id.as_str()),
            encode_path_segment(event_id.as_str())
        );
        let answer: SendJoinResponse = self
            .client
            .put_json(server, &path, &event)
            .await
            .map_err(|e| remote_error(server, e))?;
        // A restricted join comes back with the resident server's signature added; the event is the same.
        let joined = match answer.event {
            Some(signed) if compute_event_id(&signed, rules).ok().as_ref() == Some(&event_id) => {
                signed
            }
            _ => event,
        };
        self.import
            .import_joined_room(
                room_id.as_str(),
                rules,
                joined,
                answer.state,
                answer.auth_chain,
            )
            .await
            .map_err(|e| remote_error(server, e))?;
        self.sender.wake_fanout();
        Ok(())
    }

    /// Asks `server` for a membership template (`make_join`, `make_leave`; both answer `{room_version,
    /// event}`) with `query` appended; returns it with the room version's rules.
    pub(super) async fn membership_template(
        &self,
        endpoint: &str,
        server: &ServerName,
        room_id: &RoomId,
        user: &UserId,
        query: &str,
    ) -> Result<(Value, &'static RoomVersionRules), RoomError> {
        let path = format!(
            "/_matrix/federation/v1/{endpoint}/{}/{}?{query}",
            encode_path_segment(room_id.as_str()),
            encode_path_segment(user.as_str())
        );
        let template: MakeJoinResponse = self
            .client
            .get_json(server, path.trim_end_matches('?'))
            .await
            .map_err(|e| remote_error(server, e))?;
        let version = template.room_version.unwrap_or_else(|| "1".to_owned());
        let rules = RoomVersionRules::get(&version)
            .ok_or_else(|| RoomError::UnsupportedRoomVersion(version.clone()))?;
        Ok((template.event, rules))
    }

    /// Fills in a membership template from a resident server (`make_join`, `make_leave`) and signs it:
    /// the template must be the membership of `user` in `room_id` the caller asked for; timestamps, origin,
    /// event ID (v1/v2) and content are ours.
    pub(super) fn sign_membership(
        &self,
        template: Value,
        rules: &'static RoomVersionRules,
        room_id: &RoomId,
        user: &UserId,
        membership: &str,
        mut content: Map<String, Value>,
    ) -> Result<(Value, EventId), RoomError> {
        let Value::Object(mut event) = template else {
            return Err(RoomError::Remote(
                "the membership template is not an object".into(),
            ));
        };
        let field = |name: &str| event.get(name).and_then(Value::as_str).map(str::to_owned);
        if field("type").as_deref() != Some("m.room.member")
            || field("state_key").as_deref() != Some(user.as_str())
            || field("sender").as_deref() != Some(user.as_str())
            || field("room_id").as_deref() != Some(room_id.as_str())
        {
            return Err(RoomError::Remote(
                "the membership template is not for this user and room".into(),
            ));
        }
        // Keep what the resident server put into the content (restricted joins name an authorising user).
        if let Some(Value::Object(template_content)) = event.get("content") {
            for (key, value) in template_content {
                content.entry(key.clone()).or_insert_with(|| value.clone());
            }
        }
        content.insert("membership".into(), json!(membership));
        for generated in ["signatures", "hashes", "unsigned", "event_id"] {
            event.remove(generated);
        }
        event.insert("content".into(), Value::Object(content));
        event.insert("origin_server_ts".into(), json!(now_ms()));
        if !rules.redacts_in_content {
            event.insert("origin".into(), json!(self.server_name.as_str()));
        }
        if rules.has_event_id_field() {
            event.insert(
                "event_id".into(),
                json!(hearth_crypto::random_event_id(self.server_name.as_str())),
            );
        }
        let mut event = Value::Object(event);
        hash_and_sign_event(&mut event, rules, &self.server_name, &self.signing_key)
            .map_err(|e| RoomError::Remote(format!("cannot sign the membership template: {e}")))?;
        let size = canonical_json::to_canonical_string(&event)
            .map_err(|e| RoomError::Remote(format!("membership template: {e}")))?
            .len();
        if size > MAX_PDU_BYTES {
            return Err(RoomError::TooLarge);
        }
        let event_id = compute_event_id(&event, rules).map_err(RoomError::internal)?;
        Ok((event, event_id))
    }
}
