//! `EventId`: `$opaque:server_name` (room versions 1–2) or `$<reference hash>` (v3+).

use std::sync::Arc;

use super::{ServerName, is_base64_sha256, split_server_name, strip_sigil};
use crate::IdError;

/// An event ID, at most 255 bytes, in one of the forms room versions use:
///
/// * `$opaque:server_name` — v1–v2, chosen by the sending server;
/// * `$hash` — v3+: the event's reference hash, 43 characters of unpadded base64 (standard alphabet
///   in v3, URL-safe from v4).
///
/// Whether an ID has the right form for a given room version is checked where the version is known.
#[derive(Clone)]
pub struct EventId {
    id: Arc<str>,
    server_name: Option<ServerName>,
}

crate::ids::impl_identifier!(EventId);

impl EventId {
    /// Parses either event-ID form.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let rest = strip_sigil(s, '$')?;
        let server_name = if rest.contains(':') {
            let (opaque, server_name) = split_server_name(rest)?;
            if opaque.is_empty() {
                return Err(IdError::InvalidLength);
            }
            Some(server_name)
        } else if is_base64_sha256(rest, false) {
            None
        } else {
            return Err(IdError::MissingServerName);
        };
        Ok(Self {
            id: Arc::from(s),
            server_name,
        })
    }

    /// The server that minted a v1/v2 event ID (whose signature those room versions also require);
    /// `None` for hash IDs.
    pub fn server_name(&self) -> Option<&ServerName> {
        self.server_name.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_v1_event_ids_with_their_server() {
        let id = EventId::parse("$a4ecee13e2accdadf56c1025:example.com").unwrap();
        assert_eq!(
            id.server_name().map(ServerName::as_str),
            Some("example.com")
        );
    }

    #[test]
    fn parses_v3_and_v4_hash_event_ids() {
        let v3 = EventId::parse("$acR1l0raoZnm60CBwAVgqbZqoO/mYU81xysh1u7XcJk").unwrap();
        let v4 = EventId::parse("$Rqnc-F-dvnEYJTyHq_iKxU2bZ1CI92-kuZq3a5lr5Zg").unwrap();
        assert_eq!((v3.server_name(), v4.server_name()), (None, None));
    }

    #[test]
    fn rejects_malformed_event_ids() {
        assert_eq!(
            EventId::parse("abc:example.org"),
            Err(IdError::MissingSigil)
        );
        assert_eq!(EventId::parse("$:example.org"), Err(IdError::InvalidLength));
        assert_eq!(EventId::parse("$short"), Err(IdError::MissingServerName));
        assert_eq!(EventId::parse("$abc:"), Err(IdError::InvalidServerName));
        // 43 characters, but one is outside both base64 alphabets.
        assert!(EventId::parse("$Rqnc-F-dvnEYJTyHq_iKxU2bZ1CI92-kuZq3a5lr5Z!").is_err());
        assert_eq!(
            EventId::parse(&format!("${}:x", "a".repeat(254))),
            Err(IdError::InvalidLength)
        );
    }
}
