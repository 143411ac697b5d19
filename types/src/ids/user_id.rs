//! `UserId`: `@localpart:server_name`, with the historical (lenient) and current (strict) localpart
//! grammars.

use std::sync::Arc;

use super::{ServerName, split_server_name, strip_sigil};
use crate::IdError;

/// A Matrix user ID, `@localpart:server_name`, at most 255 bytes.
///
/// [`UserId::parse`] accepts the *historical* grammar, because the spec requires servers to accept
/// existing users with such IDs over federation: the localpart may be any characters except `:` and
/// NUL, even empty. New local users must pass the current grammar instead — see
/// [`UserId::parse_for_registration`] and [`UserId::new_for_registration`].
#[derive(Clone)]
pub struct UserId {
    id: Arc<str>,
    server_name: ServerName,
}

crate::ids::impl_identifier!(UserId);

impl UserId {
    /// Parses a user ID with the historical grammar, for IDs that already exist (federation, room
    /// history, lookups).
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let rest = strip_sigil(s, '@')?;
        let (_, server_name) = split_server_name(rest)?;
        Ok(Self {
            id: Arc::from(s),
            server_name,
        })
    }

    /// Parses a user ID whose localpart must match the current grammar (`[a-z0-9._=\-/+]+`): the
    /// check for IDs this server is about to create or accept as new.
    pub fn parse_for_registration(s: &str) -> Result<Self, IdError> {
        let user_id = Self::parse(s)?;
        if !is_valid_localpart(user_id.localpart()) {
            return Err(if user_id.localpart().is_empty() {
                IdError::InvalidLength
            } else {
                IdError::InvalidCharacter
            });
        }
        Ok(user_id)
    }

    /// Builds the ID of a new user on `server_name` from a requested localpart, enforcing the current
    /// grammar and the 255-byte limit. The localpart is not case-folded: callers that accept
    /// user-typed names lower-case them first.
    pub fn new_for_registration(
        localpart: &str,
        server_name: &ServerName,
    ) -> Result<Self, IdError> {
        Self::parse_for_registration(&format!("@{localpart}:{server_name}"))
    }

    /// The part between the sigil and the first colon.
    pub fn localpart(&self) -> &str {
        let rest = &self.id[1..];
        rest.split_once(':')
            .map_or(rest, |(localpart, _)| localpart)
    }

    /// The server the user belongs to.
    pub fn server_name(&self) -> &ServerName {
        &self.server_name
    }

    /// Whether the localpart is outside the current grammar (a historical ID). Such users must still
    /// be accepted in rooms, but should not be exposed to clients outside an event's context.
    pub fn is_historical(&self) -> bool {
        !is_valid_localpart(self.localpart())
    }
}

/// The current localpart grammar: non-empty, only `a-z`, `0-9`, `.`, `_`, `=`, `-`, `/` and `+`.
pub(crate) fn is_valid_localpart(localpart: &str) -> bool {
    !localpart.is_empty()
        && localpart.bytes().all(|b| {
            b.is_ascii_lowercase()
                || b.is_ascii_digit()
                || matches!(b, b'.' | b'_' | b'=' | b'-' | b'/' | b'+')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_localpart_and_server_name() {
        let user = UserId::parse("@alice:example.org:8448").unwrap();
        assert_eq!(user.localpart(), "alice");
        assert_eq!(user.server_name().as_str(), "example.org:8448");
        assert_eq!(user.server_name().port(), Some(8448));
        assert!(!user.is_historical());
    }

    #[test]
    fn accepts_ipv6_server_names() {
        let user = UserId::parse("@bob:[1234:5678::abcd]:5678").unwrap();
        assert_eq!(user.localpart(), "bob");
        assert_eq!(user.server_name().host(), "[1234:5678::abcd]");
    }

    #[test]
    fn accepts_historical_localparts_as_the_spec_requires() {
        for id in [
            "@Alice:example.org",
            "@:example.org",
            "@ünïcödé:example.org",
            "@a b\u{1}:example.org",
        ] {
            let user = UserId::parse(id).unwrap();
            assert!(user.is_historical(), "{id}");
        }
    }

    #[test]
    fn registration_rejects_upper_case_empty_and_unusual_localparts() {
        assert_eq!(
            UserId::parse_for_registration("@Alice:example.org"),
            Err(IdError::InvalidCharacter)
        );
        assert_eq!(
            UserId::parse_for_registration("@:example.org"),
            Err(IdError::InvalidLength)
        );
        assert_eq!(
            UserId::parse_for_registration("@al ice:example.org"),
            Err(IdError::InvalidCharacter)
        );
        assert_eq!(
            UserId::parse_for_registration("@al*ce:example.org"),
            Err(IdError::InvalidCharacter)
        );
        assert!(UserId::parse_for_registration("@a.l_i=c-e/+9:example.org").is_ok());
    }

    #[test]
    fn new_for_registration_builds_the_full_id() {
        let server = ServerName::parse("example.org").unwrap();
        let user = UserId::new_for_registration("alice", &server).unwrap();
        assert_eq!(user.as_str(), "@alice:example.org");
        assert!(UserId::new_for_registration("Alice", &server).is_err());
        assert!(UserId::new_for_registration("a:b", &server).is_err());
    }

    #[test]
    fn rejects_missing_sigil_colon_or_server() {
        assert_eq!(
            UserId::parse("alice:example.org"),
            Err(IdError::MissingSigil)
        );
        assert_eq!(
            UserId::parse("#alice:example.org"),
            Err(IdError::MissingSigil)
        );
        assert_eq!(UserId::parse("@alice"), Err(IdError::MissingServerName));
        assert_eq!(UserId::parse("@alice:"), Err(IdError::InvalidServerName));
        assert_eq!(
            UserId::parse("@alice:exa mple.org"),
            Err(IdError::InvalidServerName)
        );
        assert_eq!(
            UserId::parse("@ali\0ce:example.org"),
            Err(IdError::InvalidCharacter)
        );
        assert_eq!(UserId::parse(""), Err(IdError::InvalidLength));
    }

    #[test]
    fn enforces_the_255_byte_limit() {
        let server = ":example.org";
        let fits = format!("@{}{server}", "a".repeat(255 - 1 - server.len()));
        assert_eq!(fits.len(), 255);
        assert!(UserId::parse(&fits).is_ok());
        let too_long = format!("@{}{server}", "a".repeat(256 - 1 - server.len()));
        assert_eq!(UserId::parse(&too_long), Err(IdError::InvalidLength));
        // The limit is in bytes, not characters.
        let multibyte = format!("@{}{server}", "é".repeat(125));
        assert_eq!(UserId::parse(&multibyte), Err(IdError::InvalidLength));
    }

    #[test]
    fn serde_round_trips_and_validates() {
        let user: UserId = serde_json::from_str("\"@alice:example.org\"").unwrap();
        assert_eq!(
            serde_json::to_string(&user).unwrap(),
            "\"@alice:example.org\""
        );
        assert!(serde_json::from_str::<UserId>("\"alice\"").is_err());
        assert!(serde_json::from_str::<UserId>("42").is_err());
    }

    #[test]
    fn map_lookup_by_str_and_ordering_follow_the_string() {
        let mut users = std::collections::BTreeSet::new();
        users.insert(UserId::parse("@b:x").unwrap());
        users.insert(UserId::parse("@a:x").unwrap());
        assert!(users.contains("@a:x"));
        assert_eq!(users.iter().next().map(UserId::as_str), Some("@a:x"));
    }
}
