//! The authorization rules of every room version (v1–v12), driven by [`RoomVersionRules`].
//!
//! Split the way the spec's "checks performed on receipt of a PDU" are:
//!
//! * [`check_event_format`] and [`servers_required_to_sign`]: sizes and signatures, once on receipt;
//! * [`check_state_independent_auth_rules`]: the create event rules, the room ID of v12 rooms and the
//!   checks on the `auth_events` list — once per event, they need only the auth events themselves;
//! * [`check_state_dependent_auth_rules`]: everything else, run against (a) the event's auth events
//!   ([`check_against_auth_events`]), (b) the state before the event, (c) the current state (soft
//!   failure). [`check_auth_rules`] is the form a local send uses against the current state.
//!
//! The state is passed as a lookup closure `(event_type, state_key) -> Option<event>`, so callers keep
//! their own storage. Only the keys from [`auth_types_for_event`] are ever looked up.

mod independent;
mod member;
mod power_levels;
mod selection;
mod third_party_invite;

use std::borrow::Borrow;
use std::rc::Rc;

use hearth_types::RoomVersionRules;

pub use independent::{
    check_event_format, check_state_independent_auth_rules, servers_required_to_sign,
};
pub use selection::{StateKey, auth_types_for_event};

use crate::content::{Membership, room_creators, room_is_federated};
use crate::error::{AuthRule, Error};
use crate::event::{Event, server_of, types};
use crate::power_levels::{LevelField, PowerContext, PowerLevels};

/// The check a local send makes against the room's current state: the create event rules for
/// `m.room.create`, then every state-dependent rule.
///
/// The caller built the event's `auth_events` from the same state with [`auth_types_for_event`], so
/// the state-independent `auth_events` checks hold by construction.
pub fn check_auth_rules<E: Event, S: Event>(
    rules: &RoomVersionRules,
    event: &E,
    state: impl Fn(&str, &str) -> Option<S>,
) -> Result<(), Error> {
    if event.event_type() == types::CREATE {
        return independent::check_create_event(rules, event);
    }
    check_state_dependent_auth_rules(rules, event, state)
}

/// Receipt check 4: the state-independent rules, then the state-dependent rules against the state
/// formed by the event's own auth events (plus, in v12, the create event named by the room ID).
///
/// `fetch_event` returns events by ID, rejected or not; a missing auth event is
/// [`Error::MissingEvent`].
pub fn check_against_auth_events<E: Event, A: Event>(
    rules: &RoomVersionRules,
    event: &E,
    fetch_event: impl Fn(&str) -> Option<A>,
) -> Result<(), Error> {
    check_state_independent_auth_rules(rules, event, &fetch_event)?;
    if event.event_type() == types::CREATE {
        return Ok(());
    }
    let mut auth_state: Vec<A> = Vec::new();
    for id in event.auth_events() {
        let id: &str = id.borrow();
        auth_state.push(fetch_event(id).ok_or_else(|| Error::MissingEvent(id.to_owned()))?);
    }
    if rules.authorization.room_id_is_create_event_hash {
        let create_id = independent::create_event_id_of_room(event)?;
        auth_state.push(fetch_event(&create_id).ok_or(Error::MissingEvent(create_id))?);
    }
    check_state_dependent_auth_rules(rules, event, |event_type, state_key| {
        auth_state
            .iter()
            .find(|e| e.event_type() == event_type && e.state_key() == Some(state_key))
    })
}

/// Rules 4–11: everything that depends on the room state. `m.room.create` events pass trivially (their
/// rules are state-independent).
pub fn check_state_dependent_auth_rules<E: Event, S: Event>(
    rules: &RoomVersionRules,
    event: &E,
    state: impl Fn(&str, &str) -> Option<S>,
) -> Result<(), Error> {
    check_state_dependent_with(rules, event, state, |pl: &S| {
        Rc::new(PowerLevels::from_state(rules, pl.content()))
    })
}

