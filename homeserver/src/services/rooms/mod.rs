//! The rooms service: builds local events as real PDUs, checks them with the authorization rules,
//! persists them through the event store and wakes the notifier; and reads rooms back for clients
//! (timelines, state, members, visibility, relations).
//!
//! Dependencies: storage, the notifier, the server's signing key; no other service. Local event
//! creation in one room is serialised by a per-room `tokio::sync::Mutex`, so `prev_events` and
//! `depth` always extend the DAG linearly; different rooms proceed in parallel.

mod aliases;
mod backfill;
mod build;
pub mod client_event;
mod create;
mod departure;
mod error;
mod guests;
mod membership;
mod read;
mod relations;
mod remote;
mod template;
mod visibility;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use hearth_crypto::SigningKey;
use hearth_types::{RoomVersionRules, ServerName};
use serde_json::Value;

use crate::notifier::Notifier;
use crate::storage::Storage;

pub use backfill::{HistoryBackfill, MAX_BACKFILL_ROUNDS};
pub use build::{EventTemplate, SentEvent};
pub use create::{CreateRoomRequest, Preset};
pub use error::RoomError;
pub use read::{MembersFilter, MessagesPage};
pub use remote::{MAX_RESOLUTION_EVENTS, RemoteOutcome};

/// The rooms service. Shared as `Arc<RoomService>` in the HTTP state.
#[derive(Debug)]
pub struct RoomService {
    storage: Storage,
    notifier: Notifier,
    server_name: ServerName,
    signing_key: Arc<SigningKey>,
    default_version: String,
    /// One creation lock per room; entries live as long as the process (a few bytes per room).
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Raised after every committed event (the federation sender's fan-out waits on it); unset without
    /// federation.
    persisted_signal: OnceLock<Arc<tokio::sync::Notify>>,
    /// Countersigns invites of users on other servers before they are stored; unset without federation.
    remote_invites: OnceLock<Arc<dyn RemoteInvites>>,
    /// Fetches history older than the oldest stored event from other servers; unset without federation.
    history_backfill: OnceLock<Arc<dyn HistoryBackfill>>,
    /// The lowest stream position handed out to backfilled events so far (reserved, maybe not written yet).
    backfill_floor: tokio::sync::Mutex<Option<i64>>,
}

/// The federation step of inviting a user of another server: their server must countersign the invite
/// (`PUT /_matrix/federation/v2/invite`) before it is stored. Implemented by the remote rooms service; a
/// trait here so the rooms service does not depend on federation.
pub trait RemoteInvites: Send + Sync + std::fmt::Debug {
    /// Sends the signed `invite` (room version `rules`, with `stripped_state` of the room) to the invitee's
    /// server and returns the event as that server signed it.
    fn countersign_invite<'a>(
        &'a self,
        rules: &'static RoomVersionRules,
        invite: &'a Value,
        stripped_state: Vec<Value>,
    ) -> crate::services::outbound::BoxFuture<'a, Result<Value, RoomError>>;
}

impl RoomService {
    /// A service writing through `storage`, signing as `server_name` with `signing_key`, creating
    /// rooms of `default_version` when the client names none.
    pub fn new(
        storage: Storage,
        notifier: Notifier,
        server_name: ServerName,
        signing_key: Arc<SigningKey>,
        default_version: String,
    ) -> Self {
        Self {
            storage,
            notifier,
            server_name,
            signing_key,
            default_version,
            locks: Mutex::new(HashMap::new()),
            persisted_signal: OnceLock::new(),
            remote_invites: OnceLock::new(),
            history_backfill: OnceLock::new(),
            backfill_floor: tokio::sync::Mutex::new(None),
        }
    }

    /// Has invites of remote users countersigned by `exchange` from now on (set once, at start-up).
    pub fn set_remote_invites(&self, exchange: Arc<dyn RemoteInvites>) {
        let _ = self.remote_invites.set(exchange);
    }

    /// Has `signal` raised after every event this service persists from now on (set once, at start-up).
    pub fn signal_persisted_events(&self, signal: Arc<tokio::sync::Notify>) {
        let _ = self.persisted_signal.set(signal);
    }

    /// Raises the persisted-events signal, if one is set.
    pub(crate) fn events_persisted(&self) {
        if let Some(signal) = self.persisted_signal.get() {
            signal.notify_one();
        }
    }

    /// The server name events are signed as.
    pub fn server_name(&self) -> &ServerName {
        &self.server_name
    }

    /// The event store, for read paths of other services (sync) that need more than this API.
    pub fn storage(&self) -> &Storage {
        &self.storage
    }

    /// The creation lock of `room_id`.
    fn room_lock(&self, room_id: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.locks.lock().unwrap_or_else(PoisonError::into_inner);
        locks.entry(room_id.to_owned()).or_default().clone()
    }
}

/// Wall-clock milliseconds since the Unix epoch.
fn now_ms() -> i64 {
    i64::try_from(crate::signing_key::now_millis()).unwrap_or(i64::MAX)
}
