//! Server-side key backup (spec, "Server-side key backups"): one backed-up megolm session and the rule that
//! decides, when a client uploads a session the backup already holds, which copy the server keeps.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `KeyBackupData`: one session in a backup, as uploaded and as returned. `session_data` is opaque (encrypted
/// by the client); the three metadata fields decide replacement.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
pub struct KeyBackupData {
    /// Index of the first message the session can decrypt.
    pub first_message_index: u64,
    /// How many times the key was forwarded between devices.
    pub forwarded_count: u64,
    /// Whether the device that backed up the key verified the device it came from.
    pub is_verified: bool,
    /// The algorithm-dependent, encrypted session data.
    pub session_data: Value,
}

/// Whether an uploaded copy of a session replaces the stored one. The spec's order: a verified copy beats an
/// unverified one; then the lower `first_message_index` (it decrypts more history); then the lower
/// `forwarded_count`. A copy that is no better keeps the stored one.
pub fn replaces(stored: &KeyBackupData, uploaded: &KeyBackupData) -> bool {
    if stored.is_verified != uploaded.is_verified {
        return uploaded.is_verified;
    }
    if stored.first_message_index != uploaded.first_message_index {
        return uploaded.first_message_index < stored.first_message_index;
    }
    uploaded.forwarded_count < stored.forwarded_count
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn data(first_message_index: u64, forwarded_count: u64, is_verified: bool) -> KeyBackupData {
        KeyBackupData {
            first_message_index,
            forwarded_count,
            is_verified,
            session_data: json!({}),
        }
    }

    #[test]
    fn verified_beats_unverified_whatever_the_index() {
        assert!(replaces(&data(0, 0, false), &data(10, 5, true)));
        assert!(!replaces(&data(10, 5, true), &data(0, 0, false)));
    }

    #[test]
    fn lower_first_message_index_then_lower_forwarded_count_wins() {
        assert!(replaces(&data(5, 0, true), &data(1, 3, true)));
        assert!(!replaces(&data(1, 3, true), &data(5, 0, true)));
        assert!(replaces(&data(1, 3, true), &data(1, 2, true)));
        assert!(!replaces(&data(1, 2, true), &data(1, 2, true)));
    }
}
