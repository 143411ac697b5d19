//! The `state` section of a room in `/sync`: "updates to the state between `since` and the start of the
//! timeline" (all of it up to the timeline's start for an initial or `full_state` sync), exactly — the state at
//! the start of the timeline is compared with the state at `since` entry by entry, so a key replaced twice in
//! the gap is sent with its value at the timeline's start.
//!
//! Lazy-loaded members (`lazy_load_members`): only the member events of the timeline's senders (and the user's
//! own) are sent, and — unless `include_redundant_members` — not again to a device that was already sent that
//! exact member event. What each device was sent is remembered in memory ([`LazyMembersCache`]); after a
//! restart the cache is empty and members are simply sent again, which is always correct.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use crate::services::account_data::UserDataError;
use crate::storage::{Direction, StateMapIds, StoredEvent};

use super::SyncService;
use super::engine::Context;
use super::token::SyncToken;

/// Devices remembered at most; past this the cache starts over (members are then resent once).
const MAX_CACHED_DEVICES: usize = 10_000;

/// A device's rooms → member → the member event ID it was sent.
type SentMembers = HashMap<String, HashMap<String, String>>;

/// Member events already sent, per (user, device).
#[derive(Debug, Default)]
pub struct LazyMembersCache {
    devices: Mutex<HashMap<(String, String), SentMembers>>,
}

impl LazyMembersCache {
    fn sent(&self, device: &(String, String), room_id: &str, member: &str, event_id: &str) -> bool {
        let devices = self
            .devices
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        devices
            .get(device)
            .and_then(|rooms| rooms.get(room_id))
            .and_then(|members| members.get(member))
            .is_some_and(|sent| sent == event_id)
    }

    fn record<'a>(
        &self,
        device: (String, String),
        room_id: &str,
        reset: bool,
        members: impl Iterator<Item = (&'a str, &'a str)>,
    ) {
        let mut devices = self
            .devices
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if devices.len() >= MAX_CACHED_DEVICES && !devices.contains_key(&device) {
            devices.clear();
        }
        let rooms = devices.entry(device).or_default();
        let room = rooms.entry(room_id.to_owned()).or_default();
        if reset {
            room.clear();
        }
        for (member, event_id) in members {
            room.insert(member.to_owned(), event_id.to_owned());
        }
    }
}

impl SyncService {
    /// The room's `state` section for this sync (see the module comment).
    pub(super) async fn state(
        &self,
        context: &Context<'_>,
        room_id: &str,
        since: Option<SyncToken>,
        timeline: &[StoredEvent],
        limited: bool,
    ) -> Result<Vec<StoredEvent>, UserDataError> {
        let filter = context
            .filter
            .room
            .as_ref()
            .and_then(|room| room.state.clone())
            .unwrap_or_default();
        let lazy = filter.lazy_load_members;
        let incremental = since.is_some() && !context.full_state;
        if incremental && !limited && !lazy {
            // The timeline holds every change since the token.
            return Ok(Vec::new());
        }
        let start = timeline
            .first()
            .map_or(context.upto.events, |first| first.stream_ordering - 1);
        let at_start = self.state_ids_at(room_id, start, timeline.first()).await?;
        let at_since = match since.filter(|_| incremental) {
            Some(since) => Some(self.state_ids_at(room_id, since.events, None).await?),
            None => None,
        };
        let in_timeline: HashSet<&str> = timeline.iter().map(|e| e.event_id.as_str()).collect();
        let senders: HashSet<&str> = timeline.iter().map(|e| e.sender.as_str()).collect();
        let device = context
            .device
            .map(|device| (context.user.as_str().to_owned(), device.as_str().to_owned()));
        let skip_redundant = lazy && incremental && !filter.include_redundant_members;

        let mut wanted = Vec::new();
        for ((event_type, state_key), event_id) in &at_start {
            if in_timeline.contains(event_id.as_str()) {
                continue;
            }
            let changed = at_since.as_ref().is_none_or(|at_since| {
                at_since.get(&(event_type.clone(), state_key.clone())) != Some(event_id)
            });
            let include = if lazy && event_type == "m.room.member" {
                let relevant =
                    state_key == context.user.as_str() || senders.contains(state_key.as_str());
                let redundant = skip_redundant
                    && device.as_ref().is_some_and(|device| {
                        self.lazy_members.sent(device, room_id, state_key, event_id)
                    });
                relevant && !redundant && (changed || senders.contains(state_key.as_str()))
            } else {
                (limited || !incremental) && changed
            };
            if include {
                wanted.push(event_id.clone());
            }
        }
        let state: Vec<StoredEvent> = self
            .storage
            .get_events(&wanted)
            .await?
            .into_iter()
            .filter(|event| filter.allows(room_id, &event.event_type, &event.sender))
            .collect();

        if lazy && let Some(device) = device {
            let members = state
                .iter()
                .chain(timeline)
                .filter(|event| event.event_type == "m.room.member")
                .filter_map(|event| Some((event.state_key.as_deref()?, event.event_id.as_str())));
            self.lazy_members
                .record(device, room_id, !incremental, members);
        }
        Ok(state)
    }

    /// The state (as event IDs) after the room's last event at or before stream position `position`. When no
    /// event of the room is on the stream that early, the state at `first_in_timeline` stands in: a room joined
    /// over federation starts on the stream with the join, its earlier state came with the join (never on the
    /// stream), and the timeline's own events are left out of the section anyway. Empty before a local room's
    /// first event. Backfilled history (positions of 0 and below) never counts: it was not on the stream then.
    async fn state_ids_at(
        &self,
        room_id: &str,
        position: i64,
        first_in_timeline: Option<&StoredEvent>,
    ) -> Result<StateMapIds, UserDataError> {
        let latest = self
            .storage
            .room_events(room_id, position, Some(0), Direction::Backward, 1)
            .await?;
        let Some(event) = latest.first().or(first_in_timeline) else {
            return Ok(StateMapIds::new());
        };
        Ok(match event.state_group {
            Some(group) => self.storage.state_group(group).await?,
            None => self.storage.current_state(room_id).await?,
        })
    }
}
