//! State resolution: v1 (room v1), v2 (rooms v2–v11) and v2.1 (room v12), chosen by
//! [`RoomVersionRules::state_resolution`].
//!
//! The caller passes the state maps to resolve and an [`EventSource`] that fetches events by ID; the
//! algorithms fetch only what they need (the conflicted events, the auth chains they reach, and the
//! state events for the auth-difference walk), each event at most once. Everything is iterative and
//! bounded by [`MAX_EVENTS_VISITED`], so a hostile DAG can neither overflow the stack nor make the
//! resolution hoard memory without limit. The result does not depend on the order of the state maps,
//! nor on the order of any map's entries.

mod graph;
mod v1;
mod v2;

use std::collections::HashMap;

use hearth_types::RoomVersionRules;
use hearth_types::room_version::StateResolutionVersion;

use crate::StateKey;
use crate::error::Error;
use crate::event::Event;

/// A room state: `(event type, state key) -> event ID`.
pub type StateMap<Id> = HashMap<StateKey, Id>;

/// The most events one resolution will load before giving up with [`Error::TooLarge`].
pub const MAX_EVENTS_VISITED: usize = 2_000_000;

/// Where state resolution gets events from. Implemented for every `Fn(&str) -> Option<E>`.
///
/// `fetch_event` returns the event with this ID, whether or not it was rejected (the event says so
/// through [`Event::rejected`]), or `None` if the server does not have it; a missing event is left out
/// of the resolution, as Synapse does.
pub trait EventSource {
    /// The event type handed out.
    type Event: Event;

    /// The event with this ID, if the server has it.
    fn fetch_event(&self, event_id: &str) -> Option<Self::Event>;
}

impl<E: Event, F: Fn(&str) -> Option<E>> EventSource for F {
    type Event = E;

    fn fetch_event(&self, event_id: &str) -> Option<E> {
        self(event_id)
    }
}

/// Resolves `state_sets` (the states after each of an event's `prev_events`, or after each forward
/// extremity) into one state, with the algorithm of the room version.
///
/// One state set (or none) is returned unchanged. Events that cannot be fetched are left out; the
/// caller should fetch missing auth events before resolving if it wants them considered.
pub fn resolve_state<S: EventSource>(
    rules: &RoomVersionRules,
    state_sets: &[StateMap<<S::Event as Event>::Id>],
    source: &S,
) -> Result<StateMap<<S::Event as Event>::Id>, Error> {
    match state_sets {
        [] => return Ok(StateMap::new()),
        [only] => return Ok(only.clone()),
        _ => {}
    }
    match rules.state_resolution {
        StateResolutionVersion::V1 => v1::resolve(rules, state_sets, source),
        StateResolutionVersion::V2 => v2::resolve(rules, state_sets, source, false),
        StateResolutionVersion::V2_1 => v2::resolve(rules, state_sets, source, true),
    }
}
