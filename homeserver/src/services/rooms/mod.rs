//! The rooms service: builds local events as real PDUs, checks them with the authorization rules,
//! persists them through the event store and wakes the notifier; and reads rooms back for clients
//! (timelines, state, members, visibility, relations).
//!
//! Dependencies: storage, the notifier, the server's signing key; no other service. Local event
//! creation in one room is serialised by a per-room `tokio::sync::Mutex`, so `prev_events` and
//! `depth` always extend the DAG linearly; different rooms proceed in parallel.

mod aliases;
mod build;
pub mod client_event;
mod create;
mod error;
mod membership;
mod read;
mod relations;
mod visibility;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use hearth_crypto::SigningKey;
use hearth_types::ServerName;

use crate::notifier::Notifier;
use crate::storage::Storage;

pub use build::{EventTemplate, SentEvent};
pub use create::{CreateRoomRequest, Preset};
pub use error::RoomError;
pub use read::{MembersFilter, MessagesPage};

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
