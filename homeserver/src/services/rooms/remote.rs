//! Accepting events other servers made: the state-dependent half of the spec's receive checks, and
//! persistence with the right state.
//!
//! The caller (the federation ingest) has already checked format, size, hashes and signatures and made
//! sure the event's auth events are stored; for `prev_events` this server does not have, it passes the
//! state after each of them (fetched with `/state_ids`). Here, under the room's lock (the same lock local
//! event creation takes, so the DAG and the current state change one event at a time):
//!
//! 1. auth against the event's own auth events (rejected on failure);
//! 2. auth against the state before the event — the resolution of the states after its `prev_events`
//!    (rejected on failure);
//! 3. auth against the room's current state (soft-failed on failure: stored, never shown, not an
//!    extremity);
//! 4. persist with its state group; when the event does not supersede every forward extremity, the new
//!    current state is the resolution of the old current state and the state after the event.
//!
//! Outliers (auth chains, fetched state) are stored with [`RoomService::store_outlier`] after the auth
//! check against their own auth events. History fetched with `/backfill` goes through steps 1 and 2 only
//! ([`RoomService::accept_backfilled_event`]) and is stored below the timeline (see `backfill.rs`).

use std::collections::{HashMap, HashSet, VecDeque};

use hearth_state_res::{
    StoredPdu, check_against_auth_events, check_state_dependent_auth_rules, resolve_state,
};
use hearth_types::{EventId, Pdu, RoomVersionRules};
use serde_json::Value;

use super::{RoomError, RoomService, now_ms};
use crate::storage::{
    MembershipRow, NewCurrentState, NewEvent, NewRelation, NewRoom, RemoteEventWrite, StateBefore,
    StateMapIds,
};

/// Most events loaded to resolve state for one received event (the state sets and their auth chains).
pub const MAX_RESOLUTION_EVENTS: usize = 100_000;

/// What became of a received event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RemoteOutcome {
    /// Stored in the timeline; part of the room from now on.
    Accepted,
    /// Stored before (the same event arrived again).
    AlreadyKnown,
    /// Passed auth at the event but not against the current state: stored, hidden.
    SoftFailed(String),
    /// Failed the auth rules: stored as rejected, never served.
    Rejected(String),
}

impl RoomService {
    /// Accepts a verified remote event into its room (see the module comment). `missing_prev_states` holds
    /// the state after each `prev_event` this server does not have; every other prev event must be stored.
    pub async fn accept_remote_event(
        &self,
        pdu: &Pdu,
        rules: &'static RoomVersionRules,
        missing_prev_states: &HashMap<String, StateMapIds>,
    ) -> Result<RemoteOutcome, RoomError> {
        self.accept(pdu, rules, missing_prev_states, None).await
    }

    /// Accepts a verified event of the room's history that a backward `/messages` walk asked another server
    /// for (`/backfill`): steps 1 and 2 of the module comment, then stored at stream position `position`
    /// (reserved with [`RoomService::reserve_backfill_positions`]). There is no soft-fail check (the spec
    /// applies it to new events only); a backfilled event never becomes a forward extremity, never changes
    /// the current state or memberships and wakes no `/sync`.
    pub async fn accept_backfilled_event(
        &self,
        pdu: &Pdu,
        rules: &'static RoomVersionRules,
        missing_prev_states: &HashMap<String, StateMapIds>,
        position: i64,
    ) -> Result<RemoteOutcome, RoomError> {
        self.accept(pdu, rules, missing_prev_states, Some(position))
            .await
    }

