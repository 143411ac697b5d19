//! Outbound EDUs: the public API for queueing them — typing, receipts and presence to the servers sharing a
//! room, and [`FederationSender::send_edu`] for callers that know their destination (to-device messages,
//! device-list and signing-key updates).

use std::collections::{BTreeMap, BTreeSet};

use hearth_federation::transactions::Edu;
use hearth_federation::transactions::edu::{
    PresenceContent, PresenceUpdate, TypingContent, UserReceipt,
};
use hearth_types::{EventId, RoomId, ServerName, UserId};
use serde_json::{Value, json};

use super::OutboundError;
use super::{FederationSender, now_ms};

/// A typing notification older than this is not worth delivering (clients time typing out after ~30 s).
const TYPING_TTL_MS: i64 = 30_000;
/// A presence update older than this is superseded by the next one anyway.
const PRESENCE_TTL_MS: i64 = 10 * 60_000;

impl FederationSender {
    /// Queues `edu` for `destination` (persisted: delivered after restarts and outages, in order). Use for
    /// EDUs that must not be lost: to-device messages, device-list and signing-key updates.
    pub async fn send_edu(&self, destination: &ServerName, edu: &Edu) -> Result<(), OutboundError> {
        self.queue(std::slice::from_ref(destination), edu, None)
            .await
    }

    /// Queues `edu` for every other server with a user joined to `room_id`.
    pub async fn send_edu_to_room(&self, room_id: &str, edu: &Edu) -> Result<(), OutboundError> {
        let servers: Vec<ServerName> = self.servers_in_room(room_id).await?.into_iter().collect();
        self.queue(&servers, edu, None).await
    }

    /// `user` started or stopped typing in `room_id`: an `m.typing` EDU to the room's other servers
    /// (best effort: failures are logged, typing is ephemeral).
    pub async fn typing(&self, room_id: &RoomId, user: &UserId, typing: bool) {
        let edu = Edu::Typing(TypingContent {
            room_id: room_id.clone(),
            user_id: user.clone(),
            typing,
        });
        self.to_room_best_effort(room_id.as_str(), &edu, Some(TYPING_TTL_MS))
            .await;
    }

    /// `user`'s public read receipt (`m.read`) at `event_id`: an `m.receipt` EDU to the room's other servers.
    /// Private receipts never leave the server; callers pass only public ones.
    pub async fn receipt(
        &self,
        room_id: &RoomId,
        receipt_type: &str,
        user: &UserId,
        event_id: &EventId,
        thread_id: Option<&str>,
        ts: i64,
    ) {
        let mut data = json!({"ts": ts});
        if let Some(thread) = thread_id {
            data["thread_id"] = json!(thread);
        }
        let receipt = UserReceipt {
            data,
            event_ids: vec![event_id.clone()],
        };
        let content = BTreeMap::from([(
            room_id.clone(),
            BTreeMap::from([(
                receipt_type.to_owned(),
                BTreeMap::from([(user.clone(), receipt)]),
            )]),
        )]);
        self.to_room_best_effort(room_id.as_str(), &Edu::Receipt(content), None)
            .await;
    }

    /// `user`'s presence changed: an `m.presence` EDU to every server sharing a room with them (best effort).
    pub async fn presence(&self, user: &UserId, presence: &str, status_msg: Option<&str>) {
        let rooms = match self.inner.storage.memberships_of_user(user.as_str()).await {
            Ok(rooms) => rooms,
            Err(error) => {
                tracing::warn!(%user, %error, "cannot queue presence");
                return;
            }
        };
        let mut servers = BTreeSet::new();
        for membership in rooms.iter().filter(|m| m.membership == "join") {
            match self.servers_in_room(&membership.room_id).await {
                Ok(found) => servers.extend(found),
                Err(error) => tracing::warn!(%user, %error, "cannot queue presence"),
            }
        }
        let edu = Edu::Presence(PresenceContent {
            push: vec![PresenceUpdate {
                user_id: user.clone(),
                presence: presence.to_owned(),
                last_active_ago: 0,
                currently_active: Some(presence == "online"),
                status_msg: status_msg.map(str::to_owned),
            }],
        });
        let servers: Vec<ServerName> = servers.into_iter().collect();
        let expires = Some(now_ms().saturating_add(PRESENCE_TTL_MS));
        if let Err(error) = self.queue(&servers, &edu, expires).await {
            tracing::warn!(%user, %error, "cannot queue presence");
        }
    }

    async fn to_room_best_effort(&self, room_id: &str, edu: &Edu, ttl_ms: Option<i64>) {
        let servers = match self.servers_in_room(room_id).await {
            Ok(servers) => servers.into_iter().collect::<Vec<_>>(),
            Err(error) => {
                tracing::warn!(%room_id, %error, "cannot queue EDU");
                return;
            }
        };
        let expires = ttl_ms.map(|ttl| now_ms().saturating_add(ttl));
        if let Err(error) = self.queue(&servers, edu, expires).await {
            tracing::warn!(%room_id, %error, "cannot queue EDU");
        }
    }

    /// Persists `edu` for `destinations` (this server excluded) and wakes their tasks.
    async fn queue(
        &self,
        destinations: &[ServerName],
        edu: &Edu,
        expires_ts: Option<i64>,
    ) -> Result<(), OutboundError> {
        let destinations: Vec<&ServerName> = destinations
            .iter()
            .filter(|d| **d != self.inner.server_name)
            .collect();
        if destinations.is_empty() {
            return Ok(());
        }
        let text = edu.to_value().map(|v: Value| v.to_string())?;
        let names: Vec<String> = destinations.iter().map(|d| d.as_str().to_owned()).collect();
        self.inner
            .storage
            .queue_edu(&names, &text, expires_ts, now_ms())
            .await?;
        for destination in destinations {
            self.inner.wake_destination(destination);
        }
        Ok(())
    }
}
