//! End-to-end encryption key material as the client-server API carries it: device keys, cross-signing keys and
//! the signatures over them (`signed_keys`), and the key-backup session metadata with the spec's rule for
//! which of two backed-up copies of a session to keep (`backup`).
//!
//! Pure checks over JSON values, so the homeserver's handlers and its federation receiver share them.

pub mod backup;
pub mod requests;
pub mod signed_keys;

/// Algorithm name of the ed25519 keys that sign device keys and cross-signing keys.
pub const ED25519: &str = "ed25519";
/// The key-backup algorithm the spec defines.
pub const MEGOLM_BACKUP_V1: &str = "m.megolm_backup.v1.curve25519-aes-sha2";
