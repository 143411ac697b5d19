//! Building, checking and persisting local events: the one write path of the rooms service.
//!
//! A local event is a real PDU: `prev_events` are the forward extremities, `auth_events` come from
//! the current state via the auth events selection, `depth` is one more than the deepest
//! extremity; it is content-hashed and signed, named per room version, checked with the
//! authorization rules against the current state, and only then persisted (one transaction).

use std::collections::HashMap;

use hearth_crypto::canonical_json;
use hearth_state_res::{auth_types_for_event, check_auth_rules};
use hearth_types::pdu::{compute_event_id, hash_and_sign_event, reference_hash};
use hearth_types::{Pdu, RoomVersionRules, UserId};
use serde_json::{Map, Value, json};

use super::{RoomError, RoomService, now_ms};
use crate::storage::{NewEvent, NewRelation, NewRoom, TxnKey};

/// The largest PDU the spec allows, in bytes of canonical JSON.
const MAX_PDU_BYTES: usize = 65_536;

/// What a client asks to send: everything else in the PDU is filled in by the server.
#[derive(Debug, Clone)]
pub struct EventTemplate {
    /// `type`.
    pub event_type: String,
    /// `state_key`; `Some` for state events.
    pub state_key: Option<String>,
    /// `content` (an object).
    pub content: Value,
    /// For `m.room.redaction`: the event to redact (placed per room version).
    pub redacts: Option<String>,
}

impl EventTemplate {
    /// A state event template.
    pub fn state(event_type: &str, state_key: &str, content: Value) -> Self {
        Self {
            event_type: event_type.to_owned(),
            state_key: Some(state_key.to_owned()),
            content,
            redacts: None,
        }
    }
}

/// A persisted local event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentEvent {
    /// Its ID.
    pub event_id: String,
    /// Its room.
    pub room_id: String,
    /// Its stream ordering (0 when a retried transaction returned an earlier event).
    pub stream_ordering: i64,
}

/// The room an event is appended to, resolved once per lock hold.
pub(super) struct RoomContext {
    pub(super) room_id: String,
    pub(super) rules: &'static RoomVersionRules,
}

impl RoomService {
    /// Sends an event into an existing room as `sender`: builds the PDU, checks it against the
    /// current state, persists it and wakes the notifier. With a `txn` (device ID, transaction ID),
    /// a retry of the same transaction returns the first event instead of sending again.
    pub async fn send_event(
        &self,
        sender: &UserId,
        room_id: &str,
        template: EventTemplate,
        txn: Option<(&str, &str)>,
    ) -> Result<SentEvent, RoomError> {
        let lock = self.room_lock(room_id);
        let _guard = lock.lock().await;
        if let Some((device, txn_id)) = txn {
            let key = TxnKey {
                user_id: sender.as_str(),
                device_id: device,
                txn_id,
            };
            if let Some(event_id) = self.storage.txn_event_id(&key).await? {
                return Ok(SentEvent {
                    event_id,
                    room_id: room_id.to_owned(),
                    stream_ordering: 0,
                });
            }
        }
        let context = self.room_context(room_id).await?;
        self.append_locked(&context, sender, template, txn).await
    }

    /// The room's version rules; `NotFound` for a room this server does not know.
    pub(super) async fn room_context(&self, room_id: &str) -> Result<RoomContext, RoomError> {
        let room = self
            .storage
            .get_room(room_id)
            .await?
            .ok_or_else(|| RoomError::NotFound(format!("unknown room {room_id}")))?;
        let rules = RoomVersionRules::get(&room.room_version)
            .ok_or_else(|| RoomError::UnsupportedRoomVersion(room.room_version.clone()))?;
        Ok(RoomContext {
            room_id: room.room_id,
            rules,
        })
    }

