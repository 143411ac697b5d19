//! Matrix protocol types shared by every layer above `crypto/`: typed identifiers, room-version rules,
//! the redaction algorithm and PDU hashing/signing per room version. Pure: no I/O.

mod error;
pub mod event;
pub mod ids;
pub mod pdu;
pub mod redaction;
pub mod room_version;

pub use error::Error;
pub use event::Pdu;

pub use ids::{DeviceId, EventId, KeyId, RoomAliasId, RoomId, ServerName, UserId};
pub use room_version::{RoomVersionId, RoomVersionRules};

/// Why a string is not a valid Matrix identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// Empty, or longer than the spec allows.
    #[error("identifier has an invalid length")]
    InvalidLength,
    /// A character the grammar does not allow.
    #[error("identifier contains a character its grammar does not allow")]
    InvalidCharacter,
    /// The identifier does not start with the sigil of its kind (`@`, `!`, `$`, `#`).
    #[error("identifier does not start with the expected sigil")]
    MissingSigil,
    /// The identifier needs a `:server_name` part (or, for event and room IDs, must be a hash) and has
    /// neither.
    #[error("identifier has no server name")]
    MissingServerName,
    /// The part after the first colon is not a valid server name.
    #[error("identifier has an invalid server name")]
    InvalidServerName,
}
