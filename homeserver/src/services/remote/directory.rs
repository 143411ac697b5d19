//! Room aliases and profiles of other servers: `GET /_matrix/federation/v1/query/directory` and
//! `GET /_matrix/federation/v1/query/profile`.

use hearth_types::{RoomAliasId, RoomId, ServerName, UserId};
use serde::Deserialize;
use serde_json::Value;

use super::{RemoteRooms, remote_error};
use crate::services::outbound::encode_path_segment;
use crate::services::rooms::RoomError;

/// Most servers of a directory answer kept (a hostile answer may list thousands).
const MAX_ALIAS_SERVERS: usize = 50;

/// `/query/directory`'s answer.
#[derive(Debug, Deserialize)]
struct DirectoryAnswer {
    room_id: RoomId,
    #[serde(default)]
    servers: Vec<Value>,
}

/// A remote user's public profile.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct RemoteProfile {
    /// The display name, if set.
    #[serde(default)]
    pub displayname: Option<String>,
    /// The avatar's `mxc://` URI, if set.
    #[serde(default)]
    pub avatar_url: Option<String>,
}

impl RemoteRooms {
    /// Resolves an alias of another server to its room ID and the servers to join through (the alias's
    /// server first).
    pub async fn query_alias(
        &self,
        alias: &RoomAliasId,
    ) -> Result<(RoomId, Vec<ServerName>), RoomError> {
        let server = alias.server_name();
        let path = format!(
            "/_matrix/federation/v1/query/directory?room_alias={}",
            encode_path_segment(alias.as_str())
        );
        let answer: DirectoryAnswer =
            self.client
                .get_json(server, &path)
                .await
                .map_err(|error| match error {
                    hearth_federation::Error::PeerStatus { status: 404, .. } => {
                        RoomError::NotFound(format!("room alias {alias} not found"))
                    }
                    other => remote_error(server, other),
                })?;
        let servers = std::iter::once(server.clone())
            .chain(
                answer
                    .servers
                    .iter()
                    .filter_map(Value::as_str)
                    .filter_map(|s| ServerName::parse(s).ok()),
            )
            .take(MAX_ALIAS_SERVERS);
        Ok((answer.room_id, self.candidates(servers)))
    }

    /// The public profile of a user of another server.
    pub async fn query_profile(&self, user: &UserId) -> Result<RemoteProfile, RoomError> {
        let server = user.server_name();
        let path = format!(
            "/_matrix/federation/v1/query/profile?user_id={}",
            encode_path_segment(user.as_str())
        );
        self.client
            .get_json(server, &path)
            .await
            .map_err(|error| match error {
                hearth_federation::Error::PeerStatus { status: 404, .. } => {
                    RoomError::NotFound(format!("profile of {user} not found"))
                }
                other => remote_error(server, other),
            })
    }
}
