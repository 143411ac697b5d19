//! The receive pipeline of one PDU, in the spec's order ("Checks performed on receipt of a PDU"):
//!
//! 1. format and size (65,536 bytes of canonical JSON), the event ID per room version;
//! 2. signatures (per room version, over the redacted form) — failure drops the event;
//! 3. the content hash — on mismatch the redacted copy is kept instead;
//! 4. the auth events: missing ones are fetched from the sender with `/event_auth`, verified the same way
//!    and stored as outliers (each checked against its own auth events);
//! 5. missing `prev_events`: up to [`MAX_MISSING_EVENTS`] are fetched with `/get_missing_events` and run
//!    through this pipeline (one level deep); for prev events still missing, the state after them is
//!    fetched with `/state` (+ `/event` for the prev event itself), verified and stored as outliers;
//! 6. the rooms service's state-dependent checks and persistence (auth at the event, soft fail).
//!
//! Every fetch is bounded in count and time, and recursion is one level deep, so a hostile peer cannot make
//! the server loop or hoard memory.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use hearth_federation::client::FederationClient;
use hearth_state_res::check_event_format;
use hearth_types::pdu::VerifiedEvent;
use hearth_types::{EventId, Pdu, RoomVersionRules, ServerName};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{FederationError, FederationService};
use crate::services::rooms::RemoteOutcome;
use crate::storage::{NewRoom, StateMapIds};

/// The largest PDU the spec allows, in bytes of canonical JSON.
pub const MAX_PDU_BYTES: usize = 65_536;
/// Most events asked for with one `/get_missing_events`.
pub const MAX_MISSING_EVENTS: usize = 20;
/// Most events accepted from one `/event_auth` or `/state` answer.
pub const MAX_FETCHED_EVENTS: usize = 20_000;
/// Most prev events whose state is fetched for one received event.
pub const MAX_STATE_FETCHES: usize = 3;
/// Time for one fetch from a peer.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(60);

/// `/event_auth` and `/state` answers.
#[derive(Debug, Deserialize)]
struct AuthChain {
    #[serde(default)]
    auth_chain: Vec<Value>,
    #[serde(default)]
    pdus: Vec<Value>,
}

/// `/get_missing_events` and `/event` answers.
#[derive(Debug, Deserialize)]
struct EventList {
    #[serde(default)]
    events: Vec<Value>,
    #[serde(default)]
    pdus: Vec<Value>,
}