/// [`check_state_dependent_auth_rules`] with the reading of the power levels event supplied by the
/// caller, so that state resolution parses each power levels event once, not once per check.
pub(crate) fn check_state_dependent_with<E: Event, S: Event>(
    rules: &RoomVersionRules,
    event: &E,
    state: impl Fn(&str, &str) -> Option<S>,
    read_power_levels: impl FnOnce(&S) -> Rc<PowerLevels>,
) -> Result<(), Error> {
    let auth = &rules.authorization;
    if event.event_type() == types::CREATE {
        return Ok(());
    }
    let create = state(types::CREATE, "").ok_or_else(|| {
        Error::reject(
            AuthRule::NoCreateEventInState,
            "the state has no m.room.create",
        )
    })?;
    let sender = event.sender();

    // Rule 4: m.federate.
    if !room_is_federated(&create) && server_of(sender) != server_of(create.sender()) {
        return Err(Error::reject(
            AuthRule::RoomNotFederated,
            format!("{sender} is not on the room creator's server"),
        ));
    }

    // v1–v5: m.room.aliases is authorised by the sender's server alone.
    if auth.special_case_room_aliases && event.event_type() == types::ALIASES {
        return match event.state_key() {
            Some(key) if key == server_of(sender) => Ok(()),
            _ => Err(Error::reject(
                AuthRule::AliasesStateKeyMismatch,
                "the state key must be the sender's server name",
            )),
        };
    }

    let power = PowerContext {
        levels: state(types::POWER_LEVELS, "").map(|pl| read_power_levels(&pl)),
        creators: room_creators(rules, &create),
        creators_are_privileged: auth.privileged_creators,
    };

    // Rule 5: membership changes.
    if event.event_type() == types::MEMBER {
        return member::check_member_event(rules, event, &create, &power, &state);
    }

    // Rule 6: the sender must be joined.
    if Membership::of_state(state(types::MEMBER, sender).as_ref()) != Membership::Join {
        return Err(Error::reject(
            AuthRule::SenderNotJoined,
            format!("{sender} is not joined"),
        ));
    }
    let sender_power = power.user_power(sender);

    // Rule 7: third-party invites need the invite level.
    if event.event_type() == types::THIRD_PARTY_INVITE {
        return if sender_power.at_least(power.level(LevelField::Invite)) {
            Ok(())
        } else {
            Err(Error::reject(
                AuthRule::ThirdPartyInviteEventInsufficientPower,
                format!("{sender} is below the invite level"),
            ))
        };
    }

    // Rule 8: the event type's required power level.
    let required = power.required_for_event(event.event_type(), event.state_key().is_some());
    if !sender_power.at_least(required) {
        return Err(Error::reject(
            AuthRule::InsufficientPowerForEventType,
            format!("{} needs power level {required}", event.event_type()),
        ));
    }

    // Rule 9: user-owned state keys.
    if let Some(state_key) = event.state_key()
        && state_key.starts_with('@')
        && state_key != sender
    {
        return Err(Error::reject(
            AuthRule::StateKeyIsAnotherUser,
            format!("state key {state_key} belongs to another user"),
        ));
    }

    // Rule 10: power level changes.
    if event.event_type() == types::POWER_LEVELS {
        return power_levels::check_power_levels_change(rules, event, &power, sender_power);
    }

    // Rule 11 (v1–v2): redactions.
    if auth.redaction_checked_by_auth_rules && event.event_type() == types::REDACTION {
        if sender_power.at_least(power.level(LevelField::Redact)) {
            return Ok(());
        }
        let own_server = server_of(event.event_id().borrow());
        if event
            .redacts()
            .is_some_and(|redacts| server_of(redacts) == own_server)
        {
            return Ok(());
        }
        return Err(Error::reject(
            AuthRule::RedactionNotAllowed,
            "below the redact level and redacting another server's event",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
