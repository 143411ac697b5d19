//! Membership handshakes other servers start: `make_join`/`send_join` (v2), `make_leave`/`send_leave`
//! (v2), `make_knock`/`send_knock`, and `invite` (v2).
//!
//! `make_*` answers a template built from this server's view of the room and checked against the current
//! state. `send_*` takes the signed event back: it must be the membership event the handshake promised (type,
//! membership, sender of the requesting server, state key = sender, the room and event ID of the path); it
//! then goes through the receive pipeline like any PDU, and only an accepted event is answered with 200.

use hearth_types::{RoomVersionRules, ServerName, UserId};
use serde_json::{Map, Value, json};

use super::{FederationError, FederationService};
use crate::services::rooms::RemoteOutcome;

/// Most stripped state events kept from an invite or knock.
const MAX_STRIPPED_STATE: usize = 50;

/// State types given to knocking and invited users (stripped), per the spec's recommendation.
const STRIPPED_STATE_TYPES: &[&str] = &[
    "m.room.create",
    "m.room.name",
    "m.room.avatar",
    "m.room.topic",
    "m.room.join_rules",
    "m.room.canonical_alias",
    "m.room.encryption",
];

impl FederationService {
    /// `GET /make_{join,leave,knock}/{roomId}/{userId}`: the template and the room version. `supported`
    /// are the asking server's room versions (`ver`); `None` skips the check (leave: any version).
    pub async fn make_membership(
        &self,
        origin: &ServerName,
        room_id: &str,
        user_id: &str,
        membership: &str,
        supported: Option<&[String]>,
    ) -> Result<Value, FederationError> {
        let user = self.remote_user(origin, user_id)?;
        let rules = self.rules_of(room_id).await?;
        if let Some(versions) = supported
            && !versions.iter().any(|v| v == rules.id)
        {
            return Err(FederationError::IncompatibleRoomVersion(
                rules.id.to_owned(),
            ));
        }
        if membership == "knock" && !rules.authorization.knocking {
            return Err(FederationError::IncompatibleRoomVersion(
                rules.id.to_owned(),
            ));
        }
        self.check_server_acl(room_id, origin).await?;
        let (event, _) = self
            .rooms
            .remote_membership_template(room_id, &user, membership, Map::new())
            .await?;
        Ok(json!({ "event": event, "room_version": rules.id }))
    }

    /// `PUT /v2/send_{join,leave,knock}/{roomId}/{eventId}` (knock is v1): checks and accepts the signed
    /// membership event. Returns the accepted event and its rules.
    pub async fn send_membership(
        &self,
        origin: &ServerName,
        room_id: &str,
        event_id: &str,
        membership: &str,
        event: Value,
    ) -> Result<(Value, &'static RoomVersionRules), FederationError> {
        let rules = self.rules_of(room_id).await?;
        self.check_server_acl(room_id, origin).await?;
        let check = |ok: bool, what: &str| {
            if ok {
                Ok(())
            } else {
                Err(FederationError::BadJson(format!("the event is not {what}")))
            }
        };
        check(
            event.get("type").and_then(Value::as_str) == Some("m.room.member"),
            "an m.room.member event",
        )?;
        check(
            event
                .get("content")
                .and_then(|c| c.get("membership"))
                .and_then(Value::as_str)
                == Some(membership),
            &format!("a {membership}"),
        )?;
        let sender = event
            .get("sender")
            .and_then(Value::as_str)
            .unwrap_or_default();
        self.remote_user(origin, sender)?;
        check(
            event.get("state_key").and_then(Value::as_str) == Some(sender),
            "about its sender",
        )?;
        check(
            event.get("room_id").and_then(Value::as_str) == Some(room_id),
            "in this room",
        )?;
        let computed = hearth_types::pdu::compute_event_id(&event, rules)
            .map_err(|e| FederationError::BadJson(e.to_string()))?;
        check(computed.as_str() == event_id, "the event the path names")?;
        let (_, outcome) = self.receive_pdu(origin, event.clone()).await;
        match outcome {
            Ok(RemoteOutcome::Accepted | RemoteOutcome::AlreadyKnown) => Ok((event, rules)),
            Ok(RemoteOutcome::SoftFailed(reason) | RemoteOutcome::Rejected(reason)) => {
                Err(FederationError::Forbidden(reason))
            }
            Err(reason) => Err(FederationError::Forbidden(reason)),
        }
    }

    /// The `send_join` answer for an accepted join: the state before it, the auth chain of that state and
    /// of the join, the servers in the room.
    pub async fn send_join_response(
        &self,
        room_id: &str,
        join_event: Value,
    ) -> Result<Value, FederationError> {
        let event_id = {
            let rules = self.rules_of(room_id).await?;
            hearth_types::pdu::compute_event_id(&join_event, rules)
                .map_err(|e| FederationError::Internal(e.to_string()))?
        };
        let mut state = self.state_answer(room_id, event_id.as_str(), false).await?;
        let mut servers: Vec<String> = self
            .storage
            .room_memberships(room_id)
            .await?
            .into_iter()
            .filter(|m| m.membership == "join")
            .filter_map(|m| UserId::parse(&m.user_id).ok())
            .map(|user| user.server_name().as_str().to_owned())
            .collect();
        servers.sort();
        servers.dedup();
        if let Some(object) = state.as_object_mut() {
            // `/state` calls the state `pdus`; `send_join` calls it `state`.
            if let Some(pdus) = object.remove("pdus") {
                object.insert("state".into(), pdus);
            }
            object.insert("event".into(), join_event);
            object.insert("members_omitted".into(), json!(false));
            object.insert("servers_in_room".into(), json!(servers));
            object.insert("origin".into(), json!(self.server_name.as_str()));
        }
        Ok(state)
    }

