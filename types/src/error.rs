//! The crate's error type.
//!
//! [`IdError`](crate::IdError) stays a separate, small type because identifier parsing is used on its own
//! at every API edge; everything that handles whole events (redaction, hashing, signatures, PDU views)
//! returns [`Error`], which wraps both identifier and crypto failures.

use crate::IdError;

/// Why an event could not be redacted, hashed, signed, verified or viewed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The event (or the value given) is not a JSON object.
    #[error("event is not a JSON object")]
    NotAnObject,
    /// A field the operation needs is absent.
    #[error("event has no `{0}`")]
    MissingField(&'static str),
    /// A field the operation needs has the wrong JSON type or an out-of-range value.
    #[error("event field `{0}` has the wrong type or value")]
    InvalidField(&'static str),
    /// A field holds a string that is not a valid identifier of the kind it must be.
    #[error("event field `{field}` is not a valid identifier: {source}")]
    InvalidId {
        /// Which field (dotted path for nested ones, e.g. `content.redacts`).
        field: &'static str,
        /// What is wrong with it.
        #[source]
        source: IdError,
    },
    /// The event's `hashes.sha256` is well-formed but does not match its content. Per the spec the
    /// receiver keeps the event in its redacted form rather than dropping it.
    #[error("event content hash does not match")]
    ContentHashMismatch,
    /// A server whose signature the room version requires has no signature we could check: none at
    /// all, or only signatures made with keys the caller could not supply.
    #[error("event has no verifiable signature by `{server}`")]
    MissingSignature {
        /// The server whose signature is required.
        server: String,
    },
    /// A required server's signature does not verify against its key: forged, or the signed (redacted)
    /// part of the event was altered.
    #[error("signature by `{server}` with key `{key_id}` does not verify")]
    InvalidSignature {
        /// The signing server.
        server: String,
        /// The key ID the signature claims.
        key_id: String,
    },
    /// The operation does not apply to this room version (e.g. a hash room ID before v12).
    #[error("not supported in room version {0}")]
    WrongRoomVersion(&'static str),
    /// Canonical JSON, hashing or signing failed in the crypto layer.
    #[error(transparent)]
    Crypto(#[from] hearth_crypto::Error),
}

impl Error {
    /// Wraps an identifier error with the field it came from (for `map_err`).
    pub(crate) fn invalid_id(field: &'static str) -> impl FnOnce(IdError) -> Self {
        move |source| Self::InvalidId { field, source }
    }
}
