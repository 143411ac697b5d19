//! Typed Matrix identifiers (spec appendices, "Identifier Grammar").
//!
//! Each identifier is parsed once, at the edge, against the spec's grammar and length limits, and is
//! trusted everywhere after that. They are cheap to clone (reference-counted strings), compare and hash
//! like their string form, and can be looked up in maps by `&str` (they implement `Borrow<str>`).
//! Deserialising one validates it, so a typed field in a request or PDU struct is a checked field.

mod device_id;
mod event_id;
mod key_id;
mod room_alias_id;
mod room_id;
mod server_name;
mod user_id;

pub use device_id::DeviceId;
pub use event_id::EventId;
pub use key_id::KeyId;
pub use room_alias_id::RoomAliasId;
pub use room_id::RoomId;
pub use server_name::ServerName;
pub use user_id::UserId;

use crate::IdError;

/// The maximum length in bytes of a user ID, room ID, event ID or room alias, sigil and domain included.
pub const MAX_ID_BYTES: usize = 255;

/// Checks the parts every sigil-prefixed identifier shares: a length of 1..=255 bytes, the expected
/// sigil and no NUL (which no identifier grammar allows and no database text column can store).
/// Returns the string after the sigil.
fn strip_sigil(s: &str, sigil: char) -> Result<&str, IdError> {
    if s.is_empty() || s.len() > MAX_ID_BYTES {
        return Err(IdError::InvalidLength);
    }
    let rest = s.strip_prefix(sigil).ok_or(IdError::MissingSigil)?;
    if rest.contains('\0') {
        return Err(IdError::InvalidCharacter);
    }
    Ok(rest)
}

/// Splits `localpart:server_name` at the first colon (localparts never contain one) and parses the
/// server name.
fn split_server_name(rest: &str) -> Result<(&str, ServerName), IdError> {
    let (localpart, server) = rest.split_once(':').ok_or(IdError::MissingServerName)?;
    let server = ServerName::parse(server).map_err(|_| IdError::InvalidServerName)?;
    Ok((localpart, server))
}

/// Whether `s` is an unpadded SHA-256 digest in base64: 43 characters of the standard or URL-safe
/// alphabet (the domain-less event-ID and room-ID forms).
fn is_base64_sha256(s: &str, url_safe_only: bool) -> bool {
    s.len() == 43
        && s.bytes().all(|b| {
            b.is_ascii_alphanumeric()
                || b == b'-'
                || b == b'_'
                || (!url_safe_only && (b == b'+' || b == b'/'))
        })
}

/// The impls every identifier shares, all delegating to the string form in the `id: Arc<str>` field:
/// equality, ordering and hashing by string, `Display`, `Debug`, `FromStr`, `TryFrom<&str>`/`<String>`,
/// `AsRef<str>`, `Borrow<str>` and validating serde.
macro_rules! impl_identifier {
    ($name:ident) => {
        impl $name {
            /// The identifier as it was parsed.
            pub fn as_str(&self) -> &str {
                &self.id
            }
        }

        impl PartialEq for $name {
            fn eq(&self, other: &Self) -> bool {
                self.id == other.id
            }
        }

        impl Eq for $name {}

        impl PartialOrd for $name {
            fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
                Some(self.cmp(other))
            }
        }

        impl Ord for $name {
            fn cmp(&self, other: &Self) -> std::cmp::Ordering {
                self.id.cmp(&other.id)
            }
        }

        impl std::hash::Hash for $name {
            fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
                self.as_str().hash(state);
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.as_str() == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::IdError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }

        impl TryFrom<&str> for $name {
            type Error = $crate::IdError;

            fn try_from(s: &str) -> Result<Self, Self::Error> {
                Self::parse(s)
            }
        }

        impl TryFrom<String> for $name {
            type Error = $crate::IdError;

            fn try_from(s: String) -> Result<Self, Self::Error> {
                Self::parse(&s)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                self.as_str()
            }
        }

        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                self.as_str()
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let s =
                    <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(deserializer)?;
                Self::parse(&s).map_err(|e| {
                    serde::de::Error::custom(format_args!("invalid {}: {e}", stringify!($name)))
                })
            }
        }
    };
}

pub(crate) use impl_identifier;
