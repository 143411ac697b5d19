//! `RoomAliasId`: `#alias:server_name`.

use std::sync::Arc;

use super::{ServerName, split_server_name, strip_sigil};
use crate::IdError;

/// A room alias, `#alias:server_name`, at most 255 bytes. The alias part is non-empty and may hold any
/// characters except `:` and NUL; the server name says which server resolves the alias.
#[derive(Clone)]
pub struct RoomAliasId {
    id: Arc<str>,
    server_name: ServerName,
}

crate::ids::impl_identifier!(RoomAliasId);

impl RoomAliasId {
    /// Parses a room alias.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let rest = strip_sigil(s, '#')?;
        let (alias, server_name) = split_server_name(rest)?;
        if alias.is_empty() {
            return Err(IdError::InvalidLength);
        }
        Ok(Self {
            id: Arc::from(s),
            server_name,
        })
    }

    /// The part between the sigil and the first colon.
    pub fn alias(&self) -> &str {
        let rest = &self.id[1..];
        rest.split_once(':').map_or(rest, |(alias, _)| alias)
    }

    /// The server that owns (and answers directory queries for) the alias.
    pub fn server_name(&self) -> &ServerName {
        &self.server_name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_alias_and_server() {
        let alias = RoomAliasId::parse("#Über-Room:example.org:8448").unwrap();
        assert_eq!(alias.alias(), "Über-Room");
        assert_eq!(alias.server_name().as_str(), "example.org:8448");
    }

    #[test]
    fn rejects_malformed_aliases() {
        assert_eq!(
            RoomAliasId::parse("room:example.org"),
            Err(IdError::MissingSigil)
        );
        assert_eq!(
            RoomAliasId::parse("#:example.org"),
            Err(IdError::InvalidLength)
        );
        assert_eq!(RoomAliasId::parse("#room"), Err(IdError::MissingServerName));
        assert_eq!(
            RoomAliasId::parse("#room:exa_mple"),
            Err(IdError::InvalidServerName)
        );
        assert_eq!(
            RoomAliasId::parse(&format!("#{}:x", "a".repeat(254))),
            Err(IdError::InvalidLength)
        );
    }
}