    /// Loads a stored event as a [`Pdu`] under the room's rules.
    pub(super) async fn load_pdu(
        &self,
        event_id: &str,
        rules: &RoomVersionRules,
    ) -> Result<Option<Pdu>, RoomError> {
        let Some(stored) = self.storage.get_event(event_id).await? else {
            return Ok(None);
        };
        let json: Value = serde_json::from_str(&stored.json).map_err(RoomError::internal)?;
        let id = hearth_types::EventId::parse(&stored.event_id).map_err(RoomError::internal)?;
        Ok(Some(
            Pdu::from_json_with_id(json, id, rules).map_err(RoomError::internal)?,
        ))
    }

    /// Builds, checks and persists one event; the caller holds the room's lock. `room_id` of the
    /// context is ignored for a v12 create event (the ID derives from the event).
    pub(super) async fn append_locked(
        &self,
        context: &RoomContext,
        sender: &UserId,
        template: EventTemplate,
        txn: Option<(&str, &str)>,
    ) -> Result<SentEvent, RoomError> {
        let rules = context.rules;
        let EventTemplate {
            event_type,
            state_key,
            content,
            redacts,
        } = template;
        if !content.is_object() {
            return Err(RoomError::BadJson("content must be a JSON object".into()));
        }
        if event_type == "m.room.canonical_alias" && state_key.as_deref() == Some("") {
            self.validate_canonical_alias(&context.room_id, &content)
                .await?;
        }
        if rules.strict_canonical_json {
            canonical_json::validate_strict(&content)
                .map_err(|e| RoomError::BadJson(format!("content is not canonical JSON: {e}")))?;
        }
        let is_create = event_type == "m.room.create" && state_key.as_deref() == Some("");
        let (prev_ids, max_depth) = if is_create {
            (Vec::new(), 0)
        } else {
            self.storage.forward_extremities(&context.room_id).await?
        };

        // The auth events: the current state entries the selection names.
        let mut auth_state: HashMap<(String, String), Pdu> = HashMap::new();
        if !is_create {
            for (auth_type, auth_key) in auth_types_for_event(
                rules,
                &event_type,
                sender.as_str(),
                state_key.as_deref(),
                &content,
            ) {
                let Some(id) = self
                    .storage
                    .current_state_event_id(&context.room_id, &auth_type, &auth_key)
                    .await?
                else {
                    continue;
                };
                if let Some(pdu) = self.load_pdu(&id, rules).await? {
                    auth_state.insert((auth_type, auth_key), pdu);
                }
            }
        }

        let mut event = Map::new();
        if !(is_create && rules.authorization.room_id_is_create_event_hash) {
            event.insert("room_id".into(), json!(context.room_id));
        }
        event.insert("sender".into(), json!(sender.as_str()));
        event.insert("type".into(), json!(event_type));
        if let Some(key) = &state_key {
            event.insert("state_key".into(), json!(key));
        }
        if !rules.redacts_in_content {
            // Pre-v11 event formats carry `origin`; v11 dropped it from the format.
            event.insert("origin".into(), json!(self.server_name.as_str()));
        }
        let mut content = content;
        if let Some(target) = &redacts {
            if rules.redacts_in_content {
                if let Some(object) = content.as_object_mut() {
                    object.insert("redacts".into(), json!(target));
                }
            } else {
                event.insert("redacts".into(), json!(target));
            }
        }
        event.insert("content".into(), content);
        let auth_ids: Vec<String> = auth_state
            .values()
            .map(|pdu| pdu.event_id().as_str().to_owned())
            .collect();
        let pairs = !rules.event_id_format.is_hash_based();
        event.insert(
            "prev_events".into(),
            self.event_refs(&prev_ids, rules, pairs).await?,
        );
        event.insert(
            "auth_events".into(),
            self.event_refs(&auth_ids, rules, pairs).await?,
        );
        event.insert("depth".into(), json!(max_depth.saturating_add(1)));
        // A v12 room ID is the hash of its create event, so two identical create events made in the same
        // millisecond (one user creating rooms concurrently) would name the same room: create events get a
        // timestamp unique within this process.
        let origin_server_ts = if is_create {
            unique_create_timestamp()
        } else {
            now_ms()
        };
        event.insert("origin_server_ts".into(), json!(origin_server_ts));
        if pairs {
            event.insert(
                "event_id".into(),
                json!(hearth_crypto::random_event_id(self.server_name.as_str())),
            );
        }
        let mut event = Value::Object(event);
        hash_and_sign_event(&mut event, rules, &self.server_name, &self.signing_key)
            .map_err(RoomError::internal)?;
        let event_id = compute_event_id(&event, rules).map_err(RoomError::internal)?;
        let room_id = if is_create && rules.authorization.room_id_is_create_event_hash {
            hearth_types::RoomId::from_create_event_id(&event_id)
                .map_err(RoomError::internal)?
                .as_str()
                .to_owned()
        } else {
            context.room_id.clone()
        };
        let mut text = canonical_json::to_canonical_string(&event).map_err(RoomError::internal)?;
        if text.len() > MAX_PDU_BYTES {
            return Err(RoomError::TooLarge);
        }
        let mut pdu = Pdu::from_json_with_id(event, event_id.clone(), rules)
            .map_err(|e| RoomError::BadJson(e.to_string()))?;

        // v12 events do not list the create event, but the rules still read it.
        let create_event = if is_create || auth_state.contains_key(&create_key()) {
            None
        } else {
            match self
                .storage
                .current_state_event_id(&context.room_id, "m.room.create", "")
                .await?
            {
                Some(id) => self.load_pdu(&id, rules).await?,
                None => None,
            }
        };
        check_auth_rules(rules, &pdu, |t: &str, k: &str| {
            if t == "m.room.create" && k.is_empty() && create_event.is_some() {
                return create_event.clone();
            }
            auth_state.get(&(t.to_owned(), k.to_owned())).cloned()
        })
        .map_err(|e| RoomError::Forbidden(e.to_string()))?;
        if let Some(target) = &redacts {
            self.check_redaction_allowed(context, &auth_state, sender, target)
                .await?;
        }
        if let Some(countersigned) = self.countersign_remote_invite(context, &pdu).await? {
            text = canonical_json::to_canonical_string(countersigned.json())
                .map_err(RoomError::internal)?;
            pdu = countersigned;
        }

        let membership = if event_type == "m.room.member" {
            pdu.membership().map(str::to_owned)
        } else {
            None
        };
        let relation = relation_of(pdu.content());
        let txn_key = txn.map(|(device, txn_id)| TxnKey {
            user_id: sender.as_str(),
            device_id: device,
            txn_id,
        });
        let new = NewEvent {
            event_id: event_id.as_str(),
            room_id: &room_id,
            event_type: &event_type,
            state_key: state_key.as_deref(),
            sender: sender.as_str(),
            depth: pdu.depth(),
            origin_server_ts: pdu.origin_server_ts(),
            json: &text,
            prev_events: &prev_ids,
            membership: membership.as_deref(),
            relation: relation.as_ref().map(|(to, rel, key)| NewRelation {
                relates_to: to,
                rel_type: rel,
                key: key.as_deref(),
            }),
            redacts: redacts.as_deref(),
            txn: txn_key,
            new_room: is_create.then_some(NewRoom {
                room_version: rules.id,
                creator: sender.as_str(),
            }),
            now_ms: now_ms(),
        };
        let stream_ordering = self.storage.persist_event(&new).await?;
        self.events_persisted();
        self.notifier.notify_room(&room_id);
        if let (Some(_), Some(target)) = (&membership, &state_key) {
            self.notifier.notify_user(target);
        }
        Ok(SentEvent {
            event_id: event_id.as_str().to_owned(),
            room_id,
            stream_ordering,
        })
    }