/// Percent-encodes one path segment (room and event IDs carry `!`, `$`, `:`, `/`, …).
pub fn encode_segment(segment: &str) -> String {
    url::form_urlencoded::byte_serialize(segment.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

impl FederationService {
    /// Steps 1–3 for an event of a room of `rules`: parses it, checks format and size, verifies its
    /// signatures and content hash, and returns the event to keep (redacted on a hash mismatch).
    pub async fn verify_incoming_pdu(
        &self,
        json: Value,
        rules: &'static RoomVersionRules,
    ) -> Result<Pdu, String> {
        let mut json = json;
        if let Some(object) = json.as_object_mut() {
            object.remove("unsigned");
        }
        let bytes = hearth_crypto::canonical_json::to_canonical_string(&json)
            .map_err(|e| format!("not canonical JSON: {e}"))?
            .len();
        if bytes > MAX_PDU_BYTES {
            return Err(format!("PDU is {bytes} bytes, more than {MAX_PDU_BYTES}"));
        }
        if rules.strict_canonical_json {
            hearth_crypto::canonical_json::validate_strict(&json)
                .map_err(|e| format!("not canonical JSON: {e}"))?;
        }
        let pdu = Pdu::from_json(json.clone(), rules).map_err(|e| format!("malformed PDU: {e}"))?;
        check_event_format(rules, &pdu, bytes).map_err(|e| e.to_string())?;
        let kept = match self
            .keys
            .verify_pdu(&json, rules)
            .await
            .map_err(|e| format!("signature check failed: {e}"))?
        {
            VerifiedEvent::Valid => pdu,
            VerifiedEvent::Redacted(redacted) => {
                tracing::info!(event_id = %pdu.event_id(), "content hash mismatch; keeping the redacted event");
                Pdu::from_json_with_id(redacted, pdu.event_id().clone(), rules)
                    .map_err(|e| format!("malformed redacted PDU: {e}"))?
            }
        };
        Ok(kept)
    }

    /// Runs a PDU received from `origin` through the whole pipeline. Returns its event ID (when it could be
    /// computed) and the outcome or the reason it was dropped.
    pub async fn receive_pdu(
        &self,
        origin: &ServerName,
        json: Value,
    ) -> (Option<EventId>, Result<RemoteOutcome, String>) {
        let Some(room_id) = json
            .get("room_id")
            .and_then(Value::as_str)
            .map(str::to_owned)
        else {
            return (None, Err("PDU has no room_id".into()));
        };
        let room = match self.storage.get_room(&room_id).await {
            Ok(Some(room)) => room,
            Ok(None) => return (None, Err(format!("unknown room {room_id}"))),
            Err(error) => return (None, Err(error.to_string())),
        };
        let Some(rules) = RoomVersionRules::get(&room.room_version) else {
            return (
                None,
                Err(format!("unsupported room version {}", room.room_version)),
            );
        };
        let event_id = hearth_types::pdu::compute_event_id(&json, rules).ok();
        if let Err(error) = self.check_server_acl(&room_id, origin).await {
            return (event_id, Err(error.to_string()));
        }
        let outcome = tokio::time::timeout(
            FETCH_TIMEOUT * 2,
            self.process(origin, json, rules, &room_id, true),
        )
        .await
        .unwrap_or_else(|_| Err("processing timed out".into()));
        (event_id, outcome)
    }

    /// Steps 1–6; `fetch_missing_prevs` is false for events that themselves came from
    /// `/get_missing_events` (one level of recursion).
    async fn process(
        &self,
        origin: &ServerName,
        json: Value,
        rules: &'static RoomVersionRules,
        room_id: &str,
        fetch_missing_prevs: bool,
    ) -> Result<RemoteOutcome, String> {
        let pdu = self.verify_incoming_pdu(json, rules).await?;
        let derived_room = pdu.room_id_or_derived().map_err(|e| e.to_string())?;
        if derived_room.as_str() != room_id {
            return Err("the PDU's room does not match".into());
        }
        if let Ok(Some(stored)) = self.storage.get_event(pdu.event_id().as_str()).await
            && !stored.outlier
        {
            return Ok(RemoteOutcome::AlreadyKnown);
        }
        self.ensure_auth_events(origin, room_id, &pdu, rules)
            .await?;

        let mut missing = self.missing_prevs(&pdu).await?;
        if !missing.is_empty() && fetch_missing_prevs {
            self.fetch_missing_events(origin, room_id, &pdu, rules)
                .await;
            missing = self.missing_prevs(&pdu).await?;
        }
        let prev_states = self
            .fetch_prev_states(origin, room_id, missing, rules)
            .await?;
        self.rooms
            .accept_remote_event(&pdu, rules, &prev_states)
            .await
            .map_err(|e| e.to_string())
    }

    /// Step 5b for each of `missing` (at most [`MAX_STATE_FETCHES`], else the event is refused): the state
    /// after it, fetched from `origin`.
    pub(super) async fn fetch_prev_states(
        &self,
        origin: &ServerName,
        room_id: &str,
        missing: Vec<String>,
        rules: &'static RoomVersionRules,
    ) -> Result<HashMap<String, StateMapIds>, String> {
        if missing.len() > MAX_STATE_FETCHES {
            return Err(format!("{} prev events are unknown", missing.len()));
        }
        let mut prev_states = HashMap::new();
        for prev in missing {
            let state = self
                .fetch_state_after(origin, room_id, &prev, rules)
                .await?;
            prev_states.insert(prev, state);
        }
        Ok(prev_states)
    }

    /// The prev events of `pdu` not stored in the DAG (outliers count as missing: their state is unknown).
    pub(super) async fn missing_prevs(&self, pdu: &Pdu) -> Result<Vec<String>, String> {
        let ids: Vec<String> = pdu
            .prev_events()
            .iter()
            .map(|id| id.as_str().to_owned())
            .collect();
        let known = self
            .storage
            .known_event_ids(&ids)
            .await
            .map_err(|e| e.to_string())?;
        Ok(ids
            .into_iter()
            .filter(|id| known.get(id) != Some(&false))
            .collect())
    }

    /// Step 4: fetches the auth chain of `pdu` from `origin` when some of its auth events are unknown.
    pub(super) async fn ensure_auth_events(
        &self,
        origin: &ServerName,
        room_id: &str,
        pdu: &Pdu,
        rules: &'static RoomVersionRules,
    ) -> Result<(), String> {
        let ids: Vec<String> = pdu
            .auth_events()
            .iter()
            .map(|id| id.as_str().to_owned())
            .collect();
        let known = self
            .storage
            .known_event_ids(&ids)
            .await
            .map_err(|e| e.to_string())?;
        if ids.iter().all(|id| known.contains_key(id)) {
            return Ok(());
        }
        let client = self.client()?;
        let path = format!(
            "/_matrix/federation/v1/event_auth/{}/{}",
            encode_segment(room_id),
            encode_segment(pdu.event_id().as_str())
        );
        let answer: AuthChain = fetch(client.get_json(origin, &path)).await?;
        self.store_outliers(answer.auth_chain, rules, room_id, None)
            .await;
        let known = self
            .storage
            .known_event_ids(&ids)
            .await
            .map_err(|e| e.to_string())?;
        match ids.iter().find(|id| !known.contains_key(*id)) {
            Some(missing) => Err(format!("auth event {missing} could not be fetched")),
            None => Ok(()),
        }
    }

    /// Step 5a: asks `origin` for the events between our forward extremities and `pdu`, and runs those it
    /// returns through the pipeline, oldest first, without fetching further.
    async fn fetch_missing_events(
        &self,
        origin: &ServerName,
        room_id: &str,
        pdu: &Pdu,
        rules: &'static RoomVersionRules,
    ) {
        let Ok(client) = self.client() else { return };
        let Ok((earliest, _)) = self.storage.forward_extremities(room_id).await else {
            return;
        };
        let path = format!(
            "/_matrix/federation/v1/get_missing_events/{}",
            encode_segment(room_id)
        );
        let body = json!({
            "earliest_events": earliest,
            "latest_events": [pdu.event_id().as_str()],
            "limit": MAX_MISSING_EVENTS,
            "min_depth": 0,
        });
        let answer: EventList = match fetch(client.post_json(origin, &path, &body)).await {
            Ok(answer) => answer,
            Err(error) => {
                tracing::info!(%origin, %error, "get_missing_events failed");
                return;
            }
        };
        let mut events: Vec<Value> = answer.events.into_iter().take(MAX_MISSING_EVENTS).collect();
        events.sort_by_key(|event| event.get("depth").and_then(Value::as_i64).unwrap_or(0));
        for event in events {
            if let Err(error) = Box::pin(self.process(origin, event, rules, room_id, false)).await {
                tracing::info!(%origin, %error, "a missing event was not accepted");
            }
        }
    }

    /// Step 5b: the state after `prev_id`, fetched from `origin` (`/state` gives the state before it,
    /// `/event` the event itself); every event is verified and stored as an outlier.
    async fn fetch_state_after(
        &self,
        origin: &ServerName,
        room_id: &str,
        prev_id: &str,
        rules: &'static RoomVersionRules,
    ) -> Result<StateMapIds, String> {
        let client = self.client()?;
        let path = format!(
            "/_matrix/federation/v1/state/{}?event_id={}",
            encode_segment(room_id),
            encode_segment(prev_id)
        );
        let answer: AuthChain = fetch(client.get_json(origin, &path)).await?;
        let mut all = answer.auth_chain;
        all.extend(answer.pdus.iter().cloned());
        self.store_outliers(all, rules, room_id, None).await;
        let mut state = StateMapIds::new();
        for event in answer.pdus.iter().take(MAX_FETCHED_EVENTS) {
            self.add_to_state(&mut state, event, rules).await;
        }
        let path = format!("/_matrix/federation/v1/event/{}", encode_segment(prev_id));
        let prev: EventList = fetch(client.get_json(origin, &path)).await?;
        let prev_event = prev
            .pdus
            .into_iter()
            .next()
            .ok_or_else(|| format!("{origin} did not return prev event {prev_id}"))?;
        self.store_outliers(vec![prev_event.clone()], rules, room_id, None)
            .await;
        self.add_to_state(&mut state, &prev_event, rules).await;
        Ok(state)
    }

    /// Adds a fetched state event to `state` if it was stored and not rejected.
    async fn add_to_state(&self, state: &mut StateMapIds, event: &Value, rules: &RoomVersionRules) {
        let Ok(id) = hearth_types::pdu::compute_event_id(event, rules) else {
            return;
        };
        let (Some(event_type), Some(state_key)) = (
            event.get("type").and_then(Value::as_str),
            event.get("state_key").and_then(Value::as_str),
        ) else {
            return;
        };
        if let Ok(Some(stored)) = self.storage.get_event(id.as_str()).await
            && !stored.rejected
        {
            state.insert(
                (event_type.to_owned(), state_key.to_owned()),
                id.as_str().to_owned(),
            );
        }
    }

    /// Verifies `events` and stores those that verify as outliers, in depth order (so auth events come
    /// first); each is checked against its own auth events. `new_room` creates the room row with the
    /// first event (the create event of a room being joined). Returns how many were stored.
    pub async fn store_outliers(
        &self,
        events: Vec<Value>,
        rules: &'static RoomVersionRules,
        room_id: &str,
        new_room: Option<NewRoom<'_>>,
    ) -> usize {
        let mut parsed = Vec::new();
        let mut seen = HashSet::new();
        for event in events.into_iter().take(MAX_FETCHED_EVENTS) {
            match self.verify_incoming_pdu(event, rules).await {
                Ok(pdu) => {
                    let in_room = pdu
                        .room_id_or_derived()
                        .is_ok_and(|id| id.as_str() == room_id);
                    if in_room && seen.insert(pdu.event_id().clone()) {
                        parsed.push(pdu);
                    }
                }
                Err(error) => tracing::info!(%error, "a fetched event was dropped"),
            }
        }
        parsed.sort_by_key(|pdu| (pdu.depth(), pdu.event_type() != "m.room.create"));
        let mut stored = 0;
        for pdu in &parsed {
            let room = (pdu.event_type() == "m.room.create")
                .then_some(new_room)
                .flatten();
            match self.rooms.store_outlier(pdu, rules, room).await {
                Ok(true) => stored += 1,
                Ok(false) => {}
                Err(error) => tracing::warn!(%error, "cannot store a fetched event"),
            }
        }
        stored
    }

    pub(super) fn client(&self) -> Result<&FederationClient, String> {
        self.client
            .as_deref()
            .ok_or_else(|| "federation is disabled".to_owned())
    }

    /// Imports a room joined through `send_join` (for the outbound join): verifies and stores the auth
    /// chain and state as outliers (creating the room row), then accepts the join event with that state as
    /// the state before it. Events that fail verification are dropped; the join fails if its own checks do.
    pub async fn import_send_join(
        &self,
        room_id: &str,
        rules: &'static RoomVersionRules,
        join_event: Value,
        state: Vec<Value>,
        auth_chain: Vec<Value>,
    ) -> Result<RemoteOutcome, FederationError> {
        let creator = state
            .iter()
            .chain(auth_chain.iter())
            .find(|e| e.get("type").and_then(Value::as_str) == Some("m.room.create"))
            .and_then(|e| e.get("sender").and_then(Value::as_str))
            .map(str::to_owned)
            .ok_or_else(|| {
                FederationError::BadJson("send_join answer lacks the create event".into())
            })?;
        let mut all = auth_chain;
        all.extend(state.iter().cloned());
        self.store_outliers(
            all,
            rules,
            room_id,
            Some(NewRoom {
                room_version: rules.id,
                creator: &creator,
            }),
        )
        .await;
        let mut state_map = StateMapIds::new();
        for event in state.iter().take(MAX_FETCHED_EVENTS) {
            self.add_to_state(&mut state_map, event, rules).await;
        }
        let pdu = self
            .verify_incoming_pdu(join_event, rules)
            .await
            .map_err(FederationError::BadJson)?;
        let prev_states: HashMap<String, StateMapIds> = pdu
            .prev_events()
            .iter()
            .map(|prev| (prev.as_str().to_owned(), state_map.clone()))
            .collect();
        Ok(self
            .rooms
            .accept_remote_event(&pdu, rules, &prev_states)
            .await?)
    }
}

/// Runs a peer request within [`FETCH_TIMEOUT`].
async fn fetch<T>(
    request: impl std::future::Future<Output = Result<T, hearth_federation::Error>>,
) -> Result<T, String> {
    match tokio::time::timeout(FETCH_TIMEOUT, request).await {
        Ok(Ok(answer)) => Ok(answer),
        Ok(Err(error)) => Err(error.to_string()),
        Err(_) => Err("the peer did not answer in time".into()),
    }
}