    /// The `send_knock` answer: the room's stripped state for the knocking user.
    pub async fn knock_room_state(&self, room_id: &str) -> Result<Value, FederationError> {
        Ok(json!({ "knock_room_state": self.stripped_state(room_id).await? }))
    }

    async fn stripped_state(&self, room_id: &str) -> Result<Vec<Value>, FederationError> {
        let state = self.storage.current_state(room_id).await?;
        let mut stripped = Vec::new();
        for ((event_type, _), event_id) in state {
            if !STRIPPED_STATE_TYPES.contains(&event_type.as_str()) {
                continue;
            }
            if let Some(event) = self.storage.get_event(&event_id).await?
                && let Ok(json) = serde_json::from_str::<Value>(&event.json)
            {
                stripped.push(json!({
                    "type": event.event_type,
                    "state_key": event.state_key,
                    "sender": event.sender,
                    "content": json.get("content").cloned().unwrap_or_else(|| json!({})),
                }));
            }
        }
        Ok(stripped)
    }

    /// `PUT /v2/invite/{roomId}/{eventId}`: a remote server invites one of our users. The invite must be an
    /// `m.room.member` invite for a local user, sent by a user of the origin, with the ID the path names and
    /// valid signatures; it is countersigned by this server, stored (so the invitee sees it in `/sync`) and
    /// returned.
    pub async fn receive_invite(
        &self,
        origin: &ServerName,
        room_id: &str,
        event_id: &str,
        room_version: &str,
        event: Value,
        invite_room_state: Vec<Value>,
    ) -> Result<Value, FederationError> {
        let rules = RoomVersionRules::get(room_version)
            .ok_or_else(|| FederationError::IncompatibleRoomVersion(room_version.to_owned()))?;
        let check = |ok: bool, what: &str| {
            if ok {
                Ok(())
            } else {
                Err(FederationError::BadJson(format!("the event is not {what}")))
            }
        };
        check(
            event.get("type").and_then(Value::as_str) == Some("m.room.member")
                && event
                    .get("content")
                    .and_then(|c| c.get("membership"))
                    .and_then(Value::as_str)
                    == Some("invite"),
            "an invite",
        )?;
        check(
            event.get("room_id").and_then(Value::as_str) == Some(room_id),
            "in this room",
        )?;
        let sender = event
            .get("sender")
            .and_then(Value::as_str)
            .unwrap_or_default();
        self.remote_user(origin, sender)?;
        let invitee = event
            .get("state_key")
            .and_then(Value::as_str)
            .and_then(|key| UserId::parse(key).ok())
            .ok_or_else(|| FederationError::BadJson("the invite has no valid state_key".into()))?;
        if invitee.server_name() != &self.server_name {
            return Err(FederationError::BadJson(
                "the invitee is not a user of this server".into(),
            ));
        }
        if self.storage.get_user(invitee.as_str()).await?.is_none() {
            return Err(FederationError::NotFound(format!("unknown user {invitee}")));
        }
        if self.storage.get_room(room_id).await?.is_some() {
            self.check_server_acl(room_id, origin).await?;
        }
        let computed = hearth_types::pdu::compute_event_id(&event, rules)
            .map_err(|e| FederationError::BadJson(e.to_string()))?;
        if computed.as_str() != event_id {
            return Err(FederationError::BadJson(
                "the event ID does not match the event".into(),
            ));
        }
        let pdu = self
            .verify_incoming_pdu(event, rules)
            .await
            .map_err(FederationError::Forbidden)?;
        let mut signed = pdu.json().clone();
        hearth_crypto::sign_json(
            &mut signed,
            self.server_name.as_str(),
            self.keys.signing_key(),
        )
        .map_err(|e| FederationError::Internal(e.to_string()))?;
        let stripped: Vec<Value> = invite_room_state
            .into_iter()
            .filter(Value::is_object)
            .take(MAX_STRIPPED_STATE)
            .collect();
        let signed_pdu = hearth_types::Pdu::from_json_with_id(signed.clone(), computed, rules)
            .map_err(|e| FederationError::Internal(e.to_string()))?;
        self.rooms
            .store_remote_invite(&signed_pdu, rules, &stripped)
            .await?;
        Ok(signed)
    }

    /// `user_id` parsed, and belonging to `origin` (servers act only for their own users).
    fn remote_user(&self, origin: &ServerName, user_id: &str) -> Result<UserId, FederationError> {
        let user = UserId::parse(user_id)
            .map_err(|e| FederationError::InvalidParam(format!("user ID {user_id}: {e}")))?;
        if user.server_name() != origin {
            return Err(FederationError::Forbidden(format!(
                "{origin} cannot act for {user_id}"
            )));
        }
        Ok(user)
    }
}
