//! The checks that do not depend on room state: sizes, required signatures, the create event rules
//! (rule 1), the v12 room ID rule (rule 2) and the checks on the `auth_events` list (rule 3).

use std::borrow::Borrow;
use std::collections::BTreeSet;

use hearth_types::RoomVersionRules;
use serde_json::Value;

use super::selection::auth_types_for_event;
use crate::content::{Membership, is_valid_user_id};
use crate::error::{AuthRule, Error};
use crate::event::{Event, server_of, types};

/// The largest PDU the spec allows, in bytes of canonical JSON.
pub const MAX_PDU_BYTES: usize = 65_536;

/// The largest `sender`, `room_id`, `state_key`, `type` or `event_id`, in bytes.
pub const MAX_ID_BYTES: usize = 255;

/// Size limits on receipt: the whole PDU (`pdu_bytes`, the length of its canonical JSON) and each
/// identifier-like field. Also rejects events that lack a `room_id` where the version requires one.
pub fn check_event_format(
    rules: &RoomVersionRules,
    event: &impl Event,
    pdu_bytes: usize,
) -> Result<(), Error> {
    if pdu_bytes > MAX_PDU_BYTES {
        return Err(Error::reject(
            AuthRule::SizeLimit,
            format!("PDU is {pdu_bytes} bytes"),
        ));
    }
    let fields = [
        ("sender", Some(event.sender())),
        ("room_id", event.room_id()),
        ("state_key", event.state_key()),
        ("type", Some(event.event_type())),
        ("event_id", Some(event.event_id().borrow())),
    ];
    for (name, value) in fields {
        if value.is_some_and(|v| v.len() > MAX_ID_BYTES) {
            return Err(Error::reject(
                AuthRule::SizeLimit,
                format!("`{name}` exceeds {MAX_ID_BYTES} bytes"),
            ));
        }
    }
    let is_v12_create =
        rules.authorization.room_id_is_create_event_hash && event.event_type() == types::CREATE;
    if event.room_id().is_none() && !is_v12_create {
        return Err(Error::reject(AuthRule::Format, "event has no room_id"));
    }
    Ok(())
}

/// The servers whose signatures an event needs before it may be processed: the sender's server; in
/// v1–v2 also the server that minted the event ID; for restricted joins (v8+) also the server of
/// `join_authorised_via_users_server` (rule 5.2). The caller verifies them with the servers' keys.
pub fn servers_required_to_sign(rules: &RoomVersionRules, event: &impl Event) -> BTreeSet<String> {
    let mut servers = BTreeSet::new();
    servers.insert(server_of(event.sender()).to_owned());
    if rules.has_event_id_field() {
        let event_id: &str = event.event_id().borrow();
        let minted_by = server_of(event_id);
        if !minted_by.is_empty() {
            servers.insert(minted_by.to_owned());
        }
    }
    if rules.authorization.restricted_join_rule
        && event.event_type() == types::MEMBER
        && Membership::of_content(event.content()) == Membership::Join
        && let Some(authoriser) = event
            .content()
            .get("join_authorised_via_users_server")
            .and_then(Value::as_str)
    {
        servers.insert(server_of(authoriser).to_owned());
    }
    servers
}

/// Rule 1: the rules for `m.room.create` events.
pub(super) fn check_create_event(
    rules: &RoomVersionRules,
    event: &impl Event,
) -> Result<(), Error> {
    let auth = &rules.authorization;
    // 1.1
    if event.prev_events().next().is_some() {
        return Err(Error::reject(
            AuthRule::CreateHasPrevEvents,
            "the create event has prev_events",
        ));
    }
    // 1.2
    if auth.room_id_is_create_event_hash {
        if event.room_id().is_some() {
            return Err(Error::reject(
                AuthRule::CreateHasRoomId,
                "a v12 create event has no room_id",
            ));
        }
    } else {
        let room_server = event.room_id().map(server_of);
        if room_server != Some(server_of(event.sender())) || room_server == Some("") {
            return Err(Error::reject(
                AuthRule::CreateRoomIdDomainMismatch,
                "the room_id is not on the sender's server",
            ));
        }
    }
    // 1.3
    if let Some(version) = event.content().get("room_version")
        && version.as_str().and_then(RoomVersionRules::get).is_none()
    {
        return Err(Error::reject(
            AuthRule::CreateUnknownRoomVersion,
            format!("room_version {version} is unknown"),
        ));
    }
    // 1.4 (v1–v10): a creator.
    if !auth.use_room_create_sender && event.content().get("creator").is_none() {
        return Err(Error::reject(
            AuthRule::CreateMissingCreator,
            "content.creator is missing",
        ));
    }
    // 1.4 (v12): additional creators are valid user IDs.
    if auth.privileged_creators
        && let Some(additional) = event.content().get("additional_creators")
    {
        let valid = additional.as_array().is_some_and(|list| {
            list.iter()
                .all(|user| user.as_str().is_some_and(is_valid_user_id))
        });
        if !valid {
            return Err(Error::reject(
                AuthRule::CreateInvalidAdditionalCreators,
                "additional_creators must be an array of user IDs",
            ));
        }
    }
    Ok(())
}

