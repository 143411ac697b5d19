//! `hearth_crypto`: the cryptographic bottom layer of Hearth.
//!
//! Pure functions for everything Matrix signs or hashes: canonical JSON ([`canonical_json`]), unpadded
//! base64 ([`base64`]), ed25519 server keys ([`keys`]), JSON signatures ([`signing`]), event content and
//! reference hashes ([`hashes`]), event ID encodings ([`event_id`]), argon2id passwords ([`password`]) and
//! random tokens ([`random`]). No networking, no async; the only I/O is [`keys::load_or_generate`], a thin
//! layer over the pure key-file encoding.
//!
//! Room-version-specific behaviour (redaction, which parse mode applies) belongs to `hearth_types`; this
//! crate provides the primitives those rules are built from.

pub mod base64;
pub mod canonical_json;
mod error;
pub mod event_id;
pub mod hashes;
pub mod keys;
pub mod password;
pub mod random;
pub mod signing;

pub use error::{Error, ParseErrorKind};
pub use event_id::{EventIdFormat, event_id_from_reference_hash, random_event_id};
pub use keys::{KeyId, SigningKey, VerifyKey};
pub use signing::{sign_json, verify_json};
