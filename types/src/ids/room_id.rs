//! `RoomId`: `!opaque:server_name` (room versions 1–11) or `!<create event reference hash>` (v12+).

use std::sync::Arc;

use super::{EventId, ServerName, is_base64_sha256, split_server_name, strip_sigil};
use crate::IdError;

/// A room ID, at most 255 bytes, in one of the two forms room versions use:
///
/// * `!opaque:server_name` — v1–v11; the localpart is anything but `:` and NUL;
/// * `!hash` — v12+: the create event's ID with `!` instead of `$`, i.e. 43 characters of URL-safe
///   unpadded base64 and no server name.
///
/// Which form a given room must use depends on its version; that is checked where the room version
/// is known (event format checks), not here.
#[derive(Clone)]
pub struct RoomId {
    id: Arc<str>,
    server_name: Option<ServerName>,
}

crate::ids::impl_identifier!(RoomId);

impl RoomId {
    /// Parses either room-ID form.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let rest = strip_sigil(s, '!')?;
        let server_name = if rest.contains(':') {
            Some(split_server_name(rest)?.1)
        } else if is_base64_sha256(rest, true) {
            None
        } else {
            return Err(IdError::MissingServerName);
        };
        Ok(Self {
            id: Arc::from(s),
            server_name,
        })
    }

    /// The room ID of a v12+ room: its create event's ID with the `!` sigil. Fails for event IDs that
    /// are not URL-safe reference hashes.
    pub fn from_create_event_id(event_id: &EventId) -> Result<Self, IdError> {
        let hash = event_id
            .as_str()
            .strip_prefix('$')
            .ok_or(IdError::MissingSigil)?;
        if !is_base64_sha256(hash, true) {
            return Err(IdError::InvalidCharacter);
        }
        Self::parse(&format!("!{hash}"))
    }

    /// The server that created the room, for v1–v11 room IDs. Only a namespace: it says nothing about
    /// whether that server is still in the room.
    pub fn server_name(&self) -> Option<&ServerName> {
        self.server_name.as_ref()
    }

    /// The ID of the room's create event when this is a v12+ (hash) room ID; `None` for the older form.
    pub fn create_event_id(&self) -> Option<EventId> {
        match self.server_name {
            Some(_) => None,
            None => EventId::parse(&format!("${}", &self.id[1..])).ok(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const V12_ROOM: &str = "!Nhcu5BS-UMnFX7hBVfVSoXiD7OgH6iRT-xyIuqDnpYQ";

    #[test]
    fn parses_room_ids_with_a_server_name() {
        let room = RoomId::parse("!abc123:example.org").unwrap();
        assert_eq!(
            room.server_name().map(ServerName::as_str),
            Some("example.org")
        );
        assert_eq!(room.create_event_id(), None);
    }

    #[test]
    fn parses_v12_room_ids_without_a_server_name() {
        let room = RoomId::parse(V12_ROOM).unwrap();
        assert_eq!(room.server_name(), None);
        assert_eq!(
            room.create_event_id().map(|e| e.to_string()),
            Some(format!("${}", &V12_ROOM[1..]))
        );
    }

    #[test]
    fn v12_room_id_round_trips_through_the_create_event_id() {
        let create = EventId::parse(&format!("${}", &V12_ROOM[1..])).unwrap();
        assert_eq!(
            RoomId::from_create_event_id(&create).unwrap().as_str(),
            V12_ROOM
        );
        // A v3 (standard base64) or v1 event ID can't name a v12 room.
        let v3 = EventId::parse("$Nhcu5BS+UMnFX7hBVfVSoXiD7OgH6iRT/xyIuqDnpYQ").unwrap();
        assert!(RoomId::from_create_event_id(&v3).is_err());
        let v1 = EventId::parse("$abc:example.org").unwrap();
        assert!(RoomId::from_create_event_id(&v1).is_err());
    }

    #[test]
    fn rejects_domainless_ids_that_are_not_hashes() {
        assert_eq!(RoomId::parse("!abc"), Err(IdError::MissingServerName));
        // Standard-alphabet base64 is not the v12 format.
        assert!(RoomId::parse("!Nhcu5BS+UMnFX7hBVfVSoXiD7OgH6iRT/xyIuqDnpYQ").is_err());
        assert!(RoomId::parse(&V12_ROOM[..43]).is_err());
    }

    #[test]
    fn rejects_missing_sigil_and_bad_server_names() {
        assert_eq!(RoomId::parse("abc:example.org"), Err(IdError::MissingSigil));
        assert_eq!(
            RoomId::parse("$abc:example.org"),
            Err(IdError::MissingSigil)
        );
        assert_eq!(
            RoomId::parse("!abc:bad server"),
            Err(IdError::InvalidServerName)
        );
    }

    #[test]
    fn enforces_the_255_byte_limit() {
        let long = format!("!{}:example.org", "a".repeat(255 - 13));
        assert_eq!(long.len(), 255);
        assert!(RoomId::parse(&long).is_ok());
        assert_eq!(
            RoomId::parse(&format!("!a{}", &long[1..])),
            Err(IdError::InvalidLength)
        );
    }
}
