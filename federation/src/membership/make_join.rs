//! `GET /_matrix/federation/v1/make_join/{roomId}/{userId}?ver=…` — a join event template to sign.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// HTTP method of the endpoint.
pub const METHOD: &str = "GET";
/// Path prefix; room ID and user ID follow, percent-encoded, then `?ver=` once per supported version.
pub const PATH_PREFIX: &str = "/_matrix/federation/v1/make_join/";

/// The answer: an unsigned join event template, and the room version it is for.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MakeJoinResponse {
    /// The room's version; absent from very old servers, meaning version 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room_version: Option<String>,
    /// The template; the joining server fills in `origin_server_ts`, hashes and signs it.
    pub event: Value,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn room_version_is_optional() {
        let old: Result<MakeJoinResponse, _> =
            serde_json::from_value(json!({"event": {"type": "m.room.member"}}));
        assert_eq!(old.ok().and_then(|r| r.room_version), None);
        let new: Result<MakeJoinResponse, _> =
            serde_json::from_value(json!({"room_version": "12", "event": {}}));
        assert_eq!(new.ok().and_then(|r| r.room_version).as_deref(), Some("12"));
    }
}
