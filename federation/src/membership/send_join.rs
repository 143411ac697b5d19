//! `PUT /_matrix/federation/v2/send_join/{roomId}/{eventId}` — submit a signed join, receive the room.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// HTTP method of the endpoint.
pub const METHOD: &str = "PUT";
/// Path prefix; room ID and event ID follow, percent-encoded.
pub const PATH_PREFIX: &str = "/_matrix/federation/v2/send_join/";

/// The v2 answer (an object; v1 wrapped it in `[200, {…}]`). Events stay raw JSON: each is verified as
/// received before use.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SendJoinResponse {
    /// The resident server that answered. Required by the spec, but Synapse leaves it out: absent reads as
    /// empty (nothing depends on it; the events carry their own origins and signatures).
    #[serde(default)]
    pub origin: String,
    /// The auth chain of the join event and of the state.
    pub auth_chain: Vec<Value>,
    /// The room state before the join.
    pub state: Vec<Value>,
    /// The join event as the resident server signed it (restricted joins add its signature).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<Value>,
    /// Partial state ("faster joins", MSC3706): membership events were left out of `state`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub members_omitted: bool,
    /// With `members_omitted`: servers in the room, to fetch the rest from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub servers_in_room: Option<Vec<String>>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_a_full_state_answer_and_omits_defaults_when_serialising() {
        let raw = json!({"origin": "a.example", "auth_chain": [{"a": 1}], "state": [{"s": 1}], "event": {"e": 1}});
        let parsed: Result<SendJoinResponse, _> = serde_json::from_value(raw.clone());
        let Ok(parsed) = parsed else { panic!("parse") };
        assert!(!parsed.members_omitted);
        assert_eq!(parsed.state.len(), 1);
        assert_eq!(serde_json::to_value(&parsed).ok(), Some(raw));
    }

    #[test]
    fn parses_a_partial_state_answer() {
        let parsed: Result<SendJoinResponse, _> = serde_json::from_value(json!({
            "origin": "a.example", "auth_chain": [], "state": [], "members_omitted": true,
            "servers_in_room": ["a.example", "b.example"]
        }));
        let Ok(parsed) = parsed else { panic!("parse") };
        assert!(parsed.members_omitted);
        assert_eq!(parsed.servers_in_room.map(|s| s.len()), Some(2));
    }
}
