//! `POST /_matrix/client/v3/createRoom`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Path of the endpoint (under the client prefix).
pub const PATH: &str = "/createRoom";

/// A state event to put into the new room (`initial_state`).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct InitialStateEvent {
    /// The event type.
    #[serde(rename = "type")]
    pub event_type: String,
    /// The state key (default empty).
    #[serde(default)]
    pub state_key: String,
    /// The content.
    pub content: Map<String, Value>,
}

/// The request body. Every field is optional.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
pub struct Request {
    /// `public` lists the room in the directory; `private` (default) does not.
    #[serde(default)]
    pub visibility: Option<String>,
    /// Local part of an alias to create and point at the room.
    #[serde(default)]
    pub room_alias_name: Option<String>,
    /// `m.room.name`.
    #[serde(default)]
    pub name: Option<String>,
    /// `m.room.topic`.
    #[serde(default)]
    pub topic: Option<String>,
    /// Users to invite.
    #[serde(default)]
    pub invite: Vec<String>,
    /// Room version; the server default when absent.
    #[serde(default)]
    pub room_version: Option<String>,
    /// Extra content of `m.room.create`.
    #[serde(default)]
    pub creation_content: Option<Map<String, Value>>,
    /// State events sent after the preset's.
    #[serde(default)]
    pub initial_state: Vec<InitialStateEvent>,
    /// `private_chat`, `public_chat` or `trusted_private_chat`.
    #[serde(default)]
    pub preset: Option<String>,
    /// Sets `is_direct` on the invites.
    #[serde(default)]
    pub is_direct: bool,
    /// Merged over the default `m.room.power_levels` content.
    #[serde(default)]
    pub power_level_content_override: Option<Map<String, Value>>,
}

/// The response body.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct Response {
    /// The new room's ID.
    pub room_id: String,
}