    /// For an invite of a user on another server: the event as their server countersigned it (`None` for
    /// every other event, or without federation). The answer must be the same event (same ID) to be kept.
    async fn countersign_remote_invite(
        &self,
        context: &RoomContext,
        pdu: &Pdu,
    ) -> Result<Option<Pdu>, RoomError> {
        let Some(exchange) = self.remote_invites.get() else {
            return Ok(None);
        };
        let remote_target = pdu
            .state_key()
            .and_then(|key| UserId::parse(key).ok())
            .is_some_and(|target| *target.server_name() != self.server_name);
        if pdu.event_type() != "m.room.member"
            || pdu.membership() != Some("invite")
            || !remote_target
        {
            return Ok(None);
        }
        let stripped = self.stripped_state(&context.room_id, pdu).await?;
        let signed = exchange
            .countersign_invite(context.rules, pdu.json(), stripped)
            .await?;
        let id = compute_event_id(&signed, context.rules)
            .map_err(|e| RoomError::Forbidden(format!("the invitee's server answered: {e}")))?;
        if id != *pdu.event_id() || signed.get("content") != pdu.json().get("content") {
            return Err(RoomError::Forbidden(
                "the invitee's server returned a different event".into(),
            ));
        }
        Pdu::from_json_with_id(signed, id, context.rules)
            .map(Some)
            .map_err(|e| RoomError::Forbidden(format!("the invitee's server answered: {e}")))
    }