    /// [`Self::accept_remote_event`] (`backfill_position` `None`) or
    /// [`Self::accept_backfilled_event`].
    async fn accept(
        &self,
        pdu: &Pdu,
        rules: &'static RoomVersionRules,
        missing_prev_states: &HashMap<String, StateMapIds>,
        backfill_position: Option<i64>,
    ) -> Result<RemoteOutcome, RoomError> {
        let room_id = pdu.room_id_or_derived().map_err(RoomError::internal)?;
        let room_id = room_id.as_str().to_owned();
        let lock = self.room_lock(&room_id);
        let _guard = lock.lock().await;
        if let Some(stored) = self.storage.get_event(pdu.event_id().as_str()).await?
            && !stored.outlier
        {
            return Ok(RemoteOutcome::AlreadyKnown);
        }

        // 1. Against its own auth events.
        let auth_events = self.load_stored_pdus(pdu.auth_events(), rules).await?;
        let create = self.create_event_of(&room_id, rules).await?;
        let by_id = |id: &str| -> Option<StoredPdu> {
            auth_events
                .get(id)
                .cloned()
                .or_else(|| create.clone().filter(|c| c.pdu.event_id().as_str() == id))
        };
        if let Err(error) = check_against_auth_events(rules, pdu, by_id) {
            if let hearth_state_res::Error::MissingEvent(id) = &error {
                return Err(RoomError::Internal(format!(
                    "auth event {id} is not stored"
                )));
            }
            let write = Placement::rejected(None, backfill_position);
            self.persist_remote(pdu, &room_id, write).await?;
            return Ok(RemoteOutcome::Rejected(error.to_string()));
        }

        // 2. Against the state before it.
        let (state_before, before_group) =
            self.state_before(pdu, rules, missing_prev_states).await?;
        let before_events = self.load_state_events(&state_before, rules).await?;
        let lookup = |state: &HashMap<(String, String), StoredPdu>, t: &str, k: &str| {
            state.get(&(t.to_owned(), k.to_owned())).cloned()
        };
        if let Err(error) = check_state_dependent_auth_rules(rules, pdu, |t: &str, k: &str| {
            lookup(&before_events, t, k)
        }) {
            let before = StateBefore {
                group: before_group,
                state: &state_before,
            };
            let write = Placement::rejected(Some(before), backfill_position);
            self.persist_remote(pdu, &room_id, write).await?;
            return Ok(RemoteOutcome::Rejected(error.to_string()));
        }

        let before = StateBefore {
            group: before_group,
            state: &state_before,
        };
        if let Some(position) = backfill_position {
            let write = Placement {
                verdict: Verdict::Accepted,
                before: Some(before),
                new_current: None,
                backfill_position: Some(position),
            };
            self.persist_remote(pdu, &room_id, write).await?;
            return Ok(RemoteOutcome::Accepted);
        }

        // 3. Against the current state.
        let current = self.storage.current_state(&room_id).await?;
        let current_events = self.load_state_events(&current, rules).await?;
        // A room being imported (the join of a remote room) has no current state yet.
        let against_current = if current.is_empty() {
            Ok(())
        } else {
            check_state_dependent_auth_rules(rules, pdu, |t: &str, k: &str| {
                lookup(&current_events, t, k)
            })
        };
        if let Err(error) = against_current {
            let write = Placement {
                verdict: Verdict::SoftFailed,
                before: Some(before),
                new_current: None,
                backfill_position: None,
            };
            self.persist_remote(pdu, &room_id, write).await?;
            return Ok(RemoteOutcome::SoftFailed(error.to_string()));
        }

        // 4. The new current state.
        let mut state_after = state_before.clone();
        if let Some(key) = pdu.state_key() {
            state_after.insert(
                (pdu.event_type().to_owned(), key.to_owned()),
                pdu.event_id().as_str().to_owned(),
            );
        }
        let (extremities, _) = self.storage.forward_extremities(&room_id).await?;
        let prevs: HashSet<&str> = pdu.prev_events().iter().map(EventId::as_str).collect();
        let supersedes_all = extremities.iter().all(|e| prevs.contains(e.as_str()));
        let (new_current, after_event) = if supersedes_all {
            (state_after, true)
        } else {
            let resolved = self
                .resolve(rules, vec![current.clone(), state_after.clone()], Some(pdu))
                .await?;
            let after = resolved == state_after;
            (resolved, after)
        };
        let memberships = self
            .membership_changes(&current, &new_current, rules, pdu)
            .await?;
        let write = Placement {
            verdict: Verdict::Accepted,
            before: Some(before),
            new_current: Some(NewCurrentState {
                state: &new_current,
                after_event,
                memberships: &memberships,
            }),
            backfill_position: None,
        };
        self.persist_remote(pdu, &room_id, write).await?;
        self.notifier.notify_room(&room_id);
        for row in &memberships {
            self.notifier.notify_user(&row.user_id);
        }
        // Members whose entry resolution dropped (their membership row is gone with it).
        for (_, user_id) in current
            .keys()
            .filter(|(t, _)| t == "m.room.member")
            .filter(|key| !new_current.contains_key(*key))
        {
            self.notifier.notify_user(user_id);
        }
        Ok(RemoteOutcome::Accepted)
    }

