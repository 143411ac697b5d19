//! `hearth_state_res`: the Matrix authorization rules and state resolution, for every room version.
//!
//! Pure: the caller passes events through the [`Event`] trait and state through lookup closures or
//! maps; nothing here does I/O. What each room version does differently comes from
//! [`hearth_types::RoomVersionRules`], never from version strings.
//!
//! * [`auth`] — the authorization rules, split as the spec's receipt checks are, and the auth events
//!   selection ([`auth_types_for_event`]).
//! * [`resolve`] — state resolution v1, v2 and v2.1 ([`resolve_state`]).
//!
//! See `docs/state-resolution.md` for the algorithm as implemented and the pitfalls it guards against.

pub mod auth;
mod content;
mod error;
mod event;
mod pdu;
mod power_levels;
pub mod resolve;
#[cfg(test)]
mod testing;

pub use auth::{
    StateKey, auth_types_for_event, check_against_auth_events, check_auth_rules,
    check_event_format, check_state_dependent_auth_rules, check_state_independent_auth_rules,
    servers_required_to_sign,
};
pub use error::{AuthRule, Error};
pub use event::{Event, types as event_types};
pub use pdu::StoredPdu;
pub use power_levels::UserPower;
pub use resolve::{EventSource, StateMap, resolve_state};
