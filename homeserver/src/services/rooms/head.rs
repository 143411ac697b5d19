//! The room head: what building the next local event needs to know about a room (its version rules, its
//! forward extremities and the current state entries the auth events selection names), cached in memory
//! under the room's lock so that sending a message costs no reads of the database.
//!
//! The cache is only ever used and changed by the holder of the room lock. Local events update it after
//! their write commits; every other writer of a room's head (remote events, out-of-band memberships) goes
//! through the storage functions that raise the room's epoch ([`crate::storage::Storage::room_epoch`]), and
//! a head whose epoch is behind is emptied before use. A failed write empties it too, so the cache can only
//! ever be missing entries, never hold ones the database does not.

use std::collections::HashMap;
use std::sync::Arc;

use hearth_types::{Pdu, RoomVersionRules};

use super::{RoomError, RoomService};

/// Bound on cached state entries per room (member events of busy rooms); past it the entries are dropped
/// and reloaded on demand.
const MAX_CACHED_STATE: usize = 512;

/// The cached head of one room. `Default` is an empty cache.
#[derive(Debug, Default)]
pub(crate) struct RoomHead {
    /// The room's storage epoch the entries below were read at.
    epoch: u64,
    /// The room version's rules (never change for a room; kept across epochs).
    rules: Option<&'static RoomVersionRules>,
    /// The forward extremities and the greatest depth among them.
    extremities: Option<(Vec<String>, i64)>,
    /// Current state entries looked up so far: `None` for "no such state entry".
    state: HashMap<(String, String), Option<Arc<Pdu>>>,
}

impl RoomHead {
    /// Drops every entry that can change (everything but the rules).
    fn clear(&mut self) {
        self.extremities = None;
        self.state.clear();
    }

    /// After a local event committed: it is the only new forward extremity (it names the old ones as its
    /// prev events) and, for a state event, the new current state entry.
    pub(super) fn record_local_event(&mut self, pdu: Arc<Pdu>, prev_events: &[String]) {
        let event_id = pdu.event_id().as_str().to_owned();
        let depth = pdu.depth();
        if let Some((ids, max_depth)) = &mut self.extremities {
            ids.retain(|id| !prev_events.contains(id));
            ids.push(event_id);
            *max_depth = (*max_depth).max(depth);
        }
        if let Some(key) = pdu.state_key() {
            if self.state.len() >= MAX_CACHED_STATE {
                self.state.clear();
            }
            let key = (pdu.event_type().to_owned(), key.to_owned());
            self.state.insert(key, Some(pdu));
        }
    }

    /// After a write whose outcome is unknown (it failed, perhaps after committing): forget everything.
    pub(super) fn invalidate(&mut self) {
        self.clear();
    }
}

impl RoomService {
    /// Brings `head` up to date with the storage epoch of `room_id`: empties it when another writer changed
    /// the room since it was filled.
    pub(super) fn refresh_head(&self, room_id: &str, head: &mut RoomHead) {
        let epoch = self.storage.room_epoch(room_id);
        if head.epoch != epoch {
            head.clear();
            head.epoch = epoch;
        }
    }

    /// The room version rules of `room_id`; `NotFound` for a room this server does not know.
    pub(super) async fn head_rules(
        &self,
        room_id: &str,
        head: &mut RoomHead,
    ) -> Result<&'static RoomVersionRules, RoomError> {
        if let Some(rules) = head.rules {
            return Ok(rules);
        }
        let rules = self.room_context(room_id).await?.rules;
        head.rules = Some(rules);
        Ok(rules)
    }

    /// The forward extremities of `room_id` and their greatest depth.
    pub(super) async fn head_extremities(
        &self,
        room_id: &str,
        head: &mut RoomHead,
    ) -> Result<(Vec<String>, i64), RoomError> {
        if let Some(extremities) = &head.extremities {
            return Ok(extremities.clone());
        }
        let extremities = self.storage.forward_extremities(room_id).await?;
        head.extremities = Some(extremities.clone());
        Ok(extremities)
    }

    /// The current state event `(event_type, state_key)` of `room_id`, if there is one.
    pub(super) async fn head_state(
        &self,
        room_id: &str,
        rules: &RoomVersionRules,
        head: &mut RoomHead,
        event_type: &str,
        state_key: &str,
    ) -> Result<Option<Arc<Pdu>>, RoomError> {
        let key = (event_type.to_owned(), state_key.to_owned());
        if let Some(entry) = head.state.get(&key) {
            return Ok(entry.clone());
        }
        let pdu = match self
            .storage
            .current_state_event_id(room_id, event_type, state_key)
            .await?
        {
            Some(id) => self.load_pdu(&id, rules).await?.map(Arc::new),
            None => None,
        };
        if head.state.len() >= MAX_CACHED_STATE {
            head.state.clear();
        }
        head.state.insert(key, pdu.clone());
        Ok(pdu)
    }
}