    /// Stores an event as an outlier (no place in the timeline, no state), rejected when it fails the auth
    /// rules against its own auth events. Does nothing for an event already stored.
    pub async fn store_outlier(
        &self,
        pdu: &Pdu,
        rules: &'static RoomVersionRules,
        new_room: Option<NewRoom<'_>>,
    ) -> Result<bool, RoomError> {
        if self
            .storage
            .get_event(pdu.event_id().as_str())
            .await?
            .is_some()
        {
            return Ok(false);
        }
        let room_id = pdu.room_id_or_derived().map_err(RoomError::internal)?;
        let auth_events = self.load_stored_pdus(pdu.auth_events(), rules).await?;
        let create: Option<StoredPdu> = self
            .create_event_of(room_id.as_str(), rules)
            .await
            .unwrap_or_default();
        let rejected = check_against_auth_events(rules, pdu, |id: &str| {
            auth_events
                .get(id)
                .cloned()
                .or_else(|| create.clone().filter(|c| c.pdu.event_id().as_str() == id))
        })
        .is_err();
        let verdict = if rejected {
            Verdict::RejectedOutlier
        } else {
            Verdict::Outlier
        };
        let facts = EventFacts::of(pdu, verdict);
        let new = NewEvent {
            new_room,
            ..facts.new_event(pdu, room_id.as_str())
        };
        match self
            .storage
            .persist_remote_event(&RemoteEventWrite {
                event: new,
                outlier: true,
                rejected,
                soft_failed: false,
                state_before: None,
                new_current: None,
                backfill_position: None,
            })
            .await
        {
            Ok(_) | Err(crate::storage::StorageError::Conflict(_)) => Ok(!rejected),
            Err(error) => Err(error.into()),
        }
    }

    /// Stores an invite another server sent for one of our users (already verified and countersigned): as an
    /// outlier of its room (the room row is created if this server does not know the room), with the
    /// invitee's membership pointing at it, so `/sync` shows the invite. `_stripped_state` (the room's
    /// name, avatar, … as the inviting server described them) is not kept yet.
    pub async fn store_remote_invite(
        &self,
        pdu: &Pdu,
        rules: &'static RoomVersionRules,
        _stripped_state: &[Value],
    ) -> Result<(), RoomError> {
        let room_id = pdu.room_id_or_derived().map_err(RoomError::internal)?;
        let invitee = pdu
            .state_key()
            .ok_or_else(|| RoomError::BadJson("the invite has no state_key".into()))?
            .to_owned();
        let facts = EventFacts::of(pdu, Verdict::Outlier);
        let sender = pdu.sender().as_str().to_owned();
        let new = NewEvent {
            new_room: Some(NewRoom {
                room_version: rules.id,
                creator: &sender,
            }),
            ..facts.new_event(pdu, room_id.as_str())
        };
        match self
            .storage
            .persist_remote_event(&RemoteEventWrite {
                event: new,
                outlier: true,
                rejected: false,
                soft_failed: false,
                state_before: None,
                new_current: None,
                backfill_position: None,
            })
            .await
        {
            Ok(_) | Err(crate::storage::StorageError::Conflict(_)) => {}
            Err(error) => return Err(error.into()),
        }
        self.storage
            .set_out_of_band_membership(
                room_id.as_str(),
                &MembershipRow {
                    user_id: invitee.clone(),
                    membership: "invite".into(),
                    event_id: pdu.event_id().as_str().to_owned(),
                    sender,
                },
            )
            .await?;
        self.notifier.notify_user(&invitee);
        Ok(())
    }

