//! The inbound half of federation: what other servers send and ask for.
//!
//! * [`ingest`] — the receive pipeline of one PDU: format and size, signatures and hashes (through the key
//!   service), the auth chain and missing history fetched from the sender within bounds, then the rooms
//!   service's state-dependent checks and persistence.
//! * [`transactions`] — `PUT /send/{txnId}`: idempotent per (origin, transaction ID), per-PDU results,
//!   EDUs dispatched to the typing, receipt and presence services.
//! * [`serve`] — reads other servers may make (`/event`, `/state`, `/state_ids`, `/event_auth`,
//!   `/backfill`, `/get_missing_events`), each allowed only to servers with a user in the room.
//! * [`membership`] — `make_join`/`send_join`, `make_leave`/`send_leave`, `make_knock`/`send_knock`,
//!   `invite`.
//! * [`backfill`] — history older than what this server has, pulled with `/backfill` from the servers in
//!   the room when a local client pages back past it (the rooms service's `HistoryBackfill`).
//!
//! Dependencies: storage, the rooms service, the key service, the federation client, typing, receipts,
//! presence. Nothing depends on this service except the HTTP handlers.

pub mod backfill;
pub mod ingest;
pub mod membership;
pub mod serve;
pub mod transactions;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use hearth_federation::client::FederationClient;
use hearth_federation::server_acl::ServerAcl;
use hearth_types::ServerName;

use crate::services::e2ee::E2eeService;
use crate::services::keys::KeyService;
use crate::services::rooms::{RoomError, RoomService};
use crate::services::sync::{PresenceService, ReceiptService, TypingService};
use crate::storage::Storage;

/// Why a federation request failed; mapped to the spec's errors at the HTTP edge.
#[derive(Debug, thiserror::Error)]
pub enum FederationError {
    /// The room is unknown here.
    #[error("{0}")]
    NotFound(String),
    /// The requesting server may not do this (not in the room, denied by the ACL, auth rules).
    #[error("{0}")]
    Forbidden(String),
    /// The request is malformed.
    #[error("{0}")]
    BadJson(String),
    /// A parameter has a bad value.
    #[error("{0}")]
    InvalidParam(String),
    /// The room's version is not one the asking server supports.
    #[error("room version {0} is not supported by the requesting server")]
    IncompatibleRoomVersion(String),
    /// The room version is unknown to this server.
    #[error("room version {0} is not supported")]
    UnsupportedRoomVersion(String),
    /// Something broke on our side.
    #[error("{0}")]
    Internal(String),
}

impl From<RoomError> for FederationError {
    fn from(error: RoomError) -> Self {
        match error {
            RoomError::NotFound(message) => Self::NotFound(message),
            RoomError::Forbidden(message) => Self::Forbidden(message),
            RoomError::BadJson(message) => Self::BadJson(message),
            RoomError::UnsupportedRoomVersion(version) => Self::UnsupportedRoomVersion(version),
            other => Self::Internal(other.to_string()),
        }
    }
}

impl From<crate::storage::StorageError> for FederationError {
    fn from(error: crate::storage::StorageError) -> Self {
        Self::Internal(error.to_string())
    }
}

/// The inbound federation service. Shared as `Arc<FederationService>`.
pub struct FederationService {
    storage: Storage,
    rooms: Arc<RoomService>,
    keys: Arc<KeyService>,
    client: Option<Arc<FederationClient>>,
    server_name: ServerName,
    typing: TypingService,
    receipts: ReceiptService,
    presence: PresenceService,
    /// End-to-end encryption: receives to-device messages and device-list/signing-key updates.
    e2ee: Arc<E2eeService>,
    /// One transaction per origin at a time (a retry waits for the first attempt, then reads its result).
    origin_locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Outbound backfill: one per room at a time, extremities no server could extend.
    backfill: backfill::BackfillState,
}

impl std::fmt::Debug for FederationService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FederationService")
            .field("server_name", &self.server_name)
            .finish_non_exhaustive()
    }
}

/// The services the federation service talks to.
pub struct FederationDeps {
    /// The database.
    pub storage: Storage,
    /// Rooms: event store and reads.
    pub rooms: Arc<RoomService>,
    /// Remote keys and signature checks.
    pub keys: Arc<KeyService>,
    /// Outbound requests (fetching missing events); `None` when federation is disabled.
    pub client: Option<Arc<FederationClient>>,
    /// Typing notifications.
    pub typing: TypingService,
    /// Read receipts.
    pub receipts: ReceiptService,
    /// Presence.
    pub presence: PresenceService,
    /// End-to-end encryption (the receiver of its EDUs).
    pub e2ee: Arc<E2eeService>,
}

impl FederationService {
    /// The service over `deps`.
    pub fn new(deps: FederationDeps) -> Self {
        Self {
            server_name: deps.rooms.server_name().clone(),
            storage: deps.storage,
            rooms: deps.rooms,
            keys: deps.keys,
            client: deps.client,
            typing: deps.typing,
            receipts: deps.receipts,
            presence: deps.presence,
            e2ee: deps.e2ee,
            origin_locks: Mutex::new(HashMap::new()),
            backfill: backfill::BackfillState::default(),
        }
    }

    /// Refuses `origin` when the room's `m.room.server_acl` denies it (403 `M_FORBIDDEN`).
    pub async fn check_server_acl(
        &self,
        room_id: &str,
        origin: &ServerName,
    ) -> Result<(), FederationError> {
        let Some(acl_id) = self
            .storage
            .current_state_event_id(room_id, "m.room.server_acl", "")
            .await?
        else {
            return Ok(());
        };
        let Some(acl) = self.storage.get_event(&acl_id).await? else {
            return Ok(());
        };
        let json: serde_json::Value = serde_json::from_str(&acl.json)
            .map_err(|e| FederationError::Internal(e.to_string()))?;
        let content = json.get("content").cloned().unwrap_or_default();
        if ServerAcl::from_content(&content).allows(origin) {
            Ok(())
        } else {
            Err(FederationError::Forbidden(format!(
                "server {origin} is denied by the room's server ACL"
            )))
        }
    }

    /// Whether `server` has (or had) a user in the room: the condition for reading the room's events.
    pub async fn server_is_or_was_in_room(
        &self,
        room_id: &str,
        server: &ServerName,
    ) -> Result<bool, FederationError> {
        let suffix = format!(":{}", server.as_str());
        Ok(self
            .storage
            .room_memberships(room_id)
            .await?
            .iter()
            .any(|m| {
                m.user_id.ends_with(&suffix)
                    && matches!(m.membership.as_str(), "join" | "leave" | "ban")
            }))
    }

    /// Refuses a read by `origin` of a room it has never had a user in (403), or of an unknown room (404).
    pub async fn check_can_read_room(
        &self,
        room_id: &str,
        origin: &ServerName,
    ) -> Result<(), FederationError> {
        if self.storage.get_room(room_id).await?.is_none() {
            return Err(FederationError::NotFound(format!("unknown room {room_id}")));
        }
        self.check_server_acl(room_id, origin).await?;
        if !self.server_is_or_was_in_room(room_id, origin).await? {
            return Err(FederationError::Forbidden(format!(
                "server {origin} is not in room {room_id}"
            )));
        }
        Ok(())
    }

    fn origin_lock(&self, origin: &ServerName) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self
            .origin_locks
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if locks.len() > 10_000 {
            locks.retain(|_, lock| Arc::strong_count(lock) > 1);
        }
        locks.entry(origin.as_str().to_owned()).or_default().clone()
    }
}