    /// The room state an invitee sees before joining (spec: "stripped state"): create (as the full event,
    /// which newer servers require), join rules, name, avatar, topic, canonical alias, encryption, and the
    /// inviter's membership.
    pub(crate) async fn stripped_state(
        &self,
        room_id: &str,
        invite: &Pdu,
    ) -> Result<Vec<Value>, RoomError> {
        let mut stripped = Vec::new();
        let rules = RoomVersionRules::get(
            &self
                .storage
                .get_room(room_id)
                .await?
                .map(|room| room.room_version)
                .unwrap_or_default(),
        )
        .ok_or_else(|| RoomError::NotFound(format!("unknown room {room_id}")))?;
        let keys = [
            ("m.room.create", String::new()),
            ("m.room.join_rules", String::new()),
            ("m.room.name", String::new()),
            ("m.room.avatar", String::new()),
            ("m.room.topic", String::new()),
            ("m.room.canonical_alias", String::new()),
            ("m.room.encryption", String::new()),
            ("m.room.member", invite.sender().as_str().to_owned()),
        ];
        for (event_type, state_key) in keys {
            let Some(id) = self
                .storage
                .current_state_event_id(room_id, event_type, &state_key)
                .await?
            else {
                continue;
            };
            let Some(event) = self.load_pdu(&id, rules).await? else {
                continue;
            };
            if event_type == "m.room.create" {
                stripped.push(event.json().clone());
            } else {
                stripped.push(json!({
                    "type": event_type,
                    "state_key": state_key,
                    "content": event.content(),
                    "sender": event.sender().as_str(),
                }));
            }
        }
        Ok(stripped)
    }

    /// `prev_events`/`auth_events` as the room version writes them: plain IDs (v3+) or
    /// `[id, {"sha256": reference hash}]` pairs (v1, v2).
    async fn event_refs(
        &self,
        ids: &[String],
        rules: &RoomVersionRules,
        pairs: bool,
    ) -> Result<Value, RoomError> {
        if !pairs {
            return Ok(json!(ids));
        }
        let mut refs = Vec::with_capacity(ids.len());
        for id in ids {
            let stored = self
                .storage
                .get_event(id)
                .await?
                .ok_or_else(|| RoomError::Internal(format!("missing event {id}")))?;
            let json: Value = serde_json::from_str(&stored.json).map_err(RoomError::internal)?;
            let hash = reference_hash(&json, rules).map_err(RoomError::internal)?;
            refs.push(json!([id, {"sha256": hearth_crypto::base64::encode(&hash)}]));
        }
        Ok(Value::Array(refs))
    }

