//! Leaving a room this server is not in — rejecting an invite from another server: `make_leave` on a
//! resident server → sign → `send_leave` (v2) → store the leave as an outlier and the user's membership as
//! `leave`, so `/sync` moves the room to `leave`. Leaving a room this server takes part in is a local event
//! (the rooms service), which the federation sender fans out.

use hearth_types::{Pdu, RoomId, ServerName, UserId};
use serde_json::{Map, Value, json};

use super::{RemoteRooms, remote_error};
use crate::services::outbound::encode_path_segment;
use crate::services::rooms::RoomError;
use crate::storage::MembershipRow;

impl RemoteRooms {
    /// `user` leaves `room_id`, or rejects their invite to it; over federation when no local user is in the
    /// room and the user holds an invite or knock from another server.
    pub async fn leave(
        &self,
        user: &UserId,
        room_id: &str,
        reason: Option<String>,
    ) -> Result<(), RoomError> {
        let membership = self.storage.membership(room_id, user.as_str()).await?;
        let out_of_band = match &membership {
            Some(m) if matches!(m.membership.as_str(), "invite" | "knock") => {
                !self.has_local_member(room_id).await?
            }
            _ => false,
        };
        if !out_of_band {
            return self.rooms.leave(user, room_id, reason).await.map(|_| ());
        }
        let room = RoomId::parse(room_id)
            .map_err(|e| RoomError::InvalidParam(format!("invalid room ID: {e}")))?;
        let mut servers: Vec<ServerName> = Vec::new();
        if let Some(inviter) = membership.and_then(|m| UserId::parse(&m.sender).ok()) {
            servers.push(inviter.server_name().clone());
        }
        if let Some(server) = room.server_name() {
            servers.push(server.clone());
        }
        let mut last = RoomError::NotFound(format!("no server to leave {room_id} through"));
        for server in self.candidates(servers) {
            match self.leave_via(user, &room, &server, reason.clone()).await {
                Ok(()) => return Ok(()),
                Err(error) => {
                    tracing::info!(%room_id, %server, %error, "remote leave failed; trying the next server");
                    last = error;
                }
            }
        }
        Err(last)
    }

    /// One attempt on `server`: `make_leave`, sign, `send_leave`, then record the leave locally.
    async fn leave_via(
        &self,
        user: &UserId,
        room_id: &RoomId,
        server: &ServerName,
        reason: Option<String>,
    ) -> Result<(), RoomError> {
        let (template, rules) = self
            .membership_template("make_leave", server, room_id, user, "")
            .await?;
        let mut content = Map::new();
        if let Some(reason) = reason {
            content.insert("reason".into(), json!(reason));
        }
        let (event, event_id) =
            self.sign_membership(template, rules, room_id, user, "leave", content)?;
        let path = format!(
            "/_matrix/federation/v2/send_leave/{}/{}",
            encode_path_segment(room_id.as_str()),
            encode_path_segment(event_id.as_str())
        );
        let _: Value = self
            .client
            .put_json(server, &path, &event)
            .await
            .map_err(|e| remote_error(server, e))?;
        let pdu =
            Pdu::from_json_with_id(event, event_id.clone(), rules).map_err(RoomError::internal)?;
        self.rooms.store_outlier(&pdu, rules, None).await?;
        self.storage
            .set_out_of_band_membership(
                room_id.as_str(),
                &MembershipRow {
                    user_id: user.as_str().to_owned(),
                    membership: "leave".into(),
                    event_id: event_id.as_str().to_owned(),
                    sender: user.as_str().to_owned(),
                },
            )
            .await?;
        self.notifier.notify_user(user.as_str());
        Ok(())
    }
}