    /// The state after a stored event (for `/state_ids`, resolution of prev states); `None` when unknown.
    pub async fn state_after_stored_event(
        &self,
        event_id: &str,
    ) -> Result<Option<StateMapIds>, RoomError> {
        let Some(stored) = self.storage.get_event(event_id).await? else {
            return Ok(None);
        };
        match (stored.outlier, stored.state_group) {
            (false, Some(group)) => Ok(Some(self.storage.state_group(group).await?)),
            _ => Ok(None),
        }
    }

    /// The state before a stored event; `None` when unknown.
    pub async fn state_before_stored_event(
        &self,
        event_id: &str,
    ) -> Result<Option<StateMapIds>, RoomError> {
        if let Some(group) = self.storage.state_group_before_event(event_id).await? {
            return Ok(Some(self.storage.state_group(group).await?));
        }
        // A state event whose group is a full snapshot has no parent: with one prev event, the state before
        // it is the state after that prev event.
        let Some(stored) = self.storage.get_event(event_id).await? else {
            return Ok(None);
        };
        let json: Value = serde_json::from_str(&stored.json).map_err(RoomError::internal)?;
        let prevs: Vec<&str> = json
            .get("prev_events")
            .and_then(Value::as_array)
            .map(|prevs| {
                prevs
                    .iter()
                    .filter_map(|p| p.as_str().or_else(|| p.get(0).and_then(Value::as_str)))
                    .collect()
            })
            .unwrap_or_default();
        match prevs.as_slice() {
            [only] => self.state_after_stored_event(only).await,
            _ => Ok(None),
        }
    }

    /// The state before `pdu`: the resolution of the states after its prev events, and the group holding
    /// it when that is one prev event's group.
    async fn state_before(
        &self,
        pdu: &Pdu,
        rules: &'static RoomVersionRules,
        missing_prev_states: &HashMap<String, StateMapIds>,
    ) -> Result<(StateMapIds, Option<i64>), RoomError> {
        if pdu.prev_events().is_empty() {
            // The create event (backfilled last): nothing before it.
            return Ok((StateMapIds::new(), None));
        }
        let mut states = Vec::new();
        let mut groups = Vec::new();
        for prev in pdu.prev_events() {
            if let Some(state) = missing_prev_states.get(prev.as_str()) {
                states.push(state.clone());
                groups.push(None);
                continue;
            }
            let stored = self.storage.get_event(prev.as_str()).await?;
            match stored {
                Some(stored) if !stored.outlier => {
                    let group = stored.state_group.ok_or_else(|| {
                        RoomError::Internal(format!("prev event {prev} has no state"))
                    })?;
                    states.push(self.storage.state_group(group).await?);
                    groups.push(Some(group));
                }
                _ => {
                    return Err(RoomError::Internal(format!(
                        "the state after prev event {prev} is unknown"
                    )));
                }
            }
        }
        if states.len() == 1 {
            let state = states.pop().unwrap_or_default();
            return Ok((state, groups.pop().flatten()));
        }
        // Identical states (the common case of a merge of two message branches) need no resolution.
        states.dedup();
        if states.len() == 1 {
            return Ok((states.pop().unwrap_or_default(), None));
        }
        let resolved = self.resolve(rules, states, None).await?;
        Ok((resolved, None))
    }

