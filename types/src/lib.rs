//! Matrix protocol types shared by every layer above `crypto/`: typed identifiers, room-version rules,
//! the redaction algorithm and PDU hashing/signing per room version. Pure: no I/O.

pub mod room_version;

/// Why a string is not a valid Matrix identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// Empty, or longer than the spec allows.
    #[error("identifier has an invalid length")]
    InvalidLength,
    /// A character the grammar does not allow.
    #[error("identifier contains a character its grammar does not allow")]
    InvalidCharacter,
}
