//! [`AppState`]: what handlers may use, passed explicitly through axum's `State` (no global service locator).

use std::sync::Arc;
use std::time::Duration;

use hearth_crypto::SigningKey;
use hearth_federation::client::FederationClient;
use hearth_types::ServerName;

use crate::notifier::Notifier;
use crate::services::account_data::AccountDataService;
use crate::services::accounts::AccountsService;
use crate::services::e2ee::E2eeService;
use crate::services::federation::FederationService;
use crate::services::keys::KeyService;
use crate::services::media::{MediaService, UrlPreviewService};
use crate::services::outbound::FederationSender;
use crate::services::remote::RemoteRooms;
use crate::services::rooms::RoomService;
use crate::services::sync::{PresenceService, ReceiptService, SyncService, TypingService};
use crate::signing_key::OldVerifyKeys;
use crate::storage::Storage;

/// Everything the HTTP handlers depend on. Cheap to clone (shared parts are behind `Arc`).
///
/// Services (accounts, rooms, sync, …) join as fields when they exist; handlers never reach storage directly.
#[derive(Clone, Debug)]
pub struct AppState {
    /// This server's name, as in user and room IDs.
    pub server_name: ServerName,
    /// The federation signing key.
    pub signing_key: Arc<SigningKey>,
    /// Retired signing keys, still published.
    pub old_verify_keys: Arc<OldVerifyKeys>,
    /// How far in the future `valid_until_ts` of the key document lies.
    pub key_validity: Duration,
    /// `m.homeserver.base_url` for `/.well-known/matrix/client`; `None` answers 404.
    pub well_known_client: Option<String>,
    /// `m.server` for `/.well-known/matrix/server`; `None` (federation disabled) answers 404.
    pub well_known_server: Option<String>,
    /// Largest accepted request body, in bytes.
    pub max_request_body_bytes: u64,
    /// The database; request authentication ([`super::auth::Authenticated`]) looks tokens up here, services
    /// hold their own clone.
    pub storage: Storage,
    /// Users, devices, access tokens, user-interactive auth and profiles.
    pub accounts: Arc<AccountsService>,
    /// Wakes waiting `/sync` requests; writers notify after their commit.
    pub notifier: Notifier,
    /// The rooms service: the event store's write path and room reads.
    pub rooms: Arc<RoomService>,
    /// Account data, tags, filters and push rules of local users.
    pub account_data: AccountDataService,
    /// Who is typing where (in memory).
    pub typing: TypingService,
    /// Read receipts and read markers.
    pub receipts: ReceiptService,
    /// Basic presence.
    pub presence: PresenceService,
    /// `/sync`.
    pub sync: Arc<SyncService>,
    /// The room version new rooms get by default (`[rooms] default_version`), advertised in `/capabilities`.
    pub default_room_version: String,
    /// The outbound federation queues (PDU fan-out, EDUs); `None` when federation is disabled.
    pub federation_sender: Option<FederationSender>,
    /// End-to-end encryption: keys, to-device messages, device lists, key backup.
    pub e2ee: Arc<E2eeService>,
    /// Per-user and per-IP request rate limits (`[rate_limits]`).
    pub rate_limiter: Arc<crate::ratelimit::RateLimiter>,
    /// The outbound federation client (discovery, IP policy, TLS settings of `[federation]`, X-Matrix signing);
    /// `None` when federation is disabled. Every outbound server-server request goes through this one.
    pub federation_client: Option<Arc<FederationClient>>,
    /// Other servers' verify keys (fetched, verified, cached) and signature checks of remote JSON and PDUs.
    pub keys: Arc<KeyService>,
    /// The inbound federation service: transactions, the PDU receive pipeline, DAG reads, handshakes.
    pub federation: Arc<FederationService>,
    /// Joins, leaves, alias and profile lookups on other servers for local users; `None` without federation.
    pub remote_rooms: Option<Arc<RemoteRooms>>,
    /// The media repository.
    pub media: MediaService,
    /// URL previews (disabled unless `[media.url_preview] enabled`).
    pub url_previews: UrlPreviewService,
}
