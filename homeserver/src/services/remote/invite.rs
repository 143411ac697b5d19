//! Inviting a user of another server: `PUT /_matrix/federation/v2/invite/{roomId}/{eventId}` asks their
//! server to countersign the invite, which is then stored and sent like any local event.

use hearth_types::pdu::compute_event_id;
use hearth_types::{RoomVersionRules, UserId};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{RemoteRooms, remote_error};
use crate::services::outbound::{BoxFuture, encode_path_segment};
use crate::services::rooms::{RemoteInvites, RoomError};

/// The `/invite` v2 answer.
#[derive(Debug, Deserialize)]
struct InviteAnswer {
    event: Value,
}

impl RemoteInvites for RemoteRooms {
    fn countersign_invite<'a>(
        &'a self,
        rules: &'static RoomVersionRules,
        invite: &'a Value,
        stripped_state: Vec<Value>,
    ) -> BoxFuture<'a, Result<Value, RoomError>> {
        Box::pin(async move {
            let invitee = invite
                .get("state_key")
                .and_then(Value::as_str)
                .and_then(|key| UserId::parse(key).ok())
                .ok_or_else(|| RoomError::Internal("invite without a user as state key".into()))?;
            let room_id = invite
                .get("room_id")
                .and_then(Value::as_str)
                .ok_or_else(|| RoomError::Internal("invite without a room ID".into()))?;
            let event_id = compute_event_id(invite, rules).map_err(RoomError::internal)?;
            let server = invitee.server_name();
            let path = format!(
                "/_matrix/federation/v2/invite/{}/{}",
                encode_path_segment(room_id),
                encode_path_segment(event_id.as_str())
            );
            let body = json!({
                "room_version": rules.id,
                "event": invite,
                "invite_room_state": stripped_state,
            });
            let answer: InviteAnswer =
                self.client
                    .put_json(server, &path, &body)
                    .await
                    .map_err(|error| match error {
                        hearth_federation::Error::PeerStatus {
                            status: 403, body, ..
                        } => RoomError::Forbidden(format!("{server} refused the invite: {body}")),
                        other => remote_error(server, other),
                    })?;
            Ok(answer.event)
        })
    }
}
