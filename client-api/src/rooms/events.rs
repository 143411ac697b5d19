//! Small response shapes shared by the event-sending endpoints (`send`, `state`, `redact`).

use serde::{Deserialize, Serialize};

/// `{"event_id": …}`: the answer of every endpoint that sends one event.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct EventIdResponse {
    /// The new (or, for a retried transaction, the earlier) event's ID.
    pub event_id: String,
}

/// `{"room_id": …}`: the answer of the join endpoints.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct RoomIdResponse {
    /// The joined room.
    pub room_id: String,
}
