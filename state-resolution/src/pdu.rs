//! [`Event`] for `hearth_types::Pdu`, the homeserver's parsed view of an event as received, so stored
//! events go to the auth rules and state resolution without copying.

use hearth_types::{EventId, Pdu};
use serde_json::Value;

use crate::event::Event;

impl Event for Pdu {
    type Id = EventId;

    fn event_id(&self) -> &EventId {
        Pdu::event_id(self)
    }
    fn room_id(&self) -> Option<&str> {
        Pdu::room_id(self).map(|id| id.as_str())
    }
    fn sender(&self) -> &str {
        Pdu::sender(self).as_str()
    }
    fn event_type(&self) -> &str {
        Pdu::event_type(self)
    }
    fn state_key(&self) -> Option<&str> {
        Pdu::state_key(self)
    }
    fn content(&self) -> &Value {
        Pdu::content(self)
    }
    fn prev_events(&self) -> impl Iterator<Item = &EventId> {
        Pdu::prev_events(self).iter()
    }
    fn auth_events(&self) -> impl Iterator<Item = &EventId> {
        Pdu::auth_events(self).iter()
    }
    fn origin_server_ts(&self) -> i64 {
        Pdu::origin_server_ts(self)
    }
    fn depth(&self) -> i64 {
        Pdu::depth(self)
    }
    fn redacts(&self) -> Option<&str> {
        Pdu::redacts(self).map(|id| id.as_str())
    }
    /// A bare `Pdu` carries no verdict; wrap it in [`StoredPdu`] to say it was rejected.
    fn rejected(&self) -> bool {
        false
    }
}

/// A stored event with this server's verdict on it: what state resolution needs to skip rejected auth
/// events.
#[derive(Clone, Debug)]
pub struct StoredPdu {
    /// The event.
    pub pdu: Pdu,
    /// Whether this server rejected it on receipt.
    pub rejected: bool,
}

impl Event for StoredPdu {
    type Id = EventId;

    fn event_id(&self) -> &EventId {
        self.pdu.event_id()
    }
    fn room_id(&self) -> Option<&str> {
        Event::room_id(&self.pdu)
    }
    fn sender(&self) -> &str {
        Event::sender(&self.pdu)
    }
    fn event_type(&self) -> &str {
        self.pdu.event_type()
    }
    fn state_key(&self) -> Option<&str> {
        self.pdu.state_key()
    }
    fn content(&self) -> &Value {
        self.pdu.content()
    }
    fn prev_events(&self) -> impl Iterator<Item = &EventId> {
        self.pdu.prev_events().iter()
    }
    fn auth_events(&self) -> impl Iterator<Item = &EventId> {
        self.pdu.auth_events().iter()
    }
    fn origin_server_ts(&self) -> i64 {
        self.pdu.origin_server_ts()
    }
    fn depth(&self) -> i64 {
        self.pdu.depth()
    }
    fn redacts(&self) -> Option<&str> {
        Event::redacts(&self.pdu)
    }
    fn rejected(&self) -> bool {
        self.rejected
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use hearth_types::RoomVersionRules;
    use serde_json::json;

    use super::*;
    use crate::{auth_types_for_event, check_against_auth_events, check_auth_rules};

    fn pdu(json: Value, rules: &RoomVersionRules) -> Pdu {
        match Pdu::from_json(json, rules) {
            Ok(pdu) => pdu,
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn parsed_pdus_go_through_the_auth_rules() {
        let rules = &RoomVersionRules::V12;
        let alice = "@alice:a.example";
        let create = pdu(
            json!({"type": "m.room.create", "state_key": "", "sender": alice, "content": {"room_version": "12"},
                   "prev_events": [], "auth_events": [], "depth": 1, "origin_server_ts": 1,
                   "hashes": {"sha256": "x"}}),
            rules,
        );
        let room_id = format!("!{}", &create.event_id().as_str()[1..]);
        let join = pdu(
            json!({"type": "m.room.member", "state_key": alice, "sender": alice, "room_id": room_id,
                   "content": {"membership": "join"}, "prev_events": [create.event_id().as_str()],
                   "auth_events": [], "depth": 2, "origin_server_ts": 2, "hashes": {"sha256": "y"}}),
            rules,
        );
        let events: HashMap<&str, &Pdu> = [
            (create.event_id().as_str(), &create),
            (join.event_id().as_str(), &join),
        ]
        .into_iter()
        .collect();
        assert_eq!(
            check_auth_rules(rules, &create, |_: &str, _: &str| None::<&Pdu>),
            Ok(())
        );
        assert_eq!(
            check_against_auth_events(rules, &join, |id: &str| events.get(id).copied()),
            Ok(())
        );
        assert_eq!(
            auth_types_for_event(
                rules,
                Event::event_type(&join),
                Event::sender(&join),
                Event::state_key(&join),
                Event::content(&join)
            )
            .len(),
            3
        );
        let stored = StoredPdu {
            pdu: create,
            rejected: true,
        };
        assert!(stored.rejected());
        let fetch = |id: &str| (id == stored.pdu.event_id().as_str()).then_some(&stored);
        assert_eq!(
            check_against_auth_events(rules, &join, fetch)
                .err()
                .and_then(|e| e.rejected_by()),
            Some(crate::AuthRule::RoomIdNotCreateEvent)
        );
    }
}