    /// Runs state resolution over `states`, loading the events it may read (every state event of the
    /// sets and their auth chains, within [`MAX_RESOLUTION_EVENTS`]); `extra` is an event not stored yet.
    async fn resolve(
        &self,
        rules: &'static RoomVersionRules,
        states: Vec<StateMapIds>,
        extra: Option<&Pdu>,
    ) -> Result<StateMapIds, RoomError> {
        let mut events: HashMap<String, StoredPdu> = HashMap::new();
        if let Some(pdu) = extra {
            events.insert(
                pdu.event_id().as_str().to_owned(),
                StoredPdu {
                    pdu: pdu.clone(),
                    rejected: false,
                },
            );
        }
        let mut queue: VecDeque<String> = states
            .iter()
            .flat_map(|state| state.values().cloned())
            .collect();
        if let Some(pdu) = extra {
            queue.extend(pdu.auth_events().iter().map(|id| id.as_str().to_owned()));
        }
        while let Some(id) = queue.pop_front() {
            if events.contains_key(&id) {
                continue;
            }
            if events.len() >= MAX_RESOLUTION_EVENTS {
                return Err(RoomError::Internal(
                    "state resolution needs too many events".into(),
                ));
            }
            let Some(stored) = self.load_stored_pdu(&id, rules).await? else {
                continue;
            };
            queue.extend(
                stored
                    .pdu
                    .auth_events()
                    .iter()
                    .map(|a| a.as_str().to_owned()),
            );
            events.insert(id, stored);
        }
        let sets: Vec<hearth_state_res::StateMap<EventId>> = states
            .iter()
            .map(|state| {
                state
                    .iter()
                    .filter_map(|(key, id)| EventId::parse(id).ok().map(|id| (key.clone(), id)))
                    .collect()
            })
            .collect();
        let resolved = tokio::task::spawn_blocking(move || {
            resolve_state(rules, &sets, &|id: &str| events.get(id).cloned())
        })
        .await
        .map_err(RoomError::internal)?
        .map_err(|e| RoomError::Internal(format!("state resolution: {e}")))?;
        Ok(resolved
            .into_iter()
            .map(|(key, id)| (key, id.as_str().to_owned()))
            .collect())
    }

    /// Membership rows for member entries that differ between `old` and `new` current state.
    async fn membership_changes(
        &self,
        old: &StateMapIds,
        new: &StateMapIds,
        rules: &'static RoomVersionRules,
        incoming: &Pdu,
    ) -> Result<Vec<MembershipRow>, RoomError> {
        let mut rows = Vec::new();
        for ((event_type, user_id), event_id) in new {
            if event_type != "m.room.member"
                || old.get(&(event_type.clone(), user_id.clone())) == Some(event_id)
            {
                continue;
            }
            let pdu = if incoming.event_id().as_str() == event_id {
                Some(incoming.clone())
            } else {
                self.load_pdu(event_id, rules).await?
            };
            let Some(pdu) = pdu else { continue };
            let Some(membership) = pdu.membership() else {
                continue;
            };
            rows.push(MembershipRow {
                user_id: user_id.clone(),
                membership: membership.to_owned(),
                event_id: event_id.clone(),
                sender: pdu.sender().as_str().to_owned(),
            });
        }
        Ok(rows)
    }

    /// The stored events among `ids` as [`StoredPdu`]s, by ID.
    async fn load_stored_pdus(
        &self,
        ids: &[EventId],
        rules: &RoomVersionRules,
    ) -> Result<HashMap<String, StoredPdu>, RoomError> {
        let mut found = HashMap::new();
        for id in ids {
            if let Some(stored) = self.load_stored_pdu(id.as_str(), rules).await? {
                found.insert(id.as_str().to_owned(), stored);
            }
        }
        Ok(found)
    }

    /// One stored event with its rejected flag.
    pub(super) async fn load_stored_pdu(
        &self,
        event_id: &str,
        rules: &RoomVersionRules,
    ) -> Result<Option<StoredPdu>, RoomError> {
        let Some(stored) = self.storage.get_event(event_id).await? else {
            return Ok(None);
        };
        let json: Value = serde_json::from_str(&stored.json).map_err(RoomError::internal)?;
        let id = EventId::parse(&stored.event_id).map_err(RoomError::internal)?;
        let pdu = Pdu::from_json_with_id(json, id, rules).map_err(RoomError::internal)?;
        Ok(Some(StoredPdu {
            pdu,
            rejected: stored.rejected,
        }))
    }

    /// The events of a state map, by `(type, state_key)`.
    async fn load_state_events(
        &self,
        state: &StateMapIds,
        rules: &RoomVersionRules,
    ) -> Result<HashMap<(String, String), StoredPdu>, RoomError> {
        let mut events = HashMap::new();
        for (key, id) in state {
            if let Some(stored) = self.load_stored_pdu(id, rules).await? {
                events.insert(key.clone(), stored);
            }
        }
        Ok(events)
    }