    /// Outside v1/v2 the auth rules accept any redaction; the server checks that the sender
    /// redacts their own event or has the power level `redact`.
    async fn check_redaction_allowed(
        &self,
        context: &RoomContext,
        auth_state: &HashMap<(String, String), Pdu>,
        sender: &UserId,
        target: &str,
    ) -> Result<(), RoomError> {
        let own = match self.storage.get_event(target).await? {
            Some(event) if event.room_id == context.room_id => event.sender == sender.as_str(),
            _ => false,
        };
        if own {
            return Ok(());
        }
        let power = self
            .user_power(context, auth_state, sender.as_str())
            .await?;
        let needed = auth_state
            .get(&("m.room.power_levels".to_owned(), String::new()))
            .and_then(|pl| level_value(pl.content().get("redact")))
            .unwrap_or(50);
        if power >= needed {
            Ok(())
        } else {
            Err(RoomError::Forbidden(
                "you may only redact your own events without the redact power level".into(),
            ))
        }
    }

    /// A user's power level from the given state (creators of v12 rooms: `i64::MAX`).
    pub(super) async fn user_power(
        &self,
        context: &RoomContext,
        state: &HashMap<(String, String), Pdu>,
        user: &str,
    ) -> Result<i64, RoomError> {
        let create = match state.get(&("m.room.create".to_owned(), String::new())) {
            Some(create) => Some(create.clone()),
            None => match self
                .storage
                .current_state_event_id(&context.room_id, "m.room.create", "")
                .await?
            {
                Some(id) => self.load_pdu(&id, context.rules).await?,
                None => None,
            },
        };
        let creators: Vec<String> = create
            .iter()
            .flat_map(|create| {
                let mut creators = vec![create.sender().as_str().to_owned()];
                if let Some(extra) = create
                    .content()
                    .get("additional_creators")
                    .and_then(Value::as_array)
                {
                    creators.extend(extra.iter().filter_map(Value::as_str).map(str::to_owned));
                }
                creators
            })
            .collect();
        if context.rules.authorization.privileged_creators && creators.iter().any(|c| c == user) {
            return Ok(i64::MAX);
        }
        let power_levels = match state.get(&("m.room.power_levels".to_owned(), String::new())) {
            Some(pl) => Some(pl.clone()),
            None => match self
                .storage
                .current_state_event_id(&context.room_id, "m.room.power_levels", "")
                .await?
            {
                Some(id) => self.load_pdu(&id, context.rules).await?,
                None => None,
            },
        };
        Ok(match power_levels {
            Some(pl) => pl
                .content()
                .get("users")
                .and_then(|users| users.get(user))
                .and_then(|v| level_value(Some(v)))
                .or_else(|| level_value(pl.content().get("users_default")))
                .unwrap_or(0),
            None if creators.first().is_some_and(|c| c == user) => 100,
            None => 0,
        })
    }
}

/// The state key of the create event.
fn create_key() -> (String, String) {
    ("m.room.create".to_owned(), String::new())
}

/// A power level value: an integer, or (old room versions) an integer string.
pub(super) fn level_value(value: Option<&Value>) -> Option<i64> {
    match value? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// `(relates_to, rel_type, key)` of an event's `m.relates_to`, when it names both.
pub(super) fn relation_of(content: &Value) -> Option<(String, String, Option<String>)> {
    let relates = content.get("m.relates_to")?;
    let event_id = relates.get("event_id")?.as_str()?;
    let rel_type = relates.get("rel_type")?.as_str()?;
    let key = relates
        .get("key")
        .and_then(Value::as_str)
        .map(str::to_owned);
    Some((event_id.to_owned(), rel_type.to_owned(), key))
}

/// The wall clock in milliseconds, but strictly later than any earlier create event of this process.
fn unique_create_timestamp() -> i64 {
    static LAST: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(0);
    let now = now_ms();
    let previous = LAST
        .fetch_update(
            std::sync::atomic::Ordering::SeqCst,
            std::sync::atomic::Ordering::SeqCst,
            |last| Some(now.max(last.saturating_add(1))),
        )
        .unwrap_or(now);
    now.max(previous.saturating_add(1))
}