/// The create event ID a v12 room ID names (`!x` → `$x`).
pub(super) fn create_event_id_of_room(event: &impl Event) -> Result<String, Error> {
    event
        .room_id()
        .and_then(|room_id| room_id.strip_prefix('!'))
        .filter(|hash| !hash.is_empty() && !hash.contains(':'))
        .map(|hash| format!("${hash}"))
        .ok_or_else(|| {
            Error::reject(
                AuthRule::RoomIdNotCreateEvent,
                "the room_id is not a create event hash",
            )
        })
}

/// Rules 1–3: the create event rules, or for other events the v12 room ID rule and the checks on
/// `auth_events`. `fetch_event` returns events by ID, rejected or not.
pub fn check_state_independent_auth_rules<A: Event>(
    rules: &RoomVersionRules,
    event: &impl Event,
    fetch_event: impl Fn(&str) -> Option<A>,
) -> Result<(), Error> {
    if event.event_type() == types::CREATE {
        return check_create_event(rules, event);
    }
    let auth = &rules.authorization;
    // Rule 2 (v12): the room ID names an accepted create event.
    if auth.room_id_is_create_event_hash {
        let create_id = create_event_id_of_room(event)?;
        let create =
            fetch_event(&create_id).ok_or_else(|| Error::MissingEvent(create_id.clone()))?;
        if create.rejected() || create.event_type() != types::CREATE {
            return Err(Error::reject(
                AuthRule::RoomIdNotCreateEvent,
                format!("{create_id} is not an accepted create event"),
            ));
        }
    }
    // Rule 3: the auth events.
    let expected = auth_types_for_event(
        rules,
        event.event_type(),
        event.sender(),
        event.state_key(),
        event.content(),
    );
    let mut seen: Vec<(String, String)> = Vec::new();
    let mut has_create = false;
    for id in event.auth_events() {
        let id: &str = id.borrow();
        let auth_event = fetch_event(id).ok_or_else(|| Error::MissingEvent(id.to_owned()))?;
        let key = (
            auth_event.event_type().to_owned(),
            auth_event.state_key().unwrap_or_default().to_owned(),
        );
        // 3.1
        if seen.contains(&key) {
            return Err(Error::reject(
                AuthRule::DuplicateAuthEvent,
                format!("two auth events for {key:?}"),
            ));
        }
        // 3.2
        if auth_event.state_key().is_none() || !expected.contains(&key) {
            return Err(Error::reject(
                AuthRule::UnexpectedAuthEvent,
                format!("auth event {id} ({key:?}) is not expected"),
            ));
        }
        // 3.3
        if auth_event.rejected() {
            return Err(Error::reject(
                AuthRule::RejectedAuthEvent,
                format!("auth event {id} was rejected"),
            ));
        }
        // 3.5
        if auth_event.room_id() != event.room_id() {
            return Err(Error::reject(
                AuthRule::AuthEventInOtherRoom,
                format!("auth event {id} is in another room"),
            ));
        }
        has_create |= key.0 == types::CREATE;
        seen.push(key);
    }
    // 3.4 (v1–v11)
    if !auth.room_id_is_create_event_hash && !has_create {
        return Err(Error::reject(
            AuthRule::MissingCreateAuthEvent,
            "no m.room.create among the auth events",
        ));
    }
    Ok(())
}