    /// The room's create event (v12 auth events omit it; the rules still read it).
    pub(super) async fn create_event_of(
        &self,
        room_id: &str,
        rules: &RoomVersionRules,
    ) -> Result<Option<StoredPdu>, RoomError> {
        if rules.authorization.room_id_is_create_event_hash {
            let create_id = format!("${}", room_id.trim_start_matches('!'));
            return self.load_stored_pdu(&create_id, rules).await;
        }
        match self
            .storage
            .current_state_event_id(room_id, "m.room.create", "")
            .await?
        {
            Some(id) => self.load_stored_pdu(&id, rules).await,
            None => Ok(None),
        }
    }

    async fn persist_remote(
        &self,
        pdu: &Pdu,
        room_id: &str,
        placement: Placement<'_>,
    ) -> Result<i64, RoomError> {
        let verdict = placement.verdict;
        let facts = EventFacts::of(pdu, verdict);
        let write = RemoteEventWrite {
            event: facts.new_event(pdu, room_id),
            outlier: false,
            rejected: verdict == Verdict::Rejected,
            soft_failed: verdict == Verdict::SoftFailed,
            state_before: placement.before,
            new_current: placement.new_current,
            backfill_position: placement.backfill_position,
        };
        Ok(self.storage.persist_remote_event(&write).await?)
    }
}

/// Where a checked (non-outlier) remote event goes: its verdict, the state before it, the room's new current
/// state and, for backfilled history, its reserved stream position.
#[derive(Debug, Clone, Copy)]
struct Placement<'a> {
    verdict: Verdict,
    before: Option<StateBefore<'a>>,
    new_current: Option<NewCurrentState<'a>>,
    backfill_position: Option<i64>,
}

impl<'a> Placement<'a> {
    /// A rejected event (with the state before it when that is known).
    fn rejected(before: Option<StateBefore<'a>>, backfill_position: Option<i64>) -> Self {
        Self {
            verdict: Verdict::Rejected,
            before,
            new_current: None,
            backfill_position,
        }
    }
}

/// How an event is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Accepted,
    SoftFailed,
    Rejected,
    Outlier,
    RejectedOutlier,
}

/// What the event store needs besides the PDU: its canonical text without `unsigned`, its membership, its
/// relation and its prev event IDs.
struct EventFacts {
    text: String,
    membership: Option<String>,
    relation: Option<(String, String, Option<String>)>,
    prev_events: Vec<String>,
}

impl EventFacts {
    fn of(pdu: &Pdu, verdict: Verdict) -> Self {
        let mut json = pdu.json().clone();
        if let Some(object) = json.as_object_mut() {
            object.remove("unsigned");
        }
        let shown = matches!(verdict, Verdict::Accepted);
        Self {
            text: hearth_crypto::canonical_json::to_canonical_string(&json).unwrap_or_default(),
            membership: (pdu.event_type() == "m.room.member")
                .then(|| pdu.membership().map(str::to_owned))
                .flatten(),
            relation: shown
                .then(|| super::build::relation_of(pdu.content()))
                .flatten(),
            prev_events: pdu
                .prev_events()
                .iter()
                .map(|id| id.as_str().to_owned())
                .collect(),
        }
    }

    fn new_event<'a>(&'a self, pdu: &'a Pdu, room_id: &'a str) -> NewEvent<'a> {
        NewEvent {
            event_id: pdu.event_id().as_str(),
            room_id,
            event_type: pdu.event_type(),
            state_key: pdu.state_key(),
            sender: pdu.sender().as_str(),
            depth: pdu.depth(),
            origin_server_ts: pdu.origin_server_ts(),
            json: &self.text,
            prev_events: &self.prev_events,
            membership: self.membership.as_deref(),
            relation: self.relation.as_ref().map(|(to, rel, key)| NewRelation {
                relates_to: to,
                rel_type: rel,
                key: key.as_deref(),
            }),
            redacts: pdu.redacts().map(EventId::as_str),
            txn: None,
            new_room: None,
            now_ms: now_ms(),
        }
    }
}
