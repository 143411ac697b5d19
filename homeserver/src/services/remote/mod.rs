//! The client side of federation: what a local user asks of other servers — joining a room hosted elsewhere
//! (`make_join` → sign → `send_join` → verify and store the room), leaving or rejecting an invite to a room
//! this server is not in (`make_leave` → `send_leave`), countersigning invites of remote users (`/invite`),
//! room alias lookups (`/query/directory`) and remote profiles (`/query/profile`).
//!
//! Dependencies: the federation client, the rooms service (local joins, stripped state), storage, the
//! federation sender (to fan out what was stored) and, through the [`RoomImport`] trait, the inbound checks
//! (verifying and storing what a `send_join` returned).
//! Nothing depends on this service except the HTTP handlers; the rooms service reaches it only through its
//! [`RemoteInvites`](crate::services::rooms::RemoteInvites) trait object.

mod directory;
mod import;
mod invite;
mod join;
mod leave;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use hearth_crypto::SigningKey;
use hearth_federation::client::FederationClient;
use hearth_types::{RoomVersionRules, ServerName, UserId};
use serde_json::Value;

use crate::notifier::Notifier;
use crate::services::outbound::{BoxFuture, FederationSender};
use crate::services::rooms::{RoomError, RoomService};
use crate::storage::Storage;

pub use directory::RemoteProfile;

/// Longest a whole remote join may take (every candidate server included) before the client is answered
/// with an error; the join itself goes on in its task and completes if it can.
const JOIN_ANSWER_TIMEOUT: Duration = Duration::from_secs(120);

/// What the inbound side of federation does for the client side: check and store the room a `send_join`
/// answer describes. Implemented by the inbound federation service (`import.rs`); a trait so the join logic
/// can be tested and read without it.
pub trait RoomImport: Send + Sync + std::fmt::Debug {
    /// Verifies (signatures, hashes, auth rules) and stores the room a `send_join` answer describes: the auth
    /// chain and state as outliers, then `join_event` in the timeline with that state before it.
    fn import_joined_room<'a>(
        &'a self,
        room_id: &'a str,
        rules: &'static RoomVersionRules,
        join_event: Value,
        state: Vec<Value>,
        auth_chain: Vec<Value>,
    ) -> BoxFuture<'a, Result<(), RoomError>>;
}

/// The remote rooms service. Shared as `Arc<RemoteRooms>`.
pub struct RemoteRooms {
    client: Arc<FederationClient>,
    rooms: Arc<RoomService>,
    storage: Storage,
    server_name: ServerName,
    signing_key: Arc<SigningKey>,
    sender: FederationSender,
    import: Arc<dyn RoomImport>,
    notifier: Notifier,
}

impl std::fmt::Debug for RemoteRooms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteRooms")
            .field("server_name", &self.server_name)
            .finish_non_exhaustive()
    }
}

impl RemoteRooms {
    /// A service acting for local users through `client`.
    pub fn new(
        client: Arc<FederationClient>,
        rooms: Arc<RoomService>,
        storage: Storage,
        signing_key: Arc<SigningKey>,
        sender: FederationSender,
        import: Arc<dyn RoomImport>,
        notifier: Notifier,
    ) -> Self {
        Self {
            server_name: rooms.server_name().clone(),
            client,
            rooms,
            storage,
            signing_key,
            sender,
            import,
            notifier,
        }
    }

    /// Whether a local user is joined to `room_id` (this server takes part in the room).
    async fn has_local_member(&self, room_id: &str) -> Result<bool, RoomError> {
        Ok(self
            .storage
            .joined_user_ids(room_id)
            .await?
            .iter()
            .filter_map(|user| UserId::parse(user).ok())
            .any(|user| *user.server_name() == self.server_name))
    }

    /// Other servers, in order, without duplicates or this server.
    fn candidates(&self, servers: impl IntoIterator<Item = ServerName>) -> Vec<ServerName> {
        let mut seen = BTreeSet::new();
        servers
            .into_iter()
            .filter(|server| *server != self.server_name && seen.insert(server.clone()))
            .collect()
    }
}

/// Wall-clock milliseconds since the Unix epoch.
fn now_ms() -> i64 {
    i64::try_from(crate::signing_key::now_millis()).unwrap_or(i64::MAX)
}

/// A peer's failure as the client sees it.
fn remote_error(server: &ServerName, error: impl std::fmt::Display) -> RoomError {
    RoomError::Remote(format!("{server}: {error}"))
}
